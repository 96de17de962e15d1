"""The EfficientViT-Seg-B0 teacher in our own code: export it for the viewer and for
``training.teach``, and check it against the shared labels the authors' code made.

    python -m training.teacher --out runs/teacher/efficientvit_b0.keras            # model B in the viewer
    python -m training.teacher --out runs/teacher/efficientvit_b0.keras --tile 512 1024   # + teach's .tflite
    python -m training.teacher --check ../shared/teachers/efficientvit_b0_labels --images 20

The ``.keras`` export carries a model card with the teacher's working scale (objects as
big as in Cityscapes' full frames: about 1.5x a KITTI frame, CamVid enlarged 2x), so the
viewer, ``segviewer predict`` and ``segviewer evaluate`` run it where it is good. The
``.tflite`` tile (fixed size, uint8 in, 19 class scores out) is what
``python -m training.teach --teacher`` expects.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from segviewer.core.help_text import plain
from training.models import TEACHER_WEIGHTS

# A KITTI frame at 1.5x (1856x576); CamVid's 480x360 at 2x. The shared README's figures.
TEACHER_PIXEL_BUDGET = 1856 * 576
TEACHER_MAX_UPSCALE = 2.0


def teacher_card(weights: Path) -> dict:
    from segviewer.core.backends import file_sha256

    return {
        "name": "efficientvit-seg-b0-cityscapes (teacher)",
        "architecture": "EfficientViT-Seg-B0 (H. Cai et al., ICCV 2023), built in Keras by segviewer from the "
                        "authors' architecture; logits resized bilinearly to the input",
        "encoder_weights": f"the authors' Cityscapes release ({weights.name}, SHA-256 {file_sha256(weights)}), "
                           "Apache-2.0; trained on Cityscapes fine (Cityscapes terms)",
        "working_scale": {"pixel_budget": TEACHER_PIXEL_BUDGET, "max_upscale": TEACHER_MAX_UPSCALE},
        "note": "A teacher for training and comparison (open it as model B); never the shipped model.",
        "validation": {},
    }


def export_keras(weights: Path, out: Path) -> Path:
    from training.models import build_teacher

    model = build_teacher(weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    out.with_suffix(".json").write_text(json.dumps(teacher_card(weights), indent=2) + "\n")
    return out


def export_tile(weights: Path, out: Path, tile: tuple[int, int]) -> Path:
    """A fixed-size ``.tflite`` for ``training.teach``: uint8 (1, H, W, 3) in, (1, H, W, 19)
    logits out."""
    import tensorflow as tf

    from segviewer.core.backends import litert_flatbuffer
    from segviewer.models.efficientvit import build_efficientvit_seg, load_efficientvit_weights

    model = build_efficientvit_seg(name="teacher_tile", input_size=tile)
    load_efficientvit_weights(model, weights)
    flatbuffer = litert_flatbuffer(model, lambda pixels: model(pixels, training=False),
                                   [tf.TensorSpec([1, *tile, 3], tf.uint8)], "scores")
    with tempfile.NamedTemporaryFile(dir=out.parent, delete=False, suffix=".partial") as temp:
        temp.write(flatbuffer)
    os.replace(temp.name, out)
    return out


def teacher_scores(model, image: np.ndarray, scale: float) -> np.ndarray:
    """Softmax of the image and its mirror image, averaged, at ``scale`` (padded to a
    multiple of 32 with the ImageNet mean, which normalises to 0, as the authors do)."""
    import tensorflow as tf

    height, width = image.shape[:2]
    size = (round(height * scale), round(width * scale))
    scaled = tf.image.resize(image.astype(np.float32), size, "bilinear", antialias=False).numpy()
    pad_h, pad_w = -size[0] % 32, -size[1] % 32
    mean = np.array([0.485, 0.456, 0.406], np.float32) * 255
    padded = np.broadcast_to(mean, (size[0] + pad_h, size[1] + pad_w, 3)).copy()
    padded[: size[0], : size[1]] = scaled
    # uint8 input: the padding rounds to the mean's nearest integers (off by < 0.5/255 of std).
    batch = np.clip(np.round(np.stack([padded, padded[:, ::-1]])), 0, 255).astype(np.uint8)
    logits = model(batch, training=False).numpy()
    probabilities = tf.nn.softmax(logits, axis=-1).numpy()
    averaged = (probabilities[0] + probabilities[1][:, ::-1]) / 2
    averaged = averaged[: size[0], : size[1]]
    return tf.image.resize(averaged, (height, width), "bilinear").numpy()


def check_against(labels: Path, data: Path, weights: Path, images: int) -> float:
    """Share of pixels where our teacher's argmax equals the shared label, over the first
    ``images`` of the manifest spread across its datasets."""
    from PIL import Image

    from segviewer.core.image_io import load_image
    from training.models import build_teacher

    model = build_teacher(weights)
    manifest = json.loads((labels / "manifest.json").read_text())
    entries = sorted(manifest["images"].items())
    picked = entries[:: max(1, len(entries) // images)][:images]
    agree = total = 0
    for relative, entry in picked:
        dataset = relative.split("/", 1)[0]
        image = load_image(data / entry["image"])
        ours = teacher_scores(model, image, float(manifest["scales"][dataset])).argmax(-1)
        theirs = np.asarray(Image.open(labels / f"{relative}.png"))
        share = float((ours == theirs).mean())
        print(f"{relative}: {share:.2%} of pixels agree", flush=True)
        agree += int((ours == theirs).sum())
        total += theirs.size
    return agree / max(total, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.teacher", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=TEACHER_WEIGHTS, help="the teacher's .npz")
    parser.add_argument("--out", type=Path, default=None, help="write the teacher here (.keras, with its card)")
    parser.add_argument("--tile", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="also write a fixed-size .tflite beside --out, for training.teach")
    parser.add_argument("--check", type=Path, default=None, help="the shared labels folder to compare with")
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--images", type=int, default=20)
    args = parser.parse_args(argv)
    if not args.weights.is_file():
        print(f"error: {args.weights}: no such weight file", file=sys.stderr)
        return 2
    if args.out is None and args.check is None:
        parser.error("give --out, --check or both")
    if args.tile and (args.out is None or any(v <= 0 or v % 32 for v in args.tile)):
        parser.error("--tile needs --out and two positive multiples of 32")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.out is not None:
        print(f"wrote {export_keras(args.weights, args.out)}")
        if args.tile:
            print(f"wrote {export_tile(args.weights, args.out.with_suffix('.tflite'), tuple(args.tile))}")
    if args.check is not None:
        share = check_against(args.check, args.data, args.weights, args.images)
        print(f"argmax agrees with {args.check} on {share:.2%} of the pixels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
