"""Reliability, round three (issue 24): model files changed on disk, shared output
folders, odd inputs and settings. Each test failed before its fix."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from segviewer.cli import main as cli_main
from tests.conftest import tricolour_image


@pytest.fixture
def private_twin(twinned_model, tmp_path):
    model = tmp_path / "m.keras"
    shutil.copy(twinned_model, model)
    for suffix in (".tflite", ".tflite.json"):
        shutil.copy(twinned_model.with_suffix(suffix), model.with_suffix(suffix))
    return model


def test_a_twin_overwritten_in_place_while_loaded_does_not_kill_the_process(private_twin):
    pytest.importorskip("ai_edge_litert")
    from segviewer.core.inference import Segmenter

    segmenter = Segmenter.load(private_twin, backend="litert")
    before = segmenter.predict(tricolour_image()).train_ids
    twin = private_twin.with_suffix(".tflite")
    size = twin.stat().st_size
    with open(twin, "r+b") as file:  # what `cp other.tflite twin` does: same inode, new bytes
        file.write(b"\0" * size)
    with open(twin, "r+b") as file:
        file.truncate(100)
    assert np.array_equal(segmenter.predict(tricolour_image()).train_ids, before)


def test_a_corrupted_twin_with_a_valid_stamp_is_never_run(private_twin):
    from segviewer.core.backends import usable_twin
    from segviewer.core.errors import ModelLoadError
    from segviewer.core.inference import Segmenter

    twin = private_twin.with_suffix(".tflite")
    data = bytearray(twin.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 2000] = bytes(b ^ 0x5A for b in data[middle:middle + 2000])
    twin.write_bytes(bytes(data))
    assert usable_twin(private_twin) is None
    with pytest.raises(ModelLoadError, match="intact"):
        Segmenter.load(private_twin, backend="litert")
    assert Segmenter.load(private_twin).backend_description.startswith("TensorFlow")  # auto falls back
