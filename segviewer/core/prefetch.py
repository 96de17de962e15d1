"""Decode ahead of the network: images are read on a thread pool while the one before
them is segmented, with a cap on the decoded pixels waiting (``predict`` and Evaluate
Folder share it)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from PIL import Image

from segviewer.core.errors import special_file_kind

PREFETCH = 4
# About 150 MB of decoded RGB ahead of the network: a folder of 100 MP photos must not
# hold four of them at once.
PREFETCH_PIXELS = 48_000_000

Item = TypeVar("Item")
Loaded = TypeVar("Loaded")


def prefetched(items: Iterable[Item], source: Callable[[Item], Path], load: Callable[[Item], Loaded],
               pool: ThreadPoolExecutor, ahead: int = PREFETCH,
               max_pixels: int = PREFETCH_PIXELS) -> Iterator[tuple[Item, Future[Loaded]]]:
    """Yield each item with the future of ``load(item)``, keeping up to ``ahead`` loads in
    flight but never more than ``max_pixels`` (read from the files' headers) beyond the
    one being used. A load's exception is raised by its future's ``result()``."""
    queue: deque[tuple[Item, Future, int]] = deque()
    in_flight = 0
    for item in items:
        pixels = header_pixels(source(item))
        while queue and (len(queue) > ahead or in_flight + pixels > max_pixels):
            done, future, done_pixels = queue.popleft()
            in_flight -= done_pixels
            yield done, future
        queue.append((item, pool.submit(load, item), pixels))
        in_flight += pixels
    while queue:
        done, future, _ = queue.popleft()
        yield done, future


def header_pixels(path: Path) -> int:
    """Width x height from the file header (no decoding); 0 when unreadable (the decode
    itself will report why)."""
    if special_file_kind(path) is not None:
        return 0  # never opened here: a FIFO would block; the loader refuses it
    try:
        with Image.open(path) as image:
            return image.width * image.height
    except Exception:  # noqa: BLE001 - any failure here is reported by the loader
        return 0
