"""The main window: connects the image view, the legend and metrics docks, the overlay
controls, the model worker and the save controller, and shows one image's result.

What lives elsewhere: overlay state in :class:`~segviewer.core.overlay.OverlayRenderer`,
comparison geometry in :mod:`segviewer.core.comparison`, actions and their enable rules
in :mod:`segviewer.gui.actions`, opening files, folders and videos in
:mod:`segviewer.gui.opening`, saving in :mod:`segviewer.gui.saving`, Evaluate Folder in
:mod:`segviewer.gui.dataset_controller`, remembered settings in :mod:`segviewer.gui.settings`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
)

from segviewer.core.cache import ResultCache
from segviewer.core.classes import (
    TRANSPARENT_INDEX,
    load_class_table,
)
from segviewer.core.comparison import COLOUR_KEYS, Comparison, DisplayMode
from segviewer.core.datasets import guess_layout, read_truth
from segviewer.core.hover import readout
from segviewer.core.model_quality import validation_iou_by_class
from segviewer.core.overlay import OverlayRenderer
from segviewer.core.truth_space import space_for
from segviewer.gui.about import about_dialog
from segviewer.gui.actions import (
    ActionState,
    add_main_toolbar,
    build_menus,
    create_actions,
)
from segviewer.gui.dataset_controller import DatasetController
from segviewer.gui.file_navigator import FileNavigator
from segviewer.gui.image_view import ImageView
from segviewer.gui.legend import LegendPanel
from segviewer.gui.metrics_panel import MetricsPanel
from segviewer.gui.opening import Opener
from segviewer.gui.overlay_controls import OverlayControls
from segviewer.gui.saving import SaveController
from segviewer.gui.settings import ViewerSettings
from segviewer.gui.status_bar import ViewerStatusBar, network_time_text
from segviewer.gui.transport_bar import add_transport_toolbar
from segviewer.gui.video_controller import VideoController
from segviewer.gui.worker import (
    InferenceFailure,
    InferenceResult,
    ModelInfo,
    ModelWorker,
)


class MainWindow(QMainWindow):
    sig_frame_shown = Signal(object)  # Path of the image whose overlay is now on screen
    sig_error = Signal(str)

    def __init__(self, model_path: Path, pixel_budget: int | None, interactive: bool = True,
                 backend: str = "auto") -> None:
        super().__init__()
        self.setWindowTitle("segviewer")
        self.setAcceptDrops(True)
        self.interactive = interactive  # False: errors go to the status bar only (tests, --screenshot)
        self.table = load_class_table()
        self.renderer = OverlayRenderer(self.table)
        self.cache: ResultCache[InferenceResult] = ResultCache()
        self.worker = ModelWorker(pixel_budget, backend)
        self.model_path = Path(model_path)  # the active model's (set from the worker once loaded)
        self.model_info: ModelInfo | None = None
        self.current: InferenceResult | None = None
        self.comparison: Comparison | None = None
        self.last_error = ""
        self.display = DisplayMode.PREDICTION  # what the user chose; an image may not offer it
        self._request_id = 0
        self.settings = ViewerSettings()

        self.view = ImageView(self)
        self.setCentralWidget(self.view)
        self.legend = LegendPanel(self.table, self.renderer, self)
        self.metrics = MetricsPanel(self.table, self)
        self._create_docks()
        self.status = ViewerStatusBar(self)
        self.setStatusBar(self.status)
        self.hover_label, self.time_label, self.model_label = (
            self.status.hover_label, self.status.time_label, self.status.model_label)
        self.saving = SaveController(self, self.worker, self.renderer, self.settings, self.show_error)
        self.evaluation = DatasetController(self, self.worker, self.dataset_dock, self.show_error)
        self.transport, transport_toolbar = add_transport_toolbar(self)
        self.video = VideoController(self, self.worker, self.transport, transport_toolbar)
        self.opener = Opener(self)
        self.open_path, self.play_sequence = self.opener.open_path, self.opener.play_sequence
        self.commands = create_actions(self, self.renderer)
        self.opener.attach_recent_menu(build_menus(self, self.commands))
        self.controls = OverlayControls(self.renderer, add_main_toolbar(self, self.commands))
        self._connect()
        self._restore_settings()
        self.update_actions()

    # -- construction ---------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        if widget is not None:
            dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _create_docks(self) -> None:
        right = Qt.DockWidgetArea.RightDockWidgetArea
        legend_dock = self._dock("Classes", "legend_dock", self.legend, right)
        self.files_dock = self._dock("Images", "files_dock", None, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.navigator = FileNavigator(self.files_dock, self)
        self.metrics_dock = self._dock("Image metrics", "metrics_dock", self.metrics, right)
        self.tabifyDockWidget(legend_dock, self.metrics_dock)
        legend_dock.raise_()
        # Its panel (and pyqtgraph, ~1 s to import) comes with the first evaluation.
        self.dataset_dock = self._dock("Dataset", "dataset_dock", None, right)
        self.tabifyDockWidget(self.metrics_dock, self.dataset_dock)
        self.dataset_dock.hide()  # until a folder has been evaluated

    def _connect(self) -> None:
        signals = self.worker.signals
        signals.sig_model_loading.connect(self._on_model_loading)
        signals.sig_model_loaded.connect(self._on_model_loaded)
        signals.sig_model_failed.connect(self._on_model_failed)
        signals.sig_busy.connect(self.status.busy.setVisible)
        signals.sig_result.connect(self._on_result)
        signals.sig_failed.connect(self._on_failed)
        self.renderer.subscribe(self._recompose)
        self.controls.sig_display_chosen.connect(self.set_display)
        self.view.sig_hover.connect(self._on_hover)
        self.navigator.sig_current_changed.connect(self._on_current_changed)

    # -- settings ----------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        if not self.settings.restore_window(self):
            self.resize(1440, 820)
        self.settings.restore_overlay(self.renderer)
        self.video.container.setVisible(self.video.active)  # a saved layout may include it
        self.dataset_dock.hide()  # a saved layout may show it, empty: it comes with a result

    # -- opening -------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin loading the model (after the window is shown)."""
        self.worker.load_model(self.model_path)

    def load_model(self, path: Path) -> None:
        """Ask the worker for another model. The current one stays active (and named in
        the status bar, About and cache keys) until the new one has loaded."""
        self.worker.load_model(Path(path))

    @property
    def files(self) -> list[Path]:
        return self.navigator.files

    @property
    def index(self) -> int:
        return self.navigator.index

    @property
    def current_path(self) -> Path | None:
        return self.navigator.current

    @Slot()
    def next_image(self) -> None:
        self.navigator.next()

    @Slot()
    def previous_image(self) -> None:
        self.navigator.previous()

    def _on_current_changed(self, path: Path) -> None:
        self._request(path)
        self.update_actions()

    def _cache_key(self, path: Path):
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None
        return (str(path), stamp, str(self.model_path) if self.worker.has_model else None,
                str(self.evaluation.model_b) if self.evaluation.model_b else None)

    def leave_still_images(self) -> None:
        self.navigator.set_files([], 0)
        self.new_request_id()  # a still image's result still on its way is dropped
        self.current = self.comparison = None

    def new_request_id(self) -> int:
        self._request_id += 1
        return self._request_id

    def show_frame(self, result: InferenceResult) -> None:
        """Show a video frame (the video controller chose its mask)."""
        self._show_result(result)

    def _request(self, path: Path) -> None:
        self._request_id += 1
        self.setWindowTitle(f"{path.name} — segviewer")
        cached = self.cache.get(self._cache_key(path))
        if cached is not None:
            self._show_result(cached, from_cache=True)
            return
        self.hover_label.setText(f"Segmenting {path.name}…")
        self.worker.request(self._request_id, path)

    # -- worker results -----------------------------------------------------------------------
    def _on_model_loading(self, path: Path) -> None:
        self.status.model_loading(path)
        self.update_actions()

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.model_info = info
        self.model_path = info.path
        self.legend.set_model_quality(validation_iou_by_class(info.card, self.table))
        self.status.model_active(info)
        self.cache.clear()
        if self.video.active:
            self.video.model_changed()
        elif self.current_path is not None:
            self._request(self.current_path)
        self.update_actions()

    def _on_model_failed(self, message: str) -> None:
        info = self.model_info  # the worker keeps the model it had
        self.status.model_active(info, message)
        still = "" if info is None else f"\n\nStill using {info.path.name}."
        self.show_error("Model not loaded", f"{message}{still}\n\nChoose another model with File ▸ Open Model…")
        self.update_actions()

    @Slot(object)
    def _on_result(self, result: InferenceResult) -> None:
        if result.request_id != self._request_id:
            return  # the user has moved on: a stale result is dropped
        if result.frame_index is not None:
            self.video.on_result(result)
            return
        if not result.pending:
            self.cache.put(self._cache_key(result.path), result)
        self._show_result(result)

    @Slot(object)
    def _on_failed(self, failure: InferenceFailure) -> None:
        if failure.request_id != self._request_id:
            return
        if self.video.active:
            self.video.on_failed(failure.message)
            return
        self.show_nothing(failure.path, f"Cannot show {failure.path.name}\n\n{failure.message}")
        # Browsing a folder must not stop at a modal box per bad file: the canvas says it.
        self.show_error("Cannot open image", failure.message, modal=False)

    def show_nothing(self, path: Path, message: str) -> None:
        """``path`` could not be shown: no trace of the previous image may stay (legend
        shares, metrics, read-outs), and the canvas says why."""
        self.current = self.comparison = None
        self.view.clear(message)
        self.legend.set_fractions({})
        self.metrics.clear("No image.")
        self.time_label.setText("")
        self.hover_label.setText(f"{path.name}: cannot be opened")
        self.opener.forget(path)
        self.update_actions()

    def _show_result(self, result: InferenceResult, from_cache: bool = False) -> None:
        self.current = result
        prediction = result.prediction
        # A very big image is drawn from its reduced copy (made on the worker).
        shown = result.display
        image = shown.image if shown else result.image
        predicted = (shown.train_ids if shown else prediction.train_ids) if prediction is not None else None
        truth = shown.truth if shown else result.truth
        predicted_b = shown.train_ids_b if shown else result.prediction_b
        self.time_label.setText(network_time_text(result, from_cache))
        # Nothing is drawn over an image without a mask (void would be painted at high opacity).
        mask = predicted if prediction is not None else np.full(image.shape[:2], TRANSPARENT_INDEX, np.uint8)
        space = space_for(result.truth_layout)
        names = (self.model_path.name, result.model_b_path.name if result.model_b_path else "B")
        self.comparison = Comparison(self.renderer, image, mask, predicted, truth, space, predicted_b, names)
        if result.truth is not None and prediction is not None:
            self.metrics.show_scores(prediction.train_ids, result.truth, result.truth_path.name, space)
        elif result.truth is not None:
            self.metrics.clear("No model loaded: nothing to score.")
        else:
            self.metrics.clear(result.truth_note or "No ground truth for this image "
                               "(File ▸ Load Ground Truth… to pick one).")
        self.legend.set_fractions(self.renderer.class_fractions() if prediction is not None else {})
        self.hover_label.setText(f"{result.path.name}: {result.image.shape[1]}x{result.image.shape[0]}")
        self._recompose()
        self.update_actions()
        if result.pending:
            self.hover_label.setText(f"Segmenting {result.path.name}…")
            return  # the mask follows; only then is the frame "shown"
        self.sig_frame_shown.emit(result.path)

    # -- what the view shows ------------------------------------------------------------------------
    @property
    def shown_display(self) -> DisplayMode:
        return self.comparison.effective(self.display) if self.comparison else DisplayMode.PREDICTION

    def set_display(self, display: DisplayMode) -> None:
        """Choose prediction / ground truth / error map / side by side (kept across images)."""
        self.display = display
        self._recompose()
        key = COLOUR_KEYS.get(self.shown_display)
        if key:
            self.statusBar().showMessage(key, 10000)

    def composed_rgb(self) -> np.ndarray:
        """What the view shows now, as an RGB array."""
        return self.comparison.compose(self.display)

    def _recompose(self) -> None:
        if self.current is None or self.comparison is None:
            return
        self.controls.show_display_choices(self.comparison.available(), self.shown_display)
        self.view.set_rgb(self.composed_rgb())

    @Slot()
    def solo_selected(self) -> None:
        train_id = self.legend.selected_train_id()
        if train_id is not None:
            self.renderer.solo(train_id)

    def _on_hover(self, x: int, y: int) -> None:
        if self.current is not None and self.comparison is not None:
            self.hover_label.setText(readout(self.table, self.current, self.comparison, self.shown_display,
                                             x, y, self.model_path.name))

    # -- ground truth ---------------------------------------------------------------------------------
    def load_ground_truth(self, path: Path, layout: str | None = None) -> bool:
        """Use ``path`` as this image's ground truth: label IDs (KITTI/Cityscapes), or
        CamVid values when it sits in a ``*annot`` folder."""
        if self.current is None:
            return False
        layout = layout or guess_layout(path).value
        truth, truth_path, note = read_truth(path, layout, self.current.image.shape[:2])
        if truth is None:
            self.show_error("Cannot use ground truth", note)
            return False
        self.current = dataclasses.replace(self.current, truth=truth, truth_path=truth_path, truth_note="",
                                           truth_layout=layout)
        self.cache.put(self._cache_key(self.current.path), self.current)
        self._show_result(self.current, from_cache=True)
        return True

    # -- messages -------------------------------------------------------------------------------------
    def show_error(self, title: str, message: str, modal: bool = True) -> None:
        """Tell the user without blocking the event loop (a window-modal box, not exec());
        ``modal=False``: the status bar only (the caller shows it elsewhere too)."""
        self.last_error = message
        self.statusBar().showMessage(message.splitlines()[0], 10000)
        self.sig_error.emit(message)
        if self.interactive and modal:
            box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    @Slot()
    def show_about(self) -> None:
        self.about_dialog = about_dialog(self, self.model_path, self.model_info.card if self.model_info else {})
        self.about_dialog.open()

    def update_actions(self) -> None:
        self.commands.update(ActionState(
            has_image=self.current is not None,
            has_prediction=(self.current is not None and self.current.prediction is not None
                            and self.current.mask_frame is None),
            has_model=self.worker.has_model, files=len(self.files), index=self.index,
            has_video=self.video.active))

    # -- drag and drop ----------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(Path(urls[0].toLocalFile()))
            event.acceptProposedAction()

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.saving.holds_close(self.close) or self.evaluation.holds_close(self.close):
            event.ignore()  # Save All decides: it closes the window itself when done
            return
        self.settings.save_window_and_overlay(self, self.renderer)
        self.video.shutdown()
        self.worker.shutdown(timeout=1.5)
        super().closeEvent(event)
