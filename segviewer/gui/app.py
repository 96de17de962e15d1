"""Start the viewer: build the QApplication and the window, show it, then load the model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

from segviewer import __version__
from segviewer.core.resources import default_model_path

SCREENSHOT_TIMEOUT_S = 180


GUI_SWITCH_INTERVAL_S = 0.001


def make_application(argv: list[str] | None = None) -> QApplication:
    QCoreApplication.setOrganizationName("segviewer")
    QCoreApplication.setApplicationName("segviewer")
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    # The GUI thread shares the GIL with the model worker, the image readers ahead of it
    # and background imports; with three of them busy the default 5 ms turns add up to
    # visible stalls. 1 ms turns bound the wait (segviewer bench: evaluate_max_stall_ms).
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    return app


class ScreenshotRun:
    """``--screenshot``: wait for the first overlay, grab the window, exit 0 (1 on error)."""

    def __init__(self, window, target: Path) -> None:
        self.window, self.target, self.status = window, target, 1
        window.sig_frame_shown.connect(self._on_frame)
        window.sig_error.connect(self._on_error)
        window.worker.signals.sig_model_failed.connect(self._on_error)
        QTimer.singleShot(SCREENSHOT_TIMEOUT_S * 1000, lambda: self._on_error("timed out waiting for the overlay"))

    def _on_frame(self, _path) -> None:
        if self.window.current is None or self.window.current.prediction is None:
            return  # the image arrived before the model: wait for the segmented frame
        QTimer.singleShot(200, self._grab)  # let the status bar and legend repaint

    def _grab(self) -> None:
        if not self.window.grab().save(str(self.target), "PNG"):
            return self._on_error(f"{self.target}: could not write the screenshot")
        print(f"screenshot saved to {self.target}")
        self.status = 0
        self.window.close()

    def _on_error(self, message: str) -> None:
        print(f"segviewer: {message}", file=sys.stderr)
        self.status = 1
        self.window.close()


READY_MARKER = "segviewer-ready"


def _exit_when(window, app, event: str) -> None:
    def ready(*_args) -> None:
        if event == "overlay" and (window.current is None or window.current.prediction is None):
            return
        print(READY_MARKER, flush=True)
        window.close()
        app.quit()

    if event == "shown":
        QTimer.singleShot(0, ready)
    else:
        window.sig_frame_shown.connect(ready)
        window.sig_error.connect(lambda message: (print(message, file=sys.stderr), app.exit(1)))


def run(args: argparse.Namespace) -> int:
    app = make_application()
    from segviewer.gui.main_window import MainWindow

    model = args.model or default_model_path()
    window = MainWindow(model, args.pixel_budget, interactive=args.screenshot is None,
                        backend=getattr(args, "backend", "auto"))
    screenshot = ScreenshotRun(window, args.screenshot) if args.screenshot else None
    if args.screenshot and args.path is None:
        print("segviewer: --screenshot needs an image to open", file=sys.stderr)
        return 2
    window.show()
    if getattr(args, "exit_when", None):
        _exit_when(window, app, args.exit_when)
    # Load the model and open the image only once the window is on screen.
    QTimer.singleShot(0, window.start)
    if args.path is not None:
        QTimer.singleShot(0, lambda: window.open_path(Path(args.path)))
    elif window.settings.first_run():
        # A newcomer sees a segmented road at once; later runs start empty (File menu).
        QTimer.singleShot(0, window.opener.open_samples)
    code = app.exec()
    return screenshot.status if screenshot else code
