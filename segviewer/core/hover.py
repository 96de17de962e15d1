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


def readout(table: ClassTable, result, comparison, display, x: int, y: int, model_a_name: str) -> str:
    """The status bar's text for view pixel (x, y) (-1: outside) of ``result`` (a viewer
    result: image, prediction, truth, model B's mask, maybe a reduced display copy) as
    ``comparison`` lays it out for ``display``."""
    size = f"{result.path.name}: {result.image.shape[1]}x{result.image.shape[0]}"
    point = comparison.layout.to_image(x, y, display) if x >= 0 else None
    if point is None or result.prediction is None:
        return size
    if result.display is not None:  # a drawn pixel of a reduced copy: read the full-size masks
        factor = result.display.factor
        height, width = result.image.shape[:2]
        point = (min(point[0] * factor, width - 1), min(point[1] * factor, height - 1))
    text = hover_text(table, *point, result.prediction.train_ids, result.prediction.confidence,
                      result.truth, comparison.space)
    if result.prediction_b is None:
        return text
    # Two models look alike: each is named by its file.
    b_class = class_name(table, int(result.prediction_b[point[1], point[0]]))
    return text.replace(": ", f": A ({model_a_name}) ", 1) + f"; B ({result.model_b_path.name}): {b_class}"
