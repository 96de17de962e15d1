"""Segmentation networks from other frameworks: ``.onnx`` (ONNX Runtime) and plain
``.tflite`` (LiteRT) files, described by a small JSON sidecar or by themselves.

A description (``<model file>.segviewer.json``; for ONNX also the model's own metadata
entry ``segviewer`` holding the same JSON) says how to feed the network and read it::

    {"input": {"layout": "NCHW", "colour_order": "RGB", "range": 1.0,
               "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
     "size": {"multiple_of": 32},            # or {"fixed": [513, 513]}: tiled, 50 % overlap
     "output": {"kind": "logits", "stride": 8},   # or "probabilities", "argmax"
     "labels": "cityscapes-train-ids",       # or "cityscapes-label-ids", or {"classes": [...]}
     "working_scale": {"scale": 2.0}}        # or {"pixel_budget": 1000000}

``range`` is what a pixel of 255 becomes before ``mean`` and ``std`` apply (1.0: values
0-1; 255: raw). A model without a description is probed: a uint8 input that carries its
own quantisation takes raw pixels, an integer output of shape (1, H, W) is an argmax of
the 19 Cityscapes train IDs, and 19 float channels are logits (or probabilities, when they
sum to 1). What the probe cannot settle (a float input's normalisation) is refused with the
exact file to write. Nothing here is imported until such a model is opened: the runtimes
load with it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segviewer.core.classes import NUM_TRAIN_CLASSES, VOID_TRAIN_ID, load_class_table
from segviewer.core.errors import ModelLoadError, first_line

FOREIGN_SUFFIXES = (".onnx", ".tflite")
DESCRIPTION_SUFFIX = ".segviewer.json"
LABEL_SPACES = ("cityscapes-train-ids", "cityscapes-label-ids")
OUTPUT_KINDS = ("logits", "probabilities", "argmax")
# Fixed-size networks see the frame in tiles that overlap by half a tile; each pixel's
# class is the vote (or the mean probability) of the tiles that cover it.
TILE_OVERLAP = 0.5


def description_path(model: Path) -> Path:
    return model.with_name(model.name + DESCRIPTION_SUFFIX)


@dataclass(frozen=True)
class ModelDescription:
    layout: str = "NHWC"
    colour_order: str = "RGB"
    value_range: float = 255.0   # what a pixel of 255 becomes before mean/std
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    raw_uint8: bool = False      # the input is uint8 (quantised): pixels go in as they are
    fixed_size: tuple[int, int] | None = None
    multiple_of: int = 32
    output_kind: str = "logits"
    stride: int = 1
    # Output channel c -> our train ID (VOID_TRAIN_ID: a class of the model's own with no
    # counterpart here, shown as void).
    to_train_id: tuple[int, ...] = tuple(range(NUM_TRAIN_CLASSES))
    frame_scale: float | None = 1.0  # working size = the frame's size x this ...
    pixel_budget: int | None = None  # ... or about this many pixels
    source: str = "probed"           # "probed", the sidecar's name, or "ONNX metadata"
    notes: tuple[str, ...] = field(default=())


def parse_description(document: Any, where: Path, base: ModelDescription) -> ModelDescription:
    """Validate a description document; every problem is one ModelLoadError naming
    ``where`` and the field."""
    if not isinstance(document, dict):
        raise ModelLoadError(where, "a model description is a JSON object")
    known = {"input", "size", "output", "labels", "working_scale"}
    unknown = sorted(set(document) - known)
    if unknown:
        raise ModelLoadError(where, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    spec = document.get("input", {})
    if not isinstance(spec, dict):
        raise ModelLoadError(where, '"input" must be an object')
    if "layout" in spec:
        if spec["layout"] not in ("NHWC", "NCHW"):
            raise ModelLoadError(where, 'input.layout must be "NHWC" or "NCHW"')
        values["layout"] = spec["layout"]
    if "colour_order" in spec:
        if spec["colour_order"] not in ("RGB", "BGR"):
            raise ModelLoadError(where, 'input.colour_order must be "RGB" or "BGR"')
        values["colour_order"] = spec["colour_order"]
    if "range" in spec:
        values["value_range"] = _positive(spec["range"], where, "input.range")
    for key in ("mean", "std"):
        if key in spec:
            triple = spec[key]
            if (not isinstance(triple, list) or len(triple) != 3
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                               for v in triple)):
                raise ModelLoadError(where, f"input.{key} must be three numbers (one per colour channel)")
            if key == "std" and any(v <= 0 for v in triple):
                raise ModelLoadError(where, "input.std must be positive")
            values[key] = tuple(float(v) for v in triple)
    size = document.get("size", {})
    if not isinstance(size, dict) or len(size) > 1:
        raise ModelLoadError(where, 'size must be {"fixed": [height, width]} or {"multiple_of": N}')
    if "fixed" in size:
        fixed = size["fixed"]
        if not (isinstance(fixed, list) and len(fixed) == 2 and all(_is_count(v) for v in fixed)):
            raise ModelLoadError(where, "size.fixed must be [height, width] in pixels")
        values["fixed_size"] = (int(fixed[0]), int(fixed[1]))
    elif "multiple_of" in size:
        if not _is_count(size["multiple_of"]):
            raise ModelLoadError(where, "size.multiple_of must be a positive whole number")
        values["multiple_of"], values["fixed_size"] = int(size["multiple_of"]), None
    elif size:
        raise ModelLoadError(where, 'size must be {"fixed": [height, width]} or {"multiple_of": N}')
    output = document.get("output", {})
    if not isinstance(output, dict):
        raise ModelLoadError(where, '"output" must be an object')
    if "kind" in output:
        if output["kind"] not in OUTPUT_KINDS:
            raise ModelLoadError(where, f"output.kind must be one of {', '.join(OUTPUT_KINDS)}")
        values["output_kind"] = output["kind"]
    if "stride" in output:
        if not _is_count(output["stride"]):
            raise ModelLoadError(where, "output.stride must be a positive whole number")
        values["stride"] = int(output["stride"])
    if "labels" in document:
        values.update(_label_space(document["labels"], where))
    if "working_scale" in document:
        scale = document["working_scale"]
        if isinstance(scale, dict) and set(scale) == {"scale"}:
            values["frame_scale"] = _positive(scale["scale"], where, "working_scale.scale")
            values["pixel_budget"] = None
            if not 0.05 <= values["frame_scale"] <= 8:
                raise ModelLoadError(where, "working_scale.scale must be between 0.05 and 8")
        elif isinstance(scale, dict) and set(scale) == {"pixel_budget"} and _is_count(scale["pixel_budget"]):
            values["pixel_budget"], values["frame_scale"] = int(scale["pixel_budget"]), None
        else:
            raise ModelLoadError(where, 'working_scale must be {"scale": s} or {"pixel_budget": N}')
    return ModelDescription(**{**base.__dict__, **values, "source": where.name})


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 100_000


def _positive(value: Any, where: Path, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ModelLoadError(where, f"{name} must be a positive number")
    return float(value)


def _label_space(labels: Any, where: Path) -> dict[str, Any]:
    table = load_class_table()
    if labels == "cityscapes-train-ids":
        return {"to_train_id": tuple(range(NUM_TRAIN_CLASSES))}
    if labels == "cityscapes-label-ids":
        # Output channel c is Cityscapes label ID c (0-33).
        return {"to_train_id": tuple(int(table.label_to_train[c]) for c in range(34))}
    if isinstance(labels, dict) and isinstance(labels.get("classes"), list) and labels["classes"]:
        names_here = {entry.name: entry.train_id for entry in table.train_classes}
        mapping = []
        for index, entry in enumerate(labels["classes"]):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ModelLoadError(where, f"labels.classes[{index}] needs a \"name\"")
            target = entry.get("maps_to")
            if target is not None and target not in names_here:
                raise ModelLoadError(where, f"labels.classes[{index}].maps_to {target!r} is not one of our classes "
                                   f"({', '.join(names_here)}); use null for a class of the model's own")
            mapping.append(names_here[target] if target is not None else VOID_TRAIN_ID)
        return {"to_train_id": tuple(mapping)}
    raise ModelLoadError(where, f'labels must be one of {", ".join(LABEL_SPACES)} '
                                'or {"classes": [{"name", "maps_to"}]}')


# -- the runtimes ---------------------------------------------------------------------------

class _Runtime:
    """One input, one output, run on a (1, ...) array."""

    input_shape: tuple[int | None, ...]
    input_dtype: np.dtype
    output_shape: tuple[int | None, ...]
    output_dtype: np.dtype
    metadata: str | None = None
    description: str = ""

    def run(self, array: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _check_one_in_one_out(path: Path, inputs: int, outputs: int) -> None:
    if inputs == 1 and outputs == 1:
        return
    problem = (f"has {inputs} input(s) and {outputs} output(s); "
               "a segmentation model here takes one image and gives one map")
    if path.suffix == ".tflite" and path.with_suffix(".keras").is_file():
        problem += f" (it looks like the LiteRT twin of {path.with_suffix('.keras').name}: open that instead)"
    raise ModelLoadError(path, problem)


class _LiteRTRuntime(_Runtime):
    def __init__(self, path: Path, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from segviewer.core.tf_logging import native_noise_filtered

        with native_noise_filtered():
            self._interpreter = Interpreter(model_content=path.read_bytes(), num_threads=threads)
            self._interpreter.allocate_tensors()
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        _check_one_in_one_out(path, len(inputs), len(outputs))
        self._input, self._output = inputs[0], outputs[0]
        signature = self._input.get("shape_signature", self._input["shape"])
        self.input_shape = tuple(int(v) if v > 0 else None for v in signature)
        self.input_dtype = np.dtype(self._input["dtype"])
        out_signature = self._output.get("shape_signature", self._output["shape"])
        self.output_shape = tuple(int(v) if v > 0 else None for v in out_signature)
        self.output_dtype = np.dtype(self._output["dtype"])
        self.description = f"LiteRT on CPU ({threads} threads)"
        self._shape: tuple[int, ...] | None = tuple(self._input["shape"])

    def run(self, array: np.ndarray) -> np.ndarray:
        if tuple(array.shape) != self._shape:
            self._interpreter.resize_tensor_input(self._input["index"], list(array.shape))
            self._interpreter.allocate_tensors()
            self._shape = tuple(array.shape)
        self._interpreter.set_tensor(self._input["index"], array.astype(self.input_dtype, copy=False))
        self._interpreter.invoke()
        output = self._interpreter.get_tensor(self._output["index"])
        scale, zero = self._output.get("quantization", (0.0, 0))
        if scale > 0 and output.dtype in (np.uint8, np.int8):
            output = (output.astype(np.float32) - zero) * scale
        return output


class _OnnxRuntime(_Runtime):
    def __init__(self, path: Path, threads: int) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ModelLoadError(path, "ONNX models need ONNX Runtime: pip install onnxruntime "
                                       "(or the project's extra: pip install -e \".[onnx]\")") from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own types for a bad file
            raise ModelLoadError(path, f"not a loadable ONNX model ({first_line(error, 160)})") from None
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        _check_one_in_one_out(path, len(inputs), len(outputs))
        self._input_name = inputs[0].name
        self.input_shape = tuple(v if isinstance(v, int) and v > 0 else None for v in inputs[0].shape)
        self.input_dtype = np.dtype(_ONNX_TYPES.get(inputs[0].type, np.float32))
        self.output_shape = tuple(v if isinstance(v, int) and v > 0 else None for v in outputs[0].shape)
        self.output_dtype = np.dtype(_ONNX_TYPES.get(outputs[0].type, np.float32))
        self.metadata = self._session.get_modelmeta().custom_metadata_map.get("segviewer")
        self.description = f"ONNX Runtime on CPU ({threads} threads)"

    def run(self, array: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input_name: array.astype(self.input_dtype, copy=False)})[0]


_ONNX_TYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int64)": np.int64,
               "tensor(int32)": np.int32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


# -- describing --------------------------------------------------------------------------------

def _probe(path: Path, runtime: _Runtime) -> ModelDescription:
    """What the model says about itself (see the module docstring)."""
    shape = runtime.input_shape
    if not shape:
        raise ModelLoadError(path, "its input has no fixed rank; an image input is (1, H, W, 3) or (1, 3, H, W) "
                                   "(export it with a 4-D input)")
    if len(shape) != 4:
        raise ModelLoadError(path, f"its input has rank {len(shape)}; an image input is (1, H, W, 3) or (1, 3, H, W)")
    if shape[3] == 3 or shape[1] is None:
        layout = "NHWC"
    elif shape[1] == 3 or shape[3] is None or shape[1] < shape[3]:
        layout = "NCHW"  # the channel axis is the small fixed one
    else:
        layout = "NHWC"
    channels = shape[1] if layout == "NCHW" else shape[3]
    if channels != 3:
        raise ModelLoadError(path, f"its input has {channels} channel(s); a colour image has 3")
    height, width = (shape[2], shape[3]) if layout == "NCHW" else (shape[1], shape[2])
    fixed = (height, width) if height is not None and width is not None else None
    values: dict[str, Any] = {"layout": layout, "fixed_size": fixed}
    # A uint8 input (a quantised TFLite carries its own scale and zero point) takes pixels as they are.
    values["raw_uint8"] = runtime.input_dtype == np.uint8
    out = runtime.output_shape
    integer_map = np.issubdtype(runtime.output_dtype, np.integer) and runtime.output_dtype != np.uint8
    if integer_map or len(out) == 3:
        values["output_kind"] = "argmax"
    elif len(out) == 4:
        classes = out[1] if layout == "NCHW" else out[3]
        if classes not in (NUM_TRAIN_CLASSES, None):
            values["notes"] = (f"{classes} output channels: say which classes they are (\"labels\")",)
    return ModelDescription(**values)


def describe(path: Path, runtime: _Runtime) -> ModelDescription:
    """The model's description: its sidecar file, else its own metadata, else the probe;
    refused (with the file to write) where a float input's normalisation is unknown."""
    base = _probe(path, runtime)
    sidecar = description_path(path)
    if sidecar.is_file():
        try:
            document = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelLoadError(sidecar, f"not readable JSON ({first_line(error, 120)})") from None
        return parse_description(document, sidecar, base)
    if runtime.metadata:
        try:
            document = json.loads(runtime.metadata)
        except ValueError as error:
            raise ModelLoadError(path, f"its \"segviewer\" metadata is not JSON ({first_line(error, 120)})") from None
        return ModelDescription(**{**parse_description(document, path, base).__dict__, "source": "ONNX metadata"})
    if not base.raw_uint8:
        raise ModelLoadError(path, f"takes {runtime.input_dtype} pixels and does not say how they are normalised; "
                                   f"describe it in {sidecar.name} beside it, e.g. "
                                   '{"input": {"range": 1.0, "mean": [0.485, 0.456, 0.406], '
                                   '"std": [0.229, 0.224, 0.225]}, "output": {"kind": "logits"}} '
                                   "(see the README, \"Use another model\")")
    if base.notes:
        raise ModelLoadError(path, f"{base.notes[0]} in {sidecar.name} beside it")
    return base


# -- running -----------------------------------------------------------------------------------

class ForeignNetwork:
    """A :class:`~segviewer.core.backends.Network` for a described foreign model."""

    model = None

    def __init__(self, path: Path, runtime: _Runtime, description: ModelDescription) -> None:
        self.path, self._runtime, self.spec = path, runtime, description
        self.description = f"{runtime.description}, {path.suffix[1:]} model ({description.source} description)"
        mean = np.asarray(description.mean, np.float32)
        std = np.asarray(description.std, np.float32)
        if description.colour_order == "BGR":
            mean, std = mean[::-1], std[::-1]
        self._mean, self._std = mean, std
        self._to_train_id = np.asarray(description.to_train_id, np.int64)

    def scores(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(1, H, W, 3) uint8 at the working size -> (class scores (h, w, 19) float32, or
        class IDs (H, W) uint8 for an argmax model; confidence (h, w) float32)."""
        image = pixels[0]
        if self.spec.fixed_size is not None:
            return self._tiled(image)
        multiple = self.spec.multiple_of
        height, width = image.shape[:2]
        padded = np.pad(image, ((0, -height % multiple), (0, -width % multiple), (0, 0)), mode="edge")
        output = self._run(padded)
        return self._crop_scores(output, height, width)

    def _run(self, image: np.ndarray) -> np.ndarray:
        """One network input -> its output as (h, w, C) float scores or (h, w) IDs."""
        array = image[..., ::-1] if self.spec.colour_order == "BGR" else image
        if not self.spec.raw_uint8:
            array = (array.astype(np.float32) * (self.spec.value_range / 255.0) - self._mean) / self._std
        array = array[None]
        if self.spec.layout == "NCHW":
            array = array.transpose(0, 3, 1, 2)
        output = np.asarray(self._runtime.run(np.ascontiguousarray(array)))
        if self.spec.output_kind == "argmax":
            channel_axis = 1 if self.spec.layout == "NCHW" else 3
            if output.ndim == 4 and output.shape[channel_axis] == 1:
                output = output[:, 0] if channel_axis == 1 else output[..., 0]
            if output.ndim != 3:
                raise ValueError(f"an argmax output has shape (1, H, W); this one {output.shape}")
            return output[0]
        if output.ndim != 4:
            raise ValueError(f"class scores have shape (1, H, W, C) or (1, C, H, W); these {output.shape}")
        if self.spec.layout == "NCHW":
            output = output.transpose(0, 2, 3, 1)
        scores = output[0].astype(np.float32)
        if scores.shape[-1] != len(self._to_train_id):
            raise ValueError(f"{scores.shape[-1]} output channels, but the description names "
                             f"{len(self._to_train_id)} classes")
        if not np.isfinite(scores).all():
            raise ValueError("the network's output holds NaN or infinite values")
        return scores

    def _probabilities(self, scores: np.ndarray) -> np.ndarray:
        """(h, w, C) model scores -> (h, w, 19) probabilities of our classes (a class of
        the model's own with no counterpart adds to none)."""
        if self.spec.output_kind == "logits":
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
        ours = np.zeros((*scores.shape[:2], NUM_TRAIN_CLASSES), np.float32)
        for channel, train_id in enumerate(self._to_train_id):
            if train_id < NUM_TRAIN_CLASSES:
                ours[..., train_id] += scores[..., channel]
        return ours

    def _ids(self, output: np.ndarray) -> np.ndarray:
        ids = np.asarray(output).astype(np.int64)
        valid = (ids >= 0) & (ids < len(self._to_train_id))
        return np.where(valid, self._to_train_id[np.clip(ids, 0, len(self._to_train_id) - 1)],
                        VOID_TRAIN_ID).astype(np.uint8)

    def _crop_scores(self, output: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        if self.spec.output_kind == "argmax":
            ids = self._ids(output)[:height, :width]
            return ids, np.ones(ids.shape, np.float32)
        stride = self.spec.stride
        probabilities = self._probabilities(output)[: -(-height // stride), : -(-width // stride)]
        return np.log(np.maximum(probabilities, 1e-12)), probabilities.max(axis=-1)

    def _tiled(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A fixed-size network over the whole image: tiles overlapping by half a tile
        (the image edge-padded where smaller than one), each pixel's vote or mean
        probability over the tiles that cover it."""
        tile_h, tile_w = self.spec.fixed_size
        height, width = image.shape[:2]
        padded = np.pad(image, ((0, max(0, tile_h - height)), (0, max(0, tile_w - width)), (0, 0)), mode="edge")
        rows, cols = _tile_starts(padded.shape[0], tile_h), _tile_starts(padded.shape[1], tile_w)
        argmax = self.spec.output_kind == "argmax"
        votes = np.zeros((*padded.shape[:2], NUM_TRAIN_CLASSES), np.uint8 if argmax else np.float32)
        counts = np.zeros(padded.shape[:2], np.float32)
        for top in rows:
            for left in cols:
                output = self._run(padded[top:top + tile_h, left:left + tile_w])
                window = votes[top:top + tile_h, left:left + tile_w]
                if argmax:
                    ids = self._ids(output)
                    inside = ids < NUM_TRAIN_CLASSES
                    rr, cc = np.nonzero(inside)
                    np.add.at(window, (rr, cc, ids[inside]), 1)
                else:
                    probabilities = self._probabilities(output)
                    if probabilities.shape[:2] != (tile_h, tile_w):
                        probabilities = _resize_scores(probabilities, tile_h, tile_w)
                    window += probabilities
                counts[top:top + tile_h, left:left + tile_w] += 1
        votes, counts = votes[:height, :width], counts[:height, :width]
        if argmax:
            ids = votes.argmax(axis=-1).astype(np.uint8)
            ids[votes.max(axis=-1) == 0] = VOID_TRAIN_ID
            return ids, votes.max(axis=-1) / np.maximum(counts, 1)
        mean = votes / np.maximum(counts, 1)[..., None]
        return np.log(np.maximum(mean, 1e-12)), mean.max(axis=-1)


def _tile_starts(size: int, tile: int) -> list[int]:
    """Tile origins along one axis: a step of (1 - overlap) tiles, the last flush with the end."""
    step = max(1, int(tile * (1 - TILE_OVERLAP)))
    starts = list(range(0, max(size - tile, 0) + 1, step))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


def _resize_scores(scores: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(scores[..., c]).resize((width, height), Image.BILINEAR))
                     for c in range(scores.shape[-1])], axis=-1)


def load_foreign(path: Path, threads: int) -> tuple[ForeignNetwork, dict[str, Any]]:
    """The network and a model card (name, working scale, what describes it) for a
    ``.onnx`` or plain ``.tflite`` file; every failure is a ModelLoadError naming it."""
    path = Path(path)
    runtime: _Runtime
    if path.suffix == ".onnx":
        runtime = _OnnxRuntime(path, threads)
    else:
        try:
            runtime = _LiteRTRuntime(path, threads)
        except ModelLoadError:
            raise
        except ImportError:
            raise ModelLoadError(path, "LiteRT is not installed (pip install ai-edge-litert)") from None
        except Exception as error:  # a damaged flatbuffer
            raise ModelLoadError(path, f"not a loadable TFLite model ({first_line(error, 160)})") from None
    description = describe(path, runtime)
    network = ForeignNetwork(path, runtime, description)
    if description.source == "probed" and description.output_kind == "logits" and _sums_to_one(network):
        description = ModelDescription(**{**description.__dict__, "output_kind": "probabilities"})
        network = ForeignNetwork(path, runtime, description)
    card: dict[str, Any] = {"name": path.stem, "format": path.suffix[1:],
                            "description_source": description.source,
                            "output": description.output_kind,
                            "input_size": (f"fixed {description.fixed_size[1]}x{description.fixed_size[0]} (tiled)"
                                           if description.fixed_size else f"multiple of {description.multiple_of}")}
    if description.pixel_budget is not None:
        card["working_scale"] = {"pixel_budget": description.pixel_budget, "max_upscale": 4.0}
    return network, card


def _sums_to_one(network: ForeignNetwork) -> bool:
    """Whether a probed model's float outputs are probabilities (all >= 0, summing to 1
    per pixel) on a grey frame; any failure is left to :func:`check_runs` to report."""
    size = network.spec.fixed_size or (64, 96)
    try:
        output = network._run(np.full((*size, 3), 128, np.uint8))
    except Exception:  # noqa: BLE001 - reported with its reason by check_runs
        return False
    return output.ndim == 3 and bool((output >= 0).all() and np.allclose(output.sum(axis=-1), 1.0, atol=1e-3))


def check_runs(path: Path, network: ForeignNetwork, frame_size: tuple[int, int] = (64, 96)) -> None:
    """One run on a small grey frame: a model whose outputs cannot be read as described
    (wrong shape, channel count, NaN) is refused now, not on the first image."""
    try:
        scores, confidence = network.scores(np.full((1, *frame_size, 3), 128, np.uint8))
    except (ValueError, RuntimeError) as error:
        raise ModelLoadError(path, f"does not give what its description says ({first_line(error, 200)})") from None
    except Exception as error:  # the runtimes' own failures (a wrong input shape)
        raise ModelLoadError(path, f"failed on a {frame_size[1]}x{frame_size[0]} test frame "
                                   f"({first_line(error, 200)})") from None
    if scores.ndim == 3 and scores.shape[-1] != NUM_TRAIN_CLASSES:
        raise ModelLoadError(path, f"gives {scores.shape[-1]} class scores; expected {NUM_TRAIN_CLASSES}")
