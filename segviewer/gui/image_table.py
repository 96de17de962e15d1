"""The Dataset panel's image table as a Qt model: one row per evaluated image, sortable by
any number column (missing values last). A model, not a table of items, so a folder of
thousands of frames fills in milliseconds and only the visible rows are ever drawn."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2
_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class ImageRow:
    path: Path
    tooltip: str
    values: tuple[float | None, ...]  # one per number column; None = no score
    digits: tuple[int, ...]          # decimals shown per number column


class ImageTableModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._headers: list[str] = ["Image"]
        self._rows: list[ImageRow] = []

    def set_rows(self, headers: list[str], rows: list[ImageRow]) -> None:
        self.beginResetModel()
        self._headers, self._rows = headers, rows
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._headers)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self._headers[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        row = self._rows[index.row()]
        column = index.column()
        if role == PATH_ROLE:
            return str(row.path)
        if column == 0:
            if role in (Qt.ItemDataRole.DisplayRole, SORT_ROLE):
                return row.path.name
            return row.tooltip if role == Qt.ItemDataRole.ToolTipRole else None
        value = row.values[column - 1]
        missing = value is None or math.isnan(value)
        if role == Qt.ItemDataRole.DisplayRole:
            return "—" if missing else f"{value:,.{row.digits[column - 1]}f}"
        if role == SORT_ROLE:
            return -math.inf if missing else float(value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ImageTable(QTableView):
    """The view: sorting through a proxy, so the model keeps the evaluation's order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = ImageTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.source)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)  # more rows in view
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the evaluation's order until a header is clicked

    def text(self, row: int, column: int) -> str:
        """What row ``row`` (as sorted now) shows in ``column``."""
        return self.proxy.data(self.proxy.index(row, column))

    def path(self, row: int) -> Path:
        return Path(self.proxy.data(self.proxy.index(row, 0), PATH_ROLE))

    def row_count(self) -> int:
        return self.proxy.rowCount()

    def column_count(self) -> int:
        return self.proxy.columnCount()
