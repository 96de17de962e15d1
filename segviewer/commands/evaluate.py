"""``segviewer evaluate``: score saved masks against ground truth (no Qt, no TensorFlow).

    segviewer evaluate --pred masks/ --gt kitti/training/semantic [--json scores.json] [--csv confusion.csv]
    segviewer evaluate --model A.keras [--model B.keras] --images DIR [--gt DIR] [--json scores.json] [--csv c.csv]

The second form segments and scores in one run without writing masks; with two models it
gives B - A per class and each image's scores and disagreement (JSON rows per image);
its CSV is model A's confusion matrix in the main class space, and B's beside it
(``c_B.csv``).

Ground truth: KITTI ``semantic/<name>.png`` or Cityscapes ``<name>_gtFine_labelIds.png``
(label IDs). Predictions are matched by name: ``<name>_labelIds.png`` (label IDs) or
``<name>_trainIds.png`` (train IDs), as ``segviewer predict`` and the viewer write them.
The IoU code is the one ``training.evaluate`` uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from segviewer.core.atomic import write_atomic
from segviewer.core.backends import BACKEND_CHOICES, BACKEND_HELP
from segviewer.core.classes import NUM_TRAIN_CLASSES, load_class_table
from segviewer.core.errors import SegviewerError
from segviewer.core.help_text import plain
from segviewer.core.mask_io import read_label_ids, read_train_ids
from segviewer.core.metrics import (
    confusion_matrix,
    format_table,
    scores_document,
    scores_from_confusion,
    write_confusion_csv,
)
from segviewer.core.pairing import AmbiguousMatchError, find_pairs, unmatched_predictions


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="segviewer evaluate", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pred", type=Path, default=None, help="folder of predicted masks")
    parser.add_argument("--gt", type=Path, default=None,
                        help="folder of ground-truth label-ID PNGs (with --model: optional, else found "
                             "beside each image as the viewer finds it)")
    parser.add_argument("--model", type=Path, action="append", default=[],
                        help="segment with this model instead of reading --pred (twice: compare A and B)")
    parser.add_argument("--images", type=Path, default=None, help="with --model: the folder of images")
    parser.add_argument("--pixel-budget", type=int, default=None, help="with --model: the working scale")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto", help=BACKEND_HELP)
    parser.add_argument("--json", type=Path, default=None, help="write the scores as JSON here")
    parser.add_argument("--csv", type=Path, default=None, help="write the confusion matrix as CSV here")
    return parser.parse_args(argv)


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
    if args.json is not None and args.csv is not None and args.json.resolve() == args.csv.resolve():
        print(f"error: --json and --csv name the same file ({args.json}); one would replace the other",
              file=sys.stderr)
        return 2
    if args.gt is not None and not args.gt.is_dir():
        print(f"error: --gt {args.gt}: not a folder (no such folder)", file=sys.stderr)
        return 2
    if args.model:
        from segviewer.commands.evaluate_models import run

        if args.images is None or args.pred is not None:
            print("error: --model needs --images DIR (and no --pred)", file=sys.stderr)
            return 2
        for problem in filter(None, (output_problem(args.json), output_problem(args.csv))):
            print(f"error: {problem}", file=sys.stderr)
            return 2
        return run(args.model, args.images, args.gt, args.json, args.csv, args.pixel_budget,
                   args.backend)
    if args.pred is None or args.gt is None:
        print("error: give --pred DIR --gt DIR, or --model M --images DIR", file=sys.stderr)
        return 2
    for folder in (args.pred, args.gt):
        if not folder.is_dir():
            print(f"error: {folder}: not a folder", file=sys.stderr)
            return 2
    for problem in filter(None, (output_problem(args.json), output_problem(args.csv))):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        pairs, missing = find_pairs(args.pred, args.gt)
    except AmbiguousMatchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
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
    orphans = unmatched_predictions(args.pred, pairs)
    if orphans:
        print(f"warning: {len(orphans)} prediction(s) have no ground truth in {args.gt} and were not scored "
              f"(e.g. {orphans[0]})", file=sys.stderr)
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
