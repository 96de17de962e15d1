"""Run as a script by test_reliability: the real viewer set-up (TensorFlow first used in
the model worker, as in the app), slow inferences, the event loop's longest stall.

Images are shown one after another until a second of inference has passed, so a faster
CPU still gives a stretch long enough to measure."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop

from segviewer.gui.bench_child import StallClock
from segviewer.gui.bench_child import loaded_window as shipped_loaded_window


def loaded_window(model: Path, pixel_budget: int):
    """The viewer with its model loaded, and an event loop to wait in."""
    app, window = shipped_loaded_window(model, pixel_budget=pixel_budget)
    return app, window, QEventLoop()


MEASURED_S = 1.0


def main(model: str, images: list[str]) -> None:
    app, window, loop = loaded_window(Path(model), 1_000_000)
    stalls = StallClock()
    started = time.perf_counter()
    window.sig_frame_shown.connect(loop.quit)
    for image in images:
        window.open_path(Path(image))
        loop.exec()
        if time.perf_counter() - started > MEASURED_S:
            break
    stalls.stop()
    print(f"inference_s {time.perf_counter() - started:.3f} stall_ms {stalls.longest_ms()} ticks {stalls.ticks()} "
          f"worst {stalls.worst()}")
    window.close()
    app.processEvents()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
