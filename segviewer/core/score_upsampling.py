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
from PIL import Image


def source_coordinates(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output index along one axis: (lower source index, upper source index,
    weight of the upper one), exactly as TensorFlow's half-pixel-centre bilinear resize."""
    position = (np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    floor = np.floor(position)
    lower = np.clip(floor, 0, in_size - 1).astype(np.intp)
    upper = np.clip(np.ceil(position), 0, in_size - 1).astype(np.intp)
    return lower, upper, (position - floor).astype(np.float32)


# Mixed quads are settled this many at a time: about 16,000 output pixels, whose working
# arrays (a few hundred KB each) stay in a core's L2 cache. One pass over all of a KITTI
# frame's quads took 16 ms on the bench's frame, chunks of 1,024 take 10.6 (same IDs).
QUADS_PER_CHUNK = 1024


def upsampled_argmax(logits: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """(h, w, C) float class scores -> uint8 (H, W) class IDs at ``out_size``: the argmax
    of the bilinearly resized scores (see the module docstring)."""
    height, width, _classes = logits.shape
    coarse_ids = np.argmax(logits, axis=-1).astype(np.uint8)
    grid = _Grid(out_size, height, width)
    # A quad is a coarse cell with its lower-right neighbours (clamped at the border); it
    # is mixed when they disagree.
    right = coarse_ids[:, grid.right_cols]
    mixed = ((coarse_ids != right) | (coarse_ids != coarse_ids[grid.below_rows])
             | (coarse_ids != right[grid.below_rows]))
    ids = coarse_ids[grid.rows_lo][:, grid.cols_lo]
    # An output pixel interpolates within the quad of cell (lo, lo): pixels of uniform
    # quads are settled, the others need their scores interpolated.
    quad_rows, quad_cols = np.nonzero(mixed)
    for first in range(0, quad_rows.size, QUADS_PER_CHUNK):
        chunk = slice(first, first + QUADS_PER_CHUNK)
        _settle_quads(ids, logits, quad_rows[chunk], quad_cols[chunk], grid)
    return ids


class _Grid:
    """Where each output row and column reads the coarse scores (TensorFlow's half-pixel
    bilinear resize), and each cell's lower and right neighbours (clamped)."""

    def __init__(self, out_size: tuple[int, int], height: int, width: int) -> None:
        self.rows_lo, self.rows_hi, self.row_weight = source_coordinates(out_size[0], height)
        self.cols_lo, self.cols_hi, self.col_weight = source_coordinates(out_size[1], width)
        self.below_rows = np.minimum(np.arange(height) + 1, height - 1)
        self.right_cols = np.minimum(np.arange(width) + 1, width - 1)
        # ``rows_lo`` and ``cols_lo`` never decrease, so each coarse row (column) owns one
        # run of output rows (columns): where each run starts, and one past the last.
        self.row_start = np.searchsorted(self.rows_lo, np.arange(height + 1))
        self.col_start = np.searchsorted(self.cols_lo, np.arange(width + 1))


def _settle_quads(ids: np.ndarray, logits: np.ndarray, quad_rows: np.ndarray, quad_cols: np.ndarray,
                  grid: _Grid) -> None:
    """Write into ``ids`` the class of every output pixel of the given mixed quads."""
    classes = logits.shape[-1]
    quad, ys, xs = _pixels_of_quads(quad_rows, quad_cols, grid)
    if not ys.size:
        return
    right_cols, below_rows = grid.right_cols, grid.below_rows
    corner_scores = np.stack([logits[quad_rows, quad_cols], logits[quad_rows, right_cols[quad_cols]],
                              logits[below_rows[quad_rows], quad_cols],
                              logits[below_rows[quad_rows], right_cols[quad_cols]]])  # (4, quads, C)
    # Where lo == hi (the clamped border) a pixel reads one cell: weight 0 does that.
    wx = np.where(grid.cols_hi[xs] == grid.cols_lo[xs], np.float32(0), grid.col_weight[xs])
    wy = np.where(grid.rows_hi[ys] == grid.rows_lo[ys], np.float32(0), grid.row_weight[ys])
    rivals, few = _rival_classes(corner_scores)
    everyone = np.broadcast_to(np.arange(classes), (len(few), classes))
    # Nearly every quad has at most MAX_RIVALS classes that can win in it; the others
    # (junctions of several classes) compare all scores.
    for group, candidates in ((few, rivals), (~few, everyone)):
        members = np.flatnonzero(group)
        if not members.size:
            continue
        candidates = candidates[members]                               # (M, K)
        # (4, K, M): rival-major, so the arithmetic below runs along the pixels.
        table = np.take_along_axis(corner_scores[:, members], candidates[None], axis=2).transpose(0, 2, 1).copy()
        local = np.full(len(few), -1, np.intp)
        local[members] = np.arange(members.size)
        local = local[quad]
        pixels = local >= 0
        local = local[pixels]
        top_left, top_right, bottom_left, bottom_right = (np.take(corner, local, axis=1) for corner in table)
        wxp, wyp = wx[pixels], wy[pixels]
        upper = top_left + (top_right - top_left) * wxp
        lower = bottom_left + (bottom_right - bottom_left) * wxp
        winner = np.argmax(upper + (lower - upper) * wyp, axis=0)
        ids[ys[pixels], xs[pixels]] = candidates[local, winner]


def _pixels_of_quads(quad_rows: np.ndarray, quad_cols: np.ndarray,
                     grid: _Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The output pixels (quad index, row, column) whose lower source cell is one of the
    given quads, enumerated quad by quad from the runs of output rows and columns each
    coarse cell owns (``grid.row_start``, ``grid.col_start``), without scanning the
    full-size image."""
    row_count = np.diff(grid.row_start)[quad_rows]
    col_count = np.diff(grid.col_start)[quad_cols]
    per_quad = row_count * col_count
    quad = np.repeat(np.arange(len(quad_rows)), per_quad)
    offset = np.arange(quad.size) - np.repeat(np.cumsum(per_quad) - per_quad, per_quad)
    columns = col_count[quad]
    ys = grid.row_start[quad_rows][quad] + offset // np.maximum(columns, 1)
    xs = grid.col_start[quad_cols][quad] + offset % np.maximum(columns, 1)
    return quad, ys, xs


MAX_RIVALS = 4


def _rival_classes(corner_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each quad (corner scores ``(4, quads, C)``): the classes that can win anywhere
    inside it, as (rivals[quads, MAX_RIVALS], few[quads]). ``rivals`` lists them in
    ascending order padded with the first (so ties still go to the lowest class, as with
    ``np.argmax``) and is valid where ``few`` (at most MAX_RIVALS can win).

    An interpolated score vector is a convex combination of the corner vectors, so its
    winner ``m`` scores at least ``min over corners of v[c]`` for every class ``c`` and at
    most ``max over corners of v[m]``: a class whose best corner score is below the
    largest corner-minimum can never win there.
    """
    floor = corner_scores.min(axis=0).max(axis=-1, keepdims=True)
    can_win = corner_scores.max(axis=0) >= floor
    classes = can_win.shape[-1]
    ranked = np.sort(np.where(can_win, np.arange(classes), classes), axis=-1)[:, :MAX_RIVALS]
    rivals = np.where(ranked == classes, ranked[:, :1], ranked)
    return rivals, can_win.sum(axis=-1) <= MAX_RIVALS


def confidence_bytes(confidence: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """Coarse max-softmax (h, w) floats -> uint8 (H, W), x 255, resized bilinearly.

    Quantised before resizing: Pillow resizes 8-bit planes about 3x faster than floats,
    and the result differs from resizing the floats by at most one level of 255."""
    coarse = np.clip(np.rint(np.asarray(confidence, np.float32) * 255.0), 0, 255).astype(np.uint8)
    if coarse.shape == tuple(out_size):
        return coarse
    return np.asarray(Image.fromarray(coarse, "L").resize((out_size[1], out_size[0]), Image.BILINEAR))
