"""``segviewer predict`` for one video: per-frame masks and/or an overlay video (no Qt).

Frames are decoded on a thread ahead of the network (a short queue, so memory stays
flat on any length of video), each frame's masks are written atomically as for still
images, and the overlay video is written to a temporary file that only becomes
``<video>_overlay.<ext>`` when complete.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segviewer.core.errors import MaskIOError, SegviewerError
from segviewer.core.export import existing_outputs, plan_outputs, write_outputs
from segviewer.core.inference import Segmenter
from segviewer.core.mask_io import MaskFormat, read_label_ids, read_train_ids
from segviewer.core.overlay import compose_overlay
from segviewer.core.progress import ProgressBar
from segviewer.core.video import FrameSource, VideoError, VideoFrame, frame_name
from segviewer.core.video_writer import video_output_path, write_video

DECODE_AHEAD = 4


@dataclass
class VideoSummary:
    frames: int = 0
    written: int = 0
    failures: int = 0
    seconds: float = 0.0  # wall time, decoding and writing included
    problems: list[str] = field(default_factory=list)
    reused: int = 0       # frames whose saved mask built the overlay video (no network run)


def frame_outputs(video: Path, index: int, folder: Path, formats: list[MaskFormat]):
    """``folder/<video stem>_<index:06d>_<format>.png`` for each format."""
    return plan_outputs(Path(f"{frame_name(video, index)}.png"), folder, formats)


def existing_video_outputs(video: Path, folder: Path, formats: list[MaskFormat], overlay_video: bool) -> list[Path]:
    """Outputs of an earlier run for this video (the overlay video and frame 0's masks)."""
    found = existing_outputs(frame_outputs(video, 0, folder, formats))
    target = video_output_path(video, folder)
    return found + ([target] if overlay_video and target.exists() else [])


def _count_written(summary: VideoSummary) -> None:
    summary.written += 1


def saved_mask(paths: set[Path]) -> np.ndarray | None:
    """Train IDs from a frame's saved label-ID or train-ID mask, when one is there and
    readable (so ``--skip-existing`` can rebuild the overlay video without the network)."""
    for path in sorted(paths):
        try:
            if path.name.endswith("_labelIds.png"):
                return read_label_ids(path)
            if path.name.endswith("_trainIds.png"):
                return read_train_ids(path)
        except SegviewerError:
            return None
    return None


def decoded_ahead(frames: Iterator[VideoFrame], depth: int = DECODE_AHEAD) -> Iterator[VideoFrame]:
    """``frames`` decoded on a thread, at most ``depth`` ahead of the consumer. An error
    while decoding is raised to the consumer after the frames before it."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        slots.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(end)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            slots.put(error)

    thread = threading.Thread(target=produce, name="segviewer-video-decode", daemon=True)
    thread.start()
    try:
        while (item := slots.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=2)


def segment_video(segmenter: Segmenter, source: FrameSource, video: Path, folder: Path,
                  formats: list[MaskFormat], overlay_video: bool, opacity: float, every: int,
                  overwrite: bool, skip_existing: bool, summary: VideoSummary | None = None) -> VideoSummary:
    """Segment ``source``'s frames; counts go into ``summary`` as they happen (pass one
    in to keep them when the run is interrupted)."""
    summary = summary if summary is not None else VideoSummary()
    started = time.perf_counter()
    info = source.info
    wanted = len(range(0, info.frame_count, every))
    bar = ProgressBar(wanted)

    def overlays() -> Iterator[np.ndarray]:
        try:
            for frame in decoded_ahead(source.frames(every=every)):
                outputs = frame_outputs(video, frame.index, folder, formats)
                if skip_existing:
                    existing = set(existing_outputs(outputs))
                    outputs = [(fmt, path) for fmt, path in outputs if path not in existing]
                    if not outputs:
                        saved = saved_mask(existing) if overlay_video else None
                        if not overlay_video or saved is not None:
                            # Nothing to write; the video frame comes from the saved mask.
                            bar.advance(f"frame {frame.index}")
                            if saved is not None:
                                summary.reused += 1
                                yield compose_overlay(frame.rgb, saved, opacity)
                            continue
                prediction = segmenter.predict(frame.rgb)
                overlay = None
                if overlay_video or MaskFormat.OVERLAY in formats:
                    overlay = compose_overlay(frame.rgb, prediction.train_ids, opacity)
                errors = write_outputs(prediction.train_ids, outputs, lambda o=overlay: o,
                                       overwrite=overwrite, on_written=lambda _p: _count_written(summary))
                for error in errors:
                    print(f"\nerror: {error}", file=sys.stderr)
                summary.failures += bool(errors)
                summary.frames += 1
                bar.advance(f"frame {frame.index}")
                if overlay is not None and overlay_video:
                    yield overlay
        except VideoError as error:  # a damaged tail: what came before is kept
            summary.problems.append(str(error))

    try:
        folder.mkdir(parents=True, exist_ok=True)
        if overlay_video:
            target = video_output_path(video, folder)
            try:
                write_video(target, overlays(), info.fps / every, overwrite=overwrite or skip_existing)
                summary.written += 1
            except MaskIOError as error:
                summary.problems.append(str(error))
        else:
            for _ in overlays():
                pass
    finally:
        bar.close()
        summary.seconds = time.perf_counter() - started
    summary.failures += len(summary.problems)
    return summary
