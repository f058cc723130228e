"""The gallery browser's side of the controller: list a whale's photos, rename, merge, delete, remove a
photo, import a catalogue and export one, all through the :class:`~whalegui.gui.service.GalleryService`.

Owned by the :class:`~whalegui.gui.controller.Controller` (``controller.editor``), which forwards its
``gallery_changed``, ``error_raised`` and ``status_messaged`` and clears the undo stack on ``changing``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from whalegui.core import errors
from whalegui.gui import messages
from whalegui.gui.messages import Message
from whalegui.gui.service import Failed, GalleryInfo, GalleryService, Imported
from whalegui.gui.workers import Worker
from whalegui.wording import plural

log = logging.getLogger(__name__)

NO_GALLERY = Message("No gallery", "The gallery is not open yet.")


class GalleryEditor(QObject):
    """Curation and bulk work on the open gallery."""

    changing = Signal()  # a change is about to be written: what undo knows about no longer holds
    gallery_changed = Signal(object)  # GalleryInfo after a change
    whale_photos_listed = Signal(str, list)  # whale id, its PhotoRecords
    import_started = Signal(str)  # what is being imported
    import_progressed = Signal(int, int)  # photos done, total
    import_finished = Signal(object)  # ImportReport, or None when it failed
    error_raised = Signal(str, str)  # title, text
    status_messaged = Signal(str)

    def __init__(self, service: GalleryService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self._import: Worker | None = None

    @property
    def importing(self) -> bool:
        """Whether an import is running."""
        return self._import is not None

    # ------------------------------------------------------------------ reading

    def request_whale_photos(self, whale_id: str) -> None:
        """List a whale's photos; :attr:`whale_photos_listed` brings them."""
        if self._service.is_open:
            self._service.whale_photos(
                whale_id,
                done=partial(self.whale_photos_listed.emit, whale_id),
                failed=self._failed("Listing photos"),
            )

    def refresh(self) -> None:
        """Read the gallery's whales and counts again."""
        if self._service.is_open:
            self._service.refresh(done=self.gallery_changed.emit, failed=self._failed("Reading the gallery"))

    def export_csv(self, path: str | Path) -> None:
        """Write the catalogue as CSV (the gallery is not changed, so undo stays)."""
        if not self._service.is_open:
            self._raise(NO_GALLERY)
            return
        self._service.export_csv(
            Path(path),
            done=lambda rows: self.status_messaged.emit(f"{plural(rows, 'row')} written to {path}."),
            failed=self._failed(f"Exporting to {path}"),
        )

    # ------------------------------------------------------------------ curation

    def rename_whale(
        self, whale_id: str, *, new_id: str | None = None, name: str | None = None, notes: str | None = None
    ) -> None:
        """Change a whale's id, name and/or notes (``None``: keep)."""
        if self._begin():
            self._service.rename(whale_id, new_id=new_id, name=name, notes=notes,
                                 done=self._changed(f"{new_id or whale_id} saved."),
                                 failed=self._failed(f"Renaming {whale_id}"))

    def merge_whales(self, source_id: str, target_id: str) -> None:
        """Move every photo of ``source_id`` to ``target_id`` and remove ``source_id``."""
        if self._begin():
            self._service.merge(source_id, target_id,
                                done=self._changed(f"{source_id} merged into {target_id}."),
                                failed=self._failed(f"Merging {source_id} into {target_id}"))

    def delete_whale(self, whale_id: str) -> None:
        """Take a whale and its photos out of the catalogue."""
        if self._begin():
            self._service.delete_whale(whale_id, done=self._changed(f"{whale_id} deleted."),
                                       failed=self._failed(f"Deleting {whale_id}"))

    def remove_photo(self, photo_id: int) -> None:
        """Take one photo out of the catalogue."""
        if self._begin():
            self._service.remove_photos([photo_id], done=self._changed(f"Photo {photo_id} removed."),
                                        failed=self._failed(f"Removing photo {photo_id}"))

    # ------------------------------------------------------------------ import

    def import_catalogue(self, csv_path: str | Path | None, images_dir: str | Path) -> bool:
        """Import a catalogue (Kaggle-style CSV + images, or a folder per whale) with progress and cancel;
        returns whether it started."""
        if self._import is not None:
            self._raise(Message("Import running", "Wait for the running import to finish, or cancel it."))
            return False
        if not self._begin():
            return False
        self._import = self._service.import_catalogue(
            Path(csv_path) if csv_path else None,
            Path(images_dir),
            progress=self.import_progressed.emit,
            done=self._on_imported,
            failed=self._on_import_failed,
        )
        self.import_started.emit(str(csv_path or images_dir))  # its results come later, as queued signals
        return True

    def cancel_import(self) -> None:
        """Stop the import after the batch it is in (what was imported so far is kept)."""
        if self._import is not None:
            self._import.cancel()

    def _on_imported(self, result: Imported) -> None:
        self._import = None
        self.gallery_changed.emit(result.info)
        self.import_finished.emit(result.report)

    def _on_import_failed(self, exc: BaseException) -> None:
        self._import = None
        self.import_finished.emit(None)
        if not isinstance(exc, errors.WhaleguiError):
            log.error("import failed", exc_info=exc)
        self._raise(messages.import_failed(exc))

    # ------------------------------------------------------------------ helpers

    def _begin(self) -> bool:
        if not self._service.is_open:
            self._raise(NO_GALLERY)
            return False
        self.changing.emit()
        return True

    def _changed(self, done: str) -> Callable[[GalleryInfo], None]:
        def report(info: GalleryInfo) -> None:
            self.gallery_changed.emit(info)
            self.status_messaged.emit(done)

        return report

    def _failed(self, what: str) -> Failed:
        def report(exc: BaseException) -> None:
            if not isinstance(exc, errors.WhaleguiError):
                log.error("%s failed", what, exc_info=exc)
            self._raise(messages.gallery_change_failed(what, exc))

        return report

    def _raise(self, message: Message) -> None:
        self.error_raised.emit(message.title, message.text)
