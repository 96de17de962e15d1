import errno

import numpy as np
import pytest
from PIL import Image

from segviewer.core import atomic
from segviewer.core.errors import MaskIOError
from segviewer.core.mask_io import (
    MaskFormat,
    encode_mask,
    output_path,
    read_label_ids,
    read_train_ids,
    save_mask,
)


def test_output_names_follow_the_source(tmp_path):
    assert output_path(tmp_path / "x" / "000000_10.png", tmp_path, MaskFormat.LABEL_IDS).name == \
        "000000_10_labelIds.png"
    assert output_path(tmp_path / "a.jpg", tmp_path, MaskFormat.COLOR).name == "a_color.png"


def test_all_formats_round_trip(tmp_path, banded_mask, road_image):
    for fmt in MaskFormat:
        path = save_mask(banded_mask, tmp_path / f"m_{fmt.value}.png", fmt, overlay=road_image)
        with Image.open(path) as image:
            expected_mode = "L" if fmt in (MaskFormat.LABEL_IDS, MaskFormat.TRAIN_IDS) else "RGB"
            assert image.mode == expected_mode
            values = np.asarray(image)
        if fmt is MaskFormat.LABEL_IDS:
            assert set(np.unique(values)) == {7, 11, 23, 26}  # road, building, sky, car
            assert np.array_equal(read_label_ids(path), banded_mask)
        elif fmt is MaskFormat.TRAIN_IDS:
            assert np.array_equal(read_train_ids(path), banded_mask)
        elif fmt is MaskFormat.COLOR:
            assert values[0, 0].tolist() == [70, 130, 180]
            assert values[-1, 0].tolist() == [128, 64, 128]
        else:
            assert np.array_equal(values, road_image)


def test_void_becomes_label_zero(banded_mask):
    mask = banded_mask.copy()
    mask[0, 0] = 255
    labels = np.asarray(encode_mask(mask, MaskFormat.LABEL_IDS))
    assert labels[0, 0] == 0


def test_existing_file_is_not_overwritten(tmp_path, banded_mask):
    path = tmp_path / "m.png"
    path.write_bytes(b"precious")
    with pytest.raises(MaskIOError, match="already exists"):
        save_mask(banded_mask, path, MaskFormat.TRAIN_IDS)
    assert path.read_bytes() == b"precious"
    save_mask(banded_mask, path, MaskFormat.TRAIN_IDS, overwrite=True)
    assert np.array_equal(read_train_ids(path), banded_mask)


def test_failed_write_leaves_nothing(tmp_path, banded_mask, monkeypatch):
    def disk_full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(MaskIOError, match="disk full"):
        save_mask(banded_mask, tmp_path / "m.png", MaskFormat.TRAIN_IDS)
    assert list(tmp_path.iterdir()) == []


def test_read_only_folder(tmp_path, banded_mask):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if _writable(folder):
            pytest.skip("running as a user that ignores folder permissions")
        with pytest.raises(MaskIOError, match="permission denied"):
            save_mask(banded_mask, folder / "m.png", MaskFormat.TRAIN_IDS)
    finally:
        folder.chmod(0o700)
    assert list(folder.iterdir()) == []


def test_unwritable_folder_simulated(tmp_path, banded_mask, monkeypatch):
    """Root ignores permissions, so also simulate the refusal the OS would give."""
    def refuse(*_args, **_kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(MaskIOError, match="permission denied"):
        save_mask(banded_mask, tmp_path / "m.png", MaskFormat.TRAIN_IDS)
    assert list(tmp_path.iterdir()) == []


def _writable(folder):
    try:
        (folder / ".probe").write_bytes(b"")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


def test_path_that_is_a_folder(tmp_path, banded_mask):
    (tmp_path / "m.png").mkdir()
    with pytest.raises(MaskIOError, match="folder"):
        save_mask(banded_mask, tmp_path / "m.png", MaskFormat.TRAIN_IDS, overwrite=True)


def test_parse_format_list():
    assert MaskFormat.parse_list("labelids, COLOR") == [MaskFormat.LABEL_IDS, MaskFormat.COLOR]
    with pytest.raises(ValueError, match="unknown"):
        MaskFormat.parse_list("jpeg")


def test_png_written_in_strips_reads_back_exactly(tmp_path):
    import io

    from PIL import Image

    from segviewer.core.png_stream import strips_of, write_png_strips

    rng = np.random.default_rng(3)
    for shape in ((300, 70), (300, 70, 3)):
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        buffer = io.BytesIO()
        write_png_strips(buffer, shape[0], shape[1], 1 if len(shape) == 2 else 3,
                         strips_of(shape[0], lambda a, b: pixels[a:b], rows=64))
        with Image.open(io.BytesIO(buffer.getvalue())) as image:
            image.load()
            assert image.mode == ("L" if len(shape) == 2 else "RGB")
            assert np.array_equal(np.asarray(image), pixels)


def test_big_masks_are_streamed_and_identical_to_the_whole_image_encoding(tmp_path, monkeypatch):
    import segviewer.core.mask_io as mask_io
    from segviewer.core.overlay import compose_overlay
    from tests.conftest import tricolour_image

    image = tricolour_image(300, 200)
    ids = np.zeros((300, 200), np.uint8)
    ids[:100], ids[100:200] = 10, 8
    whole = {fmt: tmp_path / f"whole_{fmt.value}.png" for fmt in MaskFormat}
    overlay = compose_overlay(image, ids, 0.5)
    for fmt, path in whole.items():
        save_mask(ids, path, fmt, overlay=overlay)
    monkeypatch.setattr(mask_io, "STREAM_PIXELS", 1000)
    for fmt, path in whole.items():
        streamed = tmp_path / f"strips_{fmt.value}.png"
        save_mask(ids, streamed, fmt, overlay_rows=lambda a, b: compose_overlay(image[a:b], ids[a:b], 0.5))
        assert np.array_equal(np.asarray(Image.open(streamed)), np.asarray(Image.open(path))), fmt
