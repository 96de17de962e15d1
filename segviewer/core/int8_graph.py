"""The graph an int8 twin is converted from: the float model, rewritten where LiteRT's
int8 arithmetic would lose more than it must, into a network that computes the same
function in float.

LiteRT's int8 ``CONCATENATION`` gives its inputs and output one quantisation range (the
converter makes the inputs share the output's). In a U-Net decoder that range is the
encoder skip's, so the decoder's own ReLU outputs, all >= 0, are rounded in the skip's
coarse steps (the Lite0 U-Net: 0.86 / 0.51 / 0.45 / 0.38 at strides 16 / 8 / 4 / 2). A
convolution of a concatenation equals the sum of one convolution per part (its kernel
split along the input channels), and the int8 ``ADD`` that sums them takes inputs at
different ranges, so every part keeps its own (0.33 / 0.17 / 0.10 / 0.12). Measured on the
Lite0 U-Net's twin, the finer steps change its agreement with the float model by no more
than the noise of one calibration (docs/performance.md) and, with the float classifier,
cost about 0.3 of its 13.5 ms.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def split_concatenations(model: Any, samples: Iterable[np.ndarray] = (),
                         keep: set[str] | frozenset[str] = frozenset()) -> Any:
    """``model`` with every channel concatenation whose one consumer is a convolution
    (not in ``keep``) replaced by a convolution per part and an add; the other layers are
    ``model``'s own (shared, not copied). ``model`` itself when there is none.

    A concatenation stays where one of its parts is constant on every one of
    ``samples`` ((h, w, 3) uint8 inputs; e.g. a ReLU that never fires): int8 can hold no
    range for such a part alone (LiteRT's XNNPACK refuses its zero-width scale), and a
    part that is always zero loses nothing in the shared range (zero is exact in any).
    """
    import keras

    def splittable(layer: Any) -> bool:
        takers = consumers(layer)
        return (isinstance(layer, keras.layers.Concatenate) and layer.axis in (-1, 3) and len(takers) == 1
                and type(takers[0]) is keras.layers.Conv2D and takers[0].name not in keep
                and takers[0].groups == 1)

    candidates = [layer for layer in model.layers if splittable(layer)]
    constant = _with_constant_part(model, candidates, samples)
    if len(constant) == len(candidates):
        return model
    parts_of: dict[int, list[Any]] = {}  # the concatenation's output -> its inputs

    def call(layer, *args, **kwargs):
        if splittable(layer) and layer.name not in constant:
            output = layer(*args, **kwargs)
            parts_of[id(output)] = list(args[0])
            return output
        if isinstance(layer, keras.layers.Conv2D) and args and id(args[0]) in parts_of:
            return _convolution_of_parts(layer, parts_of[id(args[0])])
        return layer(*args, **kwargs)

    # A new input layer: the model's own would be in both graphs under one name.
    inputs = keras.tree.map_structure(
        lambda tensor: keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=f"{tensor.name}_split"),
        model.input)
    return keras.models.clone_model(model, input_tensors=inputs, clone_function=lambda layer: layer,
                                    call_function=call)


def _with_constant_part(model: Any, concatenations: list[Any], samples: Iterable[np.ndarray]) -> set[str]:
    """The names of the ``concatenations`` one of whose inputs takes a single value over
    all of ``samples`` (none without samples)."""
    parts = [(layer.name, tensor) for layer in concatenations for tensor in layer.input]
    ranges = tensor_ranges(model, [tensor for _name, tensor in parts], samples) if parts else None
    if ranges is None:
        return set()
    return {name for (name, _tensor), (low, high) in zip(parts, ranges, strict=True) if high <= low}


def tensor_ranges(model: Any, tensors: list[Any], samples: Iterable[np.ndarray]) -> list[tuple[float, float]] | None:
    """Each of ``model``'s symbolic ``tensors``' range (min, max) over ``samples``
    ((h, w, 3) uint8 inputs), as int8 calibration measures it; None without samples."""
    import keras

    probe = keras.Model(model.inputs, list(tensors))
    low = np.full(len(tensors), np.inf)
    high = np.full(len(tensors), -np.inf)
    seen = False
    for pixels in samples:
        seen = True
        for index, values in enumerate(probe([pixels[None]], training=False)):
            values = np.asarray(values)
            low[index], high[index] = min(low[index], values.min()), max(high[index], values.max())
    return [(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)] if seen else None


def consumers(layer: Any) -> list[Any]:
    """The layers that take ``layer``'s output (in every graph the layer is part of)."""
    return [node.operation for node in getattr(layer, "_outbound_nodes", [])]


def _convolution_of_parts(convolution: Any, parts: list[Any]) -> Any:
    """``convolution`` applied to the concatenation of ``parts``, as the sum of one
    convolution per part (the bias added once), then its activation."""
    import keras

    kernel, *bias = convolution.get_weights()
    config = convolution.get_config()
    outputs, first = [], 0
    for index, part in enumerate(parts):
        channels = int(part.shape[-1])
        piece = keras.layers.Conv2D.from_config({**config, "name": f"{convolution.name}_part{index}",
                                                 "activation": None, "use_bias": index == 0 and bool(bias)})
        piece.build(part.shape)
        weights = [np.ascontiguousarray(kernel[:, :, first:first + channels])]
        piece.set_weights(weights + bias if index == 0 else weights)
        outputs.append(piece(part))
        first += channels
    summed = keras.layers.Add(name=f"{convolution.name}_sum")(outputs)
    activation = keras.activations.get(config.get("activation"))
    if activation is keras.activations.linear:
        return summed
    return keras.layers.Activation(activation, name=f"{convolution.name}_activation")(summed)
