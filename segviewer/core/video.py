"""Videos and numbered-frame sequences as one kind of frame source (no Qt).

Decoding uses PyAV: its wheels carry FFmpeg with the codecs road video comes in (H.264,
HEVC, VP8/9, AV1, MPEG-4, MJPEG), installed from the package registry alone on Linux,
macOS and Windows, and it exposes frame timestamps and the display matrix, so seeks are
exact and phone clips stand upright. (Qt Multimedia would tie decoding to the GUI and
to whatever backend the desktop has; the CLI needs it without Qt.)

Frames are numbered in presentation order from 0. A seek goes to the nearest keyframe
before the wanted frame and decodes forward, so ``frame_at(i)`` returns exactly frame
``i`` of the sequence ``frames()`` yields, also for variable-frame-rate files.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from segviewer.core.errors import SegviewerError, first_line, refuse_special_file
from segviewer.core.image_io import load_image

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts")
SEQUENCE_FPS = 10.0  # KITTI raw is recorded at 10 frames/s
# Frames larger than this (4K and up) are decoded scaled down: a road scene is segmented
# at ~0.12 MP anyway, and four 4K RGB frames in flight would cost 100 MB.
MAX_DECODED_PIXELS = 1920 * 1080


class VideoError(SegviewerError):
    """A video (or frame sequence) that cannot be opened or decoded."""


def is_video_file(path: Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def frame_name(video: Path, index: int) -> str:
    """What a video frame is called (saved masks, status bar): ``<video stem>_<index>``,
    six digits from 0."""
    return f"{Path(video).stem}_{index:06d}"


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int                  # of the frames as delivered (upright, maybe scaled down)
    height: int
    fps: float                  # nominal (average) frame rate
    frame_count: int            # counted from the packets (a sequence: its files)
    codec: str                  # e.g. "h264"; "images" for a frame sequence
    rotation: int = 0           # degrees the frames were turned to stand upright
    variable_frame_rate: bool = False
    source_size: tuple[int, int] | None = None  # (width, height) in the file, when scaled down
    missing_s: float = 0.0      # declared length without frames: a truncated or damaged file

    def describe(self) -> str:
        text = f"{self.width}x{self.height}, {self.fps:.3g} frames/s, {self.frame_count} frames, {self.codec}"
        if self.source_size:
            text += f" (decoded from {self.source_size[0]}x{self.source_size[1]})"
        if self.variable_frame_rate:
            text += ", variable frame rate"
        if self.rotation:
            text += f", turned {self.rotation}°"
        if self.missing_s:
            text += f"; TRUNCATED OR DAMAGED: the last {self.missing_s:.1f} s have no frames"
        return text


@dataclass(frozen=True)
class VideoFrame:
    index: int
    time_s: float
    rgb: np.ndarray  # (H, W, 3) uint8, upright


class FrameSource(Protocol):
    info: VideoInfo

    def frames(self, start: int = 0, every: int = 1) -> Iterator[VideoFrame]: ...

    def frame_at(self, index: int) -> VideoFrame: ...

    def close(self) -> None: ...


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded frame by its display matrix's angle (counter-clockwise degrees, as
    PyAV reports it), as players do; multiples of 90° only."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def delivered_size(width: int, height: int, max_pixels: int = MAX_DECODED_PIXELS) -> tuple[int, int]:
    """(width, height) a frame is decoded at: its own, or scaled down to ``max_pixels``
    (even sides, as video encoders want)."""
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


class VideoReader:
    """Frames of a video file as upright RGB arrays.

    Opening reads every packet's timestamp (demuxing only, no decoding: a fraction of a
    second for minutes of video), so frame numbers, the frame count and seeks are exact,
    also with a variable frame rate.
    """

    def __init__(self, path: Path, max_pixels: int = MAX_DECODED_PIXELS) -> None:
        import av

        self.path = Path(path)
        self._av = av
        refuse_special_file(self.path, VideoError)
        try:
            self._container = av.open(str(self.path))
        except FileNotFoundError:
            raise VideoError(self.path, "file not found") from None
        except (av.FFmpegError, OSError, ValueError) as error:
            raise VideoError(self.path, f"not a readable video ({first_line(error, 160)})") from None
        try:
            if not self._container.streams.video:
                raise VideoError(self.path, "has no video stream (audio or data only)")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"  # frame-parallel decoding on several cores
            self._timestamps = self._read_timestamps()
            self._rewind()
            first = next(self._decode(), None)
            if first is None or not self._timestamps:
                raise VideoError(self.path, "contains no decodable video frame (empty or truncated)")
            self.info = self._describe(first, max_pixels)
        except BaseException:
            self._container.close()
            raise
        missing = self.missing_seconds()
        if missing:
            self.info = dataclasses.replace(self.info, missing_s=round(missing, 1))
        self._size = None
        if self.info.source_size:  # frames are scaled before they are turned upright
            self._size = ((self.info.height, self.info.width) if self.info.rotation % 180
                          else (self.info.width, self.info.height))

    def _read_timestamps(self) -> list[int]:
        stamps = []
        try:
            for packet in self._container.demux(self._stream):
                if packet.pts is not None and packet.size:
                    stamps.append(packet.pts)
        except self._av.FFmpegError:
            pass  # a damaged tail: the frames before it still play
        # Every packet is a frame, also one whose timestamp repeats (segments joined
        # end to end restart their clocks): such a video is numbered in decoding order.
        self._repeated = len(set(stamps)) != len(stamps)
        return sorted(stamps)

    def _describe(self, first, max_pixels: int) -> VideoInfo:
        stream, stamps = self._stream, self._timestamps
        span = float((stamps[-1] - stamps[0]) * stream.time_base) if len(stamps) > 1 else 0.0
        rate = stream.average_rate or stream.guessed_rate
        if self._repeated or span <= 0:
            fps = float(rate or SEQUENCE_FPS)
        else:
            fps = (len(stamps) - 1) / span
        steps = np.diff(np.asarray(stamps, np.int64))
        variable = bool(steps.size > 1 and steps.max() > 1.5 * max(steps.min(), 1))
        rotation = int(getattr(first, "rotation", 0) or 0)
        width, height = first.width, first.height
        scaled_w, scaled_h = delivered_size(width, height, max_pixels)
        if rotation % 180:
            width, height, scaled_w, scaled_h = height, width, scaled_h, scaled_w
        return VideoInfo(self.path, scaled_w, scaled_h, fps, len(stamps), stream.codec_context.name, rotation,
                         variable, (width, height) if (scaled_w, scaled_h) != (width, height) else None)

    def _decode(self):
        try:
            yield from self._container.decode(self._stream)
        except self._av.FFmpegError as error:
            raise VideoError(self.path, f"cannot decode further ({first_line(error, 160)}); "
                                        "the file may be truncated or damaged") from None

    def _rewind(self) -> None:
        if self._timestamps:
            self._container.seek(self._timestamps[0], stream=self._stream, backward=True)

    def _to_frame(self, index: int, frame) -> VideoFrame:
        if self._size:
            rgb = frame.to_ndarray(format="rgb24", width=self._size[0], height=self._size[1])
        else:
            rgb = frame.to_ndarray(format="rgb24")
        if self._repeated:  # the clock restarts: time from the frame number
            time_s = index / self.info.fps if getattr(self, "info", None) else 0.0
        else:
            time_s = float((self._timestamps[index] - self._timestamps[0]) * self._stream.time_base)
        return VideoFrame(index, time_s, upright(rgb, self.info.rotation))

    def frames(self, start: int = 0, every: int = 1) -> Iterator[VideoFrame]:
        """Frames ``start``, ``start + every``, ... to the end, decoded in order. A video
        that ends before its listed frames do (truncated, damaged) raises
        :class:`VideoError` after the frames it could give."""
        every = max(1, every)
        start = max(0, start)
        count = len(self._timestamps)
        if start >= count:
            return
        last_wanted = start + (count - 1 - start) // every * every
        reached = -1
        if self._repeated:
            # Timestamps cannot place a frame: count frames from the first one.
            self._rewind()
            decoded = (index_frame for index_frame in enumerate(f for f in self._decode() if f.pts is not None))
        else:
            # The keyframe at or before the first wanted frame, then decode forward.
            self._container.seek(self._timestamps[start], stream=self._stream, backward=True, any_frame=False)
            decoded = ((self._index_of(frame.pts), frame) for frame in self._decode() if frame.pts is not None)
        for index, frame in decoded:
            if index is None or index >= count:
                continue  # a frame whose packet was not listed (damaged): skipped
            if index >= start and (index - start) % every == 0:
                reached = index
                yield self._to_frame(index, frame)
        if reached < last_wanted:
            got = "no frame" if reached < start else f"frames up to {reached}"
            raise VideoError(self.path, f"decoding ended early: {got} of the {count} listed frames "
                                        f"(0 to {count - 1}); the file may be truncated or damaged")
        missing = self.missing_seconds()
        if missing > 0:
            raise VideoError(self.path, f"the file says it lasts {missing + self._covered_seconds():.1f} s but "
                                        f"its frames end after {self._covered_seconds():.1f} s "
                                        f"(frames 0 to {count - 1}); the file is truncated or damaged")

    def _covered_seconds(self) -> float:
        """From the first frame to the end of the last one."""
        stamps = self._timestamps
        span = float((stamps[-1] - stamps[0]) * self._stream.time_base) if len(stamps) > 1 else 0.0
        return span + 1.0 / max(self.info.fps, 1e-6)

    def missing_seconds(self) -> float:
        """How much of the duration the container declares has no frames (> 1.5 frame
        intervals counts: a truncated Matroska or MPEG file still lists its full length);
        0 when the file is whole or declares nothing."""
        declared = self._container.duration
        if not declared or self._repeated:
            return 0.0
        missing = declared / 1e6 - self._covered_seconds()
        return missing if missing > 1.5 / max(self.info.fps, 1e-6) else 0.0

    def _index_of(self, pts: int) -> int | None:
        index = bisect.bisect_left(self._timestamps, pts)
        return index if index < len(self._timestamps) and self._timestamps[index] == pts else None

    def frame_at(self, index: int) -> VideoFrame:
        """Exactly frame ``index`` (clamped to the video)."""
        index = min(max(0, index), len(self._timestamps) - 1)
        for frame in self.frames(start=index):
            return frame
        raise VideoError(self.path, f"frame {index} cannot be decoded; the file may be damaged")

    def close(self) -> None:
        self._container.close()


class ImageSequence:
    """A folder of numbered frames, played at :data:`SEQUENCE_FPS`."""

    def __init__(self, files: list[Path], fps: float = SEQUENCE_FPS) -> None:
        if not files:
            raise VideoError(None, "no image files to play as a sequence")
        self.files = list(files)
        first = load_image(self.files[0])
        self.info = VideoInfo(self.files[0].parent, first.shape[1], first.shape[0], fps, len(self.files), "images")

    def frame_at(self, index: int) -> VideoFrame:
        index = min(max(0, index), len(self.files) - 1)
        return VideoFrame(index, index / self.info.fps, load_image(self.files[index]))

    def frames(self, start: int = 0, every: int = 1) -> Iterator[VideoFrame]:
        for index in range(max(0, start), len(self.files), max(1, every)):
            yield self.frame_at(index)

    def close(self) -> None:
        pass
