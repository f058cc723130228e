"""A whale's history in the gallery browser: its sightings in time order (date, place or position,
observer, vessel, notes and the photos taken), first and last seen, and a plot of where it was seen.

Double-click a sighting (or Edit sighting…) to correct it: the correction goes through the controller's
:class:`~whalegui.gui.sighting_editor.SightingEditor` and Ctrl+Z takes it back.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from whalegui.core.records import PhotoRecord
from whalegui.core.sightings import SightingRecord, format_position
from whalegui.gui.card_delegate import LINES_ROLE, OBJECT_ROLE, paint_card_frame
from whalegui.gui.controller import Controller
from whalegui.gui.position_plot import PositionPlot
from whalegui.gui.resources import icon
from whalegui.gui.sighting_dialog import SightingDialog
from whalegui.gui.thumbnails import ThumbnailCache
from whalegui.wording import plural

_Index = QModelIndex | QPersistentModelIndex
PHOTOS_ROLE = Qt.ItemDataRole.UserRole + 20  # list[PhotoRecord]: the sighting's photos of this whale
THUMB = QSize(64, 32)
MAX_THUMBS = 4


def sighting_lines(record: SightingRecord) -> list[str]:
    """What the history says of a sighting under its date: where, who and from which boat, notes."""
    s = record.sighting
    where = s.place
    if s.position is not None:
        where = f"{where} ({format_position(s.position)})" if where else format_position(s.position)
    lines = [where or "place unknown"]
    crew = " · ".join(part for part in (s.observer and f"observer {s.observer}",
                                         s.vessel and f"vessel {s.vessel}") if part)
    lines.append(crew)
    lines.append(s.notes)
    return lines


def seen_span(records: list[SightingRecord]) -> str:
    """``4 sightings · first seen 2022-06-30 · last seen 2024-07-03`` (dates only when known)."""
    dated = [r.sighting.when[:10] for r in records if r.sighting.when]
    parts = [plural(len(records), "sighting")]
    if dated:
        parts += [f"first seen {min(dated)}", f"last seen {max(dated)}"]
    return " · ".join(parts)


class SightingListModel(QAbstractListModel):
    """One whale's sightings, oldest first (undated last), with the photos of each."""

    def __init__(self, thumbnails: ThumbnailCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self.records: list[SightingRecord] = []
        self._photos: dict[int, PhotoRecord] = {}
        thumbnails.thumbnail_loaded.connect(self._on_thumbnail_loaded)

    def set_records(self, records: list[SightingRecord]) -> None:
        self.beginResetModel()
        self.records = list(records)
        self.endResetModel()

    def set_photos(self, photos: list[PhotoRecord]) -> None:
        self._photos = {p.photo_id: p for p in photos}
        if self.records:
            self.dataChanged.emit(self.index(0), self.index(len(self.records) - 1))

    def photos_of(self, record: SightingRecord) -> list[PhotoRecord]:
        return [self._photos[i] for i in record.photo_ids if i in self._photos]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.records)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self.records):
            return None
        record = self.records[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return record.sighting.when.replace("T", " ") or "date unknown"
        if role == LINES_ROLE:
            return sighting_lines(record)
        if role == PHOTOS_ROLE:
            return self.photos_of(record)
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join([record.sighting.label(), *filter(None, sighting_lines(record)),
                              plural(len(record.photo_ids), "photo"), "Double-click to correct it"])
        if role == OBJECT_ROLE:
            return record
        return None

    def pixmap(self, photo: PhotoRecord) -> QPixmap | None:
        return self._thumbnails.photo_pixmap(photo)

    def _on_thumbnail_loaded(self, path: str) -> None:
        for row, record in enumerate(self.records):
            if any(str(ThumbnailCache.photo_file(p)) == path for p in self.photos_of(record)):
                idx = self.index(row)
                self.dataChanged.emit(idx, idx)


class SightingDelegate(QStyledItemDelegate):
    """A sighting as a card: its date, where, who and notes on the left, its photos on the right."""

    def __init__(self, model: SightingListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(240, max(option.fontMetrics.height() * 4 + 16, THUMB.height() + 16))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        painter.save()
        rect = paint_card_frame(painter, option)
        inner = rect.adjusted(8, 5, -6, -5)
        photos: list[PhotoRecord] = index.data(PHOTOS_ROLE) or []
        room = int(inner.width() * 0.35) // (THUMB.width() + 4)  # the text keeps most of the card
        shown = photos[:max(1, min(MAX_THUMBS, room))]
        thumbs_w = len(shown) * (THUMB.width() + 4)
        x = inner.right() - thumbs_w + 4
        for photo in shown:
            top = inner.top() + (inner.height() - THUMB.height()) // 2
            box = QRect(x, top, THUMB.width(), THUMB.height())
            pixmap = self._model.pixmap(photo)
            if pixmap is not None and not pixmap.isNull():
                scaled = pixmap.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.SmoothTransformation)
                painter.drawPixmap(box.left() + (box.width() - scaled.width()) // 2,
                                   box.top() + (box.height() - scaled.height()) // 2, scaled)
            else:
                painter.fillRect(box, QColor("#eef2f6"))
            x += THUMB.width() + 4
        if len(photos) > len(shown):
            painter.setPen(QColor("#4a5866"))
            painter.drawText(QRect(inner.right() - thumbs_w - 30, inner.top(), 26, inner.height()),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             f"+{len(photos) - len(shown)}")
        text = inner.adjusted(0, 0, -thumbs_w - (34 if len(photos) > len(shown) else 8), 0)
        fm = option.fontMetrics
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(QColor("#1c2833"))
        line_h = fm.height()
        title = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.drawText(QRect(text.left(), text.top(), text.width(), line_h), Qt.AlignmentFlag.AlignLeft,
                         painter.fontMetrics().elidedText(title, Qt.TextElideMode.ElideRight, text.width()))
        painter.setFont(option.font)
        y = text.top() + line_h
        for i, line in enumerate(index.data(LINES_ROLE) or []):
            if not line:
                continue
            painter.setPen(QColor("#1c2833") if i == 0 else QColor("#5a6876"))
            painter.drawText(QRect(text.left(), y, text.width(), line_h), Qt.AlignmentFlag.AlignLeft,
                             fm.elidedText(line, Qt.TextElideMode.ElideRight, text.width()))
            y += line_h
        painter.restore()


class SightingHistory(QWidget):
    """The selected whale's sightings and where they were."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.whale_id = ""
        self.dialog: SightingDialog | None = None  # the open correction, if any
        self.summary = QLabel("", self)
        self.summary.setObjectName("paneTitle")
        self.model = SightingListModel(controller.thumbnails, self)
        self.list = QListView(self)
        self.list.setModel(self.model)
        self.list.setItemDelegate(SightingDelegate(self.model, self.list))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setMinimumWidth(260)
        self.plot = PositionPlot(self)
        self.edit_button = QPushButton(icon("rename"), "Edit sighting…", self)
        self.edit_button.setToolTip("Correct the chosen sighting's date, position, place, observer, vessel "
                                    "or notes (or double-click it)")
        self.plot_hint = QLabel("", self)
        self.plot_hint.setObjectName("hint")

        left = QWidget(self)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.edit_button)
        buttons.addStretch(1)
        lv.addLayout(buttons)
        right = QWidget(self)
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.plot, 1)
        rv.addWidget(self.plot_hint)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 3)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

        self.list.doubleClicked.connect(lambda index: self.edit(index.row()))
        self.edit_button.clicked.connect(lambda: self.edit(self.list.currentIndex().row()))
        self.list.selectionModel().currentChanged.connect(self._on_current_changed)
        controller.sighting_editor.sightings_listed.connect(self._on_sightings_listed)
        controller.editor.whale_photos_listed.connect(self._on_whale_photos_listed)
        self._update()

    def show_whale(self, whale_id: str) -> None:
        """Show ``whale_id``'s sightings ('' for none); they are read in the background."""
        if whale_id != self.whale_id:
            self.model.set_records([])
            self.plot.set_sightings([])
        self.whale_id = whale_id
        if whale_id:
            self._controller.sighting_editor.request_sightings(whale_id)
        self._update()

    def edit(self, row: int) -> SightingDialog | None:
        """Open the dialog that corrects the sighting in ``row`` (not blocking: Save sends the correction
        to the gallery); returns it, or None when there is no such row or a dialog is open already."""
        if not 0 <= row < len(self.model.records) or self.dialog is not None:
            return None
        record = self.model.records[row]
        dialog = SightingDialog(record, self)
        self.dialog = dialog

        def done(result: int) -> None:
            self.dialog = None
            if result == QDialog.DialogCode.Accepted:
                self._controller.sighting_editor.update_sighting(record, dialog.sighting())
            dialog.deleteLater()

        dialog.finished.connect(done)
        dialog.open()
        return dialog

    def _on_sightings_listed(self, whale_id: str, records: list[SightingRecord]) -> None:
        if whale_id != self.whale_id:
            return
        current = self.list.currentIndex()
        chosen = self.model.records[current.row()].sighting_id if current.isValid() else None
        self.model.set_records(records)
        self.plot.set_sightings(records)
        row = next((i for i, r in enumerate(records) if r.sighting_id == chosen), -1)
        if row >= 0:
            self.list.setCurrentIndex(self.model.index(row))
        self._update()

    def _on_whale_photos_listed(self, whale_id: str, photos: list[PhotoRecord]) -> None:
        if whale_id == self.whale_id:
            self.model.set_photos(photos)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        record = self.model.records[current.row()] if current.isValid() else None
        self.plot.set_selected(record.sighting_id if record is not None else None)
        self._update()

    def _update(self) -> None:
        records = self.model.records
        if not self.whale_id:
            self.summary.setText("Choose a whale to see its sightings")
        elif not records:
            self.summary.setText("No sighting recorded")
        else:
            self.summary.setText(seen_span(records))
        placed = len(self.plot.points)
        self.plot_hint.setText(f"{plural(placed, 'sighting')} with a position of {len(records)}"
                               if records else "")
        self.edit_button.setEnabled(self._controller.ready and self.list.currentIndex().isValid())
