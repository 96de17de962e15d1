"""Helpers for tests that drive the real window: wait for a frame, read what it shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WAIT_MS = 60_000


def open_and_wait(qtbot, window, path: Path) -> None:
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        window.open_path(path)


def displayed(window) -> np.ndarray:
    """The view's picture as an RGB array."""
    image = window.view.displayed_image().convertToFormat(window.view.displayed_image().Format.Format_RGB888)
    array = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return array[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()
