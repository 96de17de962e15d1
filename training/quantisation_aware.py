"""Quantisation-aware distillation for a model's int8 twin.

    python -m training.quantisation_aware resources/models/segviewer_lite0.keras \\
        --data ../shared/datasets --images MORE_FOLDERS --steps 3000 --out runs/qat/lite0.keras
    segviewer convert resources/models/segviewer_lite0.keras --int8 --calibrate ../shared/datasets \\
        --weights-from runs/qat/lite0.keras

Post-training quantisation rounds every weight and activation of the float model once and
hopes the classes survive; where the float model is unsure (two classes' logits close),
they do not. Here a copy of the float model (the student) runs with int8 rounding
simulated in its forward pass, exactly where LiteRT will round (weights per output
channel, symmetric, 255 levels; every int8 tensor per tensor at the range calibration
gives it; the twin's float layers left alone), and learns, with straight-through
gradients, to give the **float model's own coarse logits** on training images. No label
is read: the target is the float model, so its twin is judged against it.

The float model does not change: the student's weights serve only as the int8 twin's
weights, and ``segviewer convert --weights-from`` checks that twin against the unchanged
float model on validation images (never seen here), as for any int8 twin.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from segviewer.core.errors import SegviewerError
from segviewer.core.help_text import plain
from segviewer.core.int8_graph import consumers, tensor_ranges

# LiteRT's int8 weights: symmetric, zero point 0, narrow range (-127..127).
WEIGHT_LEVELS = 127


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.quantisation_aware", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="the float .keras model whose int8 twin is wanted")
    parser.add_argument("--data", type=Path, nargs="+", default=[], metavar="DATA",
                        help="dataset folders (their training split is used, never validation)")
    parser.add_argument("--images", type=Path, nargs="*", default=[], metavar="FOLDER",
                        help="further folders of unlabelled images to learn from (all their images)")
    parser.add_argument("--steps", type=int, default=4000, help="optimiser steps, one frame each (default 4000)")
    parser.add_argument("--loss", choices=sorted(LOSSES), default="kl",
                        help="kl (default): KL divergence of the class distributions; margin: the float "
                             "model's top-two margin, weighted to small ones (measured: no better)")
    parser.add_argument("--learning-rate", type=float, default=1e-6,
                        help="Adam's peak rate, cosine decay (default 1e-6; 3e-5 drifts away from the float model)")
    parser.add_argument("--per-set", type=int, default=120, metavar="N",
                        help="at most N frames of each set, evenly spread (default 120; sets are sampled equally)")
    parser.add_argument("--calibration-images", type=int, default=200, metavar="N",
                        help="images the activation ranges are set from, as convert --int8 does (default 200)")
    parser.add_argument("--out", type=Path, required=True, help="the student (.keras); checkpoints beside it")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


# -- where LiteRT rounds ---------------------------------------------------------------------

def is_convolution(layer: Any) -> bool:
    import keras

    return isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))


def rounded_outputs(model: Any, float_layers: Iterable[str]) -> list[str]:
    """The layers whose outputs an int8 twin of ``model`` holds as int8 tensors: every
    layer outside ``float_layers`` except a convolution or add whose one consumer is a
    ReLU (the converter fuses the two, so only the ReLU's output is rounded), and every
    float layer that hands its output to an int8 one (the boundary's quantise op)."""
    import keras

    float_layers = set(float_layers)
    rounded = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        takers = consumers(layer)
        if layer.name in float_layers:
            if any(taker.name not in float_layers for taker in takers):
                rounded.append(layer.name)
            continue
        fusable = is_convolution(layer) or isinstance(layer, keras.layers.Add)
        if fusable and len(takers) == 1 and isinstance(takers[0], keras.layers.ReLU):
            continue
        rounded.append(layer.name)
    return rounded


def shared_ranges(model: Any, ranges: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """``ranges`` as LiteRT's int8 kernels constrain them: a resize's output keeps its
    input's range, and every input of a concatenation takes the concatenation's (the
    converter ties them; through a resize the tie reaches the layer before it)."""
    import keras

    shared = dict(ranges)

    def producer(tensor: Any) -> Any:
        history = getattr(tensor, "_keras_history", None)
        return history.operation if history is not None else None

    def resize_source(layer: Any) -> Any:
        source = layer.input[0] if isinstance(layer.input, (list, tuple)) else layer.input
        return producer(source)

    for layer in model.layers:  # in graph order: a resize's source is settled first
        if _is_resize(layer):
            source = resize_source(layer)
            if source is not None and source.name in shared and layer.name in shared:
                shared[layer.name] = shared[source.name]
        if isinstance(layer, keras.layers.Concatenate) and layer.name in shared:
            for tensor in layer.input:
                feeder = producer(tensor)
                while feeder is not None:
                    if feeder.name in shared:
                        shared[feeder.name] = shared[layer.name]
                    feeder = resize_source(feeder) if _is_resize(feeder) else None
    return shared


def _is_resize(layer: Any) -> bool:
    return type(layer).__name__ in ("ResizeToMatch", "UpSampling2D", "Resizing")


def standalone_copy(model: Any) -> Any:
    """A copy of ``model`` with its own layers and the same weights: a graph whose layers
    are shared with another model (:func:`split_concatenations`) gives each layer's inputs,
    outputs and consumers for both graphs."""
    import keras

    copy = keras.models.clone_model(model)
    for layer in model.layers:
        if layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy


def calibrate_ranges(model: Any, names: list[str], images: Iterable[np.ndarray]) -> dict[str, tuple[float, float]]:
    """Each named layer's output range (min, max) over ``images`` (working-size uint8), as
    the converter's calibration measures it."""
    ranges = tensor_ranges(model, [model.get_layer(name).output for name in names], images)
    if ranges is None:
        raise ValueError("no images to calibrate the simulated int8 ranges on")
    return dict(zip(names, ranges, strict=True))


# -- the simulated twin ----------------------------------------------------------------------

def _simulation_layers():
    """The two Keras layers of the simulation (defined on first use: Keras loads late)."""
    import keras
    import tensorflow as tf

    def rounded_kernel(kernel, depthwise: bool):
        # One scale per output channel: (kh, kw, in, out) -> out; depthwise (kh, kw, in, 1) -> in.
        axes = [0, 1, 3] if depthwise else [0, 1, 2]
        scale = tf.maximum(tf.reduce_max(tf.abs(kernel), axis=axes, keepdims=True), 1e-12) / WEIGHT_LEVELS
        rounded = tf.clip_by_value(tf.round(kernel / scale), -WEIGHT_LEVELS, WEIGHT_LEVELS) * scale
        return kernel + tf.stop_gradient(rounded - kernel)  # straight-through

    class Int8Convolution(keras.layers.Layer):
        """A convolution whose kernel is rounded as the int8 twin's will be; the wrapped
        layer keeps the float weights that learn."""

        def __init__(self, convolution, **kwargs) -> None:
            super().__init__(name=f"{convolution.name}_int8", **kwargs)
            self.convolution = convolution

        def build(self, input_shape) -> None:
            if not self.convolution.built:
                self.convolution.build(input_shape)

        def call(self, inputs):
            layer = self.convolution
            depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
            kernel = rounded_kernel(layer.kernel, depthwise)
            strides = (1, *layer.strides, 1)
            padding = layer.padding.upper()
            if depthwise:
                x = tf.nn.depthwise_conv2d(inputs, kernel, strides, padding, dilations=layer.dilation_rate)
            else:
                x = tf.nn.conv2d(inputs, kernel, strides, padding, dilations=layer.dilation_rate)
            if layer.use_bias:
                x = x + layer.bias
            return layer.activation(x)

    class Int8Activation(keras.layers.Layer):
        """Rounds a tensor to 256 levels over its calibrated range (zero exact), passing
        gradients straight through inside the range."""

        def __init__(self, low: float, high: float, **kwargs) -> None:
            super().__init__(**kwargs)
            # A tensor that was zero on every calibration image still needs a range.
            self.low, self.high = float(min(low, 0.0)), float(max(high, 0.0, min(low, 0.0) + 1e-6))

        def call(self, inputs):
            return tf.quantization.fake_quant_with_min_max_args(inputs, min=self.low, max=self.high, num_bits=8)

    return Int8Convolution, Int8Activation


def build_student(model: Any, float_layers: Iterable[str], ranges: dict[str, tuple[float, float]]) -> Any:
    """A copy of ``model`` (its coarse-logits graph) that rounds as its int8 twin will,
    starting from ``model``'s weights."""
    import keras

    int8_convolution, int8_activation = _simulation_layers()
    float_layers = set(float_layers)

    def call(layer, *args, **kwargs):
        if is_convolution(layer) and layer.name not in float_layers:
            output = int8_convolution(layer)(*args)
        else:
            output = layer(*args, **kwargs)
        if layer.name in ranges:
            output = int8_activation(*ranges[layer.name], name=f"{layer.name}_rounded")(output)
        return output

    student = keras.models.clone_model(model, call_function=call)
    for layer in model.layers:
        if layer.weights:
            float_weights_of(student, layer.name).set_weights(layer.get_weights())
    return student


def float_weights_of(student: Any, name: str) -> Any:
    """The layer of ``student`` that holds the float weights of the original ``name``."""
    for layer in student.layers:
        if layer.name == name:
            return layer
        if layer.name == f"{name}_int8":
            return layer.convolution
    raise KeyError(name)


def student_weights_into(model: Any, student: Any) -> None:
    """Copy the student's (float) weights into ``model``, layer by layer; a convolution
    the student computes in parts (:func:`split_concatenations`) gets their kernels joined
    along its input channels, and the first part's bias."""
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            layer.set_weights(float_weights_of(student, layer.name).get_weights())
            continue
        except KeyError:
            pass
        parts = []
        while True:
            try:
                parts.append(float_weights_of(student, f"{layer.name}_part{len(parts)}").get_weights())
            except KeyError:
                break
        if not parts:
            raise KeyError(f"the student has no weights for {layer.name}")
        kernel = np.concatenate([weights[0] for weights in parts], axis=2)
        layer.set_weights([kernel, *parts[0][1:]])


# -- training --------------------------------------------------------------------------------

def distillation_loss(target_logits, student_logits):
    """Mean per-pixel KL divergence from the float model's class distribution to the
    student's."""
    import tensorflow as tf

    target = tf.nn.softmax(target_logits)
    return tf.reduce_mean(tf.reduce_sum(
        target * (tf.nn.log_softmax(target_logits) - tf.nn.log_softmax(student_logits)), axis=-1))


def margin_loss(target_logits, student_logits):
    """Mean squared error of the student's margin between the float model's two best
    classes, weighted towards pixels where that margin is small.

    A pixel changes class where int8's error in that margin exceeds the margin itself.
    KL divergence measures how much probability moves, which for two near-equal classes
    trading places is little; this measures the margin that decides the class.
    """
    import tensorflow as tf

    best = tf.math.top_k(target_logits, k=2)
    target_margin = best.values[..., 0] - best.values[..., 1]
    picked = tf.gather(student_logits, best.indices, batch_dims=3)
    student_margin = picked[..., 0] - picked[..., 1]
    weight = tf.exp(-target_margin)
    return tf.reduce_mean(weight * tf.square(student_margin - target_margin))


LOSSES = {"kl": distillation_loss, "margin": margin_loss}


def training_images(data: list[Path], folders: list[Path]) -> dict[str, list[Path]]:
    """The images to learn from, by set: the training split of ``data``, and every image
    of ``folders``."""
    from segviewer.commands.convert import images_by_set
    from segviewer.core.file_search import find_images

    grouped = images_by_set(data, validation=False) if data else {}
    for folder in folders:
        grouped.setdefault(folder.name, []).extend(find_images(folder, recursive=True).files)
    return {name: paths for name, paths in grouped.items() if paths}


def working_frames(segmenter: Any, grouped: dict[str, list[Path]]) -> dict[str, list[np.ndarray]]:
    """Each image at the model's working size (unreadable ones named and left out)."""
    from segviewer.core.image_io import load_image

    frames: dict[str, list[np.ndarray]] = {}
    for name, paths in grouped.items():
        for path in paths:
            try:
                frames.setdefault(name, []).append(segmenter.network_input(load_image(path)))
            except SegviewerError as error:
                print(f"warning: {error}; skipped", file=sys.stderr)
    return frames


class Checkpoint:
    """The student's weights and step count every few hundred steps, so a killed run
    goes on where it stopped (the optimiser's moments start afresh)."""

    def __init__(self, out: Path) -> None:
        self.weights = out.with_suffix(".checkpoint.npz")
        self.progress = out.with_suffix(".checkpoint.json")

    def load(self, variables: list[Any]) -> int:
        if not (self.weights.is_file() and self.progress.is_file()):
            return 0
        with np.load(self.weights) as saved:
            for index, variable in enumerate(variables):
                variable.assign(saved[f"w{index}"])
        return int(json.loads(self.progress.read_text(encoding="utf-8"))["step"])

    def save(self, variables: list[Any], step: int) -> None:
        from segviewer.core.atomic import write_atomic

        arrays = {f"w{index}": np.asarray(variable) for index, variable in enumerate(variables)}
        write_atomic(self.weights, lambda file: np.savez(file, **arrays), overwrite=True)
        write_atomic(self.progress, lambda file: file.write(json.dumps({"step": step}).encode()), overwrite=True)


def train(student: Any, targets: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]],
          steps: int, learning_rate: float, checkpoint: Checkpoint, seed: int, log_every: int = 50,
          loss_function: Callable = distillation_loss) -> dict[str, float]:
    """Fit ``student`` to the float model's logits (``targets(rng)``: one working-size
    frame and the float model's coarse logits on it); returns the last window's figures."""
    import keras
    import tensorflow as tf

    variables = student.trainable_variables
    first = checkpoint.load(variables)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.05)
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function(reduce_retracing=True)
    def step(pixels, target, rate):
        optimizer.learning_rate.assign(rate)
        with tf.GradientTape() as tape:
            logits = student(pixels, training=False)
            loss = loss_function(target, logits)
        optimizer.apply(tape.gradient(loss, variables), variables)
        same = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1), tf.argmax(target, -1)), tf.float32))
        return loss, same

    rng = np.random.default_rng(seed + first)
    window: list[tuple[float, float]] = []
    started = time.monotonic()
    figures = {"loss": float("nan"), "agreement": float("nan")}
    for index in range(first, steps):
        pixels, target = targets(rng)
        rate = float(schedule(index))
        loss, same = step(tf.constant(pixels[None]), tf.constant(target[None], tf.float32), tf.constant(rate))
        window.append((float(loss), float(same)))
        done = index + 1
        if done % log_every == 0 or done == steps:
            figures = {"loss": float(np.mean([w[0] for w in window])),
                       "agreement": float(np.mean([w[1] for w in window]))}
            print(f"step {done}/{steps}: loss {figures['loss']:.5f}, coarse pixels equal to float "
                  f"{figures['agreement'] * 100:.3f} %, lr {rate:.2e}, {time.monotonic() - started:.0f} s", flush=True)
            window = []
        if done % (log_every * 5) == 0 or done == steps:
            checkpoint.save(variables, done)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.data or args.images):
        print("error: give --data or --images: the training images to learn from", file=sys.stderr)
        return 2
    try:  # before minutes of work, not after
        args.out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: {args.out.parent}: cannot create the output folder ({error.strerror})", file=sys.stderr)
        return 2
    from segviewer.commands.convert import spread
    from segviewer.core.backends import coarse_logits_model, file_sha256, int8_float_layers
    from segviewer.core.inference import Segmenter, read_model_card
    from segviewer.core.int8_graph import split_concatenations

    try:
        segmenter = Segmenter.load(args.model, backend="tf")
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model = segmenter.model
    float_model = coarse_logits_model(model)
    grouped = {name: spread(paths, args.per_set) for name, paths in training_images(args.data, args.images).items()}
    frames = working_frames(segmenter, grouped)
    if not frames:
        print("error: no training images found", file=sys.stderr)
        return 2
    print("training images: " + ", ".join(f"{name} {len(images)}" for name, images in frames.items()), flush=True)

    float_layers = int8_float_layers(model)
    # The ranges the converter will find: the same spread of training images.
    calibration = spread([image for images in frames.values() for image in images], args.calibration_images)
    # The graph convert --int8 quantises (the same function, its concatenations split).
    graph = standalone_copy(split_concatenations(float_model, calibration[:16], keep=set(float_layers)))
    names = rounded_outputs(graph, float_layers)
    student = build_student(graph, float_layers, shared_ranges(graph, calibrate_ranges(graph, names, calibration)))
    print(f"simulating int8 at {len(names)} tensors; {len(float_layers)} layer(s) stay float", flush=True)

    # The float model's coarse logits on every frame and its mirror image, once.
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def float_logits(pixels):
        return float_model(pixels, training=False)

    targets = {name: [(image, np.asarray(float_logits(image[None]))[0].astype(np.float16))
                      for image in images for image in (image, np.ascontiguousarray(image[:, ::-1]))]
               for name, images in frames.items()}
    sets = sorted(targets)

    def sample(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        # Every set equally often: CamVid's 367 frames must not drown Cityscapes' 66.
        pairs = targets[sets[rng.integers(len(sets))]]
        return pairs[rng.integers(len(pairs))]

    figures = train(student, sample, args.steps, args.learning_rate, Checkpoint(args.out), args.seed,
                    loss_function=LOSSES[args.loss])
    student_weights_into(model, student)
    model.save(args.out)
    card = read_model_card(args.model)
    record = {"from": args.model.name, "from_sha256": file_sha256(args.model), "steps": args.steps,
              "learning_rate": args.learning_rate, "loss": args.loss,
              "images": {name: len(images) for name, images in frames.items()},
              "simulated_tensors": len(names), "float_layers": float_layers, "last_window": figures}
    # The float model's card comes along: the student runs at the same working scale.
    card = {**card, "name": args.out.stem, "quantisation_aware": record}
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
