"""Copy-paste augmentation of rare objects (Ghiasi et al., "Simple Copy-Paste", 2021).

KITTI and CamVid hold a few dozen trucks, buses, trains, motorcycles, bicycles and riders
between them; every crop the network sees without one teaches "not truck" a little more.
Pasting the real instances (their pixels and their labels, nothing else) into other
training images shows each of them in many scenes.

An *instance* is a blob of one group's codes in a training label: a run of image columns
that hold the group, with a gap of at least :data:`COLUMN_GAP` pixels to the next run
(road scenes seldom stack two objects of one rare group vertically, and this needs no
connected-component library). Groups keep objects whole: a rider travels with the
bicycle or motorcycle under it.

A pasted instance keeps its size relative to the image height and the height of its
bottom edge above the image bottom (so it stands on the road as in its own frame); its
column is random, it is mirrored half the time and scaled by a further 0.8-1.25.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from segviewer.core.classes import VOID_TRAIN_ID
from segviewer.core.label_sets import BICYCLE, BUS, LABEL_SETS, MOTORCYCLE, RIDER, TRAIN, TRUCK

# Groups of codes pasted together; set codes whose members all belong to a group join it.
_GROUP_CLASSES: tuple[frozenset[int], ...] = (
    frozenset({TRUCK, BUS, TRAIN}),
    frozenset({RIDER, MOTORCYCLE, BICYCLE}),
)
PASTE_GROUPS: tuple[tuple[int, ...], ...] = tuple(
    tuple(sorted(group | {code for code, members in LABEL_SETS.items() if set(members) <= group}))
    for group in _GROUP_CLASSES)

MIN_INSTANCE_PIXELS = 64
COLUMN_GAP = 8
SCALE_JITTER = (0.8, 1.25)


@dataclass(frozen=True)
class Instance:
    image: np.ndarray    # uint8 (h, w, 3): the bounding box in the source image
    label: np.ndarray    # uint8 (h, w): the instance's codes, VOID_TRAIN_ID elsewhere
    source_height: int   # height of the source image
    bottom_margin: float  # (source height - bottom row) / source height
    main_code: int       # the most frequent code in the instance


def _column_runs(columns: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """[start, stop) runs of the sorted column indices, split where a gap >= ``gap``."""
    breaks = np.flatnonzero(np.diff(columns) >= gap)
    starts = np.concatenate([[columns[0]], columns[breaks + 1]])
    stops = np.concatenate([columns[breaks], [columns[-1]]]) + 1
    return list(zip(starts.tolist(), stops.tolist()))


def find_instances(image: np.ndarray, label: np.ndarray,
                   min_pixels: int = MIN_INSTANCE_PIXELS) -> list[Instance]:
    """The rare-object instances of one labelled training image."""
    instances = []
    height = label.shape[0]
    for group in PASTE_GROUPS:
        in_group = np.isin(label, group)
        columns = np.flatnonzero(in_group.any(axis=0))
        if columns.size == 0:
            continue
        for start, stop in _column_runs(columns, COLUMN_GAP):
            rows = np.flatnonzero(in_group[:, start:stop].any(axis=1))
            top, bottom = int(rows[0]), int(rows[-1]) + 1
            mask = in_group[top:bottom, start:stop]
            if mask.sum() < min_pixels:
                continue
            patch_label = np.where(mask, label[top:bottom, start:stop], VOID_TRAIN_ID).astype(np.uint8)
            codes, counts = np.unique(patch_label[mask], return_counts=True)
            instances.append(Instance(
                image=image[top:bottom, start:stop].copy(), label=patch_label,
                source_height=height, bottom_margin=(height - bottom) / height,
                main_code=int(codes[np.argmax(counts)])))
    return instances


class InstanceBank:
    """Every rare instance of the training images; draws them balanced by code, so the
    one train in the data is pasted as often as all the buses together."""

    def __init__(self, instances: list[Instance]) -> None:
        self.instances = instances
        self._by_code: dict[int, list[int]] = {}
        for index, instance in enumerate(instances):
            self._by_code.setdefault(instance.main_code, []).append(index)
        self._codes = sorted(self._by_code)

    def __len__(self) -> int:
        return len(self.instances)

    def counts(self) -> dict[int, int]:
        return {code: len(indices) for code, indices in self._by_code.items()}

    def draw(self, rng: np.random.Generator) -> Instance:
        indices = self._by_code[self._codes[rng.integers(len(self._codes))]]
        return self.instances[indices[rng.integers(len(indices))]]


def paste(image: np.ndarray, label: np.ndarray, instance: Instance,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[int, int]] | None:
    """``image`` and ``label`` with ``instance`` pasted in place (copies), and the
    (row, col) of the pasted object's centre; None when it would not fit."""
    height, width = label.shape
    scale = height / instance.source_height * rng.uniform(*SCALE_JITTER)
    patch_h = max(1, round(instance.label.shape[0] * scale))
    patch_w = max(1, round(instance.label.shape[1] * scale))
    if patch_h >= height or patch_w >= width:
        return None
    patch_image = Image.fromarray(instance.image).resize((patch_w, patch_h), Image.BILINEAR)
    patch_label = Image.fromarray(instance.label).resize((patch_w, patch_h), Image.NEAREST)
    patch_image, patch_label = np.asarray(patch_image), np.asarray(patch_label)
    if rng.random() < 0.5:
        patch_image, patch_label = patch_image[:, ::-1], patch_label[:, ::-1]
    mask = patch_label != VOID_TRAIN_ID
    if mask.sum() == 0:
        return None
    bottom = int(round(height * (1.0 - instance.bottom_margin)))
    top = min(max(bottom - patch_h, 0), height - patch_h)
    left = int(rng.integers(0, width - patch_w + 1))
    image, label = image.copy(), label.copy()
    image[top:top + patch_h, left:left + patch_w][mask] = patch_image[mask]
    label[top:top + patch_h, left:left + patch_w][mask] = patch_label[mask]
    return image, label, (top + patch_h // 2, left + patch_w // 2)
