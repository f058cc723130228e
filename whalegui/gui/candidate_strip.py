"""The candidate strip: the top whales for the current query, as cards (``CandidateModel`` + a list view)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from whalegui.gui.card_delegate import ACCENT_ROLE, BADGE_ROLE, LINES_ROLE, OBJECT_ROLE, CardDelegate
from whalegui.gui.controller import Controller

_Index = QModelIndex | QPersistentModelIndex


def photo_thumb(photo: Any) -> Any:
    """The small file for a gallery photo: its thumbnail when the gallery made one, else the photo."""
    thumb = getattr(photo, "thumb_path", None)
    return thumb if thumb else getattr(photo, "path", None)


def day(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else "unknown"


class CandidateModel(QAbstractListModel):
    """The current query's candidates: best-photo thumbnail, id and name, distance, photos, last seen."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._candidates: list[Any] = []
        self._threshold: float | None = None
        controller.candidates_changed.connect(self._on_candidates_changed)
        controller.thumbnails.thumbnail_loaded.connect(self._on_thumbnail_loaded)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._candidates)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._candidates):
            return None
        cand = self._candidates[index.row()]
        beyond = self._threshold is not None and cand.distance > self._threshold
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{cand.whale_id}  {cand.name}".strip()
        if role == LINES_ROLE:
            photos = f"{cand.photo_count} photo{'s' if cand.photo_count != 1 else ''}"
            return [f"d {cand.distance:.3f} · {photos}", f"last seen {day(cand.last_seen)}"]
        if role == ACCENT_ROLE:
            return QColor("#a35f00") if beyond else QColor("#2e7d32")
        if role == BADGE_ROLE:
            return str(index.row() + 1)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._controller.thumbnails.pixmap(photo_thumb(cand.photo))
        if role == Qt.ItemDataRole.ToolTipRole:
            verdict = " (beyond the new-whale threshold)" if beyond else ""
            return (
                f"{cand.whale_id} {cand.name}\ncosine distance {cand.distance:.4f}{verdict}\n"
                f"{cand.photo_count} photos, last seen {day(cand.last_seen)}"
            )
        if role == OBJECT_ROLE:
            return cand
        return None

    def _on_candidates_changed(self) -> None:
        self.beginResetModel()
        self._candidates = self._controller.candidates()
        entry = self._controller.current_entry()
        ident = entry.identification if entry is not None else None
        self._threshold = getattr(ident, "threshold", None)
        self.endResetModel()

    def _on_thumbnail_loaded(self, path: str) -> None:
        for row, cand in enumerate(self._candidates):
            if str(photo_thumb(cand.photo)) == path:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx)


class CandidateStrip(QListView):
    """A horizontal strip of candidate cards; the controller's selection is the strip's selection."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.model_ = CandidateModel(controller, self)
        self.setModel(self.model_)
        self.setItemDelegate(CardDelegate(QSize(156, 56), vertical=True, lines=2, parent=self))
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Left/Right are the review's shortcuts
        self.setUniformItemSizes(True)
        hint = self.itemDelegate().sizeHint(_option(self), QModelIndex())
        self.setFixedHeight(hint.height() + 22)
        self.selectionModel().currentChanged.connect(self._on_view_current_changed)
        controller.candidate_selected.connect(self._on_candidate_selected)

    def _on_view_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and current.row() != self._controller.candidate_index:
            self._controller.select_candidate(current.row())

    def _on_candidate_selected(self, index: int) -> None:
        if index < 0:
            self.selectionModel().clearSelection()
            return
        idx = self.model_.index(index)
        self.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.scrollTo(idx)


def _option(view: QListView) -> Any:
    from PySide6.QtWidgets import QStyleOptionViewItem

    option = QStyleOptionViewItem()
    option.initFrom(view)
    return option
