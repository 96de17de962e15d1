"""Decide whether a candidate model may replace the shipped one (issue 28's rule, written
down before the stage-6 results; docs/model_quality.md).

    python -m training.ship_rule --baseline resources/models/segviewer_lite0.keras --candidate runs/X/last.keras

Both models are scored by :mod:`training.evaluate` on every validation set found under
``--data`` (KITTI val, CamVid val, camvid32, Cityscapes val, BDD100K val). The candidate
passes when

1. its mean IoU (benchmark rule) is higher on every set, and
2. no class loses more than ``--max-drop`` points on a set where that class has at least
   ``--min-pixels`` truth pixels in at least ``--min-frames`` frames (a class below that
   bound is too rare there to veto; issue 21's fence veto rested on two frames).

Exit status 0 when the candidate passes, 1 when it does not, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from segviewer.core.help_text import plain

SETS = (("kitti", "kitti_semantics"), ("camvid", "camvid"), ("camvid32", "camvid"),
        ("cityscapes", "cityscapes_samples"), ("bdd100k", "bdd100k_samples"))


def class_support(samples, layout: str) -> dict[str, tuple[int, int]]:
    """Per class name: (truth pixels, frames holding the class), from the truth alone."""
    from segviewer.core.datasets import read_single_channel
    from training.evaluate import class_names

    names = class_names(layout)
    pixels = np.zeros(len(names), np.int64)
    frames = np.zeros(len(names), np.int64)
    for sample in samples:
        if layout == "camvid":
            truth = read_single_channel(sample.label)
        elif layout == "camvid32":
            truth = sample.read_training_codes()
        else:
            truth = sample.read_train_ids()
        counts = np.bincount(truth.ravel(), minlength=256)[: len(names)]
        pixels += counts
        frames += counts > 0
    return {name: (int(p), int(f)) for name, p, f in zip(names, pixels, frames)}


def decide(baseline: dict, candidate: dict, support: dict, max_drop: float, min_pixels: int,
           min_frames: int) -> tuple[bool, list[str]]:
    """(passes, reasons) for one set's two score documents and its class support."""
    reasons = []
    if (candidate["miou"] or 0) <= (baseline["miou"] or 0):
        reasons.append(f"mean IoU {candidate['miou'] * 100:.1f} <= {baseline['miou'] * 100:.1f}")
    for name, before in baseline["per_class"].items():
        after = candidate["per_class"].get(name)
        pixels, frames = support.get(name, (0, 0))
        if before is None or pixels < min_pixels or frames < min_frames:
            continue
        drop = (before - (after or 0.0)) * 100
        if drop > max_drop:
            reasons.append(f"{name} {before * 100:.1f} -> {(after or 0) * 100:.1f} "
                           f"({pixels:,} px in {frames} frames)")
    return not reasons, reasons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.ship_rule", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--candidate", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--max-drop", type=float, default=5.0, help="points (default %(default)s)")
    parser.add_argument("--min-pixels", type=int, default=20_000)
    parser.add_argument("--min-frames", type=int, default=3)
    parser.add_argument("--candidate-pixel-budget", type=int, default=None,
                        help="run the candidate at this working scale instead of its card's (to measure scales)")
    parser.add_argument("--json", type=Path, default=None, help="write every figure and the decision here")
    args = parser.parse_args(argv)
    for model in (args.baseline, args.candidate):
        if not model.is_file():
            print(f"error: {model}: no such model file", file=sys.stderr)
            return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from segviewer.core.errors import SegviewerError
    from segviewer.core.inference import Segmenter
    from segviewer.core.metrics import scores_document
    from training.evaluate import class_names, evaluate, select_samples

    try:
        models = {"baseline": Segmenter.load(args.baseline, backend="tf"),
                  "candidate": Segmenter.load(args.candidate, args.candidate_pixel_budget, backend="tf")}
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report, passes = {}, True
    for layout, folder in SETS:
        samples = select_samples(args.data / folder, layout, "val")
        if not samples:
            continue
        documents = {}
        for role, segmenter in models.items():
            scores, _, _ = evaluate(segmenter, samples, layout, progress=False)
            documents[role] = scores_document(scores, class_names(layout), len(samples))
        support = class_support(samples, layout)
        ok, reasons = decide(documents["baseline"], documents["candidate"], support,
                             args.max_drop, args.min_pixels, args.min_frames)
        passes &= ok
        report[layout] = {**documents, "support": support, "passes": ok, "reasons": reasons}
        print(f"{layout:<11} baseline {documents['baseline']['miou'] * 100:5.1f}  candidate "
              f"{documents['candidate']['miou'] * 100:5.1f}  {'pass' if ok else 'FAIL: ' + '; '.join(reasons)}",
              flush=True)
    print(f"decision: the candidate {'passes' if passes else 'does not pass'} the shipping rule")
    if args.json:
        args.json.write_text(json.dumps({"baseline": str(args.baseline), "candidate": str(args.candidate),
                                         "rule": {"max_drop": args.max_drop, "min_pixels": args.min_pixels,
                                                  "min_frames": args.min_frames},
                                         "sets": report, "passes": passes}, indent=1))
    return 0 if passes else 1


if __name__ == "__main__":
    raise SystemExit(main())
