"""Per-image scores against ground truth: IoU per class and the image's mean IoU.

These are figures for the one image on screen, labelled as such; dataset-level scores
come from ``segviewer evaluate`` / ``training.evaluate``.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from segviewer.core.classes import ClassTable
from segviewer.core.metrics import Scores
from segviewer.core.truth_space import TruthSpace, space_for


class MetricsPanel(QWidget):
    def __init__(self, table: ClassTable, parent=None) -> None:
        super().__init__(parent)
        self._class_table = table
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["Class", "IoU (this image)"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self._names: list[str] = []
        self._set_rows(space_for(None))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        self.scores: Scores | None = None
        self.clear("No ground truth for this image.")

    def _set_rows(self, space: TruthSpace) -> None:
        """One row per class of the truth's space (CamVid: its 11 classes, its names)."""
        names = space.class_names(self._class_table)
        if names == self._names:
            return
        self._names = names
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem("—"))

    def row_names(self) -> list[str]:
        return list(self._names)

    def clear(self, message: str) -> None:
        self.scores = None
        self.summary.setText(message)
        for row in range(len(self._names)):
            self.table.item(row, 1).setText("—")

    def show_scores(self, prediction: np.ndarray, truth: np.ndarray, source: str,
                    space: TruthSpace | None = None) -> Scores:
        space = space or space_for(None)
        self._set_rows(space)
        scores = space.scores(prediction, truth)
        self.scores = scores
        predicted = np.bincount(space.native(prediction).ravel(), minlength=256)[:len(self._names)] > 0
        for row, (iou, present) in enumerate(zip(scores.per_class_iou, scores.present)):
            # A class absent from both truth and prediction has no IoU: shown as "—".
            text = "—" if math.isnan(iou) else f"{iou * 100:.1f} %"
            item = self.table.item(row, 1)
            item.setText(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setToolTip("in the ground truth" if present else
                            "only predicted (not in the ground truth)" if predicted[row] else "")
        in_space = (f" in CamVid's {len(self._names)} classes (a prediction of any member of a merged "
                    f"class counts as right)") if space.merged else ""
        self.summary.setText(
            f"<b>This image only</b> (not a dataset score), against {source}{in_space}:<br>"
            f"mean IoU {scores.mean_iou * 100:.1f} % over {int(scores.scored.sum())} classes (tp + fp + fn > 0), "
            f"pixel accuracy {scores.pixel_accuracy * 100:.1f} %")
        return scores
