"""The toolbar's overlay controls: opacity slider, Show (fill / contours / mask / image)
and Compare (prediction / ground truth / error map / side by side).

Opacity and Show only reflect and edit the :class:`OverlayRenderer` (their owner);
Compare is a view choice the window keeps, offered only when the image has ground truth.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QToolBar, QWidget

from segviewer.core.comparison import DisplayMode
from segviewer.core.overlay import OverlayMode, OverlayRenderer
from segviewer.gui.actions import MODE_LABELS


class OverlayControls(QWidget):
    sig_display_chosen = Signal(object)  # DisplayMode

    def __init__(self, renderer: OverlayRenderer, toolbar: QToolBar) -> None:
        super().__init__(toolbar)
        self.renderer = renderer
        toolbar.addWidget(QLabel(" Opacity ", toolbar))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, toolbar)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFixedWidth(140)
        self.opacity_slider.setAccessibleName("Overlay opacity")
        self.opacity_slider.setToolTip("Overlay opacity: 0 % = image only, 100 % = mask only")
        toolbar.addWidget(self.opacity_slider)
        self.opacity_label = QLabel("", toolbar)
        toolbar.addWidget(self.opacity_label)
        toolbar.addWidget(QLabel("  Show ", toolbar))
        self.mode_combo = QComboBox(toolbar)
        self.mode_combo.setAccessibleName("Overlay mode")
        for mode in OverlayMode:
            self.mode_combo.addItem(MODE_LABELS[mode], mode)
        toolbar.addWidget(self.mode_combo)
        toolbar.addWidget(QLabel("  Compare ", toolbar))
        self.display_combo = QComboBox(toolbar)
        self.display_combo.setAccessibleName("Compare with ground truth")
        self.display_combo.setToolTip("Prediction, ground truth, error map (green correct, red wrong, "
                                      "grey ignored) or both side by side")
        for display in DisplayMode:
            self.display_combo.addItem(display.value, display)
        toolbar.addWidget(self.display_combo)

        # Widgets write to the renderer; the renderer's change event writes back. Setting a
        # widget to the value it has emits nothing, so there is no loop to block.
        self.opacity_slider.valueChanged.connect(lambda value: renderer.set_opacity(value / 100.0))
        self.mode_combo.currentIndexChanged.connect(lambda i: renderer.set_mode(self.mode_combo.itemData(i)))
        self.display_combo.currentIndexChanged.connect(
            lambda i: self.sig_display_chosen.emit(self.display_combo.itemData(i)))
        renderer.subscribe(self._reflect_renderer)
        self._reflect_renderer()

    def _reflect_renderer(self) -> None:
        percent = round(self.renderer.opacity * 100)
        self.opacity_slider.setValue(percent)
        self.opacity_label.setText(f"{percent:3d} %")
        self.mode_combo.setCurrentIndex(list(OverlayMode).index(self.renderer.mode))

    def show_display_choices(self, available: set[DisplayMode], shown: DisplayMode) -> None:
        """Enable the comparisons this image offers and show which one is on screen."""
        model = self.display_combo.model()
        for row, display in enumerate(DisplayMode):
            model.item(row).setEnabled(display in available)
        self.display_combo.setEnabled(len(available) > 1)
        self.display_combo.blockSignals(True)  # reflecting a fallback is not a user's choice
        self.display_combo.setCurrentIndex(list(DisplayMode).index(shown))
        self.display_combo.blockSignals(False)
