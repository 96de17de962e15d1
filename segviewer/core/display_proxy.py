"""What the viewer draws for a very big image: a reduced copy (every ``factor``-th pixel of
the masks, box-averaged pixels of the image) that a screen can show anyway. Composing and
toggling then cost what a normal frame costs, while the full-resolution mask stays for
the hover read-out, the metrics and saving. Qt-free; made on the model worker."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

# About a full-HD screen's worth: bigger frames are drawn reduced.
DISPLAY_PIXELS = 2_000_000


@dataclass(frozen=True)
class DisplayProxy:
    factor: int                        # one displayed pixel stands for factor x factor image pixels
    image: np.ndarray                  # (ceil(H / factor), ceil(W / factor), 3) uint8
    train_ids: np.ndarray | None = None
    truth: np.ndarray | None = None
    train_ids_b: np.ndarray | None = None  # model B's, when one is set

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.image, self.train_ids, self.truth, self.train_ids_b) if a is not None)


def display_factor(height: int, width: int, limit: int = DISPLAY_PIXELS) -> int:
    """1 for an image that is drawn as it is, else the smallest whole reduction that
    brings it within ``limit`` pixels."""
    return max(1, math.ceil(math.sqrt(height * width / limit))) if height * width > limit else 1


def shrink_mask(mask: np.ndarray, factor: int) -> np.ndarray:
    """Every ``factor``-th pixel (class IDs are never blended)."""
    return np.ascontiguousarray(mask[::factor, ::factor])


def make_proxy(image: np.ndarray, factor: int, train_ids: np.ndarray | None = None,
               truth: np.ndarray | None = None, train_ids_b: np.ndarray | None = None) -> DisplayProxy:
    height, width = -(-image.shape[0] // factor), -(-image.shape[1] // factor)
    small = np.asarray(Image.fromarray(image).reduce(factor))[:height, :width]
    return DisplayProxy(factor, np.ascontiguousarray(small),
                        None if train_ids is None else shrink_mask(train_ids, factor),
                        None if truth is None else shrink_mask(truth, factor),
                        None if train_ids_b is None else shrink_mask(train_ids_b, factor))
