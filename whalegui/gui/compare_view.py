"""Side-by-side review: the query photo left, the selected candidate's photo right, at full resolution.

Zoom is shared (a factor relative to "fit", so photos of different resolutions stay comparable) and so is
the pan position (the visible centre as a fraction of each photo). The query can be rotated and flipped;
that is a view transform only, the file is never changed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QResizeEvent, QTransform, QWheelEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from whalegui.gui.candidate_strip import CandidateStrip, day
from whalegui.gui.controller import Controller, Status
from whalegui.gui.resources import icon

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.25, 64.0


class ImagePane(QGraphicsView):
    """One photo in a zoomable, draggable view. Reports user pans and wheel zooms; obeys ``show_at``."""

    panned = Signal(float, float)  # visible centre as fractions of the photo
    zoom_requested = Signal(float)  # multiply the shared zoom by this

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
        self.rotation, self.flip_h, self.flip_v = rotation % 360, flip_h, flip_v
        self._update_geometry()

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


class CompareView(QWidget):
    """The review: query and candidate side by side, the candidate strip, and the decision buttons."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.zoom = 1.0
        self.centre = (0.5, 0.5)
        self.rotation = 0
        self.flip_h = False
        self.flip_v = False

        self.query_pane = ImagePane(self)
        self.candidate_pane = ImagePane(self)
        self.query_title = QLabel("Query", self)
        self.candidate_title = QLabel("Candidate", self)
        for label in (self.query_title, self.candidate_title):
            label.setObjectName("paneTitle")
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setMinimumWidth(50)
        self.verdict = QLabel("", self)
        self.verdict.setWordWrap(True)

        self.tools = QHBoxLayout()
        self.tools.setContentsMargins(0, 0, 0, 0)
        self.tools.setSpacing(2)
        self.zoom_out_button = self._tool("zoom-out", "Zoom out (-)", lambda: self.zoom_by(1 / ZOOM_STEP))
        self.zoom_in_button = self._tool("zoom-in", "Zoom in (+)", lambda: self.zoom_by(ZOOM_STEP))
        self.fit_button = self._tool("zoom-fit", "Fit both photos to the window (0)", self.fit)
        self.actual_button = self._tool("zoom-100", "Query at full resolution, 1:1 (1)", self.actual_size)
        self.tools.addSpacing(10)
        self.rotate_left_button = self._tool(
            "rotate-left", "Rotate the query left ([)", lambda: self.rotate(-90)
        )
        self.rotate_right_button = self._tool(
            "rotate-right", "Rotate the query right (])", lambda: self.rotate(90)
        )
        self.flip_h_button = self._tool(
            "flip-horizontal", "Flip the query left-right (H)", self.flip_horizontal
        )
        self.flip_v_button = self._tool("flip-vertical", "Flip the query upside down (V)", self.flip_vertical)
        self.zoom_label = QLabel("", self)
        self.zoom_label.setObjectName("hint")
        self.tools.addSpacing(10)
        self.tools.addWidget(self.zoom_label)
        self.tools.addStretch(1)
        self.tools.addWidget(self.verdict, 4)

        left = self._column(self.query_title, self.query_pane)
        right = self._column(self.candidate_title, self.candidate_pane)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([1000, 1000])  # query and candidate get the same room

        self.strip = CandidateStrip(controller, self)
        self.confirm_button = QPushButton(icon("confirm"), "Same whale (Enter)", self)
        self.confirm_button.setObjectName("confirmButton")
        self.confirm_button.setToolTip("Add the query photo to the selected whale")
        self.new_button = QPushButton(icon("new-whale"), "New whale… (N)", self)
        self.new_button.setObjectName("newWhaleButton")
        self.new_button.setToolTip("Enroll the query photo as a whale not in the gallery")
        self.skip_button = QPushButton(icon("skip"), "Skip (S)", self)
        self.skip_button.setToolTip("Decide later: go to the next photo that needs review")
        self.undo_button = QPushButton(icon("undo"), "Undo (Ctrl+Z)", self)
        self.undo_button.setEnabled(False)
        self.keys_hint = QLabel(
            "←/→ candidates · ↑/↓ that whale's photos · wheel or +/- zoom · drag to pan", self
        )
        self.keys_hint.setObjectName("hint")
        for b in (self.confirm_button, self.new_button, self.skip_button, self.undo_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Enter must not "click" whichever button has focus
        buttons = QHBoxLayout()
        buttons.addWidget(self.confirm_button)
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.skip_button)
        buttons.addWidget(self.undo_button)
        buttons.addStretch(1)
        buttons.addWidget(self.keys_hint)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(self.tools)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.strip)
        layout.addLayout(buttons)

        self.confirm_button.clicked.connect(controller.confirm)
        self.skip_button.clicked.connect(controller.skip)
        self.undo_button.clicked.connect(controller.undo)
        for pane in (self.query_pane, self.candidate_pane):
            pane.zoom_requested.connect(self.zoom_by)
            pane.panned.connect(self._on_pane_panned)
        controller.current_entry_changed.connect(self._on_current_entry_changed)
        controller.entry_changed.connect(self._on_entry_changed)
        controller.candidate_selected.connect(self._on_candidate_selected)
        controller.candidate_photo_changed.connect(self._on_candidate_photo_changed)
        controller.query_image_loaded.connect(self._on_query_image_loaded)
        controller.candidate_image_loaded.connect(self._on_candidate_image_loaded)
        controller.undo_changed.connect(self.undo_button.setEnabled)
        self._on_current_entry_changed(controller.current_row)

    def _tool(self, name: str, tip: str, slot: Any) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icon(name))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(slot)
        self.tools.addWidget(button)
        return button

    def _column(self, title: QLabel, pane: ImagePane) -> QWidget:
        w = QWidget(self)
        v = QVBoxLayout(w)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(2)
        v.addWidget(title)
        v.addWidget(pane, 1)
        return w

    # ------------------------------------------------------------------ zoom, pan, orientation

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.zoom * factor)

    def set_zoom(self, zoom: float) -> None:
        self.zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        if self.query_pane.has_image():
            self.centre = self.query_pane.visible_centre()
        self._apply()

    def fit(self) -> None:
        self.zoom, self.centre = 1.0, (0.5, 0.5)
        self._apply()

    def actual_size(self) -> None:
        """Zoom so the query shows one photo pixel per screen pixel."""
        self.set_zoom(1.0 / self.query_pane.fit_scale())

    def rotate(self, degrees: int) -> None:
        self.rotation = (self.rotation + degrees) % 360
        self._apply_orientation()

    def flip_horizontal(self) -> None:
        self.flip_h = not self.flip_h
        self._apply_orientation()

    def flip_vertical(self) -> None:
        self.flip_v = not self.flip_v
        self._apply_orientation()

    def _apply_orientation(self) -> None:
        self.query_pane.set_orientation(self.rotation, self.flip_h, self.flip_v)
        self._apply()

    def _apply(self) -> None:
        for pane in (self.query_pane, self.candidate_pane):
            pane.show_at(self.zoom, self.centre)
        self.zoom_label.setText(f"{self.zoom * 100:.0f}% of fit" if self.query_pane.has_image() else "")

    def _on_pane_panned(self, fx: float, fy: float) -> None:
        self.centre = (fx, fy)
        source = self.sender()
        for pane in (self.query_pane, self.candidate_pane):
            if pane is not source:
                pane.show_at(self.zoom, self.centre)

    # ------------------------------------------------------------------ controller

    def _on_current_entry_changed(self, row: int) -> None:
        entry = self._controller.current_entry()
        self.rotation, self.flip_h, self.flip_v = 0, False, False
        self.query_pane.set_orientation(0, False, False)
        self.zoom, self.centre = 1.0, (0.5, 0.5)
        if entry is None:
            self.query_title.setText("Query")
            self.query_pane.set_message("Choose a photo in the queue,\nor drop photos here.")
        elif entry.status is Status.ERROR:
            self.query_title.setText(f"Query: {entry.name}")
            self.query_pane.set_message(f"This photo cannot be used:\n{entry.reason}")
        else:
            when = entry.taken_at.strftime("%Y-%m-%d %H:%M") if entry.taken_at else "date unknown"
            self.query_title.setText(f"Query: {entry.name} · {when}")
            if self.query_pane.path != str(entry.path):
                self.query_pane.set_message("Loading…")
        self._update_verdict()
        self._update_buttons()

    def _on_entry_changed(self, row: int) -> None:
        if row == self._controller.current_row:
            self._update_verdict()
            self._update_buttons()

    def _update_buttons(self) -> None:
        entry = self._controller.current_entry()
        reviewable = entry is not None and entry.reviewable and self._controller.ready
        self.confirm_button.setEnabled(reviewable and self._controller.current_candidate() is not None)
        self.new_button.setEnabled(reviewable)
        self.skip_button.setEnabled(entry is not None)

    def _update_verdict(self) -> None:
        entry = self._controller.current_entry()
        ident = entry.identification if entry is not None else None
        if entry is None or ident is None or entry.status is Status.ERROR:
            self.verdict.setText("")
            self.verdict.setObjectName("")
        elif entry.status in (Status.MATCHED, Status.NEW):
            note = f" ({entry.reason})" if entry.reason else ""
            self.verdict.setText(f"Done: {entry.status.value} {entry.whale_id}{note}")
            self.verdict.setObjectName("matchBanner")
        elif entry.likely_new:
            nearest = (
                f"the nearest whale is at distance {ident.candidates[0].distance:.3f}"
                if ident.candidates
                else "the gallery is empty"
            )
            self.verdict.setText(
                f"Likely a NEW whale: {nearest}, beyond the threshold {ident.threshold:.2f}."
            )
            self.verdict.setObjectName("newWhaleBanner")
        else:
            best = ident.candidates[0]
            self.verdict.setText(
                f"Best match {best.whale_id} at distance {best.distance:.3f} "
                f"(threshold {ident.threshold:.2f}). Compare, then confirm."
            )
            self.verdict.setObjectName("matchBanner")
        self.verdict.style().unpolish(self.verdict)
        self.verdict.style().polish(self.verdict)

    def _on_candidate_selected(self, index: int) -> None:
        cand = self._controller.current_candidate()
        if cand is None:
            entry = self._controller.current_entry()
            self.candidate_title.setText("Candidate")
            text = (
                "No whales in the gallery yet:\nenroll this one as a new whale (N)."
                if entry is not None and entry.identification is not None and entry.reviewable
                else ""
            )
            self.candidate_pane.set_message(text)
        self._update_buttons()

    def _on_candidate_photo_changed(self, photo_index: int, count: int) -> None:
        cand = self._controller.current_candidate()
        photo = self._controller.current_candidate_photo()
        if cand is None or photo is None:
            return
        label = "best match" if photo_index == 0 else f"taken {day(photo.taken_at)}"
        name = f" {cand.name}" if cand.name else ""
        self.candidate_title.setText(
            f"#{self._controller.candidate_index + 1} {cand.whale_id}{name} · photo "
            f"{photo_index + 1}/{max(count, 1)} ({label})"
        )
        self.candidate_title.setToolTip(
            f"{photo.original_name}, taken {day(photo.taken_at)}; distance {cand.distance:.3f}"
        )
        if self.candidate_pane.path != str(photo.path):
            self.candidate_pane.set_message("Loading…")

    def _on_query_image_loaded(self, path: str, image: QImage) -> None:
        entry = self._controller.current_entry()
        if entry is not None and str(entry.path) == path:
            self.query_pane.set_image(path, image)
            self._apply()

    def _on_candidate_image_loaded(self, path: str, image: QImage) -> None:
        photo = self._controller.current_candidate_photo()
        if photo is not None and str(photo.path) == path:
            self.candidate_pane.set_image(path, image)
            self._apply()

    def scene_rect(self) -> QRectF:
        return self.query_pane.sceneRect()
