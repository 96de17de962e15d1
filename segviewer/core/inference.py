"""Run a segmentation model on one image the same way everywhere (viewer, CLI,
evaluation, benchmark).

TensorFlow is imported only when a model is loaded, never at module import, so the GUI
and the CLIs start fast. The image is scaled to a *working size* (about
:data:`DEFAULT_PIXEL_BUDGET` pixels, near the scale the model was trained at, sides
multiples of the network stride), segmented, and the class *scores* are scaled back up
bilinearly before the argmax (smooth boundaries; class IDs themselves are never
interpolated). Scores are upsampled to at most :data:`MAX_SCORE_UPSAMPLE` x the working
size per side; a larger photo gets the rest of the way by nearest neighbour, which keeps
a 12 MP photo from holding 19 full-size float planes.
"""

from __future__ import annotations

import functools
import json
import math
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segviewer.core.backends import (
    INT8_TWIN_SUFFIX,
    LITERT_THREADS,
    Backend,
    LiteRTNetwork,
    Network,
    TensorFlowNetwork,
    TwinKind,
    choose_backend,
    read_usable_twin,
    twin_path,
)
from segviewer.core.classes import NUM_TRAIN_CLASSES
from segviewer.core.errors import ModelLoadError, first_line, refuse_special_file
from segviewer.core.foreign_models import FOREIGN_SUFFIXES
from segviewer.core.resources import model_card_path
from segviewer.core.score_upsampling import confidence_bytes, upsampled_argmax
from segviewer.core.tf_logging import native_noise_filtered

# 192 x 640 pixels: a KITTI frame (375 x 1242) runs at about half its size, a CamVid frame
# (360 x 480) at 0.8; the shipped model was trained around these scales.
DEFAULT_PIXEL_BUDGET = 192 * 640
STRIDE = 32
MAX_SCORE_UPSAMPLE = 2


def working_size(height: int, width: int, pixel_budget: int = DEFAULT_PIXEL_BUDGET,
                 max_upscale: float = 1.0) -> tuple[int, int]:
    """Size the network sees: about ``pixel_budget`` pixels, each side rounded to a
    multiple of :data:`STRIDE`. An image grows by at most ``max_upscale`` (1: never, but
    for the rounding); a model trained to see small frames enlarged (CamVid's 480x360 as
    Cityscapes-sized objects) says so in its card.

    Rounding instead of padding wastes no computation on padding (193 rows would pad to
    224, 16 % more work); the aspect ratio moves by under half a stride per side, e.g.
    KITTI 375 x 1242 -> 192 x 640, CamVid 360 x 480 -> 288 x 416, Cityscapes 1024 x 2048 (and half
    that) -> 256 x 480.
    """
    scale = min(max_upscale, math.sqrt(pixel_budget / max(height * width, 1)))
    return (max(STRIDE, round(height * scale / STRIDE) * STRIDE),
            max(STRIDE, round(width * scale / STRIDE) * STRIDE))


def padded_size(height: int, width: int, stride: int = STRIDE) -> tuple[int, int]:
    return -(-height // stride) * stride, -(-width // stride) * stride


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one image, at that image's full size."""

    train_ids: np.ndarray   # uint8 (H, W), 0..18
    seconds: float          # wall time of preprocess + model + postprocess
    working_size: tuple[int, int]
    full_size_confidence: Callable[[], np.ndarray] = field(repr=False, compare=False)

    @functools.cached_property
    def confidence(self) -> np.ndarray:
        """uint8 (H, W), the softmax probability of the chosen class x 255. Scaled to full
        size on first use only: ``predict`` writing label IDs never needs it."""
        return self.full_size_confidence()


def score_size(image_size: tuple[int, int], work_size: tuple[int, int]) -> tuple[int, int]:
    """Where the argmax is taken: the image's size, capped at
    :data:`MAX_SCORE_UPSAMPLE` x the working size per side."""
    return (min(image_size[0], work_size[0] * MAX_SCORE_UPSAMPLE),
            min(image_size[1], work_size[1] * MAX_SCORE_UPSAMPLE))


def device_description() -> str:
    """"GPU: <name>" when TensorFlow sees a GPU, else "CPU"; imports TensorFlow."""
    with native_noise_filtered():
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return "CPU"


def _check_model_file(path: Path) -> None:
    if not path.exists():
        raise ModelLoadError(path, "model file not found")
    if path.is_dir():
        raise ModelLoadError(path, "is a folder, not a .keras model file")
    refuse_special_file(path, ModelLoadError)
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as error:
        raise ModelLoadError(path, f"cannot read the model file ({error.strerror or error})") from None
    if size == 0:
        raise ModelLoadError(path, "model file is empty (0 bytes)")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ModelLoadError(path, "not a Keras model (a .keras file is a zip archive; this is not)")


def read_model_card(model_path: Path) -> dict[str, Any]:
    """The JSON card beside the model, or ``{}`` when there is none or it is unreadable."""
    try:
        return json.loads(model_card_path(Path(model_path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class Segmenter:
    """A loaded model plus the pre- and post-processing the whole project shares; the
    network runs on either backend (:mod:`segviewer.core.backends`)."""

    def __init__(self, network: Network, name: str = "model", pixel_budget: int | None = None,
                 card: dict[str, Any] | None = None, tta: bool = False) -> None:
        self.network = network
        self.model = getattr(network, "model", None)  # the Keras model (TensorFlow backend only)
        self.name = name
        self.card = card or {}
        card_budget, self.max_upscale = card_working_scale(self.card)
        # An explicit budget (--pixel-budget) wins; else the scale the model was trained at.
        self.pixel_budget = int(pixel_budget or card_budget)
        self.tta = bool(tta)
        # A model built for one input size (Keras refuses any other; Reshape layers
        # depend on it) sees every image resized to that size, whatever the pixel budget.
        self.fixed_size = fixed_input_size(self.model) if self.model is not None else None
        # A foreign model may size its input relative to the frame (``working_scale.scale``),
        # in multiples of its own (1 for one that is tiled).
        self.frame_scale: float | None = None
        self.size_multiple = STRIDE

    @property
    def backend_description(self) -> str:
        """Which backend and device run the network, e.g. "LiteRT on CPU (2 threads)"."""
        return self.network.description

    @classmethod
    def load(cls, path: str | Path, pixel_budget: int | None = None, tta: bool = False,
             backend: Backend | str = Backend.AUTO) -> Segmenter:
        """Load a ``.keras`` model (or its LiteRT twin, see :func:`choose_backend`); every
        failure is a :class:`ModelLoadError` naming the file. ``tta`` (flip averaging)
        runs on TensorFlow."""
        path = Path(path)
        _check_model_file(path)
        if path.suffix.lower() in FOREIGN_SUFFIXES and not tta:
            return cls._load_foreign(path, pixel_budget)
        card = read_model_card(path)
        name = card.get("name", path.stem)
        requested = Backend(backend)
        int8_content = content = None
        if not tta and requested in (Backend.AUTO, Backend.LITERT_INT8):
            int8_content = read_usable_twin(path, TwinKind.INT8, checked=requested is Backend.AUTO)
        if not tta and int8_content is None and requested in (Backend.AUTO, Backend.LITERT):
            content = read_usable_twin(path)
        twin = twin_path(path) if content is not None else None
        int8_twin = twin_path(path, TwinKind.INT8) if int8_content is not None else None
        chosen = Backend.TENSORFLOW if tta else choose_backend(requested, twin, int8_twin)
        if chosen is Backend.LITERT_INT8:
            return cls(_load_twin(path, int8_twin, int8_content, TwinKind.INT8), name=name,
                       pixel_budget=pixel_budget, card=card)
        if chosen is Backend.LITERT:
            return cls(_load_twin(path, twin, content), name=name, pixel_budget=pixel_budget, card=card)
        try:
            with native_noise_filtered():
                import keras

                import segviewer.models.layers  # noqa: F401  (registers the custom layers)

                model = keras.saving.load_model(path, compile=False)
        except Exception as error:  # Keras raises many types for a bad archive
            raise ModelLoadError(path, f"not a loadable Keras model ({first_line(error, 200)})") from None
        with native_noise_filtered():  # the first run initialises TensorFlow's devices
            _check_compatible(path, model)
            network = TensorFlowNetwork(model, device_description(), flip_average=tta)
        return cls(network, name=name, pixel_budget=pixel_budget, card=card, tta=tta)

    @classmethod
    def _load_foreign(cls, path: Path, pixel_budget: int | None) -> Segmenter:
        """An ``.onnx`` or plain ``.tflite`` model (:mod:`segviewer.core.foreign_models`)."""
        from segviewer.core.foreign_models import check_runs, load_foreign

        network, card = load_foreign(path, LITERT_THREADS)
        check_runs(path, network)
        segmenter = cls(network, name=card["name"], pixel_budget=pixel_budget, card=card)
        spec = network.spec
        segmenter.size_multiple = 1 if spec.fixed_size else spec.multiple_of
        if pixel_budget is None and spec.frame_scale is not None:
            segmenter.frame_scale = spec.frame_scale
        return segmenter

    def warm_up(self) -> None:
        """Trace the graph once so the first real image is not slowed by it."""
        self.predict(np.zeros((64, 64, 3), np.uint8))

    def network_input(self, image: np.ndarray) -> np.ndarray:
        """An (H, W, 3) uint8 image at the model's working size, as the network sees it."""
        height, width = image.shape[:2]
        if self.frame_scale is not None and self.fixed_size is None:
            multiple = self.size_multiple
            work_h = max(multiple, round(height * self.frame_scale / multiple) * multiple)
            work_w = max(multiple, round(width * self.frame_scale / multiple) * multiple)
        else:
            work_h, work_w = self.fixed_size or working_size(height, width, self.pixel_budget, self.max_upscale)
        if (work_h, work_w) == (height, width):
            return image
        # Pillow's resize is antialiased; reducing_gap does most of a big shrink by
        # cheap box reduction first (a 12 MP photo in ~30 ms instead of ~150 ms).
        return np.asarray(Image.fromarray(image).resize((work_w, work_h), Image.BILINEAR, reducing_gap=3.0))

    def predict(self, image: np.ndarray) -> Prediction:
        start = time.perf_counter()
        return self.finish(self.score(self.network_input(image), image.shape[:2]), start)

    # The three stages of :meth:`predict`, for callers that run them on different threads
    # (``predict``'s pipeline): resizing, the network, and the full-size class IDs.
    def score(self, pixels: np.ndarray, image_size: tuple[int, int]) -> Scored:
        """The network on ``pixels`` (the working-size input of an image of ``image_size``)."""
        logits, confidence = self.network.scores(pixels[None])
        return Scored(logits, confidence, tuple(image_size), tuple(pixels.shape[:2]))

    @staticmethod
    def finish(scored: Scored, started: float | None = None) -> Prediction:
        """Class IDs and confidence at the image's full size (see :mod:`score_upsampling`)."""
        height, width = scored.image_size
        if scored.logits.ndim == 2:  # an argmax model: class IDs at the working size
            ids = scored.logits
            coarse = np.clip(np.rint(scored.confidence * 255), 0, 255).astype(np.uint8)
            if ids.shape != (height, width):
                ids, coarse = _resize_nearest(ids, width, height), _resize_nearest(coarse, width, height)

            def full_size_confidence() -> np.ndarray:
                return coarse
        else:
            scored_h, scored_w = score_size(scored.image_size, scored.working_size)
            ids = upsampled_argmax(scored.logits, (scored_h, scored_w))
            if (scored_h, scored_w) != (height, width):
                ids = _resize_nearest(ids, width, height)
            coarse = scored.confidence  # only this: a closure over ``scored`` would keep the logits
            # (2.3 MB per KITTI frame) alive in every cached result

            def full_size_confidence() -> np.ndarray:
                confidence = confidence_bytes(coarse, (scored_h, scored_w))
                if (scored_h, scored_w) != (height, width):
                    confidence = _resize_nearest(confidence, width, height)
                return confidence

        seconds = time.perf_counter() - started if started is not None else 0.0
        return Prediction(ids, seconds, scored.working_size, full_size_confidence)


@dataclass(frozen=True)
class Scored:
    """The network's coarse answer for one image, before scaling to its full size."""

    logits: np.ndarray       # float32 (h', w', 19); an argmax model's uint8 class IDs (h, w)
    confidence: np.ndarray   # float32 (h', w'), max softmax
    image_size: tuple[int, int]
    working_size: tuple[int, int]


def card_working_scale(card: dict[str, Any]) -> tuple[int, float]:
    """(pixel budget, largest enlargement) a model card asks for (``"working_scale"``);
    the defaults of the first models (640x192, never enlarge) where it says nothing
    usable."""
    scale = card.get("working_scale")
    if isinstance(scale, dict):
        budget, upscale = scale.get("pixel_budget"), scale.get("max_upscale", 1.0)
        if (isinstance(budget, int) and not isinstance(budget, bool) and STRIDE * STRIDE <= budget <= 10 ** 8
                and isinstance(upscale, (int, float)) and not isinstance(upscale, bool) and 1.0 <= upscale <= 4.0):
            return budget, float(upscale)
    return DEFAULT_PIXEL_BUDGET, 1.0


def _load_twin(path: Path, twin: Path | None, content: bytes | None, kind: TwinKind = TwinKind.FP32) -> Network:
    if (twin is None or content is None) and kind is TwinKind.INT8:
        raise ModelLoadError(path, f"no current, intact int8 twin ({INT8_TWIN_SUFFIX}) beside it; "
                                   "make one with `segviewer convert --int8 --calibrate DATA`, "
                                   "or use --backend litert (the float twin)")
    if twin is None or content is None:
        raise ModelLoadError(path, "no current, intact LiteRT twin (.tflite) beside it; make one with "
                                   "`segviewer convert` or use --backend tf")
    try:
        with native_noise_filtered():  # the first run starts XNNPACK, which says so
            network = LiteRTNetwork(twin, content=content, kind=kind)
            logits, confidence = network.scores(np.zeros((1, *PROBE_SIZE, 3), np.uint8))
    except ImportError:
        raise ModelLoadError(twin, "LiteRT is not installed (pip install ai-edge-litert), "
                                   "or use --backend tf") from None
    except Exception as error:  # a damaged or foreign .tflite
        raise ModelLoadError(twin, f"not a usable LiteRT twin ({first_line(error, 200)})") from None
    if logits.ndim != 3 or logits.shape[-1] != NUM_TRAIN_CLASSES or confidence.shape != logits.shape[:2]:
        raise ModelLoadError(twin, f"incompatible LiteRT twin: outputs {logits.shape} and {confidence.shape} "
                                   f"for a {PROBE_SIZE[1]}x{PROBE_SIZE[0]} input")
    return network


def _resize_nearest(values: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(values, "L").resize((width, height), Image.NEAREST))


PROBE_SIZE = (64, 96)  # a multiple of the stride, not square: catches transposed outputs too


def fixed_input_size(model: Any) -> tuple[int, int] | None:
    """(H, W) of a model declared for one input size, else None (fully convolutional)."""
    try:
        shape = tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError):
        return None
    return (int(shape[1]), int(shape[2])) if len(shape) == 4 and all(isinstance(d, int) for d in shape[1:3]) else None


def _check_compatible(path: Path, model: Any) -> None:
    """Refuse a model the viewer cannot use, before it writes a single wrong mask: one
    image input, one output, and per-pixel class scores at the input's own size (checked
    by running a probe image, since the declared shapes of a fully convolutional model are
    ``None``)."""
    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
        in_shape = tuple(inputs[0].shape)
        out_shape = tuple(outputs[0].shape)
    except (AttributeError, IndexError, TypeError):
        raise ModelLoadError(path, "not a single-input, single-output image model") from None
    if len(outputs) != 1:
        raise ModelLoadError(path, f"incompatible model: has {len(outputs)} outputs; segviewer needs one "
                                   "output of per-pixel class scores")
    if len(inputs) != 1 or len(in_shape) != 4 or in_shape[-1] != 3:
        raise ModelLoadError(path, f"incompatible model: expects input (H, W, 3), has {in_shape[1:]}")
    if len(out_shape) != 4 or out_shape[-1] not in (NUM_TRAIN_CLASSES, NUM_TRAIN_CLASSES + 1):
        raise ModelLoadError(path, f"incompatible model: needs {NUM_TRAIN_CLASSES} class outputs "
                                   f"per pixel, has output shape {out_shape[1:]}")
    if all(isinstance(d, int) for d in in_shape[1:3]):
        probe_size = tuple(in_shape[1:3])  # a fixed-size model is probed at its own size
    else:
        probe_size = PROBE_SIZE
    try:
        probe = model(np.zeros((1, *probe_size, 3), np.uint8), training=False)
        probe_shape = tuple(int(d) for d in probe.shape)
    except Exception as error:  # any failure of a foreign model's forward pass
        raise ModelLoadError(path, f"incompatible model: fails on a {probe_size[1]}x{probe_size[0]} "
                                   f"test image ({first_line(error, 160)})") from None
    if probe_shape[1:3] != probe_size:
        raise ModelLoadError(path, f"incompatible model: its output ({probe_shape[2]}x{probe_shape[1]}) is not "
                                   f"the size of its input ({probe_size[1]}x{probe_size[0]}); segviewer needs "
                                   "one class score per input pixel")
