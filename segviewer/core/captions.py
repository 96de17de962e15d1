"""Captions burnt into a composed frame (e.g. "Prediction" / "Ground truth" on the two
panes of a side-by-side comparison), so a screenshot or saved comparison says what it is."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MARGIN = 6


def _font(height: int) -> ImageFont.ImageFont:
    # Pillow's built-in font scales from 10.1 on; about 1/20 of the pane, 12-28 px.
    size = int(min(28, max(12, height / 20)))
    return ImageFont.load_default(size=size)


def draw_caption(rgb: np.ndarray, text: str) -> np.ndarray:
    """A copy of ``rgb`` with ``text`` in a dark box at its top-left corner."""
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    font = _font(rgb.shape[0])
    left, top, right, bottom = draw.textbbox((MARGIN * 2, MARGIN * 2), text, font=font)
    draw.rectangle((left - MARGIN, top - MARGIN, right + MARGIN, bottom + MARGIN), fill=(20, 20, 20))
    draw.text((MARGIN * 2, MARGIN * 2), text, fill=(245, 245, 245), font=font)
    return np.asarray(image)
