"""What a model's card says about each class: its validation IoU, and which classes the
model has not learned (so the legend can say that "no truck" may mean "cannot see trucks")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segviewer.core.classes import ClassTable

# Below this validation IoU a class counts as not learned.
UNLEARNED_IOU = 0.05
# The card's validation set in the 19-class space (CamVid is scored in 11 merged classes).
QUALITY_SPLIT = "kitti"


@dataclass(frozen=True)
class ClassQuality:
    """The card's KITTI-val figure for one class, as the card states it."""

    iou: float | None        # None: the card gives no figure
    in_validation: bool      # the validation truth holds pixels of the class

    @property
    def unlearned(self) -> bool:
        # A class absent from the truth scores 0 under the benchmark rule whenever it is
        # predicted at all: that says nothing of whether the model can see it.
        return self.in_validation and is_unlearned(self.iou)


def validation_iou_by_class(card: dict[str, Any], table: ClassTable) -> dict[int, ClassQuality]:
    """Train ID -> the card's KITTI validation figure. Empty for a card without
    validation figures (e.g. a user's own model)."""
    split = card.get("validation", {}).get(QUALITY_SPLIT, {})
    per_class = split.get("per_class", {})
    if not isinstance(per_class, dict) or not per_class:
        return {}
    truth_pixels = split.get("truth_pixels", {})
    result: dict[int, ClassQuality] = {}
    for info in table.train_classes:
        value = per_class.get(info.name)
        present = not (isinstance(truth_pixels, dict) and truth_pixels.get(info.name, 1) == 0)
        result[info.train_id] = ClassQuality(float(value) if isinstance(value, (int, float)) else None, present)
    return result


def is_unlearned(iou: float | None) -> bool:
    return iou is not None and iou < UNLEARNED_IOU
