"""Open any common image file as 8-bit RGB, or fail with one clear :class:`ImageLoadError`."""

from __future__ import annotations

import os
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from segviewer.core.errors import ImageLoadError, refuse_special_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
# 100 MP covers any camera photo; a 30000x30000 "decompression bomb" (900 MP) is refused
# from the header alone, before a byte of pixel data is decoded.
MAX_PIXELS = 100_000_000

# Above this many pixels, conversion to an array is done in strips of STRIP_ROWS rows.
STRIP_THRESHOLD = 16_000_000
STRIP_ROWS = 256

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
                  IndexError, TypeError)


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise ImageLoadError(path, "file not found")
    if path.is_dir():
        raise ImageLoadError(path, "is a folder, not an image file")
    refuse_special_file(path, ImageLoadError)
    if not os.access(path, os.R_OK):
        raise ImageLoadError(path, "permission denied (file is not readable)")
    if path.stat().st_size == 0:
        raise ImageLoadError(path, "empty file (0 bytes)")


def _to_rgb8(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to uint8 RGB; high-bit-depth data is scaled, not clipped."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max(initial=0)), 1.0)
        if image.mode == "F" and float(values.max(initial=0)) <= 1.0:
            top = 1.0  # float images are usually 0-1 intensities
        elif not image.mode.startswith("I;16") and top <= 255:
            top = 255.0
        gray = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode != "RGB" and image.width * image.height <= STRIP_THRESHOLD:
        # Alpha is dropped: the network sees colour only, as it was trained.
        image = image.convert("RGB")
    if image.width * image.height <= STRIP_THRESHOLD:
        return np.asarray(image, dtype=np.uint8)
    # A big image is copied out in strips: np.asarray(image) goes through tobytes(), which
    # holds two more full copies at once (a 100 MP photo would peak near 1.2 GB).
    rgb = np.empty((image.height, image.width, 3), np.uint8)
    for top in range(0, image.height, STRIP_ROWS):
        strip = image.crop((0, top, image.width, min(top + STRIP_ROWS, image.height)))
        rgb[top:top + strip.height] = np.asarray(strip.convert("RGB") if strip.mode != "RGB" else strip)
    return rgb


def _oriented(image: Image.Image) -> Image.Image:
    """EXIF orientation applied. Images without a rotation tag are returned as they are:
    ``exif_transpose`` would copy them (300 MB more for a 100 MP photo)."""
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block: show the pixels as stored
        return image
    return image if orientation in (None, 1) else ImageOps.exif_transpose(image)


def _verify_png_checksums(path: Path) -> None:
    """Pillow's decoder does not check the CRC of image-data chunks, so a PNG damaged on
    disk can decode into wrong pixels without a word; ``verify()`` checks every chunk."""
    with Image.open(path) as image:
        try:
            image.verify()
        except _DECODE_ERRORS as error:
            chunk = re.search(r"checksum in b'(\w+)'", str(error))
            if chunk is None:
                raise  # truncation and the like: reported by the caller's generic handler
            raise ImageLoadError(path, f"corrupt PNG file (checksum mismatch in its {chunk.group(1)} "
                                       "chunk: the file is damaged)") from None


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Return the image at ``path`` as a ``(H, W, 3)`` uint8 array, EXIF orientation applied.

    Animated files give their first frame. Raises :class:`ImageLoadError` naming the file
    and the cause for every failure.
    """
    path = Path(path)
    _check_readable(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageLoadError(
                        path, f"image too large ({width}x{height} = {width * height / 1e6:.0f} MP; "
                        f"limit {max_pixels / 1e6:.0f} MP)")
                if width == 0 or height == 0:
                    raise ImageLoadError(path, "image has no pixels")
                if image.format == "PNG":
                    _verify_png_checksums(path)
                image.load()
                return _to_rgb8(_oriented(image))
    except ImageLoadError:
        raise
    except PermissionError:
        raise ImageLoadError(path, "permission denied (file is not readable)") from None
    except UnidentifiedImageError:
        raise ImageLoadError(path, "not an image (unrecognised or unsupported format)") from None
    except Image.DecompressionBombError as error:
        raise ImageLoadError(path, f"image too large ({error})") from None
    except MemoryError:
        raise ImageLoadError(path, "not enough memory to decode the image") from None
    except _DECODE_ERRORS as error:
        detail = str(error) or type(error).__name__
        raise ImageLoadError(path, f"truncated or corrupt image data ({detail})") from None
