"""Video playback in the viewer: which frame is shown, which one the network gets, and
what the transport bar says.

The policy, so the window never stalls and no queue builds up:

- frames are decoded on :class:`FrameDecoder`'s thread and shown on a timer at the
  video's rate (times the chosen speed); a tick whose frame is not decoded yet is
  skipped, never waited for;
- while playing, the frame for the next tick is decoded and handed to the network as
  soon as the previous tick has shown its predecessor, so a network faster than the
  frame interval has every mask ready when its frame comes on screen;
- at most one frame is with the network. A frame shown without its own mask gets the
  newest mask there is, marked in the transport bar and status bar as "mask of frame
  N", and when the network is free it takes the newest frame (the others are skipped);
- a paused, stepped or scrubbed frame always gets its own mask.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from segviewer.core.video import ImageSequence, VideoFrame, VideoInfo, VideoReader
from segviewer.gui.frame_decoder import FrameDecoder, News
from segviewer.gui.transport_bar import TransportBar
from segviewer.gui.worker import FrameRequest, InferenceResult, frame_path


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
    sig_opened = Signal(object)  # VideoInfo

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
        self._upcoming: VideoFrame | None = None  # decoded for the next tick (playing)
        self.playing = False
        self.speed = 1.0
        self.stats = PlaybackStats()
        self._decoding = False                      # a wanted frame is being decoded
        self._in_flight: int | None = None          # frame index with the network
        self._last: InferenceResult | None = None   # the newest mask, with its frame
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
        self.token = self.info = self.frame = self._last = self._upcoming = None
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
        self.sig_opened.emit(info)
        self.window.update_actions()
        self.seek(0)

    def _on_decode_failed(self, token, message: str) -> None:
        if token is not self.token:
            return
        self._decoding = False
        self.pause()
        if self.frame is None:  # nothing of it could be shown
            self.window.view.clear(f"Cannot play {token.name}\n\n{message}")
        self.window.show_error("Cannot play video", message, modal=self.frame is None)

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
        self.timer.start(max(1, round(1000 / (self.info.fps * self.speed))))

    def pause(self) -> None:
        was_playing = self.playing
        self.playing = False
        self.timer.stop()
        self.bar.set_playing(False)
        if not was_playing:
            return
        # A paused frame gets its own mask, not the next one's, and stays on screen.
        self._upcoming, self._decoding = None, False
        self._wanted = self.frame.index if self.frame is not None else None
        if self.frame is not None and not self._has_own_mask():
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

    def _tick(self) -> None:
        if self.frame is None:
            return
        if self._upcoming is None:
            if self.frame.index + 1 >= self.info.frame_count:
                self.pause()
            elif not self._decoding:
                self._want(self.frame.index + 1)
            return  # the decoder is behind: this tick shows nothing new
        self.frame, self._upcoming = self._upcoming, None
        self._put_on_screen()
        if self.frame.index + 1 < self.info.frame_count:
            self._want(self.frame.index + 1)  # the next tick's frame, decoded and segmented ahead

    # -- frames and masks ------------------------------------------------------------------
    def _on_frame(self, token, frame: VideoFrame) -> None:
        if token is not self.token or frame.index != self._wanted:
            return  # replaced by a newer request (a seek, a pause)
        self._decoding = False
        if self.playing and self.frame is not None:
            self._upcoming = frame  # shown by the next tick; segmented from now
            self._segment_if_free()
            return
        self._upcoming = None
        self.frame = frame
        self._put_on_screen()

    def _put_on_screen(self) -> None:
        now = time.perf_counter()
        if self.stats.shown == 0:
            self.stats.first_shown_s = now
        self.stats.shown += 1
        self.stats.last_shown_s = now
        self._show(self._last if self._has_own_mask(self.frame) else None)
        self._segment_if_free()

    def _segment_if_free(self) -> None:
        """Give the network the newest frame that has no mask yet, if it is free."""
        if self._in_flight is not None or not self.worker.has_model:
            return
        frame = next((f for f in (self._upcoming, self.frame) if f is not None), None)
        if frame is None or self._has_own_mask(frame):
            return
        self._in_flight = frame.index
        self.worker.request_frame(FrameRequest(self.window.new_request_id(), self.token, frame.index, frame.rgb))

    def _has_own_mask(self, frame: VideoFrame | None = None) -> bool:
        frame = frame or self.frame
        return self._last is not None and frame is not None and self._last.frame_index == frame.index

    def on_result(self, result: InferenceResult) -> None:
        """A mask from the worker (for the frame on screen or an earlier one)."""
        self._in_flight = None
        if result.prediction is not None:
            self._last = result
            self.stats.segmented += 1
        if self.frame is None:
            return
        if result.frame_index == self.frame.index or self._upcoming is None:
            self._show(result if result.frame_index == self.frame.index else None)
        self._segment_if_free()

    def model_changed(self) -> None:
        """A (new) model is ready: masks of the old one no longer count."""
        self._last, self._in_flight = None, None
        if self.frame is not None:
            self._segment_if_free()

    def on_failed(self, message: str) -> None:
        self._in_flight = None
        self.pause()
        self.window.show_error("Cannot segment frame", message, modal=False)

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
        elif self._last is not None and self._last.image.shape == frame.rgb.shape:
            result = replace(self._last, path=path, image=frame.rgb, frame_index=frame.index,
                             mask_frame=self._last.frame_index, truth=None, truth_path=None)
            note = f"mask of frame {self._last.frame_index}"
        else:
            result = InferenceResult(0, path, frame.rgb, None, None, frame_index=frame.index,
                                     pending=self.worker.has_model)
        self.bar.show_position(frame.index, frame.time_s, note)
        self.window.show_frame(result)
