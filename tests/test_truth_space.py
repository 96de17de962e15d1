"""Comparisons against CamVid truth are judged in CamVid's classes: a finer prediction
(bicycle for "Bicyclist", traffic light for "SignSymbol") is right, never punished."""

from __future__ import annotations

import numpy as np
import pytest

from segviewer.core.classes import load_class_table
from segviewer.core.comparison import Comparison
from segviewer.core.datasets import CAMVID_CLASSES, CAMVID_TO_TRAIN
from segviewer.core.hover import hover_text
from segviewer.core.overlay import ERROR_CORRECT, ERROR_IGNORED, ERROR_WRONG, OverlayRenderer
from segviewer.core.truth_space import members_of, space_for

MERGED = {name: members_of(value).tolist() for value, name in enumerate(CAMVID_CLASSES)
          if len(members_of(value)) > 1}


def test_the_merged_classes_are_the_ones_camvid_documents():
    table = load_class_table()
    named = {name: sorted(table.by_train_id(t).name for t in members) for name, members in MERGED.items()}
    assert named == {"Building": ["building", "wall"], "Tree": ["terrain", "vegetation"],
                     "SignSymbol": ["traffic light", "traffic sign"],
                     "Car": ["bus", "car", "train", "truck"], "Bicyclist": ["bicycle", "motorcycle", "rider"]}


def _error_codes(prediction: np.ndarray, truth: np.ndarray, layout: str) -> np.ndarray:
    image = np.zeros((*truth.shape, 3), np.uint8)
    comparison = Comparison(OverlayRenderer(), image, prediction, prediction, truth, space_for(layout))
    return comparison.error_frame.mask_array


@pytest.mark.parametrize("camvid_name", sorted(MERGED))
def test_every_member_of_a_merged_camvid_class_is_right(camvid_name):
    camvid_value = CAMVID_CLASSES.index(camvid_name)
    members = MERGED[camvid_name]
    outsider = next(t for t in range(19) if t not in members)
    prediction = np.array([[*members, outsider, members[0]]], np.uint8)
    truth = np.full(prediction.shape, CAMVID_TO_TRAIN[camvid_value], np.uint8)
    truth[0, -1] = CAMVID_TO_TRAIN[11]  # Unlabelled
    codes = _error_codes(prediction, truth, "camvid")
    assert codes.tolist() == [[ERROR_CORRECT] * len(members) + [ERROR_WRONG, ERROR_IGNORED]]
    # Per-image scores in CamVid's 11 classes: every member counts as that class.
    scores = space_for("camvid").scores(prediction[:, :len(members)], truth[:, :len(members)])
    assert len(scores.per_class_iou) == 11 and scores.per_class_iou[camvid_value] == 1.0
    # The hover names the set the truth stands for.
    table = load_class_table()
    text = hover_text(table, 0, 0, prediction, np.full(prediction.shape, 255, np.uint8), truth, space_for("camvid"))
    member_names = " / ".join(table.by_train_id(t).name for t in members)
    assert text.endswith(f"truth: {camvid_name} ({member_names})")


def test_kitti_truth_stays_exact():
    truth = np.array([[0, 12, 255]], np.uint8)  # road, rider, void (train IDs)
    prediction = np.array([[0, 18, 0]], np.uint8)   # road, bicycle, road
    assert _error_codes(prediction, truth, "kitti").tolist() == [[ERROR_CORRECT, ERROR_WRONG, ERROR_IGNORED]]
    assert hover_text(load_class_table(), 1, 0, prediction, np.zeros((1, 3), np.uint8), truth,
                      space_for("kitti")).endswith("truth: rider")
