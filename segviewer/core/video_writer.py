"""Write RGB frames as a video in the family of the source's codec (no Qt).

H.264 in MP4 / MKV / MOV, VP9 in WebM, MPEG-4 Part 2 in AVI: what the source came in, so
every player that played the input plays the output. Encoders missing from the FFmpeg
build fall back to MPEG-4 Part 2, which every build has.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np

from segviewer.core.atomic import write_atomic

_BY_SUFFIX = {".webm": ("libvpx-vp9", "webm"), ".avi": ("mpeg4", "avi"), ".mkv": ("libx264", "matroska"),
              ".mov": ("libx264", "mov")}
_DEFAULT = ("libx264", "mp4")
# Quality near the source's at real-time speed (libvpx's default "good" takes ~0.5 s a frame).
_FAST_OPTIONS = {"libx264": {"crf": "20", "preset": "veryfast"},
                 "libvpx-vp9": {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8"}}


def video_output_path(source: Path, folder: Path) -> Path:
    """``folder/<stem>_overlay<suffix>``; sources in containers other than the four
    above (MPEG-TS, MPEG-PS) are written as MP4."""
    suffix = Path(source).suffix.lower()
    suffix = suffix if suffix in (*_BY_SUFFIX, ".mp4", ".m4v") else ".mp4"
    return Path(folder) / f"{Path(source).stem}_overlay{suffix}"


def codec_for(path: Path) -> tuple[str, str]:
    """(encoder, container format) for an output path."""
    import av

    codec, container = _BY_SUFFIX.get(Path(path).suffix.lower(), _DEFAULT)
    if codec not in av.codecs_available:
        codec = "mpeg4"
    return codec, container


def even(frame: np.ndarray) -> np.ndarray:
    """Pad odd sides by repeating the last row / column: 4:2:0 video needs even sides."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge") if pad_h or pad_w else frame


def encode_frames(file: BinaryIO, frames: Iterable[np.ndarray], fps: float, codec: str, container: str) -> int:
    """Encode RGB frames (all the size of the first) into ``file``; returns the count."""
    import av

    output = av.open(file, mode="w", format=container)
    count = 0
    try:
        stream = None
        for frame in frames:
            frame = even(np.ascontiguousarray(frame, np.uint8))
            if stream is None:
                stream = output.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = _FAST_OPTIONS.get(codec, {})
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                output.mux(packet)
            count += 1
        if stream is not None:
            for packet in stream.encode():
                output.mux(packet)
    finally:
        output.close()
    return count


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float, overwrite: bool = False) -> int:
    """Write ``frames`` to ``path`` atomically (no partial file, ever); returns the count.
    Raises :class:`~segviewer.core.errors.MaskIOError` naming ``path``."""
    codec, container = codec_for(path)
    written = []
    write_atomic(Path(path), lambda file: written.append(encode_frames(file, frames, fps, codec, container)),
                 overwrite=overwrite)
    return written[0]
