"""ONNX and plain TFLite models from other frameworks: every layout, output kind and label
space on tiny models the tests build, the bad cases in one message each, and the shared
DeepLab TFLite (which describes itself) scored as its README says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segviewer.core.errors import ModelLoadError
from segviewer.core.inference import Segmenter
from tests.conftest import shared_data_or_skip, tricolour_image

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

ROAD, VEGETATION, SKY = 0, 8, 10
# Cityscapes label IDs of the same classes.
ROAD_LABEL, VEGETATION_LABEL, SKY_LABEL = 7, 21, 23


def _colour_weights(channels: int, red: int, green: int, blue: int, bgr: bool = False) -> np.ndarray:
    """A 1x1 convolution (NCHW) that scores channel ``red`` by the red input, and so on."""
    weights = np.zeros((channels, 3, 1, 1), np.float32)
    order = (blue, green, red) if bgr else (red, green, blue)
    for colour, channel in enumerate(order):
        weights[channel, colour] = 4.0
    return weights


def onnx_model(path: Path, *, channels: int = 19, targets=(ROAD, VEGETATION, SKY), output: str = "logits",
               layout: str = "NCHW", metadata: dict | None = None, in_channels: int = 3, bgr: bool = False,
               poison: bool = False) -> Path:
    """A tiny ONNX segmenter: a 1x1 convolution on float pixels in 0-1, then optionally a
    softmax or an argmax; NHWC models transpose around it."""
    weights = helper.make_tensor("w", TensorProto.FLOAT, (channels, in_channels, 1, 1),
                                 _colour_weights(channels, *targets, bgr=bgr)[:, :in_channels].ravel()
                                 if in_channels == 3 else np.zeros(channels * in_channels, np.float32))
    nodes, initialisers = [], [weights]
    source = "pixels"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", ["pixels"], ["nchw"], perm=[0, 3, 1, 2]))
        source = "nchw"
    nodes.append(helper.make_node("Conv", [source, "w"], ["scores"]))
    last = "scores"
    if poison:
        initialisers.append(helper.make_tensor("nan", TensorProto.FLOAT, (), [float("nan")]))
        nodes.append(helper.make_node("Mul", [last, "nan"], ["poisoned"]))
        last = "poisoned"
    if output == "probabilities":
        nodes.append(helper.make_node("Softmax", [last], ["probabilities"], axis=1))
        last = "probabilities"
    if output == "argmax":
        nodes.append(helper.make_node("ArgMax", [last], ["ids"], axis=1, keepdims=0))
        last = "ids"
    elif layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [last], ["nhwc"], perm=[0, 2, 3, 1]))
        last = "nhwc"
    in_shape = [1, in_channels, "h", "w"] if layout == "NCHW" else [1, "h", "w", in_channels]
    out_type = TensorProto.INT64 if output == "argmax" else TensorProto.FLOAT
    out_shape = [1, "h", "w"] if output == "argmax" else (
        [1, channels, "h", "w"] if layout == "NCHW" else [1, "h", "w", channels])
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info(last, out_type, out_shape)], initialisers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata is not None:
        helper.set_model_props(model, {"segviewer": json.dumps(metadata)})
    onnx.save(model, path)
    return path


DESCRIBED = {"input": {"range": 1.0}, "output": {"kind": "logits"}}


def _predicted(model: Path) -> np.ndarray:
    image = tricolour_image(64, 96)
    return Segmenter.load(model).predict(image).train_ids


def _is_tricolour(ids: np.ndarray) -> bool:
    third = ids.shape[0] // 3
    return ((ids[:third] == SKY).mean() > 0.95 and (ids[third:2 * third] == VEGETATION).mean() > 0.95
            and (ids[2 * third + 2:] == ROAD).mean() > 0.95)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("output", ["logits", "probabilities", "argmax"])
def test_onnx_models_in_every_layout_and_output_kind(tmp_path, layout, output):
    metadata = {"input": {"layout": layout, "range": 1.0}, "output": {"kind": output}}
    model = onnx_model(tmp_path / "m.onnx", output=output, layout=layout, metadata=metadata)
    segmenter = Segmenter.load(model)
    assert "ONNX Runtime" in segmenter.backend_description and "ONNX metadata" in segmenter.backend_description
    assert _is_tricolour(segmenter.predict(tricolour_image(64, 96)).train_ids)


def test_a_sidecar_describes_a_bgr_model_with_cityscapes_label_ids(tmp_path):
    model = onnx_model(tmp_path / "labels.onnx", channels=34, targets=(ROAD_LABEL, VEGETATION_LABEL, SKY_LABEL),
                       bgr=True)
    (tmp_path / "labels.onnx.segviewer.json").write_text(json.dumps(
        {**DESCRIBED, "input": {"range": 1.0, "colour_order": "BGR"}, "labels": "cityscapes-label-ids"}))
    assert _is_tricolour(_predicted(model))


def test_a_class_table_of_the_models_own_maps_onto_ours_and_the_rest_is_void(tmp_path):
    # Channel 0 "street" -> road, 1 "greenery" -> vegetation, 2 "heavens" -> sky, 3 "lava": none.
    model = onnx_model(tmp_path / "own.onnx", channels=4, targets=(0, 1, 3))
    classes = [{"name": "street", "maps_to": "road"}, {"name": "greenery", "maps_to": "vegetation"},
               {"name": "heavens", "maps_to": "sky"}, {"name": "lava", "maps_to": None}]
    (tmp_path / "own.onnx.segviewer.json").write_text(json.dumps({**DESCRIBED, "labels": {"classes": classes}}))
    ids = _predicted(model)
    third = ids.shape[0] // 3
    assert (ids[:third] == SKY).mean() < 0.05  # the blue band is "lava": no class of ours wins it outright
    assert (ids[third:2 * third] == VEGETATION).mean() > 0.95 and (ids[2 * third + 2:] == ROAD).mean() > 0.95


@pytest.mark.parametrize("case, said", [
    ("no_description", "describe it in bad.onnx.segviewer.json"),
    ("dynamic_rank", "its input has no fixed rank"),
    ("four_channels", "input has 4 channel(s)"),
    ("nan", "NaN"),
    ("lying", "does not give what its description says"),
    ("wrong_classes", "12 output channels"),
    ("bad_json", "not readable JSON"),
    ("bad_field", "output.kind must be one of"),
    ("unknown_class", "maps_to 'lava' is not one of our classes"),
])
def test_bad_models_and_descriptions_get_one_clear_message(tmp_path, case, said):
    path = tmp_path / "bad.onnx"
    sidecar = tmp_path / "bad.onnx.segviewer.json"
    description: dict | str | None = DESCRIBED
    if case == "no_description":
        onnx_model(path)
        description = None
    elif case == "dynamic_rank":
        graph = helper.make_graph([helper.make_node("Identity", ["pixels"], ["out"])], "any",
                                  [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, None)],
                                  [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.save(model, path)
    elif case == "four_channels":
        onnx_model(path, in_channels=4)
    elif case == "nan":
        onnx_model(path, poison=True)
    elif case == "lying":  # says argmax, gives 19 score planes
        onnx_model(path)
        description = {**DESCRIBED, "output": {"kind": "argmax"}}
    elif case == "wrong_classes":
        onnx_model(path, channels=12, targets=(0, 1, 2))
        description = {**DESCRIBED, "output": {"kind": "logits"}}
    elif case == "bad_json":
        onnx_model(path)
        description = "{not json"
    elif case == "bad_field":
        onnx_model(path)
        description = {**DESCRIBED, "output": {"kind": "heatmap"}}
    else:
        onnx_model(path)
        description = {**DESCRIBED, "labels": {"classes": [{"name": "x", "maps_to": "lava"}]}}
    if description is not None:
        sidecar.write_text(description if isinstance(description, str) else json.dumps(description))
    with pytest.raises(ModelLoadError) as caught:
        Segmenter.load(path)
    message = str(caught.value)
    assert said in message and "\n" not in message and "Traceback" not in message


def test_a_self_describing_tflite_is_tiled_and_voted(tmp_path):
    """A uint8-input, fixed-size argmax TFLite (the DeepLab teacher's kind), built here:
    opened with no description, it is run in overlapping tiles over a bigger frame."""
    pytest.importorskip("ai_edge_litert")
    import keras
    import tensorflow as tf

    inputs = keras.Input((32, 48, 3), batch_size=1, dtype="uint8")
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    logits = keras.layers.Conv2D(19, 1, name="logits")(x)
    ids = keras.layers.Lambda(lambda t: tf.argmax(t, axis=-1))(logits)
    model = keras.Model(inputs, ids)
    kernel = np.zeros((1, 1, 3, 19), np.float32)
    kernel[0, 0, 0, ROAD], kernel[0, 0, 1, VEGETATION], kernel[0, 0, 2, SKY] = 4.0, 4.0, 4.0
    model.get_layer("logits").set_weights([kernel, np.zeros(19, np.float32)])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    path = tmp_path / "fixed.tflite"
    path.write_bytes(converter.convert())
    segmenter = Segmenter.load(path)
    assert "probed description" in segmenter.backend_description
    prediction = segmenter.predict(tricolour_image(75, 120))  # 3 x 4 tiles of 32 x 48
    assert prediction.train_ids.shape == (75, 120) and _is_tricolour(prediction.train_ids)


@pytest.mark.slow
@pytest.mark.needs_data
def test_the_shared_deeplab_tflite_opens_without_a_description_and_scores_as_its_readme_says(tmp_path):
    """README of shared/teachers: 59.4 % on the 8 gtFine frames, tiled at scale 1.0."""
    from segviewer.cli import main as cli_main

    datasets = shared_data_or_skip()
    teacher = datasets.parent / "teachers" / "cityscapes_deeplab_edgetpu_slim_int8.tflite"
    if not teacher.is_file():
        pytest.skip(f"{teacher} not found")
    frames = datasets / "cityscapes_samples" / "leftImg8bit" / "train"  # the 8 gtFine frames
    target = tmp_path / "scores.json"
    assert cli_main(["evaluate", "--model", str(teacher), "--images", str(frames), "--json", str(target)]) == 0
    scores = json.loads(target.read_text())["spaces"]["cityscapes"]["scores"]
    assert abs(scores["miou"] * 100 - 59.4) <= 1.0


def test_a_probed_model_whose_outputs_sum_to_one_is_read_as_probabilities(tmp_path):
    pytest.importorskip("ai_edge_litert")
    import keras
    import tensorflow as tf

    inputs = keras.Input((None, None, 3), batch_size=1, dtype="uint8")
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    x = keras.layers.Conv2D(19, 1, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Softmax()(x))
    kernel = np.zeros((1, 1, 3, 19), np.float32)
    kernel[0, 0, 0, ROAD], kernel[0, 0, 1, VEGETATION], kernel[0, 0, 2, SKY] = 4.0, 4.0, 4.0
    model.get_layer("logits").set_weights([kernel, np.zeros(19, np.float32)])
    path = tmp_path / "softmax.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    segmenter = Segmenter.load(path)
    assert segmenter.network.spec.output_kind == "probabilities"
    prediction = segmenter.predict(tricolour_image(64, 96))
    assert _is_tricolour(prediction.train_ids) and prediction.confidence.max() <= 255


@pytest.mark.usefixtures("private_settings")
def test_an_onnx_model_is_compared_as_model_b_in_the_real_window(qtbot, make_window, tmp_path):
    """Compare With Model B takes a foreign model like our own: the Dataset panel scores
    both on a folder."""
    from tests.gui_helpers import WAIT_MS
    from tests.test_reliability_four import _evaluated_panel, _mixed_datasets

    _mixed_datasets(tmp_path / "data")
    model = onnx_model(tmp_path / "b.onnx", metadata={"input": {"range": 1.0}, "output": {"kind": "logits"}})
    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    window.evaluation.set_model_b(model)
    panel = _evaluated_panel(qtbot, window, tmp_path / "data" / "kitti")
    assert panel.comparing and "B = <b>b.onnx</b>" in panel.summary.text()


def test_one_of_our_own_twins_opened_directly_points_to_its_keras_model(twinned_model):
    with pytest.raises(ModelLoadError, match="LiteRT twin of tiny.keras: open that instead"):
        Segmenter.load(twinned_model.with_suffix(".tflite"))
