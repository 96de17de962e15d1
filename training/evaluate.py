"""Evaluate a model at each image's full resolution, exactly as the viewer runs it.

    python -m training.evaluate --data ../shared/datasets/kitti_semantics --layout kitti
    python -m training.evaluate --data ../shared/datasets/camvid --layout camvid --json camvid.json

KITTI, Cityscapes and BDD100K (``--layout bdd100k``, its val split: every fourth of the
shared frames) are scored over the 19 Cityscapes train classes; CamVid in its own 11-class space
(predictions mapped down with ``TRAIN_TO_CAMVID``). Mean IoU averages the classes with
tp + fp + fn > 0 (the Cityscapes rule). ``--split`` picks the images (default: validation).

``--layout camvid32`` looks at the CamVid frames that also have the original 32-class
labels, in the 19-class space: IoU over the pixels labelled with one train class (wall,
traffic light, ...), and for merged labels ("Truck_Bus", "Bicyclist") the share of their
pixels predicted as one of the classes they allow. It is the one held-out check of the
classes that KITTI val lacks (truck, bus, rider, bicycle) and that the 11 classes merge.
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

from segviewer.core.backends import BACKEND_CHOICES
from segviewer.core.classes import NUM_TRAIN_CLASSES, VOID_TRAIN_ID, load_class_table
from segviewer.core.datasets import (
    CAMVID_CLASSES,
    TRAIN_TO_CAMVID,
    Sample,
    bdd100k_samples,
    camvid_samples,
    cityscapes_split,
    is_kitti_validation,
    kitti_samples,
    read_single_channel,
)
from segviewer.core.errors import SegviewerError
from segviewer.core.help_text import plain
from segviewer.core.image_io import load_image
from segviewer.core.inference import Segmenter
from segviewer.core.label_sets import LABEL_SETS
from segviewer.core.metrics import (
    Scores,
    confusion_matrix,
    format_table,
    scores_document,
    scores_from_confusion,
)
from segviewer.core.resources import default_model_path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True,
                        help="the kitti_semantics/ or camvid/ folder")
    parser.add_argument("--layout", choices=("kitti", "cityscapes", "camvid", "camvid32", "bdd100k"), required=True)
    parser.add_argument("--split", choices=("val", "train", "all"), default="val",
                        help="KITTI val = 000040-000047; CamVid val = val/ (default %(default)s)")
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--pixel-budget", type=int, default=None,
                        help="pixels the network sees per image (working scale; default: the one its model card names, "
                             "else 640x192)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="tf",
                        help="tf (default), litert (the model's .tflite twin) or litert-int8 (its int8 twin)")
    parser.add_argument("--tta", action="store_true",
                        help="test-time augmentation: average the scores of the image and its mirror "
                             "(about 2x the network time)")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    return parser.parse_args(argv)


def select_samples(data: Path, layout: str, split: str) -> list[Sample]:
    if layout == "cityscapes":
        splits = {"val": ["val"], "train": ["train"], "all": ["train", "val"]}[split]
        return [s for name in splits for s in cityscapes_split(data, name)]
    if layout == "bdd100k":
        splits = {"val": ["val"], "train": ["train"], "all": ["train", "val"]}[split]
        return [s for name in splits for s in bdd100k_samples(data, name)]
    if layout in ("camvid", "camvid32"):
        splits = {"val": ["val"], "train": ["train"], "all": ["train", "val"]}[split]
        samples = [s for name in splits for s in camvid_samples(data, name)]
        return [s for s in samples if s.has_camvid32_label()] if layout == "camvid32" else samples
    samples = [s for s in kitti_samples(data, "training") if s.label is not None]
    if split == "all":
        return samples
    return [s for s in samples if is_kitti_validation(s) == (split == "val")]


def class_names(layout: str) -> list[str]:
    if layout == "camvid":
        return list(CAMVID_CLASSES)
    return [c.name for c in load_class_table().train_classes]


def set_prediction_counts(codes: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``int64[256, 19]``: for each training code, how often each train class was
    predicted on its pixels."""
    keep = codes.ravel() != VOID_TRAIN_ID
    pairs = codes.ravel()[keep].astype(np.int64) * NUM_TRAIN_CLASSES + predicted.ravel()[keep]
    return np.bincount(pairs, minlength=256 * NUM_TRAIN_CLASSES).reshape(256, NUM_TRAIN_CLASSES)


def set_recall(counts: np.ndarray) -> list[dict]:
    """For each set label that occurs: its pixels, the share predicted as one of its
    members, and the most frequent prediction."""
    names = class_names("kitti")
    rows = []
    for code, members in LABEL_SETS.items():
        total = int(counts[code].sum())
        if total:
            rows.append({"set": "{" + ", ".join(names[m] for m in members) + "}", "pixels": total,
                         "in_set": float(counts[code, list(members)].sum() / total),
                         "most_predicted": names[int(np.argmax(counts[code]))]})
    return rows


def evaluate(segmenter: Segmenter, samples: list[Sample], layout: str, progress: bool = True,
             set_counts: np.ndarray | None = None) -> tuple[Scores, np.ndarray, float]:
    """Scores, confusion matrix and mean seconds per image over ``samples``; for
    ``camvid32``, ``set_counts`` (see :func:`set_prediction_counts`) is added to."""
    num_classes = len(class_names(layout))
    matrix = np.zeros((num_classes, num_classes + 1), np.int64)
    seconds = []
    for index, sample in enumerate(samples, start=1):
        prediction = segmenter.predict(load_image(sample.image))
        seconds.append(prediction.seconds)
        if layout == "camvid":
            truth = read_single_channel(sample.label)  # 11 = void, ignored
            predicted = TRAIN_TO_CAMVID[prediction.train_ids]
        elif layout == "camvid32":
            # Set labels (codes >= 19) fall outside the matrix like void; see set_recall.
            truth = sample.read_training_codes()
            predicted = prediction.train_ids
            if set_counts is not None:
                set_counts += set_prediction_counts(truth, predicted)
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
    try:
        segmenter = Segmenter.load(model_path, args.pixel_budget, tta=args.tta, backend=args.backend)
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    set_counts = np.zeros((256, NUM_TRAIN_CLASSES), np.int64)
    scores, _matrix, median_s = evaluate(segmenter, samples, args.layout, set_counts=set_counts)
    names = class_names(args.layout)
    print(f"{model_path.name} ({segmenter.backend_description}) on {len(samples)} {args.layout} {args.split} images "
          f"({time.perf_counter() - started:.0f} s, median {median_s * 1000:.0f} ms/image)")
    print(format_table(scores, names))
    sets = set_recall(set_counts) if args.layout == "camvid32" else []
    for row in sets:
        print(f"{row['set']:<32} {row['pixels']:>9,} px  {row['in_set'] * 100:5.1f}% predicted in the set "
              f"(most often: {row['most_predicted']})")
    if args.json:
        document = scores_document(scores, names, len(samples))
        if sets:
            document["set_labels"] = sets
        args.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
