"""Confusion matrices and IoU: the one implementation that training, the CLI and the
viewer's per-image panel all use."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from segviewer.core.classes import VOID_TRAIN_ID

IGNORE = VOID_TRAIN_ID


def confusion_matrix(truth: np.ndarray, prediction: np.ndarray, num_classes: int,
                     ignore: int = IGNORE) -> np.ndarray:
    """``int64[num_classes, num_classes + 1]``: rows = truth, columns = prediction.

    Pixels whose truth is ``ignore`` (void) are skipped. The extra last column counts
    predictions outside ``0..num_classes-1`` (e.g. a saved mask that says void where the
    truth has a class): they are errors, charged to the true class's IoU.
    """
    if truth.shape != prediction.shape:
        raise ValueError(f"shape mismatch: truth {truth.shape} vs prediction {prediction.shape}")
    truth = truth.ravel()
    keep = truth < num_classes  # drops ignore (255) and anything else out of range
    truth = truth[keep].astype(np.int64)
    predicted = np.minimum(prediction.ravel()[keep].astype(np.int64), num_classes)
    width = num_classes + 1
    return np.bincount(truth * width + predicted, minlength=num_classes * width).reshape(
        num_classes, width)


@dataclass(frozen=True)
class Scores:
    per_class_iou: np.ndarray  # float64[num_classes], NaN where truth and prediction lack it
    mean_iou: float            # over the scored classes (tp + fp + fn > 0)
    pixel_accuracy: float
    present: np.ndarray        # bool[num_classes]: class occurs in the ground truth
    scored: np.ndarray         # bool[num_classes]: tp + fp + fn > 0 (in the mean)


def scores_from_confusion(matrix: np.ndarray) -> Scores:
    """Per-class IoU, mean IoU and pixel accuracy, as the Cityscapes / KITTI benchmark
    scores: the mean is over every class with tp + fp + fn > 0, so a class the model
    predicts where the truth lacks it counts as 0, not as absent."""
    matrix = np.asarray(matrix, dtype=np.float64)
    num_classes = matrix.shape[0]
    true_positive = np.diag(matrix[:, :num_classes])
    truth_count = matrix.sum(axis=1)
    predicted_count = matrix[:, :num_classes].sum(axis=0)
    union = truth_count + predicted_count - true_positive
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, true_positive / union, np.nan)
    present = truth_count > 0
    scored = union > 0
    mean_iou = float(np.mean(iou[scored])) if scored.any() else float("nan")
    total = truth_count.sum()
    accuracy = float(true_positive.sum() / total) if total > 0 else float("nan")
    return Scores(iou, mean_iou, accuracy, present, scored)


def score(truth: np.ndarray, prediction: np.ndarray, num_classes: int) -> Scores:
    return scores_from_confusion(confusion_matrix(truth, prediction, num_classes))


def scores_document(scores: Scores, names: list[str], images: int) -> dict:
    return {
        # None, not NaN, when nothing was scored: NaN is not valid JSON.
        "miou": None if np.isnan(scores.mean_iou) else scores.mean_iou,
        "pixel_accuracy": None if np.isnan(scores.pixel_accuracy) else scores.pixel_accuracy,
        "per_class": {name: (None if not scored else float(iou))
                      for name, iou, scored in zip(names, scores.per_class_iou, scores.scored)},
        "classes_scored": int(scores.scored.sum()),
        "classes_in_truth": int(scores.present.sum()),
        "images": images,
    }


def format_table(scores: Scores, names: list[str]) -> str:
    rows = [f"{'class':<16} {'IoU':>7}"]
    for name, iou, scored, present in zip(names, scores.per_class_iou, scores.scored, scores.present):
        note = "" if present or not scored else "  (predicted, not in the truth)"
        rows.append(f"{name:<16} {'—' if not scored else f'{iou * 100:6.1f}%':>7}{note}")
    rows.append(f"{'mean IoU':<16} {scores.mean_iou * 100:6.1f}%  (over {int(scores.scored.sum())} classes "
                "with tp + fp + fn > 0)")
    rows.append(f"{'pixel accuracy':<16} {scores.pixel_accuracy * 100:6.1f}%")
    return "\n".join(rows)


def write_confusion_csv(file: BinaryIO, matrix: np.ndarray, names: list[str]) -> None:
    """Rows = truth, columns = prediction, then void/other: the CSV ``segviewer evaluate``
    and the viewer's Dataset panel write."""
    text = io.TextIOWrapper(file, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(["truth \\ prediction", *names, "void/other"])
    for name, row in zip(names, matrix):
        writer.writerow([name, *row.tolist()])
    text.flush()
    text.detach()  # leave the binary file open for the atomic writer
