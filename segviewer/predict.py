"""``segviewer predict``: segment many images and write their masks (no Qt).

    segviewer predict images/ --out masks/ --format labelids,color
    segviewer predict "data/**/*.png" --out masks/ --skip-existing

Images are decoded on a small thread pool while the model runs, and each image's files
are written atomically, so a folder streams at the model's speed and an interrupted run
leaves only complete files (``--skip-existing`` resumes it). A bad file is reported and
skipped.

Existing outputs are never replaced silently: without ``--skip-existing`` or
``--overwrite``, a run that finds any of its output files already there writes nothing,
says so once (naming both options) and exits with status 1.

Exit status: 0 all done, 1 some image failed or outputs already exist, 2 bad arguments or
model.
"""

from __future__ import annotations

from segviewer.help_text import plain
import argparse
import glob
import os
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from segviewer.core.errors import SegviewerError
from segviewer.core.export import existing_outputs, plan_outputs, write_outputs
from segviewer.core.image_io import is_image_file, load_image
from segviewer.core.inference import DEFAULT_PIXEL_BUDGET, Segmenter
from segviewer.core.mask_io import MaskFormat
from segviewer.core.overlay import compose_overlay
from segviewer.core.resources import default_model_path
from segviewer.progress import ProgressBar

PREFETCH = 4


@dataclass(frozen=True)
class Job:
    source: Path
    folder: Path  # where its outputs go


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="segviewer predict", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if needed)")
    parser.add_argument("--format", default="labelIds",
                        help="comma-separated: labelIds, trainIds, color, overlay (default %(default)s)")
    parser.add_argument("--model", type=Path, default=None, help="a .keras model (default: the shipped one)")
    parser.add_argument("--opacity", type=float, default=0.5, help="overlay opacity 0-1 (default %(default)s)")
    parser.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--skip-existing", action="store_true", help="skip images whose outputs all exist")
    existing.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--pixel-budget", type=int, default=DEFAULT_PIXEL_BUDGET,
                        help="pixels the network sees per image (default %(default)s)")
    parser.add_argument("--tta", action="store_true",
                        help="test-time augmentation: average the scores of the image and its mirror "
                             "(about 2x the network time)")
    args = parser.parse_args(argv)
    try:
        args.formats = MaskFormat.parse_list(args.format)
    except ValueError as error:
        parser.error(str(error))
    if not 0.0 <= args.opacity <= 1.0:
        parser.error("--opacity must be between 0 and 1")
    return args


def collect_jobs(inputs: list[str], out: Path, recursive: bool) -> tuple[list[Job], list[str]]:
    """Expand files, folders and globs; folder structure is mirrored under ``out``."""
    jobs: list[Job] = []
    problems: list[str] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(p for p in path.glob(pattern) if p.is_file() and is_image_file(p))
            jobs += [Job(p, out / p.parent.relative_to(path)) for p in found]
            if not found:
                problems.append(f"{path}: no image files in this folder")
        elif path.exists() or path.is_symlink():
            jobs.append(Job(path, out))  # named explicitly: tried whatever its suffix
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True))
            jobs += [Job(p, out) for p in found if p.is_file() and is_image_file(p)]
            if not found:
                problems.append(f"{text}: no files match")
        else:
            problems.append(f"{path}: file not found")
    return jobs, problems


def _deduplicate(jobs: list[Job], formats: list[MaskFormat]) -> tuple[list[Job], list[str]]:
    """Two inputs that would write the same output file: the second is refused."""
    owners: dict[Path, Path] = {}
    kept, problems = [], []
    for job in jobs:
        key = plan_outputs(job.source, job.folder, formats[:1])[0][1].resolve()
        if key in owners:
            if owners[key] != job.source.resolve():
                problems.append(f"{job.source}: output name clashes with {owners[key]}; skipped")
            continue
        owners[key] = job.source.resolve()
        kept.append(job)
    return kept, problems


def _decoded(jobs: list[Job], pool: ThreadPoolExecutor) -> Iterator[tuple[Job, Future]]:
    """Yield jobs with their decode futures, keeping PREFETCH decodes in flight."""
    queue: deque[tuple[Job, Future]] = deque()
    for job in jobs:
        queue.append((job, pool.submit(load_image, job.source)))
        if len(queue) > PREFETCH:
            yield queue.popleft()
    while queue:
        yield queue.popleft()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    jobs, problems = collect_jobs(args.inputs, args.out, args.recursive)
    jobs, clashes = _deduplicate(jobs, args.formats)
    problems += clashes
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if args.skip_existing:
        before = len(jobs)
        jobs = [j for j in jobs if len(existing_outputs(plan_outputs(j.source, j.folder, args.formats)))
                < len(args.formats)]
        if before - len(jobs):
            print(f"skipping {before - len(jobs)} image(s) whose outputs exist", file=sys.stderr)
    if jobs and not (args.skip_existing or args.overwrite):
        clashing = [existing_outputs(plan_outputs(j.source, j.folder, args.formats)) for j in jobs]
        clashing = [found for found in clashing if found]
        if clashing:
            print(f"error: {len(clashing)} of {len(jobs)} image(s) already have output files "
                  f"(e.g. {clashing[0][0]}); nothing was written. Use --skip-existing to segment only "
                  "the others, or --overwrite to replace them.", file=sys.stderr)
            return 1
    if not jobs:
        print("nothing to do" if not problems else "no images to segment", file=sys.stderr)
        return 1 if problems else 0
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        segmenter = Segmenter.load(args.model or default_model_path(), args.pixel_budget, tta=args.tta)
        segmenter.warm_up()  # trace the graph before the clock starts
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {args.out}: cannot create the output folder ({error.strerror})", file=sys.stderr)
        return 2

    summary = segment_all(segmenter, jobs, args.formats, args.opacity, args.overwrite or args.skip_existing)
    failures = summary.failures + len(problems)
    print(f"{summary.segmented} of {len(jobs) + len(problems)} image(s) done, "
          f"{summary.written} file(s) written to {args.out}, {failures} failed; "
          f"{summary.images_per_s:.1f} images/s", file=sys.stderr)
    return 1 if failures else 0


@dataclass(frozen=True)
class Summary:
    segmented: int
    written: int
    failures: int
    images_per_s: float


def segment_all(segmenter: Segmenter, jobs: list[Job], formats: list[MaskFormat], opacity: float,
                overwrite: bool) -> Summary:
    """Decode ahead on two threads, segment, write; report each failure and go on."""
    failures = segmented = written = 0
    bar = ProgressBar(len(jobs))
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="segviewer-decode") as pool:
        for job, future in _decoded(jobs, pool):
            try:
                image = future.result()
                prediction = segmenter.predict(image)
                job.folder.mkdir(parents=True, exist_ok=True)
                outputs = plan_outputs(job.source, job.folder, formats)
                errors = write_outputs(prediction.train_ids, outputs,
                                       lambda: compose_overlay(image, prediction.train_ids, opacity),
                                       overwrite=overwrite)
                for error in errors:
                    print(f"\nerror: {error}", file=sys.stderr)
                failures += bool(errors)
                segmented += not errors
                written += len(outputs) - len(errors)
            except SegviewerError as error:
                print(f"\nerror: {error}", file=sys.stderr)
                failures += 1
            except OSError as error:
                print(f"\nerror: {job.source}: {error.strerror or error}", file=sys.stderr)
                failures += 1
            bar.advance(job.source.name)
    bar.close()
    return Summary(segmented, written, failures, bar.rate())


if __name__ == "__main__":
    raise SystemExit(main())
