"""The main window: the queue on the left; the review or the gallery browser on the right; menus, shortcuts,
drag and drop, paste, the status bar (model, device, gallery size) and the dialogs that report problems."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from whalegui.core.images import PHOTO_SUFFIXES
from whalegui.gui.compare_view import CompareView
from whalegui.gui.controller import Controller
from whalegui.gui.enroll_dialog import EnrollDialog
from whalegui.gui.gallery_browser import GalleryBrowser
from whalegui.gui.queue_view import QueueView
from whalegui.gui.resources import icon
from whalegui.paths import log_dir

log = logging.getLogger(__name__)

PHOTO_FILTER = "Photos (" + " ".join(f"*{s} *{s.upper()}" for s in PHOTO_SUFFIXES) + ");;All files (*)"

SHORTCUTS_HELP = """<table>
<tr><td><b>Enter</b></td><td>same whale: confirm the selected candidate</td></tr>
<tr><td><b>N</b></td><td>new whale: enroll the query</td></tr>
<tr><td><b>S</b></td><td>skip: decide later</td></tr>
<tr><td><b>Ctrl+Z</b></td><td>undo the last confirm or new whale</td></tr>
<tr><td><b>← →</b></td><td>previous / next candidate</td></tr>
<tr><td><b>↑ ↓</b></td><td>previous / next photo of the selected whale</td></tr>
<tr><td><b>+ - 0 1</b></td><td>zoom in, zoom out, fit, 1:1 (mouse wheel zooms, drag pans)</td></tr>
<tr><td><b>[ ] H V</b></td><td>rotate the query left / right, flip it left-right / upside down</td></tr>
<tr><td><b>Ctrl+O, Ctrl+V</b></td><td>open photos, paste photos (or drop them anywhere)</td></tr>
</table>"""


class MainWindow(QMainWindow):
    """The app's window. Built from the controller; listens to its signals."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("whalegui: humpback fluke identification")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.enroll_dialog: EnrollDialog | None = None
        self.import_progress: QProgressDialog | None = None
        self.last_message_box: QMessageBox | None = None

        self.queue_view = QueueView(controller, self)
        self.compare_view = CompareView(controller, self)
        self.browser = GalleryBrowser(controller, self)
        self.welcome = self._make_welcome()
        self.message_page, self.message_title, self.message_text = self._make_message_page()
        self.review_stack = QStackedWidget(self)
        for page in (self.message_page, self.welcome, self.compare_view):
            self.review_stack.addWidget(page)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.review_stack, icon("review"), "Review")
        self.tabs.addTab(self.browser, icon("gallery"), "Gallery")
        self.tabs.setDocumentMode(True)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.queue_view)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([290, 1000])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)

        self.model_label = QLabel("model: loading…", self)
        self.device_label = QLabel("", self)
        self.gallery_label = QLabel("", self)
        for label in (self.model_label, self.device_label, self.gallery_label):
            self.statusBar().addPermanentWidget(label)

        self._make_actions()
        self._make_menus_and_toolbar()
        self._show_message("Starting…", "Loading the identification model and the gallery…")

        controller.loading_started.connect(lambda text: self.statusBar().showMessage(text))
        controller.loading_failed.connect(self._on_loading_failed)
        controller.model_loaded.connect(self._on_model_loaded)
        controller.gallery_changed.connect(self._on_gallery_changed)
        controller.entries_inserted.connect(self._update_review_page)
        controller.current_entry_changed.connect(self._update_review_page)
        controller.error_raised.connect(self._on_error_raised)
        controller.status_messaged.connect(lambda text: self.statusBar().showMessage(text, 8000))
        controller.undo_changed.connect(self.undo_action.setEnabled)
        controller.import_started.connect(self._on_import_started)
        controller.import_progressed.connect(self._on_import_progressed)
        controller.import_finished.connect(self._on_import_finished)
        self.compare_view.new_button.clicked.connect(self.new_whale)
        self.browser.import_requested.connect(self.import_catalogue_csv)
        self.browser.export_requested.connect(self.export_csv)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.resize(1280, 760)

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
        c, cv = self.controller, self.compare_view
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
        self.undo_action = self._action(
            "&Undo last confirm / new whale", c.undo, QKeySequence.StandardKey.Undo, "undo"
        )
        self.undo_action.setEnabled(False)
        self.clear_action = self._action("&Clear finished photos from the queue", c.clear_finished)
        self.identify_action = self._action("&Identify waiting photos", c.identify_waiting, None, "identify")
        # review keys: enabled only while the review tab shows, so typing in the browser's search is safe
        self.review_actions = [
            self._action("Same whale (confirm)", c.confirm, ["Return", "Enter"], "confirm"),
            self._action("New whale…", self.new_whale, "N", "new-whale"),
            self._action("Skip", c.skip, "S", "skip"),
            self._action("Previous candidate", lambda: c.step_candidate(-1), "Left"),
            self._action("Next candidate", lambda: c.step_candidate(1), "Right"),
            self._action("Previous photo of this whale", lambda: c.step_candidate_photo(-1), "Up"),
            self._action("Next photo of this whale", lambda: c.step_candidate_photo(1), "Down"),
            self._action("Zoom in", lambda: cv.zoom_by(1.25), ["+", "=", "Ctrl++"], "zoom-in"),
            self._action("Zoom out", lambda: cv.zoom_by(0.8), ["-", "Ctrl+-"], "zoom-out"),
            self._action("Fit", cv.fit, ["0", "F"], "zoom-fit"),
            self._action("Query at 1:1", cv.actual_size, "1", "zoom-100"),
            self._action("Rotate query left", lambda: cv.rotate(-90), "[", "rotate-left"),
            self._action("Rotate query right", lambda: cv.rotate(90), "]", "rotate-right"),
            self._action("Flip query left-right", cv.flip_horizontal, "H", "flip-horizontal"),
            self._action("Flip query upside down", cv.flip_vertical, "V", "flip-vertical"),
        ]
        self.review_tab_action = self._action(
            "&Review", lambda: self.tabs.setCurrentIndex(0), "Ctrl+1", "review"
        )
        self.gallery_tab_action = self._action(
            "&Gallery", lambda: self.tabs.setCurrentIndex(1), "Ctrl+2", "gallery"
        )
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
            None,
            self.demo_action,
            self.open_gallery_action,
            None,
            self.quit_action,
        ):
            file_menu.addSeparator() if a is None else file_menu.addAction(a)
        edit_menu = menu.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.identify_action)
        edit_menu.addAction(self.clear_action)
        review_menu = menu.addMenu("&Review")
        for a in self.review_actions:
            review_menu.addAction(a)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.review_tab_action)
        view_menu.addAction(self.gallery_tab_action)
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

    def _make_welcome(self) -> QWidget:
        page = QWidget(self)
        page.setObjectName("welcome")
        title = QLabel("Your gallery is empty", page)
        title.setObjectName("welcomeTitle")
        text = QLabel(
            "whalegui finds the whale in a fluke photo among the whales in your gallery.<br>"
            "Start with known whales:<ul>"
            "<li><b>Import a catalogue</b>: a CSV with columns <i>Image,Id</i> and its photo folder, "
            "or a folder with one sub-folder of photos per whale;</li>"
            "<li>or <b>open the demo</b>: synthetic whales and query photos to try everything in a "
            "minute;</li>"
            "<li>or drop fluke photos here and enroll each as a <b>new whale</b> (N).</li></ul>",
            page,
        )
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        buttons = QHBoxLayout()
        for label, name, slot in (
            ("Import a catalogue (CSV)…", "import", self.import_catalogue_csv),
            ("Import folders (one per whale)…", "open-folder", self.import_catalogue_folders),
            ("Open the demo", "demo", self.controller.open_demo),
        ):
            b = QPushButton(icon(name), label, page)
            b.setObjectName("welcomeButton")
            b.clicked.connect(slot)
            buttons.addWidget(b)
        buttons.addStretch(1)
        box = QVBoxLayout(page)
        box.setContentsMargins(40, 30, 40, 30)
        box.addWidget(title)
        box.addWidget(text)
        box.addLayout(buttons)
        box.addStretch(1)
        return page

    def _make_message_page(self) -> tuple[QWidget, QLabel, QLabel]:
        page = QWidget(self)
        page.setObjectName("welcome")
        title = QLabel("", page)
        title.setObjectName("welcomeTitle")
        text = QLabel("", page)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QVBoxLayout(page)
        box.setContentsMargins(40, 30, 40, 30)
        box.addWidget(title)
        box.addWidget(text)
        box.addStretch(1)
        return page, title, text

    # ------------------------------------------------------------------ state

    def _show_message(self, title: str, text: str) -> None:
        self.message_title.setText(title)
        self.message_text.setText(text)
        self.review_stack.setCurrentWidget(self.message_page)

    def _update_review_page(self, *_: object) -> None:
        c = self.controller
        if not c.ready:
            return
        empty_gallery = c.info is None or c.info.photo_count == 0
        if empty_gallery and not c.entries:
            self.review_stack.setCurrentWidget(self.welcome)
        else:
            self.review_stack.setCurrentWidget(self.compare_view)

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

    def _on_gallery_changed(self) -> None:
        info = self.controller.info
        if info is not None:
            self.gallery_label.setText(f"gallery: {info.whale_count} whales, {info.photo_count} photos")
            self.gallery_label.setToolTip(str(info.folder))
        self._update_review_page()

    def _on_tab_changed(self, index: int) -> None:
        for action in self.review_actions:
            action.setEnabled(index == 0)
        if index == 1:
            self.controller.refresh_gallery()

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
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragEnterEvent) -> None:
        self.dragEnterEvent(event)

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
                folder = self.controller._make_temp_dir("whalegui-pasted-")
                target = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}.png"
                image.save(str(target))
                self.tabs.setCurrentIndex(0)
                return self.controller.add_paths([target])
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
        """Open the New whale dialog for the current query (non-blocking; OK enrolls)."""
        c = self.controller
        entry = c.current_entry()
        if entry is None or not entry.reviewable or self.enroll_dialog is not None:
            return
        meta = getattr(entry.identification, "meta", None)
        dialog = EnrollDialog(
            c.suggest_whale_id(),
            photo_name=entry.name,
            taken_at=getattr(meta, "taken_at", None) or entry.taken_at,
            gps=getattr(meta, "gps", None),
            id_taken=c.whale_id_taken,
            thumbnail=self._query_preview(entry.path),
            parent=self,
        )
        self.enroll_dialog = dialog

        def done(result: int) -> None:
            self.enroll_dialog = None
            if result == EnrollDialog.DialogCode.Accepted and c.current_entry() is entry:
                request = dialog.request()
                c.enroll_current(request.whale_id, request.name, request.notes)
            dialog.deleteLater()

        dialog.finished.connect(done)
        dialog.open()

    def _query_preview(self, path: Path) -> QPixmap | None:
        pane = self.compare_view.query_pane
        if pane.has_image() and pane.path == str(path):
            return pane.pixmap()
        return self.controller.thumbnails.pixmap(path)

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
            self.controller.import_catalogue(csv, folder)

    def import_catalogue_folders(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Import a catalogue: a folder with one sub-folder per whale", self._start_dir()
        )
        if folder:
            self._remember_dir(Path(folder))
            self.controller.import_catalogue(None, folder)

    def export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export the catalogue as CSV",
            str(Path(self._start_dir()) / "catalogue.csv"),
            "CSV files (*.csv)",
        )
        if path:
            self.controller.export_csv(path)

    def open_gallery(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open or create a gallery folder", self._start_dir())
        if folder:
            self.controller.open_gallery(folder)

    def _on_import_started(self, what: str) -> None:
        dialog = QProgressDialog(f"Importing {Path(what).name}…", "Cancel", 0, 0, self)
        dialog.setWindowTitle("Import catalogue")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.controller.cancel_import)
        self.import_progress = dialog

    def _on_import_progressed(self, done: int, total: int) -> None:
        if self.import_progress is not None:
            self.import_progress.setMaximum(max(total, 1))
            self.import_progress.setValue(done)
            self.import_progress.setLabelText(f"Importing photos: {done} of {total}")

    def _on_import_finished(self, report: object) -> None:
        if self.import_progress is not None:
            self.import_progress.close()
            self.import_progress.deleteLater()
            self.import_progress = None
        if report is None:
            return
        errors = list(getattr(report, "errors", []))
        lines = [
            f"{getattr(report, 'imported', 0)} photos imported"
            f" ({getattr(report, 'whales_created', 0)} new whales)",
            f"{getattr(report, 'skipped_duplicates', 0)} already in the gallery",
        ]
        if getattr(report, "skipped_new_whale", 0):
            lines.append(f"{report.skipped_new_whale} labelled new_whale skipped")  # type: ignore[attr-defined]
        if errors:
            lines.append(f"{len(errors)} could not be imported:")
            lines += [f"  {name}: {reason}" for name, reason in errors[:8]]
            if len(errors) > 8:
                lines.append(f"  … and {len(errors) - 8} more (see the log file)")
        if getattr(report, "cancelled", False):
            lines.insert(0, "Cancelled.")
        text = "\n".join(lines)
        log.info("import report: %s", text.replace("\n", "; "))
        self.statusBar().showMessage(lines[0], 10000)
        if errors or getattr(report, "cancelled", False):
            self.show_message_box(QMessageBox.Icon.Information, "Import finished", text)

    # ------------------------------------------------------------------ help and closing

    def show_shortcuts(self) -> None:
        self.show_message_box(QMessageBox.Icon.Information, "Keyboard shortcuts", SHORTCUTS_HELP)

    def open_log_folder(self) -> None:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.controller.batch_running:
            self.controller.cancel_batch()
        event.accept()
