"""``segviewer evaluate``: score saved masks against ground truth (no Qt, no TensorFlow).

    segviewer evaluate --pred masks/ --gt kitti/training/semantic [--json scores.json] [--csv confusion.csv]

Ground truth: KITTI ``semantic/<name>.png`` or Cityscapes ``<name>_gtFine_labelIds.png``
(label IDs). Predictions are matched by name: ``<name>_labelIds.png`` (label IDs) or
``<name>_trainIds.png`` (train IDs), as ``segviewer predict`` and the viewer write them.
The IoU code is the one ``training.evaluate`` uses.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np

from segviewer.core.atomic import write_atomic
from segviewer.core.classes import NUM_TRAIN_CLASSES, load_class_table
from segviewer.core.errors import SegviewerError
from segviewer.core.mask_io import read_label_ids, read_train_ids
from segviewer.core.metrics import (
    confusion_matrix,
    format_table,
    scores_document,
    scores_from_confusion,
)
from segviewer.help_text import plain

GT_SUFFIXES = ("_gtFine_labelIds", "_labelIds")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="segviewer evaluate", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pred", type=Path, required=True, help="folder of predicted masks")
    parser.add_argument("--gt", type=Path, required=True, help="folder of ground-truth label-ID PNGs")
    parser.add_argument("--json", type=Path, default=None, help="write the scores as JSON here")
    parser.add_argument("--csv", type=Path, default=None, help="write the confusion matrix as CSV here")
    return parser.parse_args(argv)


def _stem(gt: Path) -> str:
    stem = gt.stem
    for suffix in GT_SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def find_pairs(pred: Path, gt: Path) -> tuple[list[tuple[Path, Path, str]], list[str]]:
    """``(prediction, truth, "label"|"train")`` per ground-truth file, and the misses."""
    pairs, missing = [], []
    for truth in sorted(gt.rglob("*.png")):
        if truth.stem.endswith(("_color", "_instanceIds", "_gtFine_color", "_gtFine_instanceIds")):
            continue
        stem = _stem(truth)
        for name, kind in ((f"{stem}_labelIds.png", "label"), (f"{stem}_trainIds.png", "train")):
            if (pred / name).is_file():
                pairs.append((pred / name, truth, kind))
                break
        else:
            missing.append(stem)
    return pairs, missing


def write_confusion_csv(file: BinaryIO, matrix: np.ndarray, names: list[str]) -> None:
    text = io.TextIOWrapper(file, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(["truth \\ prediction", *names, "void/other"])
    for name, row in zip(names, matrix):
        writer.writerow([name, *row.tolist()])
    text.flush()
    text.detach()  # leave the binary file open for the atomic writer


def output_problem(path: Path | None) -> str | None:
    """Why ``path`` cannot take an output file (checked before any scoring), or None."""
    if path is None:
        return None
    if path.is_dir():
        return f"{path}: is a folder; give a file name"
    if not path.parent.is_dir():
        return f"{path}: folder {path.parent} does not exist"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for folder in (args.pred, args.gt):
        if not folder.is_dir():
            print(f"error: {folder}: not a folder", file=sys.stderr)
            return 2
    for problem in filter(None, (output_problem(args.json), output_problem(args.csv))):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    pairs, missing = find_pairs(args.pred, args.gt)
    if not pairs:
        print(f"error: no predictions in {args.pred} match ground truth in {args.gt}", file=sys.stderr)
        return 2
    table = load_class_table()
    names = [c.name for c in table.train_classes]
    matrix = np.zeros((NUM_TRAIN_CLASSES, NUM_TRAIN_CLASSES + 1), np.int64)
    failures = 0
    for prediction_path, truth_path, kind in pairs:
        try:
            truth = read_label_ids(truth_path, table)
            prediction = read_label_ids(prediction_path, table) if kind == "label" else read_train_ids(prediction_path)
            matrix += confusion_matrix(truth, prediction, NUM_TRAIN_CLASSES)
        except SegviewerError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
        except ValueError as error:  # e.g. sizes differ: name both files
            print(f"error: {prediction_path}: {error} (ground truth {truth_path})", file=sys.stderr)
            failures += 1
    scores = scores_from_confusion(matrix)
    print(f"{len(pairs) - failures} image(s) scored; {len(missing)} ground-truth file(s) without a prediction")
    print(format_table(scores, names))
    try:
        if args.json:
            document = scores_document(scores, names, len(pairs) - failures)
            write_atomic(args.json, lambda f: f.write(json.dumps(document, indent=2, allow_nan=False).encode()),
                         overwrite=True)
        if args.csv:
            write_atomic(args.csv, lambda f: write_confusion_csv(f, matrix, names), overwrite=True)
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
