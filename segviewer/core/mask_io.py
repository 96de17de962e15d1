"""Save predicted masks in the formats other tools read, and read ground truth.

File formats (all PNG):

* ``labelIds``: single channel (mode "L"), Cityscapes *label* IDs 0-33 (void -> 0);
  what the KITTI and Cityscapes evaluation scripts read.
* ``trainIds``: single channel (mode "L"), train IDs 0-18, 255 = void.
* ``color``: RGB in the official cityscapesScripts palette.
* ``overlay``: RGB, the composite the viewer shows.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from segviewer.core.atomic import write_atomic
from segviewer.core.classes import ClassTable, load_class_table
from segviewer.core.errors import MaskIOError
from segviewer.core.png_stream import strips_of, write_png_strips


class MaskFormat(enum.Enum):
    LABEL_IDS = "labelIds"
    TRAIN_IDS = "trainIds"
    COLOR = "color"
    OVERLAY = "overlay"

    @property
    def description(self) -> str:
        return {
            MaskFormat.LABEL_IDS: "Label IDs (Cityscapes/KITTI evaluation)",
            MaskFormat.TRAIN_IDS: "Train IDs (0-18, 255 = void)",
            MaskFormat.COLOR: "Colour (official palette)",
            MaskFormat.OVERLAY: "Overlay (as shown)",
        }[self]

    @classmethod
    def parse_list(cls, text: str) -> list[MaskFormat]:
        """Parse ``"labelids,color"`` (case-insensitive) as the CLI takes it."""
        by_name = {f.value.lower(): f for f in cls}
        names = [part.strip().lower() for part in text.split(",") if part.strip()]
        unknown = [n for n in names if n not in by_name]
        if unknown or not names:
            raise ValueError(f"unknown mask format(s) {unknown}; choose from {', '.join(by_name)}")
        return [by_name[n] for n in names]


def output_path(source: Path, folder: Path, fmt: MaskFormat) -> Path:
    """``folder/<source stem>_<format>.png``, e.g. ``000000_10_labelIds.png``."""
    return Path(folder) / f"{Path(source).stem}_{fmt.value}.png"


def encode_mask(train_ids: np.ndarray, fmt: MaskFormat, overlay: np.ndarray | None = None,
                table: ClassTable | None = None) -> Image.Image:
    """The Pillow image written for ``fmt``; ``overlay`` (RGB) is needed for OVERLAY."""
    table = table or load_class_table()
    if train_ids.dtype != np.uint8 or train_ids.ndim != 2:
        raise ValueError("train_ids must be a 2-D uint8 array")
    if fmt is MaskFormat.LABEL_IDS:
        return Image.fromarray(table.train_ids_to_labels(train_ids), mode="L")
    if fmt is MaskFormat.TRAIN_IDS:
        return Image.fromarray(train_ids, mode="L")
    if fmt is MaskFormat.COLOR:
        return Image.fromarray(table.colorize(train_ids), mode="RGB")
    if overlay is None:
        raise ValueError("the overlay format needs the composed overlay image")
    return Image.fromarray(overlay, mode="RGB")


def save_png(image: Image.Image, path: Path, overwrite: bool = False) -> None:
    """Write ``image`` to ``path`` atomically (see :func:`write_atomic`)."""
    write_atomic(Path(path), lambda file: image.save(file, format="PNG"), overwrite=overwrite)


# From this many pixels on, masks are encoded strip by strip (see core.png_stream).
STREAM_PIXELS = 16_000_000


def save_mask(train_ids: np.ndarray, path: Path, fmt: MaskFormat, overlay: np.ndarray | None = None,
              overwrite: bool = False,
              overlay_rows: Callable[[int, int], np.ndarray] | None = None) -> Path:
    """Write one mask file. A big image (:data:`STREAM_PIXELS`) is encoded strip by strip;
    its overlay then comes from ``overlay_rows(top, bottom)`` when given."""
    height, width = train_ids.shape[:2]
    streamed = train_ids.size >= STREAM_PIXELS and (fmt is not MaskFormat.OVERLAY or overlay_rows is not None
                                                   or overlay is not None)
    if not streamed:
        if fmt is MaskFormat.OVERLAY and overlay is None and overlay_rows is not None:
            overlay = overlay_rows(0, height)
        save_png(encode_mask(train_ids, fmt, overlay), path, overwrite=overwrite)
        return Path(path)
    table = load_class_table()
    render = {
        MaskFormat.LABEL_IDS: lambda a, b: table.train_ids_to_labels(train_ids[a:b]),
        MaskFormat.TRAIN_IDS: lambda a, b: train_ids[a:b],
        MaskFormat.COLOR: lambda a, b: table.colorize(train_ids[a:b]),
        MaskFormat.OVERLAY: overlay_rows or (lambda a, b: overlay[a:b]),
    }[fmt]
    channels = 3 if fmt in (MaskFormat.COLOR, MaskFormat.OVERLAY) else 1
    write_atomic(Path(path), lambda file: write_png_strips(file, height, width, channels, strips_of(height, render)),
                 overwrite=overwrite)
    return Path(path)


def read_single_channel(path: Path) -> np.ndarray:
    """The raw values of a single-channel mask PNG as uint8."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("L", "P", "I", "I;16"):
                raise MaskIOError(path, f"expected a single-channel mask PNG, found mode {image.mode}")
            values = np.asarray(image)
    except MaskIOError:
        raise
    except FileNotFoundError:
        raise MaskIOError(path, "file not found") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise MaskIOError(path, f"cannot read mask ({error})") from None
    if values.max(initial=0) > 255:
        raise MaskIOError(path, "mask values above 255 are not label or train IDs")
    return values.astype(np.uint8)


# Cityscapes label IDs run 0-33 (labels.py); a PNG cannot hold the licence plate's -1.
MAX_LABEL_ID = 33


def _is_colour_palette(path: Path) -> bool:
    """A palette PNG whose colours are not grey levels equal to their index: a colour mask."""
    with Image.open(path) as image:
        if image.mode != "P":
            return False
        palette = np.asarray(image.getpalette() or [], np.int64).reshape(-1, 3)
        used = np.unique(np.asarray(image))
    used = used[used < len(palette)]
    return bool((palette[used] != used[:, None]).any())


def read_label_ids(path: Path, table: ClassTable | None = None) -> np.ndarray:
    """Read a Cityscapes/KITTI label-ID PNG (e.g. ``semantic/*.png``) as train IDs.

    Refuses (MaskIOError, saying what the file looks like) a colour mask, a train-ID
    mask and values that are no label IDs: scoring them as label IDs gives a number
    that looks real and is not."""
    path = Path(path)
    values = read_single_channel(path)
    if _is_colour_palette(path):
        raise MaskIOError(path, "is a colour (palette) mask; label IDs expected (single-channel Cityscapes "
                                "label IDs 0-33)")
    top = int(values.max(initial=0))
    if top > MAX_LABEL_ID:
        outside = values[values > MAX_LABEL_ID]
        if (outside == 255).all() and int(values[values != 255].max(initial=0)) <= 18:
            raise MaskIOError(path, "holds train IDs (0-18, 255 = void); label IDs expected (0-33)")
        raise MaskIOError(path, f"holds values up to {top}, which are no label IDs (0-33)")
    return (table or load_class_table()).labels_to_train_ids(values)


def read_train_ids(path: Path) -> np.ndarray:
    """Read a train-ID PNG (0-18, 255 void); any other value becomes void."""
    values = read_single_channel(Path(path))
    return np.where(values < 19, values, 255).astype(np.uint8)


__all__ = ["MaskFormat", "output_path", "encode_mask", "save_png", "save_mask",
           "read_label_ids", "read_train_ids", "read_single_channel"]
