"""Run as a script by test_reliability: the real viewer set-up (TensorFlow first used in
the model worker, as in the app), one slow inference, the event loop's longest stall."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer


def main(model: str, image: str) -> None:
    from segviewer.gui.app import make_application
    from segviewer.gui.main_window import MainWindow

    app = make_application()
    window = MainWindow(Path(model), pixel_budget=1_000_000, interactive=False)
    window.show()
    loop = QEventLoop()
    window.worker.signals.sig_model_loaded.connect(loop.quit)
    window.start()
    loop.exec()
    clock = QElapsedTimer()
    clock.start()
    gaps, last = [], [clock.elapsed()]

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    started = time.perf_counter()
    window.sig_frame_shown.connect(loop.quit)
    window.open_path(Path(image))
    loop.exec()
    timer.stop()
    print(f"inference_s {time.perf_counter() - started:.3f} stall_ms {max(gaps) - 10} ticks {len(gaps)} "
          f"worst {sorted(gaps)[-5:]}")
    window.close()
    app.processEvents()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
