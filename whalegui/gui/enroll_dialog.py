"""The New whale dialog: a suggested unique id, a name, notes, and the sighting's date and place from EXIF."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QDate, QDateTime, Qt, QTime
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from whalegui.core.errors import GalleryError
from whalegui.core.records import validate_whale_id


@dataclass(frozen=True)
class EnrollRequest:
    whale_id: str
    name: str
    notes: str  # the user's notes plus the sighting line


def format_place(gps: tuple[float, float] | None) -> str:
    if gps is None:
        return ""
    lat, lon = gps
    return f"{abs(lat):.5f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.5f}° {'E' if lon >= 0 else 'W'}"


class EnrollDialog(QDialog):
    """Ask for the new whale's id (suggested, checked unique), name and notes; date and place prefilled."""

    def __init__(
        self,
        suggested_id: str,
        *,
        photo_name: str = "",
        taken_at: datetime | None = None,
        gps: tuple[float, float] | None = None,
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
        self.notes_edit.setPlaceholderText("optional: marks, scars, behaviour…")
        self.notes_edit.setFixedHeight(72)
        self.date_known = QCheckBox("known", self)
        self.date_edit = QDateTimeEdit(self)
        self.date_edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.date_edit.setCalendarPopup(True)
        if taken_at is not None:
            self.date_edit.setDateTime(
                QDateTime(QDate(taken_at.year, taken_at.month, taken_at.day),
                          QTime(taken_at.hour, taken_at.minute, taken_at.second))
            )
            self.date_known.setChecked(True)
        else:
            self.date_edit.setDateTime(QDateTime.currentDateTime())
            self.date_known.setChecked(False)
        self.date_edit.setEnabled(self.date_known.isChecked())
        self.date_known.toggled.connect(self.date_edit.setEnabled)
        self.place_edit = QLineEdit(format_place(gps), self)
        self.place_edit.setPlaceholderText("place or position (not in the photo's EXIF)")
        self.error_label = QLabel("", self)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Whale id:", self.id_edit)
        form.addRow("Name:", self.name_edit)
        form.addRow("Notes:", self.notes_edit)
        date_row = QWidget(self)
        from PySide6.QtWidgets import QHBoxLayout

        h = QHBoxLayout(date_row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.date_edit, 1)
        h.addWidget(self.date_known)
        form.addRow("Sighted on:", date_row)
        form.addRow("Place:", self.place_edit)

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
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.id_edit.textChanged.connect(self._validate)
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
        self.error_label.setText(problem)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)
        return not problem

    def accept(self) -> None:
        if self._validate():
            super().accept()

    def request(self) -> EnrollRequest:
        """What the user entered; the sighting's date and place are appended to the notes."""
        notes = self.notes_edit.toPlainText().strip()
        sighting = []
        if self.date_known.isChecked():
            sighting.append(self.date_edit.dateTime().toString("yyyy-MM-dd HH:mm"))
        place = self.place_edit.text().strip()
        if place:
            sighting.append(f"at {place}")
        if sighting:
            line = "First sighted " + " ".join(sighting)
            notes = f"{notes}\n{line}" if notes else line
        return EnrollRequest(self.id_edit.text().strip(), self.name_edit.text().strip(), notes)
