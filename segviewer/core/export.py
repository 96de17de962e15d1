"""Plan and write the mask files for one image (viewer Save / Save All, ``segviewer predict``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from segviewer.core.errors import DiskFullError, MaskIOError
from segviewer.core.mask_io import STREAM_PIXELS, MaskFormat, output_path, save_mask


def plan_outputs(source: Path, folder: Path | None, formats: Sequence[MaskFormat]) -> list[tuple[MaskFormat, Path]]:
    """Where each format goes: ``folder`` or, when None, the image's own folder."""
    target = Path(folder) if folder is not None else Path(source).parent
    return [(fmt, output_path(source, target, fmt)) for fmt in formats]


def existing_outputs(outputs: Sequence[tuple[MaskFormat, Path]]) -> list[Path]:
    return [path for _, path in outputs if _exists(path)]


def _exists(path: Path) -> bool:
    # An unusable name (too long, ...) is "not there": writing it reports the problem.
    try:
        return path.exists()
    except OSError:
        return False


def write_outputs(train_ids: np.ndarray, outputs: Sequence[tuple[MaskFormat, Path]],
                  make_overlay: Callable[[], np.ndarray] | None, overwrite: bool,
                  on_written: Callable[[Path], None] | None = None,
                  overlay_rows: Callable[[int, int], np.ndarray] | None = None) -> list[MaskIOError]:
    """Write every planned file (each atomically); returns the failures, so one bad file
    does not stop the others, but a full disk (:class:`DiskFullError`, the last failure
    then) does: every later file would fail the same way. ``on_written`` hears of
    each file as soon as it is complete, so a run interrupted between two files of one
    image still counts the first. ``overlay_rows(top, bottom)`` composes the overlay strip
    by strip for big images (see :func:`save_mask`), instead of ``make_overlay``."""
    errors: list[MaskIOError] = []
    overlay = None
    for fmt, path in outputs:
        try:
            streamed = overlay_rows is not None and train_ids.size >= STREAM_PIXELS
            if fmt is MaskFormat.OVERLAY and overlay is None and not streamed:
                if make_overlay is None:
                    raise MaskIOError(path, "no overlay image to save")
                overlay = make_overlay()
            save_mask(train_ids, path, fmt, overlay=overlay, overwrite=overwrite,
                      overlay_rows=overlay_rows if streamed else None)
            if on_written is not None:
                on_written(path)
        except DiskFullError as error:
            errors.append(error)
            break  # every later file would fail the same way
        except MaskIOError as error:
            errors.append(error)
    return errors
