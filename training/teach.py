"""Pseudo-labels from a teacher network (a ``.tflite`` file), for training only.

    python -m training.teach --teacher ../shared/teachers/cityscapes_deeplab_edgetpu_slim_int8.tflite \\
        --data ../shared/datasets --out runs/teacher

Every training image of the dataset folders (KITTI ``training`` outside the validation
split and ``testing``, CamVid ``train``, Cityscapes ``train`` and ``train_extra``, or every
image of a plain folder) is labelled by the teacher at several scales, each also mirrored.
A view covers the scaled image with overlapping fixed-size tiles whose answers vote per
pixel. The views then vote again, and two maps are written per image:

* ``<out>/<dataset>/<path>.png``: the winning train ID (0-18);
* ``<out>/<dataset>/<path>_agree.png``: how many views voted for it (of ``views`` in the
  manifest), so training can keep only the pixels every view agrees on.

``<out>/manifest.json`` records the teacher's SHA-256, its input and output kinds, the
scales, the tile overlap and per-image agreement. A re-run with the same settings skips
the images already written; other settings are refused for that folder.

Teachers handled: uint8 or float32 input (float as ``(pixel - mean) / std``); an output
that is already the argmax (``[1, H, W]``) or class scores (``[1, H, W, C]``, argmax over
C; ``--first-class`` skips leading channels such as a "background" class). Anything the
teacher calls a class outside 0-18 becomes void (255).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from segviewer.core.atomic import write_atomic
from segviewer.core.backends import file_sha256
from segviewer.core.classes import NUM_TRAIN_CLASSES, VOID_TRAIN_ID
from segviewer.core.datasets import (
    Layout,
    camvid_samples,
    cityscapes_samples,
    detect_layout,
    is_kitti_validation,
    kitti_samples,
)
from segviewer.core.errors import SegviewerError
from segviewer.core.help_text import plain
from segviewer.core.image_io import load_image
from segviewer.core.progress import ProgressBar
from training.pseudo_labels import MANIFEST, pseudo_label_paths

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.teach", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", type=Path, required=True, help="the teacher's .tflite file")
    parser.add_argument("--data", type=Path, nargs="+", required=True,
                        help="dataset folders (KITTI, CamVid, Cityscapes layout), folders holding them, "
                             "or plain folders of images")
    parser.add_argument("--out", type=Path, required=True, help="where the pseudo-labels go")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0],
                        help="image scales the teacher sees (default %(default)s); see --scale-for")
    parser.add_argument("--scale-for", action="append", default=[], metavar="LAYOUT=S1,S2",
                        help="scales for one layout, e.g. kitti=1.0,1.37 (else --scales)")
    parser.add_argument("--no-mirror", action="store_true", help="do not add a mirrored view of each scale")
    parser.add_argument("--overlap", type=float, default=0.5, help="tile overlap, 0-0.9 (default %(default)s)")
    parser.add_argument("--first-class", type=int, default=0,
                        help="score/argmax value of train ID 0 (1 when class 0 is 'background')")
    parser.add_argument("--float-mean", type=float, default=127.5, help="float teachers: input (x - mean) / std")
    parser.add_argument("--float-std", type=float, default=127.5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=0, help="debug: label at most N images")
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Job:
    image: Path
    relative: Path   # output path without suffix, relative to --out
    layout: str


class Teacher:
    """A fixed-size ``.tflite`` segmentation network, run tile by tile."""

    def __init__(self, path: Path, threads: int = 1, first_class: int = 0,
                 float_mean: float = 127.5, float_std: float = 127.5) -> None:
        from ai_edge_litert.interpreter import Interpreter

        # Read into memory: the interpreter must not depend on the file staying as it is.
        self._interpreter = Interpreter(model_content=Path(path).read_bytes(), num_threads=threads)
        self._interpreter.allocate_tensors()
        source = self._interpreter.get_input_details()[0]
        target = self._interpreter.get_output_details()[0]
        shape = [int(v) for v in source["shape"]]
        if len(shape) != 4 or shape[3] != 3:
            raise ValueError(f"the teacher's input is {shape}, not [1, H, W, 3]")
        if any(int(v) < 0 for v in source.get("shape_signature", shape)) or min(shape[1:3]) < 32:
            raise ValueError(f"the teacher's input size is not fixed ({list(source.get('shape_signature', shape))}); "
                             "teach runs fixed-size tiles (export one with a fixed input, e.g. "
                             "`python -m training.teacher --tile 512 1024`)")
        self.tile = (shape[1], shape[2])
        out_shape = [int(v) for v in target["shape"]]
        # The labels must cover the tile pixel for pixel: a stride-8 or half-size output
        # would put every label in the wrong place.
        if len(out_shape) not in (3, 4) or out_shape[1:3] != shape[1:3]:
            raise ValueError(f"the teacher's output {out_shape} does not cover its {shape[1]}x{shape[2]} input "
                             "pixel for pixel; teach needs an argmax [1, H, W] or class scores [1, H, W, C] at "
                             "the input's size")
        self._input_index, self._input_dtype = source["index"], np.dtype(source["dtype"])
        self._output_index = target["index"]
        self.output_kind = "argmax" if len(target["shape"]) == 3 else "scores"
        self.input_kind = self._input_dtype.name
        self._first_class = first_class
        self._mean, self._std = float_mean, float_std

    def label_tile(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) at the tile size -> int32 train IDs (255 outside 0-18)."""
        if self._input_dtype == np.uint8:
            batch = pixels[None]
        else:
            batch = ((pixels.astype(np.float32) - self._mean) / self._std)[None].astype(self._input_dtype)
        self._interpreter.set_tensor(self._input_index, batch)
        self._interpreter.invoke()
        output = self._interpreter.get_tensor(self._output_index)[0]
        ids = (np.argmax(output, axis=-1) if self.output_kind == "scores" else output).astype(np.int64)
        ids -= self._first_class
        return np.where((ids >= 0) & (ids < NUM_TRAIN_CLASSES), ids, VOID_TRAIN_ID).astype(np.int32)


def tile_starts(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``length`` with at least
    ``overlap`` of a tile shared by neighbours; the last tile ends at the edge."""
    if length <= tile:
        return [0]
    stride = max(1, int(tile * (1.0 - overlap)))
    count = math.ceil((length - tile) / stride) + 1
    return sorted({round(i * (length - tile) / (count - 1)) for i in range(count)})


def label_view(teacher: Teacher, image: np.ndarray, overlap: float) -> np.ndarray:
    """One view: overlapping tiles over ``image`` (padded to a tile where smaller), each
    tile's answer a vote per pixel; uint8 train IDs (255 where no class got a vote)."""
    height, width = image.shape[:2]
    tile_h, tile_w = teacher.tile
    pad_h, pad_w = max(0, tile_h - height), max(0, tile_w - width)
    # Pad by reflection: a flat border would be a strange object for the teacher.
    padded = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect" if max(pad_h, pad_w) < min(
        height, width) else "edge")
    votes = np.zeros((height, width, NUM_TRAIN_CLASSES), np.uint16)
    for top in tile_starts(padded.shape[0], tile_h, overlap):
        for left in tile_starts(padded.shape[1], tile_w, overlap):
            ids = teacher.label_tile(padded[top:top + tile_h, left:left + tile_w])
            ids = ids[: max(0, min(tile_h, height - top)), : max(0, min(tile_w, width - left))]
            inside = ids != VOID_TRAIN_ID
            h, w = ids.shape
            region = votes[top:top + h, left:left + w]
            r, c = np.nonzero(inside)
            np.add.at(region, (r, c, ids[inside]), 1)
    winner = np.argmax(votes, axis=-1).astype(np.uint8)
    return np.where(votes.max(axis=-1) > 0, winner, VOID_TRAIN_ID).astype(np.uint8)


def label_image(teacher: Teacher, image: np.ndarray, scales: list[float], mirror: bool,
                overlap: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(winning train IDs, number of views that voted for it, number of views) at the
    image's own size. A view's labels are scaled back with nearest neighbour."""
    height, width = image.shape[:2]
    votes = np.zeros((height, width, NUM_TRAIN_CLASSES), np.uint8)
    views = 0
    rows, cols = np.indices((height, width))
    for scale in scales:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        scaled = image if size == (width, height) else np.asarray(
            Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
        for flipped in ((False, True) if mirror else (False,)):
            view = label_view(teacher, scaled[:, ::-1] if flipped else scaled, overlap)
            if flipped:
                view = view[:, ::-1]
            if view.shape != (height, width):
                view = np.asarray(Image.fromarray(view).resize((width, height), Image.Resampling.NEAREST))
            inside = view != VOID_TRAIN_ID
            votes[rows[inside], cols[inside], view[inside]] += 1
            views += 1
    agreement = votes.max(axis=-1)
    winner = np.where(agreement > 0, np.argmax(votes, axis=-1), VOID_TRAIN_ID).astype(np.uint8)
    return winner, agreement.astype(np.uint8), views


def training_images(root: Path) -> list[Job]:
    """The images of ``root`` that training may use, with their output paths."""
    root = Path(root)
    layout = detect_layout(root)
    name = root.name
    if layout is Layout.KITTI:
        samples = [s for s in kitti_samples(root, "training") if not is_kitti_validation(s)]
        samples += kitti_samples(root, "testing")
    elif layout is Layout.CAMVID:
        samples = camvid_samples(root, "train")
    elif layout is Layout.CITYSCAPES:
        samples = cityscapes_samples(root, "train") + cityscapes_samples(root, "train_extra")
    else:
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        return [Job(p, Path(name) / p.relative_to(root).with_suffix(""), "folder") for p in paths]
    return [Job(s.image, Path(name) / s.image.relative_to(root).with_suffix(""), layout.value) for s in samples]


def collect_jobs(roots: list[Path], out: Path | None = None) -> list[Job]:
    """Every image to label; nothing inside ``out`` (labels are never labelled again)."""
    from segviewer.core.datasets import dataset_folders

    jobs: list[Job] = []
    for root in roots:
        folders = dataset_folders(root)
        for _layout, folder in (folders or [(None, root)]):
            jobs += training_images(folder)
    if out is not None:
        inside = Path(out).resolve()
        jobs = [job for job in jobs if inside not in job.image.resolve().parents]
    return jobs


def parse_scale_overrides(items: list[str]) -> dict[str, list[float]]:
    overrides = {}
    for item in items:
        layout, _, values = item.partition("=")
        try:
            overrides[layout] = [float(v) for v in values.split(",") if v]
        except ValueError:
            raise SystemExit(f"error: --scale-for takes LAYOUT=S1,S2, not {item!r}") from None
        if not overrides[layout] or min(overrides[layout]) <= 0:
            raise SystemExit(f"error: --scale-for takes positive scales, not {item!r}")
    return overrides


def _save_png(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda stream: Image.fromarray(array, mode="L").save(stream, format="PNG"), overwrite=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.teacher.is_file():
        print(f"error: {args.teacher}: no such teacher file", file=sys.stderr)
        return 2
    if not 0 <= args.overlap < 0.95:
        print("error: --overlap must lie in 0-0.9", file=sys.stderr)
        return 2
    overrides = parse_scale_overrides(args.scale_for)
    try:
        teacher = Teacher(args.teacher, args.threads, args.first_class, args.float_mean, args.float_std)
    except (ValueError, RuntimeError) as error:
        print(f"error: {args.teacher}: not a usable teacher: {error}", file=sys.stderr)
        return 2
    settings = {"teacher": args.teacher.name, "teacher_sha256": file_sha256(args.teacher),
                "teacher_input": teacher.input_kind, "teacher_output": teacher.output_kind,
                "tile": list(teacher.tile), "overlap": args.overlap, "mirror": not args.no_mirror,
                "scales": args.scales, "scales_by_layout": overrides, "first_class": args.first_class}
    manifest_path = args.out / MANIFEST
    images: dict[str, dict] = {}
    earlier_seconds = 0.0
    if manifest_path.is_file():
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as error:
            print(f"error: {manifest_path}: unreadable manifest ({error}); remove it, or choose another --out, "
                  "to label again", file=sys.stderr)
            return 2
        if old.get("settings") != settings:
            print(f"error: {args.out} holds pseudo-labels made with other settings; choose another --out",
                  file=sys.stderr)
            return 2
        images, earlier_seconds = old.get("images", {}), float(old.get("seconds_total", 0.0))
    jobs = collect_jobs(args.data, args.out)
    if args.limit:
        jobs = jobs[: args.limit]
    if not jobs:
        print(f"error: no images under {', '.join(map(str, args.data))}", file=sys.stderr)
        return 2
    todo = [job for job in jobs if not (str(job.relative) in images
                                         and all(p.is_file() for p in pseudo_label_paths(args.out, job.relative)))]
    print(f"{len(jobs)} images, {len(jobs) - len(todo)} already labelled; teacher {args.teacher.name} "
          f"({teacher.input_kind} input, {teacher.output_kind} output, tiles {teacher.tile[0]}x{teacher.tile[1]})",
          flush=True)
    progress = ProgressBar(len(todo))
    started = time.perf_counter()
    skipped: list[str] = []
    try:
        for job in todo:
            scales = overrides.get(job.layout, args.scales)
            try:
                image = load_image(job.image)
            except SegviewerError as error:  # one unreadable image never stops the run
                skipped.append(str(error))
                progress.advance(job.image.name)
                continue
            winner, agreement, views = label_image(teacher, image, scales, not args.no_mirror, args.overlap)
            label_path, agree_path = pseudo_label_paths(args.out, job.relative)
            _save_png(winner, label_path)
            _save_png(agreement, agree_path)
            images[str(job.relative)] = {"image": str(job.image), "layout": job.layout, "scales": scales,
                                         "views": views,
                                         "unanimous": round(float((agreement == views).mean()), 4)}
            _write_manifest(manifest_path, settings, images, earlier_seconds + time.perf_counter() - started)
            progress.advance(job.image.name)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {len(images)} image(s) labelled; run again to continue", file=sys.stderr)
        return 130
    finally:
        progress.close()
    seconds = time.perf_counter() - started
    _write_manifest(manifest_path, settings, images, earlier_seconds + seconds)
    for problem in skipped:
        print(f"skipped: {problem}", file=sys.stderr)
    unanimous = np.mean([v["unanimous"] for v in images.values()]) if images else 0.0
    print(f"labelled {len(todo)} image(s) in {seconds / 60:.1f} min; views agree on {unanimous:.1%} "
          f"of pixels on average; manifest {manifest_path}")
    return 0


def _write_manifest(path: Path, settings: dict, images: dict, seconds_total: float) -> None:
    """Rewritten after every image, so an interrupted run keeps what it did."""
    document = {"settings": settings, "seconds_total": round(seconds_total, 1), "images": images}
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(document, indent=1).encode()
    write_atomic(path, lambda stream: stream.write(payload), overwrite=True)


if __name__ == "__main__":
    raise SystemExit(main())
