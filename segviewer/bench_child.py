"""Child process for ``segviewer bench``: open every image of a folder in the real viewer
(offscreen), one after another, and return the peak resident memory in MB."""

from __future__ import annotations

import resource
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer


def _wait(signal, timeout_ms: int = 120_000) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def open_all(model: str, folder: str, backend: str = "auto") -> float:
    from segviewer.core.file_search import list_images
    from segviewer.core.inference import DEFAULT_PIXEL_BUDGET
    from segviewer.gui.app import make_application
    from segviewer.gui.main_window import MainWindow

    app = make_application()
    window = MainWindow(Path(model), DEFAULT_PIXEL_BUDGET, interactive=False, backend=backend)
    window.show()
    window.start()
    _wait(window.worker.signals.sig_model_loaded)
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

    from PySide6.QtCore import QElapsedTimer

    from segviewer.core.inference import DEFAULT_PIXEL_BUDGET
    from segviewer.gui.app import make_application
    from segviewer.gui.main_window import MainWindow
    from segviewer.gui.video_controller import PlaybackStats

    app = make_application()
    window = MainWindow(Path(model), DEFAULT_PIXEL_BUDGET, interactive=False, backend=backend)
    window.show()
    window.start()
    _wait(window.worker.signals.sig_model_loaded)
    window.open_path(Path(video))
    _wait(window.sig_frame_shown)  # the first frame, with its mask
    clock = QElapsedTimer()
    clock.start()
    last, stalls = [clock.elapsed()], []

    def tick() -> None:
        now = clock.elapsed()
        stalls.append(now - last[0] - 10)
        last[0] = now

    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(tick)
    probe.start()
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
                       "max_stall_ms": max(stalls, default=0), "frames": stats.shown})
