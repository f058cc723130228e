"""The gallery: a folder of catalogued whales and their fluke photos, searchable by photo (:class:`Gallery`).

Layout of a gallery folder (copy it to another laptop and it still works)::

    gallery.sqlite            the truth: whales, photos (with embeddings and fluke boxes), their local
                              features (derived), meta, audit log  (WAL mode)
    photos/ab/<sha256>.<ext>  each photo's original bytes, content-addressed
    thumbs/ab/<sha256>.jpg    thumbnails, 256 px
    index.bin, index.json     the hnswlib index (a cache, rebuilt from SQLite when missing/stale/corrupt)
    gallery.lock              held (flock) by the one process that writes

:class:`Gallery` is a thin facade over the package's parts: the store (:mod:`.store`, SQLite), the photo
files and the writer lock (:mod:`.files`), the index cache (:mod:`.index_cache`), the way in for photos
(:mod:`.intake`, which keeps the crash-safe order: files first, then the commit, then the index), search
(:mod:`.search`), catalogue import and export (:mod:`.transfer`) and maintenance (:mod:`.maintenance`).
Every photo, stored or searched for, is analysed by one :class:`~whalegui.core.analysis.Analyser` (fluke,
crop, embedding, local features), so it is seen the same way by import, enroll, identify and re-embed.
Every change is one transaction and bumps a counter in ``meta``; the index stamp records the counter it
reflects, so an index older than the database is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from whalegui.core.analysis import Analyser
from whalegui.core.embedder import Embedder
from whalegui.core.errors import (
    GalleryError,
    ModelMismatchError,
    PhotoError,
    WhaleExistsError,
    WhaleNotFoundError,
)
from whalegui.core.fluke import Fluke
from whalegui.core.gallery.derived_store import DerivedStore
from whalegui.core.gallery.exports import export
from whalegui.core.gallery.field_store import FieldStore
from whalegui.core.gallery.files import LOCK_NAME, PHOTOS_DIR, THUMBS_DIR, PhotoFiles, WriterLock
from whalegui.core.gallery.index_cache import INDEX_NAME, INDEX_STAMP_NAME, IndexCache
from whalegui.core.gallery.intake import PhotoIntake, PreparedPhoto
from whalegui.core.gallery.maintenance import Maintenance
from whalegui.core.gallery.reports import CheckReport, ImportReport
from whalegui.core.gallery.search import search
from whalegui.core.gallery.store import DB_NAME, GalleryStore, ModelStamp
from whalegui.core.gallery.transfer import import_catalogue
from whalegui.core.identify import Identification
from whalegui.core.images import load_photo, read_photo_bytes
from whalegui.core.index import PhotoIndex
from whalegui.core.records import PhotoRecord, WhaleSummary, new_whale_id, validate_whale_id
from whalegui.core.reviews import PairRow, Review, ReviewPair, Triplet, misranked, pairs_of
from whalegui.core.sightings import Sighting, SightingRecord, from_photos, parse_when
from whalegui.core.verify import LocalFeatures, Verification, verify

log = logging.getLogger(__name__)


class Gallery:
    """A whale gallery folder. Use :meth:`open`; close it (or use it as a context manager).

    Thread-safe within one process: every database and index access holds one re-entrant lock. Only one
    process may open a gallery for writing (:class:`GalleryLockedError` for the second); read-only opens
    are always allowed and see the writer's committed changes.
    """

    def __init__(self, folder: Path, embedder: Embedder | None, readonly: bool, store: GalleryStore,
                 lock: WriterLock | None) -> None:
        self.folder = folder
        self.readonly = readonly
        self._embedder = embedder
        self._analyser = Analyser(embedder) if embedder is not None else None
        self._store = store
        self._derived = DerivedStore(store)
        self._fields = FieldStore(store)
        self._writer_lock = lock
        self._files = PhotoFiles(folder)
        self._index = IndexCache(store, readonly=readonly, fallback_dim=embedder.dim if embedder else 1)
        self._intake = PhotoIntake(store, self._files, self._index)
        self._maintenance = Maintenance(store, self._derived, self._files, self._index, self._analyser,
                                        readonly=readonly)

    # ------------------------------------------------------------------ opening and closing

    @classmethod
    def open(cls, folder: str | Path, embedder: Embedder | None = None, *, readonly: bool = False,
             allow_model_mismatch: bool = False) -> Gallery:
        """Open (creating it when missing, unless ``readonly``) the gallery in ``folder``.

        Raises :class:`ModelMismatchError` when the gallery's photos were embedded by another model than
        ``embedder`` (unless ``allow_model_mismatch``: then searching and adding raise it instead, while
        browsing, checking and exporting work). ``embedder`` may be ``None`` for browsing only.
        """
        folder = Path(folder).expanduser()
        lock = None
        if readonly:
            if not (folder / DB_NAME).is_file():
                raise GalleryError(f"no gallery at {folder} (no {DB_NAME} there)")
            store = GalleryStore.open(folder, readonly=True)
        else:
            _check_new_folder(folder)
            lock = WriterLock.acquire(folder)
            try:
                store = GalleryStore.open(folder, readonly=False)
            except BaseException:
                lock.release()
                raise
        gallery = cls(folder, embedder, readonly, store, lock)
        try:
            if not readonly:
                store.init_schema(_stamp(embedder) if embedder else None)
            store.check_schema()
            gallery._check_model(allow_model_mismatch)
        except BaseException:
            gallery.close()
            raise
        return gallery

    def close(self) -> None:
        """Close the database and release the writer lock (idempotent)."""
        with self._store.lock:
            if self._store.closed:
                return
            self._store.close()
            if self._writer_lock is not None:
                self._writer_lock.release()
                self._writer_lock = None
            self._index.drop()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _check_model(self, allow_mismatch: bool) -> None:
        if self.embedder is None:
            return
        stored = self.model_fingerprint
        if stored == self.embedder.fingerprint:
            return
        if not stored or self.photo_count() == 0:
            if self.readonly:  # nothing to compare with, and nothing may be written
                return
            # An empty gallery adopts the model it is opened with.
            with self._store.transaction() as c:
                self._store.set_model(c, _stamp(self.embedder))
            return
        if not allow_mismatch:
            raise self._mismatch_error()

    def _mismatch_error(self) -> ModelMismatchError:
        assert self.embedder is not None
        err = ModelMismatchError(self.model_fingerprint, self.embedder.fingerprint)
        err.args = (f"the gallery {self.folder} was embedded with model {self.model_name or '?'} "
                    f"({self.model_fingerprint[:12]}), but model {_stamp(self.embedder).name} "
                    f"({self.embedder.fingerprint[:12]}) is loaded; re-embed the gallery with "
                    f"'whalegui reembed' or load the gallery's model",)
        return err

    # ------------------------------------------------------------------ properties and queries

    @property
    def embedder(self) -> Embedder | None:
        """The model the gallery was opened with (None: browsing only)."""
        return self._embedder

    @property
    def analyser(self) -> Analyser | None:
        """How the gallery analyses photos (None: browsing only)."""
        return self._analyser

    @property
    def schema_version(self) -> int:
        """The version of the gallery database's schema (an older one is upgraded when opened for
        writing)."""
        return self._store.schema_version

    @property
    def model_fingerprint(self) -> str:
        """The fingerprint of the models that analysed the gallery's photos (the embedder's ONNX sha256, or
        a digest of it and its fluke finder's)."""
        return self._store.model.fingerprint

    @property
    def model_name(self) -> str:
        """The name (from its card) of the model that embedded the gallery's photos."""
        return self._store.model.name

    @property
    def embedding_dim(self) -> int:
        """The number of values in each of the gallery's embeddings (0 for a new gallery)."""
        return self._store.model.dim

    @property
    def generation(self) -> int:
        """A counter bumped by every committed change (a cheap "has anything changed?" for viewers)."""
        return self._store.generation

    def whale_count(self) -> int:
        """How many whales are catalogued."""
        return self._store.whale_count()

    def photo_count(self) -> int:
        """How many photos are catalogued."""
        return self._store.photo_count()

    def whales(self, search: str = "") -> list[WhaleSummary]:
        """Every whale (matching ``search`` in id, name or notes, case-insensitive), sorted by id."""
        return self._store.whales(search)

    def whale(self, whale_id: str) -> WhaleSummary:
        """One whale; :class:`WhaleNotFoundError` when it is not catalogued."""
        return self._store.whale(whale_id)

    def has_whale(self, whale_id: str) -> bool:
        """Whether ``whale_id`` is catalogued."""
        return self._store.has_whale(whale_id)

    def photos(self, whale_id: str | None = None) -> list[PhotoRecord]:
        """Every photo (of one whale when ``whale_id`` is given), oldest first."""
        return self._store.photos(whale_id)

    def photo(self, photo_id: int) -> PhotoRecord:
        """One photo; :class:`PhotoNotFoundError` when it is not catalogued."""
        return self._store.photo(photo_id)

    def find_photo_by_sha(self, sha256: str) -> PhotoRecord | None:
        """The catalogued photo with these bytes (by sha256), or None."""
        return self._store.find_photo_by_sha(sha256)

    def embedding(self, photo_id: int) -> np.ndarray:
        """A catalogued photo's stored embedding."""
        return self._store.embedding(photo_id)

    def embeddings(self, photo_ids: Sequence[int]) -> np.ndarray:
        """The stored embeddings of ``photo_ids``, one row each, in that order."""
        return self._store.embeddings(photo_ids)

    def audit_log(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The audit log, newest first: dicts with id, at, action, whale_id, details."""
        return self._store.audit_log(limit)

    def sightings(self, whale_id: str | None = None, since: str = "") -> list[SightingRecord]:
        """Every whale's sightings (or ``whale_id``'s), oldest first, undated last; from the date ``since``
        (``YYYY-MM-DD``, inclusive) on when given."""
        return self._fields.sightings(whale_id, parse_when(since))

    def sighting(self, sighting_id: int) -> Sighting:
        """One stored sighting (:class:`GalleryError` when there is none with this id)."""
        return self._fields.sighting(sighting_id)

    def update_sighting(self, sighting_id: int, sighting: Sighting) -> None:
        """Correct a sighting's date, position, place, observer, vessel or notes (audited)."""
        self._require_writable()
        self._fields.update_sighting(sighting_id, sighting)

    def review_pairs(self) -> list[ReviewPair]:
        """The labelled pairs the review decisions made, in the order decided."""
        return self._fields.review_pairs()

    def set_pair_keep(self, pair_id: int, keep: bool) -> None:
        """Let training use a review pair, or not."""
        self._require_writable()
        self._fields.set_keep(pair_id, keep)

    def misranked(self) -> list[Triplet]:
        """Queries filed under a whale that the review ranked below another whale, worst first."""
        whale_of = {p.sha256: p.whale_id for p in self.photos()}
        return misranked(self.review_pairs(), whale_of)

    def photo_index(self) -> PhotoIndex:
        """The photo index as searches use it: in step with the database (loaded, or rebuilt)."""
        return self._index.ensure()

    def saved_index(self) -> PhotoIndex:
        """The index saved on disk, if it is in step with the database; else :class:`StaleIndexError`."""
        return self._index.load_saved()

    # ------------------------------------------------------------------ identification

    def identify(self, path: str | Path, top: int = 5, threshold: float | None = None, *,
                 fluke: Fluke | None = None) -> Identification:
        """Who is the whale in this photo? ``fluke`` (for example :meth:`Fluke.drawn
        <whalegui.core.fluke.Fluke.drawn>`, in the photo's full-resolution pixels) is a box the researcher
        drew, used instead of the fluke finder's. Raises :class:`PhotoError` when the photo cannot be read,
        :class:`ValueError` for a box too small to crop."""
        result = self.identify_many([path], top=top, threshold=threshold, raise_errors=True,
                                    flukes=[fluke])[0]
        assert isinstance(result, Identification)
        return result

    def identify_many(self, paths: Sequence[str | Path], top: int = 5, threshold: float | None = None,
                      *, batch_size: int = 16, raise_errors: bool = False,
                      progress: Callable[[int, int], None] | None = None,
                      flukes: Sequence[Fluke | None] | None = None,
                      ) -> list[Identification | PhotoError]:
        """Identify several photos, analysing them in batches; an unreadable photo gives its PhotoError.

        Each file is read once: its bytes are hashed (to tell a photo already catalogued) and decoded.
        ``flukes`` gives, per path, a box the researcher drew (or None).
        """
        analyser = self._require_analyser()
        size = analyser.decode_size
        given = list(flukes) if flukes is not None else [None] * len(paths)
        if len(given) != len(paths):
            raise ValueError("one fluke (or None) per photo")
        results: list[Identification | PhotoError] = []
        for start in range(0, len(paths), batch_size):
            chunk = paths[start:start + batch_size]
            loaded: list[tuple[Path, Any, str, Fluke | None]] = []  # (path, photo, sha256, drawn fluke)
            slots: list[PhotoError | None] = []
            started = time.perf_counter()
            for p, drawn in zip(map(Path, chunk), given[start:start + batch_size], strict=True):
                try:
                    data = read_photo_bytes(p)
                    photo = load_photo(p, min_size=size, data=data)
                    loaded.append((p, photo, hashlib.sha256(data).hexdigest(), drawn))
                    slots.append(None)
                except PhotoError as exc:
                    if raise_errors:
                        raise
                    slots.append(exc)
            timings = {"read": 1000 * (time.perf_counter() - started)}
            analyses = analyser.analyse_many(
                [photo.image for _, photo, _, _ in loaded], [f for *_, f in loaded],
                [(photo.meta.width, photo.meta.height) for _, photo, _, _ in loaded], batch_size=batch_size,
                timings=timings)
            it = iter(zip(loaded, analyses, strict=True))
            for slot in slots:
                if slot is not None:
                    results.append(slot)
                    continue
                (p, photo, sha, _), analysis = next(it)
                ident = self.identify_embedding(analysis.embedding, top=top, threshold=threshold,
                                                features=analysis.features)
                ident.query_path = p
                ident.meta = photo.meta
                ident.sha256 = sha
                ident.fluke = analysis.fluke
                ident.fingerprint = analyser.fingerprint
                ident.timings = {k: v / len(loaded) for k, v in timings.items()} | ident.timings  # per photo
                ident.duplicate_of = self.find_photo_by_sha(sha)
                results.append(ident)
            if progress is not None:
                progress(min(start + batch_size, len(paths)), len(paths))
        return results

    def identify_embedding(self, vec: np.ndarray, top: int = 5, threshold: float | None = None,
                           *, exclude_photo: int | None = None, features: LocalFeatures | None = None
                           ) -> Identification:
        """Rank the gallery's whales for an embedding (nearest first) and give the new-whale verdict. With
        the query's local ``features``, the nearest whales are verified and re-ranked as the model's card
        says; without them the embedding alone ranks."""
        embedder = self._require_embedder()
        if threshold is None:
            threshold = embedder.card.new_whale_threshold
        return search(self._store, self._index, vec, top=top, threshold=threshold,
                      exclude_photo=exclude_photo, features=features, verification=embedder.card.verification)

    def match_points(self, identification: Identification, photo_id: int) -> Verification:
        """The query's keypoints matched with a catalogued photo's, for the review view's overlay: pairs of
        (query x, y, photo x, y) in each photo's full-resolution pixels. No pairs when either side has no
        local features. Raises :class:`PhotoNotFoundError` for a photo not in the gallery."""
        self.photo(photo_id)
        stored = self._derived.features([photo_id]).get(int(photo_id))
        if identification.features is None or stored is None:
            return Verification.none()
        return verify(identification.features, stored)

    # ------------------------------------------------------------------ changes

    def enroll(self, paths: Sequence[str | Path], whale_id: str | None = None, name: str = "",
               notes: str = "", *, identified: Sequence[Identification] = (),
               sighting: Sighting | None = None, reviews: Sequence[Review] = ()) -> str:
        """Catalogue a new whale with its photos (all or nothing), seen in ``sighting`` (None: one
        prefilled from the photos' EXIF date and position); returns its id.

        A photo that is the query of one of ``identified`` keeps that identification's fluke (a box the
        researcher drew included), embedding and local features instead of being analysed again. Each of
        ``reviews`` (of these photos) is stored as labelled pairs: every candidate it showed was another
        whale. Raises :class:`WhaleExistsError`, :class:`PhotoError` (unreadable photo) or
        :class:`DuplicatePhotoError` (a photo already catalogued) and then changes nothing.
        """
        self._require_writable()
        if whale_id is not None:
            validate_whale_id(whale_id)
        files = [Path(p) for p in paths]
        if not files:
            raise GalleryError("a whale is enrolled with at least one photo")
        analyser = self._require_analyser()
        with self._store.lock:
            if whale_id is not None and self.has_whale(whale_id):
                raise WhaleExistsError(whale_id)
            prepared = self._intake.prepare_new(files, analyser, identified)
            new_id = whale_id or new_whale_id(self.has_whale)
            pairs = self._file_under(prepared, new_id, sighting, reviews)
            self._intake.store([(p, new_id) for p in prepared], create={new_id: (name, notes)},
                               action="enroll", pairs=pairs)
        log.info("enrolled whale %s with %d photos", new_id, len(prepared))
        return new_id

    def add_photos(self, whale_id: str, paths: Sequence[str | Path], *,
                   identified: Sequence[Identification] = (), sighting: Sighting | None = None,
                   reviews: Sequence[Review] = ()) -> list[PhotoRecord]:
        """Add photos to a catalogued whale (all or nothing), seen in ``sighting``; returns their records.
        ``identified``, ``sighting`` and ``reviews`` as for :meth:`enroll` (a review's candidate of this
        whale is a *same* pair; when the review did not show this whale, its nearest photo is)."""
        self._require_writable()
        analyser = self._require_analyser()
        with self._store.lock:
            if not self.has_whale(whale_id):
                raise WhaleNotFoundError(whale_id)
            prepared = self._intake.prepare_new([Path(p) for p in paths], analyser, identified)
            pairs = self._file_under(prepared, whale_id, sighting, reviews)
            ids = self._intake.store([(p, whale_id) for p in prepared], create={}, action="add_photos",
                                     pairs=pairs)
            return [self.photo(i) for i in ids]

    def rename(self, whale_id: str, *, new_id: str | None = None, name: str | None = None,
               notes: str | None = None) -> None:
        """Change a whale's id, name and/or notes."""
        self._require_writable()
        if new_id is not None:
            validate_whale_id(new_id)
        self._store.rename_whale(whale_id, new_id=new_id, name=name, notes=notes)

    def merge(self, source_id: str, target_id: str) -> None:
        """Move every photo of ``source_id`` to ``target_id`` and delete ``source_id``. The target keeps
        its name and notes; the source's are recorded in the audit log."""
        self._require_writable()
        if source_id == target_id:
            raise GalleryError(f"cannot merge whale {source_id} with itself")
        self._store.merge_whales(source_id, target_id)

    def move_photo(self, photo_id: int, whale_id: str) -> None:
        """File a photo under another catalogued whale."""
        self._require_writable()
        self._store.move_photo(photo_id, whale_id)

    def remove_photo(self, photo_id: int) -> None:
        """Take a photo out of the catalogue (its whale stays, even with no photo left). The stored file
        is kept on disk (``check`` lists such files) so nothing is lost silently."""
        self._require_writable()
        with self._store.lock:
            photo = self.photo(photo_id)
            self._index.ensure()
            generation = self._store.delete_photo(photo)
            self._index.apply(generation, remove=[photo.photo_id])

    def delete_whale(self, whale_id: str) -> None:
        """Delete a whale and take its photos out of the catalogue (stored files are kept)."""
        self._require_writable()
        with self._store.lock:
            whale = self.whale(whale_id)
            photos = self.photos(whale_id)
            self._index.ensure()
            generation = self._store.delete_whale(whale, photos)
            self._index.apply(generation, remove=[p.photo_id for p in photos])

    # ------------------------------------------------------------------ bulk import and export

    def import_catalogue(self, csv_path: str | Path | None, images_dir: str | Path, *,
                         progress: Callable[[int, int], None] | None = None,
                         cancel: threading.Event | None = None) -> ImportReport:
        """Import a labelled catalogue: a Kaggle ``Image,Id`` CSV (with the optional columns an export
        writes) and its images folder, or (``csv_path`` None) one sub-folder per whale. Resumable: photos
        already catalogued are skipped by hash. Bad rows and unreadable photos are listed in the report
        and skipped. One transaction per batch."""
        self._require_writable()
        analyser = self._require_analyser()
        return import_catalogue(self._store, self._intake, analyser, csv_path, images_dir, progress=progress,
                                cancel=cancel)

    def export_csv(self, path: str | Path | io.TextIOBase, fmt: str = "csv") -> int:
        """Write the catalogue as CSV in layout ``fmt``: ``csv`` (the gallery's own, which imports back
        whole: ``Image,Id`` first, ``Image`` inside the gallery folder, then every whale's name and notes
        and every photo's original name, EXIF date and position, sha256 and sighting), ``dwc`` (a Darwin
        Core occurrence table) or ``wildbook`` (a Wildbook bulk-import sheet); see :mod:`.exports`.
        Returns the number of rows."""
        return export(self._store, path, fmt)

    # ------------------------------------------------------------------ maintenance

    def rebuild_index(self) -> None:
        """Rebuild the index from SQLite and save it."""
        self._index.rebuild("rebuild requested")

    def check(self, repair: bool = False) -> CheckReport:
        """Verify the gallery; with ``repair``, rebuild what can be rebuilt (index, thumbnails, local
        features; bad embeddings and missing fluke boxes when the gallery's model is loaded). Never deletes
        a catalogued photo."""
        if repair:
            self._require_writable()
        return self._maintenance.check(repair)

    def reembed(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-analyse every photo with the loaded models: find its fluke again (a box the researcher drew
        is kept), embed the crop and extract its local features; all written in one transaction, then the
        index is rebuilt. Returns the number of photos. See :func:`reembed` for a gallery made with
        another model."""
        self._require_writable()
        if self._analyser is None:
            raise GalleryError("no model is loaded: re-embedding needs one")
        return self._maintenance.reembed(self._analyser, progress)

    # ------------------------------------------------------------------ internals

    def _file_under(self, prepared: Sequence[PreparedPhoto], whale_id: str, sighting: Sighting | None,
                    reviews: Sequence[Review]) -> list[PairRow]:
        """Give the photos their sighting (checked, with a uid); return the pairs ``reviews`` make."""
        seen = (sighting or from_photos([p.meta for p in prepared])).checked().with_uid()
        for p in prepared:
            p.sighting = seen
        pairs: list[PairRow] = []
        for review in reviews:
            ident = review.identification
            query = next((p for p in prepared if p.sha256 == ident.sha256
                          or (ident.query_path is not None and p.source == Path(ident.query_path))), None)
            if query is None:
                raise GalleryError(f"the review of {ident.query_path} is not of a photo being catalogued")
            pairs += pairs_of(review, whale_id, query.sha256)
            if not any(c.whale_id == whale_id for c in ident.candidates) and self.has_whale(whale_id):
                pairs += self._unseen_positive(ident, whale_id, query.sha256)
        return pairs

    def _unseen_positive(self, ident: Identification, whale_id: str, query_sha: str) -> list[PairRow]:
        """The *same* pair of a review that did not show the chosen whale: its photo nearest the query by
        embedding, ranked below every candidate shown."""
        photos = self.photos(whale_id)
        if not photos:
            return []
        vectors = self.embeddings([p.photo_id for p in photos])
        query = np.asarray(ident.embedding, np.float32).reshape(-1)
        norms = np.linalg.norm(vectors, axis=1) * max(float(np.linalg.norm(query)), 1e-12)
        distances = 1.0 - (vectors @ query) / np.maximum(norms, 1e-12)
        best = int(np.argmin(distances))
        return [PairRow(query_sha, photos[best].sha256, whale_id, whale_id, True, False,
                        float(distances[best]), len(ident.candidates) + 1)]

    def _require_embedder(self) -> Embedder:
        if self.embedder is None:
            raise GalleryError("no model is loaded: searching and adding photos need one")
        if self.model_fingerprint and self.embedder.fingerprint != self.model_fingerprint and \
                self.photo_count() > 0:
            raise self._mismatch_error()
        return self.embedder

    def _require_analyser(self) -> Analyser:
        self._require_embedder()
        assert self._analyser is not None
        return self._analyser

    def _require_writable(self) -> None:
        if self.readonly:
            raise GalleryError(f"the gallery {self.folder} is open read-only")


def reembed(folder: str | Path, new_embedder: Embedder,
            progress: Callable[[int, int], None] | None = None) -> int:
    """Re-analyse every photo of the gallery in ``folder`` with ``new_embedder`` (and its fluke finder),
    atomically: every photo's fluke, embedding and local features are computed first, then written in one
    transaction with the new models' fingerprint; then the index is rebuilt. A gallery made by an older
    whalegui is upgraded first. Returns the number of photos re-embedded."""
    with Gallery.open(folder, new_embedder, allow_model_mismatch=True) as gallery:
        return gallery.reembed(progress)


def _stamp(embedder: Embedder) -> ModelStamp:
    return ModelStamp(embedder.fingerprint, Analyser(embedder).name, embedder.dim)


def _check_new_folder(folder: Path) -> None:
    """Make sure ``folder`` can hold a gallery (creating it): refuse a file, or a folder of other files."""
    if folder.exists() and not folder.is_dir():
        raise GalleryError(f"{folder} is a file, not a gallery folder")
    if folder.is_dir() and not (folder / DB_NAME).exists():
        ours = {LOCK_NAME, PHOTOS_DIR, THUMBS_DIR, INDEX_NAME, INDEX_STAMP_NAME}
        others = [p.name for p in folder.iterdir() if p.name not in ours and not p.name.startswith(DB_NAME)]
        if others:
            raise GalleryError(f"{folder} holds other files ({others[0]}, ...) and no gallery; "
                               "choose an empty or new folder for a new gallery")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GalleryError(f"cannot create the gallery folder {folder} ({exc.strerror or exc})") from exc
