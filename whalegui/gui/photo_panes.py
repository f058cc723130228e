"""The query and the candidate photo, each under its title, in a splitter that follows the photos' shape.

A fluke photo is usually much wider than high. Side by side, two wide photos fill a third of a laptop
screen's height and leave the rest dark; one above the other they can be shown larger. So the panes are
placed whichever way shows both photos larger, and their heights follow the photos at the width they get
(the room left over stays below them instead of as dark bands around the photos).

When both panes mark matched keypoints, a see-through layer over them joins each pair with a line in the
pair's colour, wherever zoom and pan have put the two points.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QSplitter, QVBoxLayout, QWidget

from whalegui.gui.elided_label import ElidedLabel
from whalegui.gui.image_pane import ImagePane, mark_colour

#: Width over height assumed before a photo has loaded (a typical fluke crop).
DEFAULT_ASPECT = 2.5
#: The other placement is taken only when it shows the photos this much larger (no flicker when resizing).
SWITCH_GAIN = 1.15


class PhotoPanes(QWidget):
    """Two titled image panes in a splitter, placed to show the photos large."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.query_title = ElidedLabel("Query", self)
        self.candidate_title = ElidedLabel("Candidate", self)
        self.query_pane = ImagePane(self)
        self.candidate_pane = ImagePane(self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setChildrenCollapsible(False)
        for title, pane in ((self.query_title, self.query_pane), (self.candidate_title, self.candidate_pane)):
            title.setObjectName("paneTitle")
            column = QWidget(self.splitter)
            box = QVBoxLayout(column)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(2)
            box.addWidget(title)
            box.addWidget(pane, 1)
            self.splitter.addWidget(column)
            pane.shape_changed.connect(self.relayout)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._aspects = (DEFAULT_ASPECT, DEFAULT_ASPECT)
        self.match_lines = MatchLines(self)
        for pane in (self.query_pane, self.candidate_pane):
            for bar in (pane.horizontalScrollBar(), pane.verticalScrollBar()):
                bar.valueChanged.connect(self.match_lines.update)
        self.splitter.splitterMoved.connect(self.match_lines.update)

    def sizeHint(self) -> QSize:
        return QSize(800, 420)

    def minimumSizeHint(self) -> QSize:
        return QSize(240, 160)

    @property
    def orientation(self) -> Qt.Orientation:
        """``Horizontal``: side by side; ``Vertical``: the query above the candidate."""
        return self.splitter.orientation()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.relayout()

    def relayout(self) -> None:
        """Place and size the panes for the photos shown and the room there is."""
        self.match_lines.setGeometry(self.rect())
        self.match_lines.raise_()
        self.match_lines.update()
        width, height = self.width(), self.height()
        if width <= 0 or height <= 0:
            return
        self._aspects = (
            self.query_pane.aspect() or self._aspects[0],
            self.candidate_pane.aspect() or self._aspects[1],
        )
        title = self.query_title.sizeHint().height() + 2
        handle = self.splitter.handleWidth()
        side = _shown(self._aspects, (width - handle) / 2, height - title)
        stacked = _shown(self._aspects, width, (height - handle) / 2 - title)
        current = self.orientation
        mine, other = (side, stacked) if current is Qt.Orientation.Horizontal else (stacked, side)
        if other > mine * SWITCH_GAIN:
            flipped = {Qt.Orientation.Horizontal: Qt.Orientation.Vertical}
            current = flipped.get(current, Qt.Orientation.Horizontal)
            self.splitter.setOrientation(current)
        if current is Qt.Orientation.Horizontal:
            pane_w = (width - handle) / 2
            tallest = max(pane_w / a for a in self._aspects) + title
            used = min(height, math.ceil(tallest) + 2)
            self.splitter.setGeometry(0, 0, width, used)
            self.splitter.setSizes([width // 2, width - width // 2])
        else:
            needed = [math.ceil(width / a) + title + 2 for a in self._aspects]
            room = height - handle
            if sum(needed) > room:  # not enough height to show both at full width: share it evenly
                needed = [room // 2, room - room // 2]
            self.splitter.setGeometry(0, 0, width, sum(needed) + handle)
            self.splitter.setSizes(needed)


def _shown(aspects: tuple[float, float], pane_w: float, pane_h: float) -> float:
    """The smaller of the two photos' areas when each is fitted into a ``pane_w`` x ``pane_h`` pane."""
    if pane_w <= 0 or pane_h <= 0:
        return 0.0
    areas = []
    for aspect in aspects:
        w = min(pane_w, pane_h * aspect)
        areas.append(w * w / aspect)
    return min(areas)


class MatchLines(QWidget):
    """A see-through layer over the panes that joins each matched pair of marks with a line."""

    def __init__(self, panes: PhotoPanes) -> None:
        super().__init__(panes)
        self._panes = panes
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)

    def lines(self) -> list[tuple[QPointF, QPointF]]:
        """The pairs' ends in this layer's pixels, query end first (pairs off either pane's view left out)."""
        q, c = self._panes.query_pane, self._panes.candidate_pane
        out = []
        for a, b in zip(q.mark_view_points(), c.mark_view_points(), strict=False):
            if q.viewport().rect().contains(a.toPoint()) and c.viewport().rect().contains(b.toPoint()):
                out.append((QPointF(q.viewport().mapTo(self._panes, a.toPoint())),
                            QPointF(c.viewport().mapTo(self._panes, b.toPoint()))))
        return out

    def paintEvent(self, event: QPaintEvent) -> None:
        lines = self.lines()
        if not lines:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setClipRect(QRectF(self.rect()))
        for i, (a, b) in enumerate(lines):
            colour = mark_colour(i)
            colour.setAlpha(170)
            painter.setPen(QPen(colour, 1.5))
            painter.drawLine(a, b)
        painter.end()
