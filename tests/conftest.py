"""Shared fixtures: offscreen Qt, private QSettings, tiny images, a tiny model."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"


def shared_data_or_skip() -> Path:
    if not (SHARED_DATASETS / "kitti_semantics").is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture
def road_image() -> np.ndarray:
    """A small synthetic road scene: sky, building, road bands with some texture."""
    rng = np.random.default_rng(0)
    image = np.zeros((48, 80, 3), np.uint8)
    image[:16] = (70, 130, 180)
    image[16:30] = (90, 90, 90)
    image[30:] = (120, 70, 120)
    return np.clip(image + rng.integers(-10, 10, image.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def banded_mask() -> np.ndarray:
    mask = np.zeros((48, 80), np.uint8)
    mask[:16] = 10   # sky
    mask[16:30] = 2  # building
    mask[30:] = 0    # road
    mask[40:, 60:] = 13  # a car
    return mask


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """Fail a test that leaves one of our worker threads running (napari's rule)."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()
              and t.name.startswith("segviewer")]
    for thread in leaked:
        thread.join(timeout=5)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"threads left running: {still}"


def _build_tiny_model(path: Path) -> Path:
    """A 1x1-conv "segmenter" with fixed weights: red -> road, green -> vegetation,
    blue -> sky. Saved as .keras; loads like the shipped model, costs nothing to run."""
    import keras

    inputs = keras.Input((None, None, 3), dtype="uint8")
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    logits = keras.layers.Conv2D(19, 1, name="logits")(x)
    model = keras.Model(inputs, logits, name="tiny_test_model")
    kernel = np.zeros((1, 1, 3, 19), np.float32)
    kernel[0, 0, 0, 0] = 4.0   # red -> road
    kernel[0, 0, 1, 8] = 4.0   # green -> vegetation
    kernel[0, 0, 2, 10] = 4.0  # blue -> sky
    model.get_layer("logits").set_weights([kernel, np.zeros(19, np.float32)])
    model.save(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    return _build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.keras")


@pytest.fixture(scope="session")
def twinned_model(tmp_path_factory, tiny_model_path) -> Path:
    """The tiny test model with its LiteRT twin (``segviewer convert``) beside it."""
    import shutil

    pytest.importorskip("ai_edge_litert")
    from segviewer.commands.convert import main as convert_main

    model = tmp_path_factory.mktemp("twinned") / "tiny.keras"
    shutil.copy(tiny_model_path, model)
    assert convert_main([str(model)]) == 0
    return model


def tricolour_image(height: int = 60, width: int = 90, seed: int = 0) -> np.ndarray:
    """Blue (sky) top, green (vegetation) middle, red (road) bottom, slightly noisy."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 3] = (20, 20, 230)
    image[height // 3: 2 * height // 3] = (20, 230, 20)
    image[2 * height // 3:] = (230, 20, 20)
    return np.clip(image.astype(int) + rng.integers(-8, 8, image.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def image_folder(tmp_path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(tricolour_image(seed=index)).save(folder / f"00000{index}_10.png")
    return folder


@pytest.fixture
def private_settings(tmp_path, qapp):
    """Tests never read or write the user's real settings."""
    from PySide6.QtCore import QSettings

    from segviewer.gui.app import make_application

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    make_application()
    yield


@pytest.fixture
def make_window(qtbot, tiny_model_path, private_settings):
    """Builds real main windows (offscreen) on the tiny model; closes them afterwards and
    checks each one's worker has ended."""
    from segviewer.gui.main_window import MainWindow
    from tests.gui_helpers import WAIT_MS

    windows = []

    def make(model: Path | None = None, wait_model: bool = True) -> MainWindow:
        window = MainWindow(model or tiny_model_path, pixel_budget=192 * 640, interactive=False)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        if wait_model:
            with qtbot.waitSignal(window.worker.signals.sig_model_loaded, timeout=WAIT_MS):
                window.start()
        return window

    yield make
    for window in windows:
        window.close()
        assert not window.worker.is_alive()


def tricolour_folder(folder: Path, count: int, seed: int = 0) -> Path:
    """``count`` slightly different tricolour PNGs in a new ``folder``."""
    folder.mkdir(parents=True)
    for index in range(count):
        Image.fromarray(tricolour_image(48, 80, seed=seed + index)).save(folder / f"{index:03d}.png")
    return folder


def downsampling_model(path: Path) -> Path:
    """A tiny network that works at half, then a quarter of the input's size: its input
    stage is the normalisation and the first (stride-2) convolution."""
    import keras

    from segviewer.models.layers import ResizeToMatch

    inputs = keras.Input((None, None, 3), dtype="uint8")
    x = keras.layers.Rescaling(1.0 / 255.0, name="normalise")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="stem")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="down")(x)
    x = keras.layers.Conv2D(19, 1, name="classifier")(x)
    outputs = ResizeToMatch(name="logits")([x, inputs])
    keras.Model(inputs, outputs, name="downsampling").save(path)
    return path
