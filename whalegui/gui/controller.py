"""The controller: the one object the views listen to, and the only one that talks to the core.

It drives the review's state (:class:`~whalegui.gui.review_model.ReviewModel`), sends every gallery call
through the :class:`~whalegui.gui.service.GalleryService`, decodes photos into ``QImage``s on an image pool,
keeps decisions on a ``QUndoStack`` and picks the words for what went wrong (:mod:`whalegui.gui.messages`).
Views connect to the signals below (past tense) and call the public methods; nothing here imports a widget.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, SignalInstance
from PySide6.QtGui import QImage, QUndoStack

from whalegui.core import errors
from whalegui.core.gallery import Gallery
from whalegui.core.identify import Candidate, Identification
from whalegui.core.images import find_photos, is_photo_file, read_metadata
from whalegui.core.records import PhotoRecord, new_whale_id
from whalegui.core.sightings import Sighting
from whalegui.gui import messages
from whalegui.gui.fluke_review import FlukeReview
from whalegui.gui.gallery_editor import GalleryEditor
from whalegui.gui.messages import Message
from whalegui.gui.review_model import CandidatePhoto, QueueEntry, ReviewModel, Status
from whalegui.gui.service import (
    READ_PRIORITY,
    Added,
    Enrolled,
    Failed,
    GalleryInfo,
    GalleryService,
    ModelInfo,
)
from whalegui.gui.settings import Settings
from whalegui.gui.sighting_draft import SightingDraft
from whalegui.gui.sighting_editor import SightingEditor
from whalegui.gui.thumbnails import ThumbnailCache
from whalegui.gui.tuning import Tuning
from whalegui.gui.undo import Decision, DecisionCommand, DecisionKind
from whalegui.gui.workers import WorkerPool, load_qimage, save_qimage
from whalegui.wording import plural

log = logging.getLogger(__name__)

_OnPhotoIds = Callable[[list[int]], None]  # the ids of the photos a decision added
_OnEnrolled = Callable[[str, list[int]], None]  # the new whale's id and its photo ids


class Controller(QObject):
    """Owns the gallery service, the review's state, the undo stack and the image workers."""

    loading_started = Signal(str)  # what is being loaded, in words
    loading_failed = Signal(str, str)  # title, what to do
    gallery_missing = Signal(object)  # Path: a gallery folder the user named does not exist; ask first
    model_loaded = Signal(str, str)  # model name, device ("CUDA GPU" / "CPU")
    gallery_changed = Signal(object)  # GalleryInfo: opened, or its contents changed
    new_whale_requested = Signal(object)  # QueueEntry: ask for the new whale's id, name and notes
    query_image_loaded = Signal(str, QImage)  # path, the photo at full resolution
    candidate_image_loaded = Signal(str, QImage)
    batch_started = Signal(int)  # total
    batch_progressed = Signal(int, int)  # done, total
    batch_finished = Signal(bool)  # cancelled
    error_raised = Signal(str, str)  # title, text: what happened and what to do
    status_messaged = Signal(str)

    def __init__(self, settings: Settings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else Settings()
        self.service = GalleryService(self)
        self._image_pool = WorkerPool(max(2, QThread.idealThreadCount() - 1), self)
        self.thumbnails = ThumbnailCache(self._image_pool, self.settings.thumbnail_size, self)
        self.review = ReviewModel(self.thumbnails, self)
        self.undo_stack = QUndoStack(self)
        self.info: GalleryInfo | None = None
        self.model_path: Path | None = None
        self.load_error = ""
        self.loading = False
        self._start_model: Path | None = None
        self._start_device = self.settings.device
        self._missing_folder: Path | None = None
        self._batch_cancel = threading.Event()
        self._batch_total = 0
        self._batch_done = 0
        self._queue_after_import: list[Path] = []
        self._temp_dirs: list[Path] = []
        self._shut_down = False
        self.editor = GalleryEditor(self.service, self)
        self.editor.changing.connect(self.undo_stack.clear)
        self.editor.gallery_changed.connect(self._set_info)
        self.editor.error_raised.connect(self.error_raised)
        self.editor.status_messaged.connect(self.status_messaged)
        self.editor.import_finished.connect(self._on_import_finished)
        self.sightings = SightingDraft(self.settings)  # what the next decisions record
        self.sighting_editor = SightingEditor(self.service, self.undo_stack, forward=self, parent=self)
        self.flukes = FlukeReview(self.service, self.review, lambda: self.settings.top_k,
                                  lambda: self.ready, self)
        self.flukes.error_raised.connect(self.error_raised)
        self.flukes.status_messaged.connect(self.status_messaged)
        self.tuning = Tuning(self.service, self.settings, lambda: self.batch_running, self)
        self.tuning.changing.connect(self.undo_stack.clear)
        self.tuning.error_raised.connect(self.error_raised)
        self.tuning.status_messaged.connect(self.status_messaged)
        self.tuning.model_applied.connect(lambda m, f: self._on_model_loaded(m, f, ask=False, demo=False))
        self.review.current_entry_changed.connect(self._on_current_entry_changed)
        self.review.candidate_selected.connect(self._on_candidate_selected)
        self.review.candidate_photo_changed.connect(self._on_candidate_photo_changed)
        # Workers run Python too (ranking, SQLite rows); with the default 5 ms GIL switch interval the GUI
        # thread, which crosses into C++ and back hundreds of times per repaint, waits behind them.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))

    # ------------------------------------------------------------------ state the views read

    @property
    def ready(self) -> bool:
        """The model is loaded and a gallery is open."""
        return self.info is not None and not self._shut_down

    @property
    def entries(self) -> Sequence[QueueEntry]:
        """The queued photos (see :attr:`ReviewModel.queue`)."""
        return self.review.queue.entries

    @property
    def gallery(self) -> Gallery | None:
        """The open gallery, for tests and diagnostics (see :attr:`GalleryService.gallery`)."""
        return self.service.gallery

    def status_counts(self) -> dict[Status, int]:
        """How many queued photos stand where."""
        return self.review.queue.counts()

    @property
    def batch_running(self) -> bool:
        """Whether photos are being identified."""
        return self._batch_done < self._batch_total

    # ------------------------------------------------------------------ loading

    def start(self, model_path: str | Path | None, gallery_dir: str | Path | None = None, *,
              device: str | None = None, demo: bool = False) -> None:
        """Load the model, then open the gallery, in the background; with ``demo`` a throwaway demo gallery.

        A gallery folder the user named (``gallery_dir`` or the settings) that does not exist is not
        created unasked: :attr:`gallery_missing` is emitted, and :meth:`create_gallery` goes on.
        """
        self._start_model = Path(model_path) if model_path else None
        self._start_device = device or self.settings.device
        if demo:
            folder = self.make_temp_dir("whalegui-demo-") / "gallery"
        else:
            folder = Path(gallery_dir).expanduser() if gallery_dir else self.settings.gallery_path()
        named = gallery_dir is not None or bool(self.settings.gallery_dir)  # not the platform's default
        ask = named and not demo and not folder.exists()
        self.loading = True
        self.loading_started.emit("Loading the identification model…")
        self.service.load_model(self._start_model, self._start_device,
                                done=lambda model: self._on_model_loaded(model, folder, ask=ask, demo=demo),
                                failed=self._on_load_failed)

    def _on_model_loaded(self, model: ModelInfo, folder: Path, *, ask: bool, demo: bool) -> None:
        self.model_path = model.path
        log.info("loaded %s", model.description)
        self.model_loaded.emit(model.name, model.device)
        if ask:
            self.loading = False
            self._missing_folder = folder
            self.gallery_missing.emit(folder)
        else:
            self._open(folder, demo=demo)

    def _open(self, folder: Path, *, demo: bool = False) -> None:
        self.loading = True
        self.undo_stack.clear()
        self.loading_started.emit(f"Opening the gallery {folder}…")
        self.service.open(folder, done=lambda info: self._on_opened(info, demo), failed=self._on_load_failed)

    def create_gallery(self, folder: str | Path | None = None) -> None:
        """Open (creating it) the gallery in ``folder`` (default: the missing one the user named)."""
        target = Path(folder) if folder is not None else self._missing_folder
        if target is not None:
            self.open_gallery(target)

    def decline_gallery(self) -> None:
        """The user did not want a gallery created in the missing folder: nothing is opened."""
        if self._missing_folder is not None:
            message = messages.no_gallery(self._missing_folder)
            self.load_error = message.text
            self.loading_failed.emit(message.title, message.text)

    def _on_opened(self, info: GalleryInfo, demo: bool) -> None:
        first = self.info is None
        self.loading, self.load_error = False, ""
        summary = messages.gallery_summary(info.whale_count, info.photo_count)
        log.info("gallery %s (%s)", info.folder, summary)
        self._set_info(info)
        if demo:
            self.import_demo()
        else:
            self.status_messaged.emit(f"Ready: the gallery has {summary}.")
        if not first:
            for entry in self.entries:  # results from the old gallery mean nothing in the new one
                if entry.status in (Status.REVIEW, Status.IDENTIFYING):
                    entry.status, entry.identification = Status.WAITING, None
                    self.review.queue.update(entry)
            self.review.show(None)
        self.identify_waiting()

    def _on_load_failed(self, exc: BaseException) -> None:
        self.loading = False
        message = messages.load_error(exc)
        self.load_error = message.text
        log.error("loading failed: %s", exc, exc_info=not isinstance(exc, errors.WhaleguiError))
        self.loading_failed.emit(message.title, message.text)

    def open_gallery(self, folder: str | Path) -> None:
        """Close the open gallery and open (or create) the one in ``folder``."""
        if self.service.has_model:
            self._open(Path(folder))
        else:  # the model failed to load: try again, with this gallery
            self.start(self._start_model, folder, device=self._start_device)

    def open_demo(self) -> None:
        """A fresh throwaway gallery filled with the demo catalogue, and its query photos queued."""
        if self.service.has_model:
            self._open(self.make_temp_dir("whalegui-demo-") / "gallery", demo=True)
        else:
            self.start(self._start_model, device=self._start_device, demo=True)

    def import_demo(self) -> None:
        """Import the bundled synthetic demo catalogue, then queue its query photos."""
        from whalegui.resources import demo_folder

        try:
            demo = demo_folder()
            csv, photos = demo / "catalogue.csv", demo / "photos"
            if not csv.is_file() or not photos.is_dir():
                raise FileNotFoundError(f"{demo} has no catalogue.csv and photos/")
        except FileNotFoundError as exc:
            self._raise(messages.no_demo(exc))
            return
        queries = demo / "queries"
        if self.editor.import_catalogue(csv, photos):
            self._queue_after_import = [queries] if queries.is_dir() else []

    def _on_import_finished(self, _report: object) -> None:
        queue, self._queue_after_import = self._queue_after_import, []
        if queue:
            self.add_paths(queue)

    # ------------------------------------------------------------------ the queue

    def add_paths(self, paths: Sequence[str | Path]) -> int:
        """Queue photos and folders (expanded recursively); returns how many photos were added."""
        known = {e.path for e in self.entries}
        new: list[QueueEntry] = []
        for found in find_photos(list(paths)):
            path = Path(found).absolute()
            if path not in known:
                known.add(path)
                new.append(QueueEntry(path))
        if not new:
            self.status_messaged.emit("No new photos to add.")
            return 0
        self.review.queue.append(new)
        self.status_messaged.emit(f"Added {plural(len(new), 'photo')} to the queue.")
        for entry in new:
            if is_photo_file(entry.path):
                self._image_pool.submit(_probe_date, entry.path,
                                        on_result=partial(self._on_probed, entry))
        if self.ready:
            self.identify_waiting()
        return len(new)

    def add_image(self, image: QImage) -> None:
        """Queue a pasted image: it is written as a PNG (in a worker), then queued like a file."""
        target = self.make_temp_dir("whalegui-pasted-") / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}.png"
        # the worker gets its own copy: the clipboard's image may change meanwhile
        self._image_pool.submit(save_qimage, image.copy(), target,
                                on_result=lambda path: self.add_paths([path]),
                                on_error=lambda exc: self._raise(messages.paste_failed(exc)))

    def _on_probed(self, entry: QueueEntry, taken_at: datetime | None) -> None:
        if taken_at is not None and entry.taken_at is None:
            entry.taken_at = taken_at
            self.review.update(entry)

    def identify_waiting(self) -> None:
        """Identify every waiting photo in the background (one batch; progress and cancel)."""
        waiting = [e for e in self.entries if e.status is Status.WAITING]
        if not self.ready or not waiting:
            return
        if not self.batch_running:
            self._batch_total = self._batch_done = 0
            self._batch_cancel = threading.Event()
            self.batch_started.emit(len(waiting))
        self._batch_total += len(waiting)
        for entry in waiting:
            entry.status, entry.reason = Status.IDENTIFYING, ""
            self.review.update(entry)
            self.service.identify(entry.path, self.settings.top_k, self._batch_cancel,
                                  done=partial(self._on_identified, entry),
                                  failed=partial(self._on_identify_failed, entry))
        self.batch_progressed.emit(self._batch_done, self._batch_total)

    def cancel_batch(self) -> None:
        """Stop identifying: photos not started yet go back to waiting."""
        self._batch_cancel.set()
        self.status_messaged.emit("Cancelling the batch…")

    def _on_identified(self, entry: QueueEntry, ident: Identification | None) -> None:
        if ident is None:  # cancelled before it started
            entry.status = Status.WAITING
        else:
            entry.identification = ident
            if ident.meta is not None and ident.meta.taken_at is not None:
                entry.taken_at = ident.meta.taken_at
            if ident.duplicate_of is not None:
                entry.status, entry.whale_id = Status.MATCHED, ident.duplicate_of.whale_id
                entry.reason = "already in the gallery"
            else:
                entry.status = Status.REVIEW
        self.review.update(entry)
        self._batch_step()
        current = self.review.current_entry
        if entry.status is Status.REVIEW and (current is None or not current.reviewable):
            self.review.show(entry)

    def _on_identify_failed(self, entry: QueueEntry, exc: BaseException) -> None:
        entry.status, entry.reason = Status.ERROR, messages.error_reason(exc)
        if isinstance(exc, errors.PhotoError):
            log.warning("%s", exc)
        else:
            log.error("identifying %s failed: %s", entry.path, exc, exc_info=exc)
        self.review.update(entry)
        self._batch_step()
        if not isinstance(exc, errors.WhaleguiError):
            self._raise(messages.identify_failed(entry.name, exc))

    def _batch_step(self) -> None:
        self._batch_done += 1
        self.batch_progressed.emit(self._batch_done, self._batch_total)
        if self._batch_done >= self._batch_total:
            cancelled = self._batch_cancel.is_set()
            self._batch_done = self._batch_total = 0
            self.batch_finished.emit(cancelled)
            counts = ", ".join(s.count_text(n) for s, n in self.status_counts().items() if n)
            self.status_messaged.emit(f"Batch {'cancelled' if cancelled else 'done'}. {counts}")

    def retry(self, entry: QueueEntry) -> None:
        """Identify a failed or waiting photo again."""
        if entry.status in (Status.ERROR, Status.WAITING):
            entry.status, entry.reason = Status.WAITING, ""
            self.identify_waiting()

    def clear_finished(self) -> None:
        """Drop matched, enrolled and failed photos from the queue (and the undo history about them)."""
        self.undo_stack.clear()
        self.review.keep(lambda e: e.status not in (Status.MATCHED, Status.NEW, Status.ERROR))

    # ------------------------------------------------------------------ review navigation

    def skip(self) -> None:
        """Leave the current photo for later and go to the next one that needs review."""
        self.advance()

    def advance(self) -> None:
        """Go to the next photo needing review; stay when there is none."""
        following = self.review.next_to_review()
        if following is not None:
            self.review.show(following)
        elif self.review.current_entry is not None:
            self.review.update(self.review.current_entry)

    def _on_current_entry_changed(self, entry: QueueEntry | None) -> None:
        if entry is not None and entry.status is not Status.ERROR:
            self._load_image(entry.path, self.query_image_loaded,
                             on_error=partial(self._on_query_image_failed, entry))

    def _on_query_image_failed(self, entry: QueueEntry, exc: BaseException) -> None:
        if entry.status is not Status.ERROR:
            entry.status, entry.reason = Status.ERROR, messages.error_reason(exc)
            self.review.update(entry)

    def _on_candidate_selected(self, cand: Candidate | None) -> None:
        if cand is None or not self.ready:
            return
        whale_id, rank = cand.whale_id, self.review.candidate_index
        self.service.whale_photos(
            whale_id, done=lambda photos: self.review.set_whale_photos(whale_id, rank, photos),
            failed=lambda exc: log.warning("listing photos failed: %s", exc))

    def _on_candidate_photo_changed(self, shown: CandidatePhoto | None) -> None:
        if shown is not None:
            self._load_image(shown.photo.path, self.candidate_image_loaded,
                             on_error=lambda exc: log.warning("cannot show gallery photo: %s", exc))

    def _load_image(self, path: Path, loaded: SignalInstance, *, on_error: Failed) -> None:
        """Decode a photo at full resolution in a worker; ``loaded`` is emitted with (path, QImage)."""
        self._image_pool.submit(load_qimage, path, priority=READ_PRIORITY,
                                on_result=partial(loaded.emit, str(path)), on_error=on_error)

    # ------------------------------------------------------------------ decisions

    def accept_proposal(self) -> None:
        """Do what the verdict proposes (Enter): a new whale when it says so, else the selected match."""
        entry = self.review.current_entry
        if entry is None or not entry.reviewable:
            return
        if entry.likely_new or self.review.current_candidate() is None:
            self.request_new_whale()
        else:
            self.confirm()

    def request_new_whale(self) -> None:
        """Ask (through the window) for the new whale's details for the photo under review."""
        entry = self.review.current_entry
        if entry is not None and entry.reviewable and self.ready:
            self.new_whale_requested.emit(entry)

    def confirm(self) -> bool:
        """Add the photo under review to the selected candidate whale."""
        entry, cand = self.review.current_entry, self.review.current_candidate()
        if entry is None or cand is None or not entry.reviewable or not self.ready:
            return False
        if self.sightings.problem(entry):
            self._raise(messages.sighting_invalid(self.sightings.problem(entry)))
            return False
        seen = self.sightings.for_entry(entry)
        self._add_to_whale(entry, cand.whale_id, seen, on_added=lambda ids: self._push(
            Decision(DecisionKind.CONFIRM, entry, cand.whale_id, ids, sighting=seen)))
        self.advance()
        return True

    def enroll_current(self, whale_id: str, name: str = "", notes: str = "",
                       sighting: Sighting | None = None) -> bool:
        """Enroll the photo under review as a new whale (no ``whale_id``: a fresh id) seen in ``sighting``."""
        entry = self.review.current_entry
        if entry is None or not entry.reviewable or not self.ready:
            return False
        seen = sighting or self.sightings.for_entry(entry)  # None: the review's sighting of it
        self._enroll(entry, whale_id or None, name, notes, seen, on_enrolled=lambda new_id, ids: self._push(
            Decision(DecisionKind.ENROLL, entry, new_id, ids, name, notes, seen)))
        self.advance()
        return True

    def _add_to_whale(self, entry: QueueEntry, whale_id: str, sighting: Sighting | None, *,
                      on_added: _OnPhotoIds) -> None:
        self._set_busy(entry, "adding to the gallery")

        def added(result: Added) -> None:
            entry.status, entry.whale_id, entry.reason = Status.MATCHED, whale_id, ""
            self.review.update(entry)
            self._set_info(result.info)
            on_added([p.photo_id for p in result.photos])
            self.status_messaged.emit(f"{entry.name} added to whale {whale_id}.")

        self.service.add_photo(whale_id, entry.path, entry.identification, done=added, sighting=sighting,
                               failed=lambda exc: self._on_write_failed(entry, exc, "Confirm"),
                               rejected=frozenset(entry.rejected))

    def _enroll(self, entry: QueueEntry, whale_id: str | None, name: str, notes: str,
                sighting: Sighting | None, *, on_enrolled: _OnEnrolled) -> None:
        self._set_busy(entry, "enrolling")

        def enrolled(result: Enrolled) -> None:
            entry.status, entry.whale_id, entry.reason = Status.NEW, result.whale_id, ""
            self.review.update(entry)
            self._set_info(result.info)
            on_enrolled(result.whale_id, result.photo_ids)
            self.status_messaged.emit(f"{entry.name} enrolled as new whale {result.whale_id}.")

        self.service.enroll(entry.path, entry.identification, whale_id, name, notes, sighting=sighting,
                            done=enrolled, failed=lambda exc: self._on_write_failed(entry, exc, "New whale"),
                            rejected=frozenset(entry.rejected))

    def _set_busy(self, entry: QueueEntry, doing: str) -> None:
        entry.status, entry.reason = Status.IDENTIFYING, doing  # busy until the write lands
        self.review.update(entry)

    def _on_write_failed(self, entry: QueueEntry, exc: BaseException, action: str) -> None:
        if isinstance(exc, errors.DuplicatePhotoError):
            existing = exc.existing if isinstance(exc.existing, PhotoRecord) else None
            entry.status, entry.reason = Status.MATCHED, "already in the gallery"
            entry.whale_id = existing.whale_id if existing is not None else None
            message = messages.already_catalogued(entry.name, entry.whale_id)
        else:
            entry.status, entry.reason = Status.REVIEW, ""
            message = messages.write_failed(action, entry.name, exc)
            log.error("%s of %s failed", action, entry.path, exc_info=exc)
        self.review.update(entry)
        self._raise(message)

    def suggest_whale_id(self) -> str:
        """A new whale id like ``w_1a2b3c4``, not used in the open gallery."""
        return new_whale_id(self.whale_id_taken)

    def whale_id_taken(self, whale_id: str) -> bool:
        """Whether a whale ``whale_id`` is in the open gallery."""
        return self.info is not None and any(w.whale_id == whale_id for w in self.info.whales)

    # ------------------------------------------------------------------ undo

    def undo(self) -> None:
        """Undo the last confirm or enroll: the photo leaves the gallery and needs review again."""
        if self.ready and self.undo_stack.canUndo():
            self.undo_stack.undo()

    def redo(self) -> None:
        if self.ready and self.undo_stack.canRedo():
            self.undo_stack.redo()

    def _push(self, decision: Decision) -> None:
        self.undo_stack.push(DecisionCommand(decision, self))

    def undo_decision(self, decision: Decision) -> None:
        """Take a decision's photos out of the gallery again (a new whale goes with its photo)."""
        entry = decision.entry
        self._set_busy(entry, "undoing")

        def undone(info: GalleryInfo) -> None:
            entry.status, entry.whale_id, entry.reason = Status.REVIEW, None, ""
            self.review.update(entry)
            self._set_info(info)
            self.status_messaged.emit(f"Undone: {decision.describe()}.")
            self.review.show(entry)

        def failed(exc: BaseException) -> None:
            log.error("undo failed", exc_info=exc)
            entry.status = Status.MATCHED if decision.kind is DecisionKind.CONFIRM else Status.NEW
            entry.reason = ""
            self.review.update(entry)
            self.undo_stack.clear()  # the stack no longer describes the gallery
            self._raise(messages.undo_failed(decision.describe(), exc))

        if decision.kind is DecisionKind.ENROLL:
            self.service.delete_whale(decision.whale_id, done=undone, failed=failed)
        else:
            self.service.remove_photos(decision.photo_ids, done=undone, failed=failed)

    def redo_decision(self, decision: Decision) -> None:
        """Write an undone decision again."""
        entry = decision.entry

        def store(ids: list[int]) -> None:
            decision.photo_ids = ids

        if decision.kind is DecisionKind.CONFIRM:
            self._add_to_whale(entry, decision.whale_id, decision.sighting, on_added=store)
        else:
            self._enroll(entry, decision.whale_id, decision.name, decision.notes, decision.sighting,
                         on_enrolled=lambda _whale_id, ids: store(ids))
        self.advance()

    # ------------------------------------------------------------------ shutdown and helpers

    def shutdown(self, timeout_ms: int = 15000) -> None:
        """Cancel and wait for every worker, close the gallery, remove temporary demo folders."""
        if self._shut_down:
            return
        self._shut_down = True
        self._batch_cancel.set()
        self.tuning.shutdown()
        self._image_pool.cancel_all()
        self.service.shutdown(timeout_ms)
        self._image_pool.wait(timeout_ms)
        for folder in self._temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)

    def make_temp_dir(self, prefix: str) -> Path:
        """A temporary folder that is removed at shutdown (demo galleries, pasted images)."""
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        self._temp_dirs.append(folder)
        return folder

    def _set_info(self, info: GalleryInfo) -> None:
        self.info = info
        self.gallery_changed.emit(info)

    def _raise(self, message: Message) -> None:
        self.error_raised.emit(message.title, message.text)


def _probe_date(path: Path) -> datetime | None:
    try:
        return read_metadata(path).taken_at
    except errors.PhotoError:
        return None  # identification reports the reason
