"""``segviewer predict`` and ``segviewer evaluate`` on synthetic data."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from segviewer.cli import main as cli_main
from segviewer.core.mask_io import MaskFormat, read_label_ids, save_mask
from segviewer.core.tf_logging import NOISE
from tests.conftest import tricolour_image


def test_help_runs_without_qt_or_tensorflow():
    code = ("import sys; from segviewer.cli import main\n"
            "try:\n    main(['predict', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'PySide6' not in sys.modules and 'tensorflow' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--skip-existing" in result.stdout


@pytest.mark.parametrize("command", [["predict"], ["evaluate"], ["bench"]])
def test_help_texts_are_plain_and_complete(command, capsys):
    with pytest.raises(SystemExit):
        cli_main([*command, "--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text
    if command == ["bench"]:
        assert "pixels the network sees" in text


def test_segviewer_help_console_script():
    result = subprocess.run([sys.executable, "-m", "segviewer", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "predict" in result.stdout


def test_predict_folder_with_one_corrupt_file(tmp_path, image_folder, tiny_model_path, capsys):
    good = (image_folder / "000000_10.png").read_bytes()
    (image_folder / "000009_10.png").write_bytes(good[: len(good) // 2])
    out = tmp_path / "masks"
    status = cli_main(["predict", str(image_folder), "--out", str(out), "--model", str(tiny_model_path),
                       "--format", "labelids,trainids,color,overlay"])
    captured = capsys.readouterr()
    assert status == 1
    assert "000009_10.png" in captured.err and "truncated or corrupt" in captured.err
    assert "3 of 4 image(s) done" in captured.err and "images/s" in captured.err
    for index in range(3):
        labels = read_label_ids(out / f"00000{index}_10_labelIds.png")
        assert labels[5, 5] == 10 and labels[-5, 5] == 0  # sky on top, road at the bottom
        for fmt in MaskFormat:
            assert (out / f"00000{index}_10_{fmt.value}.png").is_file()
    assert not list(out.glob("000009*"))
    assert not list(out.glob(".*part"))


def test_predict_refuses_to_overwrite_and_resumes(tmp_path, image_folder, tiny_model_path, capsys):
    out = tmp_path / "masks"
    out.mkdir()
    precious = out / "000000_10_labelIds.png"
    precious.write_bytes(b"keep")
    args = ["predict", str(image_folder / "*.png"), "--out", str(out), "--model", str(tiny_model_path)]
    assert cli_main(args) == 1
    assert precious.read_bytes() == b"keep"
    err = capsys.readouterr().err
    # One message, naming both ways out; nothing else written.
    assert err.count("already have output files") == 1
    assert "--skip-existing" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["000000_10_labelIds.png"]
    assert cli_main(args + ["--skip-existing"]) == 0
    assert "skipping 1 image(s)" in capsys.readouterr().err
    assert precious.read_bytes() == b"keep"
    # Running twice into the same folder: the second run says so once and exits 1.
    assert cli_main(args) == 1
    assert capsys.readouterr().err.count("3 of 3 image(s) already have output files") == 1
    assert cli_main(args + ["--overwrite"]) == 0
    assert read_label_ids(precious).shape == (60, 90)


def test_tensorflow_log_noise_is_hidden_unless_verbose(tmp_path, image_folder, tiny_model_path):
    command = [sys.executable, "-m", "segviewer", "predict", str(image_folder / "000000_10.png"),
               "--out", str(tmp_path / "out"), "--model", str(tiny_model_path)]
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("TF_", "ABSL_", "SEGVIEWER"))}
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert quiet.returncode == 0, quiet.stderr
    loud = subprocess.run(command + ["--overwrite", "--verbose"], capture_output=True, text=True, timeout=120,
                          env=env)
    assert loud.returncode == 0, loud.stderr
    # Which start-up lines TensorFlow prints depends on the CPU and build: check the
    # property for whatever lines this one prints.
    assert not [line for line in quiet.stderr.splitlines() if NOISE.search(line)]
    shown = [line for line in loud.stderr.splitlines() if NOISE.search(line)]
    if not shown:
        pytest.skip("this TensorFlow build printed no start-up noise, even with --verbose")


def test_predict_missing_input_and_bad_model(tmp_path, tiny_model_path, capsys):
    assert cli_main(["predict", str(tmp_path / "nope.png"), "--out", str(tmp_path / "o"),
                     "--model", str(tiny_model_path)]) == 1
    assert "nope.png: file not found" in capsys.readouterr().err
    Image.fromarray(tricolour_image()).save(tmp_path / "a.png")
    (tmp_path / "bad.keras").write_bytes(b"zip? no")
    assert cli_main(["predict", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"),
                     "--model", str(tmp_path / "bad.keras")]) == 2
    assert "bad.keras" in capsys.readouterr().err


def _truth_and_prediction():
    truth = np.full((4, 6), 7, np.uint8)  # label IDs: road everywhere...
    truth[:2] = 23                        # ...sky on top
    truth[0, 0] = 0                       # one void pixel
    predicted = np.zeros((4, 6), np.uint8)  # train IDs: road everywhere
    predicted[0, :3] = 10                   # three sky pixels (one on the void pixel)
    return truth, predicted


def test_evaluate_hand_computed(tmp_path, capsys):
    truth, predicted = _truth_and_prediction()
    gt = tmp_path / "gt"
    pred = tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    Image.fromarray(truth, "L").save(gt / "000000_10.png")
    save_mask(predicted, pred / "000000_10_trainIds.png", MaskFormat.TRAIN_IDS)
    status = cli_main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--json", str(tmp_path / "s.json"),
                       "--csv", str(tmp_path / "c.csv")])
    assert status == 0
    scores = json.loads((tmp_path / "s.json").read_text())
    # sky: truth 11 (12 minus the void pixel), predicted 2 valid, TP 2 -> 2 / 11
    # road: truth 12, predicted 21, TP 12 -> 12 / 21
    assert math.isclose(scores["per_class"]["sky"], 2 / 11)
    assert math.isclose(scores["per_class"]["road"], 12 / 21)
    assert math.isclose(scores["miou"], (2 / 11 + 12 / 21) / 2)
    assert math.isclose(scores["pixel_accuracy"], 14 / 23)
    assert scores["per_class"]["car"] is None and scores["images"] == 1
    assert "mean IoU" in capsys.readouterr().out
    rows = (tmp_path / "c.csv").read_text().splitlines()
    assert rows[0].startswith("truth") and rows[1].startswith("road,12,")


def test_evaluate_label_id_predictions_match_train_id_predictions(tmp_path):
    truth, predicted = _truth_and_prediction()
    for kind in (MaskFormat.LABEL_IDS, MaskFormat.TRAIN_IDS):
        folder = tmp_path / kind.value
        (folder / "gt").mkdir(parents=True)
        (folder / "pred").mkdir()
        Image.fromarray(truth, "L").save(folder / "gt" / "x_gtFine_labelIds.png")
        save_mask(predicted, folder / "pred" / f"x_{kind.value}.png", kind)
        assert cli_main(["evaluate", "--pred", str(folder / "pred"), "--gt", str(folder / "gt"),
                         "--json", str(folder / "s.json")]) == 0
    a = json.loads((tmp_path / "labelIds" / "s.json").read_text())
    b = json.loads((tmp_path / "trainIds" / "s.json").read_text())
    assert a == b


@pytest.mark.parametrize("missing", ["pred", "gt"])
def test_evaluate_missing_folder(tmp_path, missing, capsys):
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    (tmp_path / missing).rmdir()
    assert cli_main(["evaluate", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_merged_labels_are_scored_by_whether_the_prediction_is_one_of_their_classes():
    """camvid32 evaluation: a {truck, bus} pixel predicted "bus" is right, "car" wrong,
    and set pixels never enter the exact-class confusion."""
    from segviewer.core.label_sets import BUS, CAR, ROAD
    from segviewer.core.metrics import confusion_matrix
    from training.evaluate import set_prediction_counts, set_recall

    codes = np.full((4, 10), ROAD, np.uint8)
    codes[:, 6:] = 24                                   # {truck, bus}
    predicted = np.full((4, 10), ROAD, np.uint8)
    predicted[:, 6:9] = BUS
    predicted[:, 9:] = CAR
    rows = set_recall(set_prediction_counts(codes, predicted))
    assert rows == [{"set": "{truck, bus}", "pixels": 16, "in_set": 0.75, "most_predicted": "bus"}]
    matrix = confusion_matrix(codes, predicted, 19)
    assert matrix.sum() == 24 and matrix[ROAD, ROAD] == 24  # only the exact road pixels
