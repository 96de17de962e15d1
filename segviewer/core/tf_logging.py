"""Keep TensorFlow's start-up log noise (oneDNN notes, "failed call to cuInit" on machines
without a GPU, absl's pre-init warning) off the user's terminal.

TensorFlow 2.21 writes these lines from C++ through absl before ``TF_CPP_MIN_LOG_LEVEL``
is honoured, so setting the variable alone is not enough: :func:`native_noise_filtered`
captures the process's standard error (file descriptor 2) while TensorFlow loads and
initialises its devices, then writes back every line that is not known noise, so real
errors still reach the user. ``segviewer --verbose`` (``SEGVIEWER_VERBOSE=1``) shows
everything.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator

VERBOSE_VARIABLE = "SEGVIEWER_VERBOSE"
NOISE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cudart_stub|cuda_platform|cuda_executor|"
    r"failed call to cuInit|cpu_feature_guard|This TensorFlow binary is optimized|"
    r"To enable the following instructions|rebuild TensorFlow with the appropriate|"
    r"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|"
    r"TF-TRT Warning|Could not find cuda drivers|Created TensorFlow Lite XNNPACK delegate", re.IGNORECASE)
_lock = threading.RLock()  # re-entrant: filtered blocks may nest


def verbose() -> bool:
    return os.environ.get(VERBOSE_VARIABLE) == "1"


def set_verbose(enabled: bool) -> None:
    if enabled:
        os.environ[VERBOSE_VARIABLE] = "1"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")


def quiet_tensorflow() -> None:
    """Ask TensorFlow for errors only, and hide its Python deprecation warnings."""
    if verbose():
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(tensorflow|keras|tf_keras)\b")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(tensorflow|keras)\b")


@contextlib.contextmanager
def native_noise_filtered() -> Iterator[None]:
    """Run the block with fd 2 captured; afterwards replay the lines that are not noise."""
    quiet_tensorflow()
    if verbose():
        yield
        return
    with _lock:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real stderr (e.g. a GUI launcher): nothing to filter
            yield
            return
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                kept = [line for line in capture.read().decode("utf-8", "replace").splitlines()
                        if line.strip() and not NOISE.search(line)]
                if kept:
                    print("\n".join(kept), file=sys.stderr, flush=True)
