"""Round four (issue 30): evaluation never matches the wrong files, never overwrites a
file it was not told to, refuses outputs that coincide. Each test failed before its fix;
docs/reliability.md lists them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segviewer.cli import main as cli_main
from tests.test_dataset_eval import kitti_folder  # noqa: F401  (fixture)


def _kitti_zip_layout(root: Path) -> Path:
    """The official KITTI zip's layout: training/ and testing/ share file names."""
    for split in ("training", "testing"):
        (root / split / "image_2").mkdir(parents=True)
    (root / "training" / "semantic").mkdir()
    road = np.full((8, 12), 7, np.uint8)  # label ID 7 = road
    Image.fromarray(road, "L").save(root / "training" / "semantic" / "000000_10.png")
    masks = root.parent / "masks"
    for split, label in (("training", 7), ("testing", 26)):  # the test split's mask says "car"
        folder = masks / split / "image_2"
        folder.mkdir(parents=True)
        Image.fromarray(np.full((8, 12), label, np.uint8), "L").save(folder / "000000_10_labelIds.png")
    return masks


def test_evaluate_pred_matches_the_mirrored_folder_not_the_first_file_of_that_name(tmp_path, capsys):
    masks = _kitti_zip_layout(tmp_path / "kitti")
    target = tmp_path / "s.json"
    assert cli_main(["evaluate", "--pred", str(masks), "--gt", str(tmp_path / "kitti" / "training" / "semantic"),
                     "--json", str(target)]) == 0
    import json

    assert json.loads(target.read_text())["miou"] == 1.0  # the training mask, all road


def test_evaluate_pred_refuses_a_name_it_cannot_place(tmp_path, capsys):
    masks = tmp_path / "masks"
    for folder in ("a", "b"):
        (masks / folder).mkdir(parents=True)
        Image.fromarray(np.full((4, 4), 7, np.uint8), "L").save(masks / folder / "x_labelIds.png")
    (tmp_path / "gt").mkdir()
    Image.fromarray(np.full((4, 4), 7, np.uint8), "L").save(tmp_path / "gt" / "x.png")
    assert cli_main(["evaluate", "--pred", str(masks), "--gt", str(tmp_path / "gt")]) == 2
    err = capsys.readouterr().err
    assert "x.png" in err and "more than one prediction" in err and "x_labelIds.png" in err


def test_evaluate_refuses_one_file_for_the_json_and_the_csv(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "g").mkdir()
    same = tmp_path / "same.json"
    assert cli_main(["evaluate", "--pred", str(tmp_path / "p"), "--gt", str(tmp_path / "g"),
                     "--json", str(same), "--csv", str(same)]) == 2
    assert "same file" in capsys.readouterr().err and not same.exists()


def test_evaluate_model_with_a_missing_gt_folder_is_an_argument_error(tmp_path, capsys, tiny_model_path):
    (tmp_path / "images").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    assert cli_main(["evaluate", "--model", str(tiny_model_path), "--images", str(tmp_path / "images"),
                     "--gt", str(tmp_path / "nonexistent")]) == 2
    assert "no such folder" in capsys.readouterr().err


def _evaluated_panel(qtbot, window, folder: Path):
    """Evaluate Folder on ``folder`` in the real window; its Dataset panel once filled."""
    from tests.gui_helpers import WAIT_MS

    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS):
        assert window.evaluation.evaluate(folder)
    qtbot.waitUntil(lambda: window.evaluation.panel is not None and window.evaluation.panel.result is not None,
                    timeout=WAIT_MS)
    return window.evaluation.panel


@pytest.mark.usefixtures("private_settings")
def test_save_results_asks_before_replacing_a_csv_and_refuses_a_json_named_like_it(
        qtbot, make_window, kitti_folder, tmp_path):  # noqa: F811

    panel = _evaluated_panel(qtbot, make_window(), kitti_folder / "image_2")
    mine = tmp_path / "myresults.csv"
    mine.write_text("my own numbers\n")
    asked = []
    panel.confirm_replace = lambda paths: asked.append(paths) or False
    assert panel.save(tmp_path / "myresults.json") == []
    assert asked == [[mine]] and mine.read_text() == "my own numbers\n"
    assert not (tmp_path / "myresults.json").exists() and "Not saved" in panel.heat_label.text()
    panel.confirm_replace = lambda paths: True
    assert [p.name for p in panel.save(tmp_path / "myresults.json")] == ["myresults.json", "myresults.csv"]
    clash = tmp_path / "clash.csv"
    assert panel.save(clash) == [] and not clash.exists()
    assert "same file" in panel.summary.text()


def _truth_case(root: Path, kind: str) -> Path:
    """A KITTI folder whose one truth file is in the wrong encoding."""
    (root / "image_2").mkdir(parents=True)
    (root / "semantic").mkdir()
    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(root / "image_2" / "000000_10.png")
    truth = root / "semantic" / "000000_10.png"
    if kind == "palette":
        mask = Image.fromarray(np.full((8, 12), 7, np.uint8), "P")
        mask.putpalette([128, 64, 128] * 256)  # colours, as a colour mask's palette holds
        mask.save(truth)
    elif kind == "train_ids":
        values = np.zeros((8, 12), np.uint8)  # road as a train ID...
        values[:2] = 255  # ...and void as train IDs mark it
        Image.fromarray(values, "L").save(truth)
    else:
        Image.fromarray(np.full((8, 12), 0, np.uint8), "L").save(truth)  # label ID 0: all void
    return root


@pytest.mark.parametrize("kind, said", [("palette", "is a colour (palette) mask; label IDs expected"),
                                        ("train_ids", "holds train IDs (0-18, 255 = void); label IDs expected"),
                                        ("void", "holds no labelled pixel (all void)")])
def test_truth_in_the_wrong_encoding_is_named_and_never_scored(tmp_path, tiny_model_path, capsys, kind, said):
    import json

    root = _truth_case(tmp_path / "kitti", kind)
    target = tmp_path / "s.json"
    assert cli_main(["evaluate", "--model", str(tiny_model_path), "--images", str(root / "image_2"),
                     "--json", str(target), "--backend", "tf"]) == 0
    captured = capsys.readouterr()
    assert "1 image(s), 0 with ground truth" in captured.out
    assert said in captured.err and "000000_10.png" in captured.err
    assert not json.loads(target.read_text())["spaces"]  # no score computed from it


@pytest.mark.parametrize("arguments, said", [
    (["--data", "/nonexistent"], "--data /nonexistent: does not exist"),
    (["--repeat", "kiti=4"], "--repeat takes LAYOUT=N"),
    (["--init-from", "README.md"], "not a Keras model"),
    (["--resume"], "no checkpoint"),
    (["--distill", "missing.npz"], "--distill missing.npz: no such file"),
    (["--teacher-skip", "fense"], "--teacher-skip: no class named 'fense'"),
])
def test_training_arguments_are_checked_before_any_data_loads(tmp_path, capsys, arguments, said):
    from training.train import main as train_main

    data = tmp_path / "data"
    data.mkdir()
    run = tmp_path / "run"
    arguments = [a if a != "README.md" else str(Path(__file__).parents[1] / "README.md") for a in arguments]
    if "--data" not in arguments:
        arguments += ["--data", str(data)]
    assert train_main([*arguments, "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert said in err and not run.exists()


def test_evaluation_tools_name_a_broken_model_in_one_line(tmp_path, capsys):
    from training.evaluate import main as evaluate_main
    from training.model_card import main as card_main

    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    kitti = tmp_path / "kitti"
    (kitti / "training" / "image_2").mkdir(parents=True)
    (kitti / "training" / "semantic").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(kitti / "training" / "image_2" / "000040_10.png")
    Image.fromarray(np.full((8, 8), 7, np.uint8), "L").save(kitti / "training" / "semantic" / "000040_10.png")
    assert evaluate_main(["--data", str(kitti), "--layout", "kitti", "--model", str(broken)]) == 2
    assert card_main(["--model", str(broken), "--validation-only"]) == 2
    err = capsys.readouterr().err
    assert err.count("not a Keras model") == 2


@pytest.mark.slow
def test_ctrl_c_in_evaluate_model_keeps_what_was_scored(tmp_path, tiny_model_path):
    import json
    import signal
    import subprocess
    import sys
    import threading
    import time

    from tests.conftest import PROJECT_ROOT, tricolour_image
    from tests.test_reliability_two import _sigint_as_in_a_terminal

    folder = tmp_path / "image_2"
    folder.mkdir()
    (tmp_path / "semantic").mkdir()
    big = np.tile(tricolour_image(60, 90), (20, 20, 1))
    for index in range(200):
        Image.fromarray(big).save(folder / f"{index:06d}_10.png", compress_level=0)
        Image.fromarray(np.full(big.shape[:2], 7, np.uint8), "L").save(tmp_path / "semantic" / f"{index:06d}_10.png")
    target = tmp_path / "s.json"
    process = subprocess.Popen([sys.executable, "-m", "segviewer", "evaluate", "--model", str(tiny_model_path),
                                "--images", str(folder), "--json", str(target), "--backend", "tf"],
                               cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_sigint_as_in_a_terminal)
    err_parts: list[str] = []
    reader = threading.Thread(target=lambda: err_parts.extend(iter(lambda: process.stderr.read(1), "")))
    reader.start()
    deadline = time.time() + 60
    while time.time() < deadline and "".join(err_parts).count("/200") < 2:  # progress beyond the first image
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out = process.stdout.read()
    process.wait(timeout=120)
    reader.join(timeout=10)
    err = "".join(err_parts)
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "stopped by Ctrl-C" in err
    scored = json.loads(target.read_text())["images"]
    assert 0 < len(scored) < 200, out[-500:]


def test_a_long_error_is_cut_at_a_word_and_marked():
    from segviewer.core.errors import first_line

    text = first_line(ValueError("the converter could not lower this operation because " * 5), 60)
    assert len(text) <= 60 and text.endswith("…") and not text[:-1].endswith(" ")
    assert text[:-1].split()[-1] in "the converter could not lower this operation because".split()
    assert first_line(ValueError("short"), 60) == "short"


def test_contours_are_solid_at_the_default_opacity_and_still_fade():
    from segviewer.core.classes import load_class_table
    from segviewer.core.overlay import OverlayMode, OverlayRenderer

    renderer = OverlayRenderer(load_class_table())
    renderer.set_mode(OverlayMode.CONTOUR)
    assert renderer.lut[0, 3] == 255  # at the default 50 %
    renderer.set_opacity(0.2)
    assert renderer.lut[0, 3] == round(0.4 * 255)
    renderer.set_mode(OverlayMode.FILL)
    assert renderer.lut[0, 3] == round(0.2 * 255)


@pytest.mark.usefixtures("private_settings")
def test_open_results_refuses_hostile_files_in_one_line_and_keeps_the_panel(
        qtbot, make_window, kitti_folder, tmp_path, tiny_model_path):  # noqa: F811
    import json

    from tests.gui_helpers import WAIT_MS

    good = tmp_path / "good.json"
    assert cli_main(["evaluate", "--model", str(tiny_model_path), "--model", str(tiny_model_path), "--images",
                     str(kitti_folder / "image_2"), "--json", str(good), "--backend", "tf"]) == 0
    document = json.loads(good.read_text())
    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    panel = window.evaluation.ensure_panel()
    assert panel.open(good)
    shown = panel.result

    def variant(change) -> dict:
        copy = json.loads(json.dumps(document))
        change(copy)
        return copy

    hostile = {
        "missing_b": variant(lambda d: d["images"][0].pop("B")),
        "models_list": variant(lambda d: d.update(models=["a", "b"])),
        "huge": variant(lambda d: d["images"][0]["A"]["confusion"][0].__setitem__(0, 10 ** 400)),
        "shape": variant(lambda d: d["images"][0]["A"]["confusion"].pop()),
        "mars": variant(lambda d: d["images"][0].update(class_space="mars")),
    }
    for name, content in hostile.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(content))
        assert not panel.open(path), name
        assert "not a saved evaluation" in panel.summary.text() and panel.result is shown, name
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert not panel.open(deep) and panel.result is shown


def _mixed_datasets(root: Path) -> int:
    """KITTI, CamVid (with its 32-class labels) and Cityscapes in their own layouts under
    ``root``, one photo each with its truth beside it; returns the number of photos."""
    from tests.conftest import tricolour_image

    kitti = root / "kitti" / "training"
    for sub in ("image_2", "semantic"):
        (kitti / sub).mkdir(parents=True)
    Image.fromarray(tricolour_image(seed=1)).save(kitti / "image_2" / "000000_10.png")
    Image.fromarray(np.full((60, 90), 7, np.uint8), "L").save(kitti / "semantic" / "000000_10.png")
    camvid = root / "camvid"
    for sub in ("train", "trainannot", "trainannot32"):
        (camvid / sub).mkdir(parents=True)
    Image.fromarray(tricolour_image(seed=2)).save(camvid / "train" / "0001TP_006690.png")
    Image.fromarray(np.full((60, 90), 3, np.uint8), "L").save(camvid / "trainannot" / "0001TP_006690.png")
    Image.fromarray(np.full((60, 90), 3, np.uint8), "L").save(camvid / "trainannot32" / "0001TP_006690.png")
    city = root / "cityscapes"
    (city / "leftImg8bit" / "val" / "aachen").mkdir(parents=True)
    (city / "gtFine" / "val" / "aachen").mkdir(parents=True)
    frames = city / "leftImg8bit" / "val" / "aachen"
    Image.fromarray(tricolour_image(seed=3)).save(frames / "aachen_000000_000019_leftImg8bit.png")
    Image.fromarray(np.full((60, 90), 7, np.uint8), "L").save(
        city / "gtFine" / "val" / "aachen" / "aachen_000000_000019_gtFine_labelIds.png")
    return 3


def test_label_pngs_in_dataset_truth_folders_are_never_inputs(tmp_path, tiny_model_path, capsys):
    from segviewer.core.file_search import find_images

    photos = _mixed_datasets(tmp_path / "data")
    search = find_images(tmp_path / "data", recursive=True)
    assert len(search.files) == photos and search.truth_files == 4
    assert cli_main(["predict", str(tmp_path / "data"), "--recursive", "--out", str(tmp_path / "out"),
                     "--model", str(tiny_model_path)]) == 0
    assert "skipping 4 ground-truth file(s)" in capsys.readouterr().err
    assert len(list((tmp_path / "out").rglob("*_labelIds.png"))) == photos
    # A user's own folder that is merely called "semantic" is still searched.
    plain = tmp_path / "mine" / "semantic"
    plain.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(plain / "photo.png")
    assert len(find_images(tmp_path / "mine", recursive=True).files) == 1


def test_evaluate_model_scores_photos_only_in_every_class_space(tmp_path, tiny_model_path, capsys):
    import json

    photos = _mixed_datasets(tmp_path / "data")
    target = tmp_path / "scores.json"
    assert cli_main(["evaluate", "--model", str(tiny_model_path), "--images", str(tmp_path / "data"),
                     "--json", str(target)]) == 0
    document = json.loads(target.read_text())
    assert len(document["images"]) == photos
    assert sorted(document["spaces"]) == ["camvid", "cityscapes", "kitti"]


def test_main_class_space_never_depends_on_set_order():
    from segviewer.core.dataset_eval import DatasetScores, ImageScore

    confusion = [np.eye(19, dtype=np.int64)]
    result = DatasetScores(["m"], [ImageScore(Path(f"{name}.png"), None, name, confusion=confusion)
                                   for name in ("kitti", "cityscapes", "camvid")])
    assert result.main_space() == "camvid"  # a three-way tie: the first name, whatever PYTHONHASHSEED is
    result.images.append(ImageScore(Path("k2.png"), None, "kitti", confusion=confusion))
    assert result.main_space() == "kitti"


@pytest.mark.usefixtures("private_settings")
def test_evaluate_folder_lists_every_class_space_and_shows_the_one_chosen(qtbot, make_window, tmp_path):

    photos = _mixed_datasets(tmp_path / "data")
    panel = _evaluated_panel(qtbot, make_window(), tmp_path / "data")
    assert len(panel.result.images) == photos
    choices = [panel.space_combo.itemText(i) for i in range(panel.space_combo.count())]
    assert choices == ["camvid (1 image(s))", "cityscapes (1 image(s))", "kitti (1 image(s))"]
    assert not panel.space_row.isHidden() and panel.layout_name == "camvid"
    panel.space_combo.setCurrentIndex(2)
    assert panel.layout_name == "kitti" and "kitti image(s)" in panel.summary.text()
    assert panel.names[0] == "road"  # the 19 Cityscapes classes, not CamVid's 11


def _disk_fills_after(monkeypatch, files: int) -> None:
    """Every write after the first ``files`` fails as on a full disk."""
    import errno
    import os

    from segviewer.core import atomic

    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > files:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)


def test_predict_stops_at_the_first_full_disk_error_with_one_message(tmp_path, twinned_model, monkeypatch, capsys):
    from tests.conftest import tricolour_image

    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(12):
        Image.fromarray(tricolour_image(seed=index)).save(folder / f"{index:02d}.png")
    _disk_fills_after(monkeypatch, 3)
    out = tmp_path / "out"
    assert cli_main(["predict", str(folder), "--out", str(out), "--model", str(twinned_model)]) == 1
    err = capsys.readouterr().err
    assert err.count("disk full") == 1 and "stopped at the first full-disk error; 3 complete file(s)" in err
    written = sorted(p.name for p in out.iterdir())
    assert written == ["00_labelIds.png", "01_labelIds.png", "02_labelIds.png"]  # no partial or temporary file


def test_save_all_stops_at_the_first_full_disk_error(tmp_path, twinned_model, monkeypatch):
    from segviewer.core.batch import save_all_job
    from segviewer.core.inference import Segmenter
    from segviewer.core.mask_io import MaskFormat
    from segviewer.core.overlay import OverlayRenderer
    from tests.conftest import tricolour_image

    folder, out = tmp_path / "images", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    planned = []
    for index in range(10):
        Image.fromarray(tricolour_image(seed=index)).save(folder / f"{index:02d}.png")
        planned.append((folder / f"{index:02d}.png", [(MaskFormat.LABEL_IDS, out / f"{index:02d}_labelIds.png")]))
    _disk_fills_after(monkeypatch, 2)
    outcome = save_all_job(planned, OverlayRenderer(), overwrite=False)(
        Segmenter.load(twinned_model, backend="litert"), lambda *_: None, lambda: False)
    assert outcome.disk_full and outcome.stopped and len(outcome.errors) == 1
    assert (outcome.images_saved, outcome.files_written) == (2, 2)
    assert outcome.describe().startswith("Save All stopped: disk full: 2 of 10 image(s) saved")
    assert sorted(p.name for p in out.iterdir()) == ["00_labelIds.png", "01_labelIds.png"]


def test_evaluate_model_names_a_dangling_link_and_fails(kitti_folder, tiny_model_path, capsys):  # noqa: F811
    (kitti_folder / "image_2" / "gone.png").symlink_to(kitti_folder / "image_2" / "missing.png")
    assert cli_main(["evaluate", "--model", str(tiny_model_path), "--images", str(kitti_folder / "image_2")]) == 1
    assert "gone.png: broken symbolic link" in capsys.readouterr().err


def test_skip_existing_leaves_files_another_run_wrote_meanwhile_and_never_counts_them(
        tmp_path, twinned_model, capsys):
    from segviewer.commands.predict_images import segment_all
    from segviewer.commands.predict_jobs import collect_jobs
    from segviewer.core.inference import Segmenter
    from segviewer.core.mask_io import MaskFormat
    from tests.conftest import tricolour_image

    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(4):
        Image.fromarray(tricolour_image(seed=index)).save(folder / f"{index:02d}.png")
    jobs, _ = collect_jobs([str(folder)], tmp_path / "out", recursive=False)
    # The plan was made before another run wrote two of the files.
    (tmp_path / "out").mkdir()
    for index in (1, 2):
        (tmp_path / "out" / f"{index:02d}_labelIds.png").write_bytes(b"the other run's file")
    summary = segment_all(Segmenter.load(twinned_model, backend="litert"), jobs, [MaskFormat.LABEL_IDS], 0.5,
                          overwrite=False, skip_existing=True)
    assert (summary.written, summary.left_alone, summary.failures) == (2, 2, 0)
    assert (tmp_path / "out" / "01_labelIds.png").read_bytes() == b"the other run's file"


def test_save_dialog_offers_a_writable_folder_when_the_images_folder_is_read_only(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QStandardPaths

    from segviewer.core.mask_io import MaskFormat
    from segviewer.gui.save_dialog import SaveDialog

    monkeypatch.setattr(QStandardPaths, "writableLocation", lambda _kind: str(tmp_path / "Pictures"))
    dialog = SaveDialog(None, [MaskFormat.LABEL_IDS], None, "000000_10",
                        beside_problem="/usr/share/segviewer/samples: cannot write there (permission denied)")
    qtbot.addWidget(dialog)
    assert not dialog.beside.isEnabled() and dialog.chosen.isChecked()
    assert dialog.folder() == tmp_path / "Pictures" / "segviewer masks"
    assert "in " + str(tmp_path / "Pictures" / "segviewer masks") in dialog.summary.text()
