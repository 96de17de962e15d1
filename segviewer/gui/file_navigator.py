"""The images of the open folder: the list in the Images dock, the current position, and
moving through them (Next / Previous / clicking a row)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDockWidget, QListWidget, QListWidgetItem


class FileNavigator(QObject):
    sig_current_changed = Signal(object)  # Path of the image to show

    def __init__(self, dock: QDockWidget, parent=None) -> None:
        super().__init__(parent)
        self.files: list[Path] = []
        self.index = -1
        self.dock = dock
        self.list = QListWidget(dock)
        self.list.setAccessibleName("Images in folder")
        self.list.setMaximumWidth(220)
        dock.setWidget(self.list)
        dock.hide()
        self.list.currentRowChanged.connect(self._on_row_changed)

    @property
    def current(self) -> Path | None:
        return self.files[self.index] if 0 <= self.index < len(self.files) else None

    def set_files(self, files: list[Path], index: int) -> None:
        self.files = list(files)
        self.list.blockSignals(True)
        self.list.clear()
        for path in files:
            item = QListWidgetItem(path.name)
            item.setToolTip(str(path))
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.dock.setVisible(len(files) > 1)
        self.show_index(index)

    def show_index(self, index: int) -> None:
        if not self.files:
            self.index = -1  # nothing to go back or forward to
            return
        self.index = max(0, min(index, len(self.files) - 1))
        self.list.blockSignals(True)
        self.list.setCurrentRow(self.index)
        self.list.blockSignals(False)
        self.sig_current_changed.emit(self.files[self.index])

    def next(self) -> None:
        if self.index + 1 < len(self.files):
            self.show_index(self.index + 1)

    def previous(self) -> None:
        if self.index > 0:
            self.show_index(self.index - 1)

    def _on_row_changed(self, row: int) -> None:
        if 0 <= row < len(self.files) and row != self.index:
            self.show_index(row)
