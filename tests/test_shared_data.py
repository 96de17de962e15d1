"""Checks on the real datasets in ../shared/datasets (skipped when it is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from segviewer.core.datasets import camvid_samples, find_ground_truth, kitti_samples
from segviewer.core.image_io import load_image
from tests.conftest import shared_data_or_skip

pytestmark = pytest.mark.needs_data


def test_kitti_layout_and_label_ids():
    root = shared_data_or_skip() / "kitti_semantics"
    samples = kitti_samples(root, "training")
    assert len(samples) >= 37 and all(s.label is not None for s in samples)
    assert all(s.label is None for s in kitti_samples(root, "testing"))
    sample = samples[0]
    image, train_ids = load_image(sample.image), sample.read_train_ids()
    assert image.shape == (375, 1242, 3) and train_ids.shape == (375, 1242)
    assert set(np.unique(train_ids)) <= set(range(19)) | {255}
    assert find_ground_truth(sample.image) == (sample.label, "kitti")


def test_camvid_layout_and_mapping():
    root = shared_data_or_skip() / "camvid"
    train, val = camvid_samples(root, "train"), camvid_samples(root, "val")
    assert (len(train), len(val)) == (367, 101)
    train_ids = val[0].read_train_ids()
    assert train_ids.shape == (360, 480)
    assert set(np.unique(train_ids)) <= {0, 1, 2, 4, 5, 7, 8, 10, 11, 12, 13, 255}
    assert find_ground_truth(val[0].image) == (val[0].label, "camvid")


def test_shipped_model_quality_on_kitti_validation():
    """Guards against a broken export or preprocessing change: the shipped model must
    keep its measured validation quality (model card) within a small margin."""
    import json

    from segviewer.core.inference import Segmenter
    from segviewer.core.resources import default_model_path
    from training.evaluate import evaluate, select_samples

    root = shared_data_or_skip() / "kitti_semantics"
    model = default_model_path()
    card = json.loads(model.with_suffix(".json").read_text())
    scores, _, _ = evaluate(Segmenter.load(model), select_samples(root, "kitti", "val"), "kitti",
                            progress=False)
    assert scores.mean_iou >= card["validation"]["kitti"]["miou"] - 0.01
    assert scores.pixel_accuracy >= card["validation"]["kitti"]["pixel_accuracy"] - 0.01
