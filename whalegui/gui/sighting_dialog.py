"""Correct a stored sighting: its date, position, place, observer, vessel and notes."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from whalegui.core.sightings import Sighting, SightingRecord
from whalegui.gui.sighting_form import SightingForm
from whalegui.wording import plural


class SightingDialog(QDialog):
    """The fields of one sighting; OK is refused while one is wrong."""

    def __init__(self, record: SightingRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Sighting of {record.whale_id}")
        self.record = record
        intro = QLabel(f"{record.sighting.label()}: {plural(len(record.photo_ids), 'photo')} of "
                       f"{record.whale_id}. The correction is saved in the gallery (Ctrl+Z undoes it).", self)
        intro.setWordWrap(True)
        self.form = SightingForm(record.sighting, parent=self)
        self.error_label = QLabel("", self)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Save")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.form.edited.connect(self._validate)
        self.resize(440, self.sizeHint().height())
        self._validate()

    def _validate(self) -> bool:
        problem = self.form.problem()
        self.error_label.setText(problem)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)
        return not problem

    def accept(self) -> None:
        if self._validate():
            super().accept()

    def sighting(self) -> Sighting:
        """The corrected sighting (valid once the dialog was accepted)."""
        return self.form.sighting()
