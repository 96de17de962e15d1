"""The 20 KITTI / Cityscapes classes (19 train classes + void), loaded once from
``resources/classes.json``, the single source of truth for IDs, names and colours."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segviewer.core.resources import resource_path

VOID_TRAIN_ID = 255
NUM_TRAIN_CLASSES = 19
# Train IDs that are never produced by the table; the overlay uses one for "draw nothing".
TRANSPARENT_INDEX = 254


@dataclass(frozen=True)
class ClassInfo:
    name: str
    train_id: int
    label_ids: tuple[int, ...]
    color: tuple[int, int, int]


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class ClassTable:
    """Immutable class table with 256-entry lookup arrays for vectorised conversions."""

    classes: tuple[ClassInfo, ...]
    label_to_train: np.ndarray  # uint8[256]: Cityscapes label ID -> train ID (255 = void)
    train_to_label: np.ndarray  # uint8[256]: train ID -> label ID (void -> 0 "unlabeled")
    train_to_color: np.ndarray  # uint8[256, 3]: train ID -> RGB

    @classmethod
    def from_json(cls, path: Path) -> ClassTable:
        document = json.loads(path.read_text(encoding="utf-8"))
        classes = tuple(
            ClassInfo(c["name"], int(c["train_id"]), tuple(c["label_ids"]), tuple(c["color"]))
            for c in document["classes"]
        )
        label_to_train = np.full(256, VOID_TRAIN_ID, np.uint8)
        train_to_label = np.zeros(256, np.uint8)
        train_to_color = np.zeros((256, 3), np.uint8)
        for info in classes:
            label_to_train[list(info.label_ids)] = info.train_id
            # The first label ID is the class's own (e.g. road -> 7); void -> 0 "unlabeled".
            train_to_label[info.train_id] = info.label_ids[0]
            train_to_color[info.train_id] = info.color
        return cls(classes, _frozen(label_to_train), _frozen(train_to_label), _frozen(train_to_color))

    def __len__(self) -> int:
        return len(self.classes)

    def __iter__(self):
        return iter(self.classes)

    @property
    def train_classes(self) -> tuple[ClassInfo, ...]:
        """The 19 classes a model predicts (void excluded)."""
        return tuple(c for c in self.classes if c.train_id != VOID_TRAIN_ID)

    def by_train_id(self, train_id: int) -> ClassInfo:
        for info in self.classes:
            if info.train_id == train_id:
                return info
        raise KeyError(train_id)

    def labels_to_train_ids(self, label_ids: np.ndarray) -> np.ndarray:
        return self.label_to_train[label_ids]

    def train_ids_to_labels(self, train_ids: np.ndarray) -> np.ndarray:
        return self.train_to_label[train_ids]

    def colorize(self, train_ids: np.ndarray) -> np.ndarray:
        return self.train_to_color[train_ids]


@functools.cache
def load_class_table() -> ClassTable:
    return ClassTable.from_json(resource_path("classes.json"))
