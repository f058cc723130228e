"""The New whale dialog: a suggested unique id, a name, notes, and the sighting (prefilled from EXIF and
the review's sighting strip), recorded as a sighting in its own fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from whalegui.core.errors import GalleryError
from whalegui.core.records import validate_whale_id
from whalegui.core.sightings import Sighting
from whalegui.gui.sighting_form import SightingForm


@dataclass(frozen=True)
class EnrollRequest:
    whale_id: str
    name: str
    notes: str  # about the whale (marks, scars); the sighting has its own notes
    sighting: Sighting


class EnrollDialog(QDialog):
    """Ask for the new whale's id (suggested, checked unique), name and notes, and its sighting."""

    def __init__(
        self,
        suggested_id: str,
        *,
        photo_name: str = "",
        sighting: Sighting | None = None,
        id_taken: Callable[[str], bool] | None = None,
        thumbnail: QPixmap | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New whale")
        self.setModal(True)
        self._id_taken = id_taken or (lambda _id: False)

        self.id_edit = QLineEdit(suggested_id, self)
        self.id_edit.setToolTip("A unique id; the suggestion is unused in this gallery")
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("optional, e.g. Salt")
        self.notes_edit = QPlainTextEdit(self)
        self.notes_edit.setPlaceholderText("optional: marks, scars…")
        self.notes_edit.setFixedHeight(56)
        self.sighting_form = SightingForm(sighting, parent=self)
        self.date_known = self.sighting_form.date_known
        self.date_edit = self.sighting_form.date_edit
        self.error_label = QLabel("", self)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Whale id:", self.id_edit)
        form.addRow("Name:", self.name_edit)
        form.addRow("Notes:", self.notes_edit)
        seen = QGroupBox("Sighting", self)
        QVBoxLayout(seen).addWidget(self.sighting_form)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Enroll")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        intro = QLabel(
            f"Enroll <b>{photo_name}</b> as a whale not yet in the gallery."
            if photo_name
            else "Enroll the photo as a whale not yet in the gallery.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        if thumbnail is not None and not thumbnail.isNull():
            preview = QLabel(self)
            preview.setPixmap(
                thumbnail.scaled(
                    360, 120, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )
            preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(preview)
        layout.addLayout(form)
        layout.addWidget(seen)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.id_edit.textChanged.connect(self._validate)
        self.sighting_form.edited.connect(self._validate)
        self.name_edit.setFocus()
        self.resize(440, self.sizeHint().height())
        self._validate()

    def _validate(self) -> bool:
        whale_id = self.id_edit.text().strip()
        problem = ""
        try:
            validate_whale_id(whale_id)
        except GalleryError as exc:
            problem = str(exc)
        if not problem and self._id_taken(whale_id):
            problem = (
                f"{whale_id} is already in the gallery: choose another id (or confirm the match instead)"
            )
        if not problem and self.sighting_form.problem():
            problem = f"Sighting: {self.sighting_form.problem()}"
        self.error_label.setText(problem)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)
        return not problem

    def accept(self) -> None:
        if self._validate():
            super().accept()

    def request(self) -> EnrollRequest:
        """What the user entered (call it after the dialog was accepted: the sighting is valid then)."""
        return EnrollRequest(self.id_edit.text().strip(), self.name_edit.text().strip(),
                             self.notes_edit.toPlainText().strip(), self.sighting_form.sighting())
