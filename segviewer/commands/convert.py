"""``segviewer convert``: write a model's LiteRT twin, so the viewer and the CLIs can run
it without TensorFlow on a CPU (fast start, little memory).

    segviewer convert my_model.keras              # writes my_model.tflite beside it
    segviewer convert my_model.keras --check img.png
    segviewer convert my_model.keras --int8 --calibrate ../shared/datasets

The twin runs the same graph as the TensorFlow path (network, bilinear score upsampling,
argmax). ``--check`` segments images with both backends and reports the share of pixels
on which they agree.

``--int8`` writes the int8 twin (my_model.int8.tflite: int8 weights and activations,
about twice as fast on a CPU; the input stage, the classifier and divisions keep float
arithmetic, see ``--float-layers``), calibrated on the *training* images of the
``--calibrate`` datasets (a plain folder: all its images) and checked against the float
model on their *validation* images (or on ``--check``). Its stamp records both; ``--backend
auto`` uses it only when at least 99 % of the checked pixels got the float model's class.

``--weights-from STUDENT.keras`` quantises the weights of a quantisation-aware copy of
the model (``python -m training.quantisation_aware``) instead of the model's own; the twin
is still checked against MODEL, which stays the float model.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
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
                        help="images (or folders of them) to segment with both backends to compare")
    parser.add_argument("--int8", action="store_true",
                        help="write the full-integer twin MODEL.int8.tflite instead (needs --calibrate)")
    parser.add_argument("--calibrate", type=Path, nargs="+", default=[], metavar="DATA",
                        help="--int8: dataset folders (KITTI, Cityscapes, CamVid, BDD100K layouts, or folders "
                             "holding them; their training split is used) or plain folders of images")
    parser.add_argument("--calibration-images", type=int, default=200, metavar="N",
                        help="--int8: at most N calibration images, evenly spread over the list (default 200)")
    parser.add_argument("--float-layers", choices=("auto", "none"), default="auto",
                        help="--int8: auto (default): the layers before the network's first quarter-size "
                             "features (normalisation, stem, first block), the classifier and those int8 cannot "
                             "hold (EfficientViT's attention) keep float arithmetic, the rest is int8; none: every "
                             "layer int8 (divisions stay float either way)")
    parser.add_argument("--weights-from", type=Path, default=None, metavar="STUDENT",
                        help="--int8: quantise this quantisation-aware copy of MODEL (same architecture, from "
                             "python -m training.quantisation_aware) and check it against MODEL")
    return parser.parse_args(argv)


def agreement(model: Path, images: list[Path], reference=None, other=None) -> float:
    """Share of pixels on which two segmenters give the same class (default: the model on
    TensorFlow and on its float LiteRT twin)."""
    from segviewer.core.image_io import load_image
    from segviewer.core.inference import Segmenter

    reference = reference or Segmenter.load(model, backend="tf")
    other = other or Segmenter.load(model, backend="litert")
    same = total = 0
    for path in images:
        try:
            image = load_image(path)
        except SegviewerError as error:  # one unreadable check image must not end the run
            print(f"warning: {error}; not checked", file=sys.stderr)
            continue
        a, b = reference.predict(image).train_ids, other.predict(image).train_ids
        same += int(np.count_nonzero(a == b))
        total += a.size
    return same / max(total, 1)


def images_by_set(roots: list[Path], validation: bool) -> dict[str, list[Path]]:
    """The training (or validation) images of the datasets in ``roots``, grouped by layout;
    a folder in no dataset layout gives all its images (``"images"``) to training and none
    to validation."""
    from segviewer.core.datasets import dataset_folders, split_samples
    from segviewer.core.file_search import find_images

    grouped: dict[str, list[Path]] = {}
    for root in roots:
        if dataset_folders(root):
            train, val = split_samples(root)
            for sample in val if validation else train:
                grouped.setdefault(str(getattr(sample.layout, "value", sample.layout)), []).append(sample.image)
        elif not validation:
            grouped.setdefault("images", []).extend(find_images(root, recursive=True).files)
    return grouped


def spread(paths: list, limit: int) -> list:
    """At most ``limit`` of ``paths``, evenly spaced (every dataset keeps its share)."""
    if len(paths) <= limit:
        return paths
    return [paths[int(i * len(paths) / limit)] for i in range(limit)]


def check_images(arguments: list[Path]) -> list[Path]:
    """``--check``'s images: files as given, folders searched below."""
    from segviewer.core.file_search import find_images

    images: list[Path] = []
    for path in arguments:
        images += find_images(path, recursive=True).files if path.is_dir() else [path]
    return images


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

    if args.int8 and not args.calibrate:
        print("error: --int8 needs --calibrate DATA: the training images to set its ranges from", file=sys.stderr)
        return 2
    if args.calibrate and not args.int8:
        print("error: --calibrate is for --int8 (the float twin needs no calibration)", file=sys.stderr)
        return 2
    if args.weights_from is not None and not args.int8:
        print("error: --weights-from is for --int8 (it gives the int8 twin its weights)", file=sys.stderr)
        return 2
    if args.calibration_images < 1:
        print("error: --calibration-images must be at least 1", file=sys.stderr)
        return 2
    # The images to check come first: a bad one must not leave a twin written and a traceback.
    from segviewer.core.image_io import load_image
    from segviewer.core.inference import Segmenter

    try:
        checked = check_images(args.check)
        for image in checked:
            load_image(image)
        segmenter = Segmenter.load(args.model, backend="tf")
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model = segmenter.model
    reason = unconvertible_reason(model)
    if reason:
        print(f"error: {args.model}: not converted: {reason}; it runs on TensorFlow (--backend tf)", file=sys.stderr)
        return 2
    if args.int8:
        return convert_int8(args, segmenter, checked)
    out = args.out or twin_path(args.model)
    if not written(lambda: convert_to_litert(model, out, source=args.model), args.model, out):
        return 2
    if checked:
        if args.out is not None and args.out != twin_path(args.model):
            print("note: --check compares the twin beside the model; --out elsewhere is not checked")
        else:
            print(f"TensorFlow and LiteRT agree on {agreement(args.model, checked) * 100:.3f} % of pixels "
                  f"({len(checked)} image(s))")
    return 0


def written(convert, model: Path, out: Path) -> bool:
    """Run ``convert`` (which writes ``out``); say what was written, or in one line why not."""
    try:
        convert()
    except (OSError, SegviewerError) as error:
        print(f"error: {out}: cannot write ({getattr(error, 'strerror', None) or error})", file=sys.stderr)
        return False
    except Exception as error:  # the converter's own failures come as pages of MLIR
        print(f"error: {model}: the LiteRT converter failed ({first_line(error, 160)})", file=sys.stderr)
        return False
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return True


def int8_weights(args: argparse.Namespace, model) -> tuple[object, dict]:
    """The Keras model whose weights the int8 twin takes, and what its stamp says of them:
    MODEL itself, or ``--weights-from``'s quantisation-aware copy of it (refused, naming
    the file, when its architecture differs)."""
    from segviewer.core.backends import file_sha256
    from segviewer.core.errors import ModelLoadError
    from segviewer.core.inference import Segmenter, read_model_card

    if args.weights_from is None:
        return model, {"from": args.model.name}
    student = Segmenter.load(args.weights_from, backend="tf").model
    shapes = [tuple(weight.shape) for weight in model.weights]
    if [layer.name for layer in model.layers] != [layer.name for layer in student.layers] or \
            [tuple(weight.shape) for weight in student.weights] != shapes:
        raise ModelLoadError(args.weights_from, f"not a copy of {args.model.name}'s architecture (its layers "
                                                "or weight shapes differ), so it cannot give its twin weights")
    record = read_model_card(args.weights_from).get("quantisation_aware", {})
    return student, {"from": args.weights_from.name, "sha256": file_sha256(args.weights_from),
                     "quantisation_aware": record}


def convert_int8(args: argparse.Namespace, segmenter, checked: list[Path]) -> int:
    """Calibrate, write and check the int8 twin (see the module docstring)."""
    from segviewer.core.backends import (
        INT8_AGREEMENT_FLOOR,
        LiteRTNetwork,
        TwinKind,
        convert_to_litert_int8,
        int8_float_layers,
        record_int8_check,
        twin_path,
    )
    from segviewer.core.errors import InferenceError
    from segviewer.core.image_io import load_image
    from segviewer.core.inference import Segmenter

    chosen = spread([(name, path) for name, paths in images_by_set(args.calibrate, validation=False).items()
                     for path in paths], args.calibration_images)
    calibration = [path for _name, path in chosen]
    counts = dict(Counter(name for name, _path in chosen))
    if not calibration:
        print(f"error: no images to calibrate on in {', '.join(map(str, args.calibrate))}", file=sys.stderr)
        return 2
    check_sets = {"--check": checked} if checked else images_by_set(args.calibrate, validation=True)
    checked = [path for paths in check_sets.values() for path in paths]
    out = args.out or twin_path(args.model, TwinKind.INT8)
    note = {"images": len(calibration), "split": "training", "from": [str(root) for root in args.calibrate],
            "layouts": counts, "working_scale": {"pixel_budget": segmenter.pixel_budget,
                                                 "max_upscale": segmenter.max_upscale}}
    print(f"calibrating on {len(calibration)} training images...", flush=True)

    def working_size_images():
        for path in calibration:
            try:
                yield segmenter.network_input(load_image(path))
            except SegviewerError as error:  # one unreadable image must not end the run
                print(f"warning: {error}; skipped", file=sys.stderr)

    float_layers = int8_float_layers(segmenter.model) if args.float_layers == "auto" else []
    if float_layers:
        print(f"keeping {len(float_layers)} layer(s) in float: {', '.join(float_layers)}", flush=True)
    try:
        quantised, note["weights"] = int8_weights(args, segmenter.model)
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not written(lambda: convert_to_litert_int8(quantised, out, args.model, working_size_images, note,
                                                  float_layers), args.model, out):
        return 2
    if not checked:
        print(f"note: {out.name} is not checked (no validation images in --calibrate, and no --check), "
              "so --backend auto will not use it", file=sys.stderr)
        return 0
    int8 = Segmenter(LiteRTNetwork(out, kind=TwinKind.INT8), pixel_budget=segmenter.pixel_budget,
                     card=segmenter.card)
    check = {"images": len(checked), "against": "the float model (TensorFlow)"}
    # Every set on its own: a small one (Cityscapes' two frames) must not hide behind a big one.
    try:
        per_set = {name: round(agreement(args.model, paths, reference=segmenter, other=int8), 6)
                   for name, paths in check_sets.items() if paths}
    except InferenceError as error:  # LiteRT stops a run it cannot compute (an int8 division by zero)
        record_int8_check(out, {**check, "pixel_agreement": 0.0, "per_set": {}, "error": error.problem})
        print(f"error: {out}: the int8 twin does not run on the check images ({error.problem}); "
              "--backend auto will not use it", file=sys.stderr)
        return 2
    worst = min(per_set.values())
    record_int8_check(out, {**check, "pixel_agreement": worst, "per_set": per_set})
    for name, share in per_set.items():
        print(f"int8 and float agree on {share * 100:.3f} % of pixels on {name} ({len(check_sets[name])} image(s))")
    print(f"int8 twin passes its check (every set >= {INT8_AGREEMENT_FLOOR * 100:.0f} %): --backend auto will use it"
          if worst >= INT8_AGREEMENT_FLOOR else
          f"int8 twin fails its check ({worst * 100:.3f} % < {INT8_AGREEMENT_FLOOR * 100:.0f} % on one set): "
          "--backend auto keeps the float twin; --backend litert-int8 still runs it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
