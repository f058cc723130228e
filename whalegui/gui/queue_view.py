"""The query queue: the review's :class:`~whalegui.gui.review_model.QueueModel` in a list, with the batch's
progress and its Cancel button above it."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from whalegui.gui.card_delegate import CardDelegate
from whalegui.gui.controller import Controller
from whalegui.gui.elided_label import ElidedLabel
from whalegui.gui.resources import icon
from whalegui.gui.review_model import QueueEntry, Status
from whalegui.wording import plural

#: The queue's narrowest useful width: a thumbnail and about 18 characters of status per line.
MIN_WIDTH = 200


class QueueView(QWidget):
    """The queue list, with the batch's progress bar and its Cancel button above it."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._review = controller.review
        self.model = controller.review.queue
        self.list = QListView(self)
        self.list.setModel(self.model)
        # three lines: the date, and the status with room to wrap ("matched: w_2e609ba, already in …")
        self.list.setItemDelegate(CardDelegate(QSize(64, 40), text_width=120, lines=3, parent=self.list))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrow keys belong to the review
        self.list.setUniformItemSizes(True)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMinimumWidth(MIN_WIDTH - 8)

        self.title = QLabel("Queue", self)
        self.title.setToolTip("The query photos: identified in the background, then reviewed one by one")
        self.title.setObjectName("paneTitle")
        self.counts = ElidedLabel("", self)
        self.counts.setObjectName("hint")
        self.counts.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.progress = QProgressBar(self)
        self.progress.setFormat("identifying %v of %m")
        self.cancel_button = QPushButton(icon("cancel"), "Cancel", self)
        self.cancel_button.setToolTip("Stop identifying the rest of the batch")
        self.cancel_button.clicked.connect(controller.cancel_batch)
        self.hint = QLabel("Drop photos or folders anywhere on the window, or use File > Open photos.", self)
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.counts, 1)
        layout.addLayout(header)
        layout.addLayout(bar)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.hint)
        self._set_batch_visible(False)
        self._progress_value = (0, 0)
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(100)
        self._progress_timer.timeout.connect(self._apply_progress)

        self.list.selectionModel().currentChanged.connect(self._on_list_current_changed)
        self._review.current_entry_changed.connect(self._on_current_entry_changed)
        controller.batch_started.connect(self._on_batch_started)
        controller.batch_progressed.connect(self._on_batch_progressed)
        controller.batch_finished.connect(self._on_batch_finished)
        for changed in (self.model.dataChanged, self.model.rowsInserted, self.model.modelReset):
            changed.connect(self._update_counts)

    def _set_batch_visible(self, visible: bool) -> None:
        self.progress.setVisible(visible)
        self.cancel_button.setVisible(visible)

    def _on_batch_started(self, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        self._set_batch_visible(True)

    def _on_batch_progressed(self, done: int, total: int) -> None:
        # QProgressBar.setValue repaints at once; a fast batch reports hundreds of steps a second, so the
        # bar is updated at most every 100 ms.
        self._progress_value = (done, total)
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _apply_progress(self) -> None:
        done, total = self._progress_value
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _on_batch_finished(self, cancelled: bool) -> None:
        self._progress_timer.stop()
        self._set_batch_visible(False)

    def _update_counts(self, *_: object) -> None:
        total = self.model.rowCount()
        review = self.model.counts()[Status.REVIEW]
        self.counts.setText(f"{plural(total, 'photo')}, {review} to review" if total else "")
        self.hint.setVisible(total == 0)

    def _on_list_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and current.row() != self._review.current_row:
            self._review.show_row(current.row())

    def _on_current_entry_changed(self, entry: QueueEntry | None) -> None:
        selection = self.list.selectionModel()
        row = self.model.row_of(entry)
        if row < 0:
            selection.clearSelection()
            return
        idx = self.model.index(row)
        if selection.currentIndex() != idx:
            selection.setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.list.scrollTo(idx)
