"""Drive the real window (offscreen) the way a user would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox, QTextBrowser  # noqa: E402

from segviewer.core.mask_io import MaskFormat, read_label_ids, read_train_ids  # noqa: E402
from segviewer.core.overlay import OverlayMode  # noqa: E402
from tests.gui_helpers import WAIT_MS, displayed, open_and_wait  # noqa: E402

pytestmark = pytest.mark.usefixtures("private_settings")


def test_open_image_shows_prediction(qtbot, make_window, image_folder):
    window = make_window()
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    ids = window.current.prediction.train_ids
    assert ids.shape == (60, 90)
    assert ids[5, 5] == 10 and ids[30, 5] == 8 and ids[55, 5] == 0  # sky, vegetation, road
    assert window.model_label.text() == "tiny · TensorFlow on CPU"  # file name and device
    assert "ms" in window.time_label.text()
    assert window.legend.item_for(10).text().startswith("sky")


def test_toggle_changes_pixels_without_rerunning_model(qtbot, make_window, image_folder):
    window = make_window()
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    calls = window.worker.calls
    before = displayed(window)
    window.legend.item_for(10).setCheckState(Qt.CheckState.Unchecked)
    after = displayed(window)
    original = np.asarray(Image.open(image_folder / "000000_10.png"))
    assert np.array_equal(after[:20], original[:20])          # sky hidden: plain image
    assert not np.array_equal(before[:20], after[:20])
    assert np.array_equal(after[40:], before[40:])              # road untouched
    window.renderer.solo(0)
    assert window.renderer.visible_ids() == {0}
    window.renderer.hide_all()
    assert np.array_equal(displayed(window), original)
    window.renderer.show_all()
    window.controls.opacity_slider.setValue(0)
    assert np.array_equal(displayed(window), original)
    window.controls.opacity_slider.setValue(100)
    assert displayed(window)[55, 5].tolist() == [128, 64, 128]  # pure road colour
    window.renderer.set_mode(OverlayMode.CONTOUR)
    window.renderer.set_mode(OverlayMode.IMAGE_ONLY)
    assert np.array_equal(displayed(window), original)
    assert window.worker.calls == calls


def test_next_previous_and_cache(qtbot, make_window, image_folder):
    window = make_window()
    open_and_wait(qtbot, window, image_folder)
    assert window.current.path.name == "000000_10.png" and len(window.files) == 3
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        window.commands.next.trigger()
    assert window.current.path.name == "000001_10.png"
    calls = window.worker.calls
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        window.commands.previous.trigger()
    assert window.current.path.name == "000000_10.png"
    assert window.worker.calls == calls  # from the cache
    assert "cached" in window.time_label.text()


def test_save_all_four_formats_and_read_back(qtbot, make_window, image_folder, tmp_path):
    window = make_window()
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    out = tmp_path / "out"
    out.mkdir()
    written = window.saving.save_current(list(MaskFormat), out)
    assert sorted(p.name for p in written) == sorted(
        f"000000_10_{f.value}.png" for f in MaskFormat)
    ids = window.current.prediction.train_ids
    assert np.array_equal(read_label_ids(out / "000000_10_labelIds.png"), ids)
    assert np.array_equal(read_train_ids(out / "000000_10_trainIds.png"), ids)
    assert np.array_equal(np.asarray(Image.open(out / "000000_10_overlay.png")), displayed(window))


def test_overwrite_asks_first(qtbot, make_window, image_folder, tmp_path, monkeypatch):
    window = make_window()
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    target = tmp_path / "000000_10_color.png"
    target.write_bytes(b"keep me")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    assert window.saving.save_current([MaskFormat.COLOR], tmp_path) == []
    assert target.read_bytes() == b"keep me"
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert window.saving.save_current([MaskFormat.COLOR], tmp_path) == [target]
    assert target.read_bytes() != b"keep me"


def test_corrupt_image_gives_message_and_app_stays_usable(qtbot, make_window, image_folder):
    window = make_window()
    bad = image_folder / "000001_10.png"
    bad.write_bytes(b"not a png at all")
    with qtbot.waitSignal(window.sig_error, timeout=WAIT_MS) as blocker:
        window.open_path(bad)
    assert "000001_10.png" in blocker.args[0] and "not an image" in blocker.args[0]
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        window.commands.next.trigger()
    assert window.current.path.name == "000002_10.png"


def test_missing_model_gives_message_then_another_model_loads(qtbot, make_window, image_folder,
                                                               tiny_model_path, tmp_path):
    window = make_window(model=tmp_path / "missing.keras", wait_model=False)
    with qtbot.waitSignal(window.worker.signals.sig_model_failed, timeout=WAIT_MS) as blocker:
        window.start()
    assert "missing.keras" in blocker.args[0] and "not found" in blocker.args[0]
    assert window.model_label.text() == "No model"
    open_and_wait(qtbot, window, image_folder / "000000_10.png")  # the image alone is shown
    assert window.current.prediction is None
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        window.load_model(tiny_model_path)
    assert window.current.prediction is not None


def test_visibility_and_opacity_persist_in_settings(qtbot, make_window, image_folder):
    window = make_window()
    window.legend.item_for(13).setCheckState(Qt.CheckState.Unchecked)
    window.controls.opacity_slider.setValue(70)
    window.close()
    again = make_window(wait_model=False)
    assert 13 not in again.renderer.visible_ids()
    assert again.controls.opacity_slider.value() == 70


def test_hover_readout(qtbot, make_window, image_folder):
    window = make_window()
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    window._on_hover(5, 55)
    assert "road (train ID 0)" in window.hover_label.text() and "x 5, y 55" in window.hover_label.text()


@pytest.fixture
def kitti_like(tmp_path) -> Path:
    """image_2/ + semantic/ with ground truth whose bottom-right corner is deliberately
    wrong (car where the tiny model sees road) and top row void."""
    from tests.conftest import tricolour_image

    (tmp_path / "image_2").mkdir()
    (tmp_path / "semantic").mkdir()
    Image.fromarray(tricolour_image()).save(tmp_path / "image_2" / "000011_10.png")
    labels = np.full((60, 90), 7, np.uint8)  # road
    labels[:20] = 23                         # sky
    labels[20:40] = 21                       # vegetation
    labels[50:, 60:] = 26                    # car: the model will say road -> wrong
    labels[0, :] = 0                         # unlabeled -> ignored
    Image.fromarray(labels, "L").save(tmp_path / "semantic" / "000011_10.png")
    return tmp_path / "image_2" / "000011_10.png"


def test_ground_truth_views_error_map_and_metrics(qtbot, make_window, kitti_like):
    from segviewer.core.comparison import DisplayMode

    window = make_window()
    open_and_wait(qtbot, window, kitti_like)
    assert window.current.truth is not None and window.controls.display_combo.isEnabled()
    # Per-image metrics. Road: rows 40-59 predicted (1,800 px); truth road is those minus
    # the 10x30 car block (1,500 px), all predicted right -> 1500 / 1800. Car: never predicted.
    scores = window.metrics.scores
    assert scores.per_class_iou[0] == pytest.approx(1500 / 1800)
    assert scores.per_class_iou[13] == 0.0
    assert "This image only" in window.metrics.summary.text()
    assert window.metrics.table.item(11, 1).text() == "—"  # person: in neither
    window.controls.opacity_slider.setValue(100)
    window.set_display(DisplayMode.ERRORS)
    shown = displayed(window)
    assert shown[30, 5].tolist() == [0, 200, 80]    # correct
    assert shown[55, 70].tolist() == [230, 30, 30]  # wrong (car predicted as road)
    assert shown[0, 5].tolist() == [60, 60, 60]     # ignored
    window.set_display(DisplayMode.SIDE_BY_SIDE)
    assert displayed(window).shape[:2] == (60, 90 * 2 + 8)  # 3:2 frame: side by side
    window._on_hover(90 + 8 + 70, 55)
    assert "road" in window.hover_label.text() and "truth: car" in window.hover_label.text()
    window.set_display(DisplayMode.TRUTH)
    assert displayed(window)[55, 70].tolist() == [0, 0, 142]  # car colour from the truth


def test_ground_truth_loaded_by_hand_and_size_mismatch(qtbot, make_window, image_folder, tmp_path):
    window = make_window()
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    assert window.current.truth is None and not window.controls.display_combo.isEnabled()
    wrong_size = tmp_path / "small.png"
    Image.fromarray(np.full((10, 10), 7, np.uint8), "L").save(wrong_size)
    assert not window.load_ground_truth(wrong_size)
    assert "small.png" in window.last_error and "not used" in window.last_error
    good = tmp_path / "truth.png"
    Image.fromarray(np.full((60, 90), 7, np.uint8), "L").save(good)
    assert window.load_ground_truth(good)
    assert window.controls.display_combo.isEnabled() and window.metrics.scores is not None


def test_unexpected_inference_error_is_reported_not_fatal(qtbot, make_window, image_folder, monkeypatch):
    window = make_window()
    segmenter = window.worker._segmenter

    def explode(_image):
        raise MemoryError("simulated: not enough memory")

    monkeypatch.setattr(segmenter, "predict", explode)
    with qtbot.waitSignal(window.sig_error, timeout=WAIT_MS) as blocker:
        window.open_path(image_folder / "000000_10.png")
    assert "000000_10.png" in blocker.args[0] and "not enough memory" in blocker.args[0]
    monkeypatch.undo()
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        window.commands.next.trigger()
    assert window.current.prediction is not None


def test_save_all_in_folder(qtbot, make_window, image_folder, tmp_path):
    window = make_window()
    open_and_wait(qtbot, window, image_folder)
    out = tmp_path / "all"
    out.mkdir()
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS) as blocker:
        window.saving.save_all([MaskFormat.LABEL_IDS, MaskFormat.OVERLAY], out)
    outcome = blocker.args[0]
    assert (outcome.files_written, outcome.images_saved, outcome.errors) == (6, 3, [])
    for index in range(3):
        labels = read_label_ids(out / f"00000{index}_10_labelIds.png")
        assert labels[5, 5] == 10 and labels[55, 5] == 0
        assert (out / f"00000{index}_10_overlay.png").is_file()


def test_side_by_side_of_a_wide_frame_stacks_and_hover_maps_back(qtbot, make_window, tmp_path):
    from segviewer.core.comparison import DisplayMode
    from tests.conftest import tricolour_image

    (tmp_path / "image_2").mkdir()
    (tmp_path / "semantic").mkdir()
    Image.fromarray(tricolour_image(30, 120)).save(tmp_path / "image_2" / "w.png")
    Image.fromarray(np.full((30, 120), 26, np.uint8), "L").save(tmp_path / "semantic" / "w.png")  # all car
    window = make_window()
    open_and_wait(qtbot, window, tmp_path / "image_2" / "w.png")
    window.set_display(DisplayMode.SIDE_BY_SIDE)
    assert displayed(window).shape[:2] == (30 * 2 + 8, 120)
    window._on_hover(3, 30 + 8 + 25)  # lower copy, row 25: road predicted, car in the truth
    assert "x 3, y 25: road" in window.hover_label.text() and "truth: car" in window.hover_label.text()


def _model_with_card(tiny_model_path: Path, folder: Path) -> Path:
    import json
    import shutil

    model = folder / "carded.keras"
    shutil.copy(tiny_model_path, model)
    per_class = {name: None for name in ("road", "sidewalk", "building", "wall", "fence", "pole",
                                         "traffic light", "traffic sign", "vegetation", "terrain", "sky",
                                         "person", "rider", "car", "truck", "bus", "train", "motorcycle",
                                         "bicycle")}
    per_class.update({"road": 0.91, "truck": 0.012})
    card = {"name": "carded", "training_data": {"kitti": {"licence": "CC BY-NC-SA 3.0"}},
            "validation": {"kitti": {"miou": 0.5, "per_class": per_class}}}
    model.with_suffix(".json").write_text(json.dumps(card))
    return model


def test_legend_shows_what_the_model_has_not_learned(qtbot, make_window, tiny_model_path, tmp_path):
    window = make_window(_model_with_card(tiny_model_path, tmp_path))
    truck, road, bus = (window.legend.item_for(i) for i in (14, 0, 15))
    assert "(not learned)" in truck.text() and "1.2 %" in truck.toolTip()
    assert "(not learned)" not in road.text() and "91.0 %" in road.toolTip()
    assert "the model card gives no figure" in bus.toolTip() and "(not learned)" not in bus.text()
    assert "KITTI val" in truck.toolTip() and "Help ▸ About" in truck.toolTip()
    window.show_about()
    text = window.about_dialog.findChild(QTextBrowser).toPlainText()
    assert "CC BY-NC-SA 3.0" in text and "Training data" in text and "truck" in text
    window.about_dialog.close()


def test_model_without_card_marks_nothing(qtbot, make_window):
    window = make_window()
    assert not any("(not learned)" in window.legend.item_for(i).text() for i in range(19))


def test_empty_canvas_says_what_to_do(qtbot, make_window):
    window = make_window()
    assert "Open an image" in window.view.message() and "drop" in window.view.message()


def test_next_image_never_shows_the_previous_mask(qtbot, make_window, image_folder, monkeypatch):
    """While the next image is segmented, the canvas shows that image with no overlay and
    the legend shows no figures: never the previous image's mask."""
    import threading

    window = make_window()
    window.controls.opacity_slider.setValue(100)
    open_and_wait(qtbot, window, image_folder)
    assert window.legend.item_for(0).text().endswith("%")
    release = threading.Event()
    original = window.worker._segmenter.predict

    def held_predict(image):  # runs on the worker thread: the network "takes" until released
        release.wait(30)
        return original(image)

    monkeypatch.setattr(window.worker._segmenter, "predict", held_predict)
    try:
        window.commands.next.trigger()
        qtbot.waitUntil(lambda: window.current is not None and window.current.pending, timeout=WAIT_MS)
        assert window.current.path.name == "000001_10.png"
        assert window.time_label.text() == "segmenting…"
        assert not any(window.legend.item_for(i).text().endswith("%") for i in range(19))
        assert (displayed(window) == window.current.image).all()  # the new image, no overlay
    finally:
        release.set()
    qtbot.waitUntil(lambda: window.current.prediction is not None, timeout=WAIT_MS)
    assert window.legend.item_for(0).text().endswith("%")


def test_browsing_past_bad_files_shows_errors_in_the_canvas(qtbot, make_window, image_folder):
    window = make_window()
    window.interactive = True  # as a user runs it: a modal box here would be the bug
    (image_folder / "000001_10.png").write_bytes(b"broken")
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    with qtbot.waitSignal(window.sig_error, timeout=WAIT_MS):
        window.commands.next.trigger()
    assert not window.findChildren(QMessageBox)
    assert "000001_10.png" in window.view.message()
    assert "Segmenting" not in window.hover_label.text()
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        window.commands.next.trigger()  # navigation still works
    assert window.current.path.name == "000002_10.png" and window.view.message() == ""


def test_failed_model_load_keeps_the_working_model(qtbot, make_window, image_folder, tmp_path):
    window = make_window()
    good = window.model_info.path
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    with qtbot.waitSignal(window.worker.signals.sig_model_failed, timeout=WAIT_MS):
        window.load_model(broken)
    assert window.model_path == good and window.model_info.path == good
    assert window.model_label.text() != "No model"
    assert "broken.keras" in window.last_error
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    assert window.current.prediction is not None and window.current.model_path == good
    assert window._cache_key(window.current.path)[2] == str(good)


def test_save_all_into_a_new_folder_creates_it(qtbot, make_window, image_folder, tmp_path):
    window = make_window()
    open_and_wait(qtbot, window, image_folder)
    out = tmp_path / "new" / "masks"
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS) as blocker:
        window.saving.save_all([MaskFormat.LABEL_IDS], out)
    assert (blocker.args[0].files_written, blocker.args[0].errors) == (3, [])
    assert sorted(p.name for p in out.iterdir())[0] == "000000_10_labelIds.png"


def test_save_all_refuses_an_uncreatable_folder_before_starting(qtbot, make_window, image_folder, tmp_path):
    window = make_window()
    open_and_wait(qtbot, window, image_folder)
    blocker_file = tmp_path / "file"
    blocker_file.write_text("x")
    calls = window.worker.calls
    window.saving.save_all([MaskFormat.LABEL_IDS], blocker_file / "masks")
    assert "cannot create the folder" in window.last_error and window.worker.calls == calls


def test_save_dialog_says_how_many_images_and_where(qtbot, tmp_path):
    from segviewer.gui.save_dialog import SaveDialog

    dialog = SaveDialog(None, [MaskFormat.LABEL_IDS, MaskFormat.COLOR], tmp_path / "out", "000000_10", 101)
    qtbot.addWidget(dialog)
    assert "101 image(s): 202 file(s) in" in dialog.summary.text() and "(created)" in dialog.summary.text()
    dialog.beside.setChecked(True)
    assert "next to each image" in dialog.summary.text()


def test_failure_list_says_how_many_were_left_out(qtbot, make_window):
    window = make_window()
    from segviewer.core.batch import BatchOutcome

    window.saving.on_batch_done(BatchOutcome(303, errors=[f"error {i}" for i in range(303)]))
    assert window.last_error.endswith("… and 283 more")


def test_side_by_side_is_labelled_and_saved_overlay_is_the_prediction(qtbot, make_window, kitti_like,
                                                                      tmp_path):
    from segviewer.core.comparison import DisplayMode

    window = make_window()
    open_and_wait(qtbot, window, kitti_like)
    window.set_display(DisplayMode.PREDICTION)
    prediction_view = displayed(window).copy()
    window.set_display(DisplayMode.SIDE_BY_SIDE)
    side = displayed(window)
    assert not (side[:prediction_view.shape[0], :prediction_view.shape[1]] == prediction_view).all()  # captioned
    window.set_display(DisplayMode.ERRORS)
    written = window.saving.save_current([MaskFormat.OVERLAY], tmp_path, overwrite=True)
    saved = np.asarray(Image.open(written[0]).convert("RGB"))
    assert saved.shape == prediction_view.shape and (saved == prediction_view).all()


def test_menu_actions_and_legend_reflect_one_renderer(qtbot, make_window, image_folder):
    """Visibility and mode have one owner: an action, the legend and the combo all show it."""
    from segviewer.core.overlay import OverlayMode

    window = make_window()
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    window.commands.hide_all.trigger()
    assert window.legend.item_for(10).checkState() == Qt.CheckState.Unchecked
    window.legend.item_for(10).setCheckState(Qt.CheckState.Checked)
    assert window.renderer.visible_ids() == {10}
    window.legend.list.setCurrentRow(0)
    assert window.legend.selected_train_id() == 0
    window.commands.solo.trigger()
    assert window.renderer.visible_ids() == {0}
    window.commands.modes.actions()[1].trigger()  # Contours
    assert window.renderer.mode is OverlayMode.CONTOUR
    assert window.controls.mode_combo.currentData() is OverlayMode.CONTOUR
    window.controls.mode_combo.setCurrentIndex(0)
    assert window.commands.modes.actions()[0].isChecked()


def test_action_enable_rules(qtbot, make_window):
    from segviewer.gui.actions import ActionState

    commands = make_window().commands
    commands.update(ActionState(has_image=False, has_prediction=False, has_model=False, files=0, index=-1))
    assert not any(a.isEnabled() for a in (commands.save, commands.save_all, commands.open_truth,
                                            commands.next, commands.previous))
    commands.update(ActionState(has_image=True, has_prediction=True, has_model=True, files=3, index=2))
    assert commands.save.isEnabled() and commands.save_all.isEnabled() and commands.open_truth.isEnabled()
    assert commands.previous.isEnabled() and not commands.next.isEnabled()
    commands.update(ActionState(has_image=True, has_prediction=False, has_model=False, files=3, index=0))
    assert not commands.save.isEnabled() and not commands.save_all.isEnabled() and commands.next.isEnabled()


def test_save_all_can_be_cancelled(qtbot, make_window, image_folder, tmp_path):
    window = make_window()
    open_and_wait(qtbot, window, image_folder)
    window.worker.cancel_batch()  # nothing running: harmless
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS) as blocker:
        window.saving.save_all([MaskFormat.LABEL_IDS], tmp_path / "out")
        assert window.saving.cancel_button.isVisibleTo(window)
        window.saving.cancel_button.click()
    outcome = blocker.args[0]
    assert outcome.files_written <= 3 and not window.saving.cancel_button.isVisibleTo(window)
    assert outcome.files_written == 3 or outcome.stopped
    # A stop the user asked for: the status bar says how much was saved; no box, no error.
    assert "stopped" not in window.last_error
    if outcome.stopped:
        message = window.statusBar().currentMessage()
        assert message.startswith("Save All stopped:") and f"{outcome.files_written} file(s) written" in message



def test_first_run_offers_the_sample_frames_with_their_ground_truth(qtbot, make_window):
    from segviewer.core.resources import sample_images_folder

    window = make_window()
    assert window.settings.first_run() and not window.settings.first_run()  # once per account
    assert "Open Sample Images" in window.view.message()
    samples = sample_images_folder()
    assert sorted(p.name for p in samples.iterdir()) == ["000011_10.png", "000042_10.png", "000045_10.png"]
    assert (samples.parent / "LICENSE.md").read_text().count("CC BY-NC-SA 3.0") >= 1
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        window.commands.open_samples.trigger()
    assert len(window.files) == 3 and window.current.path.name == "000011_10.png"
    assert window.current.truth is not None and window.current.truth.shape == (375, 1242)


def test_camvid_truth_is_judged_in_camvids_own_classes(qtbot, make_window, tmp_path):
    from segviewer.core.comparison import DisplayMode
    from tests.conftest import tricolour_image

    (tmp_path / "val").mkdir()
    (tmp_path / "valannot").mkdir()
    Image.fromarray(tricolour_image()).save(tmp_path / "val" / "frame.png")
    values = np.full((60, 90), 3, np.uint8)  # CamVid Road
    values[:20] = 0                          # Sky
    values[20:40] = 5                        # Tree (vegetation or terrain)
    Image.fromarray(values, "L").save(tmp_path / "valannot" / "frame.png")
    window = make_window()
    open_and_wait(qtbot, window, tmp_path / "val" / "frame.png")
    assert window.metrics.row_names()[:3] == ["Sky", "Building", "Pole"] and len(window.metrics.row_names()) == 11
    assert window.metrics.scores.mean_iou == pytest.approx(1.0)
    assert "CamVid's 11 classes" in window.metrics.summary.text()
    window._on_hover(5, 30)
    assert window.hover_label.text().endswith("truth: Tree (vegetation / terrain)")
    window.controls.opacity_slider.setValue(100)
    window.set_display(DisplayMode.ERRORS)
    assert displayed(window)[30, 5].tolist() == [0, 200, 80]


def _slow_segmenter(window, seconds: float) -> None:
    """Make each Save All image take a while, so a test can act while the batch runs."""
    import time

    segmenter = window.worker._segmenter
    predict = segmenter.predict

    def slowly(image):
        time.sleep(seconds)
        return predict(image)

    segmenter.predict = slowly


def test_save_all_over_existing_files_can_skip_them_and_save_the_rest(qtbot, make_window, image_folder, tmp_path):
    from segviewer.gui.saving import ExistingChoice

    window = make_window()
    open_and_wait(qtbot, window, image_folder)
    out = tmp_path / "out"
    out.mkdir()
    (out / "000001_10_labelIds.png").write_bytes(b"kept as it is")
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS) as blocker:
        assert window.saving.save_all([MaskFormat.LABEL_IDS], out, existing_choice=ExistingChoice.SKIP)
    outcome = blocker.args[0]
    assert (outcome.images_saved, outcome.skipped_existing, outcome.files_written) == (2, 1, 2)
    assert (out / "000001_10_labelIds.png").read_bytes() == b"kept as it is"
    assert "1 skipped (files exist)" in window.statusBar().currentMessage()
    # Cancel starts nothing and says why in the status bar.
    calls = window.worker.calls
    assert not window.saving.save_all([MaskFormat.LABEL_IDS], out, existing_choice=ExistingChoice.CANCEL)
    assert window.worker.calls == calls and "nothing saved" in window.statusBar().currentMessage()


def test_the_existing_files_prompt_offers_overwrite_skip_and_cancel(qtbot, make_window, image_folder, tmp_path,
                                                                   monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from segviewer.gui.saving import ExistingChoice

    window = make_window()
    seen = {}

    def answer(box):
        seen["buttons"] = [b.text() for b in box.buttons()]
        next(b for b in box.buttons() if b.text() == "Skip Existing").click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", answer)
    assert window.saving.ask_existing([tmp_path / "a_labelIds.png"], 3) is ExistingChoice.SKIP
    assert {"Overwrite", "Skip Existing"} <= set(seen["buttons"]) and len(seen["buttons"]) == 3


@pytest.mark.parametrize("choice", ["keep", "stop", "finish"])
def test_closing_the_window_during_save_all_asks_first(qtbot, make_window, image_folder, tmp_path, monkeypatch,
                                                       choice):
    from segviewer.gui.saving import CloseChoice

    window = make_window()
    open_and_wait(qtbot, window, image_folder)
    _slow_segmenter(window, 0.3)
    asked = []
    monkeypatch.setattr(window.saving, "ask_close",
                        lambda: asked.append(window.saving.running_total) or CloseChoice(choice))
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS) as blocker:
        window.saving.save_all([MaskFormat.LABEL_IDS], tmp_path / "out")
        window.close()
        assert asked == [3]
        assert window.isVisible()  # never closed while files are being written
    outcome = blocker.args[0]
    if choice == "keep":
        assert window.isVisible() and outcome.images_saved == 3
    else:
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
        assert outcome.images_saved == (3 if choice == "finish" else outcome.images_saved)
        assert outcome.stopped == (choice == "stop") or outcome.images_saved == 3
    on_disk = len(list((tmp_path / "out").glob("*_labelIds.png")))
    assert on_disk == outcome.files_written


def test_a_very_big_image_is_drawn_reduced_but_read_and_saved_at_full_size(qtbot, make_window, image_folder,
                                                                          tmp_path, monkeypatch):
    import segviewer.core.display_proxy as proxy
    import segviewer.gui.worker as worker

    monkeypatch.setattr(worker, "display_factor", lambda h, w: proxy.display_factor(h, w, limit=1000))
    window = make_window()
    open_and_wait(qtbot, window, image_folder / "000000_10.png")
    shown = window.current.display
    assert shown is not None and shown.factor == 3 and displayed(window).shape[:2] == (20, 30)
    assert "drawn at 1/3" in window.time_label.text()
    window._on_hover(10, 19)  # a drawn pixel of the road
    assert window.hover_label.text().startswith("x 30, y 57: road")
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS) as done:
        assert window.saving.save_current([MaskFormat.LABEL_IDS, MaskFormat.OVERLAY], tmp_path) == []
    assert done.args[0].files_written == 2 and "Save done" in window.statusBar().currentMessage()
    assert read_label_ids(tmp_path / "000000_10_labelIds.png").shape == (60, 90)
    assert Image.open(tmp_path / "000000_10_overlay.png").size == (90, 60)
