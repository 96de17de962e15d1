"""Training data: the fixed split, in-memory samples and the ``tf.data`` pipeline.

Split (fixed, documented in the README):

* KITTI ``training`` 000000-000039 train, 000040-000047 validation (a user with the full
  200-image ``data_semantics.zip`` gets 000000-000039 + 000048-000199 for training).
* CamVid ``train`` for training, ``val`` for validation.

Every image is augmented around the viewer's working scale (see
:func:`segviewer.core.inference.working_size`), so the network learns objects at the
size it will see them at inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from segviewer.core.classes import NUM_TRAIN_CLASSES, VOID_TRAIN_ID
from segviewer.core.datasets import Sample
from segviewer.core.image_io import load_image
from segviewer.core.inference import DEFAULT_PIXEL_BUDGET, working_size
from segviewer.core.label_sets import NUM_LABEL_CODES, SOFT_BASE, soften
from training.copy_paste import InstanceBank, find_instances, paste
from training.pseudo_labels import TeacherLabels, apply_teacher

NUM_CLASSES = NUM_TRAIN_CLASSES
IGNORE = VOID_TRAIN_ID
NO_FOCUS = (-1, -1)


UNLABELLED = "unlabelled"


def unlabelled_samples(*folders: Path) -> list[Sample]:
    """Every image below ``folders`` as a sample without labels (all void): with a
    teacher (``--distill``) they still teach, through its soft targets."""
    from segviewer.core.file_search import find_images

    samples = []
    for folder in folders:
        samples += [Sample(path, None, UNLABELLED) for path in find_images(Path(folder), recursive=True).files]
    return samples


@dataclass
class LoadedSample:
    image: np.ndarray   # uint8 (H, W, 3)
    label: np.ndarray   # uint8 (H, W) training codes: train IDs, set labels, soft codes, 255 void
    layout: str
    scene: str = ""     # near-duplicate frames share one (Cityscapes snippets)
    coarse: bool = False
    # Up to FOCUS_POINTS_PER_CLASS (row, col) pixels of each rare class in this image,
    # filled by :func:`attach_focus_points`; crops are centred on them sometimes.
    focus: dict[int, np.ndarray] = field(default_factory=dict)


def load_samples(samples: list[Sample], teacher: TeacherLabels | None = None,
                 teacher_uses: set[str] | frozenset[str] = frozenset(),
                 teacher_skip: frozenset[int] = frozenset()) -> list[LoadedSample]:
    """Images and training codes in memory. Machine-made (coarse) labels become soft
    codes; with ``teacher``, its labels join the human ones as ``teacher_uses`` say
    (:func:`training.pseudo_labels.apply_teacher`)."""
    loaded = []
    for sample in samples:
        image = load_image(sample.image)
        if sample.label is None:  # an unlabelled frame: only a teacher can teach with it
            codes = np.full(image.shape[:2], IGNORE, np.uint8)
        else:
            codes = sample.read_training_codes()
        if sample.coarse:
            codes = soften(codes)
        elif teacher is not None and teacher_uses:
            view = teacher.view(sample.image)
            if view is not None:
                codes = apply_teacher(codes, view, set(teacher_uses), sample.layout, teacher_skip)
        loaded.append(LoadedSample(image, codes, sample.layout, sample.scene, sample.coarse))
    return loaded


def code_weights(samples: list[LoadedSample], repeats: dict[str, int], soft_weight: float = 0.5,
                 offset: float = 1.05) -> np.ndarray:
    """ENet-style weights 1 / ln(offset + frequency) for every training code (train IDs and
    set labels alike): at the default offset 1.05 a code covering 30 % of pixels weighs 3.3,
    a vanishing one 20.5 (before normalising to mean 1 over the codes that occur); a larger
    offset flattens them (1.5: 1.7 against 2.5). A soft code counts towards its class's
    frequency and weighs ``soft_weight`` times that class.

    Returns ``float32[256]``, indexed by code."""
    counts = np.zeros(256, np.float64)
    for sample in samples:
        counts += np.bincount(sample.label.ravel(), minlength=256) * repeats.get(repeat_key(sample), 1)
    soft = counts[SOFT_BASE:SOFT_BASE + NUM_CLASSES].copy()
    counts = counts[:NUM_LABEL_CODES]
    counts[:NUM_CLASSES] += soft
    frequency = counts / max(counts.sum(), 1.0)
    weights = 1.0 / np.log(offset + frequency)
    weights[counts == 0] = 1.0
    weights = weights / weights[counts > 0].mean()
    table = np.ones(256, np.float32)
    table[:NUM_LABEL_CODES] = weights
    table[SOFT_BASE:SOFT_BASE + NUM_CLASSES] = soft_weight * weights[:NUM_CLASSES]
    return table


def _shares_scene(sample: LoadedSample) -> bool:
    return sample.coarse or sample.layout == UNLABELLED


def scene_factors(samples: list[LoadedSample]) -> np.ndarray:
    """Frames from video snippets share their scene's weight (a snippet's near-duplicate
    frames together count as one image): coarse Cityscapes frames and unlabelled frames;
    every other image 1."""
    per_scene: dict[str, int] = {}
    for sample in samples:
        if _shares_scene(sample):
            per_scene[sample.scene] = per_scene.get(sample.scene, 0) + 1
    return np.array([1.0 / per_scene[s.scene] if _shares_scene(s) else 1.0 for s in samples])


# A class counts as present in an image from this many labelled pixels on.
MIN_CLASS_PIXELS = 64
FOCUS_POINTS_PER_CLASS = 512


def class_pixel_counts(codes: np.ndarray) -> np.ndarray:
    """Pixels of each train class labelled exactly, soft (lower-trust) labels included;
    set labels do not count: a CamVid "Car" is no example of a truck."""
    counts = np.bincount(codes.ravel(), minlength=256)
    return counts[:NUM_CLASSES] + counts[SOFT_BASE:SOFT_BASE + NUM_CLASSES]


def class_repeat_factors(samples: list[LoadedSample], threshold: float) -> np.ndarray:
    """Repeat-factor sampling (Gupta et al., LVIS 2019): a class in a fraction ``f`` of the
    training images gets ``r = max(1, sqrt(threshold / f))``. Only exact labels count:
    a CamVid "Car" set label is no example of a truck."""
    images_with = np.zeros(NUM_CLASSES, np.float64)
    for sample in samples:
        images_with += class_pixel_counts(sample.label) >= MIN_CLASS_PIXELS
    fraction = images_with / max(len(samples), 1)
    with np.errstate(divide="ignore"):
        factors = np.sqrt(threshold / fraction)
    return np.where(fraction > 0, np.maximum(1.0, factors), 1.0)


def image_repeat_factors(samples: list[LoadedSample], class_factors: np.ndarray) -> np.ndarray:
    """Each image's factor: the largest factor of the classes it shows."""
    factors = np.ones(len(samples))
    for index, sample in enumerate(samples):
        present = class_pixel_counts(sample.label) >= MIN_CLASS_PIXELS
        if present.any():
            factors[index] = class_factors[present].max()
    return factors


def attach_focus_points(samples: list[LoadedSample], class_factors: np.ndarray,
                        rare_from: float = 1.5, seed: int = 0) -> None:
    """Remember where the rare classes (factor >= ``rare_from``) lie in each image."""
    rng = np.random.default_rng(seed)
    rare = set(np.flatnonzero(class_factors >= rare_from).tolist())
    for sample in samples:
        sample.focus = {}
        for train_id in rare:
            rows, cols = np.nonzero((sample.label == train_id) | (sample.label == SOFT_BASE + train_id))
            if len(rows) < MIN_CLASS_PIXELS:
                continue
            pick = rng.choice(len(rows), min(len(rows), FOCUS_POINTS_PER_CLASS), replace=False)
            sample.focus[train_id] = np.stack([rows[pick], cols[pick]], axis=1).astype(np.int32)


def _random_rotate(image, label, max_degrees: float):
    angle = tf.random.uniform([], -max_degrees, max_degrees) * math.pi / 180.0
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    # Projective transform mapping output -> input coordinates, rotation about the centre.
    transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy,
                          sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0])[None]
    shape = tf.shape(image)[:2]

    def warp(values, interpolation, fill):
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=values[None], transforms=transform, output_shape=shape,
            fill_value=fill, interpolation=interpolation, fill_mode="CONSTANT")[0]

    image = warp(image, "BILINEAR", 0.0)
    label = warp(label, "NEAREST", float(IGNORE))
    return image, label


def augment(image, label, crop: tuple[int, int], pixel_budget: int = DEFAULT_PIXEL_BUDGET,
            focus=None, max_upscale: float = 1.0):
    """Random scale around the working scale (:func:`working_size` with ``pixel_budget``
    and ``max_upscale``), rotation, crop, flip and colour jitter.

    ``focus`` (row, col in the original image; negative = none) centres the crop near
    that pixel (jittered by up to a quarter crop), so rare objects land in the crop.
    """
    if focus is None:
        focus = tf.constant(NO_FOCUS, tf.int32)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    base_scale = tf.minimum(max_upscale, tf.sqrt(pixel_budget / (shape[0] * shape[1])))
    scale = base_scale * tf.exp(tf.random.uniform([], math.log(0.7), math.log(1.5)))
    size = tf.cast(tf.round(shape * scale), tf.int32)
    image = tf.image.resize(tf.cast(image, tf.float32), size, "bilinear", antialias=True)
    label = tf.image.resize(tf.cast(label[..., None], tf.float32), size, "nearest")
    image, label = _random_rotate(image, label, 5.0)
    # Pad to the crop size (void labels), then crop image and label together.
    pad_h = tf.maximum(crop[0] - size[0], 0)
    pad_w = tf.maximum(crop[1] - size[1], 0)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]])
    label = tf.pad(label - IGNORE, [[0, pad_h], [0, pad_w], [0, 0]]) + IGNORE
    stacked = tf.concat([image, label], -1)
    room = tf.shape(stacked)[:2] - tf.constant(crop, tf.int32)
    random_offset = tf.cast(tf.floor(tf.random.uniform([2]) * tf.cast(room + 1, tf.float32)), tf.int32)
    jitter = tf.random.uniform([2], -0.25, 0.25) * tf.constant(crop, tf.float32)
    centred = tf.cast(tf.round(tf.cast(focus, tf.float32) * scale - tf.constant(crop, tf.float32) / 2 + jitter),
                      tf.int32)
    offset = tf.where(focus[0] >= 0, tf.clip_by_value(centred, 0, room), random_offset)
    stacked = tf.slice(stacked, tf.concat([offset, [0]], 0), [crop[0], crop[1], 4])
    stacked = tf.image.random_flip_left_right(stacked)
    image, label = stacked[..., :3], stacked[..., 3]
    image = tf.image.random_brightness(image, 25.0)
    image = tf.image.random_contrast(image, 0.75, 1.25)
    image = tf.image.random_saturation(image, 0.75, 1.25)
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    return image, tf.cast(label, tf.uint8)


def sampling_order(samples: list[LoadedSample], repeats: dict[str, int],
                   image_factors: np.ndarray | None = None, rng: np.random.Generator | None = None) -> list[int]:
    """Sample indices for one epoch: each image ``repeats[key] x its factor`` times, the
    key being its layout (``cityscapes_coarse`` for coarse frames). The fractional part of
    a count is kept with that probability: drawn with ``rng`` (a new draw each epoch),
    else fixed by index. An image whose count is below 1 may sit an epoch out."""
    factors = np.ones(len(samples)) if image_factors is None else np.asarray(image_factors)
    order = []
    for index, sample in enumerate(samples):
        copies = repeats.get(repeat_key(sample), 1) * factors[index]
        whole = int(copies)
        threshold = rng.random() if rng is not None else (index * 0.618034) % 1.0
        order += [index] * (whole + (1 if (copies - whole) > threshold else 0))
    return order


def repeat_key(sample: LoadedSample) -> str:
    return "cityscapes_coarse" if sample.coarse else sample.layout


def training_dataset(samples: list[LoadedSample], repeats: dict[str, int], batch_size: int,
                     crop: tuple[int, int], seed: int = 0, image_factors: np.ndarray | None = None,
                     focus_probability: float = 0.0, bank: InstanceBank | None = None,
                     paste_probability: float = 0.0, pixel_budget: int = DEFAULT_PIXEL_BUDGET,
                     max_upscale: float = 1.0) -> tf.data.Dataset:
    """Infinite shuffled batches of augmented crops; one "epoch" = :func:`sampling_order`.

    With ``focus_probability`` p, a crop from an image that holds a rare class is centred
    on one of its pixels (class chosen uniformly among the image's rare classes). With
    ``paste_probability`` q, one or two instances from ``bank`` are pasted into the image
    first (see :mod:`training.copy_paste`), and the crop is centred on the last one
    with probability p."""
    def generate():
        rng = np.random.default_rng(seed)
        while True:
            for index in rng.permutation(sampling_order(samples, repeats, image_factors, rng)):
                sample = samples[index]
                image, label = sample.image, sample.label
                focus = NO_FOCUS
                if sample.focus and rng.random() < focus_probability:
                    points = sample.focus[rng.choice(sorted(sample.focus))]
                    focus = tuple(points[rng.integers(len(points))])
                if bank is not None and len(bank) and rng.random() < paste_probability:
                    image, label, centre = _paste_some(image, label, bank, rng)
                    if centre is not None and rng.random() < focus_probability:
                        focus = centre
                yield image, label, np.asarray(focus, np.int32)

    dataset = tf.data.Dataset.from_generator(
        generate, output_signature=(tf.TensorSpec([None, None, 3], tf.uint8),
                                    tf.TensorSpec([None, None], tf.uint8),
                                    tf.TensorSpec([2], tf.int32)))
    return (dataset.map(lambda image, label, focus: augment(image, label, crop, pixel_budget, focus, max_upscale),
                        num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


def _paste_some(image: np.ndarray, label: np.ndarray, bank: InstanceBank,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[int, int] | None]:
    centre = None
    for _ in range(int(rng.integers(1, 3))):
        pasted = paste(image, label, bank.draw(rng), rng)
        if pasted is not None:
            image, label, centre = pasted
    return image, label, centre


def instance_bank(samples: list[LoadedSample]) -> InstanceBank:
    """The rare-object instances of the training images, for copy-paste."""
    return InstanceBank([instance for sample in samples
                         for instance in find_instances(sample.image, sample.label)])


def pipeline_images_per_second(dataset: tf.data.Dataset, batches: int = 10) -> float:
    """Augmented training images per second the input pipeline delivers on its own
    (after one warm-up batch)."""
    import time

    iterator = iter(dataset)
    first = next(iterator)
    batch_size = int(first[0].shape[0])
    started = time.perf_counter()
    for _ in range(max(batches, 1)):
        next(iterator)
    return max(batches, 1) * batch_size / max(time.perf_counter() - started, 1e-9)


def steps_per_epoch(samples: list[LoadedSample], repeats: dict[str, int], batch_size: int,
                    image_factors: np.ndarray | None = None) -> int:
    return max(1, len(sampling_order(samples, repeats, image_factors)) // batch_size)


def _to_working_scale(sample: LoadedSample, pixel_budget: int, max_upscale: float) -> tuple[np.ndarray, np.ndarray]:
    """Validation input at the size the viewer feeds the network."""
    size = working_size(*sample.label.shape, pixel_budget, max_upscale)
    image = tf.image.resize(sample.image, size, "bilinear", antialias=True)
    label = tf.image.resize(sample.label[..., None], size, "nearest")[..., 0]
    return np.round(image.numpy()).astype(np.uint8), label.numpy().astype(np.uint8)


def validation_dataset(samples: list[LoadedSample], pixel_budget: int = DEFAULT_PIXEL_BUDGET,
                       replicas: int = 1, max_upscale: float = 1.0) -> tf.data.Dataset:
    """Pre-scaled, cached validation batches.

    One replica: batches of one image (sizes differ, no padding). With several replicas
    every replica needs an image, so images are padded (void labels) to a common size,
    batched ``replicas`` at a time, and the list is topped up by repeating its first
    images to fill the last batch.
    """
    pairs = [_to_working_scale(s, pixel_budget, max_upscale) for s in samples]
    if replicas > 1:
        height = max(image.shape[0] for image, _ in pairs)
        width = max(image.shape[1] for image, _ in pairs)
        pairs = [(np.pad(image, ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0))),
                  np.pad(label, ((0, height - label.shape[0]), (0, width - label.shape[1])), constant_values=IGNORE))
                 for image, label in pairs]
        pairs += pairs[: (-len(pairs)) % replicas]

    def generate():
        yield from pairs

    return (tf.data.Dataset.from_generator(
        generate, output_signature=(tf.TensorSpec([None, None, 3], tf.uint8),
                                    tf.TensorSpec([None, None], tf.uint8)))
            .batch(replicas).cache().prefetch(tf.data.AUTOTUNE))
