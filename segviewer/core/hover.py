"""The status bar's read-out for the pixel under the cursor (Qt-free)."""

from __future__ import annotations

import numpy as np

from segviewer.core.classes import NUM_TRAIN_CLASSES, ClassTable
from segviewer.core.truth_space import TruthSpace, space_for


def class_name(table: ClassTable, train_id: int) -> str:
    return table.by_train_id(train_id).name if train_id < NUM_TRAIN_CLASSES else "void"


def hover_text(table: ClassTable, x: int, y: int, train_ids: np.ndarray, confidence: np.ndarray,
               truth: np.ndarray | None = None, space: TruthSpace | None = None) -> str:
    """``x 3, y 25: road (train ID 0), 97% confident; truth: car``; a merged truth class
    is named with its members (``truth: Bicyclist (rider / bicycle / motorcycle)``)."""
    train_id = int(train_ids[y, x])
    text = (f"x {x}, y {y}: {class_name(table, train_id)} (train ID {train_id}), "
            f"{confidence[y, x] / 255.0:.0%} confident")
    if truth is not None:
        text += f"; truth: {(space or space_for(None)).truth_name(table, int(truth[y, x]))}"
    return text
