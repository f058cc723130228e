"""The misranked triplets: queries filed under a whale that the review ranked below a wrong whale.

Each row shows the anchor (the query photo), the positive (the photo of the whale it was filed under) and
the negative (the wrong whale's photo ranked above it) side by side, with the ranks and distances the review
showed, so a researcher can see why the model got it wrong; and whether training may use the triplet
(untick to drop it: a mislabelled query, a photo that shows no fluke). The selected row is shown larger
below the table. Built from the controller's :class:`~whalegui.gui.tuning.Tuning`; nothing here touches
the gallery.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from whalegui.core.records import PhotoRecord
from whalegui.gui.service import TripletRow
from whalegui.gui.thumbnails import ThumbnailCache
from whalegui.gui.tuning import Tuning
from whalegui.gui.workers import WorkerPool
from whalegui.wording import plural

log = logging.getLogger(__name__)

_Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Query", "Filed under", "Ranked above it", "Why", "Use in training")
ANCHOR, POSITIVE, NEGATIVE, GAP, KEEP = range(len(COLUMNS))
PREVIEW_SIZE = 256  # the gallery's thumbnails
PREVIEW_HEIGHT = 128  # the larger copies below the table, so the window fits a 1024x600 screen
ICON_SIZE = 112


class TripletModel(QAbstractTableModel):
    """The triplets, one a row: the three photos' thumbnails, ranks and distances, and the keep flag
    (setting it calls ``on_keep(pair_id, keep)``; the row changes when :meth:`set_kept` says it was)."""

    def __init__(self, thumbnails: ThumbnailCache, on_keep: Callable[[int, bool], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self._on_keep = on_keep
        self._rows: list[TripletRow] = []
        thumbnails.thumbnail_loaded.connect(self._on_thumbnail_loaded)

    @property
    def rows(self) -> list[TripletRow]:
        """The triplets shown (a copy), worst first."""
        return list(self._rows)

    def row(self, row: int) -> TripletRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def set_rows(self, rows: list[TripletRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def set_kept(self, pair_id: int, keep: bool) -> None:
        """The negative pair ``pair_id`` is now kept (or dropped) in the gallery."""
        for i, r in enumerate(self._rows):
            if r.triplet.negative.pair_id == pair_id:
                triplet = dataclasses.replace(r.triplet, negative=dataclasses.replace(r.triplet.negative,
                                                                                     keep=keep))
                self._rows[i] = dataclasses.replace(r, triplet=triplet)
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section] if 0 <= section < len(COLUMNS) else None
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsUserCheckable if index.column() == KEEP else base

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        r = self.row(index.row()) if index.isValid() else None
        if r is None:
            return None
        t, col = r.triplet, index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(r, col)
        if role == Qt.ItemDataRole.DecorationRole and col in (ANCHOR, POSITIVE, NEGATIVE):
            pixmap = self._thumbnails.photo_pixmap(photo_of(r, col))
            return QIcon(pixmap) if pixmap is not None else None  # an icon: drawn at the view's icon size
        if role == Qt.ItemDataRole.CheckStateRole and col == KEEP:
            return Qt.CheckState.Checked if t.keep else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole and col in (ANCHOR, POSITIVE, NEGATIVE):
            photo = photo_of(r, col)
            return f"{photo.original_name or photo.path.name}\nwhale {photo.whale_id}\n{photo.sha256[:16]}"
        return None

    def setData(self, index: _Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        r = self.row(index.row()) if index.isValid() else None
        if r is None or index.column() != KEEP or role != Qt.ItemDataRole.CheckStateRole:
            return False
        keep = Qt.CheckState(value) == Qt.CheckState.Checked if isinstance(value, int | Qt.CheckState) \
            else bool(value)
        self._on_keep(r.triplet.negative.pair_id, keep)
        return True  # the row shows the new state once the gallery has it (set_kept)

    @staticmethod
    def _text(r: TripletRow, col: int) -> str:
        t = r.triplet
        if col == ANCHOR:
            return f"{r.anchor.original_name or r.anchor.path.name}\nfiled under {r.anchor.whale_id}"
        if col == POSITIVE:
            return f"{r.positive.whale_id}\nranked {t.positive.rank} · d {t.positive.distance:.3f}"
        if col == NEGATIVE:
            return f"{r.negative.whale_id}\nranked {t.negative.rank} · d {t.negative.distance:.3f}"
        if col == GAP:
            gap = t.positive.distance - t.negative.distance
            if gap > 0:
                return f"the wrong whale was\nnearer by {gap:.3f}"
            return "verification ranked\nit higher"
        if col == KEEP:
            return "keep" if t.keep else "dropped"
        return ""

    def _on_thumbnail_loaded(self, path: str) -> None:
        for i, r in enumerate(self._rows):
            for col in (ANCHOR, POSITIVE, NEGATIVE):
                if str(ThumbnailCache.photo_file(photo_of(r, col))) == path:
                    idx = self.index(i, col)
                    self.dataChanged.emit(idx, idx)


def photo_of(r: TripletRow, col: int) -> PhotoRecord:
    """The photo a column shows: the anchor, the positive or the negative."""
    return {ANCHOR: r.anchor, POSITIVE: r.positive, NEGATIVE: r.negative}[col]


class TripletsDialog(QDialog):
    """The misranked triplets of the open gallery (a window beside the main one)."""

    def __init__(self, tuning: Tuning, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Misranked triplets")
        self._tuning = tuning
        self._pool = WorkerPool(1, self)
        self.thumbnails = ThumbnailCache(self._pool, PREVIEW_SIZE, self)
        self.model = TripletModel(self.thumbnails, tuning.set_keep, self)
        self.summary = QLabel("Reading the review decisions…", self)
        self.summary.setWordWrap(True)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setIconSize(QSize(ICON_SIZE, ICON_SIZE // 2))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(KEEP, QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        self.previews = [QLabel(self) for _ in range(3)]
        self.captions = [QLabel(self) for _ in range(3)]
        preview = QGridLayout()
        for i, (image, caption) in enumerate(zip(self.previews, self.captions, strict=True)):
            image.setAlignment(Qt.AlignmentFlag.AlignCenter)
            image.setMinimumSize(160, 80)
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setWordWrap(True)
            preview.addWidget(image, 0, i)
            preview.addWidget(caption, 1, i)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.refresh_button = QPushButton("Refresh", self)
        buttons.addButton(self.refresh_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.refresh_button.clicked.connect(tuning.list_triplets)
        column = QVBoxLayout(self)
        column.addWidget(self.summary)
        column.addWidget(self.table, 1)
        column.addLayout(preview)
        column.addWidget(buttons)
        tuning.triplets_listed.connect(self._on_triplets_listed)
        tuning.pair_kept.connect(self._on_pair_kept)
        self.thumbnails.thumbnail_loaded.connect(lambda _path: self._show_preview())
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        self.resize(min(980, screen.width() - 40) if screen else 980, min(680, screen.height() - 40)
                    if screen else 680)

    def refresh(self) -> None:
        """Read the triplets again."""
        self._tuning.list_triplets()

    def _on_triplets_listed(self, rows: list[TripletRow]) -> None:
        self.model.set_rows(rows)
        if rows:
            dropped = sum(not r.triplet.keep for r in rows)
            note = f" ({dropped} dropped from training)" if dropped else ""
            self.summary.setText(
                f"{plural(len(rows), 'misranked triplet')}{note}: queries filed under a whale that the "
                "review ranked below another whale, worst first. Untick one to drop it from training.")
            self.table.selectRow(0)
        else:
            self.summary.setText("No misranked triplets: every query filed so far had its whale ranked above "
                                 "the other whales the review showed.")
        self._show_preview()

    def _on_pair_kept(self, pair_id: int, keep: bool) -> None:
        self.model.set_kept(pair_id, keep)

    def _on_current_row_changed(self, *_: object) -> None:
        self._show_preview()

    def _show_preview(self) -> None:
        r = self.model.row(self.table.currentIndex().row())
        titles = ("Query", "Filed under", "Ranked above it")
        for i, col in enumerate((ANCHOR, POSITIVE, NEGATIVE)):
            if r is None:
                self.previews[i].clear()
                self.captions[i].clear()
                continue
            photo = photo_of(r, col)
            pixmap = self.thumbnails.photo_pixmap(photo)
            if pixmap is None:
                self.previews[i].setText("…")
            else:
                self.previews[i].setPixmap(pixmap.scaled(
                    QSize(PREVIEW_SIZE, PREVIEW_HEIGHT), Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation))
            pair = r.triplet.positive if col == POSITIVE else r.triplet.negative
            detail = "" if col == ANCHOR else f", rank {pair.rank}, d {pair.distance:.3f}"
            self.captions[i].setText(f"{titles[i]}: {photo.whale_id}{detail}")
