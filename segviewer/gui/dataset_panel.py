"""The Dataset panel: what Evaluate Folder found, as a per-class IoU bar chart in the
classes' colours, a row-normalised confusion heat map (hover: pixel count; click: sort the
images by that confusion) and a sortable table of the images (click: open it with the
error map). Plots are pyqtgraph's; the scores come from :mod:`segviewer.core.dataset_eval`."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from segviewer.core.classes import ClassTable
from segviewer.core.dataset_eval import DatasetScores, from_document, result_paths, save_result
from segviewer.core.datasets import CAMVID_TO_TRAIN
from segviewer.core.errors import SegviewerError
from segviewer.core.overlay import OverlayRenderer
from segviewer.core.truth_space import space_for
from segviewer.gui.image_table import ImageRow, ImageTable

ABSENT_GREY = (110, 110, 110)
# The confusion matrix's columns are narrow: three letters, the full name in the hover line.
COLUMN_NAMES = {"road": "rd", "sidewalk": "swk", "building": "bld", "wall": "wal", "fence": "fnc", "pole": "pol",
                "traffic light": "tl", "traffic sign": "ts", "vegetation": "veg", "terrain": "ter", "sky": "sky",
                "person": "per", "rider": "rid", "car": "car", "truck": "trk", "bus": "bus", "train": "trn",
                "motorcycle": "mc", "bicycle": "bic", "Sky": "Sky", "Building": "Bld", "Pole": "Pol", "Road": "Rd",
                "Pavement": "Pav", "Tree": "Tre", "SignSymbol": "Sgn", "Fence": "Fnc", "Car": "Car",
                "Pedestrian": "Ped", "Bicyclist": "Bcy"}


def signed(points: float) -> str:
    """A change in points, "±0.0" when it rounds to nothing (never "-0.0")."""
    return "±0.0" if round(points, 1) == 0 else f"{points:+.1f}"


class DatasetPanel(QWidget):
    sig_open_image = Signal(object)  # the Path of a row's image

    def __init__(self, table: ClassTable, renderer: OverlayRenderer, parent=None) -> None:
        super().__init__(parent)
        self._class_table = table
        # The bars are filled as the overlay paints their classes: a hidden class, or
        # Image only, leaves an outline; the opacity slider fades them.
        self._renderer = renderer
        self._bar_data: tuple | None = None
        self.bar_items: list[pg.BarGraphItem] = []
        renderer.subscribe(self._restyle_bars)
        self.result: DatasetScores | None = None
        self.layout_name: str | None = None
        self.names: list[str] = []
        self.chosen_cell: tuple[int, int] | None = None
        self._last_opened: tuple[Path, float] | None = None
        self._results_folder: Path | None = None  # where results were last saved or opened
        self.summary = QLabel("Evaluate a folder of images with ground truth (File ▸ Evaluate Folder…), or open "
                              "saved results (File ▸ Open Results…).", self)
        self.summary.setWordWrap(True)
        # A folder mixing datasets is scored in each one's class space: pick which to show.
        self.space_combo = QComboBox(self)
        self.space_combo.setToolTip("The folder mixes datasets: each is scored in its own class space")
        self.space_combo.currentIndexChanged.connect(self._on_space_chosen)
        self.space_row = QWidget(self)
        space_layout = QHBoxLayout(self.space_row)
        space_layout.setContentsMargins(0, 0, 0, 0)
        space_layout.addWidget(QLabel("Class space:", self))
        space_layout.addWidget(self.space_combo, 1)
        self.space_row.hide()
        self.heat_label = QLabel("Hover a cell for its pixel count; click it to sort the images by it.", self)
        self.heat_label.setWordWrap(True)
        self.class_combo = QComboBox(self)
        self.class_combo.setToolTip("The class whose IoU the table's fourth column shows")
        self.class_combo.currentIndexChanged.connect(lambda _i: self._fill_table())
        self.images = ImageTable(self)
        self.images.clicked.connect(lambda index: self.open_row(index.row()))
        self.images.activated.connect(lambda index: self.open_row(index.row()))  # Enter on a row, too
        table_box = QWidget(self)
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("IoU column:", self))
        row.addWidget(self.class_combo, 1)
        self.save_button = QPushButton("Save Results…", self)
        self.save_button.setToolTip("The JSON and confusion CSV `segviewer evaluate --model` writes; "
                                    "the JSON opens again without the network")
        self.save_button.clicked.connect(self.save_dialog)
        self.open_button = QPushButton("Open Results…", self)
        self.open_button.clicked.connect(self.open_dialog)
        row.addWidget(self.save_button)
        row.addWidget(self.open_button)
        table_layout.addLayout(row)
        table_layout.addWidget(self.images)
        # The plots one above the other on the left (self.splitter), the table beside them
        # at full height (at least 12 rows at 820 pixels).
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.columns = QSplitter(Qt.Orientation.Horizontal, self)
        self.columns.addWidget(self.splitter)
        self.columns.addWidget(table_box)
        self.columns.setStretchFactor(0, 3)
        self.columns.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.space_row)
        layout.addWidget(self.columns, 1)
        layout.addWidget(self.heat_label)
        # Each plot takes tens of ms to make: one per event-loop turn keeps the window
        # responsive while an evaluation runs.
        self.bars: pg.PlotWidget | None = None
        self.heat: pg.PlotWidget | None = None
        QTimer.singleShot(0, self._make_bar_plot)

    def _make_bar_plot(self) -> None:
        if self.bars is not None:
            return
        self.bars = pg.PlotWidget(background="w", enableMenu=False)  # no pan/zoom menus: fixed plots
        # Horizontal bars: every class name reads along its bar, in full.
        self.bars.setMinimumHeight(280)
        self.bars.setLabel("bottom", "IoU %")
        self.bars.setXRange(0, 100)
        self.bars.getPlotItem().invertY(True)
        for side in ("left", "bottom"):
            self.bars.getAxis(side).enableAutoSIPrefix(False)
        self.bars.setMouseEnabled(False, False)
        self.splitter.insertWidget(0, self.bars)
        QTimer.singleShot(0, self._make_heat_plot)  # the next turn: the window repaints between the two

    def _make_heat_plot(self) -> None:
        if self.heat is not None:
            return
        self.heat = pg.PlotWidget(background="w", enableMenu=False)  # no pan/zoom menus: fixed plots
        self.heat.setMinimumHeight(260)
        self.heat.invertY(True)
        self.heat.setAspectLocked(True)
        self.heat.setLabel("left", "truth")
        self.heat.setLabel("bottom", "predicted (v = void; hover a cell for the names)")
        self.heat.showAxis("top")
        for side in ("left", "bottom", "top"):  # class ticks, never "(x0.001)" on an empty plot
            self.heat.getAxis(side).enableAutoSIPrefix(False)
        self.heat.setMouseEnabled(False, False)
        small = self.heat.font()
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.8))
        self.heat.getAxis("bottom").setStyle(tickFont=small)
        self.heat.getAxis("left").setStyle(tickFont=small)
        self.heat.getAxis("top").setStyle(tickFont=small)
        self._image = pg.ImageItem()
        self._image.setColorMap(pg.colormap.get("viridis"))
        self.heat.addItem(self._image)
        # The colour scale: a cell's colour is the share of its truth row.
        self.colour_bar = pg.ColorBarItem(values=(0, 100), colorMap=pg.colormap.get("viridis"), interactive=False,
                                          label="% of the truth row", width=12)
        self.colour_bar.setImageItem(self._image, insert_in=self.heat.getPlotItem())
        self.heat.scene().sigMouseMoved.connect(self._on_heat_hover)
        self.heat.scene().sigMouseClicked.connect(self._on_heat_click)
        self.splitter.insertWidget(1 if self.bars is not None else 0, self.heat)
        for index, stretch in enumerate((1, 1)[-self.splitter.count():]):
            self.splitter.setStretchFactor(index, stretch)

    # -- filling ----------------------------------------------------------------------------
    def show_result(self, result: DatasetScores, space: str | None = None) -> None:
        """Show ``result`` in class space ``space`` (default: the one most images are in)."""
        self._make_bar_plot()
        self._make_heat_plot()
        self.result, self.chosen_cell = result, None
        self.heat_label.setText("Hover a cell for its pixel count; click it to sort the images by it.")
        self.layout_name = space if space in result.spaces() else result.main_space()
        self._list_spaces(result)
        scored = [i for i in result.images if i.confusion and i.layout == self.layout_name]
        if self.layout_name is None:
            self.summary.setText(f"{len(result.images)} image(s), none with ground truth: nothing to score.")
            self.names, self._bar_data = [], None
            self.bars.clear()
            self._fill_table()
            return
        space = space_for(self.layout_name)
        self.names = space.class_names(self._class_table)
        scores = result.scores(self.layout_name)
        stopped = " (cancelled: the images before the stop)" if result.stopped else ""
        text = (f"<b>{result.model_names[0]}</b> on {len(scored)} {self.layout_name} image(s){stopped}: "
                f"mean IoU <b>{scores.mean_iou * 100:.1f} %</b> over {int(scores.scored.sum())} classes "
                f"(the benchmark rule), pixel accuracy {scores.pixel_accuracy * 100:.1f} %")
        other = result.scores(self.layout_name, 1) if self.comparing else None
        if other is not None:
            delta = (other.per_class_iou - scores.per_class_iou) * 100
            ranked = [i for i in np.argsort(np.nan_to_num(delta)) if not math.isnan(delta[i])]
            moves = ", ".join(f"{self.names[i]} {signed(delta[i])}" for i in [*ranked[:2], *ranked[-2:]])
            text = (f"A = <b>{result.model_names[0]}</b>, B = <b>{result.model_names[1]}</b> on {len(scored)} "
                    f"{self.layout_name} image(s){stopped}: mean IoU A {scores.mean_iou * 100:.1f} %, "
                    f"B {other.mean_iou * 100:.1f} % (B − A {signed((other.mean_iou - scores.mean_iou) * 100)}); "
                    f"biggest per-class moves: {moves}. Solid bars A, pale bars B, B − A at the end of each pair.")
        self.summary.setText(text)
        self._draw_bars(scores.per_class_iou, scores.present, None if other is None else other.per_class_iou)
        self._draw_heat(result.total_confusion(self.layout_name))
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItems(self.names)
        self.class_combo.blockSignals(False)
        self._fill_table()

    def _list_spaces(self, result: DatasetScores) -> None:
        spaces = result.spaces()
        self.space_combo.blockSignals(True)
        self.space_combo.clear()
        for layout in spaces:
            self.space_combo.addItem(f"{layout} ({result.image_count(layout)} image(s))", layout)
        if self.layout_name in spaces:
            self.space_combo.setCurrentIndex(spaces.index(self.layout_name))
        self.space_combo.blockSignals(False)
        self.space_row.setVisible(len(spaces) > 1)

    def _on_space_chosen(self, index: int) -> None:
        layout = self.space_combo.itemData(index)
        if self.result is not None and layout and layout != self.layout_name:
            self.show_result(self.result, layout)

    def _train_id(self, index: int) -> int:
        """Class ``index`` of the shown space as a train ID (a merged CamVid class: its main one)."""
        return int(CAMVID_TO_TRAIN[index]) if space_for(self.layout_name).merged else index

    def _colour(self, index: int) -> tuple[int, int, int]:
        return self._class_table.by_train_id(self._train_id(index)).color

    @property
    def comparing(self) -> bool:
        return self.result is not None and len(self.result.model_names) == 2

    def _fill_alpha(self, index: int) -> int:
        return int(self._renderer.lut[self._train_id(index), 3])

    def _restyle_bars(self) -> None:
        if self._bar_data is not None and self.bars is not None:
            self._draw_bars(*self._bar_data)

    def _draw_bars(self, iou: np.ndarray, present: np.ndarray, iou_b: np.ndarray | None = None) -> None:
        self._bar_data = (iou, present, iou_b)
        self.bars.clear()
        colours = [self._colour(i) if present[i] else ABSENT_GREY for i in range(len(iou))]
        alphas = [self._fill_alpha(i) for i in range(len(iou))]
        y = np.arange(len(iou), dtype=float)
        thickness = 0.8 if iou_b is None else 0.4
        series = [(y - (0 if iou_b is None else 0.2), iou, 1.0)]
        if iou_b is not None:
            series.append((y + 0.2, iou_b, 0.45))  # B: the same colours, paler
        self.bar_items = [pg.BarGraphItem(x0=0, y=positions, width=np.nan_to_num(values * 100.0), height=thickness,
                                          brushes=[pg.mkBrush(*c, round(a * pale)) for c, a in zip(colours, alphas)],
                                          pens=[pg.mkPen(*c) for c in colours])
                          for positions, values, pale in series]
        for item in self.bar_items:
            self.bars.addItem(item)
        if iou_b is not None:  # B - A at the end of each class's pair of bars, on its own row: never overlapping
            for index, delta in enumerate((iou_b - iou) * 100.0):
                if not math.isnan(delta):
                    label = pg.TextItem(signed(delta), color=(0, 110, 0) if delta >= 0 else (190, 0, 0),
                                        anchor=(0.0, 0.5))
                    label.setPos(max(np.nan_to_num(iou[index]), np.nan_to_num(iou_b[index])) * 100.0 + 1, index)
                    self.bars.addItem(label)
        # Absent classes (no pixel in the truth) are named in brackets.
        ticks = [(i, name if present[i] else f"({name})") for i, name in enumerate(self.names)]
        self.bars.getAxis("left").setTicks([ticks])
        self.bars.setYRange(-0.6, len(iou) - 0.4)
        self.bars.setXRange(0, 100 if iou_b is None else 112)

    def _draw_heat(self, confusion: np.ndarray) -> None:
        rows = confusion.sum(axis=1, keepdims=True).astype(np.float64)
        normalised = np.divide(confusion, rows, out=np.zeros(confusion.shape), where=rows > 0)
        self._confusion = confusion
        # ImageItem indexes [x, y]: columns (predicted) along x, rows (truth) along y.
        self._image.setImage(normalised.T * 100.0, levels=(0.0, 100.0))
        labels = [(i + 0.5, name) for i, name in enumerate(self.names)]
        self.heat.getAxis("left").setTicks([labels])
        # Every second column is named along the top, the others along the bottom: twice
        # the room for each name.
        columns = [(i + 0.5, COLUMN_NAMES.get(name, name[:3])) for i, name in enumerate(self.names)]
        columns.append((len(self.names) + 0.5, "v"))
        self.heat.getAxis("bottom").setTicks([columns[0::2]])
        self.heat.getAxis("top").setTicks([columns[1::2]])

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        """(truth row, predicted column) under a scene point of the heat map."""
        if self.result is None or not self.names:
            return None
        point = self.heat.getPlotItem().vb.mapSceneToView(scene_pos)
        col, row = int(math.floor(point.x())), int(math.floor(point.y()))
        if 0 <= row < len(self.names) and 0 <= col <= len(self.names):
            return row, col
        return None

    def describe_cell(self, row: int, col: int) -> str:
        count = int(self._confusion[row, col])
        total = int(self._confusion[row].sum())
        predicted = self.names[col] if col < len(self.names) else "void / other"
        share = f" ({count / total * 100:.1f} % of {self.names[row]})" if total else ""
        return f"truth {self.names[row]} → predicted {predicted}: {count:,} px{share}"

    def _on_heat_hover(self, scene_pos) -> None:
        cell = self.cell_at(scene_pos)
        if cell is not None:
            self.heat_label.setText(self.describe_cell(*cell))

    def _on_heat_click(self, event) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.choose_cell(*cell)

    def choose_cell(self, row: int, col: int) -> None:
        """Sort the images by their pixels of this confusion, most first."""
        self.chosen_cell = (row, col)
        self.heat_label.setText(self.describe_cell(row, col) + " — images sorted by it")
        self._fill_table()
        self.images.sortByColumn(4, Qt.SortOrder.DescendingOrder)
        self.images.scrollTo(self.images.model().index(0, 4))  # the sorted column in view

    def _fill_table(self) -> None:
        images = [] if self.result is None else self.result.images
        chosen_class = self.class_combo.currentIndex()
        header = self.names[chosen_class] if 0 <= chosen_class < len(self.names) else "class"
        # Short headers, so every column fits beside the plots; the chosen confusion as
        # "truth → predicted" in the three-letter names of the heat map's columns.
        cell_name = "Confusion"
        if self.chosen_cell:
            row, col = self.chosen_cell
            predicted = self.names[col] if col < len(self.names) else "void"
            cell_name = f"{COLUMN_NAMES.get(self.names[row], self.names[row])}→{COLUMN_NAMES.get(predicted, predicted)}"
        headers = ["Image", "mIoU %", "Acc %", f"{header} %", f"{cell_name} px"]
        digits = (1, 1, 1, 0) + (1, 1) * self.comparing
        if self.comparing:
            headers += ["B − A mean IoU", "A/B disagree %"]
        rows = []
        for image in images:
            scores = image.scores() if image.confusion and image.layout == self.layout_name else None
            values: list[float | None] = [None, None, None, None]
            if scores is not None:
                iou = scores.per_class_iou[chosen_class] if 0 <= chosen_class < len(self.names) else None
                cell = int(image.confusion[0][self.chosen_cell]) if self.chosen_cell else None
                values = [scores.mean_iou * 100, scores.pixel_accuracy * 100,
                          None if iou is None or math.isnan(iou) else iou * 100, cell]
            if self.comparing:
                other = image.scores(1) if scores is not None and len(image.confusion) > 1 else None
                values += [None if other is None else (other.mean_iou - scores.mean_iou) * 100,
                           None if image.disagreement is None else image.disagreement * 100]
            rows.append(ImageRow(image.path, image.note or str(image.path), tuple(values), digits))
        self.images.source.set_rows(headers, rows)
        self.images.resizeColumnsToContents()

    def open_row(self, row: int) -> None:
        """Open the image of table row ``row`` (as sorted now) with its error map."""
        if not 0 <= row < self.images.row_count():
            return
        path, now = self.images.path(row), time.monotonic()
        # A double-click is a click and an activation: one image, opened once.
        if self._last_opened is not None and self._last_opened[0] == path and now - self._last_opened[1] < 1.0:
            return
        self._last_opened = (path, now)
        self.sig_open_image.emit(path)

    # -- saved results ---------------------------------------------------------------------------
    def save_dialog(self) -> None:
        if self.result is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save evaluation (the confusion CSV goes beside it)",
                                              str(self._start_folder() / "evaluation.json"), "JSON (*.json)")
        if path:
            # The dialog itself asked about the JSON; the CSVs beside it are asked about here.
            self.save(Path(path), confirmed=[Path(path)])

    def _start_folder(self) -> Path:
        """The folder results were last saved in or opened from, else the evaluated images'."""
        if self._results_folder is not None and self._results_folder.is_dir():
            return self._results_folder
        images = [image.path for image in self.result.images] if self.result is not None else []
        return images[0].parent if images else Path.home()

    def confirm_replace(self, existing: list[Path]) -> bool:
        """Ask before replacing files the save would write over (as Save All asks)."""
        answer = QMessageBox.question(
            self, "Replace files?",
            "These files exist and would be replaced:\n" + "\n".join(str(p) for p in existing),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def save(self, path: Path, confirmed: list[Path] = ()) -> list[Path]:
        """The JSON at ``path`` and the confusion CSV(s) beside it, as ``segviewer evaluate``
        writes them; the files written (none, said in the panel, when it fails or the user
        would rather keep the files it would replace)."""
        try:
            planned = result_paths(self.result, path, path.with_suffix(".csv"))
            existing = [p for p in planned if p.exists() and p not in confirmed]
            if existing and not self.confirm_replace(existing):
                self.heat_label.setText("Not saved: kept " + ", ".join(p.name for p in existing))
                return []
            written = save_result(self.result, path, path.with_suffix(".csv"))
        except SegviewerError as error:
            self.summary.setText(f"Not saved: {error}")
            return []
        self._results_folder = path.parent
        self.heat_label.setText("Saved " + ", ".join(p.name for p in written) + f" in {path.parent}")
        return written

    def open_dialog(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(self, "Open evaluation", str(self._start_folder()), "JSON (*.json)")
        return bool(path) and self.open(Path(path))

    def open(self, path: Path) -> bool:
        """Show a saved result (no network run); False, said in the panel, when unreadable."""
        try:
            result = from_document(json.loads(path.read_text(encoding="utf-8")))
        except RecursionError:  # nested deeper than any saved result
            self.summary.setText(f"{path}: not a saved evaluation (nested too deeply)")
            return False
        except (OSError, ValueError, KeyError, TypeError) as error:
            self.summary.setText(f"{path}: not a saved evaluation ({error})")
            return False
        self.show_result(result)
        return True
