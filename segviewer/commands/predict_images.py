"""``segviewer predict``'s image run: the shared pipeline (decode, network, write
overlapped), with the stop rules a batch command needs: Ctrl-C and SIGTERM finish the
files under way and say so, and a full disk stops the run at its first error."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from segviewer.commands.predict_jobs import Job
from segviewer.core.errors import DiskFullError, OutputExistsError, SegviewerError
from segviewer.core.export import plan_outputs, write_outputs
from segviewer.core.image_io import load_image
from segviewer.core.inference import Segmenter
from segviewer.core.mask_io import MaskFormat
from segviewer.core.overlay import compose_overlay
from segviewer.core.pipeline import ImagePipeline, Outcome
from segviewer.core.progress import ProgressBar


class Terminated(BaseException):  # noqa: N818 - a signal, like KeyboardInterrupt
    """SIGTERM, raised in the main thread so the run stops like a Ctrl-C (a
    BaseException, so no ``except Exception`` on the way swallows it)."""


@contextlib.contextmanager
def terminate_as_interrupt():
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handler(_signum, _frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True)
class Summary:
    segmented: int
    written: int
    failures: int
    images_per_s: float
    stopped_by: signal.Signals | None = None  # SIGINT / SIGTERM when the run was cut short
    left_alone: int = 0  # --skip-existing: files already there when their image was written


def segment_all(segmenter: Segmenter, jobs: list[Job], formats: list[MaskFormat], opacity: float,
                overwrite: bool, skip_existing: bool = False) -> Summary:
    """Decode, segment and write overlapped (:class:`ImagePipeline`); report each failure
    and go on. Files land in the order of ``jobs``. With ``skip_existing`` a file that is
    there when its image is written (an earlier run's, or one another run wrote meanwhile
    into the same folder) is left alone and counted in ``left_alone``, never replaced or
    counted as written."""
    failures = segmented = 0
    complete: list[Path] = []  # every file complete on disk, counted as it lands (on the finishing thread)
    left_alone: list[Path] = []
    stopped_by = None
    bar = ProgressBar(len(jobs))

    def write(job: Job, image, prediction) -> list[SegviewerError]:
        job.folder.mkdir(parents=True, exist_ok=True)
        outputs = plan_outputs(job.source, job.folder, formats)
        if skip_existing:
            left_alone.extend(path for _fmt, path in outputs if path.exists())
            outputs = [(fmt, path) for fmt, path in outputs if not path.exists()]
        ids = prediction.train_ids
        errors = write_outputs(ids, outputs, lambda: compose_overlay(image, ids, opacity),
                               overwrite=overwrite and not skip_existing, on_written=complete.append,
                               overlay_rows=lambda a, b: compose_overlay(image[a:b], ids[a:b], opacity))
        if skip_existing:
            left_alone.extend(error.path for error in errors if isinstance(error, OutputExistsError))
            errors = [error for error in errors if not isinstance(error, OutputExistsError)]
        return errors

    def report(outcome: Outcome) -> None:
        nonlocal failures, segmented, disk_full
        errors = [outcome.error] if outcome.error is not None else outcome.result
        full = next((error for error in errors if isinstance(error, DiskFullError)), None)
        if full is not None:
            # Said once; the images still finishing behind it fail the same way, silently.
            if disk_full is None:
                disk_full = full
                failures += 1
            return
        for error in errors:
            detail = error if isinstance(error, SegviewerError) else f"{outcome.job.source}: {error.strerror or error}"
            print(f"\nerror: {detail}", file=sys.stderr)
        failures += bool(errors)
        segmented += not errors
        bar.advance(outcome.job.source.name)

    disk_full: DiskFullError | None = None
    with ImagePipeline(segmenter, write) as pipeline:
        try:
            # After a full disk no new image enters the network; the ones past it still report.
            for outcome in pipeline.outcomes(jobs, lambda job: job.source, lambda job: load_image(job.source),
                                             should_stop=lambda: disk_full is not None):
                report(outcome)
        except KeyboardInterrupt:
            stopped_by = signal.SIGINT
        except Terminated:
            stopped_by = signal.SIGTERM
        if stopped_by is not None:
            # The images already past the network finish writing: every file is complete
            # (atomic writes), and counted.
            for outcome in pipeline.drain():
                report(outcome)
    bar.close()
    if disk_full is not None:
        print(f"\nerror: {disk_full}: stopped at the first full-disk error; {len(complete)} complete file(s) "
              f"written, nothing partial; free some space and rerun with --skip-existing to go on", file=sys.stderr)
    return Summary(segmented, len(complete), failures, bar.rate(), stopped_by, len(left_alone))
