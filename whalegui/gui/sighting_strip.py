"""The review's sighting strip: the sighting that Same whale (and New whale) will record for the photo
under review, in one row of fields above the decision buttons.

It is prefilled from the query's EXIF date and GPS; place, observer and vessel carry over from the last
photo (observer and vessel between runs too), so confirming a boat's hundred photos needs no typing. What is
typed goes into the controller's :class:`~whalegui.gui.sighting_draft.SightingDraft`.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QWidget

from whalegui.core.errors import GalleryError
from whalegui.core.sightings import Sighting
from whalegui.gui.controller import Controller
from whalegui.gui.review_model import QueueEntry
from whalegui.gui.sighting_form import SightingForm


class SightingStrip(QWidget):
    """One row: "Sighting", then the date, position, place, observer, vessel and notes of the photo."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._entry: QueueEntry | None = None
        self.title = QLabel("Sighting:", self)
        self.title.setObjectName("hint")
        self.title.setToolTip("What Same whale and New whale record with the photo: prefilled from its EXIF "
                              "date and GPS; place, observer and vessel carry over to the next photos")
        self.form = SightingForm(compact=True, parent=self)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.title)
        row.addWidget(self.form, 1)
        self.form.edited.connect(self._on_form_edited)
        for edit in self.form.line_edits:  # Return gives the review's keys (arrows, Enter) back
            edit.returnPressed.connect(partial(_unfocus, edit))
        review = controller.review
        review.current_entry_changed.connect(self._on_current_entry_changed)
        review.current_entry_updated.connect(self._on_current_entry_updated)
        self._on_current_entry_changed(review.current_entry)

    @property
    def entry(self) -> QueueEntry | None:
        """The photo whose sighting is shown."""
        return self._entry

    def _on_current_entry_changed(self, entry: QueueEntry | None) -> None:
        self._entry = entry
        focused = self.focusWidget()
        if focused is not None and focused.hasFocus():  # typed, then decided with Enter: the review's
            focused.clearFocus()  # keys (arrows, letters) are the review's again for the next photo
        self._fill()

    def _on_current_entry_updated(self, entry: QueueEntry | None = None) -> None:
        # its identification (and so its EXIF) may have arrived: fill in what the researcher did not type
        if entry is None or entry is self._entry:
            self._fill(keep_typing=True)

    def _fill(self, *, keep_typing: bool = False) -> None:
        entry = self._entry
        self.setEnabled(entry is not None and entry.reviewable)
        if entry is None:
            self.form.set_sighting(Sighting())
            return
        draft = self._controller.sightings
        if keep_typing and draft.problem(entry):
            return  # what is typed is wrong, and stays until corrected
        wanted = draft.for_entry(entry)
        try:
            shown = self.form.sighting()
        except GalleryError:
            shown = None
        if shown is None or shown != wanted:
            self.form.set_sighting(wanted)

    def _on_form_edited(self) -> None:
        if self._entry is None:
            return
        try:
            sighting = self.form.sighting()
        except GalleryError as exc:
            self._controller.sightings.edit(self._entry, None, str(exc))
            return
        self._controller.sightings.edit(self._entry, sighting)


def _unfocus(edit: QLineEdit) -> None:
    edit.clearFocus()
