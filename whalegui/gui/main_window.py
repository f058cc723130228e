"""The main window: the queue on the left; the review or the gallery browser on the right; menus, shortcuts,
drag and drop, paste, the status bar (model, device, gallery size), the import's progress and the dialogs
that report problems. It fits a 1024x700 screen: the queue panel collapses and every panel shrinks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from whalegui.core.images import PHOTO_SUFFIXES
from whalegui.gui import messages
from whalegui.gui.compare_view import CompareView
from whalegui.gui.controller import Controller
from whalegui.gui.elided_label import ElidedLabel
from whalegui.gui.enroll_dialog import EnrollDialog
from whalegui.gui.gallery_browser import GalleryBrowser
from whalegui.gui.merge_dialog import merge_actions
from whalegui.gui.message_page import MessagePage
from whalegui.gui.progress_panel import ProgressPanel
from whalegui.gui.queue_view import MIN_WIDTH as QUEUE_MIN_WIDTH
from whalegui.gui.queue_view import QueueView
from whalegui.gui.resources import icon
from whalegui.gui.review_model import QueueEntry
from whalegui.gui.service import GalleryInfo
from whalegui.gui.tuning_menu import TuningMenu
from whalegui.gui.welcome_page import WelcomePage
from whalegui.paths import log_dir

if TYPE_CHECKING:
    from whalegui.core.gallery import ImportReport

log = logging.getLogger(__name__)

PHOTO_FILTER = "Photos (" + " ".join(f"*{s} *{s.upper()}" for s in PHOTO_SUFFIXES) + ");;All files (*)"


class MainWindow(QMainWindow):
    """The app's window. Built from the controller; listens to its signals."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("whalegui: humpback fluke identification")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.enroll_dialog: EnrollDialog | None = None
        self.last_message_box: QMessageBox | None = None
        self.gallery_question: QMessageBox | None = None

        self.queue_view = QueueView(controller, self)
        self.compare_view = CompareView(controller, self)
        self.browser = GalleryBrowser(controller, self)
        self.welcome = WelcomePage(self)
        self.welcome.import_csv_requested.connect(self.import_catalogue_csv)
        self.welcome.import_folders_requested.connect(self.import_catalogue_folders)
        self.welcome.demo_requested.connect(controller.open_demo)
        self.message_page = MessagePage(self)
        self.review_stack = QStackedWidget(self)
        for page in (self.message_page, self.welcome, self.compare_view):
            self.review_stack.addWidget(page)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.review_stack, icon("review"), "Review")
        self.tabs.addTab(self.browser, icon("gallery"), "Gallery")
        self.tabs.setDocumentMode(True)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.queue_view)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([QUEUE_MIN_WIDTH + 40, 1000])
        self.splitter.setCollapsible(0, True)  # on a small screen the queue folds away (F9 brings it back)
        self.splitter.setCollapsible(1, False)
        self.import_panel = ProgressPanel(self)
        self.import_panel.canceled.connect(controller.editor.cancel_import)
        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.import_panel)
        column.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.model_label = QLabel("model: loading…", self)
        self.device_label = QLabel("", self)
        self.gallery_label = ElidedLabel("", self)
        self.gallery_label.setMinimumWidth(160)
        for label in (self.model_label, self.device_label, self.gallery_label):
            self.statusBar().addPermanentWidget(label)

        self._make_actions()
        self._make_menus_and_toolbar()
        self.tuning_menu = TuningMenu(self, controller)
        self._show_message("Starting…", "Loading the identification model and the gallery…")

        controller.loading_started.connect(self._on_loading_started)
        controller.loading_failed.connect(self._on_loading_failed)
        controller.gallery_missing.connect(self._on_gallery_missing)
        controller.model_loaded.connect(self._on_model_loaded)
        controller.gallery_changed.connect(self._on_gallery_changed)
        controller.review.queue.rowsInserted.connect(self._update_review_page)
        controller.review.current_entry_changed.connect(self._update_review_page)
        controller.new_whale_requested.connect(self._on_new_whale_requested)
        controller.error_raised.connect(self._on_error_raised)
        controller.status_messaged.connect(self._on_status_messaged)
        controller.undo_stack.canUndoChanged.connect(self.undo_action.setEnabled)
        controller.undo_stack.canRedoChanged.connect(self.redo_action.setEnabled)
        controller.undo_stack.undoTextChanged.connect(self._on_undo_text_changed)
        controller.editor.import_started.connect(self._on_import_started)
        controller.editor.import_progressed.connect(self.import_panel.set_progress)
        controller.editor.import_finished.connect(self._on_import_finished)
        self.browser.import_requested.connect(self.import_catalogue_csv)
        self.browser.export_requested.connect(self.export_csv)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.resize(1280, 720)

    # ------------------------------------------------------------------ building

    def _action(
        self,
        text: str,
        slot: object,
        shortcut: str | list[str] | QKeySequence.StandardKey | None = None,
        icon_name: str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if isinstance(shortcut, list):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)  # window-wide shortcut, even without a menu
        return action

    def _make_actions(self) -> None:
        c, cv, review = self.controller, self.compare_view, self.controller.review
        self.open_action = self._action(
            "&Open photos…",
            self.open_photos,
            QKeySequence.StandardKey.Open,
            "open-photos",
            "Add photos to the queue",
        )
        self.open_folder_action = self._action(
            "Open &folder…",
            self.open_folder,
            "Ctrl+Shift+O",
            "open-folder",
            "Add every photo in a folder to the queue",
        )
        self.paste_action = self._action(
            "&Paste photos",
            self.paste,
            QKeySequence.StandardKey.Paste,
            "paste",
            "Add copied photo files or a copied image to the queue",
        )
        self.import_csv_action = self._action(
            "&Import catalogue (CSV)…",
            self.import_catalogue_csv,
            None,
            "import",
            "Import a labelled catalogue: Image,Id CSV + photos",
        )
        self.import_folders_action = self._action(
            "Import catalogue (folder per &whale)…",
            self.import_catalogue_folders,
            None,
            "import",
            "Import a folder with one sub-folder of photos per whale",
        )
        self.export_action = self._action(
            "&Export catalogue CSV…", self.export_csv, None, "export", "Write the catalogue as a CSV file"
        )
        self.demo_action = self._action(
            "Open the &demo",
            c.open_demo,
            None,
            "demo",
            "A throwaway gallery of synthetic whales, with query photos to try",
        )
        self.open_gallery_action = self._action("Open &gallery folder…", self.open_gallery, None, "gallery")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.undo_action = self._action("&Undo", c.undo, QKeySequence.StandardKey.Undo, "undo",
                                        "Undo the last confirm or new whale")
        self.undo_action.setEnabled(False)
        self.redo_action = self._action("&Redo", c.redo, ["Ctrl+Shift+Z", "Ctrl+Y"], None,
                                        "Redo what was undone")
        self.redo_action.setEnabled(False)
        self.clear_action = self._action("&Clear finished photos from the queue", c.clear_finished)
        self.identify_action = self._action("&Identify waiting photos", c.identify_waiting, None, "identify")
        # review keys: enabled only while the review tab shows, so typing in the browser's search is safe
        self.review_actions = [
            self._action("What the verdict proposes", c.accept_proposal, ["Return", "Enter"]),
            self._action("Same whale (confirm)", c.confirm, "C", "confirm"),
            self._action("New whale…", c.request_new_whale, "N", "new-whale"),
            self._action("Not this whale", review.toggle_rejected, "X", None),
            self._action("Skip", c.skip, "S", "skip"),
            self._action("Previous candidate", lambda: review.step_candidate(-1), "Left"),
            self._action("Next candidate", lambda: review.step_candidate(1), "Right"),
            self._action("Previous photo of this whale", lambda: review.step_candidate_photo(-1), "Up"),
            self._action("Next photo of this whale", lambda: review.step_candidate_photo(1), "Down"),
            self._action("Zoom in", lambda: cv.zoom_by(1.25), ["+", "=", "Ctrl++"], "zoom-in"),
            self._action("Zoom out", lambda: cv.zoom_by(0.8), ["-", "Ctrl+-"], "zoom-out"),
            self._action("Fit", cv.fit, ["0", "F"], "zoom-fit"),
            self._action("Query at 1:1", cv.actual_size, "1", "zoom-100"),
            self._action("Rotate query left", lambda: cv.rotate(-90), "[", "rotate-left"),
            self._action("Rotate query right", lambda: cv.rotate(90), "]", "rotate-right"),
            self._action("Flip query left-right", cv.flip_horizontal, "H", "flip-horizontal"),
            self._action("Flip query upside down", cv.flip_vertical, "V", "flip-vertical"),
            self._action("Draw the query's fluke box", cv.toggle_drawing, "B", "draw-box"),
            self._action("Show matches", cv.toggle_matches, "M", "matches"),
        ]
        self.review_tab_action = self._action(
            "&Review", lambda: self.tabs.setCurrentIndex(0), "Ctrl+1", "review"
        )
        self.gallery_tab_action = self._action(
            "&Gallery", lambda: self.tabs.setCurrentIndex(1), "Ctrl+2", "gallery"
        )
        self.queue_action = self._action("Show the &queue", self.toggle_queue, "F9")
        self.shortcuts_action = self._action("&Keyboard shortcuts", self.show_shortcuts, "F1")
        self.log_action = self._action("Open &log folder", self.open_log_folder)

    def _make_menus_and_toolbar(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for a in (
            self.open_action,
            self.open_folder_action,
            self.paste_action,
            None,
            self.import_csv_action,
            self.import_folders_action,
            self.export_action,
            *merge_actions(self, self.controller),
            None,
            self.demo_action,
            self.open_gallery_action,
            None,
            self.quit_action,
        ):
            file_menu.addSeparator() if a is None else file_menu.addAction(a)
        edit_menu = menu.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addAction(self.identify_action)
        edit_menu.addAction(self.clear_action)
        review_menu = menu.addMenu("&Review")
        for a in self.review_actions:
            review_menu.addAction(a)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.review_tab_action)
        view_menu.addAction(self.gallery_tab_action)
        view_menu.addAction(self.queue_action)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.log_action)

        tools = self.addToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools.addAction(self.open_action)
        tools.addAction(self.open_folder_action)
        tools.addSeparator()
        tools.addAction(self.import_csv_action)
        tools.addAction(self.demo_action)
        tools.addSeparator()
        tools.addAction(self.undo_action)
        tools.addSeparator()
        tools.addWidget(QLabel(" Candidates: ", self))
        self.top_spin = QSpinBox(self)
        self.top_spin.setRange(1, 20)
        self.top_spin.setValue(self.controller.settings.top_k)
        self.top_spin.setToolTip("How many candidate whales to show (for photos identified from now on)")
        self.top_spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.top_spin.valueChanged.connect(self._on_top_changed)
        tools.addWidget(self.top_spin)

    # ------------------------------------------------------------------ state

    def _show_message(self, title: str, text: str) -> None:
        self.message_page.show_message(title, text)
        self.review_stack.setCurrentWidget(self.message_page)

    def _update_review_page(self, *_: object) -> None:
        c = self.controller
        if not c.ready:
            return
        empty_gallery = c.info is None or c.info.photo_count == 0
        if empty_gallery and not c.entries and c.editor.importing:  # not "empty" while the import fills it
            self._show_message("Importing the catalogue…", messages.IMPORTING_TEXT)
        elif empty_gallery and not c.entries:
            self.review_stack.setCurrentWidget(self.welcome)
        else:
            self.review_stack.setCurrentWidget(self.compare_view)

    def _on_loading_started(self, text: str) -> None:
        self.statusBar().showMessage(text)

    def _on_status_messaged(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _on_undo_text_changed(self, text: str) -> None:
        self.undo_action.setToolTip(f"Undo {text}" if text else "Nothing to undo")

    def _on_model_loaded(self, name: str, device: str) -> None:
        self.model_label.setText(f"model: {name}")
        self.model_label.setToolTip(str(self.controller.model_path))
        self.device_label.setText(f"device: {device}")
        self.statusBar().showMessage("Ready.", 5000)
        self._update_review_page()

    def _on_loading_failed(self, title: str, text: str) -> None:
        self.model_label.setText("model: not loaded")
        self.device_label.setText("")
        self._show_message(title, text)
        self.statusBar().showMessage(title)

    def _on_gallery_missing(self, folder: Path) -> None:
        """A gallery folder the user named does not exist: ask before creating an empty gallery there."""
        message = messages.gallery_missing(folder)
        self._show_message(message.title, str(folder))
        box = QMessageBox(QMessageBox.Icon.Question, message.title, message.text,
                          QMessageBox.StandardButton.NoButton, self)
        create = box.addButton("Create a new gallery there", QMessageBox.ButtonRole.AcceptRole)
        choose = box.addButton("Choose another folder…", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(choose)

        def answered() -> None:
            self.gallery_question = None
            clicked = box.clickedButton()
            if clicked is create:
                self.controller.create_gallery()
            elif clicked is choose:
                chosen = QFileDialog.getExistingDirectory(self, "The gallery folder", self._start_dir())
                if chosen:
                    self.controller.create_gallery(chosen)
                else:
                    self.controller.decline_gallery()
            else:
                self.controller.decline_gallery()
            box.deleteLater()

        box.finished.connect(answered)
        self.gallery_question = box
        box.open()

    def _on_gallery_changed(self, info: GalleryInfo) -> None:
        self.gallery_label.setText(f"gallery: {messages.gallery_summary(info.whale_count, info.photo_count)}")
        self.gallery_label.set_tooltip(str(info.folder))
        self._update_review_page()

    def _on_tab_changed(self, index: int) -> None:
        for action in self.review_actions:
            action.setEnabled(index == 0)
        if index == 1:
            self.controller.editor.refresh()

    def _on_top_changed(self, value: int) -> None:
        self.controller.settings.top_k = value
        try:
            self.controller.settings.save()
        except OSError as exc:
            log.warning("cannot save settings: %s", exc)

    def _on_error_raised(self, title: str, text: str) -> None:
        self.show_message_box(QMessageBox.Icon.Warning, title, text)

    def show_message_box(self, kind: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
        """A window-modal message that does not block the event loop (workers keep reporting)."""
        box = QMessageBox(kind, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_message_box = box
        return box

    # ------------------------------------------------------------------ adding photos

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.dragMoveEvent(event)  # a QDragEnterEvent is a QDragMoveEvent

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.add_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def add_from_mime(self, mime: QMimeData) -> int:
        """Queue the files, folders or image in dropped or pasted data; returns how many photos."""
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if not paths and mime.hasText():
            paths = [
                Path(line.strip())
                for line in mime.text().splitlines()
                if line.strip() and Path(line.strip()).exists()
            ]
        if paths:
            self.tabs.setCurrentIndex(0)
            return self.controller.add_paths(paths)
        if mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self.tabs.setCurrentIndex(0)
                self.controller.add_image(image)  # written to a file in a worker, then queued
                return 1
        self.statusBar().showMessage("Nothing to add: copy or drop photo files, folders or an image.", 8000)
        return 0

    def paste(self) -> None:
        self.add_from_mime(QGuiApplication.clipboard().mimeData())

    def open_photos(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open fluke photos", self._start_dir(), PHOTO_FILTER)
        if files:
            self._remember_dir(Path(files[0]).parent)
            self.tabs.setCurrentIndex(0)
            self.controller.add_paths(files)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of fluke photos", self._start_dir())
        if folder:
            self._remember_dir(Path(folder))
            self.tabs.setCurrentIndex(0)
            self.controller.add_paths([folder])

    def _start_dir(self) -> str:
        return self.controller.settings.last_folder or str(Path.home())

    def _remember_dir(self, folder: Path) -> None:
        self.controller.settings.last_folder = str(folder)
        try:
            self.controller.settings.save()
        except OSError as exc:
            log.warning("cannot save settings: %s", exc)

    # ------------------------------------------------------------------ review

    def new_whale(self) -> None:
        """Open the New whale dialog for the photo under review."""
        self.controller.request_new_whale()

    def _on_new_whale_requested(self, entry: QueueEntry) -> None:
        """Ask for the new whale's id, name and notes (non-blocking; Enroll enrolls)."""
        c = self.controller
        if self.enroll_dialog is not None:
            return
        dialog = EnrollDialog(
            c.suggest_whale_id(),
            photo_name=entry.name,
            sighting=c.sightings.for_entry(entry),
            id_taken=c.whale_id_taken,
            thumbnail=self.compare_view.query_preview(entry.path) or c.thumbnails.pixmap(entry.path),
            parent=self,
        )
        self.enroll_dialog = dialog

        def done(result: int) -> None:
            self.enroll_dialog = None
            if result == EnrollDialog.DialogCode.Accepted and c.review.current_entry is entry:
                request = dialog.request()
                c.sightings.remember(request.sighting)
                c.enroll_current(request.whale_id, request.name, request.notes, request.sighting)
            dialog.deleteLater()

        dialog.finished.connect(done)
        dialog.open()

    # ------------------------------------------------------------------ gallery

    def import_catalogue_csv(self) -> None:
        csv, _ = QFileDialog.getOpenFileName(
            self,
            "Import a catalogue: the CSV (columns Image,Id)",
            self._start_dir(),
            "CSV files (*.csv);;All files (*)",
        )
        if not csv:
            return
        folder = QFileDialog.getExistingDirectory(
            self, "The folder with the catalogue's photos", str(Path(csv).parent)
        )
        if folder:
            self._remember_dir(Path(csv).parent)
            self.controller.editor.import_catalogue(csv, folder)

    def import_catalogue_folders(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Import a catalogue: a folder with one sub-folder per whale", self._start_dir()
        )
        if folder:
            self._remember_dir(Path(folder))
            self.controller.editor.import_catalogue(None, folder)

    def export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export the catalogue as CSV",
            str(Path(self._start_dir()) / "catalogue.csv"),
            "CSV files (*.csv)",
        )
        if path:
            self.controller.editor.export_csv(path)

    def open_gallery(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open or create a gallery folder", self._start_dir())
        if folder:
            self.controller.open_gallery(folder)

    def _on_import_started(self, what: str) -> None:
        self.import_panel.start(f"Importing {Path(what).name}")
        self.statusBar().clearMessage()  # the panel says what is going on
        self._update_review_page()

    def _on_import_finished(self, report: ImportReport | None) -> None:
        self.import_panel.finish()
        self._update_review_page()
        if report is None:
            return  # the controller reported the failure
        summary = messages.import_summary(report)
        log.info("import report: %s", summary.text.replace("\n", "; "))
        self.statusBar().showMessage(summary.line, 10000)
        if summary.needs_dialog:
            self.show_message_box(QMessageBox.Icon.Information, "Import finished", summary.text)

    # ------------------------------------------------------------------ help and closing

    def show_shortcuts(self) -> None:
        self.show_message_box(QMessageBox.Icon.Information, "Keyboard shortcuts", messages.SHORTCUTS_HELP)

    def open_log_folder(self) -> None:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.controller.batch_running:
            self.controller.cancel_batch()
        event.accept()

    def toggle_queue(self) -> None:
        """Show the queue panel, or fold it away to give the photos the window's width."""
        sizes = self.splitter.sizes()
        if sizes[0] > 0:
            self.splitter.setSizes([0, sum(sizes)])
        else:
            wanted = QUEUE_MIN_WIDTH + 40
            self.splitter.setSizes([wanted, max(sum(sizes) - wanted, 0)])
