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


def test_class_only_predicted_scores_zero_but_not_in_mean():
    scores = score(np.array([0, 0]), np.array([0, 1]), 2)
    assert scores.per_class_iou[1] == 0.0
    assert math.isclose(scores.mean_iou, 0.5)
