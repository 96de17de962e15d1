"""The thread that decodes video frames for the viewer, so a slow decode (4K, a seek
to a far keyframe) never stalls the window.

It serves one wanted frame at a time, the newest request winning: scrubbing across a
long video decodes only where the slider stops. The next frame in order continues the
running decoder (cheap); any other frame seeks.
"""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from segviewer.core.errors import SegviewerError
from segviewer.core.video import FrameSource, VideoFrame
from segviewer.gui.worker import lower_this_threads_priority


class DecoderSignals(QObject):
    # "Something new in the outbox": the GUI drains it in one go, so a burst (a seek
    # right after an open) costs one event-loop turn, and no Python objects ride on
    # queued signals.
    sig_ready = Signal()


class News(enum.Enum):
    OPENED = "opened"  # payload: VideoInfo
    FRAME = "frame"    # payload: VideoFrame
    FAILED = "failed"  # payload: a message naming the file


class FrameDecoder:
    def __init__(self) -> None:
        self.signals = DecoderSignals()
        self._outbox: queue.SimpleQueue[tuple[News, object, object]] = queue.SimpleQueue()
        self._condition = threading.Condition()
        self._open_request: tuple[object, Callable[[], FrameSource]] | None = None
        self._wanted: tuple[object, int] | None = None
        self._stopping = False
        self._source: FrameSource | None = None
        self._token: object = None
        self._thread = threading.Thread(target=self._loop, name="segviewer-frame-decoder", daemon=True)
        self._thread.start()

    def open(self, token: object, opener: Callable[[], FrameSource]) -> None:
        """Open a source (``opener`` runs on the decoder thread); ``token`` tags every
        signal about it, so the GUI can ignore a source it has since replaced."""
        with self._condition:
            self._open_request, self._wanted = (token, opener), None
            self._condition.notify()

    def want(self, token: object, index: int) -> None:
        with self._condition:
            self._wanted = (token, index)
            self._condition.notify()

    def shutdown(self, timeout: float = 1.0) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify()
        self._thread.join(timeout)

    def take_news(self) -> list[tuple[News, object, object]]:
        """Everything the thread has reported since the last call: (news, token, payload)."""
        news = []
        while True:
            try:
                news.append(self._outbox.get_nowait())
            except queue.Empty:
                return news

    def _report(self, news: News, token: object, payload: object) -> None:
        if not self._stopping:
            self._outbox.put((news, token, payload))
            self.signals.sig_ready.emit()

    def _loop(self) -> None:
        lower_this_threads_priority()  # decoding bursts must not delay the GUI thread
        frames = None  # the running decode, continued while frames are wanted in order
        next_index = -1
        while True:
            with self._condition:
                while not (self._stopping or self._open_request or self._wanted):
                    self._condition.wait()
                if self._stopping:
                    break
                open_request, self._open_request = self._open_request, None
                wanted = None if open_request else self._wanted
                if wanted:
                    self._wanted = None
            if open_request is not None:
                frames, next_index = None, -1
                self._replace_source(*open_request)
                continue
            token, index = wanted
            if token is not self._token or self._source is None:
                continue
            try:
                if frames is None or index != next_index:
                    frames = self._source.frames(start=index)
                frame: VideoFrame | None = next(frames, None)
                if frame is None:  # past the end
                    frames = None
                    frame = self._source.frame_at(index)
                next_index = frame.index + 1
                self._report(News.FRAME, token, frame)
            except SegviewerError as error:
                frames = None
                self._report(News.FAILED, token, str(error))
            except Exception as error:  # noqa: BLE001 - a decoder bug must not end the thread
                frames = None
                self._report(News.FAILED, token, f"cannot decode frame {index} ({error!r})")
        if self._source is not None:
            self._source.close()

    def _replace_source(self, token: object, opener: Callable[[], FrameSource]) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None
        self._token = token
        try:
            self._source = opener()
        except SegviewerError as error:
            self._report(News.FAILED, token, str(error))
            return
        except Exception as error:  # noqa: BLE001
            self._report(News.FAILED, token, f"{Path(str(token))}: cannot open ({error!r})")
            return
        self._report(News.OPENED, token, self._source.info)
