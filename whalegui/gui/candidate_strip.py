"""The candidate strip: the top whales for the photo under review, as cards in a horizontal list.

It shows the review's :class:`~whalegui.gui.review_model.CandidateModel`; the review's selected candidate
is the strip's selection, and clicking a card selects that candidate.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyleOptionViewItem, QWidget

from whalegui.core.identify import Candidate
from whalegui.gui.card_delegate import CardDelegate
from whalegui.gui.review_model import ReviewModel

CARD_THUMB = QSize(150, 46)  # flukes are wide: a wide, low thumbnail wastes no height
# three lines under the title: distance and photos, then "last seen <date>, <place>" wrapped over two


class CandidateStrip(QListView):
    """A horizontal strip of candidate cards (it scrolls when they do not fit)."""

    def __init__(self, review: ReviewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._review = review
        self.setModel(review.candidates)
        self.setItemDelegate(CardDelegate(CARD_THUMB, vertical=True, lines=3, parent=self))
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Left/Right are the review's shortcuts
        self.setUniformItemSizes(True)
        option = QStyleOptionViewItem()
        option.initFrom(self)
        hint = self.itemDelegate().sizeHint(option, QModelIndex())
        self.setFixedHeight(hint.height() + self.horizontalScrollBar().sizeHint().height() + 6)
        self.setMinimumWidth(hint.width() + 8)
        self.selectionModel().currentChanged.connect(self._on_view_current_changed)
        review.candidate_selected.connect(self._on_candidate_selected)

    def _on_view_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and current.row() != self._review.candidate_index:
            self._review.select_candidate(current.row())

    def _on_candidate_selected(self, candidate: Candidate | None) -> None:
        if candidate is None:
            self.selectionModel().clearSelection()
            return
        idx = self.model().index(self._review.candidate_index, 0)
        self.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.scrollTo(idx)
