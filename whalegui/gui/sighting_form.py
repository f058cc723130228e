"""The fields of a sighting (date and time, position, place, observer, vessel, notes) as one widget.

Used in full by the New whale dialog and the sighting dialog, and compactly (one row, placeholders for
labels) by the review's sighting strip. :meth:`SightingForm.sighting` reads the fields as a checked core
:class:`~whalegui.core.sightings.Sighting`; :meth:`SightingForm.problem` says what is wrong in words.
"""

from __future__ import annotations

from PySide6.QtCore import QDate, QDateTime, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QWidget,
)

from whalegui.core.errors import GalleryError
from whalegui.core.sightings import Sighting

_INVALID = "QLineEdit { border: 1px solid #c62828; }"


def parse_degrees(text: str) -> float | None:
    """A latitude or longitude typed by hand: ``64.05``, ``-17.6``, ``17.6 W``, ``64,05 N``, or '' (None).
    Raises :class:`GalleryError` for anything else."""
    text = text.strip().replace(",", ".").replace("°", " ").upper()
    if not text:
        return None
    sign = 1.0
    if text[-1] in "NSEW":
        sign = -1.0 if text[-1] in "SW" else 1.0
        text = text[:-1].strip()
    try:
        return sign * float(text)
    except ValueError:
        raise GalleryError(f"{text!r} is not a number of degrees (e.g. 64.05 or 17.6 W)") from None


class SightingForm(QWidget):
    """Edit one sighting. ``compact``: the fields in one row with placeholders instead of labels."""

    edited = Signal()  # the researcher changed a field (not when :meth:`set_sighting` fills them)

    def __init__(self, sighting: Sighting | None = None, *, compact: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._filling = False
        self._uid = ""
        self.date_known = QCheckBox("known" if not compact else "", self)
        self.date_known.setToolTip("Whether the sighting's date is known (else it is left empty)")
        self.date_edit = QDateTimeEdit(self)
        self.date_edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setToolTip("When the whale was seen (from the photo's EXIF when it has a date)")
        self.lat_edit = QLineEdit(self)
        self.lon_edit = QLineEdit(self)
        self.place_edit = QLineEdit(self)
        self.observer_edit = QLineEdit(self)
        self.vessel_edit = QLineEdit(self)
        self.notes_edit = QLineEdit(self)
        self.line_edits = (self.lat_edit, self.lon_edit, self.place_edit, self.observer_edit,
                           self.vessel_edit, self.notes_edit)
        for edit, hint, tip in (
            (self.lat_edit, "latitude", "Latitude in decimal degrees (64.05, or 33.9 S); from EXIF GPS"),
            (self.lon_edit, "longitude", "Longitude in decimal degrees (-17.6, or 17.6 W); from EXIF GPS"),
            (self.place_edit, "place", "The place's name (kept for the next photos)"),
            (self.observer_edit, "observer", "Who saw the whale (remembered)"),
            (self.vessel_edit, "vessel", "The boat it was seen from (remembered)"),
            (self.notes_edit, "sighting notes", "Behaviour, group, conditions… of this sighting"),
        ):
            edit.setPlaceholderText(hint)
            edit.setToolTip(tip)
            edit.setClearButtonEnabled(not compact)
            edit.textEdited.connect(self._on_edited)
        self.date_known.toggled.connect(self.date_edit.setEnabled)
        self.date_known.toggled.connect(self._on_edited)
        self.date_edit.dateTimeChanged.connect(self._on_edited)

        date_row = QWidget(self)
        h = QHBoxLayout(date_row)
        h.setContentsMargins(0, 0, 0, 0)
        h.setSpacing(4)
        if compact:
            h.addWidget(self.date_known)
            h.addWidget(self.date_edit)
        else:
            h.addWidget(self.date_edit, 1)
            h.addWidget(self.date_known)
        if compact:
            row = QHBoxLayout(self)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(4)
            row.addWidget(date_row)
            for edit, stretch, width in ((self.lat_edit, 2, 76), (self.lon_edit, 2, 80),
                                         (self.place_edit, 3, 70), (self.observer_edit, 3, 64),
                                         (self.vessel_edit, 3, 56), (self.notes_edit, 4, 64)):
                edit.setMinimumWidth(width)
                row.addWidget(edit, stretch)
        else:
            position = QWidget(self)
            p = QHBoxLayout(position)
            p.setContentsMargins(0, 0, 0, 0)
            p.setSpacing(4)
            p.addWidget(self.lat_edit)
            p.addWidget(self.lon_edit)
            form = QFormLayout(self)
            form.setContentsMargins(0, 0, 0, 0)
            form.addRow("Sighted on:", date_row)
            form.addRow("Position:", position)
            form.addRow("Place:", self.place_edit)
            form.addRow("Observer:", self.observer_edit)
            form.addRow("Vessel:", self.vessel_edit)
            form.addRow("Sighting notes:", self.notes_edit)
        self.set_sighting(sighting or Sighting())

    # ------------------------------------------------------------------ values

    def set_sighting(self, sighting: Sighting) -> None:
        """Show ``sighting`` in the fields (without emitting :attr:`edited`)."""
        self._filling = True
        try:
            self._uid = sighting.uid
            moment = sighting.moment()
            if moment is not None:
                self.date_edit.setDateTime(QDateTime(QDate(moment.year, moment.month, moment.day),
                                                     QTime(moment.hour, moment.minute)))
            else:
                self.date_edit.setDateTime(QDateTime(QDate.currentDate(), QTime(0, 0)))
            self.date_known.setChecked(moment is not None)
            self.date_edit.setEnabled(moment is not None)
            pos = sighting.position
            self.lat_edit.setText(f"{pos[0]:.5f}" if pos is not None else "")
            self.lon_edit.setText(f"{pos[1]:.5f}" if pos is not None else "")
            self.place_edit.setText(sighting.place)
            self.observer_edit.setText(sighting.observer)
            self.vessel_edit.setText(sighting.vessel)
            self.notes_edit.setText(sighting.notes)
            for edit in self.line_edits:
                edit.setCursorPosition(0)  # a narrow field shows where its text starts (the sign)
        finally:
            self._filling = False
        self._mark(self.problem())

    def sighting(self) -> Sighting:
        """The fields as a checked sighting; raises :class:`GalleryError` when one is wrong."""
        when = self.date_edit.dateTime().toString("yyyy-MM-ddTHH:mm") if self.date_known.isChecked() else ""
        try:
            lat = parse_degrees(self.lat_edit.text())
        except GalleryError as exc:
            raise GalleryError(f"latitude: {exc}") from None
        try:
            lon = parse_degrees(self.lon_edit.text())
        except GalleryError as exc:
            raise GalleryError(f"longitude: {exc}") from None
        if lat is None and lon is None:
            position = None
        elif lat is None or lon is None:
            raise GalleryError("a position needs both a latitude and a longitude")
        else:
            position = (lat, lon)
        return Sighting(when, position, self.place_edit.text(), self.observer_edit.text(),
                        self.vessel_edit.text(), self.notes_edit.text(), self._uid).checked()

    def problem(self) -> str:
        """What is wrong with the fields, in words ('' when nothing)."""
        try:
            self.sighting()
        except GalleryError as exc:
            return str(exc)
        return ""

    # ------------------------------------------------------------------ helpers

    def _on_edited(self, *_: object) -> None:
        if self._filling:
            return
        self._mark(self.problem())
        self.edited.emit()

    def _mark(self, problem: str) -> None:
        """Outline the position fields in red while the position is wrong (the tooltip says why)."""
        bad = "latitude" in problem or "longitude" in problem or "position" in problem
        for edit in (self.lat_edit, self.lon_edit):
            edit.setStyleSheet(_INVALID if bad else "")
        self.setToolTip(problem)
