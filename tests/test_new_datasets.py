"""The datasets issue 28 brought: BDD100K (train-ID masks), IDD in the Cityscapes layout
(JPEG frames, 0 = not labelled), folders of unlabelled frames; and the working scale a
model card asks for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def _bdd(root: Path, count: int = 8) -> Path:
    images = root / "bdd" / "images" / "10k" / "train"
    masks = root / "bdd" / "labels" / "sem_seg" / "masks" / "train"
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    for index in range(count):
        Image.fromarray(np.full((36, 64, 3), 40 * index % 255, np.uint8)).save(images / f"{index:08x}-aa.jpg")
        mask = np.full((36, 64), 13, np.uint8)  # car, as a train ID
        mask[:4] = 255
        mask[4:8] = 40  # no such train ID: void
        Image.fromarray(mask, "L").save(masks / f"{index:08x}-aa.png")
    return root / "bdd"


def test_bdd100k_masks_are_read_as_train_ids_and_every_fourth_frame_validates(tmp_path):
    from segviewer.core.datasets import Layout, bdd100k_samples, detect_layout, find_ground_truth

    bdd = _bdd(tmp_path)
    assert detect_layout(bdd) is Layout.BDD100K
    train, val = bdd100k_samples(bdd, "train"), bdd100k_samples(bdd, "val")
    assert len(train) == 6 and len(val) == 2 and not set(train) & set(val)
    truth = val[0].read_train_ids()
    assert truth[10, 10] == 13 and truth[0, 0] == 255 and truth[5, 0] == 255
    assert find_ground_truth(val[0].image) == (val[0].label, "bdd100k")


def test_idd_jpeg_frames_find_their_truth_and_train_with_void_as_not_labelled(tmp_path):
    from segviewer.core.datasets import find_ground_truth, split_samples

    images = tmp_path / "idd_samples" / "leftImg8bit" / "train" / "201"
    labels = tmp_path / "idd_samples" / "gtFine" / "train" / "201"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(images / "201_frame0001_leftImg8bit.jpg")
    label_ids = np.zeros((32, 48), np.uint8)  # not labelled
    label_ids[20:, :10] = 32  # a motorcycle
    Image.fromarray(label_ids, "L").save(labels / "201_frame0001_gtFine_labelIds.png")
    train, val = split_samples(tmp_path)
    assert [s.layout for s in train] == ["idd"] and val == []
    truth = train[0].read_train_ids()
    assert truth[25, 5] == 17 and truth[0, 0] == 255  # motorcycle; unlabelled is void
    assert find_ground_truth(train[0].image) == (train[0].label, "cityscapes")


def test_unlabelled_frames_load_as_all_void(tmp_path):
    from training.data import load_samples, unlabelled_samples

    (tmp_path / "clip").mkdir()
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "clip" / "f_000001.jpg")
    samples = unlabelled_samples(tmp_path / "clip")
    [loaded] = load_samples(samples)
    assert loaded.image.shape == (20, 30, 3) and (loaded.label == 255).all() and loaded.layout == "unlabelled"


def test_the_model_card_sets_the_working_scale_unless_the_user_does(tiny_model_path, tmp_path):
    import json
    import shutil

    from segviewer.core.inference import DEFAULT_PIXEL_BUDGET, Segmenter, card_working_scale, working_size

    assert working_size(360, 480, 1248 * 384, max_upscale=2.0) == (608, 800)  # CamVid enlarged
    assert working_size(360, 480, 1248 * 384) == (352, 480)  # never enlarged by default
    model = tmp_path / "m.keras"
    shutil.copy(tiny_model_path, model)
    model.with_suffix(".json").write_text(json.dumps({"working_scale": {"pixel_budget": 4096, "max_upscale": 2}}))
    assert Segmenter.load(model, backend="tf").predict(np.zeros((32, 32, 3), np.uint8)).working_size == (64, 64)
    assert Segmenter.load(model, 1024, backend="tf").pixel_budget == 1024
    for broken in ({"working_scale": "big"}, {"working_scale": {"pixel_budget": True}},
                   {"working_scale": {"pixel_budget": 4096, "max_upscale": 99}}):
        assert card_working_scale(broken) == (DEFAULT_PIXEL_BUDGET, 1.0)


def test_unlabelled_frames_of_one_snippet_count_as_one_image(tmp_path):
    from training.data import load_samples, scene_factors, unlabelled_samples

    (tmp_path / "clip").mkdir()
    for index in range(4):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "clip" / f"drive_{index:06d}.jpg")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "clip" / "aachen_000001_000024_leftImg8bit.png")
    loaded = load_samples(unlabelled_samples(tmp_path / "clip"))
    factors = dict(zip((s.scene for s in loaded), scene_factors(loaded)))
    assert sorted(factors.values()) == [0.25, 1.0] and "aachen_000001" in factors
