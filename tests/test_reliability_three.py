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


def _fifo(path):
    import os

    os.mkfifo(path)
    return path


def test_fifos_are_refused_before_opening_as_model_image_or_video(tmp_path, capsys):
    from segviewer.core.errors import ImageLoadError, ModelLoadError
    from segviewer.core.image_io import load_image
    from segviewer.core.inference import Segmenter
    from segviewer.core.video import VideoError, VideoReader

    with pytest.raises(ModelLoadError, match="FIFO"):
        Segmenter.load(_fifo(tmp_path / "model.keras"))
    with pytest.raises(ImageLoadError, match="FIFO"):
        load_image(_fifo(tmp_path / "frame.png"))
    with pytest.raises(VideoError, match="FIFO"):
        VideoReader(_fifo(tmp_path / "drive.mp4"))
    # The whole command: one line per refusal, never a hang.
    status = cli_main(["predict", str(tmp_path / "frame.png"), "--out", str(tmp_path / "out"),
                       "--model", str(tmp_path / "model.keras")])
    assert status == 2 and "model.keras: is a FIFO" in capsys.readouterr().err


def test_convert_check_with_a_bad_image_fails_before_writing_a_twin(tiny_model_path, tmp_path, capsys):
    from segviewer.commands.convert import main as convert_main

    model = tmp_path / "m.keras"
    shutil.copy(tiny_model_path, model)
    assert convert_main([str(model), "--check", str(tmp_path / "missing.png")]) == 2
    err = capsys.readouterr().err
    assert "missing.png: file not found" in err and "Traceback" not in err
    assert not model.with_suffix(".tflite").exists()


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_shard_is_refused(value, tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli_main(["predict", str(tmp_path), "--out", str(tmp_path / "o"), "--shard", value])
    assert "--shard takes K/N" in capsys.readouterr().err


def test_globs_match_videos_too(tmp_path):
    from segviewer.core.file_search import expand_pattern

    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "drive.mp4").write_bytes(b"x")
    (tmp_path / "self" / "notes.txt").write_text("x")
    assert [p.name for p in expand_pattern(str(tmp_path / "self" / "*.mp4"), videos=True).files] == ["drive.mp4"]


@pytest.mark.parametrize("config, problem", [
    ("{not json", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "one"}}', "whole number"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "not in the cluster"),
])
def test_a_malformed_tf_config_is_one_line_before_anything_loads(config, problem, monkeypatch, capsys):
    from training.train import main as train_main

    monkeypatch.setenv("TF_CONFIG", config)
    assert train_main(["--data", "/nonexistent"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0]


_LOCKED_WRITER = """
import fcntl, os, sys, time
path = sys.argv[1]
handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
os.write(handle, b"partial overlay video")
fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
time.sleep(60)
"""


def test_a_live_writer_from_another_host_or_pid_namespace_keeps_its_temporary(tmp_path):
    """The writer's PID means nothing here (another container): its lock keeps the file;
    once it is gone, only age lets a cleaner remove it."""
    import os
    import subprocess
    import sys
    import time

    from segviewer.core.atomic import STALE_AFTER_S, remove_stale_temporaries

    temp = tmp_path / ".drive_overlay.mp4.4000000.0badc0de-q1w2.part"  # a PID and host tag not ours
    writer = subprocess.Popen([sys.executable, "-c", _LOCKED_WRITER, str(temp)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        old = time.time() - 2 * STALE_AFTER_S
        os.utime(temp, (old, old))  # even a writer silent for long is alive while it holds the lock
        assert remove_stale_temporaries(tmp_path) == 0 and temp.exists()
    finally:
        writer.kill()
        writer.wait()
    os.utime(temp, None)  # its writer is gone, but it changed just now: left alone
    assert remove_stale_temporaries(tmp_path) == 0 and temp.exists()
    old = time.time() - 2 * STALE_AFTER_S
    os.utime(temp, (old, old))
    assert remove_stale_temporaries(tmp_path) == 1 and not temp.exists()


def test_write_atomic_holds_the_lock_while_writing(tmp_path):
    """Seen from another process (POSIX locks never block their own process)."""
    import subprocess
    import sys

    from segviewer.core.atomic import write_atomic
    from tests.conftest import PROJECT_ROOT

    seen = []

    def write(file):
        temp = next(p for p in tmp_path.iterdir() if p.name.endswith(".part"))
        check = ("import pathlib; from segviewer.core.atomic import _locked_by_a_writer as locked; "
                 f"print(locked(pathlib.Path({str(temp)!r})))")
        seen.append(subprocess.run([sys.executable, "-c", check], cwd=PROJECT_ROOT, capture_output=True,
                                   text=True).stdout.strip())
        file.write(b"x")

    write_atomic(tmp_path / "mask.png", write)
    assert seen == ["True"]


def test_a_model_ending_in_softmax_is_not_softmaxed_twice(tmp_path):
    import keras

    from segviewer.core.inference import Segmenter

    inputs = keras.Input((None, None, 3), dtype="uint8")
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    conv = keras.layers.Conv2D(19, 1, name="logits")
    probabilities = keras.layers.Softmax()(conv(x))
    model = keras.Model(inputs, probabilities)
    kernel = np.zeros((1, 1, 3, 19), np.float32)
    kernel[0, 0, 0, 0] = kernel[0, 0, 1, 8] = kernel[0, 0, 2, 10] = 40.0
    conv.set_weights([kernel, np.zeros(19, np.float32)])
    model.save(tmp_path / "softmax.keras")
    prediction = Segmenter.load(tmp_path / "softmax.keras", backend="tf").predict(tricolour_image())
    assert prediction.train_ids[55, 5] == 0 and prediction.train_ids[5, 5] == 10
    assert prediction.confidence[55, 5] >= 250  # ~100 %, as the logits model reads (12.9 % before)


def _fixed_size_reshape_model(path):
    import keras

    inputs = keras.Input((64, 96, 3), dtype="uint8")
    x = keras.layers.Conv2D(19, 1)(keras.layers.Rescaling(1 / 255)(inputs))
    x = keras.layers.Reshape((64, 96, 19))(keras.layers.Reshape((64 * 96, 19))(x))
    keras.Model(inputs, x).save(path)
    return path


def test_a_fixed_size_reshape_model_runs_at_its_own_size_and_is_not_converted(tmp_path, capsys):
    from segviewer.commands.convert import main as convert_main
    from segviewer.core.inference import Segmenter

    model = _fixed_size_reshape_model(tmp_path / "fixed.keras")
    segmenter = Segmenter.load(model, backend="tf")
    prediction = segmenter.predict(tricolour_image(375, 1242))  # a KITTI-sized frame
    assert prediction.train_ids.shape == (375, 1242) and prediction.working_size == (64, 96)
    assert convert_main([str(model)]) == 2
    ours = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(ours) == 1 and "takes only 96x64 inputs" in ours[0]
    assert not model.with_suffix(".tflite").exists()


def test_a_mixed_precision_model_is_refused_by_convert_in_one_line(tmp_path, capsys):
    import keras

    from segviewer.commands.convert import main as convert_main

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input((None, None, 3), dtype="uint8")
        x = keras.layers.Conv2D(19, 1)(keras.layers.Rescaling(1 / 255)(inputs))
        keras.Model(inputs, keras.layers.Activation("linear", dtype="float32")(x)).save(tmp_path / "half.keras")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert convert_main([str(tmp_path / "half.keras")]) == 2
    # Our own lines only: TensorFlow may print native lines of its own on some CPUs
    # ("oneDNN supports DT_HALF only on platforms with AVX-512").
    ours = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(ours) == 1 and "mixed precision" in ours[0]


def test_cityscapes_predict_then_evaluate_round_trips(tmp_path, tiny_model_path, capsys):
    """The layout the README advertises: leftImg8bit/val/<city>/ with gtFine/val/<city>/."""
    from PIL import Image

    root = tmp_path / "cityscapes"
    for city, frames in (("aachen", 2), ("bonn", 1)):
        (root / "leftImg8bit" / "val" / city).mkdir(parents=True)
        (root / "gtFine" / "val" / city).mkdir(parents=True)
        for index in range(frames):
            stem = f"{city}_{index:06d}_000019"
            Image.fromarray(tricolour_image()).save(root / "leftImg8bit" / "val" / city / f"{stem}_leftImg8bit.png")
            labels = np.full((60, 90), 7, np.uint8)
            labels[:20], labels[20:40] = 23, 21
            Image.fromarray(labels, "L").save(root / "gtFine" / "val" / city / f"{stem}_gtFine_labelIds.png")
            # Cityscapes ships train-ID and colour files beside the label IDs: not ground truth.
            Image.fromarray(np.zeros((60, 90), np.uint8), "L").save(
                root / "gtFine" / "val" / city / f"{stem}_gtFine_labelTrainIds.png")
    extra = root / "leftImg8bit" / "val" / "bonn" / "bonn_000009_000019_leftImg8bit.png"
    Image.fromarray(tricolour_image()).save(extra)  # a prediction without a label
    out = tmp_path / "pred"
    assert cli_main(["predict", str(root / "leftImg8bit" / "val"), "--recursive", "--out", str(out),
                     "--model", str(tiny_model_path)]) == 0
    assert (out / "aachen" / "aachen_000000_000019_leftImg8bit_labelIds.png").is_file()
    capsys.readouterr()
    assert cli_main(["evaluate", "--pred", str(out), "--gt", str(root / "gtFine" / "val")]) == 0
    captured = capsys.readouterr()
    assert "3 image(s) scored; 0 ground-truth file(s) without a prediction" in captured.out
    assert "1 prediction(s) have no ground truth" in captured.err and "bonn_000009" in captured.err


@pytest.mark.parametrize("signal_name, code", [("KeyboardInterrupt", 130), ("_Terminated", 143)])
def test_a_signal_while_a_video_opens_stops_cleanly_with_true_counts(signal_name, code, tmp_path, tiny_model_path,
                                                                     monkeypatch, capsys):
    from PIL import Image

    import segviewer.commands.predict as predict

    exception = KeyboardInterrupt if signal_name == "KeyboardInterrupt" else predict.Terminated

    def opening(_path):
        raise exception()

    monkeypatch.setattr(predict, "VideoReader", opening)
    Image.fromarray(tricolour_image()).save(tmp_path / "still.png")
    (tmp_path / "drive.mp4").write_bytes(b"not decoded: the signal comes first")
    out = tmp_path / "out"
    status = cli_main(["predict", str(tmp_path / "still.png"), str(tmp_path / "drive.mp4"), "--out", str(out),
                       "--model", str(tiny_model_path), "--format", "labelids"])
    err = capsys.readouterr().err
    assert status == code and "Traceback" not in err and "nothing written" not in err
    assert "1 file(s) written" in err and (out / "still_labelIds.png").is_file()
    assert err.strip().splitlines()[-1].startswith("stopped by")
