"""Distillation: the student learns the human labels (set cross-entropy) and, on every
pixel, the frozen teacher's class distribution for the same augmented crop (KL
divergence). The teacher runs inside the training step, so each crop, flip and colour
jitter gets its own targets; nothing is precomputed.

Only the student is ever saved: :class:`StudentCheckpoint` writes it, so a run's
``best.keras`` / ``last.keras`` load in the viewer like any other model.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from segviewer.core.classes import NUM_TRAIN_CLASSES


def kl_to_teacher(teacher_logits, student_logits, temperature: float = 1.0, pixel_weights=None):
    """Mean over pixels of KL(teacher || student) on the 19 classes, scaled by T^2 as
    Hinton et al. do so its gradient keeps its size at any temperature; ``pixel_weights``
    (same shape as a logit plane) weighs each pixel's term."""
    teacher = tf.cast(teacher_logits[..., :NUM_TRAIN_CLASSES], tf.float32) / temperature
    student = tf.cast(student_logits[..., :NUM_TRAIN_CLASSES], tf.float32) / temperature
    teacher_log = tf.nn.log_softmax(teacher, axis=-1)
    per_pixel = tf.reduce_sum(tf.exp(teacher_log) * (teacher_log - tf.nn.log_softmax(student, axis=-1)), axis=-1)
    if pixel_weights is not None:
        per_pixel = per_pixel * pixel_weights
    return tf.reduce_mean(per_pixel) * temperature ** 2


class Distiller(keras.Model):
    """Wraps a student: ``fit`` minimises the compiled loss plus ``weight`` x
    :func:`kl_to_teacher`; validation scores the student alone."""

    def __init__(self, student: keras.Model, teacher: keras.Model, weight: float = 1.0,
                 temperature: float = 1.0, labelled_weight: float = 1.0, **kwargs) -> None:
        super().__init__(name=f"{student.name}_distilled", **kwargs)
        self.student, self.teacher = student, teacher
        self.teacher.trainable = False
        self.weight, self.temperature = float(weight), float(temperature)
        # Where a human gave one class (a train ID), the KL term weighs this much: 0 lets
        # the human label alone decide there (CamVid's fences, KITTI's grass).
        self.labelled_weight = float(labelled_weight)

    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if not training or self.weight == 0:
            return loss
        teacher_logits = tf.stop_gradient(self.teacher(x, training=False))
        pixel_weights = None
        if self.labelled_weight != 1.0:
            specific = tf.cast(y, tf.int32) < NUM_TRAIN_CLASSES
            pixel_weights = tf.where(specific, self.labelled_weight, 1.0)
        return loss + self.weight * kl_to_teacher(teacher_logits, y_pred, self.temperature, pixel_weights)


class StudentCheckpoint(keras.callbacks.Callback):
    """Save the student (not the wrapper) after every epoch, or only when ``monitor``
    (mode max) improves."""

    def __init__(self, path: Path, monitor: str | None = None) -> None:
        super().__init__()
        self.path, self.monitor = Path(path), monitor
        self.best = -float("inf")

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor is not None:
            value = (logs or {}).get(self.monitor)
            if value is None or value <= self.best:
                return
            self.best = float(value)
        student = self.model.student if isinstance(self.model, Distiller) else self.model
        student.save(self.path)
