"""Write a PNG strip by strip, so a 100-megapixel mask or overlay never exists whole in
memory (Pillow encodes from a complete image). The format is the plain one every reader
takes: 8-bit greyscale or RGB, no interlacing, the "Sub" filter on RGB rows (smaller
files for photographs), zlib at Pillow's default level."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
STRIP_ROWS = 256
FILTER_NONE, FILTER_SUB = 0, 1
IDAT_BYTES = 1 << 20


def _chunk(file: BinaryIO, kind: bytes, data: bytes) -> None:
    file.write(struct.pack(">I", len(data)) + kind + data)
    file.write(struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _filtered(rows: np.ndarray) -> bytes:
    """Rows (n, W) or (n, W, 3) uint8 with their filter byte in front."""
    if rows.ndim == 2:
        flat = rows.reshape(rows.shape[0], -1)
        return np.hstack([np.full((flat.shape[0], 1), FILTER_NONE, np.uint8), flat]).tobytes()
    flat = rows.reshape(rows.shape[0], -1)
    sub = flat.copy()
    sub[:, 3:] = flat[:, 3:] - flat[:, :-3]  # uint8 arithmetic wraps, as PNG's filter does
    return np.hstack([np.full((flat.shape[0], 1), FILTER_SUB, np.uint8), sub]).tobytes()


def write_png_strips(file: BinaryIO, height: int, width: int, channels: int,
                     strips: Iterator[np.ndarray], level: int = 6) -> None:
    """``strips`` yields consecutive row blocks (uint8, (n, W) or (n, W, 3)) adding up to
    ``height`` rows."""
    if channels not in (1, 3):
        raise ValueError("channels must be 1 (greyscale) or 3 (RGB)")
    file.write(SIGNATURE)
    _chunk(file, b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0 if channels == 1 else 2, 0, 0, 0))
    compressor = zlib.compressobj(level)
    pending = bytearray()
    rows = 0
    for strip in strips:
        strip = np.ascontiguousarray(strip, np.uint8)
        if strip.shape[1] != width or (strip.ndim == 3) != (channels == 3):
            raise ValueError(f"strip of shape {strip.shape} does not fit a {width}-wide, {channels}-channel PNG")
        rows += strip.shape[0]
        pending += compressor.compress(_filtered(strip))
        if len(pending) >= IDAT_BYTES:
            _chunk(file, b"IDAT", bytes(pending))
            pending.clear()
    if rows != height:
        raise ValueError(f"{rows} rows written for a {height}-row PNG")
    pending += compressor.flush()
    _chunk(file, b"IDAT", bytes(pending))
    _chunk(file, b"IEND", b"")


def strips_of(height: int, render: Callable[[int, int], np.ndarray], rows: int = STRIP_ROWS) -> Iterator[np.ndarray]:
    """``render(top, bottom)`` for consecutive blocks of ``rows`` rows."""
    for top in range(0, height, rows):
        yield render(top, min(top + rows, height))
