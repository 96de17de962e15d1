"""``segviewer bench``: how fast is segviewer on this machine?

    segviewer bench [--quick] [--json FILE] [--model PATH]
    segviewer bench --evaluate-only [--evaluate-folder DIR]   # Evaluate Folder vs predict

Everything runs in this one command and reports medians over repeated runs after
warm-up. Both backends are measured side by side (TensorFlow, and LiteRT when the model
has a twin), interleaved so they see the same machine load; the headline figures are
those of the backend `auto` picks on this machine. The article's 7.7 M-parameter U-Net (random
weights: only its speed matters) is timed in the same run for the speed-up figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from segviewer.core.backends import Backend, TwinKind, choose_backend, usable_twin
from segviewer.core.help_text import plain
from segviewer.core.inference import DEFAULT_PIXEL_BUDGET, Segmenter, padded_size
from segviewer.core.mask_io import MaskFormat
from segviewer.core.resources import default_model_path
from segviewer.core.tf_logging import native_noise_filtered

KITTI_SIZE = (375, 1242)
PHOTO_12MP = (3024, 4032)
# Headline figures are for the backend `auto` picks here; each backend's own figures follow
# with a _litert / _tf suffix.
TARGETS = {"inference_ms": ("<=", 60), "speedup_vs_seed": (">=", 100), "overlay_ms": ("<=", 5),
           "overlay_12mp_ms": ("<=", 80), "startup_window_s": ("<=", 1.5),
           "startup_first_overlay_s": ("<=", 1.5), "peak_rss_mb": ("<=", 450),
           "litert_speedup": (">=", 1.2), "playback_fps": (">=", 10), "playback_fresh_fraction": (">=", 0.5),
           "playback_max_stall_ms": ("<=", 50), "video_predict_ratio": (">=", 0.9),
           "evaluate_predict_ratio": ("<=", 1.15), "evaluate_max_stall_ms": ("<=", 50),
           "evaluate_peak_rss_mb": ("<=", 600),
           # Issue 29's ratios, each inside one run (the host's speed varies 2x).
           "int8_network_floor_ratio": ("<=", 0.8), "end_to_end_network_ratio": ("<=", 1.2),
           "predict_single_frame_ratio": (">=", 1.4), "playback_20fps_fresh_fraction": (">=", 0.95)}


def suffix(backend: Backend) -> str:
    """A backend's name in result keys: tf, litert (the float twin), litert_int8."""
    return backend.value.replace("-", "_")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="segviewer bench", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and images (about a minute)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--pixel-budget", type=int, default=DEFAULT_PIXEL_BUDGET,
                        help="pixels the network sees per image (working scale; default %(default)s)")
    parser.add_argument("--evaluate-folder", type=Path, default=None,
                        help="images with ground truth for the Evaluate Folder figures (default: CamVid val "
                             "from ../shared when it is there, else synthetic KITTI-size frames)")
    parser.add_argument("--evaluate-only", action="store_true", help="measure Evaluate Folder alone")
    parser.add_argument("--scales-only", action="store_true",
                        help="measure the network alone at each KITTI working size (today's 640x192, then "
                             "1x, 1.5x and 2x the pixels of 1248x384) on every backend")
    return parser.parse_args(argv)


def road_like_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Synthetic frame with smooth regions and texture (timing does not depend on content,
    but PNG sizes and decode times do, so avoid pure noise)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None, None]
    x = np.linspace(0, 1, width)[None, :, None]
    base = np.concatenate([120 + 80 * y * x, 130 - 60 * y + 0 * x, 180 - 100 * y + 0 * x], axis=2)
    noise = rng.normal(0, 12, (height // 4 + 1, width // 4 + 1, 3)).repeat(4, 0).repeat(4, 1)[:height, :width]
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def median_ms(function: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def time_seed_network(frame: np.ndarray, repeats: int) -> tuple[float, int]:
    """The article's U-Net (random weights) on ``frame`` at full resolution, padded to its
    stride: median ms and parameter count."""
    import tensorflow as tf

    from segviewer.models.architectures import build_seed_unet

    seed = build_seed_unet()
    run = tf.function(lambda x: seed(x, training=False))
    height, width = padded_size(*frame.shape[:2])
    pixels = tf.constant(np.pad(frame, ((0, height - frame.shape[0]), (0, width - frame.shape[1]), (0, 0)))[None])
    return median_ms(lambda: run(pixels).numpy(), repeats), seed.count_params()


def overlay_toggle_ms(height: int, width: int, repeats: int) -> float:
    from segviewer.core.overlay import OverlayRenderer

    image = road_like_image(height, width)
    mask = (np.arange(height)[:, None] * 19 // height + np.zeros((1, width), int)).astype(np.uint8)
    renderer = OverlayRenderer()
    renderer.set_frame(image, mask)
    state = {"visible": True}

    def toggle_and_compose() -> None:
        state["visible"] = not state["visible"]
        renderer.set_visible(13, state["visible"])
        renderer.compose()

    return median_ms(toggle_and_compose, repeats, warmup=2)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def time_until_marker(extra: list[str], settings_dir: Path) -> float:
    """Seconds from launching ``segviewer`` to its ready marker (offscreen Qt)."""
    env = _child_env()
    env["XDG_CONFIG_HOME"] = str(settings_dir)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "segviewer", *extra], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    elapsed = None
    for line in process.stdout:
        if line.startswith("segviewer-ready"):
            elapsed = time.perf_counter() - started
            break
    process.wait(timeout=120)
    if elapsed is None:
        raise RuntimeError(f"viewer exited ({process.returncode}) before it was ready")
    return elapsed


def run_bench_child(function: str, *args: str, settings_dir: Path) -> str:
    """Call ``segviewer.gui.bench_child.<function>(*args)`` in a fresh process with private
    settings; its last line of output."""
    env = _child_env()
    env["XDG_CONFIG_HOME"] = str(settings_dir)
    code = f"from segviewer.gui.bench_child import {function}; print({function}(*{args!r}))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{function} child failed: {result.stderr[-800:]}")
    return result.stdout.strip().splitlines()[-1]


# KITTI working sizes (H, W): today's default, the frame's own size, 1.5x and 2x its pixels.
NETWORK_SIZES = ((192, 640), (384, 1248), (480, 1536), (544, 1760))


def network_scale_results(segmenters: dict, repeats: int) -> dict[str, float]:
    """At each of :data:`NETWORK_SIZES`, for every backend: ``network_ms_<backend>_<W>x<H>``
    (the network alone: coarse class scores) and ``inference_ms_<backend>_<W>x<H>`` (a
    KITTI frame end to end: resized to that size, the network, full-size class IDs).
    Interleaved over backends and sizes in three rounds (so every figure sees the same
    machine load), medians of the rounds."""
    frame = road_like_image(*KITTI_SIZE)
    timings: dict[str, list[float]] = {}
    for _ in range(3):
        for height, width in NETWORK_SIZES:
            pixels = np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))

            def end_to_end(segmenter, width=width, height=height) -> None:
                resized = np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))
                segmenter.finish(segmenter.score(resized, KITTI_SIZE))

            for backend, segmenter in segmenters.items():
                name = f"{suffix(backend)}_{width}x{height}"
                timings.setdefault(f"network_ms_{name}", []).append(
                    median_ms(lambda s=segmenter, p=pixels[None]: s.network.scores(p), repeats, warmup=2))
                timings.setdefault(f"inference_ms_{name}", []).append(
                    median_ms(lambda s=segmenter: end_to_end(s), repeats, warmup=2))
    return {key: round(statistics.median(values), 1) for key, values in timings.items()}


def peak_rss_mb(model: Path, folder: Path, settings_dir: Path, backend: str) -> float:
    return float(run_bench_child("open_all", str(model), str(folder), backend, settings_dir=settings_dir))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    repeats = 3 if args.quick else 15
    model_path = args.model or default_model_path()
    with native_noise_filtered():
        import tensorflow as tf

    from segviewer.core.inference import device_description
    from segviewer.models.model_stats import count_macs

    results: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d"), "device": device_description(), "tensorflow": tf.__version__,
        "python": platform.python_version(), "cpu_count": os.cpu_count(), "model": model_path.name,
        "image_size": f"{KITTI_SIZE[1]}x{KITTI_SIZE[0]}", "quick": args.quick,
    }
    print(f"benchmarking {model_path.name} on {results['device']} (TensorFlow {tf.__version__})...",
          file=sys.stderr)
    twin, int8_twin = usable_twin(model_path), usable_twin(model_path, TwinKind.INT8)
    auto = choose_backend("auto", twin, int8_twin)
    # An int8 twin that failed its accuracy check is still timed (auto does not use it).
    int8_current = usable_twin(model_path, TwinKind.INT8, checked=False)
    backends = ([Backend.TENSORFLOW] + ([Backend.LITERT] if twin else [])
                + ([Backend.LITERT_INT8] if int8_current else []))
    results["backend_auto"] = auto.value
    frame = road_like_image(*KITTI_SIZE)
    segmenters = {b: Segmenter.load(model_path, args.pixel_budget, backend=b) for b in backends}
    if args.scales_only:
        results.update(network_scale_results(segmenters, 3 if args.quick else 9))
        return _report(results, args.json)
    if args.evaluate_only:
        with tempfile.TemporaryDirectory(prefix="segviewer-bench-") as temp:
            results.update(evaluation_results(segmenters[auto], model_path, auto.value, Path(temp),
                                              args.evaluate_folder, 1 if args.quick else 2, 50 if args.quick else 200))
        return _report(results, args.json)
    segmenter = segmenters[Backend.TENSORFLOW]
    work_h, work_w = segmenter.predict(frame).working_size
    results["working_size"] = f"{work_w}x{work_h}"
    network_input = frame[:work_h, :work_w][None].copy()
    # A real KITTI frame beside the synthetic one: its fewer class boundaries make the
    # full-size IDs cheaper (the synthetic figures stay, for comparison across runs).
    real_frame = sample_kitti_frame()
    # Interleaved rounds, so both backends see the same machine load.
    timings: dict[Backend, dict[str, list[float]]] = {b: {"inference": [], "network": [], "real": []}
                                                      for b in backends}
    for _ in range(3):
        for backend, each in segmenters.items():
            timings[backend]["inference"].append(median_ms(lambda s=each: s.predict(frame), repeats, warmup=2))
            timings[backend]["real"].append(median_ms(lambda s=each: s.predict(real_frame), repeats, warmup=2))
            # The network alone: coarse class scores, no resizing, upsampling or argmax.
            timings[backend]["network"].append(
                median_ms(lambda s=each: s.network.scores(network_input), repeats, warmup=2))
    for backend in backends:
        results[f"inference_ms_{suffix(backend)}"] = statistics.median(timings[backend]["inference"])
        results[f"network_ms_{suffix(backend)}"] = statistics.median(timings[backend]["network"])
        results[f"inference_ms_kitti_{suffix(backend)}"] = statistics.median(timings[backend]["real"])
    results["inference_ms"] = results[f"inference_ms_{suffix(auto)}"]
    results["network_ms"] = results[f"network_ms_{suffix(auto)}"]
    results["end_to_end_network_ratio"] = results["inference_ms"] / results["network_ms"]
    results["end_to_end_network_ratio_kitti"] = results[f"inference_ms_kitti_{suffix(auto)}"] / results["network_ms"]
    if Backend.LITERT in backends:
        results["litert_speedup"] = results["inference_ms_tf"] / results["inference_ms_litert"]
    if Backend.LITERT in backends and Backend.LITERT_INT8 in backends:
        results["int8_network_speedup"] = results["network_ms_litert"] / results["network_ms_litert_int8"]
    results["parameters"] = segmenter.model.count_params()
    results["gmacs_working"] = round(count_macs(segmenter.model, work_h, work_w) / 1e9, 2)
    results["gmacs_375x1242"] = round(count_macs(segmenter.model, *padded_size(*KITTI_SIZE)) / 1e9, 2)

    # The floor: this device's dense float32 throughput, and the network's cost at it.
    size = 2048
    a = tf.random.uniform((size, size))
    matmul = tf.function(lambda: tf.matmul(a, a))
    matmul_ms = median_ms(lambda: matmul().numpy(), repeats * 2, warmup=2)
    results["matmul_gflops"] = round(2 * size**3 / (matmul_ms / 1000) / 1e9, 1)
    results["network_floor_ms"] = round(2 * results["gmacs_working"] / results["matmul_gflops"] * 1000, 1)
    if Backend.LITERT_INT8 in backends:
        results["int8_network_floor_ratio"] = results["network_ms_litert_int8"] / results["network_floor_ms"]

    results["seed_inference_ms"], results["seed_parameters"] = time_seed_network(frame, max(2, repeats // 3))
    results["speedup_vs_seed"] = results["seed_inference_ms"] / results["inference_ms"]

    results["overlay_ms"] = overlay_toggle_ms(*KITTI_SIZE, repeats=repeats * 4)
    results["overlay_12mp_ms"] = overlay_toggle_ms(*PHOTO_12MP, repeats=repeats)

    with tempfile.TemporaryDirectory(prefix="segviewer-bench-") as temp:
        temp_dir = Path(temp)
        folder = temp_dir / "images"
        folder.mkdir()
        count = 5 if args.quick else 20
        for index in range(count):
            Image.fromarray(road_like_image(*KITTI_SIZE, seed=index)).save(folder / f"{index:06d}_10.png")
        model_args = ["--model", str(model_path)]
        results["startup_window_s"] = statistics.median(
            time_until_marker(["--exit-when", "shown", *model_args], temp_dir) for _ in range(repeats))
        from segviewer.commands.predict_images import segment_all
        from segviewer.commands.predict_jobs import collect_jobs

        jobs, _ = collect_jobs([str(folder)], temp_dir / "out", recursive=False)
        for backend in backends:
            name = suffix(backend)
            results[f"startup_first_overlay_s_{name}"] = statistics.median(
                time_until_marker([str(folder / "000000_10.png"), "--exit-when", "overlay", *model_args,
                                   "--backend", backend.value], temp_dir)
                for _ in range(max(1, repeats // 3)))
            results[f"peak_rss_mb_{name}"] = peak_rss_mb(model_path, folder, temp_dir, backend.value)
            summary = segment_all(segmenters[backend], jobs, [MaskFormat.LABEL_IDS], 0.5, overwrite=True)
            results[f"predict_images_per_s_{name}"] = summary.images_per_s
        results.update(video_results(segmenters[auto], model_path, temp_dir, auto.value, 30 if args.quick else 80))
        results["video_predict_ratio"] = (results["video_predict_frames_per_s"]
                                          / results[f"predict_images_per_s_{suffix(auto)}"])
        # predict's pipeline against the same backend one frame at a time (no decoding or writing).
        results["predict_single_frame_ratio"] = (results[f"predict_images_per_s_{suffix(auto)}"]
                                                 * results["inference_ms"] / 1000)
        results["startup_first_overlay_s"] = results[f"startup_first_overlay_s_{suffix(auto)}"]
        results["peak_rss_mb"] = results[f"peak_rss_mb_{suffix(auto)}"]
        results["rss_images_opened"] = count
        results.update(evaluation_results(segmenters[auto], model_path, auto.value, temp_dir, args.evaluate_folder,
                                          1 if args.quick else 2, 50 if args.quick else 200))
    return _report(results, args.json)


def _report(results: dict[str, object], json_path: Path | None) -> int:
    print(format_results(results))
    if json_path:
        json_path.write_text(json.dumps(results, indent=2))
    return 0


def _shared_datasets() -> Path:
    # segviewer/commands/bench.py -> the project root's sibling shared/ (moved one level
    # down with the commands; parents[2] had silently fallen back to synthetic frames).
    return Path(__file__).resolve().parents[3] / "shared" / "datasets"


def kitti_layout_folder(folder: Path, count: int) -> Path:
    """``count`` KITTI-size frames with label-ID truth, in KITTI's layout under ``folder``
    (real KITTI frames when ../shared has them; the truth is synthetic bands: this folder
    measures time and memory, not accuracy)."""
    frames, _ = kitti_frames(count)
    images, truth = folder / "training" / "image_2", folder / "training" / "semantic"
    images.mkdir(parents=True)
    truth.mkdir(parents=True)
    bands = (np.arange(KITTI_SIZE[0])[:, None] * 26 // KITTI_SIZE[0] + 7 + np.zeros((1, KITTI_SIZE[1]), int))
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(images / f"{index:06d}_10.png", compress_level=1)
        Image.fromarray(bands.astype(np.uint8), "L").save(truth / f"{index:06d}_10.png")
    return images


def evaluation_results(segmenter, model_path: Path, backend: str, temp_dir: Path, folder: Path | None,
                       rounds: int, rss_frames: int) -> dict[str, object]:
    """Evaluate Folder in the real viewer against ``predict``'s loop (label IDs written) on
    the same images, interleaved round by round; then its peak RSS on ``rss_frames``
    KITTI-size frames with truth."""
    from segviewer.commands.predict_images import segment_all
    from segviewer.commands.predict_jobs import collect_jobs
    from segviewer.core.file_search import find_images

    if folder is None:
        camvid_val = _shared_datasets() / "camvid" / "val"
        folder = camvid_val if camvid_val.is_dir() else kitti_layout_folder(temp_dir / "kitti_eval", 20)
    jobs, _ = collect_jobs([str(folder)], temp_dir / "evaluate_predict_out", recursive=True)
    predict_s, evaluate_s, stalls, worst = [], [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        segment_all(segmenter, jobs, [MaskFormat.LABEL_IDS], 0.5, overwrite=True)
        predict_s.append(time.perf_counter() - started)
        run = json.loads(run_bench_child("evaluate_folder", str(model_path), str(folder), backend,
                                         settings_dir=temp_dir))
        evaluate_s.append(run["seconds"])
        stalls.append(run["max_stall_ms"])
        worst.append(run["worst_stalls_ms"])
    big = json.loads(run_bench_child("evaluate_folder", str(model_path),
                                     str(kitti_layout_folder(temp_dir / "kitti_rss", rss_frames)), backend,
                                     settings_dir=temp_dir))
    return {"evaluate_folder": f"{folder} ({len(find_images(folder, recursive=True).files)} images, "
                               f"{run['images']} with truth)",
            "evaluate_predict_s": statistics.median(predict_s), "evaluate_s": statistics.median(evaluate_s),
            "evaluate_predict_ratio": statistics.median(e / p for e, p in zip(evaluate_s, predict_s)),
            "evaluate_max_stall_ms": float(max(stalls + [big["max_stall_ms"]])),
            # Each run's five longest stalls, so one outlier is seen as one.
            "evaluate_worst_stalls_ms": " | ".join(" ".join(map(str, w)) for w in worst + [big["worst_stalls_ms"]]),
            "evaluate_peak_rss_mb": big["peak_rss_mb"], "evaluate_rss_frames": big["images"]}


# KITTI raw's own rate; a second run at twice that shows what happens when the network
# cannot segment every frame.
BENCH_VIDEO_FPS = 10.0
FAST_VIDEO_FPS = 20.0


def sample_kitti_frame() -> np.ndarray:
    """KITTI 000042, one of the frames that ship with the viewer (so every run has it)."""
    from segviewer.core.image_io import load_image
    from segviewer.core.resources import sample_images_folder

    return load_image(sample_images_folder() / "000042_10.png")


def kitti_frames(count: int) -> tuple[list[np.ndarray], str]:
    """``count`` KITTI-size frames: the shared KITTI images when they are beside the
    project (real road scenes), else road-like synthetic ones."""
    folder = _shared_datasets() / "kitti_semantics" / "training" / "image_2"
    files = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not files:
        return [road_like_image(*KITTI_SIZE, seed=i) for i in range(count)], "synthetic road-like frames"
    frames = []
    for index in range(count):
        with Image.open(files[index % len(files)]) as image:
            frames.append(np.asarray(image.convert("RGB").resize(KITTI_SIZE[::-1], Image.BILINEAR)))
    return frames, f"{min(count, len(files))} KITTI frames"


def video_results(segmenter, model_path: Path, temp_dir: Path, backend: str, count: int) -> dict[str, object]:
    """Playback with live segmentation in the real viewer, and ``predict`` on a video."""
    from segviewer.commands.predict_video import segment_video
    from segviewer.core.video import VideoReader
    from segviewer.core.video_writer import write_video

    frames, origin = kitti_frames(count)
    fast = temp_dir / "kitti_drive_fast.mp4"
    write_video(fast, frames, fps=FAST_VIDEO_FPS, overwrite=True)
    video = temp_dir / "kitti_drive.mp4"
    write_video(video, frames, fps=BENCH_VIDEO_FPS, overwrite=True)
    playback = _play(model_path, video, backend, temp_dir)
    fast_playback = _play(model_path, fast, backend, temp_dir)
    reader = VideoReader(video)
    try:
        summary = segment_video(segmenter, reader, video, temp_dir / "video_out", [MaskFormat.LABEL_IDS],
                                overlay_video=False, opacity=0.5, every=1, overwrite=True, skip_existing=False)
        rate = summary.frames / max(summary.seconds, 1e-9)
    finally:
        reader.close()
    return {"video": f"{origin}, {frames[0].shape[1]}x{frames[0].shape[0]} H.264 at {BENCH_VIDEO_FPS:g} frames/s",
            # Displayed frames/s cannot exceed the video's; 0.1 is the timer's precision.
            "playback_fps": round(playback["fps"], 1), "playback_fresh_fraction": playback["fresh_fraction"],
            "playback_max_stall_ms": float(playback["max_stall_ms"]),
            f"playback_{FAST_VIDEO_FPS:g}fps_shown_per_s": round(fast_playback["fps"], 1),
            f"playback_{FAST_VIDEO_FPS:g}fps_fresh_fraction": fast_playback["fresh_fraction"],
            f"playback_{FAST_VIDEO_FPS:g}fps_max_stall_ms": float(fast_playback["max_stall_ms"]),
            "video_predict_frames_per_s": rate}


def _play(model_path: Path, video: Path, backend: str, temp_dir: Path) -> dict[str, float]:
    """Play ``video`` in a child viewer process (see :func:`segviewer.gui.bench_child.play_video`)."""
    return json.loads(run_bench_child("play_video", str(model_path), str(video), backend, settings_dir=temp_dir))


def format_results(results: dict[str, object]) -> str:
    lines = [f"segviewer bench  {results['date']}  {results['device']}  TensorFlow {results['tensorflow']}  "
             f"model {results['model']}  frame {results['image_size']}"
             + (f" (network at {results['working_size']})" if "working_size" in results else "")]
    for key, value in results.items():
        if key in ("date", "device", "tensorflow", "model", "image_size", "working_size"):
            continue
        shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) \
            and not isinstance(value, bool) else str(value)
        target = ""
        if key in TARGETS:
            op, limit = TARGETS[key]
            met = value <= limit if op == "<=" else value >= limit
            target = f"target {op} {limit}: {'met' if met else 'MISSED'}"
        lines.append(f"  {key:<26} {shown:>12}   {target}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
