"""`segviewer bench --quick` produces every figure; a wheel carries the resources."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from segviewer.commands.bench import main as bench_main
from tests.conftest import PROJECT_ROOT

FIGURES = ("inference_ms", "seed_inference_ms", "speedup_vs_seed", "overlay_ms", "overlay_12mp_ms",
           "startup_window_s", "startup_first_overlay_s", "peak_rss_mb",
           "gmacs_375x1242", "gmacs_working", "parameters", "device", "tensorflow", "model", "image_size")


@pytest.mark.slow
def test_bench_quick_reports_every_figure(tmp_path, twinned_model, capsys):
    from segviewer.commands.bench import kitti_layout_folder

    out = tmp_path / "bench.json"
    folder = kitti_layout_folder(tmp_path / "with_truth", 3)
    assert bench_main(["--quick", "--model", str(twinned_model), "--json", str(out),
                       "--evaluate-folder", str(folder)]) == 0
    results = json.loads(out.read_text())
    for key in FIGURES:
        assert key in results, key
    for key in FIGURES[:8]:
        assert isinstance(results[key], (int, float)) and results[key] > 0, key
    # Both backends side by side, in the same run.
    for backend in ("tf", "litert"):
        for figure in ("inference_ms", "inference_ms_kitti", "network_ms", "startup_first_overlay_s", "peak_rss_mb",
                       "predict_images_per_s"):
            assert results[f"{figure}_{backend}"] > 0, (figure, backend)
    assert results["litert_speedup"] > 0 and results["backend_auto"] in ("tf", "litert")
    assert results["end_to_end_network_ratio_kitti"] > 0  # on the shipped KITTI frame, beside the synthetic one
    assert results["seed_parameters"] == 7_698_580
    # Evaluate Folder against predict on the same three images, and its memory.
    assert "3 with truth" in results["evaluate_folder"] and results["evaluate_predict_ratio"] > 0
    assert results["evaluate_max_stall_ms"] >= 0 and results["evaluate_peak_rss_mb"] > 0
    assert results["evaluate_rss_frames"] == 50
    table = capsys.readouterr().out
    assert "inference_ms" in table and "target" in table


@pytest.mark.slow
def test_wheel_contains_class_table_and_model(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
                             str(PROJECT_ROOT)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0 and "Could not" in result.stderr:
        pytest.skip(f"cannot build a wheel here: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = next(tmp_path.glob("segviewer-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "segviewer/resources/classes.json" in names
    assert "segviewer/resources/models/segviewer_lite0.keras" in names
    assert "segviewer/resources/models/segviewer_lite0.json" in names
    assert "segviewer/resources/models/segviewer_lite0.tflite" in names
    assert "segviewer/resources/models/segviewer_lite0.tflite.json" in names
    # The stage-6 candidate beside it, to open as model B (not the default: docs/model_quality.md).
    for suffix in (".keras", ".json", ".tflite", ".tflite.json"):
        assert f"segviewer/resources/models/segviewer_evit_candidate{suffix}" in names
    # The sample frames a new user opens, with their labels and their own licence.
    for part in ("image_2/000011_10.png", "semantic/000042_10.png", "LICENSE.md"):
        assert f"segviewer/resources/samples/{part}" in names
    assert not any(name.startswith("tests/") for name in names)


def test_the_bench_times_the_network_and_the_whole_frame_at_every_kitti_working_size(tiny_model_path):
    from segviewer.commands.bench import NETWORK_SIZES, network_scale_results
    from segviewer.core.backends import Backend
    from segviewer.core.inference import Segmenter

    results = network_scale_results({Backend.TENSORFLOW: Segmenter.load(tiny_model_path, backend="tf")}, repeats=1)
    assert sorted(results) == sorted(f"{kind}_ms_tf_{w}x{h}" for h, w in NETWORK_SIZES
                                     for kind in ("network", "inference"))
    assert all(value > 0 for value in results.values())


def test_the_bench_looks_for_real_frames_in_the_shared_folder_beside_the_project():
    """Moving bench.py into segviewer/commands/ once left it looking one level too high:
    it fell back to synthetic frames without a word."""
    from segviewer.commands.bench import _shared_datasets
    from tests.conftest import PROJECT_ROOT

    assert _shared_datasets() == PROJECT_ROOT.resolve().parent / "shared" / "datasets"
