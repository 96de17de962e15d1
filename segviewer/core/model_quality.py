"""What a model's card says about each class: its validation IoU, and which classes the
model has not learned (so the legend can say that "no truck" may mean "cannot see trucks")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segviewer.core.classes import ClassTable

# Below this validation IoU a class counts as not learned.
UNLEARNED_IOU = 0.05
# The card's validation sets scored in the 19-class space (CamVid val is scored in its 11
# merged classes, so it says nothing of rider vs bicycle). Each class is judged on the set
# whose truth holds the most of it: KITTI val has 84 wall pixels, CamVid's exactly
# labelled frames 41,666. The first is the fallback for cards without pixel counts.
QUALITY_SPLITS = {"kitti": "KITTI val 000040-47", "camvid32": "CamVid val frames with 32-class labels",
                  "cityscapes": "Cityscapes val, aachen 6 and 7", "bdd100k": "BDD100K val, 4 frames"}


@dataclass(frozen=True)
class ClassQuality:
    """The card's validation figure for one class, as the card states it."""

    iou: float | None        # None: the card gives no figure
    in_validation: bool      # the validation truth holds pixels of the class
    split: str = "kitti"     # which of QUALITY_SPLITS the figure is from
    truth_pixels: int | None = None  # pixels of the class in that split's truth, when the card says

    @property
    def split_name(self) -> str:
        return QUALITY_SPLITS.get(self.split, self.split)

    @property
    def unlearned(self) -> bool:
        # A class absent from the truth scores 0 under the benchmark rule whenever it is
        # predicted at all: that says nothing of whether the model can see it.
        return self.in_validation and is_unlearned(self.iou)


def validation_iou_by_class(card: dict[str, Any], table: ClassTable) -> dict[int, ClassQuality]:
    """Train ID -> the card's figure from the validation set whose truth holds the most
    pixels of the class (see :data:`QUALITY_SPLITS`). Empty for a card without validation
    figures (e.g. a user's own model)."""
    validation = card.get("validation", {})
    splits = {name: validation[name] for name in QUALITY_SPLITS
              if isinstance(validation.get(name), dict) and isinstance(validation[name].get("per_class"), dict)
              and validation[name]["per_class"]}
    if not splits:
        return {}
    result: dict[int, ClassQuality] = {}
    for info in table.train_classes:
        def pixels(name: str) -> int | None:
            counts = splits[name].get("truth_pixels")
            value = counts.get(info.name) if isinstance(counts, dict) else None
            return int(value) if isinstance(value, (int, float)) else None

        # max() keeps the first of equals: KITTI when no set holds the class.
        chosen = max(splits, key=lambda name: pixels(name) or 0)
        value = splits[chosen]["per_class"].get(info.name)
        count = pixels(chosen)
        result[info.train_id] = ClassQuality(float(value) if isinstance(value, (int, float)) else None,
                                             count != 0, chosen, count)
    return result


def is_unlearned(iou: float | None) -> bool:
    return iou is not None and iou < UNLEARNED_IOU
