"""``segviewer evaluate --model M [--model M2] --images DIR [--gt DIR]``: segment and score
in one run, writing no masks; with two models, the per-class and per-image deltas (B - A).
The scoring is :mod:`segviewer.core.dataset_eval`, which the viewer shares."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from segviewer.core.classes import load_class_table
from segviewer.core.dataset_eval import DatasetScores, evaluate_images, save_result
from segviewer.core.datasets import find_truth_for, guess_layout, read_truth
from segviewer.core.errors import SegviewerError
from segviewer.core.file_search import SearchResult, find_images
from segviewer.core.image_io import load_image
from segviewer.core.metrics import format_table
from segviewer.core.pairing import ground_truth_stem, is_ground_truth
from segviewer.core.progress import ProgressBar
from segviewer.core.truth_space import space_for


def truth_in_folder(gt: Path):
    """A ``truth_for`` that finds ground truth in ``gt`` by name (KITTI ``<name>.png``,
    Cityscapes ``<stem>_gtFine_labelIds.png``, CamVid ``<split>annot/<name>.png``)."""
    by_stem = {ground_truth_stem(p): p for p in sorted(gt.rglob("*.png")) if is_ground_truth(p)}

    def truth_for(image: Path, shape: tuple[int, int]):
        stem = image.stem.removesuffix("_leftImg8bit")
        found = by_stem.get(stem)
        if found is None:
            return None, None, f"{image.name}: no ground truth named {stem}* in {gt}", ""
        layout = guess_layout(found).value
        return (*read_truth(found, layout, shape), layout)

    return truth_for


def run(models: list[Path], images: Path, gt: Path | None, json_path: Path | None, csv_path: Path | None,
        pixel_budget: int | None, backend: str) -> int:
    from segviewer.core.inference import Segmenter

    if len(models) > 2:
        print("error: --model takes one model, or two to compare", file=sys.stderr)
        return 2
    search = find_images(images, recursive=True) if images.is_dir() else SearchResult()
    paths = search.files
    if search.truth_files:
        print(search.describe_skipped(), file=sys.stderr)
    for link in search.broken_links:
        print(f"error: {link}: broken symbolic link (its target does not exist)", file=sys.stderr)
    if not paths:
        print(f"error: {images}: no images (give a folder of images with --images)", file=sys.stderr)
        return 2
    try:
        segmenters = [Segmenter.load(m, pixel_budget, backend=backend) for m in models]
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    bar = ProgressBar(len(paths))
    stop = threading.Event()
    try:
        with _stop_on_ctrl_c(stop):
            result = evaluate_images(paths, segmenters,
                                     load_image, [m.name for m in models],
                                     truth_in_folder(gt) if gt else find_truth_for,
                                     lambda _done, path: bar.advance(path.name), should_stop=stop.is_set)
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once, nothing saved
        bar.close()
        print("stopped by Ctrl-C (twice): nothing saved", file=sys.stderr)
        return 130
    finally:
        bar.close()
    if result.stopped:
        print(f"stopped by Ctrl-C: {len(result.images)} of {len(paths)} image(s) scored; the scores and files "
              "below cover those", file=sys.stderr)
    failures = [image.note for image in result.images if image.failed]
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    for reason, examples in unusable_truth(result).items():
        print(f"note: {len(examples)} image(s) not scored: their ground truth {reason} (e.g. {examples[0]})",
              file=sys.stderr)
    _print(result, models)
    try:
        written = save_result(result, json_path, csv_path)
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if written:
        print("wrote " + ", ".join(str(path) for path in written))
    if csv_path is not None and result.main_space() is None:
        print(f"warning: no image had ground truth: {csv_path} not written", file=sys.stderr)
    if result.stopped:
        return 130
    return 1 if failures or search.broken_links else 0


@contextlib.contextmanager
def _stop_on_ctrl_c(stop: threading.Event):
    """The first Ctrl-C asks the run to stop after the current image (what was scored is
    kept and saved); a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def unusable_truth(result: DatasetScores) -> dict[str, list[str]]:
    """Why ground truth that was found could not be used, once per reason, with the truth
    files it applies to (a wrong encoding, a size mismatch, all void...)."""
    reasons: dict[str, list[str]] = {}
    for image in result.images:
        if image.failed or image.confusion or ": " not in image.note or "no ground truth named" in image.note:
            continue
        path, reason = image.note.split(": ", 1)
        reasons.setdefault(reason, []).append(path)
    return reasons


def _print(result: DatasetScores, models: list[Path]) -> None:
    table = load_class_table()
    scored = [i for i in result.images if i.confusion]
    print(f"{len(result.images)} image(s), {len(scored)} with ground truth; "
          + " vs ".join(f"{'AB'[i] if len(models) == 2 else 'model'} = {m}" for i, m in enumerate(models)))
    for layout in result.spaces():
        names = space_for(layout).class_names(table)
        for index, model in enumerate(models):
            print(f"\n{layout} truth, {model.name}:")
            print(format_table(result.scores(layout, index), names))
    if len(models) == 2:
        shares = [i.disagreement for i in result.images if i.disagreement is not None]
        if shares:
            print(f"\nA and B disagree on {np.mean(shares) * 100:.1f} % of pixels on average "
                  f"(most: {max(result.images, key=lambda i: i.disagreement or 0).path.name})")
