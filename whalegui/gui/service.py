"""The gallery service: the GUI's one gateway to the model and the gallery.

Every call (load, open, identify, write, list) runs on one fixed worker thread in priority order, so SQLite
sees one thread and hnswlib never searches while it is being written; user actions jump ahead of queued
identifications. Each public method is typed after the gallery call it makes and reports through ``done``
(its value) or ``failed`` (the exception), both called on the GUI thread. The service says nothing to the
user: the controller chooses the words (:mod:`whalegui.gui.messages`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject

from whalegui.core.embedder import Embedder
from whalegui.core.errors import GalleryError, ModelError
from whalegui.core.fluke import Fluke
from whalegui.core.gallery import Gallery, reembed
from whalegui.core.gallery.merge import keep_apart, merge_gallery, pending_likely_same
from whalegui.core.gallery.merge_report import LikelySame, MergeReport
from whalegui.core.identify import Identification
from whalegui.core.records import PhotoRecord, WhaleSummary
from whalegui.core.reviews import Review, Triplet
from whalegui.core.sightings import Sighting, SightingRecord
from whalegui.core.verify import Verification
from whalegui.gui.workers import Worker, WorkerPool
from whalegui.paths import bundled_model_path

if TYPE_CHECKING:
    from whalegui.core.gallery import ImportReport

log = logging.getLogger(__name__)

R = TypeVar("R")
Failed = Callable[[BaseException], None]

#: Priorities on the gallery thread: user actions first, then what the review shows, then the batch.
WRITE_PRIORITY = 10
READ_PRIORITY = 5
BATCH_PRIORITY = 0
CLOSE_PRIORITY = -1


@dataclass(frozen=True)
class GalleryInfo:
    """What the status bar and the browser show about the open gallery."""

    folder: Path
    whale_count: int
    photo_count: int
    whales: list[WhaleSummary]


@dataclass(frozen=True)
class ModelInfo:
    """The model is loaded."""

    name: str
    path: Path
    device: str  # "CPU", "CUDA GPU"
    description: str


@dataclass(frozen=True)
class Added:
    """A query photo was added to a catalogued whale."""

    photos: list[PhotoRecord]
    info: GalleryInfo


@dataclass(frozen=True)
class Enrolled:
    """A query photo was enrolled as a new whale."""

    whale_id: str
    photo_ids: list[int]
    info: GalleryInfo


@dataclass(frozen=True)
class TripletRow:
    """A misranked triplet with its three catalogued photos (query, its whale's, the wrong whale's)."""

    triplet: Triplet
    anchor: PhotoRecord
    positive: PhotoRecord
    negative: PhotoRecord


@dataclass(frozen=True)
class Applied:
    """The gallery was re-embedded with another model (``cancelled``: it was not, and is unchanged)."""

    model: ModelInfo | None
    count: int
    info: GalleryInfo
    cancelled: bool = False


class _Cancelled(Exception):
    """Raised from a progress callback to stop work that writes nothing until it is done."""


@dataclass(frozen=True)
class Imported:
    """A catalogue was imported."""
    report: ImportReport
    info: GalleryInfo


@dataclass(frozen=True)
class Merged:
    """Another gallery was merged in (or a dry run said what merging it would do)."""

    report: MergeReport
    info: GalleryInfo


class GalleryService(QObject):
    """Owns the embedder and the gallery; runs every gallery call on its one thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = WorkerPool(1, self)
        # Both are assigned on the gallery thread only; the GUI thread reads them after a job reported.
        self._embedder: Embedder | None = None
        self._gallery: Gallery | None = None

    @property
    def gallery(self) -> Gallery | None:
        """The open gallery, for tests and diagnostics; call it only while no job runs."""
        return self._gallery

    @property
    def is_open(self) -> bool:
        """Whether a gallery is open (as the last job that reported left it)."""
        return self._gallery is not None

    @property
    def has_model(self) -> bool:
        """Whether the embedding model is loaded."""
        return self._embedder is not None

    # ------------------------------------------------------------------ opening

    def load_model(
        self, model_path: Path | None, device: str, *, done: Callable[[ModelInfo], None], failed: Failed
    ) -> None:
        """Load the embedding model (the bundled one when ``model_path`` is None)."""

        def job() -> ModelInfo:
            embedder = Embedder(model_path or bundled_model_path(), device=device)
            self._embedder = embedder
            return ModelInfo(embedder.card.name, embedder.path, embedder.device, embedder.describe())

        self._run(job, WRITE_PRIORITY, done, failed)

    def open(self, folder: Path, *, done: Callable[[GalleryInfo], None], failed: Failed) -> None:
        """Open (or create) the gallery in ``folder``; the open one is closed once the new one is open."""

        def job() -> GalleryInfo:
            if self._embedder is None:
                raise ModelError(folder, "no model is loaded")
            if self._gallery is not None and Path(self._gallery.folder).resolve() == folder.resolve():
                self._close()  # the same gallery again (a new model): its writer lock must be let go first
            gallery = Gallery.open(folder, self._embedder)
            old, self._gallery = self._gallery, gallery
            if old is not None:
                old.close()
            return _info(gallery)

        self._run(job, WRITE_PRIORITY, done, failed)

    # ------------------------------------------------------------------ reading

    def identify(
        self,
        path: Path,
        top: int,
        cancel: threading.Event,
        *,
        done: Callable[[Identification | None], None],
        failed: Failed,
        fluke: Fluke | None = None,
        priority: int = BATCH_PRIORITY,
    ) -> None:
        """Identify one query photo (batch priority unless told); ``None`` when ``cancel`` was set before it
        started. ``fluke`` is a box the researcher drew (see :meth:`Gallery.identify`)."""

        def job() -> Identification | None:
            return None if cancel.is_set() else self._require().identify(path, top=top, fluke=fluke)

        self._run(job, priority, done, failed)

    def match_points(
        self,
        identification: Identification,
        photo_id: int,
        *,
        done: Callable[[Verification], None],
        failed: Failed,
    ) -> None:
        """The query's keypoints matched with a catalogued photo's (read priority; see
        :meth:`Gallery.match_points`)."""
        self._run(lambda: self._require().match_points(identification, photo_id), READ_PRIORITY, done, failed)

    def whale_photos(
        self, whale_id: str, *, done: Callable[[list[PhotoRecord]], None], failed: Failed
    ) -> None:
        """List a whale's photos (read priority)."""
        self._run(lambda: list(self._require().photos(whale_id)), READ_PRIORITY, done, failed)

    def sightings(
        self, whale_id: str, *, done: Callable[[list[SightingRecord]], None], failed: Failed
    ) -> None:
        """List a whale's sightings, oldest first (read priority)."""
        self._run(lambda: self._require().sightings(whale_id), READ_PRIORITY, done, failed)

    def update_sighting(
        self, sighting_id: int, sighting: Sighting, *, done: Callable[[GalleryInfo], None], failed: Failed
    ) -> None:
        """Correct a stored sighting."""
        self._change(lambda g: g.update_sighting(sighting_id, sighting), done, failed)

    def refresh(self, *, done: Callable[[GalleryInfo], None], failed: Failed) -> None:
        """Read the gallery's whales and counts again."""
        self._run(lambda: _info(self._require()), READ_PRIORITY, done, failed)

    def export_csv(self, path: Path, *, done: Callable[[int], None], failed: Failed) -> None:
        """Write the catalogue as CSV; ``done`` gets the number of rows."""
        self._run(lambda: self._require().export_csv(path), WRITE_PRIORITY, done, failed)

    # ------------------------------------------------------------------ the review's writes

    def add_photo(
        self,
        whale_id: str,
        path: Path,
        identification: Identification | None,
        *,
        done: Callable[[Added], None],
        failed: Failed,
        rejected: frozenset[str] = frozenset(),
        sighting: Sighting | None = None,
    ) -> None:
        """Add a query photo to a catalogued whale (confirm a match), seen in ``sighting`` (None: EXIF's);
        the review (its candidates, and the whales ``rejected`` explicitly) is stored as labelled pairs
        with it."""

        def job() -> Added:
            gallery = self._require()
            records = gallery.add_photos(whale_id, [path], identified=_identified(identification),
                                         reviews=_reviews(identification, rejected - {whale_id}),
                                         sighting=sighting)
            return Added(list(records), _info(gallery))

        self._run(job, WRITE_PRIORITY, done, failed)

    def enroll(
        self,
        path: Path,
        identification: Identification | None,
        whale_id: str | None,
        name: str,
        notes: str,
        *,
        done: Callable[[Enrolled], None],
        failed: Failed,
        rejected: frozenset[str] = frozenset(),
        sighting: Sighting | None = None,
    ) -> None:
        """Enroll a query photo as a new whale (``whale_id`` None: a fresh id), seen in ``sighting``; its
        review is stored as pairs (every candidate was another whale; ``rejected`` were said so
        explicitly)."""

        def job() -> Enrolled:
            gallery = self._require()
            new_id = gallery.enroll(
                [path], whale_id=whale_id, name=name, notes=notes, identified=_identified(identification),
                reviews=_reviews(identification, rejected), sighting=sighting,
            )
            return Enrolled(new_id, [p.photo_id for p in gallery.photos(new_id)], _info(gallery))

        self._run(job, WRITE_PRIORITY, done, failed)

    # ------------------------------------------------------------------ curation

    def rename(
        self,
        whale_id: str,
        *,
        new_id: str | None,
        name: str | None,
        notes: str | None,
        done: Callable[[GalleryInfo], None],
        failed: Failed,
    ) -> None:
        """Change a whale's id, name and/or notes (``None``: keep)."""
        self._change(lambda g: g.rename(whale_id, new_id=new_id, name=name, notes=notes), done, failed)

    def merge(
        self, source_id: str, target_id: str, *, done: Callable[[GalleryInfo], None], failed: Failed
    ) -> None:
        """Move every photo of ``source_id`` to ``target_id`` and remove ``source_id``."""
        self._change(lambda g: g.merge(source_id, target_id), done, failed)

    def delete_whale(self, whale_id: str, *, done: Callable[[GalleryInfo], None], failed: Failed) -> None:
        """Take a whale and its photos out of the catalogue."""
        self._change(lambda g: g.delete_whale(whale_id), done, failed)

    def remove_photos(
        self, photo_ids: list[int], *, done: Callable[[GalleryInfo], None], failed: Failed
    ) -> None:
        """Take photos out of the catalogue (undoing a confirm, or from the browser)."""
        def remove(gallery: Gallery) -> None:
            for photo_id in photo_ids:
                gallery.remove_photo(photo_id)

        self._change(remove, done, failed)

    def import_catalogue(
        self,
        csv_path: Path | None,
        images_dir: Path,
        *,
        progress: Callable[[int, int], None],
        done: Callable[[Imported], None],
        failed: Failed,
    ) -> Worker:
        """Import a catalogue (a CSV and its photo folder, or a folder per whale when ``csv_path`` is None).

        Returns the worker: ``cancel()`` it to stop after the current batch (what was imported is kept).
        """

        def job(progress: Callable[[object], None], cancel: threading.Event) -> Imported:
            gallery = self._require()
            report = gallery.import_catalogue(
                csv_path, images_dir, progress=lambda d, t: progress((d, t)), cancel=cancel
            )
            return Imported(report, _info(gallery))

        return self._write_with_progress(job, done, failed, progress)

    # ------------------------------------------------------------------ review pairs and models

    def misranked(self, *, done: Callable[[list[TripletRow]], None], failed: Failed) -> None:
        """The misranked triplets (see :meth:`Gallery.misranked`) with their photos (read priority)."""

        def job() -> list[TripletRow]:
            gallery = self._require()
            by_sha = {p.sha256: p for p in gallery.photos()}
            return [TripletRow(t, by_sha[t.anchor_sha256], by_sha[t.positive.candidate_sha256],
                               by_sha[t.negative.candidate_sha256]) for t in gallery.misranked()]

        self._run(job, READ_PRIORITY, done, failed)

    def set_pair_keep(
        self, pair_id: int, keep: bool, *, done: Callable[[None], None], failed: Failed
    ) -> None:
        """Let training use a review pair, or not."""
        self._run(lambda: self._require().set_pair_keep(pair_id, keep), WRITE_PRIORITY, done, failed)

    def export(self, path: Path, fmt: str, *, done: Callable[[int], None], failed: Failed) -> None:
        """Write the catalogue (or the review pairs, ``fmt`` ``pairs``) as CSV; ``done`` gets the rows."""
        self._run(lambda: self._require().export_csv(path, fmt), WRITE_PRIORITY, done, failed)

    def apply_model(
        self,
        model_path: Path,
        device: str,
        *,
        progress: Callable[[int, int], None],
        done: Callable[[Applied], None],
        failed: Failed,
    ) -> Worker:
        """Re-embed the open gallery with the model at ``model_path`` (atomically: every photo is analysed
        first, then all is written in one transaction) and keep that model loaded. Returns the worker:
        ``cancel()`` it before the write to leave the gallery (and the loaded model) as they were."""

        def job(progress: Callable[[object], None], cancel: threading.Event) -> Applied:
            folder = Path(self._require().folder)
            embedder = Embedder(model_path, device=device)

            def step(done: int, total: int) -> None:
                if cancel.is_set():
                    raise _Cancelled
                progress((done, total))

            self._close()  # the writer lock is released, so the re-embedding can take it
            keep = self._embedder
            try:
                count = reembed(folder, embedder, step)
            except _Cancelled:
                self._gallery = Gallery.open(folder, keep)
                return Applied(None, 0, _info(self._gallery), cancelled=True)
            except BaseException:
                self._gallery = Gallery.open(folder, keep)
                raise
            self._embedder = embedder
            self._gallery = Gallery.open(folder, embedder)
            model = ModelInfo(embedder.card.name, embedder.path, embedder.device, embedder.describe())
            return Applied(model, count, _info(self._gallery))

        return self._write_with_progress(job, done, failed, progress)

    # ------------------------------------------------------------------ merging galleries

    def merge_from(
        self,
        other: Path,
        *,
        dry_run: bool,
        progress: Callable[[int, int], None],
        done: Callable[[Merged], None],
        failed: Failed,
    ) -> Worker:
        """Merge the gallery in ``other`` into the open one (``dry_run``: only say what that would do).
        Returns the worker: ``cancel()`` it to stop after the current batch (what was merged is kept)."""

        def job(progress: Callable[[object], None], cancel: threading.Event) -> Merged:
            gallery = self._require()
            report = merge_gallery(gallery, other, dry_run=dry_run, progress=lambda d, t: progress((d, t)),
                                   cancel=cancel)
            return Merged(report, _info(gallery))

        return self._write_with_progress(job, done, failed, progress)

    def likely_same(self, *, done: Callable[[list[LikelySame]], None], failed: Failed) -> None:
        """The possibly-same whales the latest merge listed that are still two whales."""
        self._run(lambda: pending_likely_same(self._require()), READ_PRIORITY, done, failed)

    def keep_apart(self, pair: LikelySame, *, failed: Failed) -> None:
        """Record that a researcher keeps a possibly-same pair apart (it leaves the queue)."""
        self._run(lambda: keep_apart(self._require(), pair), WRITE_PRIORITY, lambda _: None, failed)

    # ------------------------------------------------------------------ closing

    def shutdown(self, timeout_ms: int) -> None:
        """Cancel what has not started, close the gallery after the running job, wait for the thread."""
        self._pool.cancel_all()
        self._pool.submit(self._close, priority=CLOSE_PRIORITY)
        if not self._pool.wait(timeout_ms):
            log.warning("gallery work still running at exit")

    def _close(self) -> None:
        gallery, self._gallery = self._gallery, None
        if gallery is not None:
            gallery.close()

    # ------------------------------------------------------------------ helpers

    def _require(self) -> Gallery:
        if self._gallery is None:
            raise GalleryError("no gallery is open")
        return self._gallery

    def _run(self, job: Callable[[], R], priority: int, done: Callable[[R], None], failed: Failed) -> None:
        self._pool.submit(job, priority=priority, on_result=done, on_error=failed)

    def _write_with_progress(self, job: Callable[[Callable[[object], None], threading.Event], R],
                             done: Callable[[R], None], failed: Failed,
                             progress: Callable[[int, int], None]) -> Worker:
        """Start a cancellable write ``job(report, cancel)`` whose ``report((done, total))`` reaches
        ``progress(done, total)`` in the GUI thread; returns the worker."""

        def on_progress(value: object) -> None:
            if isinstance(value, tuple):
                progress(*value)

        return self._pool.submit(
            job, priority=WRITE_PRIORITY, on_result=done, on_error=failed, on_progress=on_progress
        )

    def _change(
        self, change: Callable[[Gallery], object], done: Callable[[GalleryInfo], None], failed: Failed
    ) -> None:
        def job() -> GalleryInfo:
            gallery = self._require()
            change(gallery)
            return _info(gallery)

        self._run(job, WRITE_PRIORITY, done, failed)


def _info(gallery: Gallery) -> GalleryInfo:
    return GalleryInfo(Path(gallery.folder), gallery.whale_count(), gallery.photo_count(), gallery.whales())


def _reviews(identification: Identification | None, rejected: frozenset[str]) -> list[Review]:
    """The query's review, to store as pairs (none for a photo that was not identified)."""
    return [] if identification is None else [Review(identification, frozenset(rejected))]


def _identified(identification: Identification | None) -> list[Identification]:
    """The query's identification: the gallery stores its embedding rather than embedding the photo again."""
    return [] if identification is None else [identification]
