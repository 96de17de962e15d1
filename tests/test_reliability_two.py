"""Reliability, round two: link loops, our own outputs as inputs, file modes, leftovers,
signals, evaluate's output files, odd pixel data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segviewer.cli import main as cli_main
from segviewer.core.atomic import FILE_MODE, remove_stale_temporaries, write_atomic
from segviewer.core.file_search import expand_pattern, find_images
from segviewer.core.image_io import load_image
from tests.conftest import PROJECT_ROOT, tricolour_image


@pytest.fixture
def looped_tree(tmp_path) -> Path:
    """L/a/up -> .. and L/self -> . (link loops), L/a/b/x.png, L/top.png, a dangling link."""
    root = tmp_path / "L"
    (root / "a" / "b").mkdir(parents=True)
    Image.fromarray(tricolour_image()).save(root / "top.png")
    Image.fromarray(tricolour_image()).save(root / "a" / "b" / "x.png")
    os.symlink("..", root / "a" / "up")
    os.symlink(".", root / "self")
    os.symlink("missing.png", root / "a" / "gone.png")
    return root


def test_double_star_pattern_terminates_over_link_loops(looped_tree):
    started = time.perf_counter()
    result = expand_pattern(str(looped_tree / "**" / "*.png"))
    assert time.perf_counter() - started < 5
    assert [p.relative_to(looped_tree).as_posix() for p in result.files] == ["a/b/x.png", "top.png"]
    assert [p.name for p in result.broken_links] == ["gone.png"]
    recursive = find_images(looped_tree, recursive=True)
    assert recursive.files == result.files and recursive.broken_links == result.broken_links


def test_predict_reports_dangling_links(looped_tree, tmp_path, tiny_model_path, capsys):
    status = cli_main(["predict", str(looped_tree / "**" / "*.png"), "--out", str(tmp_path / "out"),
                       "--model", str(tiny_model_path)])
    err = capsys.readouterr().err
    assert status == 1 and "gone.png: broken symbolic link" in err
    assert "2 of 3 image(s) done" in err


def test_outputs_inside_the_input_folder_are_not_segmented_again(tmp_path, tiny_model_path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    Image.fromarray(tricolour_image()).save(folder / "000000_10.png")
    args = ["predict", str(folder), "--out", str(folder), "--model", str(tiny_model_path),
            "--format", "labelids,color"]
    assert cli_main(args) == 0
    capsys.readouterr()
    assert cli_main(args + ["--skip-existing"]) == 0
    err = capsys.readouterr().err
    assert "skipping 2 file(s)" in err and "segviewer outputs" in err
    assert not list(folder.glob("*_labelIds_labelIds.png"))


def test_written_files_get_the_ordinary_mode(tmp_path):
    target = tmp_path / "mask.png"
    write_atomic(target, lambda f: f.write(b"x"))
    assert target.stat().st_mode & 0o777 == FILE_MODE
    assert FILE_MODE == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    from segviewer.core.atomic import HOST_TAG

    stale = tmp_path / f".a_labelIds.png.{dead}.{HOST_TAG}-x1y2.part"
    live = tmp_path / f".b_labelIds.png.{os.getppid()}.{HOST_TAG}-x1y2.part"
    other = tmp_path / ".notes.part"
    for path in (stale, live, other):
        path.write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path) == 1
    assert not stale.exists() and live.exists() and other.exists()


def _sigint_as_in_a_terminal() -> None:
    # A shell that starts the test run in the background sets SIGINT to "ignore", which
    # children inherit (and Python then keeps); a terminal's Ctrl-C reaches a foreground
    # `predict` with the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_stops_cleanly_with_one_line(tmp_path, slow_images, tiny_model_path, sig, code):
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "segviewer", "predict", str(slow_images), "--out", str(out),
                                "--model", str(tiny_model_path)], cwd=PROJECT_ROOT, stderr=subprocess.PIPE,
                               text=True, preexec_fn=_sigint_as_in_a_terminal)
    deadline = time.time() + 60
    while time.time() < deadline and not (out.is_dir() and any(out.glob("*_labelIds.png"))):
        time.sleep(0.05)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("stopped by")
    assert not list(out.glob(".*.part"))


@pytest.fixture
def slow_images(tmp_path) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    big = np.tile(tricolour_image(60, 90), (20, 20, 1))  # 1200x1800: a few hundred ms each
    for index in range(40):
        Image.fromarray(big).save(folder / f"{index:03d}.png", compress_level=0)
    return folder


def test_float_tiff_in_zero_to_one_is_scaled_and_nan_is_quiet(tmp_path):
    values = np.linspace(0, 1, 60 * 90, dtype=np.float32).reshape(60, 90)
    values[0, 0] = np.nan
    Image.fromarray(values, "F").save(tmp_path / "float.tif")
    with np.errstate(all="raise"):
        rgb = load_image(tmp_path / "float.tif")
    assert rgb[-1, -1].tolist() == [255, 255, 255] and rgb[30, 45, 0] > 100 and rgb[0, 0, 0] == 0


def test_output_name_too_long_blames_the_output(tmp_path, tiny_model_path, capsys):
    name = "x" * 245 + ".png"
    Image.fromarray(tricolour_image()).save(tmp_path / name)
    status = cli_main(["predict", str(tmp_path / name), "--out", str(tmp_path / "out"), "--model",
                       str(tiny_model_path), "--format", "labelIds"])
    err = capsys.readouterr().err
    assert status == 1 and "output file name too long" in err and "_labelIds.png" in err


def _evaluation_folders(tmp_path, prediction_shape=(4, 4)):
    """One ground-truth label-ID mask (4x4 road) and its prediction of ``prediction_shape``."""
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    Image.fromarray(np.full((4, 4), 7, np.uint8), "L").save(gt / "a.png")
    Image.fromarray(np.full(prediction_shape, 7, np.uint8), "L").save(pred / "a_labelIds.png")
    return ["evaluate", "--pred", str(pred), "--gt", str(gt)]


def test_evaluate_output_files_are_checked_before_scoring(tmp_path, capsys):
    command = _evaluation_folders(tmp_path)
    assert cli_main([*command, "--json", str(tmp_path / "missing" / "s.json")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "Traceback" not in err
    assert cli_main([*command, "--csv", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_evaluate_size_mismatch_names_the_file_and_json_stays_valid(tmp_path, capsys):
    """The only pair fails (sizes differ): nothing is scored, the JSON says null, not NaN."""
    out = tmp_path / "s.json"
    assert cli_main([*_evaluation_folders(tmp_path, (5, 4)), "--json", str(out)]) == 1
    err = capsys.readouterr().err
    assert "a_labelIds.png" in err and "a.png" in err and "Traceback" not in err
    document = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    assert document["miou"] is None and document["images"] == 0


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P", "CMYK"])
def test_big_images_are_copied_out_in_strips_with_identical_pixels(tmp_path, monkeypatch, mode):
    import segviewer.core.image_io as image_io

    path = tmp_path / ("big.jpg" if mode == "CMYK" else "big.png")
    Image.fromarray(tricolour_image(700, 300, seed=3)).convert(mode).save(path)
    whole = load_image(path)
    monkeypatch.setattr(image_io, "STRIP_THRESHOLD", 1000)
    monkeypatch.setattr(image_io, "STRIP_ROWS", 64)
    assert (load_image(path) == whole).all()


def test_prefetch_is_bounded_by_pixels(tmp_path, monkeypatch):
    """A folder of big images never has more than PREFETCH_PIXELS decoded ahead."""
    import segviewer.commands.predict_jobs as predict
    import segviewer.core.prefetch as prefetch

    for index in range(6):
        Image.fromarray(tricolour_image(100, 100, seed=index)).save(tmp_path / f"{index}.png")
        submitted = []

    class Pool:
        def submit(self, _function, job):
            submitted.append(job)
            from concurrent.futures import Future

            future = Future()
            future.set_result(None)
            return future

    jobs = [predict.Job(p, tmp_path) for p in sorted(tmp_path.glob("*.png"))]
    ahead = []
    # Room for two 10,000-pixel images.
    for job, _future in prefetch.prefetched(jobs, lambda j: j.source, None, Pool(), max_pixels=25_000):
        ahead.append(len(submitted) - (jobs.index(job) + 1))
    assert max(ahead) <= 2 and len(ahead) == 6
