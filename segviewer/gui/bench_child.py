"""Child processes for ``segviewer bench``, each in the real viewer (offscreen): open every
image of a folder (peak resident memory), play a video, Evaluate Folder."""

from __future__ import annotations

import resource
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer


def _wait(signal, timeout_ms: int = 120_000) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


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


def loaded_window(model: Path | str, backend: str = "auto", pixel_budget: int | None = None):
    """The real viewer set-up (TensorFlow first used in the model worker, as in the app),
    shown, with its model loaded: (application, window)."""
    from segviewer.gui.app import make_application
    from segviewer.gui.main_window import MainWindow

    app = make_application()
    window = MainWindow(Path(model), pixel_budget, interactive=False, backend=backend)
    window.show()
    window.start()
    _wait(window.worker.signals.sig_model_loaded)
    return app, window


def evaluate_folder(model: str, folder: str, backend: str = "auto") -> str:
    """Evaluate Folder on ``folder`` in the real viewer (offscreen): JSON with its seconds
    (from the command to the filled panel), images scored, the event loop's longest stall
    meanwhile and the process's peak RSS."""
    import json
    import time

    app, window = loaded_window(model, backend)
    probe = StallClock()
    started = time.perf_counter()
    outcome = []
    window.worker.signals.sig_batch_done.connect(outcome.append)
    window.evaluation.evaluate(Path(folder))
    while not outcome or window.evaluation.active:
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()
    seconds = time.perf_counter() - started
    probe.stop()
    scored = sum(1 for image in window.evaluation.panel.result.images if image.confusion)
    window.close()
    app.processEvents()
    return json.dumps({"seconds": seconds, "images": scored, "max_stall_ms": probe.longest_ms(),
                       "worst_stalls_ms": [gap - 10 for gap in probe.worst()],
                       "peak_rss_mb": peak_rss_mb()})


def open_all(model: str, folder: str, backend: str = "auto") -> float:
    from segviewer.core.file_search import list_images

    app, window = loaded_window(model, backend)
    for path in list_images(Path(folder)):
        QTimer.singleShot(0, lambda p=path: window.open_path(p))
        _wait(window.sig_frame_shown)
    window.close()
    app.processEvents()
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's own peak RSS. Linux' ``ru_maxrss`` survives exec, so a child started
    by a big parent would report the parent's peak; ``VmHWM`` is this image's own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def play_video(model: str, video: str, backend: str = "auto") -> str:
    """Play ``video`` once through in the real viewer (offscreen) with live segmentation;
    JSON with the displayed frames/s, the share of frames shown with their own mask and
    the event loop's longest stall (a 10 ms timer's largest lateness)."""
    import json

    from segviewer.gui.video_controller import PlaybackStats

    app, window = loaded_window(model, backend)
    window.open_path(Path(video))
    _wait(window.sig_frame_shown)  # the first frame, with its mask
    probe = StallClock()
    controller = window.video
    controller.play()
    controller.stats = PlaybackStats()  # count from the first played frame
    while controller.playing:
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()
    probe.stop()
    stats = controller.stats
    window.close()
    app.processEvents()
    return json.dumps({"fps": stats.frames_per_s, "fresh_fraction": stats.fresh / max(stats.shown, 1),
                       "max_stall_ms": probe.longest_ms(), "frames": stats.shown})
