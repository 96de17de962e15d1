"""Zoomable, pannable image view that reports which image pixel is under the cursor."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.02, 32.0


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """Wrap a contiguous ``(H, W, 3)`` uint8 array; ``copy()`` detaches it from numpy."""
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888).copy()


EMPTY_HINT = ("Open an image or a folder (File ▸ Open Image…, Ctrl+O), or drop one here.\n"
              "No road images at hand? File ▸ Open Sample Images.")


class ImageView(QGraphicsView):
    sig_hover = Signal(int, int)  # image x, y under the cursor; (-1, -1) when outside

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(Qt.GlobalColor.darkGray)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._fit = True
        self._image_size: tuple[int, int] | None = None
        self._message = EMPTY_HINT

    # -- content -------------------------------------------------------------------------
    def set_rgb(self, rgb: np.ndarray) -> None:
        """Show a new frame. A same-sized frame keeps zoom and scroll (toggles, opacity)."""
        pixmap = QPixmap.fromImage(rgb_to_qimage(rgb))
        size = (pixmap.width(), pixmap.height())
        self._item.setPixmap(pixmap)
        if size != self._image_size:
            self._image_size = size
            self.scene().setSceneRect(self._item.boundingRect())
            if self._fit:
                self.fit_to_window()

    def clear(self, message: str = EMPTY_HINT) -> None:
        """Show no image; ``message`` is drawn in the middle of the empty canvas."""
        self._item.setPixmap(QPixmap())
        self._image_size = None
        self._message = message
        self.viewport().update()

    def message(self) -> str:
        """The text on the empty canvas ("" while an image is shown)."""
        return "" if self._image_size is not None else self._message

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().paintEvent(event)
        if self._image_size is None and self._message:
            painter = QPainter(self.viewport())
            painter.setPen(QColor(235, 235, 235))
            area = self.viewport().rect().adjusted(24, 24, -24, -24)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)
            painter.end()

    def displayed_image(self) -> QImage:
        return self._item.pixmap().toImage()

    # -- zoom -------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float) -> None:
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self._fit = False
        self.resetTransform()
        self.scale(zoom, zoom)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / ZOOM_STEP)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit_to_window(self) -> None:
        self._fit = True
        if self._image_size:
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        if self._fit:
            self.fit_to_window()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom * ZOOM_STEP ** steps)
        event.accept()

    # -- hover ----------------------------------------------------------------------------------
    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        super().mouseMoveEvent(event)
        self._report(event.position())

    def leaveEvent(self, event) -> None:  # noqa: N802
        super().leaveEvent(event)
        self.sig_hover.emit(-1, -1)

    def _report(self, position: QPointF) -> None:
        if not self._image_size:
            return
        scene = self.mapToScene(QPoint(int(position.x()), int(position.y())))
        x, y = int(np.floor(scene.x())), int(np.floor(scene.y()))
        width, height = self._image_size
        inside = 0 <= x < width and 0 <= y < height
        self.sig_hover.emit(x if inside else -1, y if inside else -1)
