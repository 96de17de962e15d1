"""Video playback in the viewer: which frame is shown, which one the network gets, and
what the transport bar says.

The policy, so the window never stalls and no queue builds up:

- frames are decoded on :class:`FrameDecoder`'s thread and shown on a timer at the
  video's rate (times the chosen speed); a tick whose frame is not decoded yet is
  skipped, never waited for;
- while playing, a few frames are decoded ahead, and when the network is free it gets
  the buffered frame that will be on screen when its mask is expected (the network's
  measured latency, in frame intervals, ahead of the frame shown): masks land on their
  own frames even when the network is slower than the video, and the frames in between
  are skipped, never queued;
- at most one frame is with the network. A frame shown without its own mask gets the
  newest earlier mask there is, marked in the transport bar and status bar as "mask of
  frame N";
- a paused, stepped or scrubbed frame always gets its own mask.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Slot

from segviewer.core.video import ImageSequence, VideoFrame, VideoInfo, VideoReader
from segviewer.gui.frame_decoder import FrameDecoder, News
from segviewer.gui.transport_bar import TransportBar
from segviewer.gui.worker import FrameRequest, InferenceResult, frame_path

AHEAD = 6        # frames decoded beyond the one on screen while playing
KEPT_MASKS = 8   # recent masks kept by frame (stepping back shows them at once)


@dataclass
class PlaybackStats:
    """What a user would notice, counted while playing (the benchmark reads these)."""

    shown: int = 0          # frames put on screen
    fresh: int = 0          # of those, frames whose own mask was on screen at some point
    segmented: int = 0      # masks the network returned
    first_shown_s: float = 0.0  # perf_counter() of the first and the latest frame shown
    last_shown_s: float = 0.0

    @property
    def frames_per_s(self) -> float:
        span = self.last_shown_s - self.first_shown_s
        return (self.shown - 1) / span if self.shown > 1 and span > 0 else 0.0


class VideoController(QObject):
    def __init__(self, window, worker, bar: TransportBar, container) -> None:
        super().__init__(window)
        self.window, self.worker, self.bar = window, worker, bar
        self.container = container  # what holds the bar: shown only while a video is open
        self._decoder: FrameDecoder | None = None  # started with the first video
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        bar.sig_play_toggled.connect(self.toggle_play)
        bar.sig_step.connect(self.step)
        bar.sig_seek.connect(self.seek)
        bar.sig_speed.connect(self.set_speed)
        self.token: Path | None = None
        self.info: VideoInfo | None = None
        self.frame: VideoFrame | None = None      # on screen
        self._ahead: deque[VideoFrame] = deque()  # decoded, not yet shown (while playing)
        self._masks: OrderedDict[int, InferenceResult] = OrderedDict()  # recent masks by frame
        self._sent_at = 0.0
        self._latency_s = 0.1                      # the network's, measured while running
        self.playing = False
        self.speed = 1.0
        self.stats = PlaybackStats()
        self._decoding = False                      # a wanted frame is being decoded
        self._in_flight: int | None = None          # frame index with the network
        self._fresh_counted: int | None = None
        self._wanted: int | None = None             # the frame last asked of the decoder

    @property
    def decoder(self) -> FrameDecoder:
        if self._decoder is None:
            self._decoder = FrameDecoder()
            self._decoder.signals.sig_ready.connect(self._on_decoder_news, Qt.ConnectionType.QueuedConnection)
        return self._decoder

    @Slot()
    def _on_decoder_news(self) -> None:
        handlers = {News.OPENED: self._on_opened, News.FRAME: self._on_frame, News.FAILED: self._on_decode_failed}
        for news, token, payload in self.decoder.take_news():
            handlers[news](token, payload)

    @property
    def active(self) -> bool:
        return self.token is not None

    # -- opening and closing -------------------------------------------------------------
    def open_video(self, path: Path) -> None:
        self._open(Path(path), lambda: VideoReader(path))

    def open_sequence(self, folder: Path, files: list[Path]) -> None:
        self._open(Path(folder), lambda: ImageSequence(files))

    def _open(self, token: Path, opener) -> None:
        self.close()
        self.token = token
        self.window.setWindowTitle(f"{token.name} — segviewer")
        self.window.view.clear(f"Opening {token.name}…")
        self.decoder.open(token, opener)

    def close(self) -> None:
        """Stop playing and forget the video (another file was opened)."""
        self.pause()
        self.token = self.info = self.frame = None
        self._ahead.clear()
        self._masks.clear()
        self._decoding, self._in_flight, self._fresh_counted, self._wanted = False, None, None, None
        self.container.setVisible(False)
        self.window.update_actions()

    def shutdown(self) -> None:
        self.timer.stop()
        if self._decoder is not None:
            self._decoder.shutdown()

    def _on_opened(self, token, info: VideoInfo) -> None:
        if token is not self.token:
            return
        self.info = info
        self.stats = PlaybackStats()
        self.bar.configure(info.frame_count, info.fps)
        self.container.setVisible(True)
        self.window.statusBar().showMessage(f"{token.name}: {info.describe()}", 10000)
        if getattr(info, "missing_s", 0):  # frames are missing: say so, then play what there is
            self.window.show_error("Video damaged", f"{token}: {info.describe()}", modal=False)
        self.window.update_actions()
        self.seek(0)

    def _on_decode_failed(self, token, message: str) -> None:
        if token is not self.token:
            return
        self._decoding = False
        self.pause()
        if self.frame is None:  # nothing of it could be shown: a clean window, no video
            self.close()
            self.window.show_nothing(token, f"Cannot play {token.name}\n\n{message}")
            self.window.show_error("Cannot play video", message)
            return
        self.window.show_error("Cannot play video", message, modal=False)

    # -- transport -------------------------------------------------------------------------
    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def play(self) -> None:
        if self.info is None:
            return
        if self.frame is not None and self.frame.index >= self.info.frame_count - 1:
            self.seek(0)  # at the end: play from the start, as players do
        self.playing = True
        self.bar.set_playing(True)
        self.timer.start(max(1, round(1000 * self._interval_s())))
        self._fill()

    def _interval_s(self) -> float:
        return 1.0 / (self.info.fps * self.speed)

    def pause(self) -> None:
        was_playing = self.playing
        self.playing = False
        self.timer.stop()
        self.bar.set_playing(False)
        if not was_playing:
            return
        # A paused frame gets its own mask, not a later one's, and stays on screen.
        self._ahead.clear()
        self._decoding = False
        self._wanted = self.frame.index if self.frame is not None else None
        self._segment_if_free()

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        if self.playing:
            self.play()

    def step(self, delta: int) -> None:
        if self.frame is None:
            return
        self.pause()
        # Quick presses add up: count from the frame being fetched, not the one shown.
        base = self._wanted if self._decoding and self._wanted is not None else self.frame.index
        self.seek(base + delta)

    def seek(self, index: int) -> None:
        if self.info is None:
            return
        self._want(min(max(0, index), self.info.frame_count - 1))

    def _want(self, index: int) -> None:
        self._decoding, self._wanted = True, index
        self.decoder.want(self.token, index)

    def _fill(self) -> None:
        """Keep up to AHEAD frames decoded beyond the one on screen (while playing)."""
        if not self.playing or self._decoding or self.frame is None or len(self._ahead) >= AHEAD:
            return
        following = (self._ahead[-1] if self._ahead else self.frame).index + 1
        if following < self.info.frame_count:
            self._want(following)

    def _tick(self) -> None:
        if self.frame is None:
            return
        if not self._ahead:
            if self.frame.index + 1 >= self.info.frame_count:
                self.pause()
            self._fill()
            return  # the decoder is behind: this tick shows nothing new
        self.frame = self._ahead.popleft()
        self._put_on_screen()
        self._fill()

    # -- frames and masks ------------------------------------------------------------------
    def _on_frame(self, token, frame: VideoFrame) -> None:
        if token is not self.token or frame.index != self._wanted:
            return  # replaced by a newer request (a seek, a pause)
        self._decoding = False
        if self.playing and self.frame is not None:
            self._ahead.append(frame)  # shown by a later tick
            self._fill()
            self._segment_if_free()
            return
        self._ahead.clear()
        self.frame = frame
        self._put_on_screen()

    def _put_on_screen(self) -> None:
        now = time.perf_counter()
        if self.stats.shown == 0:
            self.stats.first_shown_s = now
        self.stats.shown += 1
        self.stats.last_shown_s = now
        self._show(self._masks.get(self.frame.index))
        self._segment_if_free()

    def _segment_if_free(self) -> None:
        """If the network is free, give it the frame that will be on screen when its mask
        is expected (while playing), or the frame on screen."""
        if self._in_flight is not None or not self.worker.has_model or self.frame is None:
            return
        unmasked = [f for f in (self.frame, *self._ahead) if f.index not in self._masks]
        if not unmasked:
            return
        frame = unmasked[0]
        if self.playing:
            target = self.frame.index + max(1, math.ceil(self._latency_s / self._interval_s()))
            frame = next((f for f in unmasked if f.index >= target), unmasked[-1])
        self._in_flight, self._sent_at = frame.index, time.perf_counter()
        self.worker.request_frame(FrameRequest(self.window.new_request_id(), self.token, frame.index, frame.rgb))

    def _has_own_mask(self) -> bool:
        return self.frame is not None and self.frame.index in self._masks

    def on_result(self, result: InferenceResult) -> None:
        """A mask from the worker (for the frame on screen or an earlier one)."""
        self._in_flight = None
        latency = time.perf_counter() - self._sent_at
        self._latency_s = 0.7 * self._latency_s + 0.3 * latency
        if result.prediction is not None:
            self._masks[result.frame_index] = result
            while len(self._masks) > KEPT_MASKS:
                self._masks.popitem(last=False)
            self.stats.segmented += 1
        if self.frame is None:
            return
        if result.frame_index == self.frame.index:
            self._show(result)
        elif result.frame_index < self.frame.index and not self._has_own_mask():
            self._show(None)  # a newer borrowed mask than the one on screen
        self._segment_if_free()

    def model_changed(self) -> None:
        """A (new) model is ready: masks of the old one no longer count."""
        self._masks.clear()
        self._in_flight = None
        self._segment_if_free()

    def on_failed(self, message: str) -> None:
        self._in_flight = None
        self.pause()
        self.window.show_error("Cannot segment frame", message, modal=False)

    def _borrowable(self, frame: VideoFrame) -> InferenceResult | None:
        """The mask of the nearest earlier frame of the same size, else of the nearest later one."""
        fitting = [r for r in self._masks.values() if r.image.shape == frame.rgb.shape]
        if not fitting:
            return None
        return min(fitting, key=lambda r: (r.frame_index > frame.index, abs(r.frame_index - frame.index)))

    def _show(self, own: InferenceResult | None) -> None:
        """Put ``self.frame`` on screen: with its own mask, else with the newest mask of
        another frame when it fits (marked), else with none."""
        frame = self.frame
        path = frame_path(self.token, frame.index)
        note = ""
        if own is not None:
            result = replace(own, path=path)
            if self._fresh_counted != frame.index:
                self._fresh_counted = frame.index
                self.stats.fresh += 1
        elif (borrowed := self._borrowable(frame)) is not None:
            result = replace(borrowed, path=path, image=frame.rgb, frame_index=frame.index,
                             mask_frame=borrowed.frame_index, truth=None, truth_path=None)
            note = f"mask of frame {borrowed.frame_index}"
        else:
            result = InferenceResult(0, path, frame.rgb, None, None, frame_index=frame.index,
                                     pending=self.worker.has_model)
        self.bar.show_position(frame.index, frame.time_s, note)
        self.window.show_frame(result)
