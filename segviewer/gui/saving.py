"""Saving masks from the viewer: this image (Ctrl+S) or every image of the folder (Save
All, on the model worker, with progress and Cancel in the status bar)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox

from segviewer.core.atomic import unwritable_reason
from segviewer.core.batch import BatchOutcome, save_all_job, save_result_job, without_existing
from segviewer.core.export import existing_outputs, plan_outputs, write_outputs
from segviewer.core.mask_io import MaskFormat
from segviewer.core.overlay import OverlayRenderer
from segviewer.gui.save_dialog import SaveDialog
from segviewer.gui.settings import ViewerSettings
from segviewer.gui.status_bar import add_cancel_button
from segviewer.gui.worker import ModelWorker

MAX_LISTED_ERRORS = 20
MAX_LISTED_FILES = 8


class ExistingChoice(enum.Enum):
    OVERWRITE = "overwrite"
    SKIP = "skip"
    CANCEL = "cancel"


class CloseChoice(enum.Enum):
    """The window is closed while a batch (Save All, Evaluate Folder) runs."""

    FINISH = "finish"
    STOP = "stop"
    KEEP_WORKING = "keep"


def ask_close_choice(parent, title: str, text: str, default: CloseChoice) -> CloseChoice:
    """The question a running batch asks when the window is closed: finish, stop after
    the current image, or keep working (closing the box keeps working)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
    buttons = {CloseChoice.FINISH: box.addButton("Finish, Then Close", QMessageBox.ButtonRole.AcceptRole),
               CloseChoice.STOP: box.addButton("Stop After This Image", QMessageBox.ButtonRole.DestructiveRole),
               CloseChoice.KEEP_WORKING: box.addButton("Keep Working", QMessageBox.ButtonRole.RejectRole)}
    box.setDefaultButton(buttons[default])
    box.exec()
    return next((c for c, b in buttons.items() if box.clickedButton() is b), CloseChoice.KEEP_WORKING)


class SaveController(QObject):
    """Owns the save dialogs and their outcome; the window gives it the current result,
    the folder's files and a way to report errors."""

    sig_finished = Signal()  # a Save All ended (done, stopped or failed)

    def __init__(self, window, worker: ModelWorker, renderer: OverlayRenderer, settings: ViewerSettings,
                 report_error: Callable[[str, str], None]) -> None:
        super().__init__(window)
        self.window, self.worker, self.renderer, self.settings = window, worker, renderer, settings
        self.report_error = report_error
        self.cancel_button = add_cancel_button(window, "Cancel", "Stop Save All after the current image",
                                               self.cancel_all)
        worker.signals.sig_batch_progress.connect(self._on_batch_progress)
        worker.signals.sig_batch_done.connect(self.on_batch_done)
        self.running_total = self.images_done = 0
        self.last_outcome: BatchOutcome | None = None
        self.active = False  # a batch of ours runs (the worker runs other batches too)
        self._closing = False

    def _status(self, message: str, timeout_ms: int = 0) -> None:
        self.window.statusBar().showMessage(message, timeout_ms)

    # -- dialogs -------------------------------------------------------------------------
    def _ask(self, example: str, images: int = 1,
             image_folder: Path | None = None) -> tuple[list[MaskFormat], Path | None] | None:
        dialog = SaveDialog(self.window, self.settings.save_formats(), self.settings.save_folder(), example, images,
                            beside_problem=unwritable_reason(image_folder) if image_folder is not None else None)
        if dialog.exec() != SaveDialog.DialogCode.Accepted:
            return None
        formats, target = dialog.formats(), dialog.folder()
        self.settings.remember_save(formats, target)
        return formats, target

    @Slot()
    def save_dialog(self) -> None:
        result = self.window.current
        if result is None or result.prediction is None:
            return
        options = self._ask(result.path.stem, image_folder=result.path.parent)
        if options is not None:
            self.save_current(*options)

    @Slot()
    def save_all_dialog(self) -> None:
        files = self.window.files
        if not files or not self.worker.has_model:
            return
        options = self._ask(files[0].stem, len(files), image_folder=files[0].parent)
        if options is not None:
            self.save_all(*options)

    def _confirm_overwrite(self, existing: list[Path]) -> bool:
        names = "\n".join(p.name for p in existing[:MAX_LISTED_FILES]) + (
            "\n…" if len(existing) > MAX_LISTED_FILES else "")
        answer = QMessageBox.question(self.window, "Overwrite files?",
                                      f"{len(existing)} file(s) already exist:\n{names}\n\nOverwrite them?")
        return answer == QMessageBox.StandardButton.Yes

    def ask_existing(self, existing: list[Path], images: int) -> ExistingChoice:
        """Save All over files that exist: overwrite them, save only the rest (as
        ``predict --skip-existing``), or cancel."""
        names = "\n".join(p.name for p in existing[:MAX_LISTED_FILES]) + (
            "\n…" if len(existing) > MAX_LISTED_FILES else "")
        box = QMessageBox(QMessageBox.Icon.Question, "Files already exist",
                          f"{len(existing)} of the files for these {images} image(s) already exist:\n{names}",
                          parent=self.window)
        buttons = {ExistingChoice.OVERWRITE: box.addButton("Overwrite", QMessageBox.ButtonRole.DestructiveRole),
                   ExistingChoice.SKIP: box.addButton("Skip Existing", QMessageBox.ButtonRole.AcceptRole),
                   ExistingChoice.CANCEL: box.addButton(QMessageBox.StandardButton.Cancel)}
        box.setInformativeText("Skip Existing saves the files that are missing and leaves these as they are; "
                               "Overwrite replaces them.")
        box.setDefaultButton(buttons[ExistingChoice.SKIP])
        box.exec()
        return next((choice for choice, button in buttons.items() if box.clickedButton() is button),
                    ExistingChoice.CANCEL)

    def _prepare_folder(self, folder: Path | None) -> bool:
        """Create the chosen output folder (as ``predict --out`` does); False, with a
        message, when it cannot be, so no work starts that could not be saved."""
        if folder is None:
            return True
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self.report_error("Cannot save", f"{folder}: cannot create the folder ({error.strerror or error})")
            return False
        if not folder.is_dir():
            self.report_error("Cannot save", f"{folder}: not a folder")
            return False
        return True

    # -- this image -----------------------------------------------------------------------
    def save_current(self, formats: list[MaskFormat], folder: Path | None,
                     overwrite: bool | None = None) -> list[Path]:
        """Write the current mask; asks before overwriting unless ``overwrite`` is given.
        ``_overlay.png`` is the prediction overlay, whatever comparison the view shows."""
        result, comparison = self.window.current, self.window.comparison
        if result is None or result.prediction is None or comparison is None:
            return []
        outputs = plan_outputs(result.path, folder, formats)
        existing = existing_outputs(outputs)
        if existing and overwrite is None:
            overwrite = self._confirm_overwrite(existing)
            if not overwrite:
                return []
        if not self._prepare_folder(folder):
            return []
        if result.display is not None:
            # A very big image: written strip by strip at full size on the worker, so the
            # window never waits for it; the status bar and Cancel button follow it.
            self.running_total, self.images_done = 1, 0
            self.active = True
            self.cancel_button.show()
            self._status(f"Saving {len(outputs)} file(s) of {result.path.name} in the background…")
            self.worker.run_batch(save_result_job(result.image, result.prediction.train_ids, outputs,
                                                  self.renderer.copy(), bool(overwrite)))
            return []
        written: list[Path] = []
        errors = write_outputs(result.prediction.train_ids, outputs, comparison.prediction_rgb, bool(overwrite),
                               on_written=written.append)
        if errors:
            self.report_error("Could not save", "\n".join(str(e) for e in errors))
        else:
            self._status(f"Saved {len(written)} file(s) to {written[0].parent}", 5000)
        return written

    # -- the whole folder -----------------------------------------------------------------
    def save_all(self, formats: list[MaskFormat], folder: Path | None,
                 existing_choice: ExistingChoice | None = None) -> bool:
        """Segment and save every image of the folder on the worker thread; False when
        nothing was started."""
        files = list(self.window.files)
        if not self._prepare_folder(folder):
            return False
        planned = [(path, plan_outputs(path, folder, formats)) for path in files]
        existing = [p for _, outputs in planned for p in existing_outputs(outputs)]
        skipped, overwrite = 0, False
        if existing:
            choice = existing_choice or self.ask_existing(existing, len(files))
            if choice is ExistingChoice.CANCEL:
                self._status(f"Save All cancelled: {len(existing)} file(s) already exist; nothing saved", 8000)
                return False
            if choice is ExistingChoice.SKIP:
                planned, skipped = without_existing(planned)
            overwrite = choice is ExistingChoice.OVERWRITE
        self.running_total = len(planned) + skipped
        self.images_done = 0
        self.active = True
        self._status(f"Saving masks for {len(planned)} images…")
        self.cancel_button.show()
        self.worker.run_batch(save_all_job(planned, self.renderer.copy(), overwrite, skipped))
        return True

    def ask_close(self) -> CloseChoice:
        """Save All is running and the window is asked to close: finish, stop after the
        current image, or keep working. Says how far it got."""
        return ask_close_choice(self.window, "Save All is running",
                                f"{self.images_done} of {self.running_total} image(s) saved so far. "
                                "Closing now would leave the rest unsaved.", CloseChoice.FINISH)

    def holds_close(self, close: Callable[[], object]) -> bool:
        """Whether the window must stay open for now (Save All runs). Asks the user; with
        finish or stop, ``close`` is called once the batch has ended, so its last files
        land whole and are counted."""
        if not self.running or self._closing:
            return False
        choice = self.ask_close()
        if choice is CloseChoice.KEEP_WORKING:
            return True
        self._closing = True
        # Queued: a batch that had not started yet ends inside cancel_all itself.
        self.sig_finished.connect(close, Qt.ConnectionType.QueuedConnection)
        if choice is CloseChoice.STOP:
            self.cancel_all()
        return True

    @property
    def running(self) -> bool:
        return self.cancel_button.isVisibleTo(self.window)

    @Slot()
    def cancel_all(self) -> None:
        # Said first: a batch that has not started yet ends inside cancel_batch, and its
        # summary must be the message left standing.
        self._status("Stopping Save All after the current image…")
        self.worker.cancel_batch()

    def _on_batch_progress(self, done: int, total: int, name: str) -> None:
        if not self.active:
            return
        self.images_done = done - 1  # the one named is being saved now
        self._status(f"Saving masks: {done}/{total} {name}")

    def on_batch_done(self, outcome) -> None:
        if not self.active and not isinstance(outcome, BatchOutcome):
            return  # another controller's batch
        self.active = False
        self.cancel_button.hide()
        if isinstance(outcome, Exception):
            self.report_error("Save all failed", str(outcome))
        else:
            if not outcome.total:  # stopped before it started: the worker did not know the plan
                outcome.total = self.running_total
            self.last_outcome = outcome
            # A stop the user asked for is said in the status bar only, never in a box.
            self._status(outcome.describe(), 15000)
            if outcome.errors:
                shown = outcome.errors[:MAX_LISTED_ERRORS]
                more = len(outcome.errors) - len(shown)
                self.report_error("Some files were not saved",
                                  "\n".join(shown) + (f"\n… and {more} more" if more else ""))
        self.sig_finished.emit()
