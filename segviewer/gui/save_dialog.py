"""The small "Save masks" dialog: which formats, and where."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from segviewer.core.mask_io import MaskFormat


def default_masks_folder() -> Path:
    """Where masks go when they cannot go next to their images: a folder in the user's
    Pictures (or home) folder."""
    from PySide6.QtCore import QStandardPaths

    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(pictures or Path.home()) / "segviewer masks"


class SaveDialog(QDialog):
    def __init__(self, parent, formats: list[MaskFormat], folder: Path | None, example: str,
                 images: int = 1, beside_problem: str | None = None) -> None:
        """``beside_problem``: why files cannot go next to the images (a read-only
        install's samples, a mounted archive); that choice is then off, and a writable
        folder is offered instead."""
        super().__init__(parent)
        self.setWindowTitle("Save masks" if images == 1 else f"Save masks for {images} images")
        self._images = images
        self._boxes: dict[MaskFormat, QCheckBox] = {}
        format_group = QGroupBox("Formats", self)
        format_layout = QVBoxLayout(format_group)
        for fmt in MaskFormat:
            box = QCheckBox(f"{fmt.description}  ({example}_{fmt.value}.png)", format_group)
            box.setChecked(fmt in formats)
            box.toggled.connect(self._update_ok)
            self._boxes[fmt] = box
            format_layout.addWidget(box)

        where_group = QGroupBox("Destination", self)
        where_layout = QVBoxLayout(where_group)
        self.beside = QRadioButton("Next to the image", where_group)
        self.chosen = QRadioButton("In this folder:", where_group)
        group = QButtonGroup(self)
        group.addButton(self.beside)
        group.addButton(self.chosen)
        self.folder_edit = QLineEdit(str(folder or ""), where_group)
        browse = QPushButton("Browse…", where_group)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.chosen)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        where_layout.addWidget(self.beside)
        where_layout.addLayout(row)
        if beside_problem is not None:
            self.beside.setEnabled(False)
            self.beside.setText("Next to the image (not possible here)")
            self.beside.setToolTip(beside_problem)
            note = QLabel(f"The images' folder is not writable ({beside_problem}); choose a folder.", where_group)
            note.setWordWrap(True)
            where_layout.addWidget(note)
            folder = folder or default_masks_folder()
            self.folder_edit.setText(str(folder))
        (self.chosen if folder else self.beside).setChecked(True)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.folder_edit.textChanged.connect(self._update_ok)
        self.beside.toggled.connect(self._update_ok)
        layout = QVBoxLayout(self)
        layout.addWidget(format_group)
        layout.addWidget(where_group)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("Label-ID PNGs are what the KITTI / Cityscapes evaluation scripts read.", self))
        layout.addWidget(self.buttons)
        self._update_ok()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save masks in", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self.chosen.setChecked(True)

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(bool(self.formats()))
        self.summary.setText(self.summary_text())

    def summary_text(self) -> str:
        """What pressing Save will do: how many images, files, and where."""
        files = self._images * len(self.formats())
        folder = self.folder()
        where = "next to each image" if folder is None else (
            f"in {folder}" + ("" if folder.is_dir() else " (created)"))
        action = "Segments" if self._images > 1 else "Saves"
        return f"{action} {self._images} image(s): {files} file(s) {where}."

    def formats(self) -> list[MaskFormat]:
        return [fmt for fmt, box in self._boxes.items() if box.isChecked()]

    def set_formats(self, formats: list[MaskFormat]) -> None:
        for fmt, box in self._boxes.items():
            box.setChecked(fmt in formats)

    def folder(self) -> Path | None:
        """None = next to each image."""
        text = self.folder_edit.text().strip()
        return Path(text) if self.chosen.isChecked() and text else None
