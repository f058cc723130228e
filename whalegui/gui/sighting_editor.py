"""The gallery browser's sightings: list a whale's, and correct one, undoably, through the service.

Owned by the :class:`~whalegui.gui.controller.Controller` (``controller.sighting_editor``): its
``gallery_changed``, ``error_raised`` and ``status_messaged`` are forwarded to the controller's. A
correction is a command on the controller's undo stack (Ctrl+Z takes it back), beside the review's
decisions: it changes no photo, so the decisions' undo still holds.
"""

from __future__ import annotations

import logging
from functools import partial

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from whalegui.core import errors
from whalegui.core.sightings import Sighting, SightingRecord
from whalegui.gui import messages
from whalegui.gui.service import Failed, GalleryInfo, GalleryService

log = logging.getLogger(__name__)


class SightingEditor(QObject):
    """Reads and corrects sightings on the gallery thread."""

    sightings_listed = Signal(str, list)  # whale id, its SightingRecords (oldest first)
    sighting_updated = Signal(int)  # the sighting's id, once the correction is stored
    gallery_changed = Signal(object)  # GalleryInfo after a correction (a whale's last seen may change)
    error_raised = Signal(str, str)  # title, text
    status_messaged = Signal(str)

    def __init__(self, service: GalleryService, undo_stack: QUndoStack, *, forward: QObject | None = None,
                 parent: QObject | None = None) -> None:
        """``forward``: an object with the same ``gallery_changed``, ``error_raised`` and
        ``status_messaged`` signals (the controller), which are emitted with these."""
        super().__init__(parent)
        self._service = service
        self._undo_stack = undo_stack
        if forward is not None:
            for name in ("gallery_changed", "error_raised", "status_messaged"):
                getattr(self, name).connect(getattr(forward, name))

    def request_sightings(self, whale_id: str) -> None:
        """List a whale's sightings; :attr:`sightings_listed` brings them."""
        if self._service.is_open:
            self._service.sightings(whale_id, done=partial(self.sightings_listed.emit, whale_id),
                                    failed=self._failed(f"Listing the sightings of {whale_id}", clear=False))

    def update_sighting(self, record: SightingRecord, sighting: Sighting) -> bool:
        """Correct a stored sighting (undoable); returns whether it was sent (something changed)."""
        new = sighting.checked()
        old = record.sighting
        if not self._service.is_open or _fields(new) == _fields(old):
            return False
        self._undo_stack.push(SightingEditCommand(self, record.sighting_id, record.whale_id, old, new))
        return True

    def write(self, sighting_id: int, sighting: Sighting, done_text: str) -> None:
        """Store ``sighting`` as sighting ``sighting_id`` (what the undo command runs)."""

        def done(info: GalleryInfo) -> None:
            self.gallery_changed.emit(info)
            self.sighting_updated.emit(sighting_id)
            self.status_messaged.emit(done_text)

        self._service.update_sighting(sighting_id, sighting, done=done,
                                      failed=self._failed(f"Saving sighting {sighting_id}", clear=True))

    def _failed(self, what: str, *, clear: bool) -> Failed:
        def report(exc: BaseException) -> None:
            if not isinstance(exc, errors.WhaleguiError):
                log.error("%s failed", what, exc_info=exc)
            if clear:  # the undo stack no longer describes the gallery
                self._undo_stack.clear()
            message = messages.gallery_change_failed(what, exc)
            self.error_raised.emit(message.title, message.text)

        return report


class SightingEditCommand(QUndoCommand):
    """A corrected sighting: redo stores the new fields, undo the old ones."""

    def __init__(self, editor: SightingEditor, sighting_id: int, whale_id: str, old: Sighting,
                 new: Sighting) -> None:
        super().__init__(f"the sighting {old.label()} of {whale_id}")
        self._editor, self._id, self._whale_id = editor, sighting_id, whale_id
        self._old, self._new = old, new

    def redo(self) -> None:
        self._editor.write(self._id, self._new, f"Sighting of {self._whale_id} saved: {self._new.label()}.")

    def undo(self) -> None:
        self._editor.write(self._id, self._old, f"Undone: the sighting of {self._whale_id} is "
                                                f"{self._old.label()} again.")


def _fields(s: Sighting) -> tuple[object, ...]:
    return (s.when, s.position, s.place, s.observer, s.vessel, s.notes)
