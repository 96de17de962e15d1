"""The two backends: which one runs, the LiteRT twin's agreement with TensorFlow, and a
model without a twin."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from segviewer.core import backends
from segviewer.core.backends import Backend, choose_backend, twin_path, usable_twin
from tests.conftest import PROJECT_ROOT, shared_data_or_skip, tricolour_image

pytest.importorskip("ai_edge_litert")


def test_auto_prefers_litert_on_a_cpu_when_a_twin_exists(twinned_model, tiny_model_path, monkeypatch):
    monkeypatch.setattr(backends, "nvidia_gpu_present", lambda: False)
    assert choose_backend("auto", usable_twin(twinned_model)) is Backend.LITERT
    assert usable_twin(tiny_model_path) is None
    assert choose_backend("auto", usable_twin(tiny_model_path)) is Backend.TENSORFLOW  # no twin
    assert choose_backend("tf", usable_twin(twinned_model)) is Backend.TENSORFLOW
    monkeypatch.setattr(backends, "nvidia_gpu_present", lambda: True)
    assert choose_backend("auto", usable_twin(twinned_model)) is Backend.TENSORFLOW


def test_a_twin_of_another_model_is_not_used(twinned_model, tmp_path):
    model = tmp_path / "tiny.keras"
    shutil.copy(twinned_model, model)
    for suffix in (".tflite", ".tflite.json"):
        shutil.copy(twinned_model.with_suffix(suffix), model.with_suffix(suffix))
    assert usable_twin(model) == twin_path(model)
    with open(model, "ab") as file:  # the model changed after its twin was made
        file.write(b"\0")
    assert usable_twin(model) is None


def test_twin_agrees_with_tensorflow(twinned_model):
    from segviewer.core.inference import Segmenter

    lite = Segmenter.load(twinned_model, backend="litert")
    tf_path = Segmenter.load(twinned_model, backend="tf")
    assert lite.backend_description.startswith("LiteRT") and tf_path.backend_description.startswith("TensorFlow")
    for size in ((60, 90), (375, 1242), (33, 47)):
        image = tricolour_image(*size, seed=size[0])
        a, b = lite.predict(image), tf_path.predict(image)
        assert a.train_ids.shape == size and a.working_size == b.working_size
        assert (a.train_ids == b.train_ids).mean() >= 0.999
        assert np.abs(a.confidence.astype(int) - b.confidence.astype(int)).max() <= 1


def test_litert_path_never_imports_tensorflow(twinned_model):
    code = ("import sys, numpy as np; from segviewer.core.inference import Segmenter; "
            f"s = Segmenter.load({str(twinned_model)!r}); s.predict(np.zeros((40, 60, 3), np.uint8)); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'; "
            "print(s.backend_description)")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("LiteRT on CPU") and result.stderr == ""


def test_missing_litert_twin_is_a_clear_error(tiny_model_path):
    from segviewer.core.errors import ModelLoadError
    from segviewer.core.inference import Segmenter

    with pytest.raises(ModelLoadError, match="no current, intact LiteRT twin"):
        Segmenter.load(tiny_model_path, backend="litert")


def test_predict_says_which_backend_ran(twinned_model, tmp_path, capsys):
    from PIL import Image

    from segviewer.cli import main as cli_main

    Image.fromarray(tricolour_image()).save(tmp_path / "a.png")
    assert cli_main(["predict", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--model",
                     str(twinned_model), "--backend", "litert"]) == 0
    assert "LiteRT on CPU" in capsys.readouterr().err


@pytest.mark.needs_data
def test_shipped_twin_matches_tensorflow_on_the_validation_images():
    from segviewer.core.image_io import load_image
    from segviewer.core.inference import Segmenter
    from segviewer.core.resources import default_model_path
    from training.evaluate import select_samples

    root = shared_data_or_skip()
    model = default_model_path()
    lite, tf_path = Segmenter.load(model, backend="litert"), Segmenter.load(model, backend="tf")
    samples = select_samples(root / "kitti_semantics", "kitti", "val")
    samples += select_samples(root / "camvid", "camvid", "val")[::10]
    same = total = 0
    for sample in samples:
        image = load_image(sample.image)
        a, b = lite.predict(image).train_ids, tf_path.predict(image).train_ids
        same += int(np.count_nonzero(a == b))
        total += a.size
    assert same / total >= 0.999


def test_flip_averaging_is_mirror_symmetric(tiny_model_path):
    """--tta averages the scores of the image and its mirror, so mirroring the input
    mirrors the answer exactly."""
    from segviewer.core.inference import Segmenter

    segmenter = Segmenter.load(tiny_model_path, tta=True)
    assert segmenter.backend_description.startswith("TensorFlow")
    image = tricolour_image(64, 96, seed=5)
    image[:, :30] = image[:, :30] // 2 + 60  # not symmetric by itself
    a = segmenter.predict(image).train_ids
    b = segmenter.predict(image[:, ::-1].copy()).train_ids
    assert (a == b[:, ::-1]).all()


def test_scores_are_upsampled_before_the_argmax(tiny_model_path):
    """Class scores are scaled up bilinearly before the argmax, so a boundary can fall
    between two working-size pixels: at 2:1, nearest-neighbour upsampling of the IDs would
    only ever put it on an even column."""
    from segviewer.core.inference import Segmenter

    segmenter = Segmenter.load(tiny_model_path, pixel_budget=32 * 64)
    boundaries = []
    for shift in range(6):
        ramp = np.clip(np.arange(128) - 40 - shift * 3, 0, 48) * 255 // 48
        image = np.zeros((64, 128, 3), np.uint8)
        image[..., 0] = ramp[None].astype(np.uint8)          # red (road) rises left to right
        image[..., 2] = (255 - ramp)[None].astype(np.uint8)  # blue (sky) falls
        prediction = segmenter.predict(image)
        assert prediction.working_size == (32, 64) and prediction.train_ids.shape == (64, 128)
        row = prediction.train_ids[10]
        boundary = int(np.argmax(row == 0))
        assert set(row[:boundary].tolist()) == {10} and set(row[boundary:].tolist()) == {0}
        boundaries.append(boundary)
    assert any(b % 2 for b in boundaries), boundaries
