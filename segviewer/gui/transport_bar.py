"""Play / pause, frame steps, a scrub slider with time and frame number, and the
playback speed: the controls under a video."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolBar,
    QToolButton,
    QWidget,
)

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)


def clock(seconds: float) -> str:
    """``m:ss.s`` (``h:mm:ss`` from an hour)."""
    seconds = max(0.0, seconds)
    minutes, rest = divmod(seconds, 60)
    if minutes >= 60:
        hours, minutes = divmod(int(minutes), 60)
        return f"{hours}:{minutes:02d}:{int(rest):02d}"
    return f"{int(minutes)}:{rest:04.1f}"


class JumpSlider(QSlider):
    """A slider that jumps to where it is clicked, as media players' scrub bars do (a
    plain QSlider moves one page towards the click)."""

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        if event.button() == Qt.MouseButton.LeftButton:
            option = QStyleOptionSlider()
            self.initStyleOption(option)
            handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                                 QStyle.SubControl.SC_SliderHandle, self)
            if not handle.contains(event.position().toPoint()):
                groove = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                                     QStyle.SubControl.SC_SliderGroove, self)
                x = round(event.position().x()) - groove.x() - handle.width() // 2
                span = groove.width() - handle.width()
                self.setValue(QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), x, span,
                                                             option.upsideDown))
        # The handle is now under the pointer: the press grabs it, so a drag goes on from here.
        super().mousePressEvent(event)


class TransportBar(QWidget):
    sig_play_toggled = Signal()
    sig_step = Signal(int)          # -1 or +1
    sig_seek = Signal(int)          # frame index
    sig_speed = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.play_button = QToolButton(self)
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.sig_play_toggled)
        self.back_button = QToolButton(self)
        self.back_button.setText("◀|")
        self.back_button.setToolTip("Previous frame (,)")
        self.back_button.clicked.connect(lambda: self.sig_step.emit(-1))
        self.forward_button = QToolButton(self)
        self.forward_button.setText("|▶")
        self.forward_button.setToolTip("Next frame (.)")
        self.forward_button.clicked.connect(lambda: self.sig_step.emit(1))
        self.slider = JumpSlider(Qt.Orientation.Horizontal, self)
        self.slider.setToolTip("Drag to scrub; the frame under the slider is segmented when it stops")
        self.slider.valueChanged.connect(self._on_slider)
        self.position = QLabel(self)
        self.position.setMinimumWidth(260)
        self.speed = QComboBox(self)
        for speed in SPEEDS:
            self.speed.addItem(f"{speed:g}x", speed)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip("Playback speed")
        self.speed.currentIndexChanged.connect(lambda i: self.sig_speed.emit(float(self.speed.itemData(i))))
        # Space, "," and "." belong to the window (play, step); a focused button would
        # take Space for itself.
        for widget in (self.play_button, self.back_button, self.forward_button, self.speed):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        for widget in (self.back_button, self.play_button, self.forward_button):
            layout.addWidget(widget)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.position)
        layout.addWidget(self.speed)
        self._fps = 10.0
        self._count = 1
        self._updating = False
        self.set_playing(False)

    def configure(self, frame_count: int, fps: float) -> None:
        self._count, self._fps = max(1, frame_count), fps or 10.0
        self._updating = True
        self.slider.setRange(0, self._count - 1)
        self.slider.setValue(0)
        self._updating = False

    def set_playing(self, playing: bool) -> None:
        self.play_button.setText("❚❚ Pause" if playing else "▶ Play")

    def show_position(self, index: int, time_s: float, note: str = "") -> None:
        """Move the slider without emitting a seek, and write the time and frame number."""
        self._updating = True
        self.slider.setValue(index)
        self._updating = False
        total = clock((self._count - 1) / self._fps)
        # Frames are numbered from 0, as in the names of saved masks (drive_000005_...).
        text = f"{clock(time_s)} / {total}   frame {index} [0–{self._count - 1}]"
        self.position.setText(f"{text}   {note}" if note else text)

    def _on_slider(self, value: int) -> None:
        if not self._updating:
            self.sig_seek.emit(value)


def add_transport_toolbar(window: QMainWindow) -> tuple[TransportBar, QToolBar]:
    """The playback bar in its own toolbar along the window's bottom, hidden until a video
    or sequence opens."""
    bar = TransportBar(window)
    toolbar = QToolBar("Playback", window)
    toolbar.setObjectName("transport_toolbar")
    toolbar.setMovable(False)
    toolbar.addWidget(bar)
    window.addToolBar(Qt.ToolBarArea.BottomToolBarArea, toolbar)
    toolbar.setVisible(False)
    return bar, toolbar
