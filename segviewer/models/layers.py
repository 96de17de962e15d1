"""Custom Keras layers the segviewer models use; imported only when a model is built
or loaded (it imports TensorFlow)."""

from __future__ import annotations

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="segviewer")
class ResizeToMatch(keras.layers.Layer):
    """Bilinearly resize ``inputs[0]`` to the height and width of ``inputs[1]``.

    Keras' ``UpSampling2D`` cannot trace images of unknown size (the viewer feeds any
    size), and matching the skip tensor's size also absorbs odd sizes exactly.
    """

    def call(self, inputs):
        values, reference = inputs
        return tf.image.resize(values, tf.shape(reference)[1:3], method="bilinear")

    def compute_output_shape(self, input_shapes):
        values, reference = input_shapes
        return (values[0], reference[1], reference[2], values[3])


# PyTorch's bicubic kernel (cubic coefficient a = -0.75, as in OpenCV); TensorFlow's
# bicubic resizes use a = -0.5 and differ by up to 0.34 on random data.
_CUBIC_A = -0.75


def _cubic_weights(t: float) -> tuple[float, float, float, float]:
    """The four tap weights for a source position ``t`` past the second tap."""
    a = _CUBIC_A

    def near(x: float) -> float:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: float) -> float:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return far(t + 1), near(t), near(1 - t), far(2 - t)


def bicubic_phases(factor: int) -> list[tuple[int, tuple[float, float, float, float]]]:
    """For each output phase p of an integer up-sampling: (first tap offset, weights).

    Output pixel ``factor * i + p`` samples the source at ``i + (p + 0.5) / factor - 0.5``
    (half-pixel centres, PyTorch's ``align_corners=False``); its taps are the four source
    pixels from ``floor`` - 1 on, clamped at the borders.
    """
    phases = []
    for phase in range(factor):
        source = (phase + 0.5) / factor - 0.5
        first = math.floor(source)
        phases.append((first - 1, _cubic_weights(source - first)))
    return phases


@keras.saving.register_keras_serializable(package="segviewer")
class BicubicUpsample(keras.layers.Layer):
    """Integer up-sampling with PyTorch's bicubic kernel and border rule, so networks
    trained in PyTorch (the EfficientViT teacher's head) give the same numbers here.

    Separable: along each axis every output phase is a fixed 4-tap filter over the
    edge-clamped input; the phases are then interleaved. Plain slices, products and
    reshapes, so any input size works and LiteRT converts it.
    """

    def __init__(self, factor: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = int(factor)

    def _along(self, values, axis: int):
        if self.factor == 1:
            return values
        size = tf.shape(values)[axis]
        first, last = tf.gather(values, [0], axis=axis), tf.gather(values, [size - 1], axis=axis)
        padded = tf.concat([first, first, values, last, last], axis=axis)  # 2 clamped pixels each side
        outputs = []
        for offset, weights in bicubic_phases(self.factor):
            total = 0.0
            for tap, weight in enumerate(weights):
                start = offset + tap + 2
                total += weight * tf.gather(padded, tf.range(start, start + size), axis=axis)
            outputs.append(total)
        stacked = tf.stack(outputs, axis=axis + 1)
        shape = tf.unstack(tf.shape(values))
        shape[axis] = size * self.factor
        shape[-1] = values.shape[-1] or shape[-1]  # a static channel count, for LiteRT's converter
        return tf.reshape(stacked, tf.stack(shape))

    def call(self, inputs):
        return self._along(self._along(inputs, 1), 2)

    def compute_output_shape(self, input_shape):
        def grow(d):
            return None if d is None else d * self.factor

        return (input_shape[0], grow(input_shape[1]), grow(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="segviewer")
class GroupedPointwise(keras.layers.Layer):
    """A 1x1 convolution in ``groups`` independent groups, without bias (EfficientViT's
    multi-scale aggregation). Written as one einsum: TensorFlow's CPU kernels refuse
    grouped ``Conv2D``."""

    def __init__(self, groups: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.groups = int(groups)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        per_group = channels // self.groups
        self.kernel = self.add_weight(name="kernel", shape=(self.groups, per_group, per_group),
                                      initializer="glorot_uniform")

    def call(self, inputs):
        shape = tf.shape(inputs)
        grouped = tf.reshape(inputs, tf.concat([shape[:3], [self.groups, -1]], 0))
        mixed = tf.einsum("bhwgi,gio->bhwgo", grouped, self.kernel)
        # The static channel count keeps the next layers' shapes known (LiteRT needs them).
        return tf.reshape(mixed, tf.concat([shape[:3], [inputs.shape[-1]]], 0))

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package="segviewer")
class ReluLinearAttention(keras.layers.Layer):
    """EfficientViT's ReLU linear attention over concatenated multi-scale q, k, v.

    The channels hold heads of ``3 * dim`` (q, k, v of ``dim`` each). Per head, with
    ReLU kernels: ``out_n = (sum_m v_m k_m^T) q_n / (sum_m k_m . q_n + eps)``; cost is
    linear in the number of pixels.
    """

    # Its sums run over every pixel of the image: one int8 scale per tensor cannot hold
    # both a frame's sum and one pixel's share of it, so int8 twins keep it in float
    # (``backends.int8_float_layers``).
    keeps_float_in_int8 = True

    def __init__(self, dim: int, eps: float = 1e-15, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dim, self.eps = int(dim), float(eps)

    def call(self, inputs):
        shape = tf.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        qkv = tf.reshape(inputs, [batch, height * width, -1, 3 * self.dim])
        q = tf.nn.relu(qkv[..., : self.dim])
        k = tf.nn.relu(qkv[..., self.dim: 2 * self.dim])
        v = qkv[..., 2 * self.dim:]
        v = tf.concat([v, tf.ones_like(v[..., :1])], axis=-1)  # the extra row sums k . q
        kv = tf.einsum("bnhd,bnhe->bhde", k, v)
        out = tf.einsum("bnhd,bhde->bnhe", q, kv)
        out = out[..., : self.dim] / (out[..., self.dim:] + self.eps)
        return tf.reshape(out, [batch, height, width, inputs.shape[-1] // 3])

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else input_shape[-1] // 3
        return (*input_shape[:3], channels)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "eps": self.eps}
