import math

import numpy as np

from segviewer.core.metrics import confusion_matrix, score


def test_hand_computed_iou():
    truth = np.array([[0, 0, 1, 1], [0, 0, 1, 255]])
    prediction = np.array([[0, 1, 1, 1], [0, 0, 0, 0]])
    scores = score(truth, prediction, num_classes=3)
    # class 0: TP 3, truth 4, predicted 4 -> 3 / 5; class 1: TP 2, truth 3, predicted 3 -> 2 / 4
    assert math.isclose(scores.per_class_iou[0], 3 / 5)
    assert math.isclose(scores.per_class_iou[1], 2 / 4)
    assert math.isnan(scores.per_class_iou[2])
    assert math.isclose(scores.mean_iou, (3 / 5 + 2 / 4) / 2)
    assert math.isclose(scores.pixel_accuracy, 5 / 7)


def test_predicted_void_counts_as_error():
    truth = np.array([0, 0, 1])
    prediction = np.array([0, 255, 1])
    matrix = confusion_matrix(truth, prediction, 2)
    assert matrix.tolist() == [[1, 0, 1], [0, 1, 0]]
    assert math.isclose(score(truth, prediction, 2).per_class_iou[0], 0.5)


def test_class_only_predicted_counts_as_zero_in_the_mean():
    """The cityscapesScripts rule: every class with tp + fp + fn > 0 is averaged, so a
    hallucinated class costs the mean (it is not silently absent)."""
    scores = score(np.array([0, 0]), np.array([0, 1]), 2)
    assert scores.per_class_iou[1] == 0.0
    assert scores.scored.tolist() == [True, True] and scores.present.tolist() == [True, False]
    assert math.isclose(scores.mean_iou, (0.5 + 0.0) / 2)


def test_class_absent_everywhere_is_not_scored():
    scores = score(np.array([0, 0]), np.array([0, 0]), 3)
    assert scores.scored.tolist() == [True, False, False]
    assert math.isclose(scores.mean_iou, 1.0)
