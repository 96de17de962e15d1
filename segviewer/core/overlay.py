"""Compose a train-ID mask over its image.

All per-class state (colour, visibility, solo, opacity, mode) lives in one 256-entry
RGBA lookup table, rebuilt only when that state changes. Composing is then two C passes
in Pillow (palette lookup, masked blend) with no per-class loop, so a toggle or opacity
change re-blends a 12 MP photo in tens of milliseconds and never touches the model.
"""

from __future__ import annotations

import enum

import numpy as np
from PIL import Image

from segviewer.core.classes import TRANSPARENT_INDEX, ClassTable, load_class_table


class OverlayMode(enum.Enum):
    FILL = "fill"
    CONTOUR = "contour"
    MASK_ONLY = "mask"
    IMAGE_ONLY = "image"


def class_boundaries(train_ids: np.ndarray) -> np.ndarray:
    """``train_ids`` where a pixel touches a different class (4-neighbourhood), else
    :data:`TRANSPARENT_INDEX`; drawn through the same LUT, this gives contours."""
    edge = np.zeros(train_ids.shape, dtype=bool)
    horizontal = train_ids[:, 1:] != train_ids[:, :-1]
    vertical = train_ids[1:, :] != train_ids[:-1, :]
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    return np.where(edge, train_ids, TRANSPARENT_INDEX).astype(np.uint8)


class OverlayRenderer:
    """Holds the overlay settings and composes frames from them.

    The class-visibility set survives :meth:`set_frame`, so it persists across images.
    """

    def __init__(self, table: ClassTable | None = None) -> None:
        self.table = table or load_class_table()
        self._train_ids = [c.train_id for c in self.table]
        self._visible = {train_id: True for train_id in self._train_ids}
        self._opacity = 0.5
        self._mode = OverlayMode.FILL
        self._lut: np.ndarray | None = None
        self._image: Image.Image | None = None
        self._mask: Image.Image | None = None
        self._contour: Image.Image | None = None
        self._mask_array: np.ndarray | None = None

    # -- settings -------------------------------------------------------------------
    @property
    def opacity(self) -> float:
        return self._opacity

    def set_opacity(self, opacity: float) -> None:
        self._opacity = min(max(float(opacity), 0.0), 1.0)
        self._lut = None

    @property
    def mode(self) -> OverlayMode:
        return self._mode

    def set_mode(self, mode: OverlayMode) -> None:
        self._mode = OverlayMode(mode)
        self._lut = None

    def is_visible(self, train_id: int) -> bool:
        return self._visible[train_id]

    def visible_ids(self) -> set[int]:
        return {t for t, shown in self._visible.items() if shown}

    def set_visible(self, train_id: int, visible: bool) -> None:
        if train_id not in self._visible:
            raise KeyError(f"unknown train ID {train_id}")
        self._visible[train_id] = bool(visible)
        self._lut = None

    def set_visible_ids(self, train_ids: set[int]) -> None:
        for train_id in self._visible:
            self._visible[train_id] = train_id in train_ids
        self._lut = None

    def show_all(self) -> None:
        self.set_visible_ids(set(self._train_ids))

    def hide_all(self) -> None:
        self.set_visible_ids(set())

    def invert(self) -> None:
        self.set_visible_ids(set(self._train_ids) - self.visible_ids())

    def solo(self, train_id: int) -> None:
        self.set_visible_ids({train_id})

    # -- lookup table -----------------------------------------------------------------
    @property
    def lut(self) -> np.ndarray:
        """``uint8[256, 4]``: RGB colour and blend alpha for every mask value."""
        if self._lut is None:
            self._lut = self._build_lut()
        return self._lut

    def _build_lut(self) -> np.ndarray:
        lut = np.zeros((256, 4), np.uint8)
        lut[:, :3] = self.table.train_to_color
        if self._mode is OverlayMode.IMAGE_ONLY:
            return lut
        alpha = 255 if self._mode is OverlayMode.MASK_ONLY else round(self._opacity * 255)
        for train_id, shown in self._visible.items():
            lut[train_id, 3] = alpha if shown else 0
        lut[TRANSPARENT_INDEX, 3] = 0
        return lut

    # -- composing ----------------------------------------------------------------------
    def set_frame(self, image: np.ndarray | Image.Image, train_ids: np.ndarray) -> None:
        """Set the image (RGB) and its train-ID mask (same height and width)."""
        base = image if isinstance(image, Image.Image) else Image.fromarray(image, "RGB")
        if train_ids.shape != (base.height, base.width):
            raise ValueError(f"mask {train_ids.shape} does not match image {base.height}x{base.width}")
        self._image = base
        self._mask_array = np.ascontiguousarray(train_ids, dtype=np.uint8)
        self._mask = Image.fromarray(self._mask_array, "L")
        self._contour = None

    def class_fractions(self) -> dict[int, float]:
        """Share of the current frame's pixels per train ID (void included)."""
        if self._mask_array is None:
            return {t: 0.0 for t in self._train_ids}
        counts = np.bincount(self._mask_array.ravel(), minlength=256)
        total = max(int(self._mask_array.size), 1)
        return {t: counts[t] / total for t in self._train_ids}

    def compose(self) -> Image.Image:
        """The current frame drawn with the current settings (RGB)."""
        if self._image is None or self._mask is None:
            raise RuntimeError("no frame set")
        lut = self.lut
        if not lut[:, 3].any():
            return self._image.copy()
        mask = self._mask
        if self._mode is OverlayMode.CONTOUR:
            if self._contour is None:
                self._contour = Image.fromarray(class_boundaries(self._mask_array), "L")
            mask = self._contour
        colours = mask.convert("P")
        colours.putpalette(lut[:, :3].tobytes(), rawmode="RGB")
        alpha = mask.point(lut[:, 3].tolist())
        return Image.composite(colours.convert("RGB"), self._image, alpha)


def compose_overlay(image: np.ndarray, train_ids: np.ndarray, opacity: float = 0.5,
                    mode: OverlayMode = OverlayMode.FILL, visible: set[int] | None = None) -> np.ndarray:
    """One-shot helper for the CLIs: the overlay as a ``(H, W, 3)`` uint8 array."""
    renderer = OverlayRenderer()
    renderer.set_opacity(opacity)
    renderer.set_mode(mode)
    if visible is not None:
        renderer.set_visible_ids(visible)
    renderer.set_frame(image, train_ids)
    return np.asarray(renderer.compose())


__all__ = ["OverlayMode", "OverlayRenderer", "class_boundaries", "compose_overlay"]
