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
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from segviewer.core.classes import NUM_TRAIN_CLASSES
from segviewer.core.tf_logging import native_noise_filtered

LITERT_THREADS = min(4, os.cpu_count() or 1)
BACKEND_HELP = ("auto (default): LiteRT on a CPU when the model has a current .tflite twin, "
                "TensorFlow with an NVIDIA GPU or without a twin; litert; tf")
TWIN_SUFFIX = ".tflite"
# Bumped whenever the twin's signature changes, so an older twin is remade, not misread.
TWIN_FORMAT = 3


class Backend(enum.Enum):
    AUTO = "auto"
    LITERT = "litert"
    TENSORFLOW = "tf"


class Network(Protocol):
    """A model ready to score pixels already at the working size."""

    description: str  # e.g. "LiteRT on CPU" or "TensorFlow on GPU: NVIDIA H100"

    def scores(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(1, h, w, 3) uint8 -> (float32 class scores (h', w', 19), float32 max softmax
        (h', w')) at the network's output resolution (h' = h / 2 for the shipped U-Net)."""


def twin_path(model_path: Path) -> Path:
    """``model.keras`` -> ``model.tflite``."""
    return Path(model_path).with_suffix(TWIN_SUFFIX)


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


def read_usable_twin(model_path: Path) -> bytes | None:
    """The bytes of the model's LiteRT twin, if it was made from this very ``.keras`` file
    and is intact (its SHA-256 matches the stamp's ``twin_sha256``). Read into memory
    once: a twin overwritten on disk later cannot touch a loaded model (a memory-mapped
    one dies with SIGBUS), and a damaged one is never run."""
    twin = twin_path(model_path)
    try:
        stamp = json.loads(_stamp_path(twin).read_text(encoding="utf-8"))
        if not (stamp.get("format") == TWIN_FORMAT and stamp.get("source_sha256") == file_sha256(Path(model_path))
                and _is_regular_file(twin)):
            return None
        content = twin.read_bytes()
    except (OSError, ValueError, AttributeError):
        return None
    return content if hashlib.sha256(content).hexdigest() == stamp.get("twin_sha256") else None


def usable_twin(model_path: Path) -> Path | None:
    """The model's LiteRT twin, if it was made from this very ``.keras`` file and is intact."""
    return twin_path(model_path) if read_usable_twin(model_path) is not None else None


def _is_regular_file(path: Path) -> bool:
    import stat

    return stat.S_ISREG(os.stat(path).st_mode)


def nvidia_gpu_present() -> bool:
    """Whether an NVIDIA driver is loaded, without importing TensorFlow."""
    return Path("/proc/driver/nvidia/version").exists() or bool(shutil.which("nvidia-smi"))


def litert_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ai_edge_litert") is not None


def choose_backend(requested: Backend | str, twin: Path | None) -> Backend:
    """``auto``: TensorFlow when an NVIDIA GPU is present or the model has no current
    twin (``twin`` is :func:`usable_twin`'s answer) or LiteRT is not installed; LiteRT
    otherwise. An explicit choice is kept."""
    requested = Backend(requested)
    if requested is not Backend.AUTO:
        return requested
    if nvidia_gpu_present() or twin is None or not litert_available():
        return Backend.TENSORFLOW
    return Backend.LITERT


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


def build_score_function(model: Any, flip_average: bool = False):
    """The TensorFlow function pixels (1, h, w, 3) uint8 -> {"logits": (1, h', w', 19),
    "confidence": (1, h', w')} float32 that both backends run."""
    import tensorflow as tf

    network = coarse_logits_model(model)

    def score(pixels):
        outputs = network(pixels, training=False)
        if flip_average:
            mirrored = network(tf.reverse(pixels, [2]), training=False)
            outputs = (outputs + tf.reverse(mirrored, [2])) * 0.5
        # Models may have a 20th "void" output (the article's network); it never wins.
        logits = outputs[..., :NUM_TRAIN_CLASSES]
        # Max softmax = 1 / sum(exp(logit - max)), at the network's size: scaled up
        # like an image afterwards, exact enough for a read-out and 19x cheaper.
        top = tf.reduce_max(logits, axis=-1, keepdims=True)
        confidence = 1.0 / tf.reduce_sum(tf.exp(logits - top), axis=-1)
        # A model that ends in a softmax already gives probabilities (all >= 0, each
        # pixel's outputs sum to 1): its confidence is the top one, not a second softmax.
        probabilities = tf.logical_and(
            tf.reduce_all(outputs >= 0.0),
            tf.reduce_all(tf.abs(tf.reduce_sum(outputs, axis=-1) - 1.0) < 1e-3))
        confidence = tf.where(probabilities, top[..., 0], confidence)
        return {"logits": logits, "confidence": confidence}

    return network, score


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

    def __init__(self, twin: Path, threads: int = LITERT_THREADS, content: bytes | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.model = None  # no Keras model in memory: that is the point
        self.path = Path(twin)
        self.description = f"LiteRT on CPU ({threads} threads)"
        # The XNNPACK delegate announces itself on the first run: the caller's probe run
        # (inside native_noise_filtered) takes care of that.
        # From memory, never mapped from the file: see read_usable_twin.
        content = Path(twin).read_bytes() if content is None else content
        self._interpreter = Interpreter(model_content=content, num_threads=threads)
        self._runner = self._interpreter.get_signature_runner(SCORE_SIGNATURE_NAME)

    def scores(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = self._runner(pixels=np.ascontiguousarray(pixels, np.uint8))
        return result["logits"][0], result["confidence"][0]


def litert_flatbuffer(network: Any, function, input_signature: list, name: str) -> bytes:
    """``function`` (which calls the Keras model ``network``) converted to LiteRT, through
    a SavedModel: the route that freezes Keras 3 weights into constants (a concrete
    function's route keeps them as variables the interpreter reads uninitialised)."""
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
            return converter.convert()


def convert_to_litert(model: Any, destination: Path, source: Path | None = None) -> Path:
    """Write ``model``'s LiteRT twin (float32) to ``destination`` atomically; with
    ``source`` (the ``.keras`` file it was loaded from) also the stamp that lets
    :func:`usable_twin` accept it.

    The converted function is :func:`build_score_function`, through a SavedModel (the
    route that carries Keras 3 weights into the converter).
    """
    network, score = build_score_function(model)
    destination = Path(destination)
    flatbuffer = litert_flatbuffer(network, score, _signature(), SCORE_SIGNATURE_NAME)
    temp = destination.with_name(f".{destination.name}.partial")
    temp.write_bytes(flatbuffer)
    os.replace(temp, destination)
    if source is not None:
        stamp = {"format": TWIN_FORMAT, "source": Path(source).name, "source_sha256": file_sha256(Path(source)),
                 "twin_sha256": file_sha256(destination)}
        _stamp_path(destination).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return destination
