"""A model card (the JSON beside a model) rendered for people: every field, nested ones
included, with readable labels; used by Help > About."""

from __future__ import annotations

import html
from typing import Any

# Keys whose generic "snake case -> words" label would read badly.
_LABELS = {
    "gmacs_375x1242": "GMACs at 375x1242 (a full KITTI frame)",
    "gmacs_working_size": "GMACs at the working size",
    "miou": "Mean IoU",
    "per_class": "IoU per class",
    "kitti": "KITTI",
    "camvid": "CamVid",
    "camvid32": "CamVid, frames with 32-class labels",
    "cityscapes": "Cityscapes",
    "in_set": "Share predicted in the set",
    "median_ms_per_image": "Median ms per image",
    "wall_minutes": "Wall time (minutes)",
}
# Fractions shown as percentages.
_PERCENT_KEYS = {"miou", "pixel_accuracy", "in_set"}


def label_for(key: str) -> str:
    if key in _LABELS:
        return _LABELS[key]
    words = key.replace("_", " ")
    return words[:1].upper() + words[1:]


def _value_html(key: str, value: Any, in_per_class: bool) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and (key in _PERCENT_KEYS or in_per_class):
        return f"{value * 100:.1f} %"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10000:
        return f"{value:,}"
    if isinstance(value, list):
        return html.escape(", ".join(str(v) for v in value))
    return html.escape(str(value))


def card_html(card: dict[str, Any], _per_class: bool = False) -> str:
    """Nested HTML lists of every field of ``card``; empty string for an empty card."""
    if not card:
        return ""
    items = []
    for key, value in card.items():
        label = html.escape(label_for(str(key)) if not _per_class else str(key))
        if isinstance(value, dict):
            items.append(f"<li><b>{label}</b>{card_html(value, key == 'per_class')}</li>")
        else:
            items.append(f"<li><b>{label}:</b> {_value_html(str(key), value, _per_class)}</li>")
    return "<ul>" + "".join(items) + "</ul>"
