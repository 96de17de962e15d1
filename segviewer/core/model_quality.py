"""What a model's card says about each class: its validation IoU, and which classes the
model has not learned (so the legend can say that "no truck" may mean "cannot see trucks")."""

from __future__ import annotations

from typing import Any

from segviewer.core.classes import ClassTable

# Below this validation IoU a class counts as not learned.
UNLEARNED_IOU = 0.05
# The card's validation set in the 19-class space (CamVid is scored in 11 merged classes).
QUALITY_SPLIT = "kitti"


def validation_iou_by_class(card: dict[str, Any], table: ClassTable) -> dict[int, float | None]:
    """Train ID -> validation IoU from the card's KITTI figures; ``None`` where the card has
    no figure for a class (it was absent from the validation data). Empty for a card
    without validation figures (e.g. a user's own model)."""
    split = card.get("validation", {}).get(QUALITY_SPLIT, {})
    per_class = split.get("per_class", {})
    if not isinstance(per_class, dict) or not per_class:
        return {}
    # A class only predicted (no truth pixels) scores 0 under the Cityscapes rule, but that
    # is no measure of whether the model can see it: no figure then.
    truth_pixels = split.get("truth_pixels", {})
    result: dict[int, float | None] = {}
    for info in table.train_classes:
        value = per_class.get(info.name)
        absent = isinstance(truth_pixels, dict) and truth_pixels.get(info.name, 1) == 0
        result[info.train_id] = float(value) if isinstance(value, (int, float)) and not absent else None
    return result


def is_unlearned(iou: float | None) -> bool:
    return iou is not None and iou < UNLEARNED_IOU
