"""Evaluate a model at each image's full resolution, exactly as the viewer runs it.

    python -m training.evaluate --data ../shared/datasets/kitti_semantics --layout kitti
    python -m training.evaluate --data ../shared/datasets/camvid --layout camvid --json camvid.json

KITTI is scored over the 19 Cityscapes train classes; CamVid in its own 11-class space
(predictions mapped down with ``TRAIN_TO_CAMVID``). Mean IoU averages the classes with
tp + fp + fn > 0 (the Cityscapes rule). ``--split`` picks the images (default: validation).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from segviewer.core.classes import load_class_table
from segviewer.core.datasets import (
    CAMVID_CLASSES,
    TRAIN_TO_CAMVID,
    Sample,
    camvid_samples,
    cityscapes_samples,
    is_kitti_validation,
    kitti_samples,
    read_single_channel,
)
from segviewer.core.image_io import load_image
from segviewer.core.inference import DEFAULT_PIXEL_BUDGET, Segmenter
from segviewer.core.metrics import (
    Scores,
    confusion_matrix,
    format_table,
    scores_document,
    scores_from_confusion,
)
from segviewer.core.resources import default_model_path
from segviewer.help_text import plain


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True,
                        help="the kitti_semantics/ or camvid/ folder")
    parser.add_argument("--layout", choices=("kitti", "cityscapes", "camvid"), required=True)
    parser.add_argument("--split", choices=("val", "train", "all"), default="val",
                        help="KITTI val = 000040-000047; CamVid val = val/ (default %(default)s)")
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--pixel-budget", type=int, default=DEFAULT_PIXEL_BUDGET,
                        help="pixels the network sees per image (working scale; default %(default)s)")
    parser.add_argument("--backend", choices=("auto", "litert", "tf"), default="tf",
                        help="tf (default) or litert (the model's .tflite twin)")
    parser.add_argument("--tta", action="store_true",
                        help="test-time augmentation: average the scores of the image and its mirror "
                             "(about 2x the network time)")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    return parser.parse_args(argv)


def select_samples(data: Path, layout: str, split: str) -> list[Sample]:
    if layout == "cityscapes":
        splits = {"val": ["val"], "train": ["train"], "all": ["train", "val"]}[split]
        return [s for name in splits for s in cityscapes_samples(data, name) if s.label is not None]
    if layout == "camvid":
        splits = {"val": ["val"], "train": ["train"], "all": ["train", "val"]}[split]
        return [s for name in splits for s in camvid_samples(data, name)]
    samples = [s for s in kitti_samples(data, "training") if s.label is not None]
    if split == "all":
        return samples
    return [s for s in samples if is_kitti_validation(s) == (split == "val")]


def class_names(layout: str) -> list[str]:
    if layout == "camvid":
        return list(CAMVID_CLASSES)
    return [c.name for c in load_class_table().train_classes]


def evaluate(segmenter: Segmenter, samples: list[Sample], layout: str,
             progress: bool = True) -> tuple[Scores, np.ndarray, float]:
    """Scores, confusion matrix and mean seconds per image over ``samples``."""
    num_classes = len(class_names(layout))
    matrix = np.zeros((num_classes, num_classes + 1), np.int64)
    seconds = []
    for index, sample in enumerate(samples, start=1):
        prediction = segmenter.predict(load_image(sample.image))
        seconds.append(prediction.seconds)
        if layout == "camvid":
            truth = read_single_channel(sample.label)  # 11 = void, ignored
            predicted = TRAIN_TO_CAMVID[prediction.train_ids]
        else:
            truth = sample.read_train_ids()
            predicted = prediction.train_ids
        matrix += confusion_matrix(truth, predicted, num_classes)
        if progress and sys.stderr.isatty():
            print(f"\r{index}/{len(samples)} {sample.image.name}", end="", file=sys.stderr, flush=True)
    if progress and sys.stderr.isatty():
        print(file=sys.stderr)
    return scores_from_confusion(matrix), matrix, float(np.median(seconds)) if seconds else math.nan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    samples = select_samples(args.data, args.layout, args.split)
    if not samples:
        print(f"error: no labelled {args.layout} images for split {args.split!r} under {args.data}",
              file=sys.stderr)
        return 2
    model_path = args.model or default_model_path()
    segmenter = Segmenter.load(model_path, args.pixel_budget, tta=args.tta, backend=args.backend)
    started = time.perf_counter()
    scores, _matrix, median_s = evaluate(segmenter, samples, args.layout)
    names = class_names(args.layout)
    print(f"{model_path.name} ({segmenter.backend_description}) on {len(samples)} {args.layout} {args.split} images "
          f"({time.perf_counter() - started:.0f} s, median {median_s * 1000:.0f} ms/image)")
    print(format_table(scores, names))
    if args.json:
        document = scores_document(scores, names, len(samples))
        args.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
