"""The Qt binding itself: a release that miscounts references would abort the viewer
after some thousands of signals (PySide6 6.12.0 did, on every ``emit``)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Source(QObject):
    plain = Signal()
    carrying = Signal(object)


def test_emitting_signals_leaves_reference_counts_alone(qapp):
    source = _Source()
    received = [0]

    def count(_value) -> None:
        received[0] += 1

    source.carrying.connect(count)
    counts = [sys.getrefcount(value) for value in (None, True, False)]
    for _ in range(500):
        source.plain.emit()
        source.carrying.emit(None)
    assert received[0] == 500
    # The defect cost one reference per emit (-1000 here, or an abort); a few references
    # either way come and go with the interpreter's own bookkeeping.
    after = [sys.getrefcount(value) for value in (None, True, False)]
    assert all(abs(a - b) < 50 for a, b in zip(after, counts)), (counts, after)
