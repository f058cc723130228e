"""Where a whale was seen, drawn offline: its positioned sightings on latitude/longitude axes.

No map tiles, no network: a plain plot with labelled ticks, a dot per sighting joined in time order, the
latest highlighted. The axes keep the map's proportions at that latitude (a degree of longitude is
cos(latitude) of a degree of latitude), so a track looks as it would on a chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from whalegui.core.sightings import SightingRecord

LINE, DOT, LATEST, SELECTED = QColor("#7fa7c9"), QColor("#1f6fb5"), QColor("#e65100"), QColor("#2e7d32")
GRID, AXIS_TEXT = QColor("#e3e8ee"), QColor("#4a5866")
#: The smallest span shown (degrees), so one sighting or a few close ones still get readable axes.
MIN_SPAN = 0.02


@dataclass(frozen=True)
class PlotPoint:
    """One positioned sighting on the plot."""

    sighting_id: int
    lat: float
    lon: float
    label: str  # its date


def nice_ticks(lo: float, hi: float, most: int) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) inside [lo, hi]: the finest such step that
    gives at most ``most`` of them."""
    span = hi - lo
    if span <= 0 or most < 1:
        return [lo]
    power = 10 ** math.floor(math.log10(span / most))
    for step in (m * p for p in (power / 10, power, power * 10) for m in (1, 2, 5)):
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        if last - first + 1 <= most:
            return [round(k * step, 10) for k in range(first, last + 1)]
    return [round((lo + hi) / 2, 10)]


def degrees(value: float, step: float, positive: str, negative: str) -> str:
    """``64.05° N``: as many decimals as the tick step needs."""
    decimals = max(0, min(5, -math.floor(math.log10(step)) if step > 0 else 0))
    if value > 180:  # a longitude unwrapped across the antimeridian
        value -= 360
    return f"{abs(value):.{decimals}f}° {positive if value >= 0 else negative}"


class PositionPlot(QWidget):
    """A latitude/longitude plot of a whale's sightings (those with a position)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._points: list[PlotPoint] = []
        self._selected: int | None = None
        self._view = (0.0, 1.0, 0.0, 1.0)  # lat_lo, lat_hi, lon_lo, lon_hi
        self.setMinimumSize(220, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Where the whale was seen (positions only; no map is downloaded)")

    @property
    def points(self) -> list[PlotPoint]:
        """The plotted sightings, in time order (the last is the latest)."""
        return list(self._points)

    def set_sightings(self, records: Sequence[SightingRecord]) -> None:
        """Plot the positioned ones of ``records`` (oldest first, as the gallery lists them)."""
        placed = [r for r in records if r.sighting.position is not None]
        lons = [r.sighting.position[1] for r in placed if r.sighting.position is not None]
        # a track across the antimeridian (179.9 E, then 179.9 W) is drawn as one: west longitudes + 360
        wrap = 360.0 if lons and max(lons) - min(lons) > 180 else 0.0
        self._points = [
            PlotPoint(r.sighting_id, r.sighting.position[0],
                      r.sighting.position[1] + (wrap if r.sighting.position[1] < 0 else 0.0),
                      r.sighting.when[:10] or "undated")
            for r in placed if r.sighting.position is not None
        ]
        if self._selected not in {p.sighting_id for p in self._points}:
            self._selected = None
        self.update()

    def set_selected(self, sighting_id: int | None) -> None:
        """Ring the point of one sighting (the one chosen in the history list)."""
        self._selected = sighting_id
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, 260)

    # ------------------------------------------------------------------ geometry

    def plot_rect(self) -> QRectF:
        """Where the points are drawn (inside the axes' labels)."""
        fm = self.fontMetrics()
        left = fm.horizontalAdvance("00.000° N") + 10
        return QRectF(left, 8, max(self.width() - left - 12, 10),
                      max(self.height() - 8 - fm.height() - 12, 10))

    def _fit(self, rect: QRectF) -> None:
        lats = [p.lat for p in self._points]
        lons = [p.lon for p in self._points]
        lat_mid, lon_mid = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
        shrink = max(math.cos(math.radians(lat_mid)), 0.05)  # longitude degrees are shorter up north
        lat_span = max(max(lats) - min(lats), MIN_SPAN) * 1.25
        lon_span = max(max(lons) - min(lons), MIN_SPAN) * 1.25
        # equal distances on both axes: widen whichever span is too small for the rectangle's shape
        per_px = max(lat_span / rect.height(), lon_span * shrink / rect.width())
        lat_span, lon_span = per_px * rect.height(), per_px * rect.width() / shrink
        self._view = (lat_mid - lat_span / 2, lat_mid + lat_span / 2, lon_mid - lon_span / 2,
                      lon_mid + lon_span / 2)

    def map_point(self, lat: float, lon: float) -> QPointF:
        """Where (lat, lon) is drawn, in the widget's pixels (after a paint or :meth:`refit`)."""
        rect = self.plot_rect()
        lat_lo, lat_hi, lon_lo, lon_hi = self._view
        x = rect.left() + (lon - lon_lo) / (lon_hi - lon_lo) * rect.width()
        y = rect.bottom() - (lat - lat_lo) / (lat_hi - lat_lo) * rect.height()
        return QPointF(x, y)

    def refit(self) -> None:
        """Fit the axes to the points and the widget's size now."""
        if self._points:
            self._fit(self.plot_rect())

    # ------------------------------------------------------------------ painting

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        rect = self.plot_rect()
        if not self._points:
            painter.setPen(AXIS_TEXT)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "No position recorded\nfor these sightings")
            painter.end()
            return
        self._fit(rect)
        self._paint_axes(painter, rect)
        painter.setClipRect(rect.adjusted(-8, -8, 8, 8))
        spots = [self.map_point(p.lat, p.lon) for p in self._points]
        if len(spots) > 1:
            path = QPainterPath(spots[0])
            for spot in spots[1:]:
                path.lineTo(spot)
            painter.setPen(QPen(LINE, 1.6))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
        fm = painter.fontMetrics()
        taken = [QRectF(spot.x() - 7, spot.y() - 7, 14, 14) for spot in spots]  # labels avoid the dots
        # the latest first: its label gets the best place
        for i in reversed(range(len(spots))):
            point, spot = self._points[i], spots[i]
            latest = i == len(spots) - 1
            radius = 6.5 if latest else 4.0
            if point.sighting_id == self._selected:
                painter.setPen(QPen(SELECTED, 2.2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(spot, radius + 4, radius + 4)
            painter.setPen(QPen(QColor("#ffffff"), 1.5))
            painter.setBrush(LATEST if latest else DOT)
            painter.drawEllipse(spot, radius, radius)
            text = f"{point.label} (latest)" if latest else str(i + 1)
            box = self._label_box(spot, radius, fm.horizontalAdvance(text), fm.height(), taken)
            taken.append(box)
            painter.fillRect(box, QColor(255, 255, 255, 190))  # readable over the track
            painter.setPen(LATEST if latest else AXIS_TEXT)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.end()

    def _lon_ticks(self, rect: QRectF, fm: QFontMetrics) -> list[float]:
        """As many longitude ticks as fit with their labels apart (two at least when they fit)."""
        lon_lo, lon_hi = self._view[2], self._view[3]
        for most in range(int(rect.width() // fm.horizontalAdvance("00.0° W")) + 1, 1, -1):
            ticks = nice_ticks(lon_lo, lon_hi, most)
            if len(ticks) < 2:
                continue
            step = ticks[1] - ticks[0]
            widest = max(fm.horizontalAdvance(degrees(t, step, "E", "W")) for t in ticks) + 10
            if step / (lon_hi - lon_lo) * rect.width() >= widest:
                return ticks
        # too narrow for two: the one round value nearest the middle
        mid = (lon_lo + lon_hi) / 2
        every = [t for most in range(1, 5) for t in nice_ticks(lon_lo, lon_hi, most)]
        return [min(every, key=lambda t: abs(t - mid))] if every else [round(mid, 3)]

    def _label_box(self, spot: QPointF, radius: float, width: float, height: float,
                   taken: list[QRectF]) -> QRectF:
        """Where a dot's label goes: beside or above or below it, inside the widget, clear of the other
        dots and labels when it can be."""
        gap = radius + 3
        boxes = [QRectF(spot.x() + gap, spot.y() - height, width, height),
                 QRectF(spot.x() - gap - width, spot.y() - height, width, height),
                 QRectF(spot.x() + gap, spot.y(), width, height),
                 QRectF(spot.x() - gap - width, spot.y(), width, height),
                 QRectF(spot.x() - width / 2, spot.y() - gap - height, width, height),
                 QRectF(spot.x() - width / 2, spot.y() + gap, width, height)]
        inside = [b for b in boxes if QRectF(self.rect()).contains(b)] or boxes
        return next((b for b in inside if not any(b.intersects(t) for t in taken)), inside[0])

    def _paint_axes(self, painter: QPainter, rect: QRectF) -> None:
        lat_lo, lat_hi, lon_lo, lon_hi = self._view
        fm = painter.fontMetrics()
        painter.setPen(QPen(GRID, 1))
        painter.drawRect(rect)
        lat_ticks = nice_ticks(lat_lo, lat_hi, max(3, int(rect.height() // 40)))
        lon_ticks = self._lon_ticks(rect, fm)
        lat_step = lat_ticks[1] - lat_ticks[0] if len(lat_ticks) > 1 else lat_hi - lat_lo
        lon_step = lon_ticks[1] - lon_ticks[0] if len(lon_ticks) > 1 else lon_hi - lon_lo
        for lat in lat_ticks:
            y = self.map_point(lat, lon_lo).y()
            painter.setPen(QPen(GRID, 1))
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            painter.setPen(AXIS_TEXT)
            text = degrees(lat, lat_step, "N", "S")
            painter.drawText(QPointF(rect.left() - fm.horizontalAdvance(text) - 5, y + fm.ascent() / 2 - 1),
                             text)
        for lon in lon_ticks:
            x = self.map_point(lat_lo, lon).x()
            painter.setPen(QPen(GRID, 1))
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            painter.setPen(AXIS_TEXT)
            text = degrees(lon, lon_step, "E", "W")
            painter.drawText(QPointF(x - fm.horizontalAdvance(text) / 2, rect.bottom() + fm.ascent() + 4),
                             text)
