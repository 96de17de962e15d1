"""Legend of the 20 classes: swatch, name, share of the image, visibility checkbox.

Double-click or Alt+click a row to *solo* it (show only that class); buttons show all,
none, or invert. Classes absent from the current image are muted but stay toggleable.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QApplication, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from segviewer.core.classes import ClassTable

_TRAIN_ID_ROLE = Qt.ItemDataRole.UserRole


def _swatch(color: tuple[int, int, int], size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


class LegendPanel(QWidget):
    sig_visibility_changed = Signal(object)  # set of visible train IDs

    def __init__(self, table: ClassTable, parent=None) -> None:
        super().__init__(parent)
        self._table = table
        self._updating = False
        self.list = QListWidget(self)
        self.list.setToolTip("Tick to show a class. Double-click or Alt+click: show only this class.")
        self.list.setAccessibleName("Class legend")
        for info in table:
            item = QListWidgetItem(_swatch(info.color), info.name)
            item.setData(_TRAIN_ID_ROLE, info.train_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.list.addItem(item)
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.itemDoubleClicked.connect(lambda item: self.solo(item.data(_TRAIN_ID_ROLE)))
        self.list.itemClicked.connect(self._on_item_clicked)

        buttons = QHBoxLayout()
        for label, slot, tip in (("All", self.show_all, "Show every class"),
                                 ("None", self.hide_all, "Hide every class"),
                                 ("Invert", self.invert, "Swap shown and hidden classes")):
            button = QPushButton(label, self)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.set_fractions({})

    # -- state ---------------------------------------------------------------------------
    def _items(self):
        return [self.list.item(row) for row in range(self.list.count())]

    def item_for(self, train_id: int) -> QListWidgetItem:
        return next(i for i in self._items() if i.data(_TRAIN_ID_ROLE) == train_id)

    def visible_ids(self) -> set[int]:
        return {i.data(_TRAIN_ID_ROLE) for i in self._items() if i.checkState() == Qt.CheckState.Checked}

    def set_visible_ids(self, train_ids: set[int]) -> None:
        self._updating = True
        try:
            for item in self._items():
                state = Qt.CheckState.Checked if item.data(_TRAIN_ID_ROLE) in train_ids else Qt.CheckState.Unchecked
                item.setCheckState(state)
        finally:
            self._updating = False
        self.sig_visibility_changed.emit(self.visible_ids())

    def show_all(self) -> None:
        self.set_visible_ids({c.train_id for c in self._table})

    def hide_all(self) -> None:
        self.set_visible_ids(set())

    def invert(self) -> None:
        self.set_visible_ids({c.train_id for c in self._table} - self.visible_ids())

    def solo(self, train_id: int) -> None:
        self.set_visible_ids({train_id})

    def set_fractions(self, fractions: dict[int, float]) -> None:
        """Show each class's share of the image; rows of absent classes are muted."""
        muted = self.palette().color(self.foregroundRole())
        muted.setAlpha(110)
        normal = self.palette().color(self.foregroundRole())
        for item in self._items():
            info = self._table.by_train_id(item.data(_TRAIN_ID_ROLE))
            share = fractions.get(info.train_id, 0.0)
            text = f"{info.name}  {share * 100:.1f} %" if share >= 0.0005 else (
                f"{info.name}  <0.1 %" if share > 0 else info.name)
            item.setText(text)
            item.setForeground(normal if share > 0 else muted)
            item.setToolTip(f"{info.name}: train ID {info.train_id}, "
                            f"label IDs {', '.join(map(str, info.label_ids))}"
                            + ("" if share > 0 else " (not in this image)"))

    # -- events -----------------------------------------------------------------------------
    def _on_item_changed(self, _item) -> None:
        if not self._updating:
            self.sig_visibility_changed.emit(self.visible_ids())

    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        if QApplication.keyboardModifiers() & Qt.KeyboardModifier.AltModifier:
            self.solo(item.data(_TRAIN_ID_ROLE))
