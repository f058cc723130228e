"""A progress bar with a Cancel button inside the main window, for long work such as a catalogue import.

It is part of the window, so it shows at once (no separate dialog window that appears blank before it
paints) and it keeps the window usable while the work runs. Progress reported after the work finished is
ignored, so a late report can never touch a panel that is gone.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QProgressBar, QPushButton, QWidget

from whalegui.gui.elided_label import ElidedLabel
from whalegui.gui.resources import icon


class ProgressPanel(QFrame):
    """``start(text)``, then ``set_progress(done, total)`` as often as needed, then ``finish()``."""

    canceled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("progressPanel")
        self.label = ElidedLabel("", self)
        self.bar = QProgressBar(self)
        self.bar.setMinimumWidth(120)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel", self)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.label, 2)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        self._what = ""
        self._active = False
        self.cancelling_text = "cancelling after the current batch…"
        self.hide()

    @property
    def active(self) -> bool:
        """Whether work is running (the panel takes progress reports)."""
        return self._active

    def start(self, what: str) -> None:
        """Show the panel for ``what`` ("Importing catalogue.csv"); busy until the first progress."""
        self._what, self._active = what, True
        self.cancel_button.setEnabled(True)
        self.label.setText(f"{what}: reading the list of photos…")
        self.bar.setRange(0, 0)  # an animated busy bar: the total is not known yet
        self.show()

    def set_progress(self, done: int, total: int) -> None:
        """``done`` of ``total`` photos are finished."""
        if not self._active or not self.cancel_button.isEnabled():
            return  # a report that arrived after the work finished, or while it is being cancelled
        if done <= 0:  # the first batch is being read and embedded: the bar stays busy, the label says so
            self.bar.setRange(0, 0)
            self.label.setText(f"{self._what}: reading and embedding the first photos (0 of {total})…")
            return
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(done, total))
        self.bar.setFormat(f"{done} of {total}")
        self.label.setText(f"{self._what}: {done} of {total} photos")

    def set_line(self, line: str, done: int = 0, total: int = 0) -> None:
        """A line of progress from work that reports in words (``adapt: epoch 3/10``); a bar when it says
        how far it is (``done`` of ``total``), else a busy one."""
        if not self._active or not self.cancel_button.isEnabled():
            return
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
            self.bar.setFormat(f"{done} of {total}")
        else:
            self.bar.setRange(0, 0)
        self.label.setText(f"{self._what}: {line}")

    def finish(self) -> None:
        """The work is over: hide, and ignore later reports."""
        self._active = False
        self.hide()

    def _on_cancel_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.label.setText(f"{self._what}: {self.cancelling_text}")
        self.canceled.emit()
