"""Legend of the 20 classes: swatch, name, share of the image, visibility checkbox.

The legend only reflects and edits the :class:`OverlayRenderer`'s visibility (the one
owner of that state): ticking a row, the All / None / Invert buttons and solo (double-click
or Alt+click a row) write to the renderer, and every change, from here or from a menu
action, comes back through the renderer's change event. Classes absent from the current
image are muted but stay toggleable.
Each row's tooltip gives the loaded model's validation IoU for the class (from its card);
classes the model has not learned are marked "(not learned)".
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from segviewer.core.classes import ClassTable
from segviewer.core.model_quality import UNLEARNED_IOU, ClassQuality
from segviewer.core.overlay import OverlayRenderer

_TRAIN_ID_ROLE = Qt.ItemDataRole.UserRole


def _swatch(color: tuple[int, int, int], size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


class LegendPanel(QWidget):
    def __init__(self, table: ClassTable, renderer: OverlayRenderer, parent=None) -> None:
        super().__init__(parent)
        self._table = table
        self._renderer = renderer
        self._updating = False
        self._quality: dict[int, float | None] = {}
        self._fractions: dict[int, float] = {}
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
        self.list.itemDoubleClicked.connect(lambda item: renderer.solo(item.data(_TRAIN_ID_ROLE)))
        self.list.itemClicked.connect(self._on_item_clicked)

        buttons = QHBoxLayout()
        for label, slot, tip in (("All", renderer.show_all, "Show every class"),
                                 ("None", renderer.hide_all, "Hide every class"),
                                 ("Invert", renderer.invert, "Swap shown and hidden classes")):
            button = QPushButton(label, self)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.set_fractions({})
        renderer.subscribe(self._reflect_renderer)
        self._reflect_renderer()

    # -- state ---------------------------------------------------------------------------
    def _items(self):
        return [self.list.item(row) for row in range(self.list.count())]

    def item_for(self, train_id: int) -> QListWidgetItem:
        return next(i for i in self._items() if i.data(_TRAIN_ID_ROLE) == train_id)

    def _reflect_renderer(self) -> None:
        visible = self._renderer.visible_ids()
        self._updating = True
        try:
            for item in self._items():
                shown = item.data(_TRAIN_ID_ROLE) in visible
                item.setCheckState(Qt.CheckState.Checked if shown else Qt.CheckState.Unchecked)
        finally:
            self._updating = False

    def selected_train_id(self) -> int | None:
        """The train ID of the highlighted row, if any."""
        item = self.list.currentItem()
        return None if item is None else int(item.data(_TRAIN_ID_ROLE))

    def set_model_quality(self, quality: dict[int, ClassQuality]) -> None:
        """Validation figures per train ID from the loaded model's card ({} = unknown)."""
        self._quality = dict(quality)
        self.set_fractions(self._fractions)

    def _quality_note(self, train_id: int) -> str:
        if not self._quality or train_id not in self._quality:
            return ""
        quality = self._quality[train_id]
        if quality.iou is None:
            return "\nValidation IoU: the model card gives no figure"
        pixels = f", {quality.truth_pixels:,} px of it" if quality.truth_pixels else ""
        note = f"\nValidation IoU (model card, {quality.split_name}{pixels}): {quality.iou * 100:.1f} %"
        if not quality.in_validation:
            note += ("\nThose images hold no pixels of this class: the figure only counts predictions "
                     "where there was none, not whether the model can see it")
        elif quality.unlearned:
            note += (f"\nNot learned (below {UNLEARNED_IOU * 100:.0f} % on the validation set that holds most "
                     "of it): if this class is not shown, the model may simply be unable to see it. "
                     "Help ▸ About lists every figure of the card")
        return note

    def set_fractions(self, fractions: dict[int, float]) -> None:
        """Show each class's share of the image; rows of absent classes are muted."""
        self._fractions = dict(fractions)
        muted = self.palette().color(self.foregroundRole())
        muted.setAlpha(110)
        normal = self.palette().color(self.foregroundRole())
        for item in self._items():
            info = self._table.by_train_id(item.data(_TRAIN_ID_ROLE))
            share = fractions.get(info.train_id, 0.0)
            quality = self._quality.get(info.train_id)
            name = info.name + ("  (not learned)" if quality is not None and quality.unlearned else "")
            text = f"{name}  {share * 100:.1f} %" if share >= 0.0005 else (
                f"{name}  <0.1 %" if share > 0 else name)
            item.setText(text)
            item.setForeground(normal if share > 0 else muted)
            item.setToolTip(f"{info.name}: train ID {info.train_id}, "
                            f"label IDs {', '.join(map(str, info.label_ids))}"
                            + ("" if share > 0 else " (not in this image)")
                            + self._quality_note(info.train_id))

    # -- events -----------------------------------------------------------------------------
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if not self._updating:
            self._renderer.set_visible(item.data(_TRAIN_ID_ROLE), item.checkState() == Qt.CheckState.Checked)

    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        if QApplication.keyboardModifiers() & Qt.KeyboardModifier.AltModifier:
            self._renderer.solo(item.data(_TRAIN_ID_ROLE))
