"""The status bar: what is under the cursor (left), and on the right a busy indicator,
the last inference time and which model runs on which backend."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QPushButton, QStatusBar, QWidget

from segviewer.gui.worker import InferenceResult, ModelInfo


def network_time_text(result: InferenceResult, from_cache: bool) -> str:
    """How the shown mask came about: the network's time and input size, from the cache,
    or another video frame's mask while the network is busy."""
    prediction = result.prediction
    if prediction is None:
        return "segmenting…" if result.pending else "no model: image only"
    h, w = prediction.working_size
    source = "cached" if from_cache else f"{prediction.seconds * 1000:.0f} ms"
    if result.mask_frame is not None:
        source = f"mask of frame {result.mask_frame} (network busy)"
    drawn = f", drawn at 1/{result.display.factor}" if result.display else ""
    return f"{source} (network at {w}x{h}{drawn})"


class ViewerStatusBar(QStatusBar):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.hover_label = QLabel("", self)
        self.time_label = QLabel("", self)
        self.model_label = QLabel("Loading model…", self)
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)  # indeterminate
        self.busy.setMaximumWidth(90)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.addWidget(self.hover_label, 1)
        for widget in (self.busy, self.time_label, self.model_label):
            self.addPermanentWidget(widget)

    def model_loading(self, path: Path) -> None:
        self.model_label.setText(f"Loading model {path.name}…")

    def model_active(self, info: ModelInfo | None, failure: str = "") -> None:
        """Name the model the worker runs, or "No model" (with why in the tooltip)."""
        if info is None:
            self.model_label.setText("No model")
            self.model_label.setToolTip(failure)
            return
        self.model_label.setText(f"{info.name} · {info.device}")
        self.model_label.setToolTip(f"{info.path}\nloaded in {info.load_seconds:.1f} s")


def add_cancel_button(window: QMainWindow, text: str, tooltip: str, on_click) -> QPushButton:
    """A Cancel button at the status bar's right, hidden until a background job shows it."""
    button = QPushButton(text, window)
    button.setToolTip(tooltip)
    button.clicked.connect(on_click)
    button.hide()
    window.statusBar().addPermanentWidget(button)
    return button
