"""Custom Keras layers the segviewer models use; imported only when a model is built
or loaded (it imports TensorFlow)."""

from __future__ import annotations

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
