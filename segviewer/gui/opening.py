"""Opening things: images, folders, videos, frame sequences, the sample frames, models and
ground truth, from the file dialogs, Open Recent and the Dataset panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QMenu

from segviewer.core.comparison import DisplayMode
from segviewer.core.file_search import list_images
from segviewer.core.image_io import IMAGE_SUFFIXES, is_image_file
from segviewer.core.resources import sample_images_folder
from segviewer.core.video import VIDEO_SUFFIXES, is_video_file

IMAGE_FILTER = ";;".join([
    "Images and videos ({})".format(" ".join(f"*{s}" for s in (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES))),
    "Images ({})".format(" ".join(f"*{s}" for s in IMAGE_SUFFIXES)),
    "Videos ({})".format(" ".join(f"*{s}" for s in VIDEO_SUFFIXES))])

# Our .keras models, and ONNX / TFLite networks from other frameworks (core.foreign_models).
MODEL_FILE_FILTER = ("Models (*.keras *.onnx *.tflite);;Keras models (*.keras);;ONNX models (*.onnx);;"
                     "TFLite models (*.tflite)")


class Opener(QObject):
    """Decides what a path becomes (a still image in its folder's list, a folder, a video)
    and keeps Open Recent to what actually opens."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.settings = window.settings
        self.recent_menu: QMenu | None = None

    def attach_recent_menu(self, menu: QMenu) -> None:
        self.recent_menu = menu
        self.rebuild_recent_menu()

    def rebuild_recent_menu(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        for entry in self.settings.recent_files():
            action = self.recent_menu.addAction(entry)
            action.triggered.connect(lambda _=False, p=entry: self.open_path(Path(p)))
        self.recent_menu.setEnabled(bool(self.settings.recent_files()))

    def forget(self, path: Path) -> None:
        """``path`` did not open: Open Recent stops offering it."""
        if self.settings.remove_recent(path):
            self.rebuild_recent_menu()

    def _remember(self, path: Path, folder: Path) -> None:
        self.settings.set_last_folder(folder)
        self.settings.add_recent(path)
        self.rebuild_recent_menu()

    # -- dialogs ---------------------------------------------------------------------------
    @Slot()
    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open image or video", self.settings.last_folder(),
                                              IMAGE_FILTER)
        if path:
            self.open_path(Path(path))

    @Slot()
    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open folder of images", self.settings.last_folder())
        if folder:
            self.open_path(Path(folder))

    @Slot()
    def open_sequence_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Play folder as sequence",
                                                  self.settings.last_folder())
        if folder:
            self.play_sequence(Path(folder))

    @Slot()
    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open model", str(self.window.model_path.parent),
                                              MODEL_FILE_FILTER)
        if path:
            self.window.load_model(Path(path))

    @Slot()
    def open_truth_dialog(self) -> None:
        current = self.window.current
        if current is None:
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Load ground truth", str(current.path.parent),
                                              "Label PNGs (*.png)")
        if path:
            self.window.load_ground_truth(Path(path))

    # -- opening -----------------------------------------------------------------------------
    @Slot()
    def open_samples(self) -> None:
        """The KITTI frames that ship with segviewer, their ground truth beside them."""
        self.open_path(sample_images_folder())

    def open_with_error_map(self, path: Path) -> None:
        """An image picked in the Dataset panel: where does the model go wrong on it?"""
        self.open_path(path)
        self.window.set_display(DisplayMode.ERRORS)

    def play_sequence(self, folder: Path) -> None:
        """Play a folder of numbered frames (sorted by name) like a video."""
        files = list_images(folder)
        if not files:
            self.window.show_error("No images", f"{folder}: no image files in this folder")
            return
        self.window.leave_still_images()
        self.window.video.open_sequence(folder, files)
        self.settings.set_last_folder(folder)

    def open_path(self, path: Path) -> None:
        """Open an image (its folder becomes the file list), a folder or a video."""
        path = Path(path)
        window = self.window
        if path.is_file() and is_video_file(path):
            window.leave_still_images()
            window.video.open_video(path)
            self._remember(path, path.parent)
            return
        window.video.close()
        if path.is_dir():
            files = list_images(path)
            if not files:
                window.show_error("No images", f"{path}: no image files in this folder")
                return
            window.navigator.set_files(files, 0)
            self._remember(path, path)
        elif path.exists():
            folder_files = list_images(path.parent) if is_image_file(path) else []
            files = folder_files if path in folder_files else [path]
            window.navigator.set_files(files, files.index(path))
            self._remember(path, path.parent)
        else:
            window.show_error("Cannot open", f"{path}: file not found")
