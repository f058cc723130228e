"""The gallery browser: whales with thumbnails, search, counts and last sighting; a whale's photos and
its history (sightings and where they were); rename, merge, delete (with confirmation); import a
catalogue; export CSV."""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from whalegui.core.records import PhotoRecord, WhaleSummary
from whalegui.gui.card_delegate import LINES_ROLE, OBJECT_ROLE, CardDelegate
from whalegui.gui.controller import Controller
from whalegui.gui.elided_label import ElidedLabel
from whalegui.gui.messages import day, gallery_summary
from whalegui.gui.resources import icon
from whalegui.gui.service import GalleryInfo
from whalegui.gui.sighting_history import SightingHistory
from whalegui.gui.thumbnails import ThumbnailCache
from whalegui.wording import plural

_Index = QModelIndex | QPersistentModelIndex


def whale_line(whale: WhaleSummary) -> str:
    """``3 photos · last seen 2023-07-03`` (the date only when known)."""
    seen = f" · last seen {day(whale.last_seen)}" if whale.last_seen else ""
    seen += f", {whale.last_place}" if whale.last_place else ""
    return f"{plural(whale.photo_count, 'photo')}{seen}"


class WhaleListModel(QAbstractListModel):
    """The gallery's whales, filtered by a search on id or name."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._search = ""
        self._whales: list[WhaleSummary] = []
        controller.gallery_changed.connect(self.refresh)
        controller.thumbnails.thumbnail_loaded.connect(self._on_thumbnail_loaded)
        self.refresh()

    def set_search(self, text: str) -> None:
        self._search = text.strip().lower()
        self.refresh()

    def refresh(self, *_: object) -> None:
        info = self._controller.info
        whales = list(info.whales) if info is not None else []
        if self._search:
            whales = [
                w for w in whales if self._search in w.whale_id.lower() or self._search in w.name.lower()
            ]
        self.beginResetModel()
        self._whales = whales
        self.endResetModel()

    def whale(self, row: int) -> WhaleSummary | None:
        return self._whales[row] if 0 <= row < len(self._whales) else None

    def row_of(self, whale_id: str) -> int:
        return next((i for i, w in enumerate(self._whales) if w.whale_id == whale_id), -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._whales)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        w = self.whale(index.row()) if index.isValid() else None
        if w is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{w.whale_id}  {w.name}".strip()
        if role == LINES_ROLE:
            return [whale_line(w)]
        if role == Qt.ItemDataRole.DecorationRole:
            return self._controller.thumbnails.photo_pixmap(w.cover_photo)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{w.whale_id} {w.name}\n{w.notes}".strip()
        if role == OBJECT_ROLE:
            return w
        return None

    def _on_thumbnail_loaded(self, path: str) -> None:
        for row, w in enumerate(self._whales):
            if w.cover_photo is not None and str(ThumbnailCache.photo_file(w.cover_photo)) == path:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx)


class PhotoListModel(QAbstractListModel):
    """The photos of one whale."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.whale_id = ""
        self.photos: list[PhotoRecord] = []
        controller.editor.whale_photos_listed.connect(self._on_whale_photos_listed)
        controller.thumbnails.thumbnail_loaded.connect(self._on_thumbnail_loaded)

    def show_whale(self, whale_id: str) -> None:
        self.whale_id = whale_id
        self.beginResetModel()
        self.photos = []
        self.endResetModel()
        if whale_id:
            self._controller.editor.request_whale_photos(whale_id)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.photos)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self.photos):
            return None
        p = self.photos[index.row()]
        taken = f"taken {day(p.taken_at)}" if p.taken_at else ""
        if role == Qt.ItemDataRole.DisplayRole:
            return p.original_name
        if role == LINES_ROLE:
            return [taken or f"added {day(p.added_at)}"]
        if role == Qt.ItemDataRole.DecorationRole:
            return self._controller.thumbnails.photo_pixmap(p)
        if role == Qt.ItemDataRole.ToolTipRole:
            gps = f"\n{p.gps[0]:.5f}, {p.gps[1]:.5f}" if p.gps else ""
            return f"{p.original_name}\n{taken + ', ' if taken else ''}added {day(p.added_at)}{gps}"
        if role == OBJECT_ROLE:
            return p
        return None

    def _on_whale_photos_listed(self, whale_id: str, photos: list[PhotoRecord]) -> None:
        if whale_id != self.whale_id:
            return
        self.beginResetModel()
        self.photos = list(photos)
        self.endResetModel()

    def _on_thumbnail_loaded(self, path: str) -> None:
        for row, p in enumerate(self.photos):
            if str(ThumbnailCache.photo_file(p)) == path:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx)


class RenameDialog(QDialog):
    """Edit a whale's id, name and notes."""

    def __init__(self, whale: WhaleSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Edit whale {whale.whale_id}")
        self.id_edit = QLineEdit(whale.whale_id, self)
        self.name_edit = QLineEdit(whale.name, self)
        self.notes_edit = QPlainTextEdit(whale.notes, self)
        self.notes_edit.setFixedHeight(80)
        form = QFormLayout()
        form.addRow("Whale id:", self.id_edit)
        form.addRow("Name:", self.name_edit)
        form.addRow("Notes:", self.notes_edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)


class GalleryBrowser(QWidget):
    """Browse and edit the gallery. Long work runs in the controller's workers."""

    import_requested = Signal()  # the main window asks what to import
    export_requested = Signal()

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search by whale id or name")
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setClearButtonEnabled(True)
        self.summary = ElidedLabel("", self, mode=Qt.TextElideMode.ElideMiddle)
        self.summary.setObjectName("hint")

        self.whale_model = WhaleListModel(controller, self)
        self.whale_list = QListView(self)
        self.whale_list.setModel(self.whale_model)
        self.whale_list.setItemDelegate(
            CardDelegate(QSize(96, 40), text_width=190, lines=1, parent=self.whale_list)
        )
        self.whale_list.setUniformItemSizes(True)
        self.whale_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.whale_list.setMinimumWidth(220)

        self.photo_model = PhotoListModel(controller, self)
        self.photo_list = QListView(self)
        self.photo_list.setModel(self.photo_model)
        self.photo_list.setViewMode(QListView.ViewMode.IconMode)
        self.photo_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.photo_list.setMovement(QListView.Movement.Static)
        self.photo_list.setUniformItemSizes(True)
        self.photo_list.setSpacing(4)
        self.photo_list.setItemDelegate(
            CardDelegate(QSize(180, 70), vertical=True, lines=1, parent=self.photo_list)
        )
        self.whale_title = ElidedLabel("Choose a whale", self)
        self.whale_title.setObjectName("paneTitle")
        self.whale_notes = QLabel("", self)
        self.whale_notes.setWordWrap(True)
        self.whale_notes.setObjectName("hint")

        self.import_button = QPushButton(icon("import"), "Import catalogue…", self)
        self.export_button = QPushButton(icon("export"), "Export CSV…", self)
        self.rename_button = QPushButton(icon("rename"), "Edit…", self)
        self.merge_button = QPushButton(icon("merge"), "Merge into…", self)
        self.delete_button = QPushButton(icon("delete"), "Delete…", self)
        self.remove_photo_button = QPushButton(icon("delete"), "Remove photo…", self)

        left = QWidget(self)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        lv.addLayout(top)
        lv.addWidget(self.summary)
        lv.addWidget(self.whale_list, 1)
        io = QHBoxLayout()
        io.addWidget(self.import_button)
        io.addWidget(self.export_button)
        lv.addLayout(io)

        right = QWidget(self)
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.whale_title)
        rv.addWidget(self.whale_notes)
        self.history = SightingHistory(controller, self)
        self.pages = QTabWidget(self)
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.photo_list, "Photos")
        self.pages.addTab(self.history, "History")
        rv.addWidget(self.pages, 1)
        edit = QHBoxLayout()
        for b in (self.rename_button, self.merge_button, self.delete_button, self.remove_photo_button):
            edit.addWidget(b)
        edit.addStretch(1)
        rv.addLayout(edit)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.search.textChanged.connect(self.whale_model.set_search)
        self.whale_list.selectionModel().currentChanged.connect(self._on_whale_current_changed)
        self.whale_model.modelReset.connect(self._on_whales_reset)
        self.photo_list.selectionModel().currentChanged.connect(lambda *_: self._update_buttons())
        self.import_button.clicked.connect(self.import_requested)
        self.export_button.clicked.connect(self.export_requested)
        self.rename_button.clicked.connect(self._on_rename_clicked)
        self.merge_button.clicked.connect(self._on_merge_clicked)
        self.delete_button.clicked.connect(self._on_delete_clicked)
        self.remove_photo_button.clicked.connect(self._on_remove_photo_clicked)
        controller.gallery_changed.connect(self._on_gallery_changed)
        self._selected_id = ""
        self._on_gallery_changed()

    # ------------------------------------------------------------------ selection

    def selected_whale(self) -> WhaleSummary | None:
        return self.whale_model.whale(self.whale_list.currentIndex().row())

    def select_whale(self, whale_id: str) -> None:
        row = self.whale_model.row_of(whale_id)
        if row >= 0:
            self.whale_list.setCurrentIndex(self.whale_model.index(row))

    def _on_whale_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        whale = self.whale_model.whale(current.row())
        self._selected_id = whale.whale_id if whale is not None else ""
        self._show_whale(whale)

    def _show_whale(self, whale: WhaleSummary | None) -> None:
        if whale is None:
            self.whale_title.setText("Choose a whale")
            self.whale_notes.setText("")
            self.photo_model.show_whale("")
            self.history.show_whale("")
        else:
            self.whale_title.setText(f"{whale.whale_id}  {whale.name}".strip() + f" · {whale_line(whale)}")
            self.whale_notes.setText(whale.notes)
            self.photo_model.show_whale(whale.whale_id)  # also after edits: its photos may have changed
            self.history.show_whale(whale.whale_id)
        self._update_buttons()

    def _on_whales_reset(self) -> None:
        # keep the selection across refreshes and searches
        row = self.whale_model.row_of(self._selected_id) if self._selected_id else -1
        if row >= 0:
            self.whale_list.setCurrentIndex(self.whale_model.index(row))
            self._show_whale(self.whale_model.whale(row))
        else:
            self._show_whale(None)

    def _on_gallery_changed(self, info: GalleryInfo | None = None) -> None:
        info = info or self._controller.info
        if info is None:
            self.summary.setText("No gallery open yet.")
        else:
            self.summary.setText(f"{gallery_summary(info.whale_count, info.photo_count)} in {info.folder}")
            self.summary.set_tooltip(str(info.folder))
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_whale = self.selected_whale() is not None
        ready = self._controller.ready
        for b in (self.rename_button, self.merge_button, self.delete_button):
            b.setEnabled(ready and has_whale)
        self.remove_photo_button.setEnabled(ready and self.photo_list.currentIndex().isValid())
        self.import_button.setEnabled(ready)
        self.export_button.setEnabled(
            ready and bool(self._controller.info and self._controller.info.photo_count)
        )

    # ------------------------------------------------------------------ edits (dialogs, then the controller)

    def _on_rename_clicked(self) -> None:
        whale = self.selected_whale()
        if whale is None:
            return
        dialog = RenameDialog(whale, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        new_id = dialog.id_edit.text().strip()
        self._selected_id = new_id or whale.whale_id
        self._controller.editor.rename_whale(
            whale.whale_id,
            new_id=new_id if new_id != whale.whale_id else None,
            name=dialog.name_edit.text().strip(),
            notes=dialog.notes_edit.toPlainText().strip(),
        )

    def _on_merge_clicked(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        whale = self.selected_whale()
        info = self._controller.info
        if whale is None or info is None:
            return
        others = [f"{w.whale_id}  {w.name}".strip() for w in info.whales if w.whale_id != whale.whale_id]
        if not others:
            QMessageBox.information(self, "Merge", "There is no other whale to merge into.")
            return
        choice, ok = QInputDialog.getItem(
            self,
            "Merge whales",
            f"Merge {whale.whale_id} ({plural(whale.photo_count, 'photo')}) into:",
            others,
            0,
            False,
        )
        if not ok:
            return
        target = choice.split()[0]
        if self._confirm(f"Move all photos of {whale.whale_id} to {target} and remove {whale.whale_id}?"):
            self._selected_id = target
            self._controller.editor.merge_whales(whale.whale_id, target)

    def _on_delete_clicked(self) -> None:
        whale = self.selected_whale()
        if whale is not None and self._confirm(
            f"Delete whale {whale.whale_id} {whale.name} and take its {plural(whale.photo_count, 'photo')} "
            "out of the catalogue? This cannot be undone."
        ):
            self._selected_id = ""
            self._controller.editor.delete_whale(whale.whale_id)

    def _on_remove_photo_clicked(self) -> None:
        idx = self.photo_list.currentIndex()
        photo = self.photo_model.photos[idx.row()] if idx.isValid() else None
        if photo is not None and self._confirm(f"Take {photo.original_name} out of whale {photo.whale_id}?"):
            self._controller.editor.remove_photo(photo.photo_id)

    def _confirm(self, text: str) -> bool:
        answer = QMessageBox.question(
            self,
            "Please confirm",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes
