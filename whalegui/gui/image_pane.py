"""One photo in a zoomable, draggable view, at full resolution.

The pane is told where to look (a zoom relative to "fit" and the visible centre as fractions of the photo),
so two panes can be kept in step; it reports the user's pans and wheel zooms. Rotation and flips are a view
transform only: the file is never changed.

Overlays (the fluke's box, matched marks) are children of the photo's item, in the photo's pixels, so they
follow zoom, pan, rotation and flips. In drawing mode (or with Shift held) a drag draws a new fluke box and
:attr:`ImagePane.box_drawn` reports it in the photo's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

ZOOM_STEP = 1.25
#: A box as (left, top, right, bottom) in the photo's pixels.
Box = tuple[float, float, float, float]
#: A drag shorter than this many screen pixels either way is a click, not a box.
MIN_DRAG = 6
MARK_RADIUS = 4.0
#: Above this many marks, they are told apart by colour only: numbers would hide the photo.
MAX_NUMBERED = 40


def mark_colour(index: int) -> QColor:
    """The colour of matched pair ``index``: the same on both panes, neighbours far apart in hue."""
    return QColor.fromHsvF((index * 0.618034) % 1.0, 0.85, 1.0)


class ImagePane(QGraphicsView):
    """One photo in a zoomable, draggable view. Reports user pans and wheel zooms; obeys ``show_at``."""

    panned = Signal(float, float)  # visible centre as fractions of the photo
    zoom_requested = Signal(float)  # multiply the shared zoom by this
    shape_changed = Signal()  # another photo, or the same one turned: its width / height may differ
    box_drawn = Signal(object)  # Box: the researcher drew a fluke box, in the photo's pixels

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
        self._box_item = QGraphicsRectItem(self._item)
        self._box_item.setVisible(False)
        self._rubber = QGraphicsRectItem(self._item)
        self._rubber.setPen(_pen(QColor("#ffd54f"), Qt.PenStyle.DashLine))
        self._rubber.setVisible(False)
        self._marks: list[QGraphicsEllipseItem] = []
        self._mark_points: list[tuple[float, float]] = []
        self._drag_from: QPointF | None = None  # where a box drag started, in view pixels
        self.drawing = False
        self.horizontalScrollBar().valueChanged.connect(self._on_scrolled)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)

    # what it shows
    def set_image(self, path: str, image: QImage | None) -> None:
        self.path = path
        self._item.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        self.set_fluke_box(None)
        self.set_marks([])
        self._message.setPlainText("")
        self._update_geometry()
        self.shape_changed.emit()

    def set_message(self, text: str) -> None:
        self.path = ""
        self._item.setPixmap(QPixmap())
        self.set_fluke_box(None)
        self.set_marks([])
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

    # overlays
    def set_fluke_box(self, box: Box | None, colour: QColor | None = None, *, dashed: bool = False) -> None:
        """Outline the fluke's ``box`` (photo pixels); ``None`` hides it. ``dashed``: not confirmed yet."""
        if box is None or not self.has_image():
            self._box_item.setVisible(False)
            return
        left, top, right, bottom = box
        self._box_item.setRect(QRectF(left, top, right - left, bottom - top))
        style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        self._box_item.setPen(_pen(colour if colour is not None else QColor("#4dd0e1"), style))
        self._box_item.setVisible(True)

    def fluke_box(self) -> Box | None:
        """The box outlined, in photo pixels (``None``: none shown)."""
        if not self._box_item.isVisible():
            return None
        r = self._box_item.rect()
        return (r.left(), r.top(), r.right(), r.bottom())

    def set_marks(self, points: Sequence[tuple[float, float]]) -> None:
        """Mark matched keypoints (photo pixels), each in its :func:`mark_colour`; numbered when few."""
        scene = self.scene()
        for mark in self._marks:
            scene.removeItem(mark)
        self._marks = []
        self._mark_points = [(float(x), float(y)) for x, y in points] if self.has_image() else []
        numbered = len(self._mark_points) <= MAX_NUMBERED
        for i, (x, y) in enumerate(self._mark_points):
            colour = mark_colour(i)
            r = MARK_RADIUS
            mark = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r, self._item)
            mark.setPos(x, y)
            # the same size on screen at any zoom, while its place follows the photo
            mark.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            mark.setPen(QPen(QColor("black"), 1))
            mark.setBrush(QBrush(colour))
            if numbered:
                label = QGraphicsSimpleTextItem(str(i + 1), mark)
                label.setBrush(QBrush(colour))
                label.setPos(r + 1, -r - 10)
            self._marks.append(mark)

    def marks(self) -> list[tuple[float, float]]:
        """The marked points, in photo pixels, in order."""
        return list(self._mark_points)

    def mark_view_points(self) -> list[QPointF]:
        """Where the marks are on screen, in this pane's viewport pixels (for lines drawn across panes)."""
        to_scene = self._item.mapToScene
        return [QPointF(self.mapFromScene(to_scene(QPointF(x, y)))) for x, y in self._mark_points]

    # drawing a box
    def set_drawing(self, drawing: bool) -> None:
        """In drawing mode a drag draws a fluke box instead of panning."""
        self.drawing = drawing
        self.setDragMode(QGraphicsView.DragMode.NoDrag if drawing else QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if drawing else Qt.CursorShape.OpenHandCursor)

    def draw_box(self, box: Box) -> None:
        """What a box drag ends in: report ``box`` (photo pixels, clamped to the photo) as drawn."""
        w, h = self.image_size()
        left, right = sorted((min(max(box[0], 0.0), w), min(max(box[2], 0.0), w)))
        top, bottom = sorted((min(max(box[1], 0.0), h), min(max(box[3], 0.0), h)))
        self.box_drawn.emit((left, top, right, bottom))

    def photo_point(self, view_point: QPointF) -> QPointF:
        """A viewport point in the photo's pixels (through zoom, pan, rotation and flips)."""
        return self._item.mapFromScene(self.mapToScene(view_point.toPoint()))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if self.has_image() and event.button() == Qt.MouseButton.LeftButton and (self.drawing or shift):
            self._drag_from = event.position()
            self._update_rubber(event.position())
            self._rubber.setVisible(True)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            self._update_rubber(event.position())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        start, self._drag_from = self._drag_from, None
        if start is None:
            super().mouseReleaseEvent(event)
            return
        self._rubber.setVisible(False)
        event.accept()
        end = event.position()
        if abs(end.x() - start.x()) < MIN_DRAG or abs(end.y() - start.y()) < MIN_DRAG:
            return  # a click
        a, b = self.photo_point(start), self.photo_point(end)
        self.draw_box((min(a.x(), b.x()), min(a.y(), b.y()), max(a.x(), b.x()), max(a.y(), b.y())))

    def _update_rubber(self, to: QPointF) -> None:
        if self._drag_from is None:
            return
        a, b = self.photo_point(self._drag_from), self.photo_point(to)
        self._rubber.setRect(QRectF(a, b).normalized())


def _pen(colour: QColor, style: Qt.PenStyle) -> QPen:
    pen = QPen(colour, 2, style)
    pen.setCosmetic(True)  # two screen pixels wide at any zoom
    return pen
