"""The main window: wires actions, the image view, the legend and the model worker.

Logic that can live without Qt does (overlay engine, export, cache); this class only
routes events and keeps what is on screen consistent.
"""

from __future__ import annotations

import dataclasses
import enum
import html
import json
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSlider,
    QTextBrowser,
    QToolBar,
    QVBoxLayout,
)

from segviewer import __version__
from segviewer.core.captions import draw_caption
from segviewer.core.card_render import card_html
from segviewer.core.classes import (
    NUM_TRAIN_CLASSES,
    TRANSPARENT_INDEX,
    load_class_table,
)
from segviewer.core.export import existing_outputs, plan_outputs, write_outputs
from segviewer.core.file_search import list_images
from segviewer.core.image_io import IMAGE_SUFFIXES, is_image_file
from segviewer.core.mask_io import MaskFormat
from segviewer.core.model_quality import validation_iou_by_class
from segviewer.core.overlay import (
    ERROR_LEGEND,
    OverlayFrame,
    OverlayMode,
    OverlayRenderer,
    error_lut,
    error_map,
)
from segviewer.gui.cache import ResultCache
from segviewer.gui.image_view import ImageView
from segviewer.gui.legend import LegendPanel
from segviewer.gui.metrics_panel import MetricsPanel
from segviewer.gui.save_dialog import SaveDialog
from segviewer.gui.worker import (
    InferenceFailure,
    InferenceResult,
    ModelInfo,
    ModelWorker,
    read_truth,
)

MAX_RECENT = 10
MAX_LISTED_ERRORS = 20
SIDE_BY_SIDE_GAP = 8


class DisplayMode(enum.Enum):
    PREDICTION = "Prediction"
    TRUTH = "Ground truth"
    ERRORS = "Error map"
    SIDE_BY_SIDE = "Side by side"

MODE_LABELS = {OverlayMode.FILL: "Fill", OverlayMode.CONTOUR: "Contours",
               OverlayMode.MASK_ONLY: "Mask only", OverlayMode.IMAGE_ONLY: "Image only"}
IMAGE_FILTER = "Images ({})".format(" ".join(f"*{s}" for s in IMAGE_SUFFIXES))


class MainWindow(QMainWindow):
    sig_frame_shown = Signal(object)  # Path of the image whose overlay is now on screen
    sig_error = Signal(str)

    def __init__(self, model_path: Path, pixel_budget: int, interactive: bool = True,
                 backend: str = "auto") -> None:
        super().__init__()
        self.setWindowTitle("segviewer")
        self.setAcceptDrops(True)
        self.interactive = interactive  # False: errors go to the status bar only (tests, --screenshot)
        self.table = load_class_table()
        self.renderer = OverlayRenderer(self.table)
        self.cache: ResultCache[InferenceResult] = ResultCache()
        self.worker = ModelWorker(pixel_budget, backend)
        self.model_path = Path(model_path)
        self.model_info: ModelInfo | None = None
        self.files: list[Path] = []
        self.index = -1
        self.current: InferenceResult | None = None
        self.last_error = ""
        self.display = DisplayMode.PREDICTION  # what the user chose
        self._shown_display = DisplayMode.PREDICTION  # what this image can show of it
        self._frames: dict[str, OverlayFrame] = {}
        self._request_id = 0
        self._request_started = 0.0
        self.settings = QSettings()

        self.view = ImageView(self)
        self.setCentralWidget(self.view)
        self.legend = LegendPanel(self.table, self)
        self._create_docks()
        self._create_actions()
        self._create_menus_and_toolbar()
        self._create_status_bar()
        self._connect()
        self._restore_settings()
        self._update_actions()

    # -- construction ---------------------------------------------------------------------
    def _create_docks(self) -> None:
        legend_dock = QDockWidget("Classes", self)
        legend_dock.setObjectName("legend_dock")
        legend_dock.setWidget(self.legend)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, legend_dock)
        self.file_list = QListWidget(self)
        self.file_list.setAccessibleName("Images in folder")
        self.file_list.setMaximumWidth(220)
        files_dock = QDockWidget("Images", self)
        files_dock.setObjectName("files_dock")
        files_dock.setWidget(self.file_list)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, files_dock)
        self.files_dock = files_dock
        files_dock.hide()
        self.metrics = MetricsPanel(self.table, self)
        metrics_dock = QDockWidget("Image metrics", self)
        metrics_dock.setObjectName("metrics_dock")
        metrics_dock.setWidget(self.metrics)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, metrics_dock)
        self.tabifyDockWidget(legend_dock, metrics_dock)
        legend_dock.raise_()
        self.metrics_dock = metrics_dock

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setStatusTip(tip or text.replace("&", "").replace("…", ""))
        action.triggered.connect(slot)
        return action

    def _create_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.open_action = self._action("&Open Image…", self.open_image_dialog, K.Open)
        self.open_folder_action = self._action("Open &Folder…", self.open_folder_dialog, "Ctrl+Shift+O")
        self.open_model_action = self._action("Open &Model…", self.open_model_dialog, "Ctrl+M")
        self.open_truth_action = self._action("Load &Ground Truth…", self.open_truth_dialog, "Ctrl+G",
                                              "Load a label-ID (KITTI/Cityscapes) or CamVid mask for this image")
        self.save_action = self._action("&Save Masks…", self.save_dialog, K.Save)
        self.save_all_action = self._action("Save &All in Folder…", self.save_all_dialog, "Ctrl+Shift+S")
        self.quit_action = self._action("&Quit", self.close, K.Quit)
        self.next_action = self._action("&Next Image", self.next_image, ["Right", "PgDown"])
        self.previous_action = self._action("&Previous Image", self.previous_image, ["Left", "PgUp"])
        self.zoom_in_action = self._action("Zoom &In", self.view.zoom_in, [K.ZoomIn, "Ctrl+="])
        self.zoom_out_action = self._action("Zoom &Out", self.view.zoom_out, K.ZoomOut)
        self.fit_action = self._action("&Fit to Window", self.view.fit_to_window, "Ctrl+0")
        self.actual_action = self._action("&Actual Size (100 %)", self.view.actual_size, "Ctrl+1")
        self.show_all_action = self._action("Show All Classes", self.legend.show_all, "Ctrl+Shift+A")
        self.hide_all_action = self._action("Hide All Classes", self.legend.hide_all, "Ctrl+Shift+N")
        self.invert_action = self._action("Invert Class Visibility", self.legend.invert, "Ctrl+I")
        self.solo_action = self._action("Show Only Selected Class", self._solo_selected, "Ctrl+Shift+L")
        self.about_action = self._action("&About segviewer", self.show_about)
        self.mode_actions = QActionGroup(self)
        for number, mode in enumerate(OverlayMode, start=1):
            action = self._action(MODE_LABELS[mode], lambda _=False, m=mode: self.set_mode(m), f"Ctrl+{number + 1}")
            action.setCheckable(True)
            action.setData(mode)
            self.mode_actions.addAction(action)
        self.mode_actions.actions()[0].setChecked(True)

    def _create_menus_and_toolbar(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for action in (self.open_action, self.open_folder_action):
            file_menu.addAction(action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.open_model_action)
        file_menu.addAction(self.open_truth_action)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_all_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu("&View")
        for action in (self.zoom_in_action, self.zoom_out_action, self.fit_action, self.actual_action):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addActions(self.mode_actions.actions())
        view_menu.addSeparator()
        view_menu.addAction(self.previous_action)
        view_menu.addAction(self.next_action)
        class_menu = self.menuBar().addMenu("&Classes")
        for action in (self.show_all_action, self.hide_all_action, self.invert_action, self.solo_action):
            class_menu.addAction(action)
        self.menuBar().addMenu("&Help").addAction(self.about_action)

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("main_toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.open_action, self.open_folder_action, self.save_action, None,
                       self.previous_action, self.next_action, None, self.fit_action, self.actual_action, None):
            toolbar.addSeparator() if action is None else toolbar.addAction(action)
        toolbar.addWidget(QLabel(" Opacity ", self))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(self.renderer.opacity * 100))
        self.opacity_slider.setFixedWidth(140)
        self.opacity_slider.setAccessibleName("Overlay opacity")
        self.opacity_slider.setToolTip("Overlay opacity: 0 % = image only, 100 % = mask only")
        toolbar.addWidget(self.opacity_slider)
        self.opacity_label = QLabel(f"{self.opacity_slider.value():3d} %", self)
        toolbar.addWidget(self.opacity_label)
        toolbar.addWidget(QLabel("  Show ", self))
        self.mode_combo = QComboBox(self)
        self.mode_combo.setAccessibleName("Overlay mode")
        for mode in OverlayMode:
            self.mode_combo.addItem(MODE_LABELS[mode], mode)
        toolbar.addWidget(self.mode_combo)
        toolbar.addWidget(QLabel("  Compare ", self))
        self.display_combo = QComboBox(self)
        self.display_combo.setAccessibleName("Compare with ground truth")
        self.display_combo.setToolTip("Prediction, ground truth, error map (green correct, red wrong, "
                                      "grey ignored) or both side by side")
        for display in DisplayMode:
            self.display_combo.addItem(display.value, display)
        toolbar.addWidget(self.display_combo)
        self.addToolBar(toolbar)

    def _create_status_bar(self) -> None:
        bar = self.statusBar()
        self.hover_label = QLabel("", self)
        self.time_label = QLabel("", self)
        self.model_label = QLabel("Loading model…", self)
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)  # indeterminate
        self.busy.setMaximumWidth(90)
        self.busy.setTextVisible(False)
        self.busy.hide()
        bar.addWidget(self.hover_label, 1)
        bar.addPermanentWidget(self.busy)
        bar.addPermanentWidget(self.time_label)
        bar.addPermanentWidget(self.model_label)

    def _connect(self) -> None:
        signals = self.worker.signals
        signals.sig_model_loading.connect(self._on_model_loading)
        signals.sig_model_loaded.connect(self._on_model_loaded)
        signals.sig_model_failed.connect(self._on_model_failed)
        signals.sig_busy.connect(self.busy.setVisible)
        signals.sig_result.connect(self._on_result)
        signals.sig_failed.connect(self._on_failed)
        signals.sig_batch_progress.connect(self._on_batch_progress)
        signals.sig_batch_done.connect(self._on_batch_done)
        self.legend.sig_visibility_changed.connect(self._on_visibility_changed)
        self.opacity_slider.valueChanged.connect(self._on_opacity_changed)
        self.mode_combo.currentIndexChanged.connect(
            lambda i: self.set_mode(self.mode_combo.itemData(i)))
        self.display_combo.currentIndexChanged.connect(
            lambda i: self.set_display(self.display_combo.itemData(i)))
        self.view.sig_hover.connect(self._on_hover)
        self.file_list.currentRowChanged.connect(self._on_file_row_changed)

    # -- settings ----------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1440, 820)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        opacity = self.settings.value("overlay/opacity", 50, type=int)
        self.opacity_slider.setValue(opacity)
        self._on_opacity_changed(opacity)
        visible = self.settings.value("overlay/visible", None)
        if visible:
            try:
                self.legend.set_visible_ids({int(v) for v in json.loads(visible)})
            except (ValueError, TypeError):
                pass
        self._rebuild_recent_menu()

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("overlay/opacity", self.opacity_slider.value())
        self.settings.setValue("overlay/visible", json.dumps(sorted(self.renderer.visible_ids())))
        self.settings.sync()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent/files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _add_recent(self, path: Path) -> None:
        entries = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("recent/files", entries[:MAX_RECENT])
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for entry in self.recent_files():
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(lambda _=False, p=entry: self.open_path(Path(p)))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def _last_folder(self) -> str:
        return self.settings.value("recent/folder", str(Path.home()))

    # -- opening -------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin loading the model (after the window is shown)."""
        self.worker.load_model(self.model_path)

    @Slot()
    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self._last_folder(), IMAGE_FILTER)
        if path:
            self.open_path(Path(path))

    @Slot()
    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder of images", self._last_folder())
        if folder:
            self.open_path(Path(folder))

    @Slot()
    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", str(self.model_path.parent),
                                              "Keras models (*.keras)")
        if path:
            self.load_model(Path(path))

    def load_model(self, path: Path) -> None:
        """Ask the worker for another model. The current one stays active (and named in
        the status bar, About and cache keys) until the new one has loaded."""
        self.worker.load_model(Path(path))

    def open_path(self, path: Path) -> None:
        """Open an image (its folder becomes the file list) or a folder."""
        path = Path(path)
        if path.is_dir():
            files = list_images(path)
            if not files:
                self.show_error("No images", f"{path}: no image files in this folder")
                return
            self._set_files(files, 0)
            self.settings.setValue("recent/folder", str(path))
        elif path.exists():
            folder_files = list_images(path.parent) if is_image_file(path) else []
            files = folder_files if path in folder_files else [path]
            self._set_files(files, files.index(path))
            self.settings.setValue("recent/folder", str(path.parent))
        else:
            self.show_error("Cannot open", f"{path}: file not found")
            return
        self._add_recent(path)

    def _set_files(self, files: list[Path], index: int) -> None:
        self.files = files
        self.file_list.blockSignals(True)
        self.file_list.clear()
        for path in files:
            item = QListWidgetItem(path.name)
            item.setToolTip(str(path))
            self.file_list.addItem(item)
        self.file_list.blockSignals(False)
        self.files_dock.setVisible(len(files) > 1)
        self.show_index(index)

    def show_index(self, index: int) -> None:
        if not self.files:
            return
        self.index = max(0, min(index, len(self.files) - 1))
        self.file_list.blockSignals(True)
        self.file_list.setCurrentRow(self.index)
        self.file_list.blockSignals(False)
        self._request(self.files[self.index])
        self._update_actions()

    @Slot()
    def next_image(self) -> None:
        if self.index + 1 < len(self.files):
            self.show_index(self.index + 1)

    @Slot()
    def previous_image(self) -> None:
        if self.index > 0:
            self.show_index(self.index - 1)

    def _on_file_row_changed(self, row: int) -> None:
        if 0 <= row < len(self.files) and row != self.index:
            self.show_index(row)

    @property
    def current_path(self) -> Path | None:
        return self.files[self.index] if 0 <= self.index < len(self.files) else None

    def _cache_key(self, path: Path):
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None
        return (str(path), stamp, str(self.model_path) if self.worker.has_model else None)

    def _request(self, path: Path) -> None:
        self._request_id += 1
        self.setWindowTitle(f"{path.name} — segviewer")
        cached = self.cache.get(self._cache_key(path))
        if cached is not None:
            self._show_result(cached, from_cache=True)
            return
        self._request_started = time.perf_counter()
        self.hover_label.setText(f"Segmenting {path.name}…")
        self.worker.request(self._request_id, path)

    # -- worker results -----------------------------------------------------------------------
    def _on_model_loading(self, path: Path) -> None:
        self.model_label.setText(f"Loading model {path.name}…")
        self._update_actions()

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.model_info = info
        self.model_path = info.path
        self.legend.set_model_quality(validation_iou_by_class(info.card, self.table))
        self.model_label.setText(f"{info.name} · {info.device}")
        self.model_label.setToolTip(f"{info.path}\nloaded in {info.load_seconds:.1f} s")
        self.cache.clear()
        if self.current_path is not None:
            self._request(self.current_path)
        self._update_actions()

    def _on_model_failed(self, message: str) -> None:
        info = self.model_info  # the worker keeps the model it had
        if info is None:
            self.model_label.setText("No model")
            self.model_label.setToolTip(message)
            still = ""
        else:
            self.model_label.setText(f"{info.name} · {info.device}")
            still = f"\n\nStill using {info.path.name}."
        self.show_error("Model not loaded", f"{message}{still}\n\nChoose another model with File ▸ Open Model….")
        self._update_actions()

    def _on_result(self, result: InferenceResult) -> None:
        if result.request_id != self._request_id:
            return  # the user has moved on: a stale result is dropped
        if not result.pending:
            self.cache.put(self._cache_key(result.path), result)
        self._show_result(result)

    def _on_failed(self, failure: InferenceFailure) -> None:
        if failure.request_id != self._request_id:
            return
        self.current = None
        self._frames = {}
        self.view.clear(f"Cannot show {failure.path.name}\n\n{failure.message}")
        self.legend.set_fractions({})
        self.metrics.clear("No image.")
        self.time_label.setText("")
        self.hover_label.setText(f"{failure.path.name}: cannot be opened")
        # Browsing a folder must not stop at a modal box per bad file: the canvas says it.
        self.show_error("Cannot open image", failure.message, modal=False)
        self._update_actions()

    def _show_result(self, result: InferenceResult, from_cache: bool = False) -> None:
        self.current = result
        prediction = result.prediction
        if prediction is None:
            # Nothing drawn over the image (void would be painted at high opacity).
            mask = np.full(result.image.shape[:2], TRANSPARENT_INDEX, np.uint8)
            self.time_label.setText("segmenting…" if result.pending else "no model: image only")
        else:
            mask = prediction.train_ids
            h, w = prediction.working_size
            source = "cached" if from_cache else f"{prediction.seconds * 1000:.0f} ms"
            self.time_label.setText(f"{source} (network at {w}x{h})")
        self._frames = {"prediction": self.renderer.set_frame(result.image, mask)}
        if result.truth is not None:
            self._frames["truth"] = OverlayFrame(self._frames["prediction"].image, result.truth)
            if prediction is not None:
                self._frames["errors"] = OverlayFrame(self._frames["prediction"].image,
                                                      error_map(prediction.train_ids, result.truth))
                self.metrics.show_scores(prediction.train_ids, result.truth, result.truth_path.name)
            else:
                self.metrics.clear("No model loaded: nothing to score.")
        else:
            self.metrics.clear(result.truth_note or "No ground truth for this image "
                               "(File ▸ Load Ground Truth… to pick one).")
        self._update_display_choices()
        self.legend.set_fractions(self.renderer.class_fractions() if prediction is not None else {})
        self.hover_label.setText(f"{result.path.name}: {result.image.shape[1]}x{result.image.shape[0]}")
        self._recompose()
        self._update_actions()
        if result.pending:
            self.hover_label.setText(f"Segmenting {result.path.name}…")
            return  # the mask follows; only then is the frame "shown"
        self.sig_frame_shown.emit(result.path)

    # -- overlay controls -------------------------------------------------------------------------
    def _update_display_choices(self) -> None:
        """Ground-truth views are offered only when there is ground truth (and a model)."""
        has_truth = "truth" in self._frames
        has_errors = "errors" in self._frames
        model = self.display_combo.model()
        for row, display in enumerate(DisplayMode):
            enabled = display is DisplayMode.PREDICTION or (
                has_truth if display is DisplayMode.TRUTH else has_errors)
            model.item(row).setEnabled(enabled)
        self.display_combo.setEnabled(has_truth)
        wanted = self.display
        if (wanted is DisplayMode.TRUTH and not has_truth) or (
                wanted in (DisplayMode.ERRORS, DisplayMode.SIDE_BY_SIDE) and not has_errors):
            wanted = DisplayMode.PREDICTION
        self.display_combo.blockSignals(True)
        self.display_combo.setCurrentIndex(list(DisplayMode).index(wanted))
        self.display_combo.blockSignals(False)
        self._shown_display = wanted

    def set_display(self, display: DisplayMode) -> None:
        """Choose prediction / ground truth / error map / side by side (kept across images)."""
        self.display = display
        self._update_display_choices()
        self._recompose()
        if self._shown_display is DisplayMode.ERRORS:
            colours = {"correct": "green", "wrong": "red", "ignored (void)": "grey"}
            self.statusBar().showMessage("Error map: " + ", ".join(
                f"{colours[name]} = {name}" for name, _ in ERROR_LEGEND), 10000)

    def prediction_overlay_rgb(self) -> np.ndarray:
        """The prediction overlay with the current classes, opacity and mode: what an
        ``_overlay.png`` holds, whatever comparison the view shows."""
        return np.asarray(self.renderer.compose(self._frames["prediction"]))

    def composed_rgb(self) -> np.ndarray:
        """What the view shows now, as an RGB array."""
        display = self._shown_display
        prediction = self._frames["prediction"]
        if display is DisplayMode.TRUTH:
            return np.asarray(self.renderer.compose(self._frames["truth"]))
        if display is DisplayMode.ERRORS:
            return np.asarray(self._frames["errors"].compose(error_lut(self.renderer.opacity)))
        left = np.asarray(self.renderer.compose(prediction))
        if display is DisplayMode.SIDE_BY_SIDE:
            left = draw_caption(left, "Prediction")
            right = draw_caption(np.asarray(self.renderer.compose(self._frames["truth"])), "Ground truth")
            if self._stack_vertically():
                gap = np.full((SIDE_BY_SIDE_GAP, left.shape[1], 3), 40, np.uint8)
                return np.vstack([left, gap, right])
            gap = np.full((left.shape[0], SIDE_BY_SIDE_GAP, 3), 40, np.uint8)
            return np.hstack([left, gap, right])
        return left

    def _stack_vertically(self) -> bool:
        """Wide frames (KITTI is 3.3:1) compare better one above the other."""
        height, width = self.current.image.shape[:2]
        return width > 2 * height

    def _recompose(self) -> None:
        if self.current is not None and self._frames:
            self.view.set_rgb(self.composed_rgb())

    def _on_visibility_changed(self, visible: set[int]) -> None:
        self.renderer.set_visible_ids(visible)
        self._recompose()

    def _on_opacity_changed(self, value: int) -> None:
        self.opacity_label.setText(f"{value:3d} %")
        self.renderer.set_opacity(value / 100.0)
        self._recompose()

    def set_mode(self, mode: OverlayMode) -> None:
        self.renderer.set_mode(mode)
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentIndex(list(OverlayMode).index(mode))
        self.mode_combo.blockSignals(False)
        for action in self.mode_actions.actions():
            action.setChecked(action.data() == mode)
        self._recompose()

    def _solo_selected(self) -> None:
        train_id = self.legend.selected_train_id()
        if train_id is not None:
            self.legend.solo(train_id)

    def _class_name(self, train_id: int) -> str:
        return self.table.by_train_id(train_id).name if train_id < NUM_TRAIN_CLASSES else "void"

    def _on_hover(self, x: int, y: int) -> None:
        result = self.current
        if result is None:
            return
        height, width = result.image.shape[:2]
        if self._shown_display is DisplayMode.SIDE_BY_SIDE and x >= 0:
            # The second copy (ground truth) shows the same pixels, offset.
            if self._stack_vertically() and y >= height:
                y = y - height - SIDE_BY_SIDE_GAP
                x = x if 0 <= y < height else -1
            elif not self._stack_vertically() and x >= width:
                x = x - width - SIDE_BY_SIDE_GAP
                x = x if 0 <= x < width else -1
        if x < 0 or result.prediction is None:
            self.hover_label.setText(f"{result.path.name}: {result.image.shape[1]}x{result.image.shape[0]}")
            return
        train_id = int(result.prediction.train_ids[y, x])
        confidence = result.prediction.confidence[y, x] / 255.0
        text = f"x {x}, y {y}: {self._class_name(train_id)} (train ID {train_id}), {confidence:.0%} confident"
        if result.truth is not None:
            text += f"; truth: {self._class_name(int(result.truth[y, x]))}"
        self.hover_label.setText(text)

    @Slot()
    def open_truth_dialog(self) -> None:
        if self.current is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load ground truth", str(self.current.path.parent),
                                              "Label PNGs (*.png)")
        if path:
            self.load_ground_truth(Path(path))

    def load_ground_truth(self, path: Path, layout: str | None = None) -> bool:
        """Use ``path`` as this image's ground truth: label IDs (KITTI/Cityscapes), or
        CamVid values when it sits in a ``*annot`` folder."""
        if self.current is None:
            return False
        layout = layout or ("camvid" if path.parent.name.endswith("annot") else "kitti")
        truth, truth_path, note = read_truth(path, layout, self.current.image.shape[:2])
        if truth is None:
            self.show_error("Cannot use ground truth", note)
            return False
        self.current = dataclasses.replace(self.current, truth=truth, truth_path=truth_path, truth_note="")
        self.cache.put(self._cache_key(self.current.path), self.current)
        self._show_result(self.current, from_cache=True)
        return True

    # -- saving ------------------------------------------------------------------------------------
    def _saved_formats(self) -> list[MaskFormat]:
        value = self.settings.value("save/formats", "labelIds,color")
        try:
            return MaskFormat.parse_list(value)
        except ValueError:
            return [MaskFormat.LABEL_IDS, MaskFormat.COLOR]

    def _ask_save_options(self, example: str, images: int = 1) -> tuple[list[MaskFormat], Path | None] | None:
        folder = self.settings.value("save/folder", "") or None
        dialog = SaveDialog(self, self._saved_formats(), Path(folder) if folder else None, example, images)
        if dialog.exec() != SaveDialog.DialogCode.Accepted:
            return None
        formats, target = dialog.formats(), dialog.folder()
        self.settings.setValue("save/formats", ",".join(f.value for f in formats))
        self.settings.setValue("save/folder", str(target) if target else "")
        return formats, target

    @Slot()
    def save_dialog(self) -> None:
        if self.current is None or self.current.prediction is None:
            return
        options = self._ask_save_options(self.current.path.stem)
        if options is not None:
            self.save_current(*options)

    def save_current(self, formats: list[MaskFormat], folder: Path | None, overwrite: bool | None = None) -> list[Path]:
        """Write the current mask; asks before overwriting unless ``overwrite`` is given."""
        result = self.current
        if result is None or result.prediction is None:
            return []
        outputs = plan_outputs(result.path, folder, formats)
        existing = existing_outputs(outputs)
        if existing and overwrite is None:
            overwrite = self._confirm_overwrite(existing)
            if not overwrite:
                return []
        if not self._prepare_folder(folder):
            return []
        errors = write_outputs(result.prediction.train_ids, outputs, self.prediction_overlay_rgb, bool(overwrite))
        written = [path for _, path in outputs if not any(e.path == path for e in errors)]
        if errors:
            self.show_error("Could not save", "\n".join(str(e) for e in errors))
        else:
            self.statusBar().showMessage(f"Saved {len(written)} file(s) to {written[0].parent}", 5000)
        return written

    def _confirm_overwrite(self, existing: list[Path]) -> bool:
        names = "\n".join(p.name for p in existing[:8]) + ("\n…" if len(existing) > 8 else "")
        answer = QMessageBox.question(self, "Overwrite files?",
                                      f"{len(existing)} file(s) already exist:\n{names}\n\nOverwrite them?")
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def save_all_dialog(self) -> None:
        if not self.files or not self.worker.has_model:
            return
        options = self._ask_save_options(self.files[0].stem, len(self.files))
        if options is not None:
            self.save_all(*options)

    def _prepare_folder(self, folder: Path | None) -> bool:
        """Create the chosen output folder (as ``predict --out`` does); False, with a
        message, when it cannot be, so no work starts that could not be saved."""
        if folder is None:
            return True
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self.show_error("Cannot save", f"{folder}: cannot create the folder ({error.strerror or error})")
            return False
        if not folder.is_dir():
            self.show_error("Cannot save", f"{folder}: not a folder")
            return False
        return True

    def save_all(self, formats: list[MaskFormat], folder: Path | None, overwrite: bool | None = None) -> None:
        """Segment and save every image of the folder on the worker thread."""
        files = list(self.files)
        if not self._prepare_folder(folder):
            return
        planned = [(path, plan_outputs(path, folder, formats)) for path in files]
        existing = [p for _, outputs in planned for p in existing_outputs(outputs)]
        if existing and overwrite is None:
            overwrite = self._confirm_overwrite(existing)
            if not overwrite:
                return
        renderer = OverlayRenderer(self.table)
        renderer.set_visible_ids(self.renderer.visible_ids())
        renderer.set_opacity(self.renderer.opacity)
        renderer.set_mode(self.renderer.mode)
        from segviewer.gui.batch import save_all_job

        self.statusBar().showMessage(f"Saving masks for {len(files)} images…")
        self.worker.run_batch(save_all_job(planned, renderer, bool(overwrite)))

    def _on_batch_progress(self, done: int, total: int, name: str) -> None:
        self.statusBar().showMessage(f"Saving masks: {done}/{total} {name}")

    def _on_batch_done(self, outcome) -> None:
        if isinstance(outcome, Exception):
            self.show_error("Save all failed", str(outcome))
            return
        written, errors = outcome
        self.statusBar().showMessage(f"Saved {written} file(s); {len(errors)} problem(s)", 8000)
        if errors:
            shown = errors[:MAX_LISTED_ERRORS]
            more = len(errors) - len(shown)
            self.show_error("Some files were not saved",
                            "\n".join(shown) + (f"\n… and {more} more" if more else ""))

    # -- misc ---------------------------------------------------------------------------------------
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
        card = self.model_info.card if self.model_info else {}
        text = (f"<b>segviewer {__version__}</b><br>"
                "See what a semantic-segmentation network sees in road images.<br>"
                f"Model: {html.escape(str(self.model_path))}"
                + (card_html(card) or "<br>(this model has no model card)"))
        dialog = QDialog(self)
        dialog.setWindowTitle("About segviewer")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        browser = QTextBrowser(dialog)
        browser.setHtml(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(browser)
        layout.addWidget(buttons)
        dialog.resize(620, 560)
        self.about_dialog = dialog  # tests read it
        dialog.open()

    def _update_actions(self) -> None:
        has_result = self.current is not None and self.current.prediction is not None
        self.save_action.setEnabled(has_result)
        self.open_truth_action.setEnabled(self.current is not None)
        self.save_all_action.setEnabled(len(self.files) > 1 and self.worker.has_model)
        self.next_action.setEnabled(self.index + 1 < len(self.files))
        self.previous_action.setEnabled(self.index > 0)

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
        self._save_settings()
        self.worker.shutdown(timeout=1.5)
        super().closeEvent(event)

