"""Training callbacks: every class's validation IoU in the epoch logs."""

from __future__ import annotations

import keras
import numpy as np

from segviewer.core.classes import load_class_table
from segviewer.core.metrics import scores_from_confusion


def log_key(class_name: str) -> str:
    """``val_iou_traffic_light``: a CSV/TensorBoard-friendly key for a class."""
    return "val_iou_" + class_name.replace(" ", "_")


class PerClassIoU(keras.callbacks.Callback):
    """Adds ``val_iou_<class>`` for all 19 classes to the logs after each validation pass,
    read from the mean-IoU metric's confusion matrix, so a class stuck at 0 shows in
    ``log.csv`` and TensorBoard at once. A class absent from truth and prediction is
    logged as NaN. Must come before the CSV logger in the callback list."""

    def __init__(self) -> None:
        super().__init__()
        self.names = [c.name for c in load_class_table().train_classes]

    def _metric(self) -> keras.metrics.MeanIoU | None:
        # Keras 3 builds compiled metrics lazily inside a container: search the tree.
        pending = list(self.model.metrics)
        while pending:
            metric = pending.pop()
            if isinstance(metric, keras.metrics.MeanIoU):
                return metric
            pending += list(getattr(metric, "metrics", []))
        return None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metric = self._metric()
        if logs is None or "val_mean_iou" not in logs or metric is None:
            return
        # keras' MeanIoU matrix: rows = truth, columns = prediction; add the empty
        # "prediction outside the classes" column our scoring expects.
        matrix = np.asarray(keras.ops.convert_to_numpy(metric.total_cm), np.float64)
        matrix = np.concatenate([matrix, np.zeros((matrix.shape[0], 1))], axis=1)
        scores = scores_from_confusion(matrix)
        for name, iou in zip(self.names, scores.per_class_iou):
            logs[log_key(name)] = float(iou)
