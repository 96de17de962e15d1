"""Quantisation-aware distillation (``training.quantisation_aware``) and the int8 twin it
gives its weights to (``segviewer convert --int8 --weights-from``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segviewer.core.backends import TwinKind, twin_path
from tests.conftest import downsampling_model, tricolour_folder

pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="module")
def float_model(tmp_path_factory) -> Path:
    import keras

    keras.utils.set_random_seed(3)
    return downsampling_model(tmp_path_factory.mktemp("qat") / "down.keras")


def _working_frames(model: Path, folder: Path) -> tuple[object, list[np.ndarray]]:
    from segviewer.core.image_io import load_image
    from segviewer.core.inference import Segmenter

    segmenter = Segmenter.load(model, backend="tf")
    return segmenter, [segmenter.network_input(load_image(path)) for path in sorted(folder.glob("*.png"))]


def test_int8_tensors_are_where_the_converter_puts_them(float_model):
    from segviewer.core.backends import coarse_logits_model
    from segviewer.core.inference import Segmenter
    from training.quantisation_aware import rounded_outputs

    network = coarse_logits_model(Segmenter.load(float_model, backend="tf").model)
    # Float input stage: only its hand-over to the int8 "down" convolution is rounded.
    assert rounded_outputs(network, ["normalise", "stem"]) == ["stem", "down", "classifier"]
    assert rounded_outputs(network, []) == ["normalise", "stem", "down", "classifier"]


def test_the_simulated_twin_is_closer_to_the_real_int8_twin_than_the_float_model_is(float_model, tmp_path):
    """Rounding in the right places: the simulation predicts LiteRT's int8 logits."""
    from segviewer.commands.convert import main as convert_main
    from segviewer.core.backends import LiteRTNetwork, coarse_logits_model
    from training.quantisation_aware import build_student, calibrate_ranges, rounded_outputs

    calibration = tricolour_folder(tmp_path / "calibration", 3)
    assert convert_main([str(float_model), "--int8", "--calibrate", str(calibration), "--float-layers", "none",
                         "--out", str(tmp_path / "all_int8.tflite")]) == 0
    segmenter, frames = _working_frames(float_model, calibration)
    network = coarse_logits_model(segmenter.model)
    names = rounded_outputs(network, [])
    student = build_student(network, [], calibrate_ranges(network, names, frames))
    twin = LiteRTNetwork(tmp_path / "all_int8.tflite", kind=TwinKind.INT8)
    for frame in frames:
        int8 = twin.scores(frame[None])[0]
        simulated = np.asarray(student(frame[None], training=False))[0][..., :19]
        float_logits = np.asarray(network(frame[None], training=False))[0][..., :19]
        assert np.abs(simulated - int8).mean() < 0.5 * np.abs(float_logits - int8).mean()


def test_training_writes_a_student_that_convert_quantises_and_checks_against_the_float_model(
        float_model, tmp_path, capsys):
    from segviewer.commands.convert import main as convert_main
    from training.quantisation_aware import main as qat_main

    images = tricolour_folder(tmp_path / "images", 3)
    student = tmp_path / "student.keras"
    assert qat_main([str(float_model), "--images", str(images), "--steps", "3", "--out", str(student)]) == 0
    record = json.loads(student.with_suffix(".json").read_text())["quantisation_aware"]
    assert record["from"] == "down.keras" and record["steps"] == 3 and record["images"] == {"images": 3}
    assert "step 3/3" in capsys.readouterr().out

    checks = tricolour_folder(tmp_path / "checks", 2, seed=40)
    assert convert_main([str(float_model), "--int8", "--calibrate", str(images), "--check", str(checks),
                         "--weights-from", str(student)]) == 0
    stamp = json.loads(twin_path(float_model, TwinKind.INT8).with_suffix(".tflite.json").read_text())
    assert stamp["source"] == "down.keras"  # the float model it stands in for, and is checked against
    assert stamp["calibration"]["weights"]["from"] == "student.keras"
    assert stamp["calibration"]["weights"]["quantisation_aware"]["steps"] == 3
    assert stamp["check"]["against"] == "the float model (TensorFlow)"


def test_a_killed_run_goes_on_from_its_checkpoint(float_model, tmp_path, capsys):
    from training.quantisation_aware import main as qat_main

    images = tricolour_folder(tmp_path / "images", 2)
    student = tmp_path / "student.keras"
    assert qat_main([str(float_model), "--images", str(images), "--steps", "250", "--out", str(student)]) == 0
    assert json.loads(student.with_suffix(".checkpoint.json").read_text()) == {"step": 250}
    capsys.readouterr()
    assert qat_main([str(float_model), "--images", str(images), "--steps", "260", "--out", str(student)]) == 0
    out = capsys.readouterr().out
    assert "step 260/260" in out and "step 50/260" not in out


def test_weights_from_another_architecture_are_refused_by_name(float_model, tiny_model_path, tmp_path, capsys):
    from segviewer.commands.convert import main as convert_main

    images = tricolour_folder(tmp_path / "images", 2)
    assert convert_main([str(float_model), "--int8", "--calibrate", str(images),
                         "--weights-from", str(tiny_model_path), "--out", str(tmp_path / "x.tflite")]) == 2
    error = capsys.readouterr().err
    assert str(tiny_model_path) in error and "not a copy of down.keras's architecture" in error
    assert not (tmp_path / "x.tflite").exists()
    assert convert_main([str(float_model), "--weights-from", str(tiny_model_path)]) == 2
    assert "--weights-from is for --int8" in capsys.readouterr().err


def _skip_model(dead_branch: bool = False):
    """Encoder features and an upsampled decoder branch concatenated into a convolution
    (a U-Net decoder stage); ``dead_branch`` makes the decoder branch a ReLU that never
    fires."""
    import keras

    from segviewer.models.layers import ResizeToMatch

    keras.utils.set_random_seed(5)
    inputs = keras.Input((None, None, 3), dtype="uint8")
    x = keras.layers.Rescaling(1.0 / 255.0, name="normalise")(inputs)
    skip = keras.layers.Conv2D(6, 3, strides=2, padding="same", name="skip")(x)
    deep = keras.layers.Conv2D(5, 3, strides=2, padding="same", name="deep",
                               bias_initializer=keras.initializers.Constant(-50.0 if dead_branch else 0.0))(skip)
    deep = keras.layers.ReLU(name="deep_relu")(deep)
    up = ResizeToMatch(name="up")([deep, skip])
    x = keras.layers.Concatenate(name="concat")([up, skip])
    x = keras.layers.Conv2D(7, 3, padding="same", name="fuse")(x)
    x = keras.layers.ReLU(name="fuse_relu")(x)
    outputs = keras.layers.Conv2D(19, 1, name="classifier")(x)
    return keras.Model(inputs, outputs)


def test_split_concatenations_compute_the_same_function():
    from segviewer.core.int8_graph import split_concatenations

    model = _skip_model()
    pixels = np.random.default_rng(0).integers(0, 256, (1, 64, 96, 3), dtype=np.uint8)
    split = split_concatenations(model, [pixels[0]])
    names = [layer.name for layer in split.layers]
    assert "concat" not in names and {"fuse_part0", "fuse_part1", "fuse_sum"} <= set(names)
    np.testing.assert_allclose(np.asarray(split(pixels)), np.asarray(model(pixels)), atol=1e-4)
    assert split_concatenations(model, [pixels[0]], keep={"fuse"}) is model


def test_a_concatenation_with_a_part_that_never_varies_stays():
    """int8 has no range for a part that is always zero (XNNPACK refuses it)."""
    from segviewer.core.int8_graph import split_concatenations

    model = _skip_model(dead_branch=True)
    pixels = np.random.default_rng(0).integers(0, 256, (1, 64, 96, 3), dtype=np.uint8)
    assert split_concatenations(model, [pixels[0]]) is model


def test_simulated_ranges_are_tied_where_litert_ties_them():
    from training.quantisation_aware import rounded_outputs, shared_ranges

    model = _skip_model()
    rounded = rounded_outputs(model, ["normalise", "classifier"])
    # fuse + ReLU are one op in LiteRT: only the ReLU's output is rounded.
    assert "fuse" not in rounded and "fuse_relu" in rounded and "deep" not in rounded
    ranges = {name: (-float(index + 1), float(index + 1)) for index, name in enumerate(rounded)}
    tied = shared_ranges(model, ranges)
    # The concatenation's range reaches back through the resize to the ReLU before it.
    assert tied["skip"] == tied["up"] == tied["deep_relu"] == ranges["concat"]
    assert tied["fuse_relu"] == ranges["fuse_relu"]


def test_the_margin_loss_counts_a_flipped_close_call_above_a_moved_loser():
    import tensorflow as tf

    from training.quantisation_aware import margin_loss

    target = tf.constant([[[[2.0, 1.9, -3.0], [8.0, 0.0, -3.0]]]])
    assert float(margin_loss(target, target)) == pytest.approx(0.0, abs=1e-7)
    flipped = tf.constant([[[[1.9, 2.0, -3.0], [8.0, 0.0, -3.0]]]])      # the close call changes class
    shifted = tf.constant([[[[2.0, 1.9, -3.0], [8.0, 0.0, -3.0 + 2.0]]]])  # a sure pixel's loser moves
    assert float(margin_loss(target, flipped)) > float(margin_loss(target, shifted))


def test_an_output_folder_that_cannot_be_made_is_named_before_any_work(float_model, tmp_path, capsys):
    from training.quantisation_aware import main as qat_main

    images = tricolour_folder(tmp_path / "images", 1)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert qat_main([str(float_model), "--images", str(images), "--out", str(blocker / "student.keras")]) == 2
    assert f"{blocker}: cannot create the output folder" in capsys.readouterr().err
