"""Segment a stream of images in three overlapping stages, so a folder runs at the speed of
its slowest stage instead of the sum of them all:

1. decode and resize to the working size, on a small thread pool (:mod:`prefetch` caps
   the pixels waiting);
2. the network, on the calling thread (LiteRT and TensorFlow use their own threads inside);
3. full-size class IDs from the coarse scores and whatever the caller does with them
   (``predict`` writes files), on one finishing thread, so results land in input order.

At most ``depth`` images wait for stage 3, so memory stays bounded. Pillow, NumPy and the
interpreters release the GIL in their heavy loops, which is what lets the stages overlap.
``predict``, Save All and Evaluate Folder share this.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from segviewer.core.errors import SegviewerError
from segviewer.core.inference import Prediction, Segmenter
from segviewer.core.prefetch import prefetched

Job = TypeVar("Job")
Result = TypeVar("Result")

# Images scored by the network and waiting for (or in) the finishing stage.
FINISH_DEPTH = 2
# The failures a single image may have (unreadable, undecodable, unwritable); anything
# else is a bug and stops the run.
IMAGE_FAILURES = (SegviewerError, OSError)


@dataclass(frozen=True)
class Outcome(Generic[Job, Result]):
    job: Job
    result: Result | None = None
    error: BaseException | None = None  # one of IMAGE_FAILURES


def _failed(error: BaseException) -> Future:
    future: Future = Future()
    future.set_exception(error)
    return future


class ImagePipeline(Generic[Job, Result]):
    """Decode -> network -> finish, overlapped (see the module docstring).

    ``finish(job, image, prediction)`` runs on the finishing thread and returns the job's
    result; an :data:`IMAGE_FAILURES` error it raises becomes that job's outcome. A stop
    request goes through ``outcomes(should_stop=...)``; after an interruption that leaves
    the loop (Ctrl-C, SIGTERM), :meth:`drain` waits for the images already in the
    finishing stage, so every file they write is complete, and returns their outcomes.
    """

    def __init__(self, segmenter: Segmenter, finish: Callable[[Job, np.ndarray, Prediction | None], Result],
                 decoders: int = 2, depth: int = FINISH_DEPTH,
                 known: Callable[[Job, np.ndarray], bool] | None = None) -> None:
        """``known(job, image)``: the caller already has this image's mask (the viewer's
        cache); the network is skipped and ``finish`` gets ``None`` for the prediction."""
        self._segmenter = segmenter
        self._finish = finish
        self._known = known
        self._depth = depth
        self._decode_pool = ThreadPoolExecutor(max_workers=decoders, thread_name_prefix="segviewer-decode")
        self._finish_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segviewer-finish")
        self._pending: deque[tuple[Job, Future]] = deque()
        self.stopped = False  # the last outcomes() run was stopped by its should_stop

    def __enter__(self) -> ImagePipeline[Job, Result]:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def outcomes(self, jobs: Iterable[Job], source: Callable[[Job], Path], load: Callable[[Job], np.ndarray],
                 should_stop: Callable[[], bool] | None = None,
                 started: Callable[[int, Job], None] | None = None) -> Iterator[Outcome[Job, Result]]:
        """Each job's outcome, in the order of ``jobs``. ``started(n, job)`` hears of the
        n-th job as the network takes it (a progress read-out); ``should_stop()`` is asked
        before each one: once it says yes, no new image enters the network, the ones past
        it are finished and yielded, and :attr:`stopped` is set."""

        def prepare(job: Job) -> tuple[np.ndarray, np.ndarray]:
            image = load(job)
            return image, self._segmenter.network_input(image)

        self.stopped = False
        for number, (job, decoded) in enumerate(prefetched(jobs, source, prepare, self._decode_pool), start=1):
            if should_stop is not None and should_stop():
                self.stopped = True
                break
            if started is not None:
                started(number, job)
            try:
                image, pixels = decoded.result()
                if self._known is not None and self._known(job, image):
                    finishing = self._finish_pool.submit(self._finish, job, image, None)
                else:
                    scored = self._segmenter.score(pixels, image.shape[:2])
                    finishing = self._finish_pool.submit(self._finish_one, job, image, scored)
            except IMAGE_FAILURES as error:
                finishing = _failed(error)
            self._pending.append((job, finishing))
            while len(self._pending) > self._depth:
                yield self._next_outcome()
        while self._pending:
            yield self._next_outcome()

    def drain(self) -> list[Outcome[Job, Result]]:
        """The outcomes of the images still in the finishing stage, once they are done."""
        return [self._next_outcome() for _ in range(len(self._pending))]

    def close(self) -> None:
        """Drop the decodes not yet started; let the finishing stage complete its image."""
        self._decode_pool.shutdown(wait=True, cancel_futures=True)
        self._finish_pool.shutdown(wait=True)

    def _finish_one(self, job: Job, image: np.ndarray, scored) -> Result:
        return self._finish(job, image, Segmenter.finish(scored))

    def _next_outcome(self) -> Outcome[Job, Result]:
        job, finishing = self._pending.popleft()
        try:
            return Outcome(job, result=finishing.result())
        except IMAGE_FAILURES as error:
            return Outcome(job, error=error)
