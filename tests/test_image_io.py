import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segviewer.core.errors import ImageLoadError
from segviewer.core.image_io import load_image


def _save(path: Path, image: Image.Image, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif", ".webp"])
def test_loads_common_formats_as_rgb8(tmp_path, road_image, suffix):
    path = _save(tmp_path / f"img{suffix}", Image.fromarray(road_image))
    loaded = load_image(path)
    assert loaded.dtype == np.uint8 and loaded.shape == road_image.shape
    if suffix in (".png", ".bmp", ".tif"):
        assert np.array_equal(loaded, road_image)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "1", "I", "F", "YCbCr"])
def test_any_mode_becomes_rgb8(tmp_path, road_image, mode):
    image = Image.fromarray(road_image).convert(mode)
    suffix = ".jpg" if mode == "CMYK" else ".tif" if mode in ("F", "I", "YCbCr") else ".png"
    path = _save(tmp_path / f"m{suffix}", image)
    loaded = load_image(path)
    assert loaded.shape == (48, 80, 3) and loaded.dtype == np.uint8


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257 * 100, 65535]], np.uint16)
    path = _save(tmp_path / "deep.png", Image.fromarray(values))
    loaded = load_image(path)
    assert loaded[0, :, 0].tolist() == [0, 100, 255]


def test_palette_with_transparency(tmp_path, road_image):
    image = Image.fromarray(road_image).convert("P")
    path = _save(tmp_path / "p.png", image, transparency=0)
    assert load_image(path).shape == (48, 80, 3)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (200, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    path = _save(tmp_path / "rot.jpg", image, exif=exif)
    assert load_image(path).shape == (40, 20, 3)


def test_first_frame_of_animation(tmp_path):
    frames = [Image.new("RGB", (8, 6), c) for c in ((255, 0, 0), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    loaded = load_image(path)
    assert loaded.shape == (6, 8, 3) and loaded[0, 0, 0] > 200


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + end


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.png", b"", "empty file"),
        ("noise.png", bytes(range(256)) * 4, "not an image"),
        ("bomb.png", _bomb_png(30000, 30000), "too large"),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageLoadError) as error:
        load_image(path)
    assert reason in str(error.value) and name in str(error.value)


def test_truncated_png_and_jpeg(tmp_path, road_image):
    for suffix, fmt in ((".png", "PNG"), (".jpg", "JPEG")):
        buffer = io.BytesIO()
        Image.fromarray(road_image).save(buffer, format=fmt)
        path = tmp_path / f"cut{suffix}"
        path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        with pytest.raises(ImageLoadError, match="truncated or corrupt"):
            load_image(path)


def test_wrong_crc(tmp_path, road_image):
    data = bytearray(_png_bytes(Image.fromarray(road_image)))
    index = data.index(b"IDAT")
    data[index + 10] ^= 0xFF  # corrupt compressed data, CRC now wrong
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageLoadError, match="crc.png"):
        load_image(path)


def test_missing_folder_and_unreadable(tmp_path, road_image):
    with pytest.raises(ImageLoadError, match="file not found"):
        load_image(tmp_path / "nope.png")
    folder = tmp_path / "folder.png"
    folder.mkdir()
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(folder)
    locked = _save(tmp_path / "locked.png", Image.fromarray(road_image))
    os.chmod(locked, 0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user that ignores file permissions")
        with pytest.raises(ImageLoadError, match="permission denied"):
            load_image(locked)
    finally:
        os.chmod(locked, 0o644)


@pytest.mark.parametrize("size", [(1, 1), (1, 10000), (10000, 1)])
def test_extreme_shapes(tmp_path, size):
    path = _save(tmp_path / "thin.png", Image.new("RGB", size, (1, 2, 3)))
    assert load_image(path).shape == (size[1], size[0], 3)


def test_non_ascii_and_spaces_in_name(tmp_path, road_image):
    path = _save(tmp_path / "straße mit Ä 画像.png", Image.fromarray(road_image))
    assert load_image(path).shape == road_image.shape
