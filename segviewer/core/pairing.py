"""Pairing saved predictions with their ground truth by name and folder (what
``segviewer evaluate --pred`` and ``--gt`` need to know of the dataset layouts)."""

from __future__ import annotations

from pathlib import Path

from segviewer.core.errors import SegviewerError

GT_SUFFIXES = ("_gtFine_labelIds", "_gtCoarse_labelIds", "_labelIds")
# Files in a ground-truth folder that are not label IDs (Cityscapes ships all of these).
NOT_LABEL_IDS = ("_color", "_instanceIds", "_labelTrainIds", "_trainIds", "_polygons")
# What predict writes for an image: Cityscapes images keep their "_leftImg8bit" in the name.
PREDICTION_NAMES = (("{stem}_labelIds.png", "label"), ("{stem}_leftImg8bit_labelIds.png", "label"),
                    ("{stem}_trainIds.png", "train"), ("{stem}_leftImg8bit_trainIds.png", "train"))



def ground_truth_stem(gt: Path) -> str:
    stem = gt.stem
    for suffix in GT_SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def is_ground_truth(path: Path) -> bool:
    """A label-ID file: KITTI ``semantic/<name>.png`` or Cityscapes ``*_gtFine_labelIds.png``."""
    if "_gtFine_" in path.name or "_gtCoarse_" in path.name:
        return path.name.endswith("_labelIds.png")
    return not path.stem.endswith(NOT_LABEL_IDS)


class AmbiguousMatchError(SegviewerError):
    """Several predictions fit one ground-truth file equally well."""


def _closest(truth: Path, candidates: list[Path], pred: Path) -> Path:
    """The prediction whose folder below ``pred`` shares the most folder names with the
    truth's path (``predict --recursive`` mirrors the image folders: ``training/image_2``
    for ``training/semantic``). Raises AmbiguousMatchError on a tie."""
    if len(candidates) == 1:
        return candidates[0]
    truth_folders = set(truth.resolve().parent.parts)
    shared = [len(set(c.relative_to(pred).parent.parts) & truth_folders) for c in candidates]
    best = [c for c, count in zip(candidates, shared) if count == max(shared)]
    if len(best) > 1:
        raise AmbiguousMatchError(truth, f"more than one prediction fits it ({', '.join(map(str, best))}); "
                                    "give --pred the folder that mirrors this ground truth")
    return best[0]


def find_pairs(pred: Path, gt: Path) -> tuple[list[tuple[Path, Path, str]], list[str]]:
    """``(prediction, truth, "label"|"train")`` per ground-truth file, and the misses.
    Both folders are searched at any depth (``predict --recursive`` mirrors the image
    folders); a prediction is matched by file name, and where folders hold the same name
    (the KITTI zip's training/ and testing/) by the mirrored folder. Raises
    AmbiguousMatchError when that cannot decide."""
    predictions: dict[str, list[Path]] = {}
    for path in sorted(pred.rglob("*.png")):
        predictions.setdefault(path.name, []).append(path)
    pairs, missing = [], []
    for truth in sorted(gt.rglob("*.png")):
        if not is_ground_truth(truth):
            continue
        stem = ground_truth_stem(truth)
        for pattern, kind in PREDICTION_NAMES:
            found = predictions.get(pattern.format(stem=stem))
            if found:
                pairs.append((_closest(truth, found, pred), truth, kind))
                break
        else:
            missing.append(stem)
    return pairs, missing


def unmatched_predictions(pred: Path, pairs: list[tuple[Path, Path, str]]) -> list[Path]:
    """Label-ID / train-ID masks in ``pred`` that no ground-truth file matched."""
    used = {prediction for prediction, _, _ in pairs}
    return [p for p in sorted(pred.rglob("*.png"))
            if p.name.endswith(("_labelIds.png", "_trainIds.png")) and p not in used]
