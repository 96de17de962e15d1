"""Shared fixtures: offscreen Qt, private QSettings, tiny images, a tiny model."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

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
