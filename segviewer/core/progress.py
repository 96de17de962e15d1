"""A one-line progress bar with images/s and ETA (stderr; no third-party dependency)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, total: int, stream: TextIO | None = None, width: int = 28) -> None:
        self.total, self.width = total, width
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.done = 0
        self._interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_line = 0.0

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self, label: str = "") -> None:
        self.done += 1
        now = time.perf_counter()
        # Redraw in place on a terminal; in a log, one line every few seconds at most.
        if not self._interactive and now - self._last_line < 5 and self.done < self.total:
            return
        self._last_line = now
        rate = self.rate()
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = round(self.width * self.done / max(self.total, 1))
        line = (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                f"{rate:5.1f} img/s ETA {eta:4.0f}s {label[:40]}")
        self.stream.write(("\r" + line.ljust(110)) if self._interactive else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._interactive:
            self.stream.write("\n")
            self.stream.flush()
