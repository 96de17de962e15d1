"""Bad input, bad models, failed saves, responsiveness, long sessions, shutdown."""

from __future__ import annotations

import gc
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from segviewer.cli import main as cli_main
from segviewer.core.errors import ImageLoadError, ModelLoadError
from segviewer.core.image_io import load_image
from segviewer.core.inference import Segmenter
from segviewer.core.overlay import OverlayMode, OverlayRenderer
from tests import corpus
from tests.conftest import tricolour_image
from tests.gui_helpers import WAIT_MS, open_and_wait


def _deny_reading(monkeypatch, path: Path) -> None:
    """Root ignores file modes, so refuse reading the way the OS would for others."""
    real_access, real_open = os.access, Image.open

    def access(target, mode, *args, **kwargs):
        return False if Path(target) == path and mode & os.R_OK else real_access(target, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(Image, "open", lambda target, *a, **k: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied")) if Path(target) == path else real_open(target, *a, **k))


# -- bad images -----------------------------------------------------------------------------

def test_loader_refuses_the_bad_corpus_and_reads_the_odd_one(tmp_path, monkeypatch):
    expected = corpus.bad_files(tmp_path / "bad")
    for name, reason in expected.items():
        with pytest.raises(ImageLoadError) as error:
            load_image(tmp_path / "bad" / name)
        assert name in str(error.value) and reason in str(error.value), str(error.value)
    for name in corpus.good_odd_files(tmp_path / "good"):
        image = load_image(tmp_path / "good" / name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert load_image(tmp_path / "good" / "exif rotated.jpg").shape[:2] == (90, 60)
    locked = tmp_path / "good" / "locked.png"
    Image.fromarray(tricolour_image()).save(locked)
    _deny_reading(monkeypatch, locked)
    with pytest.raises(ImageLoadError, match="permission denied"):
        load_image(locked)


@pytest.mark.slow
def test_predict_reports_every_bad_file_and_writes_every_good_one(tmp_path, tiny_model_path, capsys):
    folder = tmp_path / "mixed"
    expected_bad = corpus.bad_files(folder)
    good = corpus.good_odd_files(folder)
    out = tmp_path / "out"
    status = cli_main(["predict", str(folder), "--out", str(out), "--model", str(tiny_model_path)])
    err = capsys.readouterr().err
    assert status == 1
    for name, reason in expected_bad.items():
        if name == "folder.png":
            continue  # a folder inside an input folder is not an image file: not listed
        assert name in err and reason in err, name
    for name in good:
        assert (out / f"{Path(name).stem}_labelIds.png").is_file(), name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    explicit = cli_main(["predict", str(folder / "folder.png"), "--out", str(out), "--model", str(tiny_model_path)])
    # Named on the command line, a folder is an input folder: here an empty one.
    assert explicit == 1 and "folder.png: no image files" in capsys.readouterr().err


@pytest.mark.slow
def test_viewer_reports_each_bad_file_and_stays_usable(qtbot, make_window, tmp_path):
    expected = corpus.bad_files(tmp_path / "bad")
    window = make_window()
    for name, reason in expected.items():
        with qtbot.waitSignal(window.sig_error, timeout=WAIT_MS) as blocker:
            window.navigator.set_files([tmp_path / "bad" / name], 0)
        assert name in blocker.args[0] and reason in blocker.args[0]
    for name in corpus.good_odd_files(tmp_path / "good"):
        open_and_wait(qtbot, window, tmp_path / "good" / name)
        assert window.current.prediction is not None
        assert window.current.prediction.train_ids.shape == window.current.image.shape[:2]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".png", ".jpg", ".gif", ".webp", ".tif", ".bmp"]))
def test_loader_on_random_bytes(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        image = load_image(path)
    except ImageLoadError as error:
        assert path.name in str(error)
    else:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=st.integers(1, 40), height=st.integers(1, 40),
       mode=st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I", "I;16", "F", "YCbCr"]),
       seed=st.integers(0, 2**16))
def test_loader_on_random_shapes_and_modes(tmp_path, width, height, mode, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(rgb).convert(mode if mode not in ("I;16",) else "I").convert(mode) \
        if mode != "I;16" else Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
    suffix = ".tif" if mode in ("F", "I", "YCbCr", "CMYK", "I;16") else ".png"
    path = tmp_path / f"img{suffix}"
    image.save(path)
    loaded = load_image(path)
    assert loaded.shape == (height, width, 3) and loaded.dtype == np.uint8


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 30), width=st.integers(1, 30), seed=st.integers(0, 2**16),
       opacity=st.floats(-1, 2), mode=st.sampled_from(list(OverlayMode)),
       hidden=st.sets(st.sampled_from(list(range(19)) + [255])))
def test_overlay_engine_on_random_masks(height, width, seed, opacity, mode, hidden):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = rng.choice(np.array(list(range(19)) + [255], np.uint8), (height, width))
    renderer = OverlayRenderer()
    renderer.set_opacity(opacity)
    renderer.set_mode(mode)
    renderer.set_visible_ids((set(range(19)) | {255}) - hidden)
    renderer.set_frame(image, mask)
    out = np.asarray(renderer.compose())
    assert out.shape == image.shape and out.dtype == np.uint8
    hidden_pixels = np.isin(mask, list(hidden))
    assert np.array_equal(out[hidden_pixels], image[hidden_pixels])


# -- bad models ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_models(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    import keras

    folder = tmp_path_factory.mktemp("bad_models")
    (folder / "empty.keras").write_bytes(b"")
    with zipfile.ZipFile(folder / "random.keras", "w") as archive:
        archive.writestr("hello.txt", "not a model")
    inputs = keras.Input((None, None, 3))
    keras.Model(inputs, keras.layers.Conv2D(5, 1)(inputs)).save(folder / "five_classes.keras")
    (folder / "a folder.keras").mkdir()
    (folder / "text.keras").write_text("hello")
    pixels = keras.Input((None, None, 3), dtype="uint8")
    scaled = keras.layers.Rescaling(1 / 255)(pixels)
    # Valid 19-class heads that lie about geometry or have two outputs.
    keras.Model(pixels, keras.layers.Conv2D(19, 3, strides=2, padding="same")(scaled)).save(
        folder / "stride_two.keras")
    keras.Model(pixels, [keras.layers.Conv2D(19, 1)(scaled), keras.layers.Conv2D(19, 1)(scaled)]).save(
        folder / "two_outputs.keras")
    return {
        "stride-2 output": (folder / "stride_two.keras", "is not the size of its input"),
        "two outputs": (folder / "two_outputs.keras", "has 2 outputs"),
        "missing": (folder / "missing.keras", "not found"),
        "empty": (folder / "empty.keras", "empty"),
        "random zip": (folder / "random.keras", "not a loadable Keras model"),
        "wrong outputs": (folder / "five_classes.keras", "19 class outputs"),
        "folder": (folder / "a folder.keras", "is a folder"),
        "not a zip": (folder / "text.keras", "not a Keras model"),
    }


def test_bad_models_give_clear_errors(bad_models):
    for label, (path, reason) in bad_models.items():
        with pytest.raises(ModelLoadError) as error:
            Segmenter.load(path)
        assert path.name in str(error.value) and reason in str(error.value), label


def test_unreadable_model(tmp_path, tiny_model_path, monkeypatch):
    import builtins

    copy = tmp_path / "locked.keras"
    copy.write_bytes(tiny_model_path.read_bytes())
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda target, *a, **k: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied")) if Path(str(target)) == copy else real_open(target, *a, **k))
    with pytest.raises(ModelLoadError, match="cannot read"):
        Segmenter.load(copy)


@pytest.mark.slow
def test_viewer_survives_each_bad_model_then_loads_a_good_one(qtbot, make_window, bad_models,
                                                               tiny_model_path, image_folder):
    window = make_window()
    for label, (path, reason) in bad_models.items():
        with qtbot.waitSignal(window.worker.signals.sig_model_failed, timeout=WAIT_MS) as blocker:
            window.load_model(path)
        assert reason in blocker.args[0], label
        # The worker keeps the model it had, and the window says so.
        assert window.model_label.text().startswith(window.model_info.name)
    with qtbot.waitSignal(window.worker.signals.sig_model_loaded, timeout=WAIT_MS):
        window.load_model(tiny_model_path)
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    assert window.current.prediction is not None


# -- saving -----------------------------------------------------------------------------------

def test_viewer_save_errors_leave_no_partial_files(qtbot, make_window, image_folder, tmp_path,
                                                  monkeypatch):
    import errno

    from segviewer.core import atomic
    from segviewer.core.mask_io import MaskFormat

    window = make_window()
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "000000_10_color.png").mkdir()  # a folder where a file should go
    assert window.saving.save_current([MaskFormat.COLOR], out, overwrite=True) == []
    assert "folder" in window.last_error
    real_fsync = atomic.os.fsync

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    assert window.saving.save_current([MaskFormat.LABEL_IDS, MaskFormat.TRAIN_IDS], out) == []
    assert "disk full" in window.last_error
    monkeypatch.setattr(atomic.os, "fsync", real_fsync)
    assert sorted(p.name for p in out.iterdir()) == ["000000_10_color.png"]
    monkeypatch.setattr(atomic.tempfile, "mkstemp", lambda *a, **k: (_ for _ in ()).throw(
        PermissionError(errno.EACCES, "Permission denied")))
    assert window.saving.save_current([MaskFormat.LABEL_IDS], out) == []
    assert "permission denied" in window.last_error


# -- responsiveness, long sessions, shutdown ---------------------------------------------------------

@pytest.fixture(scope="module")
def slow_model_path(tmp_path_factory) -> Path:
    """The real default architecture (random weights): seconds per large image here."""
    from segviewer.models.architectures import build_lite0_unet

    path = tmp_path_factory.mktemp("slow") / "slow.keras"
    build_lite0_unet().save(path)
    return path


@pytest.mark.slow
def test_event_loop_keeps_running_during_inference(slow_model_path, tmp_path):
    """Measured in a fresh viewer process: there, as in real use, TensorFlow is first
    used by the (lower-priority) model worker, not by the test's own thread."""
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    images = []
    for seed in range(8):  # 720 x 1080 each, ~0.5 s here; the probe stops after a second of them
        images.append(tmp_path / f"big{seed}.png")
        Image.fromarray(np.tile(tricolour_image(seed=seed), (12, 12, 1))).save(images[-1])
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = subprocess.run([sys.executable, "-m", "tests.stall_probe", str(slow_model_path), *map(str, images)],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(text for text in result.stdout.splitlines() if text.startswith("inference_s"))
    fields = line.split()
    inference_s, stall_ms = float(fields[1]), float(fields[3])
    print(line)
    assert inference_s > 0.3, "inference too fast to measure responsiveness"
    assert stall_ms < 100, f"event loop stalled {stall_ms} ms: {line}"


@pytest.mark.slow
def test_rapid_switching_ends_on_the_last_image(qtbot, make_window, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(50):
        Image.fromarray(tricolour_image(seed=index)).save(folder / f"{index:03d}.png")
    window = make_window()
    window.open_path(folder)
    for _ in range(49):
        window.next_image()
    qtbot.waitUntil(lambda: window.current is not None and window.current.path.name == "049.png",
                    timeout=WAIT_MS)
    qtbot.wait(200)  # any stale result still in flight must not replace it
    assert window.current.path.name == "049.png"
    assert window.worker.calls < 50  # superseded requests were never computed


def _rss_mb() -> float:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc to read memory use")
def test_three_hundred_images_keep_memory_and_objects_bounded(qtbot, make_window, tmp_path):
    import threading

    folder = tmp_path / "long"
    folder.mkdir()
    for index in range(300):
        Image.fromarray(tricolour_image(120, 400, seed=index)).save(folder / f"{index:03d}.png")
    window = make_window()
    window.open_path(folder)
    qtbot.waitUntil(lambda: window.current is not None, timeout=WAIT_MS)
    samples = []
    for index in range(1, 300):
        with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
            window.next_image()
        if index in (50, 299):
            gc.collect()
            samples.append((_rss_mb(), len(gc.get_objects())))
    assert len(window.cache) <= window.cache.max_items
    (rss_50, objects_50), (rss_299, objects_299) = samples
    assert rss_299 - rss_50 < 150, f"RSS grew {rss_299 - rss_50:.0f} MB over 250 images"
    assert objects_299 - objects_50 < 5000, f"{objects_299 - objects_50} more Python objects"
    assert len([t for t in threading.enumerate() if t.name.startswith("segviewer")]) == 1


@pytest.mark.slow
def test_closing_during_inference_exits_quickly(qtbot, make_window, slow_model_path, tmp_path):
    big = tmp_path / "big.png"
    Image.fromarray(np.tile(tricolour_image(), (12, 12, 1))).save(big)
    window = make_window(slow_model_path)
    window.worker._segmenter.pixel_budget = 1_000_000
    with qtbot.waitSignal(window.worker.signals.sig_busy, timeout=WAIT_MS):
        window.open_path(big)
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 2.0
    window.worker._thread.join(5)  # the daemon finishes its last image, then ends
    assert not window.worker.is_alive()
