"""Save All: segment every image of a folder and write its masks (runs on the worker)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segviewer.core.errors import SegviewerError
from segviewer.core.export import write_outputs
from segviewer.core.image_io import load_image
from segviewer.core.mask_io import MaskFormat
from segviewer.core.overlay import OverlayRenderer


def save_all_job(planned: list[tuple[Path, list[tuple[MaskFormat, Path]]]], renderer: OverlayRenderer,
                 overwrite: bool):
    """A worker batch job; returns ``(files written, error messages)``."""

    def job(segmenter, progress, should_stop):
        written, errors = 0, []
        for done, (path, outputs) in enumerate(planned, start=1):
            if should_stop():
                errors.append("stopped before finishing")
                break
            progress(done, len(planned), path.name)
            try:
                image = load_image(path)
            except SegviewerError as error:
                errors.append(str(error))
                continue
            train_ids = segmenter.predict(image).train_ids

            def overlay(image=image, train_ids=train_ids) -> np.ndarray:
                renderer.set_frame(image, train_ids)
                return np.asarray(renderer.compose())

            failures = write_outputs(train_ids, outputs, overlay, overwrite)
            errors += [str(e) for e in failures]
            written += len(outputs) - len(failures)
        return written, errors

    return job
