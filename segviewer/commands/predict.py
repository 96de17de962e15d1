"""``segviewer predict``: segment many images and write their masks (no Qt).

    segviewer predict images/ --out masks/ --format labelids,color
    segviewer predict "data/**/*.png" --out masks/ --skip-existing
    segviewer predict drive.mp4 --out masks/ --format labelids,overlay-video --every 5

A video named on the command line (MP4, MKV, MOV, AVI, WebM, ...) is segmented frame by
frame: per-frame masks are named ``<video>_<frame>_<format>.png`` (frame numbers from 0,
six digits), and ``overlay-video`` writes ``<video>_overlay.<ext>`` in the source's codec
family at the source's frame rate divided by ``--every``.

Images are decoded on a small thread pool and their masks written on another thread while
the model runs (``segviewer.core.pipeline``), and each image's files are written
atomically, so a folder streams at the model's speed and an interrupted run leaves only
complete files (``--skip-existing`` resumes it). A bad file is reported and skipped.

Existing outputs are never replaced silently: without ``--skip-existing`` or
``--overwrite``, a run that finds any of its output files already there writes nothing,
says so once (naming both options) and exits with status 1.

Exit status: 0 all done, 1 some image failed or outputs already exist, 2 bad arguments or
model.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from segviewer.commands.predict_images import Terminated, segment_all, terminate_as_interrupt
from segviewer.commands.predict_jobs import Job, collect_jobs, deduplicate, deduplicate_videos
from segviewer.commands.predict_video import VideoSummary, existing_video_outputs, segment_video
from segviewer.core.atomic import remove_stale_temporaries, unwritable_reason
from segviewer.core.backends import BACKEND_CHOICES, BACKEND_HELP
from segviewer.core.errors import SegviewerError
from segviewer.core.export import existing_outputs, plan_outputs
from segviewer.core.help_text import plain
from segviewer.core.inference import Segmenter
from segviewer.core.mask_io import MaskFormat
from segviewer.core.resources import default_model_path
from segviewer.core.sharding import Shard
from segviewer.core.video import VideoError, VideoReader, is_video_file

OVERLAY_VIDEO = "overlay-video"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="segviewer predict", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if needed)")
    parser.add_argument("--format", default="labelIds",
                        help="comma-separated: labelIds, trainIds, color, overlay, and for videos "
                             "overlay-video (default %(default)s)")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="videos: segment every N-th frame (default %(default)s: all)")
    parser.add_argument("--model", type=Path, default=None, help="a .keras model (default: the shipped one)")
    parser.add_argument("--opacity", type=float, default=0.5, help="overlay opacity 0-1 (default %(default)s)")
    parser.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--skip-existing", action="store_true", help="skip images whose outputs all exist")
    existing.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--pixel-budget", type=int, default=None,
                        help="pixels the network sees per image (default: the one its model card names, else 640x192)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto", help=BACKEND_HELP)
    parser.add_argument("--tta", action="store_true",
                        help="test-time augmentation: average the scores of the image and its mirror "
                             "(about 2x the network time)")
    parser.add_argument("--shard", default=None, metavar="K/N",
                        help="process only shard K of N (0 <= K < N) of the inputs, chosen by a stable hash "
                             "of each path: run N of these (a SLURM array, a Kubernetes Indexed Job, "
                             "xargs -P) and together they segment every input once")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.format.split(",") if name.strip()]
    args.overlay_video = any(name.lower() == OVERLAY_VIDEO for name in names)
    image_formats = ",".join(name for name in names if name.lower() != OVERLAY_VIDEO)
    if args.every < 1:
        parser.error("--every must be 1 or more")
    try:
        args.formats = MaskFormat.parse_list(image_formats) if image_formats else []
        # An empty value ("--shard $UNSET") is refused, never read as "no shard".
        args.shard = Shard.parse(args.shard) if args.shard is not None else None
    except ValueError as error:
        parser.error(str(error))
    if not 0.0 <= args.opacity <= 1.0:
        parser.error("--opacity must be between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with terminate_as_interrupt():
            return _run(args)
    except KeyboardInterrupt:  # before segmenting started (e.g. while the model loads)
        print("stopped by Ctrl-C before any image was segmented; nothing written", file=sys.stderr)
        return 130
    except Terminated:
        print("stopped by SIGTERM before any image was segmented; nothing written", file=sys.stderr)
        return 143


def _run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    jobs, problems = collect_jobs(args.inputs, args.out, args.recursive)
    videos = [job for job in jobs if is_video_file(job.source)]
    jobs = [job for job in jobs if not is_video_file(job.source)]
    if jobs and not args.formats:
        problems += [f"{job.source}: overlay-video applies to videos; name an image format too "
                     "(e.g. --format labelIds,overlay-video)" for job in jobs]
        jobs = []
    if args.overlay_video and not videos:
        print(f"note: {OVERLAY_VIDEO} applies to video inputs only; there are none", file=sys.stderr)
    jobs, clashes = deduplicate(jobs, args.formats)
    problems += clashes
    videos, clashes = deduplicate_videos(videos)
    problems += clashes
    if args.shard is not None:
        everything, noun = len(jobs) + len(videos), "input(s)" if videos else "image(s)"
        jobs = [job for job in jobs if args.shard.owns(str(job.source))]
        videos = [video for video in videos if args.shard.owns(str(video.source))]
        problems = [p for p in problems if args.shard.owns(p.split(":")[0])]
        print(f"shard {args.shard.index}/{args.shard.count}: {len(jobs) + len(videos)} of {everything} {noun}",
              file=sys.stderr)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if args.skip_existing:
        before = len(jobs)
        jobs = [j for j in jobs if len(existing_outputs(plan_outputs(j.source, j.folder, args.formats)))
                < len(args.formats)]
        if before - len(jobs):
            print(f"skipping {before - len(jobs)} image(s) whose outputs exist", file=sys.stderr)
    if (jobs or videos) and not (args.skip_existing or args.overwrite):
        clashing = [existing_outputs(plan_outputs(j.source, j.folder, args.formats)) for j in jobs]
        clashing += [existing_video_outputs(v.source, v.folder, args.formats, args.overlay_video) for v in videos]
        clashing = [found for found in clashing if found]
        if clashing:
            inputs = "input(s)" if videos else "image(s)"
            print(f"error: {len(clashing)} of {len(jobs) + len(videos)} {inputs} already have output files "
                  f"(e.g. {clashing[0][0]}); nothing was written. Use --skip-existing to segment only "
                  "the others, or --overwrite to replace them.", file=sys.stderr)
            return 1
    if not jobs and not videos:
        print("nothing to do" if not problems else "no images to segment", file=sys.stderr)
        return 1 if problems else 0
    # Before the model loads and any image is segmented: every output folder must take files.
    for folder in sorted({job.folder for job in jobs + videos}):
        reason = unwritable_reason(folder)
        if reason is not None:
            print(f"error: {reason}; nothing was segmented", file=sys.stderr)
            return 1
    segmenter = _load_segmenter(args)
    if segmenter is None:
        return 2
    failures = len(problems)
    if jobs:
        removed = sum(remove_stale_temporaries(folder) for folder in sorted({j.folder for j in jobs}))
        if removed:
            print(f"removed {removed} temporary file(s) left by an interrupted earlier run", file=sys.stderr)
        with terminate_as_interrupt():
            summary = segment_all(segmenter, jobs, args.formats, args.opacity, args.overwrite, args.skip_existing)
        failures += summary.failures
        if summary.stopped_by is not None:
            name = "Ctrl-C" if summary.stopped_by == signal.SIGINT else "SIGTERM"
            print(f"stopped by {name}: {summary.segmented} of {len(jobs)} image(s) done, {summary.written} "
                  f"complete file(s) written to {args.out}, no partial files; rerun with --skip-existing "
                  "to finish", file=sys.stderr)
            return 128 + int(summary.stopped_by)
        meanwhile = f", {summary.left_alone} already there (left alone)" if summary.left_alone else ""
        print(f"{summary.segmented} of {len(jobs) + len(problems)} image(s) done ({segmenter.backend_description}), "
              f"{summary.written} file(s) written to {args.out}{meanwhile}, {failures} failed; "
              f"{summary.images_per_s:.1f} images/s", file=sys.stderr)
    if videos:
        video_failures, stopped_by = _segment_videos(args, segmenter, videos)
        if stopped_by is not None:
            return 128 + int(stopped_by)
        failures += video_failures
    return 1 if failures else 0


def _load_segmenter(args: argparse.Namespace) -> Segmenter | None:
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        segmenter = Segmenter.load(args.model or default_model_path(), args.pixel_budget, tta=args.tta,
                                   backend=args.backend)
        segmenter.warm_up()  # trace the graph before the clock starts
    except SegviewerError as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    except OSError as error:
        print(f"error: {args.out}: cannot create the output folder ({error.strerror})", file=sys.stderr)
        return None
    return segmenter


def _segment_videos(args: argparse.Namespace, segmenter: Segmenter,
                    videos: list[Job]) -> tuple[int, signal.Signals | None]:
    """Segment each video; one summary line. Returns (failures, the signal that stopped
    the run or None)."""
    frames = written = failures = 0
    reused = 0
    stopped_by = None
    with terminate_as_interrupt():
        for video in videos:
            summary = VideoSummary()
            source = None
            # Opening a video is inside the signal handling too: a signal then stops the
            # run like any other, with the true counts.
            try:
                try:
                    source = VideoReader(video.source)
                except VideoError as error:
                    print(f"error: {error}", file=sys.stderr)
                    failures += 1
                    continue
                print(f"{video.source}: {source.info.describe()}", file=sys.stderr)
                remove_stale_temporaries(video.folder)
                segment_video(segmenter, source, video.source, video.folder, args.formats, args.overlay_video,
                              args.opacity, args.every, args.overwrite, args.skip_existing, summary)
            except KeyboardInterrupt:
                stopped_by = signal.SIGINT
            except Terminated:
                stopped_by = signal.SIGTERM
            finally:
                if source is not None:
                    source.close()
            frames, written, failures = frames + summary.frames, written + summary.written, failures + summary.failures
            reused += summary.reused
            if stopped_by is not None:
                break
            for problem in summary.problems:
                print(f"error: {problem}", file=sys.stderr)
    if stopped_by is not None:
        name = "Ctrl-C" if stopped_by == signal.SIGINT else "SIGTERM"
        print(f"stopped by {name}: {frames} frame(s) done, {written} complete file(s) written to {args.out}, "
              "no partial files (no partial overlay video)", file=sys.stderr)
        return failures, stopped_by
    rebuilt = f", {reused} overlay-video frame(s) rebuilt from saved masks (not segmented again)" if reused else ""
    print(f"{frames} frame(s) of {len(videos)} video(s) segmented ({segmenter.backend_description}), "
          f"{written} file(s) written to {args.out}{rebuilt}, {failures} failed", file=sys.stderr)
    return failures, None


if __name__ == "__main__":
    raise SystemExit(main())
