"""Loss and metric for training codes: train IDs, set labels (merged classes) and void."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from segviewer.core.classes import NUM_TRAIN_CLASSES, VOID_TRAIN_ID
from segviewer.core.label_sets import membership_matrix

NUM_CLASSES = NUM_TRAIN_CLASSES
IGNORE = VOID_TRAIN_ID
_NEG = -1e9  # log(0) for classes outside a pixel's set, finite so gradients stay finite


def set_cross_entropy(codes, logits, membership):
    """Per-pixel ``-log(sum of softmax over the set)``; 0 where the set is empty (void).

    For a one-class set this is the ordinary cross-entropy. ``membership`` is the
    ``[256, 19]`` 0/1 table of :func:`segviewer.core.label_sets.membership_matrix`.
    """
    allowed = tf.gather(membership, tf.cast(codes, tf.int32))  # (..., 19)
    valid = tf.reduce_max(allowed, axis=-1) > 0
    inside = tf.reduce_logsumexp(logits + (1.0 - allowed) * _NEG, axis=-1)
    loss = tf.reduce_logsumexp(logits, axis=-1) - inside
    return tf.where(valid, loss, 0.0), valid


@keras.saving.register_keras_serializable(package="segviewer")
class SetCrossEntropy(keras.losses.Loss):
    """Weighted set-valued cross-entropy on logits (see :func:`set_cross_entropy`).

    ``code_weights[c]`` weighs pixels whose code is ``c`` (a train ID or a set code);
    extra output channels (the article's 20th "void" class) are dropped first.
    """

    def __init__(self, code_weights=None, name: str = "set_cross_entropy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.code_weights = None if code_weights is None else [float(w) for w in code_weights]
        self._membership = tf.constant(membership_matrix())
        weights = np.ones(256, np.float32)
        if self.code_weights is not None:
            weights[: len(self.code_weights)] = self.code_weights
        self._weights = tf.constant(weights)

    def call(self, y_true, y_pred):
        codes = tf.cast(y_true, tf.int32)
        logits = tf.cast(y_pred[..., :NUM_CLASSES], tf.float32)
        loss, valid = set_cross_entropy(codes, logits, self._membership)
        weights = tf.gather(self._weights, codes) * tf.cast(valid, tf.float32)
        # Mean over valid pixels of the whole batch (not per image) so crops that are
        # mostly void do not get their few pixels amplified.
        total = tf.reduce_sum(loss * weights)
        count = tf.maximum(tf.reduce_sum(tf.cast(valid, tf.float32)), 1.0)
        return tf.fill([tf.shape(codes)[0]], total / count)

    def get_config(self):
        return {**super().get_config(), "code_weights": self.code_weights}


@keras.saving.register_keras_serializable(package="segviewer")
class MaskedMeanIoU(keras.metrics.MeanIoU):
    """Mean IoU over the 19 classes from logits; void and set labels are not scored.

    The confusion matrix (``total_cm``) stays readable after each validation pass, so
    :class:`training.callbacks.PerClassIoU` can log every class's IoU.
    """

    def __init__(self, name: str = "mean_iou", **kwargs) -> None:
        kwargs.pop("num_classes", None)
        kwargs.pop("ignore_class", None)
        kwargs.pop("sparse_y_pred", None)
        super().__init__(num_classes=NUM_CLASSES, ignore_class=IGNORE, sparse_y_pred=True,
                         name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        truth = tf.cast(y_true, tf.int32)
        truth = tf.where(truth < NUM_CLASSES, truth, IGNORE)
        predicted = tf.argmax(y_pred[..., :NUM_CLASSES], axis=-1, output_type=tf.int32)
        return super().update_state(truth, predicted, sample_weight)
