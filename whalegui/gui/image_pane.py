"""One photo in a zoomable, draggable view, at full resolution.

The pane is told where to look (a zoom relative to "fit" and the visible centre as fractions of the photo),
so two panes can be kept in step; it reports the user's pans and wheel zooms. Rotation and flips are a view
transform only: the file is never changed.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QResizeEvent, QTransform, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

ZOOM_STEP = 1.25


class ImagePane(QGraphicsView):
    """One photo in a zoomable, draggable view. Reports user pans and wheel zooms; obeys ``show_at``."""

    panned = Signal(float, float)  # visible centre as fractions of the photo
    zoom_requested = Signal(float)  # multiply the shared zoom by this
    shape_changed = Signal()  # another photo, or the same one turned: its width / height may differ

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor("#20262c"))
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAcceptDrops(False)  # drops go to the main window
        self.viewport().setAcceptDrops(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._item)
        self._message = self.scene().addText("")
        self._message.setDefaultTextColor(QColor("#c9d3dd"))
        self.path = ""
        self.rotation = 0
        self.flip_h = False
        self.flip_v = False
        self._zoom = 1.0
        self._centre = (0.5, 0.5)
        self._syncing = False
        self.horizontalScrollBar().valueChanged.connect(self._on_scrolled)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)

    # what it shows
    def set_image(self, path: str, image: QImage | None) -> None:
        self.path = path
        self._item.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        self._message.setPlainText("")
        self._update_geometry()
        self.shape_changed.emit()

    def set_message(self, text: str) -> None:
        self.path = ""
        self._item.setPixmap(QPixmap())
        self._message.setPlainText(text)
        self.scene().setSceneRect(self._message.boundingRect())
        self.resetTransform()
        self.centerOn(self._message)

    def pixmap(self) -> QPixmap:
        return self._item.pixmap()

    def has_image(self) -> bool:
        return not self._item.pixmap().isNull()

    def image_size(self) -> tuple[int, int]:
        pm = self._item.pixmap()
        return pm.width(), pm.height()

    def set_orientation(self, rotation: int, flip_h: bool, flip_v: bool) -> None:
        turned = (rotation - self.rotation) % 180 != 0
        self.rotation, self.flip_h, self.flip_v = rotation % 360, flip_h, flip_v
        self._update_geometry()
        if turned:
            self.shape_changed.emit()

    def aspect(self) -> float | None:
        """Width over height of the photo as shown (turned), or ``None`` without a photo."""
        rect = self.sceneRect()
        if not self.has_image() or rect.height() <= 0:
            return None
        return float(rect.width() / rect.height())

    def _update_geometry(self) -> None:
        pm = self._item.pixmap()
        if pm.isNull():
            return
        w, h = pm.width(), pm.height()
        t = QTransform()
        t.translate(w / 2, h / 2)
        t.rotate(self.rotation)
        t.scale(-1 if self.flip_h else 1, -1 if self.flip_v else 1)
        t.translate(-w / 2, -h / 2)
        self._item.setTransform(t)
        self.scene().setSceneRect(self._item.sceneBoundingRect())
        self.show_at(self._zoom, self._centre)

    # where it looks
    def fit_scale(self) -> float:
        rect = self.sceneRect()
        if rect.isEmpty():
            return 1.0
        vp = self.viewport().size()
        return max(1e-6, min((vp.width() - 2) / rect.width(), (vp.height() - 2) / rect.height()))

    def scale_factor(self) -> float:
        return float(self.transform().m11())

    def show_at(self, zoom: float, centre: tuple[float, float]) -> None:
        """Scale to ``zoom`` x fit and centre on ``centre`` (fractions of the photo)."""
        self._zoom, self._centre = zoom, centre
        if not self.has_image():
            return
        self._syncing = True
        try:
            s = self.fit_scale() * zoom
            self.setTransform(QTransform.fromScale(s, s))
            rect = self.sceneRect()
            self.centerOn(
                QPointF(rect.left() + centre[0] * rect.width(), rect.top() + centre[1] * rect.height())
            )
        finally:
            self._syncing = False

    def visible_centre(self) -> tuple[float, float]:
        rect = self.sceneRect()
        if rect.isEmpty():
            return (0.5, 0.5)
        c = self.mapToScene(self.viewport().rect().center())
        fx = (c.x() - rect.left()) / rect.width()
        fy = (c.y() - rect.top()) / rect.height()
        return (min(max(fx, 0.0), 1.0), min(max(fy, 0.0), 1.0))

    def _on_scrolled(self, _value: int) -> None:
        if not self._syncing and self.has_image():
            self._centre = self.visible_centre()
            self.panned.emit(*self._centre)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_requested.emit(ZOOM_STEP**steps)
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.show_at(self._zoom, self._centre)
