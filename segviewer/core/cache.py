"""Bounded least-recently-used cache of segmentation results (Qt-free)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar


class Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


T = TypeVar("T", bound=Sized)


class ResultCache(Generic[T]):
    """Keeps at most ``max_items`` results and ``max_bytes`` of arrays, evicting the
    least recently used; going back to a recent image is then instant."""

    def __init__(self, max_items: int = 24, max_bytes: int = 768 * 2**20) -> None:
        self.max_items, self.max_bytes = max_items, max_bytes
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable) -> T | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: T) -> None:
        if key in self._items:
            self._bytes -= self._items.pop(key).nbytes
        self._items[key] = value
        self._bytes += value.nbytes
        while self._items and (len(self._items) > self.max_items or self._bytes > self.max_bytes):
            if len(self._items) == 1:
                break  # always keep the newest, even if it alone is over budget
            _, evicted = self._items.popitem(last=False)
            self._bytes -= evicted.nbytes

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes
