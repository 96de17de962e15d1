"""A corpus of awkward image files, generated on the fly (nothing binary is committed)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import tricolour_image


def _png(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


def _jpeg(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **kwargs)
    return buffer.getvalue()


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG header declaring a huge image, with no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + end


def bad_files(folder: Path) -> dict[str, str]:
    """Write files that must be refused; returns {file name: expected words in the message}."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray(tricolour_image())
    png, jpeg = _png(rgb), _jpeg(rgb)
    crc = bytearray(png)
    index = crc.index(b"IDAT")
    crc[index + 12] ^= 0xFF
    # Damage only the checksum of the last data chunk: Pillow decodes this without a word.
    late = bytearray(png)
    last = late.rindex(b"IDAT")
    late[last + 4 + int.from_bytes(late[last - 4:last], "big")] ^= 0xFF
    files = {
        "zero bytes.png": (b"", "empty file"),
        "random.png": (np.random.default_rng(1).bytes(4096), "not an image"),
        "truncated.png": (png[: len(png) // 2], "truncated or corrupt"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated or corrupt"),
        "bad crc.png": (bytes(crc), "corrupt"),
        "bad crc late.png": (bytes(late), "checksum mismatch"),
        "bomb.png": (bomb_png(), "too large"),
    }
    expected = {}
    for name, (content, reason) in files.items():
        (folder / name).write_bytes(content)
        expected[name] = reason
    (folder / "folder.png").mkdir()
    expected["folder.png"] = "is a folder"
    return expected


def good_odd_files(folder: Path) -> list[str]:
    """Files that are awkward but valid: each must load and be segmented."""
    folder.mkdir(parents=True, exist_ok=True)
    before = set(folder.iterdir())
    base = Image.fromarray(tricolour_image())
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "one pixel.png")
    Image.new("RGB", (10000, 1), (10, 10, 200)).save(folder / "wide 1x10000.png")
    Image.fromarray(tricolour_image()[..., 0].astype(np.uint16) * 257).save(folder / "sixteen bit.png")
    base.convert("P").save(folder / "palette transparent.png", transparency=0)
    base.convert("CMYK").save(folder / "cmyk.jpg")
    frames = [base, base.transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    frames[0].save(folder / "animated.webp", save_all=True, append_images=frames[1:], lossless=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    base.save(folder / "exif rotated.jpg", exif=exif)
    base.save(folder / "straße ünïcødé 画像.png")
    return sorted(p.name for p in set(folder.iterdir()) - before)


def unreadable_file(folder: Path) -> Path | None:
    """A file without read permission, or None where permissions are not enforced (root)."""
    path = folder / "no permission.png"
    Image.fromarray(tricolour_image()).save(path)
    os.chmod(path, 0)
    if os.access(path, os.R_OK):
        os.chmod(path, 0o644)
        path.unlink()
        return None
    return path
