"""Run by hand (a measurement, not a test): the viewer on a very big image, as a user
would use it. Prints the peak RSS, the longest GUI stall while opening and while saving,
and how long toggles take on the GUI thread.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.big_image_probe huge.png OUT_FOLDER
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path


def main(image: str, out: str) -> None:
    from segviewer.core.mask_io import MaskFormat
    from segviewer.core.overlay import OverlayMode
    from segviewer.core.resources import default_model_path
    from tests.stall_probe import StallClock, loaded_window

    app, window, loop = loaded_window(default_model_path(), 192 * 640)
    stalls = StallClock()
    window.sig_frame_shown.connect(loop.quit)
    started = time.perf_counter()
    window.open_path(Path(image))
    loop.exec()
    print(f"open + first segmentation {time.perf_counter() - started:.1f} s, longest GUI stall "
          f"{stalls.longest_ms()} ms")

    def timed(name: str, action) -> None:
        begun = time.perf_counter()
        action()
        app.processEvents()
        print(f"{name}: {(time.perf_counter() - begun) * 1000:.0f} ms on the GUI thread")

    timed("hide sky", lambda: window.renderer.set_visible_ids(set(range(19)) - {10}))
    timed("opacity 80 %", lambda: window.controls.opacity_slider.setValue(80))
    timed("contours", lambda: window.renderer.set_mode(OverlayMode.CONTOUR))
    timed("hover", lambda: window._on_hover(100, 100))
    Path(out).mkdir(parents=True, exist_ok=True)
    stalls.reset()
    window.worker.signals.sig_batch_done.connect(loop.quit)
    begun = time.perf_counter()
    window.saving.save_current([MaskFormat.LABEL_IDS, MaskFormat.COLOR, MaskFormat.OVERLAY], Path(out),
                               overwrite=True)
    loop.exec()
    print(f"save {time.perf_counter() - begun:.1f} s in the background, longest GUI stall {stalls.longest_ms()} ms: "
          f"{window.statusBar().currentMessage()}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")
    stalls.stop()
    window.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
