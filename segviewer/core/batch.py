"""Save All: segment every image of a folder and write its masks (runs on the worker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segviewer.core.errors import DiskFullError, SegviewerError
from segviewer.core.export import existing_outputs, write_outputs
from segviewer.core.image_io import load_image
from segviewer.core.mask_io import MaskFormat
from segviewer.core.overlay import OverlayRenderer
from segviewer.core.pipeline import ImagePipeline, Outcome

Planned = list[tuple[Path, list[tuple[MaskFormat, Path]]]]


@dataclass
class BatchOutcome:
    """What a Save All did: counted as files land, so a stop still tells the truth."""

    total: int                      # images the run was asked to save
    images_saved: int = 0           # images whose every planned file was written
    files_written: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: bool = False           # the user (or closing the window) stopped it
    skipped_existing: int = 0       # images left alone because their files exist
    label: str = "Save All"
    disk_full: bool = False         # stopped by the first full-disk error

    def describe(self) -> str:
        skipped = f", {self.skipped_existing} skipped (files exist)" if self.skipped_existing else ""
        problems = f", {len(self.errors)} problem(s)" if self.errors else ""
        head = (f"{self.label} stopped: disk full" if self.disk_full else
                f"{self.label} stopped" if self.stopped else f"{self.label} done")
        return (f"{head}: {self.images_saved} of {self.total} image(s) saved, "
                f"{self.files_written} file(s) written{skipped}{problems}")


def without_existing(planned: Planned) -> tuple[Planned, int]:
    """Only the files that do not exist yet; images with none left are dropped. Returns
    the plan and how many images were dropped."""
    kept = []
    for path, outputs in planned:
        existing = set(existing_outputs(outputs))
        missing = [(fmt, target) for fmt, target in outputs if target not in existing]
        if missing:
            kept.append((path, missing))
    return kept, len(planned) - len(kept)


def save_result_job(image: np.ndarray, train_ids: np.ndarray, outputs: list[tuple[MaskFormat, Path]],
                    renderer: OverlayRenderer, overwrite: bool):
    """A worker job writing one image's masks (a big one: strip by strip, the overlay
    composed with ``renderer``'s settings strip by strip too); returns a :class:`BatchOutcome`."""

    def overlay_rows(top: int, bottom: int) -> np.ndarray:
        renderer.set_frame(image[top:bottom], train_ids[top:bottom])
        return np.asarray(renderer.compose())

    def job(_segmenter, progress, _should_stop) -> BatchOutcome:
        outcome = BatchOutcome(1, label="Save")
        progress(1, 1, outputs[0][1].name if outputs else "")

        def landed(_path: Path) -> None:
            outcome.files_written += 1

        failures = write_outputs(train_ids, outputs, lambda: overlay_rows(0, image.shape[0]), overwrite,
                                 on_written=landed, overlay_rows=overlay_rows)
        outcome.errors += [str(e) for e in failures]
        outcome.images_saved += not failures
        return outcome

    return job


def save_all_job(planned: Planned, renderer: OverlayRenderer, overwrite: bool, skipped_existing: int = 0):
    """A worker batch job; returns a :class:`BatchOutcome`. Decoding, the network and
    writing overlap (:class:`ImagePipeline`); a stop lets the images already past the
    network finish their files."""

    def job(segmenter, progress, should_stop) -> BatchOutcome:
        outcome = BatchOutcome(len(planned) + skipped_existing, skipped_existing=skipped_existing)

        def landed(_path: Path) -> None:
            outcome.files_written += 1

        def write(item, image: np.ndarray, prediction) -> list[SegviewerError]:
            def overlay() -> np.ndarray:
                renderer.set_frame(image, prediction.train_ids)  # the job's own copy, used on this thread only
                return np.asarray(renderer.compose())

            return write_outputs(prediction.train_ids, item[1], overlay, overwrite, on_written=landed)

        def record(result: Outcome) -> None:
            failures = [result.error] if result.error is not None else result.result
            full = next((error for error in failures if isinstance(error, DiskFullError)), None)
            if full is not None:
                # Said once; the images still finishing behind it fail the same way.
                if not outcome.disk_full:
                    outcome.disk_full = True
                    outcome.errors.append(f"{full}: stopped at the first full-disk error "
                                          "(every file written is complete)")
                return
            outcome.errors += [str(e) for e in failures]
            outcome.images_saved += not failures

        with ImagePipeline(segmenter, write) as pipeline:
            for result in pipeline.outcomes(planned, lambda item: item[0], lambda item: load_image(item[0]),
                                            should_stop=lambda: should_stop() or outcome.disk_full,
                                            started=lambda done, item: progress(done, len(planned), item[0].name)):
                record(result)
            outcome.stopped = pipeline.stopped
        return outcome

    return job
