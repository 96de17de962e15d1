"""Run as a script by test_reliability: the real viewer set-up (TensorFlow first used in
the model worker, as in the app), one slow inference, the event loop's longest stall."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer


class StallClock:
    """Ticks every 10 ms on the GUI thread; the longest gap between ticks, less the
    interval, is the longest time the event loop was blocked."""

    def __init__(self) -> None:
        self._clock = QElapsedTimer()
        self._clock.start()
        self._gaps: list[int] = []
        self._last = self._clock.elapsed()
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = self._clock.elapsed()
        self._gaps.append(now - self._last)
        self._last = now

    def reset(self) -> None:
        self._gaps.clear()
        self._last = self._clock.elapsed()

    def longest_ms(self) -> int:
        return max(self._gaps, default=10) - 10

    def worst(self) -> list[int]:
        return sorted(self._gaps)[-5:]

    def ticks(self) -> int:
        return len(self._gaps)

    def stop(self) -> None:
        self._timer.stop()


def loaded_window(model: Path, pixel_budget: int):
    """The real viewer set-up (TensorFlow first used in the model worker, as in the app),
    shown, with its model loaded; returns (application, window, an event loop)."""
    from segviewer.gui.app import make_application
    from segviewer.gui.main_window import MainWindow

    app = make_application()
    window = MainWindow(Path(model), pixel_budget=pixel_budget, interactive=False)
    window.show()
    loop = QEventLoop()
    window.worker.signals.sig_model_loaded.connect(loop.quit)
    window.start()
    loop.exec()
    return app, window, loop


def main(model: str, image: str) -> None:
    app, window, loop = loaded_window(Path(model), 1_000_000)
    stalls = StallClock()
    started = time.perf_counter()
    window.sig_frame_shown.connect(loop.quit)
    window.open_path(Path(image))
    loop.exec()
    stalls.stop()
    print(f"inference_s {time.perf_counter() - started:.3f} stall_ms {stalls.longest_ms()} ticks {stalls.ticks()} "
          f"worst {stalls.worst()}")
    window.close()
    app.processEvents()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
