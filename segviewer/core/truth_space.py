"""The class space a ground truth is judged in, so that no prediction is punished for
being finer than the truth (Qt-free).

KITTI and Cityscapes truths name the 19 train classes: a pixel is right when the
prediction names the same class. CamVid's 11 classes merge several of them ("Bicyclist"
is rider, bicycle or motorcycle): there a prediction is right when it names any member
of the truth's class, and per-image scores are computed in CamVid's own 11 classes, as
``training.evaluate --layout camvid`` does.

A CamVid truth reaches the viewer as train IDs through
:data:`~segviewer.core.datasets.CAMVID_TO_TRAIN` (one member per class, for colouring);
that map is one-to-one, so :data:`~segviewer.core.datasets.TRAIN_TO_CAMVID` gives the
CamVid class back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segviewer.core.classes import NUM_TRAIN_CLASSES, VOID_TRAIN_ID, ClassTable
from segviewer.core.datasets import CAMVID_CLASSES, CAMVID_VOID, TRAIN_TO_CAMVID, Layout
from segviewer.core.metrics import Scores, score


@dataclass(frozen=True)
class TruthSpace:
    """How to compare a prediction with a truth of ``layout`` (kitti, cityscapes, camvid)."""

    layout: str

    @property
    def merged(self) -> bool:
        return self.layout == Layout.CAMVID.value

    @property
    def void(self) -> int:
        return CAMVID_VOID if self.merged else VOID_TRAIN_ID

    def native(self, train_ids: np.ndarray) -> np.ndarray:
        """Train IDs as classes of this space (CamVid values for CamVid, else unchanged)."""
        return TRAIN_TO_CAMVID[train_ids] if self.merged else train_ids

    def class_names(self, table: ClassTable) -> list[str]:
        return list(CAMVID_CLASSES) if self.merged else [c.name for c in table.train_classes]

    def scores(self, prediction: np.ndarray, truth: np.ndarray) -> Scores:
        """Per-image scores in this space (CamVid: 11 classes, named as CamVid names them)."""
        # Truth outside the space's classes (its void) is skipped by the confusion matrix.
        return score(self.native(truth), self.native(prediction),
                     len(CAMVID_CLASSES) if self.merged else NUM_TRAIN_CLASSES)

    def truth_name(self, table: ClassTable, truth_id: int) -> str:
        """The truth's class as its dataset names it; a merged class lists its members:
        "Bicyclist (rider / bicycle / motorcycle)"."""
        if not self.merged:
            return table.by_train_id(truth_id).name if truth_id < NUM_TRAIN_CLASSES else "void"
        camvid = int(TRAIN_TO_CAMVID[truth_id])
        if camvid == CAMVID_VOID:
            return "void"
        members = [table.by_train_id(int(t)).name for t in members_of(camvid)]
        return CAMVID_CLASSES[camvid] + (f" ({' / '.join(members)})" if len(members) > 1 else "")


def members_of(camvid_class: int) -> np.ndarray:
    """The train IDs a CamVid class stands for."""
    return np.flatnonzero(TRAIN_TO_CAMVID[:NUM_TRAIN_CLASSES] == camvid_class)


def space_for(layout: str | None) -> TruthSpace:
    return TruthSpace(layout or Layout.KITTI.value)
