"""The query queue: ``QueueModel`` over the controller's entries; ``QueueView`` shows it with progress."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
)
from PySide6.QtGui import QColor
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

from whalegui.gui.card_delegate import ACCENT_ROLE, LINES_ROLE, OBJECT_ROLE, CardDelegate
from whalegui.gui.controller import Controller, QueueEntry, Status
from whalegui.gui.resources import icon

STATUS_COLOURS = {
    Status.WAITING: QColor("#6b7a89"),
    Status.IDENTIFYING: QColor("#1f6fb5"),
    Status.REVIEW: QColor("#a35f00"),
    Status.MATCHED: QColor("#2e7d32"),
    Status.NEW: QColor("#7b3fa0"),
    Status.ERROR: QColor("#c62828"),
}
STATUS_ROLE = Qt.ItemDataRole.UserRole + 10

_Index = QModelIndex | QPersistentModelIndex


class QueueModel(QAbstractListModel):
    """One row per queued photo: thumbnail, file name, date, status (with the reason of an error)."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        controller.entries_inserted.connect(self._on_entries_inserted)
        controller.entry_changed.connect(self._on_entry_changed)
        controller.thumbnails.thumbnail_loaded.connect(self._on_thumbnail_loaded)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._controller.entries)

    def entry(self, row: int) -> QueueEntry | None:
        entries = self._controller.entries
        return entries[row] if 0 <= row < len(entries) else None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entry = self.entry(index.row()) if index.isValid() else None
        if entry is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.name
        if role == LINES_ROLE:
            date = entry.taken_at.strftime("%Y-%m-%d %H:%M") if entry.taken_at else "date unknown"
            return [date, entry.status_text()]
        if role == ACCENT_ROLE:
            return STATUS_COLOURS[entry.status]
        if role == Qt.ItemDataRole.DecorationRole:
            if entry.status is Status.ERROR:
                return icon("cancel").pixmap(40, 40)
            return self._controller.thumbnails.pixmap(entry.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{entry.path}\n{entry.status_text()}"
        if role == STATUS_ROLE:
            return entry.status
        if role == OBJECT_ROLE:
            return entry
        return None

    def _on_entries_inserted(self, first: int, last: int) -> None:
        # The controller has already appended; Qt only needs to hear about it.
        if first < 0:
            self.beginResetModel()
            self.endResetModel()
            return
        self.beginInsertRows(QModelIndex(), first, last)
        self.endInsertRows()

    def _on_entry_changed(self, row: int) -> None:
        idx = self.index(row)
        self.dataChanged.emit(idx, idx)

    def _on_thumbnail_loaded(self, path: str) -> None:
        for row, entry in enumerate(self._controller.entries):
            if str(entry.path) == path:
                self._on_entry_changed(row)


class QueueView(QWidget):
    """The queue list, with the batch's progress bar and its Cancel button above it."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.model = QueueModel(controller, self)
        self.list = QListView(self)
        self.list.setModel(self.model)
        self.list.setItemDelegate(CardDelegate(QSize(72, 44), text_width=140, lines=2, parent=self.list))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrow keys belong to the review
        self.list.setUniformItemSizes(True)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMinimumWidth(240)

        self.title = QLabel("Query photos", self)
        self.title.setObjectName("paneTitle")
        self.counts = QLabel("", self)
        self.counts.setObjectName("hint")
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
        header.addStretch(1)
        header.addWidget(self.counts)
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
        controller.current_entry_changed.connect(self._on_current_entry_changed)
        controller.batch_started.connect(self._on_batch_started)
        controller.batch_progressed.connect(self._on_batch_progressed)
        controller.batch_finished.connect(self._on_batch_finished)
        controller.entry_changed.connect(self._update_counts)
        controller.entries_inserted.connect(self._update_counts)

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
        counts = self._controller.status_counts()
        total = len(self._controller.entries)
        review = counts[Status.REVIEW]
        self.counts.setText(f"{total} photos, {review} to review" if total else "")
        self.hint.setVisible(total == 0)

    def _on_list_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and current.row() != self._controller.current_row:
            self._controller.set_current_row(current.row())

    def _on_current_entry_changed(self, row: int) -> None:
        selection = self.list.selectionModel()
        if row < 0:
            selection.clearSelection()
            return
        idx = self.model.index(row)
        if selection.currentIndex() != idx:
            selection.setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.list.scrollTo(idx)
