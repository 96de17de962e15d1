"""The int8 twin (calibrated on training images, used by auto only after a passing check)
and the pipelined ``predict`` (the same bytes as one image at a time)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segviewer.core import backends
from segviewer.core.backends import Backend, TwinKind, choose_backend, twin_path, usable_twin
from tests.conftest import downsampling_model, tricolour_folder, tricolour_image

pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory, twinned_model) -> Path:
    """The tiny model with its float twin and an int8 twin calibrated on a plain folder
    and checked on two other images."""
    from segviewer.commands.convert import main as convert_main

    root = tmp_path_factory.mktemp("int8")
    model = root / "tiny.keras"
    for suffix in (".keras", ".tflite", ".tflite.json"):
        shutil.copy(twinned_model.with_suffix(suffix), model.with_suffix(suffix))
    calibration = tricolour_folder(root / "calibration", 4)
    checks = tricolour_folder(root / "checks", 2, seed=50)
    assert convert_main([str(model), "--int8", "--calibrate", str(calibration), "--check", str(checks)]) == 0
    return model


def test_int8_twin_records_its_calibration_and_check(int8_model):
    stamp = json.loads(twin_path(int8_model, TwinKind.INT8).with_suffix(".tflite.json").read_text())
    assert stamp["kind"] == "int8"
    assert stamp["calibration"]["images"] == 4 and stamp["calibration"]["layouts"] == {"images": 4}
    assert stamp["check"]["images"] == 2 and list(stamp["check"]["per_set"]) == ["--check"]
    assert stamp["check"]["passed"] == (stamp["check"]["pixel_agreement"] >= backends.INT8_AGREEMENT_FLOOR)


def test_auto_takes_the_int8_twin_only_while_its_check_passes(int8_model, monkeypatch):
    from segviewer.core.inference import Segmenter

    monkeypatch.setattr(backends, "nvidia_gpu_present", lambda: False)
    int8 = twin_path(int8_model, TwinKind.INT8)
    backends.record_int8_check(int8, {"images": 2, "pixel_agreement": 0.999})
    assert usable_twin(int8_model, TwinKind.INT8) == int8
    assert choose_backend("auto", usable_twin(int8_model), int8) is Backend.LITERT_INT8
    loaded = Segmenter.load(int8_model)
    assert loaded.backend_description.startswith("LiteRT int8")
    assert loaded.predict(tricolour_image()).train_ids.shape == (60, 90)
    # The float twin stays reachable by name.
    assert Segmenter.load(int8_model, backend="litert-fp32").backend_description.startswith("LiteRT on")

    backends.record_int8_check(int8, {"images": 2, "pixel_agreement": 0.5})  # a twin that disagrees
    assert usable_twin(int8_model, TwinKind.INT8) is None
    assert Segmenter.load(int8_model).backend_description.startswith("LiteRT on")
    # Asked for by name, it still runs.
    assert Segmenter.load(int8_model, backend="litert-int8").backend_description.startswith("LiteRT int8")


def test_a_stale_or_missing_int8_twin_falls_back_to_the_float_one(int8_model, tmp_path, monkeypatch):
    from segviewer.core.errors import ModelLoadError
    from segviewer.core.inference import Segmenter

    monkeypatch.setattr(backends, "nvidia_gpu_present", lambda: False)
    model = tmp_path / "tiny.keras"
    for suffix in (".keras", ".tflite", ".tflite.json", ".int8.tflite", ".int8.tflite.json"):
        shutil.copy(int8_model.with_suffix(suffix), model.with_suffix(suffix))
    backends.record_int8_check(twin_path(model, TwinKind.INT8), {"images": 2, "pixel_agreement": 1.0})
    assert Segmenter.load(model).backend_description.startswith("LiteRT int8")
    with open(model, "ab") as file:  # the model changed after both twins were made
        file.write(b"\0")
    assert usable_twin(model, TwinKind.INT8) is None
    with pytest.raises(ModelLoadError, match="int8 twin"):
        Segmenter.load(model, backend="litert-int8")
    assert Segmenter.load(model).backend_description.startswith("TensorFlow")


def test_int8_twin_keeps_the_input_stage_in_float(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from segviewer.commands.convert import main as convert_main

    model = downsampling_model(tmp_path / "down.keras")
    calibration = tricolour_folder(tmp_path / "calibration", 3)
    assert convert_main([str(model), "--int8", "--calibrate", str(calibration)]) == 0
    twin = twin_path(model, TwinKind.INT8)
    stamp = json.loads(twin.with_suffix(".tflite.json").read_text())
    # The input stage, and the classifier whose logits decide the classes.
    assert stamp["calibration"]["float_layers"] == ["normalise", "stem", "classifier"]

    def convolution_types(flatbuffer: bytes) -> list[str]:
        """The output type of each convolution in order: stem, down, classifier."""
        interpreter = Interpreter(model_content=flatbuffer)
        tensors = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
        return [np.dtype(tensors[op["outputs"][0]]["dtype"]).name
                for op in interpreter._get_ops_details() if op["op_name"] == "CONV_2D"]

    assert convolution_types(twin.read_bytes()) == ["float32", "int8", "float32"]
    assert convert_main([str(model), "--int8", "--calibrate", str(calibration), "--float-layers", "none"]) == 0
    assert json.loads(twin.with_suffix(".tflite.json").read_text())["calibration"]["float_layers"] == []
    assert convolution_types(twin.read_bytes()) == ["int8", "int8", "int8"]
    # Divisions stay float either way (the confidence's softmax sum here).
    interpreter = Interpreter(model_content=twin.read_bytes())
    tensors = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
    divisions = [op for op in interpreter._get_ops_details() if op["op_name"] == "DIV"]
    assert divisions and all(tensors[op["outputs"][0]]["dtype"] == np.float32 for op in divisions)


def test_int8_twins_keep_efficientvit_attention_in_float():
    from segviewer.models.efficientvit import build_efficientvit_seg
    from segviewer.models.layers import ReluLinearAttention

    model = build_efficientvit_seg()
    kept = backends.int8_float_layers(model)
    attention = [layer.name for layer in model.layers if isinstance(layer, ReluLinearAttention)]
    assert attention and set(attention) <= set(kept)
    assert kept[:2] == ["to_float", "normalise"] and "backbone.input_stem.op_list.0.conv" in kept
    assert not any(name.startswith("backbone.stages.1") for name in kept if name not in attention)


def test_an_int8_twin_that_cannot_run_fails_its_check_with_a_message(int8_model, tmp_path, monkeypatch, capsys):
    from segviewer.commands.convert import main as convert_main
    from segviewer.core.errors import InferenceError

    model = tmp_path / "tiny.keras"
    for suffix in (".keras", ".tflite", ".tflite.json"):
        shutil.copy(int8_model.with_suffix(suffix), model.with_suffix(suffix))

    def refuses(self, pixels):
        raise RuntimeError("tflite/kernels/div.cc:262 data[i] != zero_point was not true.")

    network = backends.LiteRTNetwork(twin_path(int8_model, TwinKind.INT8), kind=TwinKind.INT8)
    network._runner = lambda **inputs: refuses(None, inputs)
    with pytest.raises(InferenceError, match="LiteRT could not compute this image"):
        network.scores(tricolour_image()[None])
    real_scores = backends.LiteRTNetwork.scores

    def int8_refuses(self, pixels):
        if self.path.name.endswith(".int8.tflite"):
            self._runner = lambda **inputs: refuses(None, inputs)
        return real_scores(self, pixels)

    monkeypatch.setattr(backends.LiteRTNetwork, "scores", int8_refuses)
    calibration = tricolour_folder(tmp_path / "calibration", 2)
    assert convert_main([str(model), "--int8", "--calibrate", str(calibration), "--check", str(calibration)]) == 2
    assert "the int8 twin does not run on the check images" in capsys.readouterr().err
    stamp = json.loads(twin_path(model, TwinKind.INT8).with_suffix(".tflite.json").read_text())
    assert stamp["check"]["passed"] is False and "could not compute" in stamp["check"]["error"]
    assert usable_twin(model, TwinKind.INT8) is None


def test_an_unreadable_validation_image_is_named_and_left_out_of_the_check(tiny_model_path, tmp_path, capsys):
    from segviewer.commands.convert import main as convert_main

    model = tmp_path / "tiny.keras"
    shutil.copy(tiny_model_path, model)
    kitti = tmp_path / "kitti" / "training"
    for sub in ("image_2", "semantic"):
        (kitti / sub).mkdir(parents=True)
    for index in (0, 1, 40, 41):  # 000040-000047 validate
        Image.fromarray(tricolour_image(seed=index)).save(kitti / "image_2" / f"{index:06d}_10.png")
        Image.fromarray(np.full((60, 90), 7, np.uint8)).save(kitti / "semantic" / f"{index:06d}_10.png")
    (kitti / "image_2" / "000041_10.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    assert convert_main([str(model), "--int8", "--calibrate", str(tmp_path / "kitti")]) == 0
    err = capsys.readouterr().err
    assert "000041_10.png: not an image" in err and "not checked" in err and "Traceback" not in err
    stamp = json.loads(twin_path(model, TwinKind.INT8).with_suffix(".tflite.json").read_text())
    assert list(stamp["check"]["per_set"]) == ["kitti"]


def test_int8_needs_calibration_images(tiny_model_path, tmp_path, capsys):
    from segviewer.commands.convert import main as convert_main

    model = tmp_path / "tiny.keras"
    shutil.copy(tiny_model_path, model)
    assert convert_main([str(model), "--int8"]) == 2
    assert "--int8 needs --calibrate" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert convert_main([str(model), "--int8", "--calibrate", str(tmp_path / "empty")]) == 2
    assert "no images to calibrate on" in capsys.readouterr().err
    assert not twin_path(model, TwinKind.INT8).exists()


def test_calibration_uses_training_images_and_the_check_validation_ones(tmp_path):
    from segviewer.commands.convert import images_by_set

    kitti = tmp_path / "kitti" / "training"
    for index in (0, 1, 40, 41):  # 000040-000047 validate
        for sub in ("image_2", "semantic"):
            (kitti / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(kitti / sub / f"{index:06d}_10.png")
    train = images_by_set([tmp_path / "kitti"], validation=False)
    val = images_by_set([tmp_path / "kitti"], validation=True)
    assert list(train) == ["kitti"] and [p.name for p in train["kitti"]] == ["000000_10.png", "000001_10.png"]
    assert list(val) == ["kitti"] and [p.name for p in val["kitti"]] == ["000040_10.png", "000041_10.png"]


def test_pipelined_predict_writes_the_bytes_of_one_image_at_a_time(twinned_model, tmp_path):
    from segviewer.commands.predict_images import segment_all
    from segviewer.commands.predict_jobs import collect_jobs
    from segviewer.core.export import plan_outputs, write_outputs
    from segviewer.core.image_io import load_image
    from segviewer.core.inference import Segmenter
    from segviewer.core.mask_io import MaskFormat
    from segviewer.core.overlay import compose_overlay

    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(7):
        size = (60 + 13 * index, 90 + 7 * index)  # different sizes: nothing may be mixed up
        Image.fromarray(tricolour_image(*size, seed=index)).save(folder / f"{index:02d}.png")
    segmenter = Segmenter.load(twinned_model, backend="litert")
    formats = [MaskFormat.LABEL_IDS, MaskFormat.COLOR, MaskFormat.OVERLAY]
    jobs, _ = collect_jobs([str(folder)], tmp_path / "pipelined", recursive=False)
    summary = segment_all(segmenter, jobs, formats, 0.5, overwrite=False)
    assert (summary.segmented, summary.failures, summary.written) == (7, 0, 21)

    one_at_a_time = tmp_path / "sequential"
    one_at_a_time.mkdir()
    for path in sorted(folder.iterdir()):
        image = load_image(path)
        ids = segmenter.predict(image).train_ids
        write_outputs(ids, plan_outputs(path, one_at_a_time, formats), lambda: compose_overlay(image, ids, 0.5),
                      overwrite=False)
    expected = sorted(p.name for p in one_at_a_time.iterdir())
    assert sorted(p.name for p in (tmp_path / "pipelined").iterdir()) == expected
    for name in expected:
        assert (tmp_path / "pipelined" / name).read_bytes() == (one_at_a_time / name).read_bytes(), name


def test_pipeline_reports_a_bad_image_in_its_place_and_goes_on(twinned_model, tmp_path):
    from segviewer.core.image_io import load_image
    from segviewer.core.inference import Segmenter
    from segviewer.core.pipeline import ImagePipeline

    folder = tricolour_folder(tmp_path / "images", 3)
    (folder / "001.png").write_bytes(b"not a png")
    paths = sorted(folder.iterdir())
    with ImagePipeline(Segmenter.load(twinned_model, backend="litert"),
                       lambda path, image, prediction: prediction.train_ids.shape) as pipeline:
        outcomes = list(pipeline.outcomes(paths, lambda p: p, load_image))
    assert [o.job.name for o in outcomes] == ["000.png", "001.png", "002.png"]
    assert outcomes[0].result == (48, 80) and outcomes[2].result == (48, 80)
    assert outcomes[1].error is not None and "001.png" in str(outcomes[1].error)


def test_a_prediction_keeps_no_logits_alive(twinned_model):
    """The viewer caches predictions: one that held its coarse logits (2.3 MB for a KITTI
    frame) through the lazy confidence cost the bench 40 MB over 20 images."""
    from segviewer.core.inference import Scored, Segmenter

    prediction = Segmenter.load(twinned_model, backend="litert").predict(tricolour_image(60, 90))
    held = [cell.cell_contents for cell in prediction.full_size_confidence.__closure__]
    assert not any(isinstance(value, Scored) or getattr(value, "ndim", 0) == 3 for value in held)
    assert prediction.confidence.shape == (60, 90)
