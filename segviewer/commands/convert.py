"""``segviewer convert``: write a model's LiteRT twin, so the viewer and the CLIs can run
it without TensorFlow on a CPU (fast start, little memory).

    segviewer convert my_model.keras              # writes my_model.tflite beside it
    segviewer convert my_model.keras --check img.png

The twin runs the same graph as the TensorFlow path (network, bilinear score upsampling,
argmax). ``--check`` segments images with both backends and reports the share of pixels
on which they agree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from segviewer.core.errors import SegviewerError, first_line
from segviewer.core.help_text import plain


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="segviewer convert", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a .keras segmentation model")
    parser.add_argument("--out", type=Path, default=None, help="default: MODEL with the .tflite suffix")
    parser.add_argument("--check", type=Path, nargs="*", default=[], metavar="IMAGE",
                        help="images to segment with both backends to compare")
    return parser.parse_args(argv)


def agreement(model: Path, images: list[Path]) -> float:
    """Share of pixels on which TensorFlow and LiteRT give the same class."""
    from segviewer.core.image_io import load_image
    from segviewer.core.inference import Segmenter

    tf_path = Segmenter.load(model, backend="tf")
    lite = Segmenter.load(model, backend="litert")
    same = total = 0
    for path in images:
        image = load_image(path)
        a, b = tf_path.predict(image).train_ids, lite.predict(image).train_ids
        same += int(np.count_nonzero(a == b))
        total += a.size
    return same / max(total, 1)


def unconvertible_reason(model) -> str:
    """Why the twin of ``model`` would not work, or "": the twin takes any image size, so a
    fixed-size model cannot have one; float16 weights make the converter fail."""
    from segviewer.core.inference import fixed_input_size

    fixed = fixed_input_size(model)
    if fixed is not None:
        return (f"it takes only {fixed[1]}x{fixed[0]} inputs, and a LiteRT twin must take any size "
                "(the viewer runs it at its fixed size on TensorFlow)")
    layers = model._flatten_layers() if hasattr(model, "_flatten_layers") else model.layers
    dtypes = {str(getattr(w, "dtype", "")) for w in model.weights}
    dtypes |= {str(getattr(getattr(layer, "dtype_policy", None), "compute_dtype", "")) for layer in layers}
    half = sorted(dtypes & {"float16", "bfloat16"})
    if half:
        return (f"it computes in {half[0]} (mixed precision), which the LiteRT converter cannot take; "
                "save it with a float32 policy to convert it")
    return ""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from segviewer.core.backends import convert_to_litert, twin_path

    # The images to check come first: a bad one must not leave a twin written and a traceback.
    from segviewer.core.image_io import load_image
    from segviewer.core.inference import Segmenter

    try:
        for image in args.check:
            load_image(image)
        model = Segmenter.load(args.model, backend="tf").model
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    reason = unconvertible_reason(model)
    if reason:
        print(f"error: {args.model}: not converted: {reason}; it runs on TensorFlow (--backend tf)", file=sys.stderr)
        return 2
    out = args.out or twin_path(args.model)
    try:
        convert_to_litert(model, out, source=args.model)
    except OSError as error:
        print(f"error: {out}: cannot write ({error.strerror or error})", file=sys.stderr)
        return 2
    except Exception as error:  # the converter's own failures come as pages of MLIR
        print(f"error: {args.model}: the LiteRT converter failed ({first_line(error, 160)})", file=sys.stderr)
        return 2
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.check:
        if args.out is not None and args.out != twin_path(args.model):
            print("note: --check compares the twin beside the model; --out elsewhere is not checked")
        else:
            print(f"TensorFlow and LiteRT agree on {agreement(args.model, args.check) * 100:.3f} % of pixels "
                  f"({len(args.check)} image(s))")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
