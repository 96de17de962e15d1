"""Loss and metric that ignore void (255) pixels."""

from __future__ import annotations

import keras
import tensorflow as tf

NUM_CLASSES = 19
IGNORE = 255


@keras.saving.register_keras_serializable(package="segviewer")
class MaskedCrossEntropy(keras.losses.Loss):
    """Class-weighted sparse cross-entropy on logits; void pixels weigh nothing.

    Extra output channels (the article's 20th "void" class) are dropped first.
    """

    def __init__(self, class_weights=None, name: str = "masked_cross_entropy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]

    def call(self, y_true, y_pred):
        labels = tf.cast(y_true, tf.int32)
        logits = y_pred[..., :NUM_CLASSES]
        valid = labels != IGNORE
        safe = tf.where(valid, labels, 0)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
        weights = tf.cast(valid, loss.dtype)
        if self.class_weights is not None:
            weights *= tf.gather(tf.constant(self.class_weights, loss.dtype), safe)
        # Mean over valid pixels of the whole batch (not per image) so crops that are
        # mostly void do not get their few pixels amplified.
        total = tf.reduce_sum(loss * weights)
        count = tf.maximum(tf.reduce_sum(tf.cast(valid, loss.dtype)), 1.0)
        return tf.fill([tf.shape(labels)[0]], total / count)

    def get_config(self):
        return {**super().get_config(), "class_weights": self.class_weights}


@keras.saving.register_keras_serializable(package="segviewer")
class MaskedMeanIoU(keras.metrics.MeanIoU):
    """Mean IoU over the 19 classes from logits, void ignored (the article's metric)."""

    def __init__(self, name: str = "mean_iou", **kwargs) -> None:
        kwargs.pop("num_classes", None)
        kwargs.pop("ignore_class", None)
        kwargs.pop("sparse_y_pred", None)
        super().__init__(num_classes=NUM_CLASSES, ignore_class=IGNORE, sparse_y_pred=True,
                         name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        predicted = tf.argmax(y_pred[..., :NUM_CLASSES], axis=-1, output_type=tf.int32)
        return super().update_state(tf.cast(y_true, tf.int32), predicted, sample_weight)
