"""Evaluate Folder in the real window: the Dataset panel, its confusion cells, the image
table, opening an image with the error map, and Cancel."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import Qt  # noqa: E402

from segviewer.cli import main as cli_main  # noqa: E402
from tests.gui_helpers import WAIT_MS  # noqa: E402
from tests.test_dataset_eval import kitti_folder, model_b  # noqa: E402, F401  (fixtures: B reads green as terrain)

pytestmark = pytest.mark.usefixtures("private_settings")
CAR, ROAD = 13, 0


def _evaluate(qtbot, window, folder):
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS):
        assert window.evaluation.evaluate(folder)
    return window.evaluation.panel


def test_evaluate_folder_fills_the_panel_and_matches_segviewer_evaluate(qtbot, make_window, kitti_folder,  # noqa: F811
                                                                        tiny_model_path, tmp_path):
    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    assert window.commands.evaluate_folder.isEnabled()
    panel = _evaluate(qtbot, window, kitti_folder / "image_2")
    assert window.dataset_dock.isVisible() and len(panel.result.images) == 3
    scores = panel.result.scores("kitti")
    target = tmp_path / "cli.json"
    assert cli_main(["evaluate", "--model", str(tiny_model_path), "--images", str(kitti_folder / "image_2"),
                     "--json", str(target), "--backend", "tf"]) == 0
    assert scores.mean_iou == pytest.approx(json.loads(target.read_text())["spaces"]["kitti"]["scores"]["miou"])
    assert f"{scores.mean_iou * 100:.1f} %" in panel.summary.text()
    # Truth car predicted as road: the image with the biggest car (index 0) comes first.
    assert "truth car → predicted road" in panel.describe_cell(CAR, ROAD)
    # A click on the heat map's cell (truth car, predicted road) sorts the images by it.
    from PySide6.QtCore import QPointF

    cell_centre = panel.heat.getPlotItem().vb.mapViewToScene(QPointF(ROAD + 0.5, CAR + 0.5))
    qtbot.mouseClick(panel.heat.viewport(), Qt.MouseButton.LeftButton, pos=panel.heat.mapFromScene(cell_centre))
    assert panel.chosen_cell == (CAR, ROAD) and "images sorted by it" in panel.heat_label.text()
    first = panel.images.text(0, 0)
    assert first == "000000_10.png" and int(panel.images.text(0, 4).replace(",", "")) == 300
    # Sort by mean IoU, then open the worst image: it comes with the error map.
    panel.images.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert float(panel.images.text(0, 1)) <= float(panel.images.text(2, 1))
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        qtbot.mouseClick(panel.images.viewport(), Qt.MouseButton.LeftButton,
                         pos=panel.images.visualRect(panel.images.model().index(0, 0)).center())
    from segviewer.core.comparison import DisplayMode

    assert window.current.path.name == panel.images.text(0, 0)
    assert window.shown_display is DisplayMode.ERRORS


def test_evaluation_can_be_cancelled_and_keeps_what_it_scored(qtbot, make_window, kitti_folder):  # noqa: F811
    import time

    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    segmenter = window.worker._segmenter
    network = segmenter.score  # the network stage of each image
    segmenter.score = lambda *args: (time.sleep(0.4), network(*args))[1]
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS) as done:
        window.evaluation.evaluate(kitti_folder / "image_2")
        qtbot.waitUntil(lambda: "Evaluating 2/3" in window.statusBar().currentMessage(), timeout=WAIT_MS)
        window.evaluation.cancel_button.click()
    result = done.args[0]
    assert result.stopped and len(result.images) < 3
    assert not window.evaluation.cancel_button.isVisibleTo(window) and not window.saving.active
    assert "Evaluation stopped" in window.statusBar().currentMessage()
    assert np.isfinite(window.evaluation.panel.result.scores("kitti").mean_iou)


def test_a_saved_result_opens_again_without_the_network(qtbot, make_window, kitti_folder, tmp_path):  # noqa: F811
    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    panel = _evaluate(qtbot, window, kitti_folder / "image_2")
    before = panel.result.scores("kitti")
    assert [p.name for p in panel.save(tmp_path / "eval.json")] == ["eval.json", "eval.csv"]
    # The CSV is the one `segviewer evaluate` writes, byte for byte.
    assert cli_main(["evaluate", "--model", str(window.model_path), "--images", str(kitti_folder / "image_2"),
                     "--csv", str(tmp_path / "cli.csv"), "--backend", "tf"]) == 0
    assert (tmp_path / "eval.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()
    assert (tmp_path / "eval.csv").read_text().startswith("truth \\ prediction,road,sidewalk")
    calls = window.worker.calls
    panel.result = None
    assert panel.open(tmp_path / "eval.json")
    assert panel.result.scores("kitti").mean_iou == pytest.approx(before.mean_iou)
    assert panel.images.row_count() == 3 and window.worker.calls == calls
    (tmp_path / "bad.json").write_text("{}")
    assert not panel.open(tmp_path / "bad.json") and "not a saved evaluation" in panel.summary.text()


def test_model_b_is_compared_in_the_panel_with_the_cli_deltas(qtbot, make_window, kitti_folder, tmp_path,  # noqa: F811
                                                              tiny_model_path, model_b):  # noqa: F811
    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    window.evaluation.set_model_b(model_b)
    panel = _evaluate(qtbot, window, kitti_folder / "image_2")
    assert panel.comparing and "B = <b>terrain.keras</b>" in panel.summary.text()
    target = tmp_path / "ab.json"
    assert cli_main(["evaluate", "--model", str(tiny_model_path), "--model", str(model_b),
                     "--images", str(kitti_folder / "image_2"), "--json", str(target), "--csv",
                     str(tmp_path / "ab.csv"), "--backend", "tf"]) == 0
    panel.save(tmp_path / "panel.json")  # A's and B's confusion matrices, as the CLI writes them
    for name in ("{}.csv", "{}_B.csv"):
        assert (tmp_path / name.format("panel")).read_bytes() == (tmp_path / name.format("ab")).read_bytes()
    assert (tmp_path / "ab.csv").read_bytes() != (tmp_path / "ab_B.csv").read_bytes()
    delta = json.loads(target.read_text())["spaces"]["kitti"]["delta_B_minus_A"]["miou"]
    a, b = panel.result.scores("kitti", 0), panel.result.scores("kitti", 1)
    assert b.mean_iou - a.mean_iou == pytest.approx(delta)
    # Each class's B - A is written above its bars, as the CLI's JSON has it.
    import pyqtgraph as pg

    from segviewer.gui.dataset_panel import signed

    per_class = json.loads(target.read_text())["spaces"]["kitti"]["delta_B_minus_A"]["per_class"]
    labels = {item.toPlainText() for item in panel.bars.getPlotItem().items if isinstance(item, pg.TextItem)}
    assert signed(per_class["vegetation"] * 100) in labels and len(labels) >= 2
    assert panel.images.column_count() == 7
    panel.images.sortByColumn(5, Qt.SortOrder.AscendingOrder)  # the image where B loses most first
    assert float(panel.images.text(0, 5)) < 0 and float(panel.images.text(0, 6)) > 30
    window.evaluation.set_model_b(tmp_path / "missing.keras")
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS):
        window.evaluation.evaluate(kitti_folder / "image_2")
    assert "missing.keras" in window.last_error


def test_model_b_on_the_canvas_disagreement_and_side_by_side(qtbot, make_window, kitti_folder,  # noqa: F811
                                                             model_b):  # noqa: F811
    from segviewer.core.comparison import DisplayMode
    from tests.gui_helpers import displayed, open_and_wait

    window = make_window()
    open_and_wait(qtbot, window, kitti_folder / "image_2" / "000000_10.png")
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        window.evaluation.set_model_b(model_b)
    assert window.current.prediction_b is not None
    assert {DisplayMode.DISAGREEMENT, DisplayMode.A_AND_B} <= window.comparison.available()
    window.controls.opacity_slider.setValue(100)
    window.set_display(DisplayMode.DISAGREEMENT)
    shown = displayed(window)
    assert shown[30, 5].tolist() == [30, 120, 255]  # vegetation truth: only A right
    assert shown[5, 5].tolist() == [60, 60, 60]     # sky: they agree
    window.set_display(DisplayMode.A_AND_B)
    assert displayed(window).shape[:2] == (60, 90 * 2 + 8)
    window._on_hover(5, 30)
    text = window.hover_label.text()
    assert "A (tiny.keras) vegetation" in text and "B (terrain.keras): terrain" in text


def test_evaluation_reuses_the_masks_the_viewer_already_has(qtbot, make_window, kitti_folder):  # noqa: F811
    from tests.gui_helpers import open_and_wait

    window = make_window()
    open_and_wait(qtbot, window, kitti_folder / "image_2" / "000001_10.png")
    calls = window.worker.calls
    segmenter = window.worker._segmenter
    runs = []
    network = segmenter.score  # the network stage of each image
    segmenter.score = lambda *args: runs.append(1) or network(*args)
    _evaluate(qtbot, window, kitti_folder / "image_2")
    assert len(runs) == 2 and window.worker.calls == calls  # 3 images, one from the cache


def test_the_bars_are_filled_as_the_overlay_paints_their_classes(qtbot, make_window, kitti_folder):  # noqa: F811
    from segviewer.core.overlay import OverlayMode

    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    panel = _evaluate(qtbot, window, kitti_folder / "image_2")

    def fill_alpha(train_id: int) -> int:
        return panel.bar_items[0].opts["brushes"][train_id].color().alpha()

    window.controls.opacity_slider.setValue(80)
    assert fill_alpha(CAR) == fill_alpha(ROAD) == 204
    window.legend.item_for(CAR).setCheckState(Qt.CheckState.Unchecked)  # the legend's check box
    assert fill_alpha(CAR) == 0 and fill_alpha(ROAD) == 204  # hidden: its outline stays
    assert panel.bar_items[0].opts["pens"][CAR].color().getRgb()[:3] == window.table.by_train_id(CAR).color
    window.renderer.set_mode(OverlayMode.IMAGE_ONLY)
    assert fill_alpha(ROAD) == 0
    window.renderer.set_mode(OverlayMode.MASK_ONLY)
    assert fill_alpha(ROAD) == 255 and fill_alpha(CAR) == 0


def test_comparing_without_ground_truth_sorts_by_disagreement(qtbot, make_window, kitti_folder,  # noqa: F811
                                                              model_b, tmp_path):  # noqa: F811
    import shutil

    from PIL import Image

    folder = tmp_path / "no_truth"
    shutil.copytree(kitti_folder / "image_2", folder)
    # A frame with no green: A and B agree on all of it.
    Image.new("RGB", (90, 60), (128, 64, 128)).save(folder / "grey.png")
    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    window.evaluation.set_model_b(model_b)
    panel = _evaluate(qtbot, window, folder)
    assert "none with ground truth" in panel.summary.text() and panel.images.row_count() == 4
    assert panel.images.text(0, 1) == "—"  # no score without truth
    panel.images.sortByColumn(6, Qt.SortOrder.DescendingOrder)
    shares = [float(panel.images.text(row, 6)) for row in range(4)]
    assert shares == sorted(shares, reverse=True) and shares[0] > 30
    assert panel.images.text(3, 0) == "grey.png" and shares[3] == 0.0


def test_without_the_plotting_library_the_evaluation_still_reports(qtbot, make_window, kitti_folder,  # noqa: F811
                                                                   monkeypatch):
    import segviewer.gui.dataset_controller as controller

    monkeypatch.setattr(controller, "PANEL_MODULE", "segviewer.gui.no_such_plots")
    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS):
        assert window.evaluation.evaluate(kitti_folder / "image_2")
    qtbot.waitUntil(lambda: not window.evaluation.active, timeout=WAIT_MS)
    assert window.evaluation.panel is None and "Dataset panel's plots could not be loaded" in window.last_error
    assert "no_such_plots" in window.last_error
    assert "Evaluation done: 3 image(s), 3 with ground truth, mean IoU" in window.statusBar().currentMessage()


def test_a_double_click_opens_the_row_once(qtbot, make_window, kitti_folder):  # noqa: F811
    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    panel = _evaluate(qtbot, window, kitti_folder / "image_2")
    opened = []
    panel.sig_open_image.connect(opened.append)
    first = panel.images.model().index(0, 0)
    panel.images.clicked.emit(first)    # a double-click brings both
    panel.images.activated.emit(first)
    panel.images.activated.emit(panel.images.model().index(1, 0))  # Enter on another row
    assert opened == [panel.images.path(0), panel.images.path(1)]


def test_file_menu_opens_results_removes_model_b_and_closing_during_an_evaluation_asks(
        qtbot, make_window, kitti_folder, model_b, tmp_path, monkeypatch):  # noqa: F811
    import time

    from segviewer.gui.saving import CloseChoice

    window = make_window()
    qtbot.waitUntil(lambda: window.worker.has_model, timeout=WAIT_MS)
    menu = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert "Open &Results…" in menu and "Remove Model B" in menu
    assert not window.commands.remove_model_b.isEnabled()
    # A saved result opens from the File menu, before any evaluation in this window.
    target = tmp_path / "saved.json"
    assert cli_main(["evaluate", "--model", str(window.model_path), "--images", str(kitti_folder / "image_2"),
                     "--json", str(target), "--backend", "tf"]) == 0
    from segviewer.gui import dataset_panel

    monkeypatch.setattr(dataset_panel.QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), ""))
    window.commands.open_results.trigger()
    panel = window.evaluation.panel
    assert panel is not None and len(panel.result.images) == 3 and window.dataset_dock.isVisible()
    # Model B comes and goes.
    with qtbot.waitSignal(window.worker.signals.sig_model_b, timeout=WAIT_MS):
        window.evaluation.set_model_b(model_b)
    assert window.commands.remove_model_b.isEnabled()
    with qtbot.waitSignal(window.worker.signals.sig_model_b, timeout=WAIT_MS):
        window.commands.remove_model_b.trigger()
    assert window.evaluation.model_b is None and window.worker.model_b() is None
    assert not window.commands.remove_model_b.isEnabled()
    # Closing while an evaluation runs asks; "keep working" keeps the window and the run.
    segmenter = window.worker._segmenter
    network = segmenter.score  # the network stage of each image
    segmenter.score = lambda *args: (time.sleep(0.4), network(*args))[1]
    asked = []
    window.evaluation.ask_close = lambda: asked.append(True) or CloseChoice.KEEP_WORKING
    with qtbot.waitSignal(window.worker.signals.sig_batch_done, timeout=WAIT_MS):
        window.evaluation.evaluate(kitti_folder / "image_2")
        assert not window.close() and asked and window.isVisible()
