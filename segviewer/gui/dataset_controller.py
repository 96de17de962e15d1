"""Evaluate Folder: segments every image of a folder on the model worker, scores it against
its ground truth (progress, ETA and Cancel in the status bar) and fills the Dataset panel."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QDockWidget, QFileDialog

from segviewer.core.dataset_eval import DatasetScores, evaluate_job
from segviewer.core.file_search import find_images
from segviewer.gui.opening import MODEL_FILE_FILTER
from segviewer.gui.saving import CloseChoice, ask_close_choice
from segviewer.gui.status_bar import add_cancel_button
from segviewer.gui.worker import ModelWorker

PANEL_MODULE = "segviewer.gui.dataset_panel"  # imports pyqtgraph: only when a panel is needed
DOCK_SHARE = 0.6  # of the window's width, when the Dataset tab comes to the front


class DatasetController(QObject):
    def __init__(self, window, worker: ModelWorker, dock: QDockWidget,
                 report_error: Callable[[str, str], None]) -> None:
        super().__init__(window)
        self.window, self.worker, self.dock = window, worker, dock
        self.panel = None  # made with the first result: pyqtgraph stays out of the start-up
        self.model_b: Path | None = None  # a second model: Evaluate Folder then compares A and B
        self.report_error = report_error
        self.active = False
        self._started = 0.0
        self.progress = (0, 0)  # images scored, of how many, in the running evaluation
        self._close_when_done: Callable[[], object] | None = None
        self._panel_import: threading.Thread | None = None
        self._import_problem = ""
        self.cancel_button = add_cancel_button(window, "Cancel Evaluation",
                                               "Stop after the current image; the images before it stay scored",
                                               self.cancel)
        worker.signals.sig_batch_progress.connect(self._on_progress)
        worker.signals.sig_batch_done.connect(self._on_done)
        worker.signals.sig_model_b.connect(self._on_model_b)

    def show_dock(self) -> None:
        """Bring the Dataset tab to the front with the room its plots and table need (about
        three fifths of the window's width; the user may drag it narrower)."""
        self.dock.show()
        self.dock.raise_()
        wanted = int(self.window.width() * DOCK_SHARE)
        if self.dock.width() < wanted:
            self.window.resizeDocks([self.dock], [wanted], Qt.Orientation.Horizontal)

    @Slot()
    def evaluate_folder_dialog(self) -> None:
        self._start_panel_import()  # while the user picks the folder
        folder = QFileDialog.getExistingDirectory(self.window, "Evaluate folder (images with ground truth)",
                                                  self.window.settings.last_folder())
        if folder:
            self.evaluate(Path(folder))

    def evaluate(self, folder: Path) -> bool:
        """Start scoring every image under ``folder``; False (with a message) when it cannot."""
        if self.active or self.window.saving.running:
            self.report_error("Busy", "Wait for the running Save All or evaluation, or cancel it.")
            return False
        if not self.worker.has_model:
            self.report_error("No model", "Load a model first (File ▸ Open Model…).")
            return False
        search = find_images(folder, recursive=True)
        paths = search.files
        if not paths:
            self.report_error("No images", f"{folder}: no image files in this folder or below it")
            return False
        self.active, self._started = True, time.perf_counter()
        self._prepare_panel()
        self.cancel_button.show()
        labels = f" ({search.truth_files} label file(s) in ground-truth folders left out)" if search.truth_files else ""
        self.window.statusBar().showMessage(f"Evaluating {len(paths)} image(s) of {folder.name}{labels}…")
        # Masks the viewer already holds for these images are not computed again.
        cached = {path: result.prediction.train_ids for path in paths
                  if (result := self.window.cache.get(self.window._cache_key(path))) is not None
                  and result.prediction is not None and result.mask_frame is None}
        self.worker.run_batch(evaluate_job(paths, self.window.model_path.name, self.worker.model_b, cached))
        return True

    @Slot()
    def ask_close(self) -> CloseChoice:
        """The window is asked to close while Evaluate Folder runs: finish, stop after the
        current image, or keep working (as Save All asks)."""
        done, total = self.progress
        return ask_close_choice(self.window, "Evaluate Folder is running",
                                f"{done} of {total} image(s) scored so far. Closing the window discards the "
                                "scores (the Dataset tab's Save Results keeps them).", CloseChoice.KEEP_WORKING)

    def holds_close(self, close: Callable[[], object]) -> bool:
        """Whether the window must stay open for now (an evaluation runs); with finish or
        stop, ``close`` is called once the evaluation has ended."""
        if not self.active or self._close_when_done is not None:
            return False
        choice = self.ask_close()
        if choice is CloseChoice.KEEP_WORKING:
            return True
        self._close_when_done = close
        if choice is CloseChoice.STOP:
            self.cancel()
        return True

    @Slot()
    def open_results_dialog(self) -> None:
        """File ▸ Open Results…: a saved evaluation, shown without running the network."""
        panel = self.ensure_panel()
        if panel is not None and panel.open_dialog():
            self.show_dock()

    @Slot()
    def remove_model_b(self) -> None:
        self.set_model_b(None)

    def choose_model_b_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Model B (compared with the loaded model, A)",
                                              str(self.window.model_path.parent), MODEL_FILE_FILTER)
        if path:
            self.set_model_b(Path(path))

    def set_model_b(self, path: Path | None) -> None:
        """Evaluate Folder scores this model too, and every image shows A vs B and A | B
        (None: A alone). Checked when it loads."""
        self.model_b = path
        self.worker.load_model_b(path)
        self.window.commands.remove_model_b.setEnabled(path is not None)

    def _on_model_b(self, path: Path | None, problem: str) -> None:
        if problem:
            self.model_b = None
            self.window.commands.remove_model_b.setEnabled(False)
            self.report_error("Model B not loaded", problem)
            return
        self.window.statusBar().showMessage(
            f"Comparing A = {self.window.model_path.name} with B = {path.name}: Compare ▸ A vs B or A | B, "
            "and Evaluate Folder scores both" if path else "Model B removed", 10000)
        current = self.window.current_path
        if current is not None and not self.window.video.active:
            self.window.open_path(current)  # show the image again, now with B

    def _prepare_panel(self) -> None:
        """Import the plotting code on a thread of its own (pyqtgraph takes ~1 s, which
        would freeze the window), then make the panel while the network is still busy."""
        if self.panel is not None:
            return
        self._start_panel_import()
        if self._panel_import.is_alive():
            QTimer.singleShot(50, self._prepare_panel)
        elif not self._import_problem:
            self.ensure_panel()

    def _start_panel_import(self) -> None:
        if self._panel_import is None and self.panel is None:
            self._panel_import = threading.Thread(target=self._import_panel_module, name="segviewer-import-plots",
                                                  daemon=True)
            self._panel_import.start()

    def _import_panel_module(self) -> None:
        try:
            importlib.import_module(PANEL_MODULE)
        except Exception as error:  # noqa: BLE001 - said when the results arrive (ensure_panel)
            self._import_problem = f"{type(error).__name__}: {error}"

    def ensure_panel(self):
        """The Dataset panel, made on first use; None (said in a message) when the plotting
        library cannot be imported: the window and the evaluation go on without it."""
        if self.panel is None:
            try:
                DatasetPanel = importlib.import_module(PANEL_MODULE).DatasetPanel  # noqa: N806
            except Exception as error:  # noqa: BLE001 - a broken install must not take the window down
                self.report_error("Dataset panel unavailable",
                                  f"The Dataset panel's plots could not be loaded ({type(error).__name__}: {error})."
                                  "\n\nReinstall segviewer's dependencies (pip install -e .); meanwhile "
                                  "`segviewer evaluate --model M --images DIR` gives the same scores.")
                return None
            self.panel = DatasetPanel(self.window.table, self.window.renderer, self.window)
            self.panel.sig_open_image.connect(self.window.opener.open_with_error_map)
            self.dock.setWidget(self.panel)
        return self.panel

    @Slot()
    def cancel(self) -> None:
        self.window.statusBar().showMessage("Stopping the evaluation after the current image…")
        self.worker.cancel_batch()

    def _on_progress(self, done: int, total: int, name: str) -> None:
        if not self.active:
            return
        self.progress = (done - 1, total)  # the one named is being scored now
        elapsed = time.perf_counter() - self._started
        eta = elapsed / max(done - 1, 1) * (total - done + 1) if done > 1 else 0.0
        self.window.statusBar().showMessage(f"Evaluating {done}/{total} {name}" + (f", about {eta:.0f} s left"
                                                                                     if done > 1 else ""))

    def _on_done(self, outcome) -> None:
        if not self.active:
            return
        if self.panel is None and self._panel_import is not None and self._panel_import.is_alive():
            QTimer.singleShot(20, lambda: self._on_done(outcome))  # the plots are still being imported
            return
        self.active = False
        self.cancel_button.hide()
        if self._close_when_done is not None:  # the user chose to close once it ended
            QTimer.singleShot(0, self._close_when_done)
            return
        if isinstance(outcome, Exception):
            self.report_error("Evaluation failed", str(outcome))
            return
        if not isinstance(outcome, DatasetScores):  # cancelled before it started
            self.window.statusBar().showMessage("Evaluation cancelled before the first image", 8000)
            return
        panel = self.ensure_panel()
        if panel is not None:
            panel.show_result(outcome)
            self.show_dock()
        done = sum(1 for image in outcome.images if image.confusion)
        space = outcome.main_space()
        score = f", mean IoU {outcome.scores(space).mean_iou * 100:.1f} % ({space})" if space else ""
        self.window.statusBar().showMessage(
            f"Evaluation {'stopped' if outcome.stopped else 'done'}: {len(outcome.images)} image(s), "
            f"{done} with ground truth{score}, in {time.perf_counter() - self._started:.0f} s", 15000)
