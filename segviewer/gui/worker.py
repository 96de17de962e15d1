"""The one background thread that owns the model.

It serves three kinds of job, most urgent first: load a model, segment the image the
user is looking at (only the latest request is kept: when the user flips through a
folder, images they have already left are never computed), and batch jobs (save all).
Results travel to the GUI thread through Qt signals (queued across threads); every
exception becomes a message, never an escape. Shutting down is a flag the loop checks;
the thread is a daemon so a model still loading can never hold the app open.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from segviewer.core.batch import BatchOutcome
from segviewer.core.datasets import find_truth_for
from segviewer.core.display_proxy import DisplayProxy, display_factor, make_proxy
from segviewer.core.errors import SegviewerError
from segviewer.core.image_io import load_image
from segviewer.core.inference import Prediction, Segmenter
from segviewer.core.video import frame_name


class JobKind(enum.Enum):
    """The worker's jobs, most urgent first."""

    LOAD_MODEL = 1
    LOAD_MODEL_B = 2
    SEGMENT = 3
    BATCH = 4


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    name: str
    device: str
    card: dict
    load_seconds: float


@dataclass(frozen=True)
class InferenceResult:
    request_id: int
    path: Path
    image: np.ndarray
    prediction: Prediction | None  # None when no model is loaded: the image alone is shown
    model_path: Path | None
    truth: np.ndarray | None = None  # ground truth as train IDs, when found beside the image
    truth_path: Path | None = None
    truth_note: str = ""             # why ground truth beside the image was not used
    truth_layout: str = ""           # its dataset (kitti, cityscapes, camvid): the space it is judged in
    display: DisplayProxy | None = None  # a reduced copy to draw, for a very big image
    prediction_b: np.ndarray | None = None  # model B's train IDs, when a model B is set
    model_b_path: Path | None = None
    pending: bool = False            # the image alone, sent while its mask is computed
    frame_index: int | None = None   # a video frame's number (its path names the video)
    mask_frame: int | None = None    # the frame the mask was computed for, when not this one

    @property
    def nbytes(self) -> int:
        size = self.image.nbytes
        if self.prediction is not None:
            size += 2 * self.prediction.train_ids.nbytes  # the IDs and (once read) their uint8 confidence
        if self.truth is not None:
            size += self.truth.nbytes
        if self.display is not None:
            size += self.display.nbytes
        if self.prediction_b is not None:
            size += self.prediction_b.nbytes
        return size


@dataclass(frozen=True)
class InferenceFailure:
    request_id: int
    path: Path
    message: str


@dataclass(frozen=True)
class FrameRequest:
    request_id: int
    video: Path
    frame_index: int
    image: np.ndarray


def frame_path(video: Path, frame_index: int) -> Path:
    """The name a video frame goes by (status bar, saved masks): ``<video>_<frame>.png``,
    as ``segviewer predict`` names its per-frame masks."""
    return Path(video).with_name(f"{frame_name(video, frame_index)}.png")


class WorkerSignals(QObject):
    sig_model_loading = Signal(object)   # Path
    sig_model_loaded = Signal(object)    # ModelInfo
    sig_model_failed = Signal(str)
    sig_busy = Signal(bool)
    sig_result = Signal(object)          # InferenceResult
    sig_failed = Signal(object)          # InferenceFailure
    sig_batch_progress = Signal(int, int, str)
    sig_batch_done = Signal(object)      # whatever the batch job returned
    sig_model_b = Signal(object, str)    # Path or None, and "" or why it could not be loaded


# A batch job gets the segmenter, a progress callback and a "should stop" check.
BatchJob = Callable[[Segmenter, Callable[[int, int, str], None], Callable[[], bool]], object]


def lower_this_threads_priority(niceness: int = 5) -> None:
    """Let the GUI thread win the CPU: on Linux, nice is per thread and inherited by the
    threads this one creates, which include TensorFlow's compute pools when TensorFlow
    is first used here (as in the app, where only the worker imports it)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


class ModelWorker:
    def __init__(self, pixel_budget: int | None, backend: str = "auto") -> None:
        self.signals = WorkerSignals()
        self._pixel_budget = pixel_budget
        self._backend = backend
        self._condition = threading.Condition()
        self._pending_model: Path | None = None
        self._pending_request: tuple[int, Path] | FrameRequest | None = None
        self._pending_batch: BatchJob | None = None
        self._pending_model_b: list[Path | None] = []  # [path] or [None] = forget B
        self._segmenter_b: Segmenter | None = None
        self._model_b_path: Path | None = None
        self._cancel_batch = False
        self._stopping = False
        self._segmenter: Segmenter | None = None
        self._model_path: Path | None = None
        self.calls = 0  # how many times the model ran (tests check toggles never re-run it)
        self._thread = threading.Thread(target=self._loop, name="segviewer-model-worker", daemon=True)
        self._thread.start()

    # -- requests from the GUI thread ------------------------------------------------
    def load_model(self, path: Path) -> None:
        with self._condition:
            self._pending_model = Path(path)
            self._condition.notify()

    def load_model_b(self, path: Path | None) -> None:
        """A second model whose masks come with every image (None: no more B)."""
        with self._condition:
            self._pending_model_b = [path]
            self._condition.notify()

    def model_b(self) -> tuple[Segmenter, Path] | None:
        """Model B's segmenter and file once loaded (for jobs running on this worker)."""
        segmenter, path = self._segmenter_b, self._model_b_path
        return None if segmenter is None or path is None else (segmenter, path)

    def request(self, request_id: int, path: Path) -> None:
        """Segment ``path``; replaces any request not yet started."""
        with self._condition:
            self._pending_request = (request_id, Path(path))
            self._condition.notify()

    def request_frame(self, request: FrameRequest) -> None:
        """Segment a decoded video frame; replaces any request not yet started (during
        playback the newest frame wins and no queue builds up)."""
        with self._condition:
            self._pending_request = request
            self._condition.notify()

    def run_batch(self, job: BatchJob) -> None:
        with self._condition:
            self._cancel_batch = False
            self._pending_batch = job
            self._condition.notify()

    def cancel_batch(self) -> None:
        """Stop the batch job: a running one after its current image, a waiting one at once
        (its ``sig_batch_done`` then says so, so the GUI never waits for it)."""
        with self._condition:
            self._cancel_batch = True
            dropped, self._pending_batch = self._pending_batch is not None, None
        if dropped:
            self.signals.sig_batch_done.emit(BatchOutcome(total=0, stopped=True))

    @property
    def has_model(self) -> bool:
        return self._segmenter is not None

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Ask the loop to stop and wait up to ``timeout`` s; True if it has ended."""
        with self._condition:
            self._stopping = True
            self._cancel_batch = True
            self._condition.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # -- the loop (worker thread) -------------------------------------------------------
    def _next_job(self):
        with self._condition:
            while not self._stopping and not (self._pending_model or self._pending_request
                                               or self._pending_batch or self._pending_model_b):
                self._condition.wait()
            if self._stopping:
                return None
            if self._pending_model is not None:
                job, self._pending_model = (JobKind.LOAD_MODEL, self._pending_model), None
            elif self._pending_model_b:
                job, self._pending_model_b = (JobKind.LOAD_MODEL_B, self._pending_model_b[0]), []
            elif self._pending_request is not None:
                job, self._pending_request = (JobKind.SEGMENT, self._pending_request), None
            else:
                job, self._pending_batch = (JobKind.BATCH, self._pending_batch), None
            return job

    def _loop(self) -> None:
        lower_this_threads_priority()
        while (job := self._next_job()) is not None:
            kind, payload = job
            self._emit(self.signals.sig_busy, True)
            try:
                if kind is JobKind.LOAD_MODEL:
                    self._load(payload)
                elif kind is JobKind.LOAD_MODEL_B:
                    self._load_b(payload)
                elif kind is JobKind.SEGMENT and isinstance(payload, FrameRequest):
                    self._infer_frame(payload)
                elif kind is JobKind.SEGMENT:
                    self._infer(*payload)
                else:
                    self._batch(payload)
            except Exception as error:  # e.g. out of memory: report it, keep the worker alive
                message = f"unexpected error: {error!r}"
                if kind is JobKind.SEGMENT:
                    request_id, path = ((payload.request_id, payload.video) if isinstance(payload, FrameRequest)
                                        else payload)
                    self._emit(self.signals.sig_failed, InferenceFailure(request_id, path, f"{path}: {message}"))
                elif kind is JobKind.BATCH:
                    self._emit(self.signals.sig_batch_done, RuntimeError(message))
                else:
                    self._emit(self.signals.sig_model_failed, f"{payload}: {message}")
            finally:
                self._emit(self.signals.sig_busy, False)

    def _emit(self, signal, *args) -> None:
        if not self._stopping:
            signal.emit(*args)

    def _load(self, path: Path) -> None:
        self._emit(self.signals.sig_model_loading, path)
        started = time.perf_counter()
        try:
            segmenter = Segmenter.load(path, self._pixel_budget, backend=self._backend)
            segmenter.warm_up()
            device = segmenter.backend_description
        except SegviewerError as error:
            self._emit(self.signals.sig_model_failed, str(error))
            return
        self._segmenter, self._model_path = segmenter, path
        info = ModelInfo(path, segmenter.name, device, segmenter.card, time.perf_counter() - started)
        self._emit(self.signals.sig_model_loaded, info)

    def _load_b(self, path: Path | None) -> None:
        if path is None:
            self._segmenter_b = self._model_b_path = None
            self._emit(self.signals.sig_model_b, None, "")
            return
        try:
            segmenter = Segmenter.load(path, self._pixel_budget, backend=self._backend)
        except SegviewerError as error:
            self._emit(self.signals.sig_model_b, path, str(error))
            return
        self._segmenter_b, self._model_b_path = segmenter, path
        self._emit(self.signals.sig_model_b, path, "")

    def _infer(self, request_id: int, path: Path) -> None:
        try:
            image = load_image(path)
        except SegviewerError as error:
            self._emit(self.signals.sig_failed, InferenceFailure(request_id, path, str(error)))
            return
        prediction = None
        factor = display_factor(*image.shape[:2])
        if self._segmenter is not None:
            # Show the new picture at once (no overlay): the previous mask must never stand
            # over it while the network runs.
            preview = make_proxy(image, factor) if factor > 1 else None
            self._emit(self.signals.sig_result,
                       InferenceResult(request_id, path, image, None, self._model_path, pending=True,
                                       display=preview))
            self.calls += 1
            prediction = self._segmenter.predict(image)
        prediction_b = None
        if prediction is not None and self._segmenter_b is not None:
            prediction_b = self._segmenter_b.predict(image).train_ids
        truth, truth_path, note, layout = find_truth_for(path, image.shape[:2])
        display = (make_proxy(image, factor, None if prediction is None else prediction.train_ids, truth,
                              prediction_b) if factor > 1 else None)
        self._emit(self.signals.sig_result,
                   InferenceResult(request_id, path, image, prediction, self._model_path, truth, truth_path, note,
                                   truth_layout=layout, display=display, prediction_b=prediction_b,
                                   model_b_path=self._model_b_path if prediction_b is not None else None))

    def _infer_frame(self, request: FrameRequest) -> None:
        prediction = None
        if self._segmenter is not None:
            self.calls += 1
            prediction = self._segmenter.predict(request.image)
        self._emit(self.signals.sig_result,
                   InferenceResult(request.request_id, frame_path(request.video, request.frame_index), request.image,
                                   prediction, self._model_path, frame_index=request.frame_index))

    def _batch(self, job: BatchJob) -> None:
        if self._segmenter is None:
            self._emit(self.signals.sig_batch_done, RuntimeError("no model loaded"))
            return

        def progress(done: int, total: int, name: str) -> None:
            self._emit(self.signals.sig_batch_progress, done, total, name)

        result = job(self._segmenter, progress, lambda: self._cancel_batch or self._stopping)
        self._emit(self.signals.sig_batch_done, result)
