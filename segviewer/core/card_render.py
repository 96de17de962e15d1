"""A model card (the JSON beside a model) rendered for people, as Help > About shows it:
the model in a few lines, the data and their licences in a table, the validation
figures per set and per class in tables, and every other field below them. A field of
unexpected type is shown as text, never dropped and never an error."""

from __future__ import annotations

import html
from typing import Any

# Keys whose generic "snake case -> words" label would read badly.
_LABELS = {
    "gmacs_375x1242": "GMACs at 375x1242 (a full KITTI frame)",
    "gmacs_working_size": "GMACs at the working size",
    "gmacs_640x192": "GMACs at 640x192",
    "miou": "Mean IoU",
    "per_class": "IoU per class",
    "kitti": "KITTI",
    "camvid": "CamVid",
    "camvid32": "CamVid, frames with 32-class labels",
    "cityscapes": "Cityscapes",
    "bdd100k": "BDD100K",
    "in_set": "Share predicted in the set",
    "median_ms_per_image": "Median ms per image",
    "wall_minutes": "Wall time (minutes)",
}
# Fractions shown as percentages.
_PERCENT_KEYS = {"miou", "pixel_accuracy", "in_set"}
# Shown first, in this order, as "the model".
_MODEL_KEYS = ("name", "architecture", "input", "output", "parameters", "gmacs_375x1242", "gmacs_working_size",
               "encoder_weights")


def label_for(key: str) -> str:
    if key in _LABELS:
        return _LABELS[key]
    words = key.replace("_", " ")
    return words[:1].upper() + words[1:]


def _value_html(key: str, value: Any, in_per_class: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and (key in _PERCENT_KEYS or in_per_class):
        return f"{value * 100:.1f} %"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10000:
        return f"{value:,}"
    if isinstance(value, list):
        return html.escape(", ".join(str(v) for v in value))
    return html.escape(str(value))


def _nested_html(card: dict[str, Any], per_class: bool = False) -> str:
    """Nested HTML lists of every field (the fallback for fields without a table)."""
    items = []
    for key, value in card.items():
        label = html.escape(label_for(str(key)) if not per_class else str(key))
        if isinstance(value, dict):
            items.append(f"<li><b>{label}</b>{_nested_html(value, key == 'per_class')}</li>")
        else:
            items.append(f"<li><b>{label}:</b> {_value_html(str(key), value, per_class)}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _table(header: list[str] | None, rows: list[list[str]]) -> str:
    head = "<tr>" + "".join(f"<th align='left'>{cell}</th>" for cell in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table border='1' cellspacing='0' cellpadding='3'>{head}{body}</table>"


def _data_table(data: dict[str, Any]) -> str:
    rows = []
    for key, entry in data.items():
        if isinstance(entry, dict):
            rows.append([html.escape(label_for(str(key))), html.escape(str(entry.get("description", ""))),
                         html.escape(str(entry.get("licence", "")))])
        else:
            rows.append([html.escape(label_for(str(key))), html.escape(str(entry)), ""])
    return _table(["Data", "What", "Licence"], rows)


def _validation_tables(validation: dict[str, Any]) -> str:
    sets = {name: scores for name, scores in validation.items()
            if isinstance(scores, dict) and isinstance(scores.get("per_class"), dict)}
    if not sets:
        return _nested_html(validation) if validation else ""
    summary = [[html.escape(label_for(name)), str(scores.get("images", "")),
                _value_html("miou", scores.get("miou")), _value_html("pixel_accuracy", scores.get("pixel_accuracy")),
                html.escape(str(scores.get("class_space", "")))] for name, scores in sets.items()]
    parts = [_table(["Validation set", "Images", "Mean IoU", "Pixel accuracy", "Classes"], summary)]
    classes: list[str] = []
    for scores in sets.values():
        classes += [name for name in scores["per_class"] if name not in classes]
    rows = [[html.escape(name)] + [_value_html("", scores["per_class"].get(name), True) if name in scores["per_class"]
                                   else "" for scores in sets.values()] for name in classes]
    parts.append("<p>IoU per class (— : the class is neither in the truth nor predicted):</p>")
    parts.append(_table(["Class"] + [html.escape(label_for(name)) for name in sets], rows))
    return "".join(parts)


def card_html(card: dict[str, Any]) -> str:
    """The card for people; empty string for an empty card."""
    if not card:
        return ""
    model = [[html.escape(label_for(key)), _value_html(key, card[key])] for key in _MODEL_KEYS if key in card]
    parts = ["<h3>Model</h3>", _table(None, model)] if model else []
    shown = set(key for key in _MODEL_KEYS if key in card)
    if isinstance(card.get("training_data"), dict):
        parts += ["<h3>Training data</h3>", _data_table(card["training_data"])]
        shown.add("training_data")
    if isinstance(card.get("validation"), dict):
        parts += ["<h3>Validation</h3>", _validation_tables(card["validation"])] if card["validation"] else []
        shown.add("validation")
    rest = {key: value for key, value in card.items() if key not in shown}
    if rest:
        parts += ["<h3>More</h3>", _nested_html(rest)]
    return "".join(parts)
