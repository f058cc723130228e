"""One item delegate for every list in the app: a thumbnail and a few lines of text, as a card.

Models give the thumbnail (``DecorationRole``), the title (``DisplayRole``), further lines (``LINES_ROLE``)
and an accent colour for the last line (``ACCENT_ROLE``). The last line (a status) wraps into the lines the
card has left and is elided only when even they are too short; the model's tooltip has the full text. The
delegate only paints; it does no work.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

LINES_ROLE = Qt.ItemDataRole.UserRole + 1  # list[str]: lines under the title
ACCENT_ROLE = Qt.ItemDataRole.UserRole + 2  # QColor of the last line (a status), or None
BADGE_ROLE = Qt.ItemDataRole.UserRole + 3  # short text drawn over the thumbnail ("1", "new?")
OBJECT_ROLE = Qt.ItemDataRole.UserRole + 4  # the underlying object (entry, candidate, whale, photo)

_Index = QModelIndex | QPersistentModelIndex


def paint_card_frame(painter: QPainter, option: QStyleOptionViewItem) -> QRect:
    """A list item's card: a rounded frame, blue when selected; returns the card's rectangle."""
    rect = option.rect.adjusted(2, 2, -2, -2)
    selected = bool(option.state & QStyle.StateFlag.State_Selected)
    painter.setPen(QPen(QColor("#4a90d9"), 2) if selected else QPen(QColor("#d5dde5"), 1))
    painter.setBrush(QColor("#cfe3f7") if selected else QColor("#ffffff"))
    painter.drawRoundedRect(rect, 5, 5)
    return rect


class CardDelegate(QStyledItemDelegate):
    """Paints a card: thumbnail beside (``horizontal``) or above (``vertical``) the text."""

    def __init__(
        self,
        thumb: QSize,
        *,
        vertical: bool = False,
        text_width: int = 200,
        lines: int = 2,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.thumb = thumb
        self.vertical = vertical
        self.text_width = text_width
        self.lines = lines

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        line_h = option.fontMetrics.height()
        text_h = line_h * (1 + self.lines) + 4
        if self.vertical:
            return QSize(max(self.thumb.width(), 120) + 12, self.thumb.height() + text_h + 14)
        return QSize(self.thumb.width() + self.text_width + 18, max(self.thumb.height(), text_h) + 10)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = paint_card_frame(painter, option)

        inner = rect.adjusted(5, 5, -5, -5)
        if self.vertical:
            thumb_rect = QRect(
                inner.left() + (inner.width() - self.thumb.width()) // 2,
                inner.top(),
                self.thumb.width(),
                self.thumb.height(),
            )
            text_rect = QRect(
                inner.left(), thumb_rect.bottom() + 5, inner.width(), inner.bottom() - thumb_rect.bottom() - 5
            )
        else:
            thumb_rect = QRect(
                inner.left(),
                inner.top() + (inner.height() - self.thumb.height()) // 2,
                self.thumb.width(),
                self.thumb.height(),
            )
            text_rect = QRect(
                thumb_rect.right() + 8, inner.top(), inner.right() - thumb_rect.right() - 8, inner.height()
            )
        self._paint_thumb(painter, thumb_rect, index.data(Qt.ItemDataRole.DecorationRole))
        badge = index.data(BADGE_ROLE)
        if badge:
            self._paint_badge(painter, thumb_rect, str(badge))

        title = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        lines = list(index.data(LINES_ROLE) or [])
        accent = index.data(ACCENT_ROLE)
        fm = option.fontMetrics
        y = text_rect.top()
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        painter.drawText(
            QRect(text_rect.left(), y, text_rect.width(), fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(title, Qt.TextElideMode.ElideMiddle, text_rect.width()),
        )
        painter.setFont(option.font)
        room = max(0, (text_rect.bottom() + 2 - y) // fm.height() - 1)  # text lines below the title
        for i, line in enumerate(lines[:room]):
            last = i == len(lines) - 1
            color = accent if (last and isinstance(accent, QColor)) else QColor("#4c5c6b")
            painter.setPen(color)
            spare = room - i  # the last line may take every line left
            for part in wrap_text(str(line), fm, text_rect.width(), spare if last else 1):
                y += fm.height()
                painter.drawText(
                    QRect(text_rect.left(), y, text_rect.width(), fm.height()),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    part,
                )
        painter.restore()

    @staticmethod
    def _paint_thumb(painter: QPainter, rect: QRect, pixmap: object) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#e4e9ee"))
        painter.drawRoundedRect(rect, 3, 3)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            scaled = pixmap.scaled(
                rect.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            x = rect.left() + (rect.width() - scaled.width()) // 2
            y = rect.top() + (rect.height() - scaled.height()) // 2
            painter.drawPixmap(x, y, scaled)

    @staticmethod
    def _paint_badge(painter: QPainter, rect: QRect, text: str) -> None:
        fm = painter.fontMetrics()
        w = fm.horizontalAdvance(text) + 10
        badge = QRect(rect.left() + 2, rect.top() + 2, w, fm.height() + 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 40, 60, 200))
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


def wrap_text(text: str, fm: QFontMetrics, width: int, max_lines: int) -> list[str]:
    """``text`` broken at spaces into at most ``max_lines`` lines of ``width`` pixels, the last one elided."""
    if max_lines <= 0:
        return []
    lines: list[str] = []
    words = text.split(" ")
    while words and len(lines) < max_lines - 1:
        line = words.pop(0)
        while words and fm.horizontalAdvance(f"{line} {words[0]}") <= width:
            line = f"{line} {words.pop(0)}"
        if fm.horizontalAdvance(line) > width:  # one word longer than the line: the rest goes on
            words.insert(0, line)
            break
        lines.append(line)
    if words:
        lines.append(fm.elidedText(" ".join(words), Qt.TextElideMode.ElideRight, width))
    return lines
