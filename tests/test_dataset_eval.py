"""Segment-and-score in one run (segviewer evaluate --model), one or two models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segviewer.cli import main as cli_main
from tests.conftest import tricolour_image


@pytest.fixture
def kitti_folder(tmp_path) -> Path:
    (tmp_path / "image_2").mkdir()
    (tmp_path / "semantic").mkdir()
    for index in range(3):
        Image.fromarray(tricolour_image(seed=index)).save(tmp_path / "image_2" / f"00000{index}_10.png")
        labels = np.full((60, 90), 7, np.uint8)   # road
        labels[:20], labels[20:40] = 23, 21       # sky, vegetation
        labels[50:, 60 + index * 5:] = 26         # a car the models call road
        Image.fromarray(labels, "L").save(tmp_path / "semantic" / f"00000{index}_10.png")
    return tmp_path


@pytest.fixture(scope="module")
def model_b(tmp_path_factory, tiny_model_path) -> Path:
    """The tiny model with green read as terrain instead of vegetation."""
    import keras

    model = keras.saving.load_model(tiny_model_path)
    kernel, bias = model.get_layer("logits").get_weights()
    kernel[0, 0, 1, 8], kernel[0, 0, 1, 9] = 0.0, 4.0
    model.get_layer("logits").set_weights([kernel, bias])
    path = tmp_path_factory.mktemp("b") / "terrain.keras"
    model.save(path)
    return path


def _two_step_miou(model: Path, folder: Path, out: Path) -> float:
    assert cli_main(["predict", str(folder / "image_2"), "--out", str(out), "--model", str(model),
                     "--backend", "tf"]) == 0
    assert cli_main(["evaluate", "--pred", str(out), "--gt", str(folder / "semantic"), "--json",
                     str(out / "scores.json")]) == 0
    return json.loads((out / "scores.json").read_text())["miou"]


def test_two_models_give_deltas_that_match_the_two_step_form(kitti_folder, tiny_model_path, model_b, tmp_path):
    target = tmp_path / "ab.json"
    assert cli_main(["evaluate", "--model", str(tiny_model_path), "--model", str(model_b), "--images",
                     str(kitti_folder / "image_2"), "--json", str(target), "--backend", "tf"]) == 0
    document = json.loads(target.read_text())
    kitti = document["spaces"]["kitti"]
    a = _two_step_miou(tiny_model_path, kitti_folder, tmp_path / "a")
    b = _two_step_miou(model_b, kitti_folder, tmp_path / "b")
    assert kitti["A"]["miou"] == pytest.approx(a) and kitti["B"]["miou"] == pytest.approx(b)
    assert kitti["delta_B_minus_A"]["miou"] == pytest.approx(b - a)
    assert kitti["delta_B_minus_A"]["per_class"]["vegetation"] == pytest.approx(-1.0)
    rows = document["images"]
    assert len(rows) == 3 and all(r["disagreement"] == pytest.approx(1 / 3, abs=0.02) for r in rows)
    assert rows[0]["A"]["per_class"]["road"] > 0.8 and document["models"] == {"A": "tiny.keras", "B": "terrain.keras"}


def test_without_ground_truth_the_comparison_still_ranks_disagreement(tmp_path, tiny_model_path, model_b):
    folder = tmp_path / "plain"
    folder.mkdir()
    Image.fromarray(tricolour_image()).save(folder / "a.png")
    target = tmp_path / "ab.json"
    assert cli_main(["evaluate", "--model", str(tiny_model_path), "--model", str(model_b), "--images", str(folder),
                     "--json", str(target), "--backend", "tf"]) == 0
    document = json.loads(target.read_text())
    assert document["spaces"] == {} and document["images"][0]["disagreement"] == pytest.approx(1 / 3, abs=0.02)
