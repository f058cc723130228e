"""The controller: the one object the views listen to, and the only one that talks to the core.

Every gallery call (open, identify, write, list) runs on one fixed worker thread, in priority order, so
SQLite sees one thread and hnswlib never searches while it is being written (writes jump ahead of queued
identifications). Photos are decoded into ``QImage``s on a second pool. Views connect to the signals below
(past tense) and call the public methods; nothing here imports a widget.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QImage

from whalegui.core import errors
from whalegui.core.images import find_photos, is_photo_file, read_metadata
from whalegui.core.records import new_whale_id
from whalegui.gui.settings import Settings
from whalegui.gui.thumbnails import ThumbnailCache
from whalegui.gui.workers import WorkerPool, load_qimage
from whalegui.paths import bundled_model_path

log = logging.getLogger(__name__)

#: Priorities on the gallery thread: user actions first, then what the review shows, then the batch.
WRITE_PRIORITY = 10
READ_PRIORITY = 5
BATCH_PRIORITY = 0


class Status(str, Enum):
    """Where a queued photo stands."""

    WAITING = "waiting"
    IDENTIFYING = "identifying"
    REVIEW = "needs review"
    MATCHED = "matched"
    NEW = "new whale"
    ERROR = "error"


@dataclass
class QueueEntry:
    """One query photo in the queue."""

    path: Path
    status: Status = Status.WAITING
    taken_at: datetime | None = None
    reason: str = ""  # why it failed, or a note ("already in the gallery")
    identification: Any = None  # whalegui.core.gallery.Identification once identified
    whale_id: str | None = None  # the whale it was matched to or enrolled as

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def likely_new(self) -> bool:
        return bool(self.identification is not None and self.identification.new_whale)

    @property
    def reviewable(self) -> bool:
        return self.status is Status.REVIEW

    def status_text(self) -> str:
        if self.status is Status.ERROR:
            return f"error: {self.reason}"
        if self.status is Status.IDENTIFYING and self.reason:
            return self.reason  # "adding to the gallery", "enrolling"
        if self.status is Status.REVIEW and self.likely_new:
            return "needs review (new?)"
        if self.status in (Status.MATCHED, Status.NEW) and self.whale_id:
            note = f", {self.reason}" if self.reason else ""
            return f"{self.status.value}: {self.whale_id}{note}"
        return self.status.value


@dataclass
class UndoAction:
    kind: str  # "confirm" | "enroll"
    entry: QueueEntry
    whale_id: str
    photo_ids: list[int] = field(default_factory=list)


@dataclass
class GalleryInfo:
    """What the status bar and the browser show about the open gallery."""

    folder: Path
    whale_count: int
    photo_count: int
    whales: list[Any]  # WhaleSummary


class Controller(QObject):
    """Owns the embedder, the gallery, the query queue and the review state."""

    loading_started = Signal(str)  # what is being loaded, in words
    loading_failed = Signal(str, str)  # title, what to do
    model_loaded = Signal(str, str)  # model name, device ("CUDA GPU" / "CPU")
    gallery_changed = Signal()  # opened, or its contents changed: read controller.info
    entries_inserted = Signal(int, int)  # first, last row
    entry_changed = Signal(int)  # row
    current_entry_changed = Signal(int)  # row, -1 for none
    candidates_changed = Signal()
    candidate_selected = Signal(int)  # index, -1 for none
    candidate_photo_changed = Signal(int, int)  # photo index, photo count of the selected whale
    query_image_loaded = Signal(str, QImage)
    candidate_image_loaded = Signal(str, QImage)
    batch_started = Signal(int)  # total
    batch_progressed = Signal(int, int)  # done, total
    batch_finished = Signal(bool)  # cancelled
    import_started = Signal(str)  # what is being imported
    import_progressed = Signal(int, int)
    import_finished = Signal(object)  # ImportReport, or None when it failed
    whale_photos_listed = Signal(str, list)  # whale id, PhotoRecords
    undo_changed = Signal(bool)  # whether there is something to undo
    error_raised = Signal(str, str)  # title, text: what happened and what to do
    status_messaged = Signal(str)

    def __init__(self, settings: Settings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else Settings()
        self.embedder: Any = None
        self.gallery: Any = None
        self.info: GalleryInfo | None = None
        self.model_path: Path | None = None
        self.load_error = ""
        self.loading = False
        self.entries: list[QueueEntry] = []
        self.current_row = -1
        self.candidate_index = -1
        self.candidate_photos: list[Any] = []  # PhotoRecords of the selected whale, best match first
        self.candidate_photo_index = 0
        self._undo: list[UndoAction] = []
        self._gallery_pool = WorkerPool(1, self)
        self._image_pool = WorkerPool(max(2, QThread.idealThreadCount() - 1), self)
        self.thumbnails = ThumbnailCache(self._image_pool, self.settings.thumbnail_size, self)
        self._batch_cancel = threading.Event()
        self._batch_total = 0
        self._batch_done = 0
        self._import_cancel: threading.Event | None = None
        self._temp_dirs: list[Path] = []
        self._shut_down = False
        # Workers run Python too (ranking, SQLite rows); with the default 5 ms GIL switch interval the GUI
        # thread, which crosses into C++ and back hundreds of times per repaint, waits behind them.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))

    # ------------------------------------------------------------------ loading

    @property
    def ready(self) -> bool:
        return self.gallery is not None

    def start(
        self,
        model_path: str | Path | None,
        gallery_dir: str | Path | None = None,
        *,
        device: str | None = None,
        demo: bool = False,
    ) -> None:
        """Load the model and open the gallery in the background; with ``demo`` a throwaway demo gallery."""
        device = device or self.settings.device
        if demo:
            gallery_dir = self._make_temp_dir("whalegui-demo-") / "gallery"
        folder = Path(gallery_dir) if gallery_dir else self.settings.gallery_path()
        self.loading = True
        self.loading_started.emit("Loading the identification model…")
        self._gallery_pool.submit(
            _load,
            model_path,
            folder,
            device,
            priority=WRITE_PRIORITY,
            on_result=lambda r: self._on_loaded(r, demo),
            on_error=self._on_load_failed,
        )

    def _on_loaded(self, result: tuple[Any, Any, GalleryInfo], demo: bool) -> None:
        self.loading = False
        self.embedder, self.gallery, self.info = result
        self.model_path = Path(self.embedder.path)
        self.load_error = ""
        log.info(
            "loaded %s; gallery %s (%d whales, %d photos)",
            self.embedder.describe(),
            self.info.folder,
            self.info.whale_count,
            self.info.photo_count,
        )
        self.model_loaded.emit(self.embedder.card.name, self.embedder.device)
        self.gallery_changed.emit()
        if demo:
            self.import_demo()
        self.identify_waiting()

    def _on_load_failed(self, exc: BaseException) -> None:
        self.loading = False
        title, text = describe_load_error(exc)
        self.load_error = text
        log.error("loading failed: %s", exc, exc_info=not isinstance(exc, errors.WhaleguiError))
        self.loading_failed.emit(title, text)

    def open_gallery(self, folder: str | Path) -> None:
        """Close the open gallery and open (or create) the one in ``folder``."""
        if self.embedder is None:
            self.error_raised.emit("No model", "Load a model before opening a gallery.")
            return
        self._clear_undo()
        self.loading_started.emit(f"Opening the gallery {folder}…")
        self._gallery_pool.submit(
            _reopen,
            self.gallery,
            Path(folder),
            self.embedder,
            priority=WRITE_PRIORITY,
            on_result=self._on_gallery_reopened,
            on_error=self._on_load_failed,
        )

    def open_demo(self) -> None:
        """A fresh throwaway gallery filled with the demo catalogue, and its query photos queued."""
        self._demo_after_open = True
        self.open_gallery(self._make_temp_dir("whalegui-demo-") / "gallery")

    def _on_gallery_reopened(self, result: tuple[Any, GalleryInfo]) -> None:
        self.gallery, self.info = result
        self.gallery_changed.emit()
        if getattr(self, "_demo_after_open", False):
            self._demo_after_open = False
            self.import_demo()
        for entry in self.entries:  # results from the old gallery mean nothing in the new one
            if entry.status in (Status.REVIEW, Status.IDENTIFYING):
                entry.status, entry.identification = Status.WAITING, None
        self._emit_all_entries()
        self.set_current_row(-1)
        self.identify_waiting()

    def import_demo(self) -> None:
        """Import the bundled synthetic demo catalogue, then queue its query photos."""
        from whalegui.resources import demo_folder

        try:
            demo = demo_folder()
            csv, photos = demo / "catalogue.csv", demo / "photos"
            if not csv.is_file() or not photos.is_dir():
                raise FileNotFoundError(f"{demo} has no catalogue.csv and photos/")
        except FileNotFoundError as exc:
            self.error_raised.emit(
                "No demo catalogue",
                f"The demo catalogue is not installed ({exc}).\n\nImport your own "
                "catalogue with File > Import catalogue instead.",
            )
            return
        queries = demo / "queries"
        self.import_catalogue(csv, photos, then_queue=[queries] if queries.is_dir() else [])

    # ------------------------------------------------------------------ the queue

    def add_paths(self, paths: list[str | Path] | tuple[str | Path, ...]) -> int:
        """Queue photos and folders (expanded recursively); returns how many photos were added."""
        known = {e.path for e in self.entries}
        new: list[QueueEntry] = []
        for path in find_photos(list(paths)):
            path = Path(path).absolute()
            if path in known:
                continue
            known.add(path)
            new.append(QueueEntry(path))
        if not new:
            self.status_messaged.emit("No new photos to add.")
            return 0
        first = len(self.entries)
        self.entries.extend(new)
        self.entries_inserted.emit(first, len(self.entries) - 1)
        self.status_messaged.emit(f"Added {len(new)} photo{'s' if len(new) != 1 else ''} to the queue.")
        for entry in new:
            if is_photo_file(entry.path):
                self._image_pool.submit(
                    _probe_date, entry.path, on_result=lambda d, e=entry: self._on_probed(e, d)
                )
        if self.ready:
            self.identify_waiting()
        return len(new)

    def row_of(self, entry: QueueEntry) -> int:
        for row, e in enumerate(self.entries):
            if e is entry:
                return row
        return -1

    def _on_probed(self, entry: QueueEntry, taken_at: datetime | None) -> None:
        if taken_at is not None and entry.taken_at is None:
            entry.taken_at = taken_at
            self._emit_entry(entry)

    def identify_waiting(self) -> None:
        """Identify every waiting photo in the background (one batch; progress and cancel)."""
        if not self.ready:
            return
        waiting = [e for e in self.entries if e.status is Status.WAITING]
        if not waiting:
            return
        if self._batch_total == self._batch_done:  # no batch running: start a new one
            self._batch_total = self._batch_done = 0
            self._batch_cancel = threading.Event()
            self.batch_started.emit(len(waiting))
        self._batch_total += len(waiting)
        top = self.settings.top_k
        for entry in waiting:
            entry.status = Status.IDENTIFYING
            entry.reason = ""
            self._emit_entry(entry)
            self._gallery_pool.submit(
                _identify,
                self.gallery,
                entry.path,
                top,
                self._batch_cancel,
                priority=BATCH_PRIORITY,
                on_result=lambda r, e=entry: self._on_identified(e, r),
                on_error=lambda exc, e=entry: self._on_identify_failed(e, exc),
            )
        self.batch_progressed.emit(self._batch_done, self._batch_total)

    def cancel_batch(self) -> None:
        """Stop identifying: photos not started yet go back to waiting."""
        self._batch_cancel.set()
        self.status_messaged.emit("Cancelling the batch…")

    @property
    def batch_running(self) -> bool:
        return self._batch_done < self._batch_total

    def _on_identified(self, entry: QueueEntry, ident: Any) -> None:
        if ident is None:  # cancelled before it started
            entry.status = Status.WAITING
        else:
            entry.identification = ident
            meta = getattr(ident, "meta", None)
            if meta is not None and getattr(meta, "taken_at", None) is not None:
                entry.taken_at = meta.taken_at
            duplicate = getattr(ident, "duplicate_of", None)
            if duplicate is not None:
                entry.status, entry.whale_id = Status.MATCHED, duplicate.whale_id
                entry.reason = "already in the gallery"
            else:
                entry.status = Status.REVIEW
        self._emit_entry(entry)
        self._batch_step()
        if entry.status is Status.REVIEW and not self._current_reviewable():
            self.set_current_row(self.row_of(entry))

    def _on_identify_failed(self, entry: QueueEntry, exc: BaseException) -> None:
        entry.status = Status.ERROR
        entry.reason = error_reason(exc)
        if not isinstance(exc, errors.PhotoError):
            log.error("identifying %s failed: %s", entry.path, exc, exc_info=exc)
        else:
            log.warning("%s", exc)
        self._emit_entry(entry)
        self._batch_step()
        if not isinstance(exc, errors.WhaleguiError):
            self.error_raised.emit(
                "Identification failed",
                f"Identifying {entry.name} failed: {entry.reason}.\n\nThe details are in "
                "the log file (Help > Open log folder).",
            )

    def _batch_step(self) -> None:
        self._batch_done += 1
        self.batch_progressed.emit(self._batch_done, self._batch_total)
        if self._batch_done >= self._batch_total:
            cancelled = self._batch_cancel.is_set()
            self._batch_done = self._batch_total = 0
            self.batch_finished.emit(cancelled)
            counts = self.status_counts()
            self.status_messaged.emit(
                ("Batch cancelled. " if cancelled else "Batch done. ")
                + ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
            )

    def status_counts(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        for e in self.entries:
            counts[e.status] += 1
        return counts

    def retry(self, row: int) -> None:
        """Identify a failed or waiting photo again."""
        if 0 <= row < len(self.entries) and self.entries[row].status in (Status.ERROR, Status.WAITING):
            self.entries[row].status = Status.WAITING
            self.identify_waiting()

    def clear_finished(self) -> None:
        """Drop matched, enrolled and failed photos from the queue."""
        keep = [e for e in self.entries if e.status not in (Status.MATCHED, Status.NEW, Status.ERROR)]
        current = self.current_entry()
        self.entries[:] = keep
        self._undo = [a for a in self._undo if a.entry in keep]
        self.undo_changed.emit(bool(self._undo))
        self.entries_inserted.emit(-1, -1)  # a reset
        self.set_current_row(self.row_of(current) if current in keep else -1)

    # ------------------------------------------------------------------ review

    def current_entry(self) -> QueueEntry | None:
        return self.entries[self.current_row] if 0 <= self.current_row < len(self.entries) else None

    def _current_reviewable(self) -> bool:
        entry = self.current_entry()
        return entry is not None and entry.reviewable

    def candidates(self) -> list[Any]:
        entry = self.current_entry()
        if entry is None or entry.identification is None or entry.status is Status.ERROR:
            return []
        return list(entry.identification.candidates)

    def current_candidate(self) -> Any:
        cands = self.candidates()
        return cands[self.candidate_index] if 0 <= self.candidate_index < len(cands) else None

    def current_candidate_photo(self) -> Any:
        if 0 <= self.candidate_photo_index < len(self.candidate_photos):
            return self.candidate_photos[self.candidate_photo_index]
        return None

    def set_current_row(self, row: int) -> None:
        """Show queue entry ``row`` in the review (``-1``: nothing)."""
        if not 0 <= row < len(self.entries):
            row = -1
        self.current_row = row
        self.current_entry_changed.emit(row)
        entry = self.current_entry()
        if entry is not None and entry.status is not Status.ERROR:
            self._load_full_image(entry.path, self.query_image_loaded,
                                  lambda exc, e=entry: self._on_query_image_failed(e, exc))
        self.candidates_changed.emit()
        self.select_candidate(0 if self.candidates() else -1)

    def _on_query_image_failed(self, entry: QueueEntry, exc: BaseException) -> None:
        if entry.status is not Status.ERROR:
            entry.status, entry.reason = Status.ERROR, error_reason(exc)
            self._emit_entry(entry)

    def select_candidate(self, index: int) -> None:
        cands = self.candidates()
        index = max(0, min(index, len(cands) - 1)) if cands else -1
        self.candidate_index = index
        self.candidate_photos = [cands[index].photo] if index >= 0 else []
        self.candidate_photo_index = 0
        self.candidate_selected.emit(index)
        if index < 0:
            self.candidate_photo_changed.emit(-1, 0)
            return
        self._show_candidate_photo()
        whale_id = cands[index].whale_id
        self._gallery_pool.submit(
            _whale_photos,
            self.gallery,
            whale_id,
            priority=READ_PRIORITY,
            on_result=lambda photos, w=whale_id, i=index: self._on_candidate_photos(w, i, photos),
            on_error=lambda exc: log.warning("listing photos failed: %s", exc),
        )

    def _on_candidate_photos(self, whale_id: str, index: int, photos: list[Any]) -> None:
        cand = self.current_candidate()
        if cand is None or cand.whale_id != whale_id or index != self.candidate_index:
            return  # the user moved on
        best = cand.photo.photo_id
        shown = self.current_candidate_photo()
        ordered = [cand.photo] + [p for p in photos if p.photo_id != best]
        self.candidate_photos = ordered
        if shown is not None:
            self.candidate_photo_index = next(
                (i for i, p in enumerate(ordered) if p.photo_id == shown.photo_id), 0
            )
        self.candidate_photo_changed.emit(self.candidate_photo_index, len(ordered))

    def step_candidate(self, delta: int) -> None:
        """Left/right through the candidates."""
        if self.candidates():
            self.select_candidate(self.candidate_index + delta)

    def step_candidate_photo(self, delta: int) -> None:
        """Up/down through the selected whale's photos."""
        n = len(self.candidate_photos)
        if n <= 1:
            return
        self.candidate_photo_index = (self.candidate_photo_index + delta) % n
        self._show_candidate_photo()

    def _show_candidate_photo(self) -> None:
        photo = self.current_candidate_photo()
        self.candidate_photo_changed.emit(self.candidate_photo_index, len(self.candidate_photos))
        if photo is None:
            return
        self._load_full_image(photo.path, self.candidate_image_loaded,
                              lambda exc: log.warning("cannot show gallery photo: %s", exc))

    def _load_full_image(self, path: Path, loaded: Any, on_error: Callable[[BaseException], None]) -> None:
        """Decode a photo at full resolution in a worker; ``loaded`` is emitted with (path, QImage)."""
        self._image_pool.submit(load_qimage, str(path), priority=READ_PRIORITY,
                                on_result=lambda img, p=str(path): loaded.emit(p, img), on_error=on_error)

    def confirm(self) -> bool:
        """Add the current query photo to the selected candidate whale."""
        entry, cand = self.current_entry(), self.current_candidate()
        if entry is None or cand is None or not entry.reviewable or not self.ready:
            return False
        whale_id = cand.whale_id
        entry.status = Status.IDENTIFYING  # busy until the write lands
        entry.reason = "adding to the gallery"
        self._emit_entry(entry)
        self._gallery_pool.submit(
            _add_photo,
            self.gallery,
            whale_id,
            entry.path,
            priority=WRITE_PRIORITY,
            on_result=lambda r, e=entry, w=whale_id: self._on_confirmed(e, w, r),
            on_error=lambda exc, e=entry: self._on_write_failed(e, exc, "Confirm"),
        )
        self.advance()
        return True

    def _on_confirmed(self, entry: QueueEntry, whale_id: str, result: tuple[list[Any], GalleryInfo]) -> None:
        records, info = result
        entry.status, entry.whale_id, entry.reason = Status.MATCHED, whale_id, ""
        self._push_undo(UndoAction("confirm", entry, whale_id, [r.photo_id for r in records]))
        self._emit_entry(entry)
        self._set_info(info)
        self.status_messaged.emit(f"{entry.name} added to whale {whale_id}.")

    def suggest_whale_id(self) -> str:
        """A new whale id like ``w_1a2b3c4``, not used in the open gallery."""
        used = {w.whale_id for w in self.info.whales} if self.info else set()
        return new_whale_id(used.__contains__)

    def whale_id_taken(self, whale_id: str) -> bool:
        return bool(self.info and any(w.whale_id == whale_id for w in self.info.whales))

    def enroll_current(self, whale_id: str, name: str = "", notes: str = "") -> bool:
        """Enroll the current query photo as a new whale."""
        entry = self.current_entry()
        if entry is None or not entry.reviewable or not self.ready:
            return False
        entry.status, entry.reason = Status.IDENTIFYING, "enrolling"
        self._emit_entry(entry)
        self._gallery_pool.submit(
            _enroll,
            self.gallery,
            entry.path,
            whale_id or None,
            name,
            notes,
            priority=WRITE_PRIORITY,
            on_result=lambda r, e=entry: self._on_enrolled(e, r),
            on_error=lambda exc, e=entry: self._on_write_failed(e, exc, "New whale"),
        )
        self.advance()
        return True

    def _on_enrolled(self, entry: QueueEntry, result: tuple[str, list[int], GalleryInfo]) -> None:
        whale_id, photo_ids, info = result
        entry.status, entry.whale_id, entry.reason = Status.NEW, whale_id, ""
        self._push_undo(UndoAction("enroll", entry, whale_id, photo_ids))
        self._emit_entry(entry)
        self._set_info(info)
        self.status_messaged.emit(f"{entry.name} enrolled as new whale {whale_id}.")

    def _on_write_failed(self, entry: QueueEntry, exc: BaseException, action: str) -> None:
        duplicate = isinstance(exc, errors.DuplicatePhotoError)
        if duplicate:
            existing = getattr(exc, "existing", None)
            entry.status, entry.reason = Status.MATCHED, "already in the gallery"
            entry.whale_id = getattr(existing, "whale_id", None)
            text = f"{entry.name} is already in the gallery under whale {entry.whale_id}; nothing was added."
        else:
            entry.status, entry.reason = Status.REVIEW, ""
            text = (
                f"{action} of {entry.name} failed: {error_reason(exc)}.\n\nThe gallery was not changed. "
                "Try again; if it keeps failing, see the log file (Help > Open log folder)."
            )
            log.error("%s of %s failed", action, entry.path, exc_info=exc)
        self._emit_entry(entry)
        self.error_raised.emit("Already in the gallery" if duplicate else f"{action} failed", text)

    def skip(self) -> None:
        """Leave the current photo for later and go to the next one that needs review."""
        self.advance()

    def advance(self) -> None:
        """Go to the next photo needing review after the current one (wrapping), if any."""
        n = len(self.entries)
        for step in range(1, n + 1):
            row = (self.current_row + step) % n
            if self.entries[row].reviewable and row != self.current_row:
                self.set_current_row(row)
                return
        if not self._current_reviewable():
            self.set_current_row(self.current_row)  # refresh what the review shows

    # ------------------------------------------------------------------ undo

    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> bool:
        """Undo the last confirm or enroll: the photo leaves the gallery and needs review again."""
        if not self._undo or not self.ready:
            return False
        action = self._undo.pop()
        self.undo_changed.emit(bool(self._undo))
        self._gallery_pool.submit(
            _undo,
            self.gallery,
            action,
            priority=WRITE_PRIORITY,
            on_result=lambda info, a=action: self._on_undone(a, info),
            on_error=lambda exc, a=action: self._on_undo_failed(a, exc),
        )
        return True

    def _on_undone(self, action: UndoAction, info: GalleryInfo) -> None:
        entry = action.entry
        entry.status, entry.whale_id, entry.reason = Status.REVIEW, None, ""
        self._emit_entry(entry)
        self._set_info(info)
        what = "match with" if action.kind == "confirm" else "new whale"
        self.status_messaged.emit(f"Undone: {entry.name} {what} {action.whale_id}.")
        row = self.row_of(entry)
        if row >= 0:
            self.set_current_row(row)

    def _on_undo_failed(self, action: UndoAction, exc: BaseException) -> None:
        log.error("undo failed", exc_info=exc)
        self.error_raised.emit(
            "Undo failed",
            f"Could not undo {action.kind} of {action.entry.name}: "
            f"{error_reason(exc)}.\n\nChange it in the gallery browser.",
        )

    def _push_undo(self, action: UndoAction) -> None:
        self._undo.append(action)
        self.undo_changed.emit(True)

    def _clear_undo(self) -> None:
        self._undo.clear()
        self.undo_changed.emit(False)

    # ------------------------------------------------------------------ gallery browser

    def request_whale_photos(self, whale_id: str) -> None:
        if self.ready:
            self._gallery_pool.submit(
                _whale_photos,
                self.gallery,
                whale_id,
                priority=READ_PRIORITY,
                on_result=lambda p, w=whale_id: self.whale_photos_listed.emit(w, p),
                on_error=self._on_gallery_error("Listing photos"),
            )

    def refresh_gallery(self) -> None:
        if self.ready:
            self._gallery_pool.submit(
                _info,
                self.gallery,
                priority=READ_PRIORITY,
                on_result=self._set_info,
                on_error=self._on_gallery_error("Reading the gallery"),
            )

    def rename_whale(
        self, whale_id: str, *, new_id: str | None = None, name: str | None = None, notes: str | None = None
    ) -> None:
        self._gallery_write(f"Renaming {whale_id}", _rename, whale_id, new_id, name, notes)

    def merge_whales(self, source_id: str, target_id: str) -> None:
        self._gallery_write(f"Merging {source_id} into {target_id}", _call, "merge", source_id, target_id)

    def delete_whale(self, whale_id: str) -> None:
        self._gallery_write(f"Deleting {whale_id}", _call, "delete_whale", whale_id)

    def remove_photo(self, photo_id: int) -> None:
        self._gallery_write(f"Removing photo {photo_id}", _call, "remove_photo", photo_id)

    def export_csv(self, path: str | Path) -> None:
        self._gallery_write(
            f"Exporting to {path}", _call, "export_csv", Path(path), done=f"Catalogue exported to {path}."
        )

    def _gallery_write(self, what: str, fn: Any, *args: Any, done: str = "") -> None:
        if not self.ready:
            self.error_raised.emit("No gallery", "The gallery is not open yet.")
            return
        if not (fn is _call and args[0] == "export_csv"):
            self._clear_undo()  # the undo stack describes a gallery that no longer exists
        self._gallery_pool.submit(
            fn,
            self.gallery,
            *args,
            priority=WRITE_PRIORITY,
            on_result=lambda info: (
                self._set_info(info),
                self.status_messaged.emit(done or f"{what}: done."),
            ),
            on_error=self._on_gallery_error(what),
        )

    def _on_gallery_error(self, what: str) -> Any:
        def report(exc: BaseException) -> None:
            if not isinstance(exc, errors.WhaleguiError):
                log.error("%s failed", what, exc_info=exc)
            self.error_raised.emit(
                f"{what} failed", f"{what} failed: {error_reason(exc)}.\n\nThe gallery was not changed."
            )

        return report

    def import_catalogue(
        self, csv_path: str | Path | None, images_dir: str | Path, *, then_queue: list[Path] | None = None
    ) -> None:
        """Import a catalogue (Kaggle-style CSV + images, or a folder per whale) with progress and cancel."""
        if not self.ready:
            self.error_raised.emit("No gallery", "The gallery is not open yet.")
            return
        self._clear_undo()
        self._import_cancel = threading.Event()
        self.import_started.emit(str(csv_path or images_dir))
        self._gallery_pool.submit(
            _import,
            self.gallery,
            csv_path,
            Path(images_dir),
            self._import_cancel,
            priority=WRITE_PRIORITY,
            on_progress=lambda p: self.import_progressed.emit(*p),
            on_result=lambda r, q=then_queue: self._on_imported(r, q),
            on_error=self._on_import_failed,
        )

    def cancel_import(self) -> None:
        if self._import_cancel is not None:
            self._import_cancel.set()

    def _on_imported(self, result: tuple[Any, GalleryInfo], then_queue: list[Path] | None) -> None:
        report, info = result
        self._set_info(info)
        self.import_finished.emit(report)
        if then_queue:
            self.add_paths(then_queue)

    def _on_import_failed(self, exc: BaseException) -> None:
        self.import_finished.emit(None)
        if not isinstance(exc, errors.WhaleguiError):
            log.error("import failed", exc_info=exc)
        self.error_raised.emit(
            "Import failed",
            f"The catalogue could not be imported: {error_reason(exc)}.\n\nCheck that the "
            "CSV has the columns Image and Id and that the photos are in the folder you "
            "chose, or use a folder with one sub-folder per whale.",
        )

    def _set_info(self, info: GalleryInfo) -> None:
        self.info = info
        self.gallery_changed.emit()

    # ------------------------------------------------------------------ shutdown

    def shutdown(self, timeout_ms: int = 15000) -> None:
        """Cancel and wait for every worker, close the gallery, remove temporary demo folders."""
        if self._shut_down:
            return
        self._shut_down = True
        self._batch_cancel.set()
        self.cancel_import()
        self._image_pool.cancel_all()
        self._gallery_pool.cancel_all()
        if self.gallery is not None:
            self._gallery_pool.submit(_close, self.gallery, priority=-1)
        if not self._gallery_pool.wait(timeout_ms):
            log.warning("gallery work still running at exit")
        self._image_pool.wait(timeout_ms)
        self.gallery = None
        for folder in self._temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)

    def _make_temp_dir(self, prefix: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        self._temp_dirs.append(folder)
        return folder

    def _emit_entry(self, entry: QueueEntry) -> None:
        row = self.row_of(entry)
        if row >= 0:
            self.entry_changed.emit(row)

    def _emit_all_entries(self) -> None:
        for row in range(len(self.entries)):
            self.entry_changed.emit(row)


# ---------------------------------------------------------------------- user-facing words for errors


def error_reason(exc: BaseException) -> str:
    """The reason in a few words: a PhotoError's reason, else the message."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def describe_load_error(exc: BaseException) -> tuple[str, str]:
    """A title and a message that says what happened and what to do."""
    if isinstance(exc, errors.ModelError):
        if "not found" in exc.reason:
            return (
                "No identification model",
                f"The model {exc.path} was not found.\n\nThe bundled model "
                "may not be installed. Start whalegui with --model MODEL.onnx (the .json card beside "
                "it), or reinstall whalegui.",
            )
        return (
            "The model cannot be used",
            f"The model {exc.path} cannot be used: {exc.reason}.\n\n"
            "Choose another model with --model, or reinstall whalegui.",
        )
    if isinstance(exc, errors.GalleryLockedError):
        return (
            "The gallery is in use",
            f"{exc}.\n\nClose the other whalegui window or command that uses this gallery, then start again.",
        )
    if isinstance(exc, errors.ModelMismatchError):
        return ("The gallery needs re-embedding", f"{exc}.")
    if isinstance(exc, errors.WhaleguiError):
        return (
            "The gallery cannot be opened",
            f"{exc}.\n\nCheck the folder (--gallery DIR) or run 'whalegui check' on it.",
        )
    return ("Start-up failed", f"Loading failed: {error_reason(exc)}.\n\nThe details are in the log file.")


# ---------------------------------------------------------------------- jobs (run on worker threads)


def _load(model_path: str | Path | None, folder: Path, device: str) -> tuple[Any, Any, GalleryInfo]:
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import Gallery

    if model_path is None:
        model_path = bundled_model_path()
    embedder = Embedder(model_path, device=device)
    gallery = Gallery.open(folder, embedder)
    return embedder, gallery, _info(gallery)


def _reopen(old: Any, folder: Path, embedder: Any) -> tuple[Any, GalleryInfo]:
    from whalegui.core.gallery import Gallery

    gallery = Gallery.open(folder, embedder)
    if old is not None:
        old.close()
    return gallery, _info(gallery)


def _info(gallery: Any) -> GalleryInfo:
    return GalleryInfo(Path(gallery.folder), gallery.whale_count(), gallery.photo_count(), gallery.whales())


def _probe_date(path: Path) -> datetime | None:
    try:
        return read_metadata(path).taken_at
    except errors.PhotoError:
        return None  # identification reports the reason


def _identify(gallery: Any, path: Path, top: int, cancel: threading.Event) -> Any:
    if cancel.is_set():
        return None
    return gallery.identify(path, top=top)


def _whale_photos(gallery: Any, whale_id: str) -> list[Any]:
    return list(gallery.photos(whale_id))


def _add_photo(gallery: Any, whale_id: str, path: Path) -> tuple[list[Any], GalleryInfo]:
    records = gallery.add_photos(whale_id, [path])
    return list(records), _info(gallery)


def _enroll(
    gallery: Any, path: Path, whale_id: str | None, name: str, notes: str
) -> tuple[str, list[int], GalleryInfo]:
    new_id = gallery.enroll([path], whale_id=whale_id, name=name, notes=notes)
    photo_ids = [p.photo_id for p in gallery.photos(new_id)]
    return new_id, photo_ids, _info(gallery)


def _undo(gallery: Any, action: UndoAction) -> GalleryInfo:
    if action.kind == "enroll":
        gallery.delete_whale(action.whale_id)
    else:
        for photo_id in action.photo_ids:
            gallery.remove_photo(photo_id)
    return _info(gallery)


def _rename(
    gallery: Any, whale_id: str, new_id: str | None, name: str | None, notes: str | None
) -> GalleryInfo:
    gallery.rename(whale_id, new_id=new_id, name=name, notes=notes)
    return _info(gallery)


def _call(gallery: Any, method: str, *args: Any) -> GalleryInfo:
    getattr(gallery, method)(*args)
    return _info(gallery)


def _import(
    gallery: Any,
    csv_path: str | Path | None,
    images_dir: Path,
    stop: threading.Event,
    *,
    progress: Any,
    cancel: threading.Event | None = None,
) -> tuple[Any, GalleryInfo]:
    report = gallery.import_catalogue(
        Path(csv_path) if csv_path else None,
        images_dir,
        progress=lambda done, total: progress((done, total)),
        cancel=stop,
    )
    return report, _info(gallery)


def _close(gallery: Any) -> None:
    gallery.close()
