"""Locate the files installed from the top-level ``resources/`` folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_MODEL_NAME = "segviewer_lite0"


def resource_path(*parts: str) -> Path:
    """Path of a packaged resource (works from a checkout, an editable install or a wheel)."""
    root = resources.files("segviewer.resources")
    return Path(str(root.joinpath(*parts)))


def default_model_path() -> Path:
    return resource_path("models", f"{DEFAULT_MODEL_NAME}.keras")


def model_card_path(model_path: Path) -> Path:
    """The JSON model card that sits next to a ``.keras`` file (may not exist)."""
    return model_path.with_suffix(".json")


def sample_images_folder() -> Path:
    """The three KITTI frames (with ground truth beside them) a new user can open."""
    return resource_path("samples", "image_2")
