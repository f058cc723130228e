"""File > Merge gallery from...: pick another gallery's folder, see what merging it would do (a dry run in a
worker), merge it (a worker, with progress and Cancel), then review the possibly-same whales it found
(:class:`~whalegui.gui.likely_same_dialog.LikelySameDialog`). :func:`merge_actions` makes the menu's
actions, so the main window only lists them.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from whalegui.cli_merge import print_report
from whalegui.core import errors
from whalegui.core.gallery.merge_report import LikelySame, MergeReport
from whalegui.gui.controller import Controller
from whalegui.gui.likely_same_dialog import LikelySameDialog
from whalegui.gui.service import Merged
from whalegui.gui.workers import Worker
from whalegui.wording import plural

log = logging.getLogger(__name__)


class MergeDialog(QDialog):
    """Merging the gallery in ``other`` into the controller's open gallery: the dry run's report first,
    then the merge on the researcher's word."""

    merge_finished = Signal(object)  # MergeReport of the merge (not of the dry run)

    def __init__(self, controller: Controller, other: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Merge gallery")
        self.resize(720, 460)
        self._controller = controller
        self._other = Path(other)
        self._worker: Worker | None = None
        self.report: MergeReport | None = None  # the latest report (dry run, then merge)
        self.heading = QLabel(f"Merging <b>{self._other}</b> into this gallery. It is only read, never "
                              "changed; photos already here (by content) are not added twice.")
        self.heading.setWordWrap(True)
        self.summary = QPlainTextEdit(readOnly=True)
        self.summary.setFont(QFont("monospace", 9))
        self.summary.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.buttons = QDialogButtonBox()
        self.merge_button = QPushButton("Merge")
        self.merge_button.setEnabled(False)
        self.review_button = QPushButton("Review possibly-same whales…")
        self.close_button = QPushButton("Cancel")
        self.buttons.addButton(self.merge_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.review_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.review_button.hide()  # (adding it to the box shows it)
        self.merge_button.clicked.connect(self._on_merge_clicked)
        self.review_button.clicked.connect(self._on_review_clicked)
        self.close_button.clicked.connect(self._on_close_clicked)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.summary, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)
        self._start(dry_run=True)

    @property
    def running(self) -> bool:
        """Whether a dry run or the merge is running."""
        return self._worker is not None

    # ------------------------------------------------------------------ running

    def _start(self, *, dry_run: bool) -> None:
        self.summary.setPlainText("Checking what the merge would do…" if dry_run else "Merging…")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.merge_button.setEnabled(False)
        self.close_button.setText("Cancel")
        if not dry_run:
            self._controller.undo_stack.clear()  # what undo knew about no longer holds
        self._worker = self._controller.service.merge_from(
            self._other, dry_run=dry_run, progress=self._on_progressed,
            done=self._on_merged, failed=self._on_failed)

    def _on_progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _on_merged(self, merged: Merged) -> None:
        self._worker = None
        r = self.report = merged.report
        self.progress.hide()
        self.summary.setPlainText(_report_text(r))
        self.close_button.setText("Close")
        if r.dry_run:
            self.merge_button.setEnabled(r.photos_new > 0 or any(w.how in ("new", "conflict")
                                                                  for w in r.whales))
            self.merge_button.setText("Merge" if self.merge_button.isEnabled() else "Nothing to merge")
            return
        self.merge_button.hide()
        self._controller.editor.refresh()  # the browser and the status bar show the merged gallery
        self._controller.status_messaged.emit(
            f"Merged {self._other.name}: {plural(r.photos_new, 'photo')} added"
            + (" (stopped: merge again to finish)" if r.cancelled else "") + ".")
        if r.likely_same and not r.cancelled:
            self.review_button.setText(f"Review {plural(len(r.likely_same), 'possibly-same whale')}…")
            self.review_button.show()
            self.review_button.setDefault(True)
        self.merge_finished.emit(r)

    def _on_failed(self, exc: BaseException) -> None:
        self._worker = None
        self.progress.hide()
        if not isinstance(exc, errors.WhaleguiError):
            log.error("merging %s failed", self._other, exc_info=exc)
        self.summary.setPlainText(f"The merge could not be done:\n{exc}\n\nNothing that was merged is lost; "
                                  "merging again finishes what was started.")
        self.close_button.setText("Close")

    # ------------------------------------------------------------------ buttons

    def _on_merge_clicked(self) -> None:
        if self.report is not None and self.report.dry_run and not self.running:
            self._start(dry_run=False)

    def _on_review_clicked(self) -> None:
        if self.report is not None:
            open_likely_same(self._controller, self.report.likely_same, self.parentWidget())
            self.accept()

    def _on_close_clicked(self) -> None:
        if self._worker is not None:
            self._worker.cancel()  # the merge stops after its batch; what was stored stays
            self.close_button.setText("Stopping…")
            return
        self.reject()

    def reject(self) -> None:
        if self._worker is not None:  # Esc while running: stop, then close when it reports
            self._worker.cancel()
            return
        super().reject()


def _report_text(r: MergeReport) -> str:
    out = io.StringIO()
    print_report(r, out)
    text = out.getvalue()
    if r.cancelled:
        text = "Stopped. What was merged is kept: merge again to finish.\n\n" + text
    if not r.dry_run:
        text += (f"\nThis gallery had {plural(r.before[0], 'whale')} and {plural(r.before[1], 'photo')}; "
                 f"it now has {plural(r.after[0], 'whale')} and {plural(r.after[1], 'photo')}.\n")
    return text


def open_likely_same(controller: Controller, pairs: list[LikelySame], parent: QWidget | None) -> None:
    """Show the possibly-same whales as a queue (nothing when there are none)."""
    if not pairs:
        controller.status_messaged.emit("No possibly-same whales are waiting for review.")
        return
    dialog = LikelySameDialog(controller, pairs, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()


def merge_actions(window: QWidget, controller: Controller) -> list[QAction]:
    """The File menu's "Merge gallery from..." and "Possibly-same whales..." actions."""

    def merge() -> None:
        if not controller.service.is_open:
            controller.status_messaged.emit("Open a gallery first.")
            return
        folder = QFileDialog.getExistingDirectory(window, "Merge another gallery into this one: its folder",
                                                  controller.settings.last_folder or str(Path.home()))
        if folder:
            dialog = MergeDialog(controller, Path(folder), window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.open()

    def review() -> None:
        if controller.service.is_open:
            controller.service.likely_same(done=lambda pairs: open_likely_same(controller, pairs, window),
                                           failed=lambda exc: controller.status_messaged.emit(str(exc)))

    merge_action = QAction("&Merge gallery from…", window)
    merge_action.setToolTip("Merge another gallery (another team's, another laptop's) into this one")
    merge_action.triggered.connect(merge)
    review_action = QAction("Possibly-same whales…", window)
    review_action.setToolTip("Review the whales the last merge found possibly the same as one here")
    review_action.triggered.connect(review)
    return [merge_action, review_action]
