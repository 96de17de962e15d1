"""The two ways a segviewer model runs: TensorFlow (any ``.keras`` model, GPUs) and LiteRT
(a ``.tflite`` twin of the model: no TensorFlow import, ~0.1 s to load, a fraction of the
memory; the default on CPUs).

Both run the same graph, :func:`build_score_function`: network -> coarse class scores
(the U-Net's half-size logits) and their confidence. The twin is that very function
converted by :func:`convert_to_litert`, so both backends give the same masks (checked by
the tests on the validation images); the scaling to full size and the argmax happen
after either, in :mod:`segviewer.core.score_upsampling`. Nothing downstream knows which
backend ran.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from segviewer.core.classes import NUM_TRAIN_CLASSES
from segviewer.core.tf_logging import native_noise_filtered

LITERT_THREADS = min(4, os.cpu_count() or 1)
BACKEND_HELP = ("auto (default): on a CPU the model's int8 LiteRT twin when it has a current one that "
                "passed its check, else its float twin; TensorFlow with an NVIDIA GPU or without a twin; "
                "litert-int8; litert (the float twin, also litert-fp32); tf")
BACKEND_CHOICES = ("auto", "litert-int8", "litert", "litert-fp32", "tf")
TWIN_SUFFIX = ".tflite"
INT8_TWIN_SUFFIX = ".int8.tflite"
# The int8 twin is used only where it gave the float model's class on at least this share
# of the checked pixels (issue 29: 99 %).
INT8_AGREEMENT_FLOOR = 0.99
# Bumped whenever the twin's signature changes, so an older twin is remade, not misread.
TWIN_FORMAT = 3


class Backend(enum.Enum):
    AUTO = "auto"
    LITERT = "litert"  # the float32 twin
    LITERT_INT8 = "litert-int8"
    TENSORFLOW = "tf"

    @classmethod
    def _missing_(cls, value: object) -> Backend | None:
        return cls.LITERT if value == "litert-fp32" else None


class TwinKind(enum.Enum):
    FP32 = "fp32"
    INT8 = "int8"


class Network(Protocol):
    """A model ready to score pixels already at the working size."""

    description: str  # e.g. "LiteRT on CPU" or "TensorFlow on GPU: NVIDIA H100"

    def scores(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(1, h, w, 3) uint8 -> (float32 class scores (h', w', 19), float32 max softmax
        (h', w')) at the network's output resolution (h' = h / 2 for the shipped U-Net)."""


def twin_path(model_path: Path, kind: TwinKind = TwinKind.FP32) -> Path:
    """``model.keras`` -> ``model.tflite`` (or ``model.int8.tflite``)."""
    return Path(model_path).with_suffix(INT8_TWIN_SUFFIX if kind is TwinKind.INT8 else TWIN_SUFFIX)


def _stamp_path(twin: Path) -> Path:
    """``model.tflite.json``: which ``.keras`` file (by SHA-256) the twin was made from.
    File times cannot say it: a git checkout writes both files in any order."""
    return twin.with_name(twin.name + ".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_twin_stamp(twin: Path) -> dict[str, Any]:
    """The twin's stamp (``{}`` when it has none or it is unreadable)."""
    try:
        stamp = json.loads(_stamp_path(twin).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def int8_check_passed(stamp: dict[str, Any]) -> bool:
    """Whether an int8 twin's stamp records a check against the float model that passed."""
    check = stamp.get("check")
    return isinstance(check, dict) and check.get("passed") is True


def read_usable_twin(model_path: Path, kind: TwinKind = TwinKind.FP32, checked: bool = True) -> bytes | None:
    """The bytes of the model's LiteRT twin, if it was made from this very ``.keras`` file
    and is intact (its SHA-256 matches the stamp's ``twin_sha256``); an int8 twin must
    also have passed its check against the float model (unless ``checked`` is false: an
    explicit ``--backend litert-int8`` runs it anyway). Read into memory once: a twin
    overwritten on disk later cannot touch a loaded model (a memory-mapped one dies with
    SIGBUS), and a damaged one is never run."""
    twin = twin_path(model_path, kind)
    try:
        stamp = read_twin_stamp(twin)
        if not (stamp.get("format") == TWIN_FORMAT and stamp.get("source_sha256") == file_sha256(Path(model_path))
                and _is_regular_file(twin)):
            return None
        if kind is TwinKind.INT8 and checked and not int8_check_passed(stamp):
            return None
        content = twin.read_bytes()
    except (OSError, ValueError, AttributeError):
        return None
    return content if hashlib.sha256(content).hexdigest() == stamp.get("twin_sha256") else None


def usable_twin(model_path: Path, kind: TwinKind = TwinKind.FP32, checked: bool = True) -> Path | None:
    """The model's LiteRT twin, if it was made from this very ``.keras`` file and is intact
    (and, for int8 unless ``checked`` is false, passed its check)."""
    return twin_path(model_path, kind) if read_usable_twin(model_path, kind, checked) is not None else None


def _is_regular_file(path: Path) -> bool:
    import stat

    return stat.S_ISREG(os.stat(path).st_mode)


def nvidia_gpu_present() -> bool:
    """Whether an NVIDIA driver is loaded, without importing TensorFlow."""
    return Path("/proc/driver/nvidia/version").exists() or bool(shutil.which("nvidia-smi"))


def litert_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ai_edge_litert") is not None


def choose_backend(requested: Backend | str, twin: Path | None, int8_twin: Path | None = None) -> Backend:
    """``auto``: TensorFlow when an NVIDIA GPU is present, or the model has no current
    twin (``twin`` and ``int8_twin`` are :func:`usable_twin`'s answers), or LiteRT is not
    installed; else the int8 twin when there is one, else the float twin. An explicit
    choice is kept."""
    requested = Backend(requested)
    if requested is not Backend.AUTO:
        return requested
    if nvidia_gpu_present() or (twin is None and int8_twin is None) or not litert_available():
        return Backend.TENSORFLOW
    return Backend.LITERT_INT8 if int8_twin is not None else Backend.LITERT


# -- the shared graph -------------------------------------------------------------------------

def coarse_logits_model(model: Any) -> Any:
    """The model up to its coarse logits when it ends in a bilinear resize of them to the
    input (a ``ResizeToMatch`` named ``logits``: the Lite0 U-Net's at stride 2, the
    EfficientViT networks' at stride 4 or 8), else the model itself.

    Resizing the coarse logits straight to the output size is one bilinear interpolation
    instead of the model's own followed by a second (cheaper, and no blurrier).
    """
    import keras

    try:
        last = model.get_layer("logits")
    except (ValueError, AttributeError):
        return model
    if type(last).__name__ != "ResizeToMatch":
        return model
    coarse = last.input[0]
    return keras.Model(model.inputs, coarse, name=f"{model.name}_coarse")


def build_score_function(model: Any, flip_average: bool = False, probabilities: bool | None = None):
    """The TensorFlow function pixels (1, h, w, 3) uint8 -> {"logits": (1, h', w', 19),
    "confidence": (1, h', w')} float32 that both backends run.

    ``probabilities``: whether the model's outputs are already probabilities (it ends in
    a softmax); ``None`` decides per image inside the graph. The int8 twin needs it fixed:
    a run-time choice between the top output and a softmax forces one quantisation range
    on both, and squeezes the logits into [0, 1].
    """
    import tensorflow as tf

    network = coarse_logits_model(model)

    def score(pixels):
        outputs = network(pixels, training=False)
        if flip_average:
            mirrored = network(tf.reverse(pixels, [2]), training=False)
            outputs = (outputs + tf.reverse(mirrored, [2])) * 0.5
        # Models may have a 20th "void" output (the article's network); it never wins.
        # No slice otherwise: in an int8 twin it would round the float classifier's logits.
        logits = outputs[..., :NUM_TRAIN_CLASSES] if outputs.shape[-1] != NUM_TRAIN_CLASSES else outputs
        # Max softmax = 1 / sum(exp(logit - max)), at the network's size: scaled up
        # like an image afterwards, exact enough for a read-out and 19x cheaper.
        top = tf.reduce_max(logits, axis=-1, keepdims=True)
        if probabilities is True:
            return {"logits": logits, "confidence": top[..., 0]}
        confidence = 1.0 / tf.reduce_sum(tf.exp(logits - top), axis=-1)
        if probabilities is False:
            return {"logits": logits, "confidence": confidence}
        # A model that ends in a softmax already gives probabilities (all >= 0, each
        # pixel's outputs sum to 1): its confidence is the top one, not a second softmax.
        is_probability = tf.logical_and(
            tf.reduce_all(outputs >= 0.0),
            tf.reduce_all(tf.abs(tf.reduce_sum(outputs, axis=-1) - 1.0) < 1e-3))
        return {"logits": logits, "confidence": tf.where(is_probability, top[..., 0], confidence)}

    return network, score


def outputs_probabilities(model: Any) -> bool:
    """Whether ``model`` gives probabilities (all >= 0, summing to 1 per pixel) on a
    random probe image."""
    probe = np.random.default_rng(0).integers(0, 256, (1, 64, 96, 3), dtype=np.uint8)
    with warnings.catch_warnings():  # Keras notes that one array is not its one-input list
        warnings.filterwarnings("ignore", message=".*structure of `inputs` doesn't match")
        outputs = np.asarray(coarse_logits_model(model)(probe, training=False))
    return bool((outputs >= 0).all() and np.allclose(outputs.sum(axis=-1), 1.0, atol=1e-3))


SCORE_SIGNATURE_NAME = "scores"


def _signature():
    import tensorflow as tf

    return [tf.TensorSpec([1, None, None, 3], tf.uint8, name="pixels")]


# -- TensorFlow ------------------------------------------------------------------------------

class TensorFlowNetwork:
    def __init__(self, model: Any, device: str, flip_average: bool = False) -> None:
        import tensorflow as tf

        self.model = model
        self.description = f"TensorFlow on {device}"
        _, score = build_score_function(model, flip_average)
        self._score = tf.function(score, input_signature=_signature(), reduce_retracing=True)

    def scores(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = self._score(pixels)
        return result["logits"].numpy()[0], result["confidence"].numpy()[0]


# -- LiteRT ----------------------------------------------------------------------------------

class LiteRTNetwork:
    """A ``.tflite`` twin run by the LiteRT interpreter (XNNPACK on the CPU)."""

    def __init__(self, twin: Path, threads: int = LITERT_THREADS, content: bytes | None = None,
                 kind: TwinKind = TwinKind.FP32) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.model = None  # no Keras model in memory: that is the point
        self.path = Path(twin)
        self.description = f"LiteRT{' int8' if kind is TwinKind.INT8 else ''} on CPU ({threads} threads)"
        # The XNNPACK delegate announces itself on the first run: the caller's probe run
        # (inside native_noise_filtered) takes care of that.
        # From memory, never mapped from the file: see read_usable_twin.
        content = Path(twin).read_bytes() if content is None else content
        self._interpreter = Interpreter(model_content=content, num_threads=threads)
        self._runner = self._interpreter.get_signature_runner(SCORE_SIGNATURE_NAME)

    def scores(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        try:
            result = self._runner(pixels=np.ascontiguousarray(pixels, np.uint8))
        except RuntimeError as error:  # a kernel refused its input: this image gets no mask
            from segviewer.core.errors import InferenceError, first_line

            raise InferenceError(self.path, f"LiteRT could not compute this image ({first_line(error, 160)})") from None
        return result["logits"][0], result["confidence"][0]


def litert_flatbuffer(network: Any, function, input_signature: list, name: str,
                      convert: Callable[[Any], bytes] | None = None) -> bytes:
    """``function`` (which calls the Keras model ``network``) converted to LiteRT, through
    a SavedModel: the route that freezes Keras 3 weights into constants (a concrete
    function's route keeps them as variables the interpreter reads uninitialised).
    ``convert`` may set the converter's options (quantisation) before converting."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(network)
    archive.add_endpoint(name=name, fn=function, input_signature=input_signature)
    with tempfile.TemporaryDirectory(prefix="segviewer-export-") as folder:
        saved = Path(folder) / "saved_model"
        with native_noise_filtered():
            archive.write_out(str(saved), verbose=False)
            converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=[name])
            return convert(converter) if convert is not None else converter.convert()


def convert_to_litert(model: Any, destination: Path, source: Path | None = None) -> Path:
    """Write ``model``'s LiteRT twin (float32) to ``destination`` atomically; with
    ``source`` (the ``.keras`` file it was loaded from) also the stamp that lets
    :func:`usable_twin` accept it.

    The converted function is :func:`build_score_function`, through a SavedModel (the
    route that carries Keras 3 weights into the converter).
    """
    network, score = build_score_function(model)
    flatbuffer = litert_flatbuffer(network, score, _signature(), SCORE_SIGNATURE_NAME)
    return _write_twin(flatbuffer, Path(destination), source, {})


def convert_to_litert_int8(model: Any, destination: Path, source: Path | None,
                           calibration: Callable[[], Iterable[np.ndarray]], calibration_note: dict[str, Any],
                           float_layers: Iterable[str] = ()) -> Path:
    """Write ``model``'s full-integer twin: int8 weights (per channel) and activations,
    calibrated on ``calibration()``'s images (``(h, w, 3)`` uint8, already at the working
    size; training images, never validation ones). Its stamp records
    ``calibration_note`` and, until :func:`record_int8_check` adds a passing check, the
    twin is never used.

    The Keras layers named in ``float_layers`` (e.g. :func:`input_stage_layers`) keep
    float32 arithmetic; everything else is int8. The uint8 pixels enter as they are (the
    first layer's quantisation takes them) and the logits leave dequantised to float32,
    so the twin's signature is the float twin's.
    """
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from segviewer.core.int8_graph import split_concatenations

    float_layers = list(float_layers)
    # The same function in float; in int8 each input of a concatenation keeps its own range.
    rewritten = split_concatenations(coarse_logits_model(model), itertools.islice(calibration(), 16),
                                     keep=set(float_layers))
    network, score = build_score_function(rewritten, probabilities=outputs_probabilities(model))

    def representative():
        for pixels in calibration():
            yield {"pixels": np.ascontiguousarray(pixels[None], np.uint8)}

    def convert(converter) -> bytes:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        everything_int8 = converter.convert()
        converted = Interpreter(model_content=everything_int8)
        kept = nodes_of_layers(converted, float_layers)
        if network.layers[-1].name in float_layers:
            # The converter names the last layer's output after the signature's, not the layer.
            kept += nodes_of_output(converted, "logits")
        operators = operators_of(converted)
        divides = operators is None or "DIV" in operators
        if not (kept or divides):
            return everything_int8
        # The converter itself takes no per-node choice; its quantisation debugger does
        # (and calibrates again, on the same images). Divisions stay float: an int8
        # divisor near zero has no value, and LiteRT stops the whole run on it (the
        # EfficientViT attention's normaliser, the confidence's softmax sum).
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=lambda: iter(()),
            debug_options=tf.lite.experimental.QuantizationDebugOptions(
                denylisted_nodes=kept, denylisted_ops=["DIV"] if divides else None))
        return debugger.get_nondebug_quantized_model()

    with warnings.catch_warnings():
        # The calibrator runs TensorFlow's own interpreter, which warns that it is
        # deprecated in favour of LiteRT (which runs the result).
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        flatbuffer = litert_flatbuffer(network, score, _signature(), SCORE_SIGNATURE_NAME, convert)
    return _write_twin(flatbuffer, Path(destination), source,
                       {"kind": TwinKind.INT8.value, "calibration": {**calibration_note, "float_layers": float_layers},
                        "check": None})


def int8_float_layers(model: Any) -> list[str]:
    """The layers an int8 twin of ``model`` keeps in float: its input stage
    (:func:`input_stage_layers`), every layer that says int8 cannot hold it
    (``keeps_float_in_int8``, e.g. EfficientViT's linear attention) and its classifier
    (:func:`classifier_layer`)."""
    stage = input_stage_layers(model)
    asking = [layer.name for layer in coarse_logits_model(model).layers
              if getattr(layer, "keeps_float_in_int8", False) and layer.name not in stage]
    classifier = classifier_layer(model)
    return stage + asking + ([classifier] if classifier and classifier not in stage + asking else [])


def classifier_layer(model: Any) -> str | None:
    """The convolution that computes ``model``'s coarse logits, or None.

    In int8 its output, the logits themselves, would be rounded in steps of a 256th of
    their whole range (0.33 for the Lite0 U-Net's -38..45), and the argmax flips wherever
    the two best classes are closer than that: measured on the Lite0 U-Net's float
    logits, that rounding alone changes 0.9 % of Cityscapes' and BDD100K's validation
    pixels. In float it costs a 1x1 convolution over a few channels.
    """
    import keras

    last = coarse_logits_model(model).layers[-1]
    return last.name if isinstance(last, (keras.layers.Conv2D, keras.layers.Dense)) else None


def input_stage_layers(model: Any) -> list[str]:
    """The layers that run before the network first works at a quarter of the input's
    size (for the Lite0 U-Net: the input normalisation, the stem convolution and the first
    block), in order; none for a network that never does.

    They are the few int8 layers that lose most: a 3x3 convolution of three channels (or
    a depthwise one) sums 9-27 products, so int8 rounding of its weights stays visible
    against its fine ReLU6 output steps (measured with TensorFlow's quantisation debugger
    on the Lite0 U-Net: 1.5-1.8 output steps of error there, 0.2-0.6 in every later layer),
    and every later layer inherits it. At the highest resolution they are also a small
    share of the network's arithmetic.
    """
    import keras

    def image_output(layer: Any) -> Any:
        """The layer's one (batch, h, w, c) output, or None (several outputs, or a layer
        used at several places, whose ``output`` Keras refuses)."""
        try:
            output = layer.output
        except (AttributeError, ValueError):
            return None
        return output if isinstance(output, keras.KerasTensor) and len(output.shape) == 4 else None

    probe_size = 64
    candidates = [(layer, image_output(layer)) for layer in coarse_logits_model(model).layers
                  if not isinstance(layer, keras.layers.InputLayer)]
    candidates = [(layer, output) for layer, output in candidates if output is not None]
    if not candidates:
        return []
    probe = keras.Model(model.inputs, [output for _layer, output in candidates])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*structure of `inputs` doesn't match")
        outputs = probe(np.zeros((1, probe_size, probe_size, 3), np.uint8), training=False)
    stage: list[str] = []
    for (layer, _output), output in zip(candidates, outputs, strict=True):
        if int(output.shape[1]) <= probe_size // 4:
            return stage
        stage.append(layer.name)
    return []  # it never works at a quarter size: no input stage to tell from the rest


def operators_of(interpreter: Any) -> set[str] | None:
    """The names of the operators a converted model (in a LiteRT ``Interpreter``) runs
    (``CONV_2D``, ``DIV``, ...), or None where this LiteRT cannot list them."""
    # LiteRT lists operators only through this underscored method (stable since TF 2.3).
    listing = getattr(interpreter, "_get_ops_details", None)
    return None if listing is None else {op["op_name"] for op in listing()}


def nodes_of_layers(interpreter: Any, layers: Iterable[str]) -> list[str]:
    """The tensors of a converted model (in a LiteRT ``Interpreter``) that the Keras
    ``layers`` compute: the converter names each after the layer's scope
    (``model/stem_conv_1/convolution``), fused ones after several joined by ``;``."""
    import re

    names = [re.escape(name) for name in layers]
    if not names:
        return []
    scope = re.compile(r"/(?:" + "|".join(names) + r")(?:_\d+)?/")
    return [detail["name"] for detail in interpreter.get_tensor_details() if scope.search(detail["name"])]


def nodes_of_output(interpreter: Any, output: str) -> list[str]:
    """The names the converter gives the tensor behind the signature output ``output`` of
    a converted model (in a LiteRT ``Interpreter``): the output's own, which the
    calibrated float model gives the op computing it, and the int8 tensor it is
    dequantised from in the quantised one."""
    details = interpreter.get_signature_runner(SCORE_SIGNATURE_NAME).get_output_details()
    if output not in details:
        return []
    index = details[output]["index"]
    tensors = {detail["index"]: detail["name"] for detail in interpreter.get_tensor_details()}
    listing = getattr(interpreter, "_get_ops_details", None)  # see operators_of
    dequantised = [op["inputs"][0] for op in (listing() if listing else [])
                   if index in op["outputs"] and op["op_name"] == "DEQUANTIZE"]
    return [tensors[index]] + [tensors[source] for source in dequantised]


def record_int8_check(twin: Path, check: dict[str, Any]) -> None:
    """Add the result of the int8 twin's check against the float model to its stamp
    (``check["pixel_agreement"]``, the share of equal pixels on its worst set; it passes
    at :data:`INT8_AGREEMENT_FLOOR`)."""
    stamp = read_twin_stamp(twin)
    agreement = float(check["pixel_agreement"])
    stamp["check"] = {**check, "floor": INT8_AGREEMENT_FLOOR, "passed": agreement >= INT8_AGREEMENT_FLOOR}
    _write_stamp(twin, stamp)


def _write_twin(flatbuffer: bytes, destination: Path, source: Path | None, extra: dict[str, Any]) -> Path:
    _write_atomically(destination, flatbuffer)
    if source is not None:
        _write_stamp(destination, {"format": TWIN_FORMAT, "source": Path(source).name,
                                   "source_sha256": file_sha256(Path(source)),
                                   "twin_sha256": file_sha256(destination), **extra})
    return destination


def _write_stamp(twin: Path, stamp: dict[str, Any]) -> None:
    _write_atomically(_stamp_path(twin), (json.dumps(stamp, indent=2) + "\n").encode("utf-8"))


def _write_atomically(destination: Path, content: bytes) -> None:
    from segviewer.core.atomic import write_atomic

    write_atomic(destination, lambda file: file.write(content), overwrite=True)
