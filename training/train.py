"""Train a segviewer U-Net on KITTI semantics + CamVid.

    python -m training.train --data ../shared/datasets --epochs 40
    python -m training.train --arch seed --summary      # the article's network, 7,698,580 params

Writes ``<run>/best.keras`` (best validation mean IoU), ``<run>/last.keras`` (for
``--resume``), ``<run>/log.csv`` and TensorBoard logs under ``<run>/tensorboard``; with
``--export PATH`` the best model is copied there with its JSON model card.
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

from segviewer.core.datasets import split_samples
from segviewer.core.help_text import plain
from segviewer.core.inference import DEFAULT_PIXEL_BUDGET
from segviewer.core.label_sets import NUM_LABEL_CODES

DEFAULT_CROP = (192, 384)
ARCHES = ("lite0", "seed", "evit_unet", "evit_seg")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", default=[Path("../shared/datasets")],
                        help="dataset folders (KITTI, Cityscapes or CamVid layout), or folders holding "
                             "them (e.g. kitti_semantics/ camvid/ cityscapes/); several may be given")
    parser.add_argument("--arch", choices=ARCHES, default="lite0",
                        help="lite0: U-Net on EfficientNet-Lite0 (ImageNet); seed: the article's U-Net; "
                             "evit_unet: our decoder on the EfficientViT-B0 backbone; evit_seg: the "
                             "EfficientViT-Seg-B0 network (both start from --encoder-weights)")
    parser.add_argument("--encoder-weights", type=Path, default=None,
                        help="evit_*: the EfficientViT .npz to start from (default: the shared "
                             "Cityscapes teacher's, ../shared/teachers/efficientvit_seg_b0_cityscapes.npz)")
    parser.add_argument("--distill", type=Path, default=None, metavar="NPZ",
                        help="distil from this frozen EfficientViT-Seg-B0 teacher: KL divergence to its "
                             "softmax on every pixel of each augmented crop, beside the human labels' loss")
    parser.add_argument("--distill-weight", type=float, default=1.0, help="weight of the KL term")
    parser.add_argument("--temperature", type=float, default=1.0, help="distillation temperature")
    parser.add_argument("--distill-labelled-weight", type=float, default=1.0,
                        help="weight of the KL term on pixels a human labelled with one class (0: the human "
                             "label alone decides there; default 1: every pixel alike)")
    parser.add_argument("--pixel-budget", type=int, default=None,
                        help="pixels the network sees per image, in training and validation (the working "
                             f"scale; default {DEFAULT_PIXEL_BUDGET} = 640x192)")
    parser.add_argument("--max-upscale", type=float, default=1.0,
                        help="how far a small image may be enlarged to reach the pixel budget (default 1: never)")
    parser.add_argument("--unlabelled", type=Path, nargs="+", default=[],
                        help="folders of unlabelled frames (searched recursively): with --distill they "
                             "learn from the teacher alone")
    parser.add_argument("--freeze-encoder", action="store_true",
                        help="evit_*: train only the layers outside the pretrained backbone (a random decoder "
                             "first learns at a rate the pretrained layers could not take; then continue with "
                             "--init-from and a low --lr)")
    parser.add_argument("--freeze-pretrained-norms", action=argparse.BooleanOptionalAction, default=False,
                        help="evit_*: keep the pretrained batch norms in inference mode. Off by default: frozen, "
                             "their tiny variances made every Adam step from 5e-5 to 2e-5 drift "
                             "(docs/model_quality.md, stage 6)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--steps-per-epoch", type=int, default=0, help="0 = one pass over the data")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=int, nargs=2, default=DEFAULT_CROP, metavar=("H", "W"))
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--clipnorm", type=float, default=None,
                        help="clip each gradient to this norm (fine-tuning a pretrained attention network "
                             "at 5e-4 diverged without it)")
    parser.add_argument("--kitti-repeats", type=int, default=8,
                        help="KITTI has few images: show each this many times per epoch")
    parser.add_argument("--repeat", action="append", default=[], metavar="LAYOUT=N",
                        help="per-dataset sampling weight: show each image of LAYOUT (kitti, cityscapes, "
                             "camvid) N times per epoch (default kitti=--kitti-repeats, others 1)")
    parser.add_argument("--pipeline-probe-batches", type=int, default=10,
                        help="time this many batches of the input pipeline alone before training")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="mixed_float16 compute (for GPUs; Keras scales the loss); float32 otherwise")
    parser.add_argument("--patience", type=int, default=12, help="early-stopping patience (epochs)")
    parser.add_argument("--max-train-images", type=int, default=0, help="debug: cap the training set")
    parser.add_argument("--max-val-images", type=int, default=0, help="debug: cap the validation set")
    parser.add_argument("--run-dir", type=Path, default=None, help="default runs/<arch>")
    parser.add_argument("--resume", action="store_true", help="continue from <run>/last.keras")
    parser.add_argument("--export", type=Path, default=None,
                        help="copy the best model (and a model card) here when done")
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                        help="tf.distribute strategy; multiworker reads TF_CONFIG")
    parser.add_argument("--logical-cpus", type=int, default=0,
                        help="split the CPU into N logical devices (to try --strategy mirrored without GPUs)")
    parser.add_argument("--no-pretrained", action="store_true", help="lite0: random encoder")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start from this trained .keras model (e.g. the shipped one) "
                             "instead of the ImageNet encoder")
    parser.add_argument("--repeat-threshold", type=float, default=0.1,
                        help="repeat-factor sampling: a class in a fraction f < t of the images "
                             "repeats them sqrt(t/f) times (0 = off)")
    parser.add_argument("--focus-probability", type=float, default=0.5,
                        help="chance that a crop is centred on a rare-class pixel (0 = off)")
    parser.add_argument("--paste-probability", type=float, default=0.0,
                        help="chance that rare objects (trucks, buses, trains, two-wheelers "
                             "with riders) from other training images are pasted in (0 = off; "
                             "measured in docs/model_quality.md, not used for the shipped model)")
    parser.add_argument("--teacher-labels", type=Path, nargs="+", default=[],
                        help="pseudo-label folders written by `python -m training.teach`")
    parser.add_argument("--teacher-threshold", type=float, default=0.7,
                        help="probability labels (the shared EfficientViT ones): trust a pixel from this "
                             "probability on (default %(default)s)")
    parser.add_argument("--teacher-skip", default="",
                        help="comma-separated class names the teacher's labels never give (e.g. fence: the "
                             "Cityscapes teacher calls CamVid's hedges and walls fence)")
    parser.add_argument("--teacher-uses", default="narrow",
                        help="how teacher labels join the human ones, comma-separated: narrow (merged "
                             "labels -> the teacher's member class), fill (void -> soft teacher label); "
                             "see training/pseudo_labels.py (default %(default)s)")
    parser.add_argument("--coarse", action="store_true",
                        help="add Cityscapes train_extra frames with their gtCoarse labels, as soft labels "
                             "weighted per scene (--repeat cityscapes_coarse=N: each scene N times per epoch)")
    parser.add_argument("--soft-weight", type=float, default=0.5,
                        help="loss weight of soft labels (coarse and teacher-filled) relative to their class")
    parser.add_argument("--weight-offset", type=float, default=1.05,
                        help="class weights are 1/ln(offset + frequency): 1.05 (ENet's habit) weighs a "
                             "vanishing class 6x one covering 30 %% of pixels; larger offsets flatten that "
                             "(precision of over-weighted classes, e.g. CamVid's fence)")
    parser.add_argument("--summary", action="store_true", help="print the model summary and exit")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def run_folder(args: argparse.Namespace) -> Path:
    return args.run_dir or Path("runs") / args.arch


def parse_teacher_skip(text: str) -> frozenset[int]:
    """``"fence,wall"`` -> their train IDs. Raises ValueError naming an unknown class (a
    typo must not silently leave the teacher giving it)."""
    from segviewer.core.classes import load_class_table

    names = [c.name for c in load_class_table().train_classes]
    wanted = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise ValueError(f"--teacher-skip: no class named {', '.join(map(repr, unknown))} "
                         f"(classes: {', '.join(names)})")
    return frozenset(names.index(name) for name in wanted)


def argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, found before any image or TensorFlow loads (a
    typo must not cost the minutes of loading data first), or None."""
    import zipfile

    for folder in args.data:
        if not Path(folder).exists():
            return f"--data {folder}: does not exist"
    for option, path in (("--init-from", args.init_from), ("--distill", args.distill),
                         ("--encoder-weights", args.encoder_weights)):
        if path is None:
            continue
        if not Path(path).is_file():
            return f"{option} {path}: no such file"
        if option == "--init-from" and not zipfile.is_zipfile(path):
            return f"--init-from {path}: not a Keras model (a .keras file is a zip archive; this is not)"
    for folder in args.unlabelled:
        if not Path(folder).is_dir():
            return f"--unlabelled {folder}: no such folder"
    if args.resume and not (run_folder(args) / "last.keras").is_file():
        return f"--resume: no checkpoint {run_folder(args) / 'last.keras'} to resume from"
    try:
        parse_repeats(args.repeat, args.kitti_repeats)
        parse_teacher_skip(args.teacher_skip)
    except ValueError as error:
        return str(error)
    return None


def parse_repeats(items: list[str], kitti_repeats: int) -> dict[str, int]:
    """``["cityscapes=2", ...]`` -> repeats per layout (KITTI defaults to ``kitti_repeats``).
    Raises ValueError naming a malformed item or an unknown layout."""
    repeats = {"kitti": kitti_repeats, "cityscapes": 1, "camvid": 1, "bdd100k": 1, "idd": 1, "unlabelled": 1,
               "cityscapes_coarse": 2}
    for item in items:
        layout, _, count = item.partition("=")
        if layout not in repeats or not count.isdigit() or int(count) < 1:
            raise ValueError(f"--repeat takes LAYOUT=N with LAYOUT in {', '.join(repeats)}, not {item!r}")
        repeats[layout] = int(count)
    return repeats


def parse_tf_config(text: str) -> dict:
    """``TF_CONFIG`` checked as TensorFlow will read it; ValueError says what is wrong in
    one line (TensorFlow itself fails later, after the images have loaded, with a
    traceback)."""
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except ValueError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with \"cluster\" and \"task\", not {type(config).__name__}")
    cluster, task = config.get("cluster", {}), config.get("task", {})
    if not isinstance(cluster, dict) or not all(
            isinstance(hosts, list) and all(isinstance(h, str) for h in hosts) for hosts in cluster.values()):
        raise ValueError('TF_CONFIG "cluster" must map job names to lists of "host:port" strings')
    if not isinstance(task, dict):
        raise ValueError('TF_CONFIG "task" must be an object like {"type": "worker", "index": 0}')
    kind, index = task.get("type", "worker"), task.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f'TF_CONFIG task "index" must be a whole number >= 0, not {index!r}')
    if cluster and (kind not in cluster or index >= len(cluster[kind])):
        raise ValueError(f'TF_CONFIG task {kind!r} {index} is not in the cluster ({", ".join(cluster) or "empty"})')
    return config


def worker_role() -> tuple[bool, int]:
    """(is chief, task index) from ``TF_CONFIG`` (multi-worker training); (True, 0) alone.
    The chief is the task typed "chief", or worker 0 when there is none. Raises
    ValueError for a malformed ``TF_CONFIG``."""
    config = parse_tf_config(os.environ.get("TF_CONFIG", ""))
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    has_chief = bool(config.get("cluster", {}).get("chief"))
    return (kind == "chief" or (kind == "worker" and index == 0 and not has_chief)), index


def weights_digest(model) -> str:
    """SHA-256 of all weights: equal on every worker of a synchronous run."""
    import hashlib

    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


def make_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def build_model(arch: str, pretrained: bool, encoder_weights: Path | None = None):
    from training.models import TEACHER_WEIGHTS, build_efficientvit, build_pretrained_lite0_unet, build_seed_unet

    if arch.startswith("evit"):
        return build_efficientvit(arch, (encoder_weights or TEACHER_WEIGHTS) if pretrained else None)
    return build_seed_unet() if arch == "seed" else build_pretrained_lite0_unet(pretrained=pretrained)


def freeze_pretrained_norms(model) -> int:
    """Put the batch norms of the pretrained part (EfficientViT layers named after the
    authors' modules) in inference mode; returns how many."""
    import keras

    frozen = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization) and layer.name.startswith(("backbone.", "head.")):
            layer.trainable = False
            frozen += 1
    return frozen


class _LearningRate:
    """Linear warm-up for one epoch, then cosine decay to 1 % (epoch-indexed, so a
    resumed run continues on the same curve)."""

    def __init__(self, base: float, epochs: int) -> None:
        self.base, self.epochs = base, max(epochs, 1)

    def __call__(self, epoch: int, _lr: float = 0.0) -> float:
        if epoch == 0:
            return self.base * 0.1
        progress = min(epoch / self.epochs, 1.0)
        return self.base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def _completed_epochs(csv_path: Path) -> int:
    if not csv_path.exists():
        return 0
    lines = [line for line in csv_path.read_text().splitlines()[1:] if line.strip()]
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        worker_role()  # before anything is loaded
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    problem = None if args.summary else argument_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    import segviewer.models.layers  # noqa: F401  (custom layers must be registered to --resume)
    from training import data
    from training.callbacks import PerClassIoU
    from training.losses import MaskedMeanIoU, SetCrossEntropy
    from training.pseudo_labels import TeacherLabels, parse_uses

    if args.logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(args.logical_cpus)])
    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision:
        # float16 compute, float32 weights; compile() wraps the optimizer in a
        # LossScaleOptimizer, and SetCrossEntropy computes in float32.
        keras.mixed_precision.set_global_policy("mixed_float16")
    if args.summary:
        model = build_model(args.arch, pretrained=False)
        model.summary(line_length=110)
        print(f"{model.name}: {model.count_params():,} parameters")
        return 0

    run_dir = run_folder(args)
    is_chief, task_index = worker_role()
    if not is_chief:
        # Every worker must save (collective ops), but only the chief's files are the run's.
        run_dir = run_dir / f"worker-{task_index}"
    run_dir.mkdir(parents=True, exist_ok=True)
    train_samples, val_samples = split_samples(*args.data, coarse=args.coarse)
    if args.unlabelled:
        train_samples += data.unlabelled_samples(*args.unlabelled)
    if args.max_train_images:
        train_samples = train_samples[: args.max_train_images]
    if args.max_val_images:
        val_samples = val_samples[: args.max_val_images]
    if not train_samples or not val_samples:
        print(f"error: no KITTI, Cityscapes or CamVid training/validation images under "
              f"{', '.join(map(str, args.data))}", file=sys.stderr)
        return 2
    print(f"loading {len(train_samples)} training and {len(val_samples)} validation images...", flush=True)
    teacher = None
    teacher_uses = parse_uses(args.teacher_uses) if args.teacher_labels else set()
    if args.teacher_labels:
        teacher = TeacherLabels(args.teacher_labels, data_roots=args.data, threshold=args.teacher_threshold)
        print(f"teacher labels for {len(teacher)} images; uses: {', '.join(sorted(teacher_uses)) or 'none'}",
              flush=True)
    train_loaded = data.load_samples(train_samples, teacher, teacher_uses, parse_teacher_skip(args.teacher_skip))
    val_loaded = data.load_samples(val_samples)
    repeats = parse_repeats(args.repeat, args.kitti_repeats)
    weights = data.code_weights(train_loaded, repeats, args.soft_weight, args.weight_offset)
    print("code weights:", " ".join(f"{w:.2f}" for w in weights[:NUM_LABEL_CODES]), flush=True)
    image_factors = data.scene_factors(train_loaded)
    if args.repeat_threshold > 0:
        class_factors = data.class_repeat_factors(train_loaded, args.repeat_threshold)
        image_factors = image_factors * data.image_repeat_factors(train_loaded, class_factors)
        data.attach_focus_points(train_loaded, class_factors, seed=args.seed)
        print("class repeat factors:", " ".join(f"{f:.1f}" for f in class_factors), flush=True)

    strategy = make_strategy(args.strategy)
    print(f"strategy: {args.strategy} ({strategy.num_replicas_in_sync} replica(s))", flush=True)
    crop = tuple(args.crop)
    global_batch = args.batch_size
    bank = data.instance_bank(train_loaded) if args.paste_probability > 0 else None
    if bank is not None:
        print(f"copy-paste: {len(bank)} rare instances, by code {bank.counts()}", flush=True)
    pixel_budget = args.pixel_budget or DEFAULT_PIXEL_BUDGET
    train_ds = data.training_dataset(train_loaded, repeats, global_batch, crop, seed=args.seed,
                                     image_factors=image_factors,
                                     focus_probability=args.focus_probability if image_factors is not None else 0.0,
                                     bank=bank, paste_probability=args.paste_probability,
                                     pixel_budget=pixel_budget, max_upscale=args.max_upscale)
    val_ds = data.validation_dataset(val_loaded, pixel_budget, replicas=strategy.num_replicas_in_sync,
                                     max_upscale=args.max_upscale)
    steps = args.steps_per_epoch or data.steps_per_epoch(train_loaded, repeats, global_batch, image_factors)
    # The input pipeline alone: on a GPU it must outrun the network or the GPU starves.
    pipeline_rate = data.pipeline_images_per_second(train_ds, batches=args.pipeline_probe_batches)
    print(f"input pipeline alone: {pipeline_rate:.1f} images/s "
          f"({args.pipeline_probe_batches} batches of {global_batch})", flush=True)

    last_path = run_dir / "last.keras"
    best_path = run_dir / "best.keras"
    csv_path = run_dir / "log.csv"
    # A checkpoint's card names the scale it was trained at, so evaluating it, or opening
    # it in the viewer, uses that scale and not the default.
    for checkpoint in (last_path, best_path):
        checkpoint.with_suffix(".json").write_text(json.dumps(
            {"name": f"{run_dir.name}/{checkpoint.stem}",
             "working_scale": {"pixel_budget": pixel_budget, "max_upscale": args.max_upscale}}, indent=2) + "\n")
    initial_epoch = 0
    with strategy.scope():
        if args.resume and last_path.exists() and args.distill is None:
            model = keras.saving.load_model(last_path)
            initial_epoch = _completed_epochs(csv_path)
            print(f"resuming from {last_path} after epoch {initial_epoch}", flush=True)
        else:
            if args.resume and last_path.exists():
                # A distilled run saves the student alone; its optimizer state starts anew.
                model = keras.saving.load_model(last_path, compile=False)
                initial_epoch = _completed_epochs(csv_path)
                print(f"resuming the student from {last_path} after epoch {initial_epoch}", flush=True)
            elif args.init_from:
                # A shipped (folded) model trains as it is: its convolutions carry the
                # batch norms, which the CPU-sized batches could not re-estimate anyway.
                model = keras.saving.load_model(args.init_from, compile=False)
                print(f"starting from {args.init_from}", flush=True)
            else:
                model = build_model(args.arch, pretrained=not args.no_pretrained, encoder_weights=args.encoder_weights)
            if args.freeze_pretrained_norms:
                print(f"{freeze_pretrained_norms(model)} pretrained batch norms frozen", flush=True)
            if args.freeze_encoder:
                frozen = [layer for layer in model.layers if layer.name.startswith("backbone.")]
                for layer in frozen:
                    layer.trainable = False
                print(f"{len(frozen)} backbone layers frozen", flush=True)
            if args.distill is not None:
                from training.distill import Distiller
                from training.models import build_teacher

                model = Distiller(model, build_teacher(args.distill), args.distill_weight, args.temperature,
                                  args.distill_labelled_weight)
                print(f"distilling from {args.distill} (weight {args.distill_weight}, T {args.temperature})",
                      flush=True)
            model.compile(optimizer=keras.optimizers.Adam(args.lr, clipnorm=args.clipnorm),
                          loss=SetCrossEntropy(weights.tolist()),
                          metrics=[MaskedMeanIoU()])
    print(f"{model.name}: {getattr(model, 'student', model).count_params():,} parameters, {steps} steps/epoch, "
          f"batch {global_batch}, crop {crop[0]}x{crop[1]}", flush=True)

    if args.distill is not None:
        from training.distill import StudentCheckpoint

        checkpoints = [StudentCheckpoint(best_path, monitor="val_mean_iou"), StudentCheckpoint(last_path)]
    else:
        checkpoints = [keras.callbacks.ModelCheckpoint(best_path, monitor="val_mean_iou", mode="max",
                                                       save_best_only=True),
                       keras.callbacks.ModelCheckpoint(last_path)]
    callbacks = [
        PerClassIoU(),  # before the CSV logger and TensorBoard: it adds their columns
        *checkpoints,
        keras.callbacks.LearningRateScheduler(_LearningRate(args.lr, args.epochs)),
        keras.callbacks.EarlyStopping(monitor="val_mean_iou", mode="max", patience=args.patience),
        keras.callbacks.CSVLogger(str(csv_path), append=args.resume),
    ]
    if _have_tensorboard():
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), profile_batch=0))
    else:
        print("note: `pip install tensorboard` for TensorBoard logs; CSV log only", flush=True)
    if strategy.num_replicas_in_sync > 1:
        _synchronise_batch_norms(model)
    if args.strategy == "multiworker":
        _make_multiworker_ready(model, strategy, train_ds)
    started = time.perf_counter()
    model.fit(train_ds, epochs=args.epochs, initial_epoch=initial_epoch, steps_per_epoch=steps,
              validation_data=val_ds, callbacks=callbacks, verbose=2)
    seconds = time.perf_counter() - started
    info = {"arch": args.arch, "epochs_run": _completed_epochs(csv_path), "resumed_at_epoch": initial_epoch,
            "train_seconds_this_run": round(seconds),
            "train_images": len(train_samples), "val_images": len(val_samples),
            "batch_size": global_batch, "crop": list(crop), "repeats": repeats,
            "steps_per_epoch": steps, "strategy": args.strategy,
            "pipeline_images_per_s": round(pipeline_rate, 1), "mixed_precision": args.mixed_precision, "lr": args.lr,
            "init_from": str(args.init_from) if args.init_from else None,
            "repeat_threshold": args.repeat_threshold, "focus_probability": args.focus_probability,
            "paste_probability": args.paste_probability,
            "coarse": args.coarse, "soft_weight": args.soft_weight,
            "pixel_budget": pixel_budget, "max_upscale": args.max_upscale,
            "train_layouts": {layout: sum(s.layout == layout for s in train_samples)
                              for layout in sorted({s.layout for s in train_samples})},
            "encoder_weights": str(args.encoder_weights) if args.encoder_weights else None,
            "distill": str(args.distill) if args.distill else None, "distill_weight": args.distill_weight,
            "distill_labelled_weight": args.distill_labelled_weight,
            "temperature": args.temperature, "clipnorm": args.clipnorm, "freeze_encoder": args.freeze_encoder,
            "unlabelled": [str(p) for p in args.unlabelled],
            "teacher_uses": sorted(teacher_uses), "teacher_skip": args.teacher_skip,
            "teacher_labels": teacher.manifests if teacher else [],
            "loss": f"set-valued cross-entropy, code weights 1/ln({args.weight_offset}+freq)",
            "chief": is_chief, "weights_sha256": weights_digest(getattr(model, "student", model))}
    (run_dir / "train_info.json").write_text(json.dumps(info, indent=2))
    print(f"trained {info['epochs_run']} epochs in {seconds / 60:.1f} min; best model: {best_path}")
    if args.export and is_chief:
        from training.export import export_model

        export_model(best_path if best_path.exists() else last_path, args.export)
    return 0


def _synchronise_batch_norms(model) -> None:
    """Batch statistics over the global batch rather than each replica's slice: the slices
    are small, and unsynchronised moving averages would differ from replica to replica."""
    import keras

    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def _make_multiworker_ready(model, strategy, dataset) -> None:
    """Work around two Keras 3 defects (checked with 3.15) that stop ``fit`` on more than
    one worker (keras-team/keras#20585):

    - ``fit`` builds metrics, loss and optimizer state by ``strategy.reduce``-ing the first
      distributed batch eagerly, which MultiWorkerMirroredStrategy cannot do ("Attempt to
      convert a value (PerReplica...)"): build them here from one local batch instead;
    - every step's logs are mean-reduced across workers along axis 0, which scalars lack
      ("Invalid reduction dimension 0"): hand them over as one-element vectors.
    """
    import tensorflow as tf

    with strategy.scope():
        model._symbolic_build(data_batch=next(iter(dataset)))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    for name in ("train_step", "test_step"):
        step = getattr(model, name)
        setattr(model, name, lambda batch, step=step: {key: tf.reshape(value, [-1])
                                                       for key, value in step(batch).items()})


def _have_tensorboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


if __name__ == "__main__":
    raise SystemExit(main())
