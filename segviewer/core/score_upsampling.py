"""Class IDs at full size from the network's coarse class scores, as if the scores had
been resized bilinearly (``tf.image.resize``, half-pixel centres) before the argmax, but
without resizing them.

Bilinear interpolation is a weighted mean with non-negative weights of four neighbouring
score vectors. If all four have their maximum at the same class, so has the mean: every
output pixel between four coarse cells of one class gets that class without any
arithmetic. Only pixels touching a class boundary need their scores interpolated, a small
fraction of the image. The answer equals the full resize's argmax (up to exact ties), at
a fraction of the cost: a KITTI frame scored at 375 x 1242 from 96 x 320 logits would
otherwise resize 19 planes of 466,000 pixels.

Both backends share this, so TensorFlow and LiteRT differ only in the network itself.
"""

from __future__ import annotations

import numpy as np


def source_coordinates(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output index along one axis: (lower source index, upper source index,
    weight of the upper one), exactly as TensorFlow's half-pixel-centre bilinear resize."""
    position = (np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    floor = np.floor(position)
    lower = np.clip(floor, 0, in_size - 1).astype(np.intp)
    upper = np.clip(np.ceil(position), 0, in_size - 1).astype(np.intp)
    return lower, upper, (position - floor).astype(np.float32)


def resize_bilinear(plane: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """A float (h, w) plane resized bilinearly (half-pixel centres), separably."""
    rows_lo, rows_hi, row_weight = source_coordinates(out_size[0], plane.shape[0])
    cols_lo, cols_hi, col_weight = source_coordinates(out_size[1], plane.shape[1])
    rows = plane[rows_lo] * (1 - row_weight)[:, None] + plane[rows_hi] * row_weight[:, None]
    return rows[:, cols_lo] * (1 - col_weight) + rows[:, cols_hi] * col_weight


def upsampled_argmax(logits: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """(h, w, C) float class scores -> uint8 (H, W) class IDs at ``out_size``: the argmax
    of the bilinearly resized scores (see the module docstring)."""
    height, width = logits.shape[:2]
    coarse_ids = np.argmax(logits, axis=-1).astype(np.uint8)
    rows_lo, rows_hi, row_weight = source_coordinates(out_size[0], height)
    cols_lo, cols_hi, col_weight = source_coordinates(out_size[1], width)
    # A coarse cell is mixed when its lower-right neighbours (clamped at the border) differ.
    right = coarse_ids[:, np.minimum(np.arange(width) + 1, width - 1)]
    below = coarse_ids[np.minimum(np.arange(height) + 1, height - 1)]
    below_right = right[np.minimum(np.arange(height) + 1, height - 1)]
    mixed = (coarse_ids != right) | (coarse_ids != below) | (coarse_ids != below_right)
    ids = coarse_ids[rows_lo][:, cols_lo]
    # An output pixel interpolates cells (lo, lo)..(hi, hi); hi is lo or lo + 1, so the cell
    # at (lo, lo) being uniform with its lower-right neighbours settles it.
    ys, xs = np.nonzero(mixed[rows_lo][:, cols_lo])
    if ys.size:
        flat = logits.reshape(-1, logits.shape[-1])
        top, bottom = rows_lo[ys] * width, rows_hi[ys] * width
        left, right_ = cols_lo[xs], cols_hi[xs]
        wx = col_weight[xs, None]
        upper = flat[top + left]
        upper += (flat[top + right_] - upper) * wx
        lower = flat[bottom + left]
        lower += (flat[bottom + right_] - lower) * wx
        upper += (lower - upper) * row_weight[ys, None]
        ids[ys, xs] = np.argmax(upper, axis=-1)
    return ids


def confidence_bytes(confidence: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """Coarse max-softmax (h, w) floats -> uint8 (H, W), x 255, resized bilinearly."""
    scaled = resize_bilinear(np.asarray(confidence, np.float32), out_size)
    return np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)
