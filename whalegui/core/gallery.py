"""The gallery: a folder of catalogued whales and their fluke photos, searchable by photo.

Layout of a gallery folder (copy it to another laptop and it still works)::

    gallery.sqlite            the truth: whales, photos (with embeddings), meta, audit log  (WAL mode)
    photos/ab/<sha256>.<ext>  each photo's original bytes, content-addressed
    thumbs/ab/<sha256>.jpg    thumbnails, 256 px
    index.bin, index.json     the hnswlib index (a cache, rebuilt from SQLite when missing/stale/corrupt)
    gallery.lock              held (flock) by the one process that writes

Crash safety: photo files are written to a temp file, fsynced and renamed *before* the SQLite transaction
that references them commits, so a committed row always has its file; a crash in between leaves only an
unreferenced file (harmless; ``check`` reports it). Every change is one transaction and bumps a counter in
``meta``; the index stamp records the counter it reflects, so an index older than the database is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import secrets
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from whalegui.core.embedder import Embedder
from whalegui.core.errors import (
    CatalogueError,
    DuplicatePhotoError,
    GalleryError,
    GalleryLockedError,
    ModelMismatchError,
    PhotoError,
    PhotoNotFoundError,
    WhaleExistsError,
    WhaleNotFoundError,
)
from whalegui.core.identify import (
    Candidate,
    Identification,
    PhotoHit,
    PhotoMatch,
    is_new_whale,
    rank_by_whale,
)
from whalegui.core.images import PhotoMeta, find_photos, load_photo, model_decode_size, read_metadata
from whalegui.core.index import PhotoIndex, StaleIndexError, remove_index_files, stamp_path
from whalegui.core.model_card import file_sha256
from whalegui.core.records import PhotoRecord, WhaleSummary, new_whale_id, validate_whale_id

log = logging.getLogger(__name__)

DB_NAME = "gallery.sqlite"
INDEX_NAME = "index.bin"
LOCK_NAME = "gallery.lock"
PHOTOS_DIR = "photos"
THUMBS_DIR = "thumbs"
SCHEMA_VERSION = 1
THUMB_SIZE = 256
#: Photos embedded per batch during a bulk import (also the unit of one import transaction).
IMPORT_BATCH = 24
#: Nearest photos fetched per wanted whale (a whale may have many photos among the nearest).
OVERSAMPLE = 10

#: The temporary files of :func:`_write_atomic` for photos and thumbnails (``<sha256><ext>.<8 hex>.tmp``):
#: the only files ``check --repair`` removes, so a user's own file is never mistaken for one.
_TEMP_FILE = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,5}\.[0-9a-f]{8}\.tmp$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS whales (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,
    whale_id TEXT NOT NULL REFERENCES whales(id) ON UPDATE CASCADE ON DELETE RESTRICT,
    file TEXT NOT NULL,
    thumb TEXT,
    original_name TEXT NOT NULL,
    taken_at TEXT,
    lat REAL,
    lon REAL,
    width INTEGER,
    height INTEGER,
    added_at TEXT NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS photos_whale ON photos (whale_id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    whale_id TEXT,
    details TEXT NOT NULL
);
"""

_PHOTO_COLUMNS = "id, sha256, whale_id, file, thumb, original_name, taken_at, lat, lon, added_at"


# ---------------------------------------------------------------------------------------------- values

@dataclass
class ImportReport:
    imported: int = 0
    skipped_duplicates: int = 0
    skipped_new_whale: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    whales_created: int = 0
    total: int = 0
    cancelled: bool = False


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # harmless findings (e.g. unreferenced photo files)

    @property
    def healthy(self) -> bool:
        """No problem is left (problems that were repaired are not counted)."""
        return len(self.problems) == 0


@dataclass
class _Prepared:
    """A photo read, hashed, decoded and embedded, ready to be stored."""

    source: Path
    sha256: str
    data: bytes
    ext: str
    image: Image.Image
    meta: PhotoMeta
    embedding: np.ndarray | None = None


# ---------------------------------------------------------------------------------------------- gallery

class Gallery:
    """A whale gallery folder. Use :meth:`open`; close it (or use it as a context manager).

    Thread-safe within one process: every database and index access holds one re-entrant lock. Only one
    process may open a gallery for writing (:class:`GalleryLockedError` for the second); read-only opens
    are always allowed and see the writer's committed changes.
    """

    def __init__(self, folder: Path, embedder: Embedder | None, readonly: bool, conn: sqlite3.Connection,
                 lock_file: Any) -> None:
        self.folder = folder
        self.embedder = embedder
        self.readonly = readonly
        self._conn = conn
        self._lock_file = lock_file
        self._lock = threading.RLock()
        self._index: PhotoIndex | None = None
        self._index_generation = -1
        self._closed = False

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
        db_path = folder / DB_NAME
        lock_file = None
        if readonly:
            if not db_path.is_file():
                raise GalleryError(f"no gallery at {folder} (no {DB_NAME} there)")
            conn = _connect(db_path, readonly=True)
        else:
            if folder.exists() and not folder.is_dir():
                raise GalleryError(f"{folder} is a file, not a gallery folder")
            if folder.is_dir() and not db_path.exists():
                ours = {LOCK_NAME, PHOTOS_DIR, THUMBS_DIR, INDEX_NAME, stamp_path(Path(INDEX_NAME)).name}
                others = [p.name for p in folder.iterdir() if p.name not in ours
                          and not p.name.startswith(DB_NAME)]
                if others:
                    raise GalleryError(f"{folder} holds other files ({others[0]}, ...) and no gallery; "
                                       "choose an empty or new folder for a new gallery")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise GalleryError(f"cannot create the gallery folder {folder} "
                                   f"({exc.strerror or exc})") from exc
            lock_file = _acquire_lock(folder)
            try:
                conn = _connect(db_path, readonly=False)
            except BaseException:
                _release_lock(lock_file)
                raise
        gallery = cls(folder, embedder, readonly, conn, lock_file)
        try:
            if not readonly:
                gallery._init_schema()
            gallery._check_schema()
            gallery._check_model(allow_model_mismatch)
        except BaseException:
            gallery.close()
            raise
        return gallery

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            if self._lock_file is not None:
                _release_lock(self._lock_file)
                self._lock_file = None
            self._index = None

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _init_schema(self) -> None:
        with self._transaction() as c:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            defaults = {
                "schema_version": str(SCHEMA_VERSION),
                "gallery_id": secrets.token_hex(8),
                "generation": "0",
                "index_generation": "0",
                "model_fingerprint": self.embedder.fingerprint if self.embedder else "",
                "model_name": self.embedder.card.name if self.embedder else "",
                "embedding_dim": str(self.embedder.dim) if self.embedder else "0",
                "created": _now(),
            }
            for key, value in defaults.items():
                c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _check_schema(self) -> None:
        try:
            version = self._meta("schema_version")
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"{self.folder / DB_NAME} is not a readable gallery database ({exc})") from exc
        if version is None:
            raise GalleryError(f"{self.folder / DB_NAME} is not a gallery database (no schema version)")
        if int(version) > SCHEMA_VERSION:
            raise GalleryError(f"the gallery {self.folder} was made by a newer whalegui (schema {version})")

    def _check_model(self, allow_mismatch: bool) -> None:
        if self.embedder is None:
            return
        stored = self.model_fingerprint
        if stored == self.embedder.fingerprint:
            return
        if not stored or (self.photo_count() == 0 and not self.readonly):
            # An empty gallery adopts the model it is opened with.
            with self._transaction() as c:
                self._set_model(c, self.embedder)
            return
        if not allow_mismatch:
            raise self._mismatch_error()

    def _mismatch_error(self) -> ModelMismatchError:
        assert self.embedder is not None
        stored_name = self._meta("model_name") or "?"
        err = ModelMismatchError(self.model_fingerprint, self.embedder.fingerprint)
        err.args = (f"the gallery {self.folder} was embedded with model {stored_name} "
                    f"({self.model_fingerprint[:12]}), but model {self.embedder.card.name} "
                    f"({self.embedder.fingerprint[:12]}) is loaded; re-embed the gallery with "
                    f"'whalegui reembed' or load the gallery's model",)
        return err

    # ------------------------------------------------------------------ properties and queries

    @property
    def model_fingerprint(self) -> str:
        """The fingerprint (ONNX sha256) of the model that embedded the gallery's photos."""
        return self._meta("model_fingerprint") or ""

    @property
    def model_name(self) -> str:
        return self._meta("model_name") or ""

    @property
    def embedding_dim(self) -> int:
        return int(self._meta("embedding_dim") or 0)

    @property
    def generation(self) -> int:
        """A counter bumped by every committed change (a cheap "has anything changed?" for viewers)."""
        return int(self._meta("generation") or 0)

    def whale_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM whales")[0][0])

    def photo_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM photos")[0][0])

    def whales(self, search: str = "") -> list[WhaleSummary]:
        """Every whale (matching ``search`` in id, name or notes, case-insensitive), sorted by id."""
        term = search.strip().lower()
        rows = self._query(
            "SELECT w.id, w.name, w.notes, w.created, COUNT(p.id), MAX(p.taken_at), MIN(p.id) "
            "FROM whales w LEFT JOIN photos p ON p.whale_id = w.id "
            "WHERE ? = '' OR instr(lower(w.id), ?) > 0 OR instr(lower(w.name), ?) > 0 "
            "OR instr(lower(w.notes), ?) > 0 GROUP BY w.id ORDER BY w.id", (term, term, term, term))
        covers = self._photos_by_id([r[6] for r in rows if r[6] is not None])
        return [WhaleSummary(r[0], r[1], r[2], _parse_time(r[3]) or datetime.min, int(r[4]),
                             _parse_time(r[5]), covers.get(r[6])) for r in rows]

    def whale(self, whale_id: str) -> WhaleSummary:
        row = self._query_one(
            "SELECT w.id, w.name, w.notes, w.created, COUNT(p.id), MAX(p.taken_at), MIN(p.id) "
            "FROM whales w LEFT JOIN photos p ON p.whale_id = w.id WHERE w.id = ? GROUP BY w.id", (whale_id,))
        if row is None:
            raise WhaleNotFoundError(whale_id)
        cover = self._photos_by_id([row[6]]).get(row[6]) if row[6] is not None else None
        return WhaleSummary(row[0], row[1], row[2], _parse_time(row[3]) or datetime.min, int(row[4]),
                            _parse_time(row[5]), cover)

    def has_whale(self, whale_id: str) -> bool:
        return self._query_one("SELECT 1 FROM whales WHERE id = ?", (whale_id,)) is not None

    def photos(self, whale_id: str | None = None) -> list[PhotoRecord]:
        """Every photo (of one whale when ``whale_id`` is given), oldest first."""
        if whale_id is None:
            rows = self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos ORDER BY id")
        else:
            if not self.has_whale(whale_id):
                raise WhaleNotFoundError(whale_id)
            rows = self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE whale_id = ? ORDER BY id",
                               (whale_id,))
        return [self._record(r) for r in rows]

    def photo(self, photo_id: int) -> PhotoRecord:
        row = self._query_one(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id = ?", (int(photo_id),))
        if row is None:
            raise PhotoNotFoundError(photo_id)
        return self._record(row)

    def find_photo_by_sha(self, sha256: str) -> PhotoRecord | None:
        row = self._query_one(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE sha256 = ?", (sha256,))
        return None if row is None else self._record(row)

    def embedding(self, photo_id: int) -> np.ndarray:
        row = self._query_one("SELECT embedding FROM photos WHERE id = ?", (int(photo_id),))
        if row is None:
            raise PhotoNotFoundError(photo_id)
        return np.frombuffer(row[0], dtype="<f4").astype(np.float32)

    def audit_log(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The audit log, newest first: dicts with id, at, action, whale_id, details."""
        sql = "SELECT id, at, action, whale_id, details FROM audit ORDER BY id DESC"
        rows = self._query(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ())
        return [{"id": r[0], "at": r[1], "action": r[2], "whale_id": r[3], "details": json.loads(r[4])}
                for r in rows]

    # ------------------------------------------------------------------ identification

    def identify(self, path: str | Path, top: int = 5, threshold: float | None = None) -> Identification:
        """Who is the whale in this photo? Raises :class:`PhotoError` when it cannot be read."""
        return self.identify_many([path], top=top, threshold=threshold, raise_errors=True)[0]  # type: ignore[return-value]

    def identify_many(self, paths: Sequence[str | Path], top: int = 5, threshold: float | None = None,
                      *, batch_size: int = 16, raise_errors: bool = False,
                      progress: Callable[[int, int], None] | None = None,
                      ) -> list[Identification | PhotoError]:
        """Identify several photos, embedding them in batches; an unreadable photo gives its PhotoError."""
        embedder = self._require_embedder()
        results: list[Identification | PhotoError] = []
        for start in range(0, len(paths), batch_size):
            chunk = paths[start:start + batch_size]
            loaded: list[tuple[Path, Image.Image, PhotoMeta, str]] = []
            slots: list[Identification | PhotoError | None] = []
            for p in map(Path, chunk):
                try:
                    sha = _file_sha256(p)
                    photo = load_photo(p, min_size=self._model_size())
                    loaded.append((p, photo.image, photo.meta, sha))
                    slots.append(None)
                except PhotoError as exc:
                    if raise_errors:
                        raise
                    slots.append(exc)
            vectors = embedder.embed_images([item[1] for item in loaded], batch_size=batch_size)
            it = iter(zip(loaded, vectors, strict=True))
            for slot in slots:
                if slot is not None:
                    results.append(slot)
                    continue
                (p, _image, meta, sha), vec = next(it)
                ident = self.identify_embedding(vec, top=top, threshold=threshold)
                ident.query_path = p
                ident.meta = meta
                ident.duplicate_of = self.find_photo_by_sha(sha)
                results.append(ident)
            if progress is not None:
                progress(min(start + batch_size, len(paths)), len(paths))
        return results

    def identify_embedding(self, vec: np.ndarray, top: int = 5, threshold: float | None = None,
                           *, exclude_photo: int | None = None) -> Identification:
        """Rank the gallery's whales for an embedding (nearest first) and give the new-whale verdict."""
        embedder = self._require_embedder()
        if threshold is None:
            threshold = embedder.card.new_whale_threshold
        vec = np.asarray(vec, dtype=np.float32).reshape(-1)
        if vec.shape[0] != self.embedding_dim:
            raise GalleryError(f"embedding has {vec.shape[0]} values, "
                               f"the gallery's have {self.embedding_dim}")
        with self._lock:
            index = self._ensure_index()
            total = len(index)
            k = min(total, max(top * OVERSAMPLE, 50))
            while True:
                ids, dists = index.query(vec, k + (1 if exclude_photo is not None else 0))
                owners = self._whale_of(ids.tolist())
                hits = [PhotoHit(int(i), owners[int(i)], float(d)) for i, d in zip(ids, dists, strict=True)
                        if int(i) in owners and int(i) != exclude_photo]
                ranked = rank_by_whale(hits, top)
                if len(ranked) >= top or k >= total:
                    break
                k = min(total, k * 4)
            records = self._photos_by_id([h.photo_id for h in hits])
            stats = self._whale_stats([w.whale_id for w in ranked])
            candidates = [Candidate(w.whale_id, stats[w.whale_id][0], w.distance, records[w.photo_id],
                                    stats[w.whale_id][1], stats[w.whale_id][2]) for w in ranked]
            matches = [PhotoMatch(records[h.photo_id], h.distance) for h in hits[: max(top * OVERSAMPLE, 50)]]
        verdict = is_new_whale([c.distance for c in candidates], threshold)
        return Identification(None, vec, candidates, verdict, float(threshold), photo_matches=matches)

    # ------------------------------------------------------------------ changes

    def enroll(self, paths: Sequence[str | Path], whale_id: str | None = None, name: str = "",
               notes: str = "") -> str:
        """Catalogue a new whale with its photos (all or nothing); returns its id.

        Raises :class:`WhaleExistsError`, :class:`PhotoError` (unreadable photo) or
        :class:`DuplicatePhotoError` (a photo already catalogued) and then changes nothing.
        """
        self._require_writable()
        if whale_id is not None:
            validate_whale_id(whale_id)
        paths = list(paths)
        if not paths:
            raise GalleryError("a whale is enrolled with at least one photo")
        with self._lock:
            if whale_id is not None and self.has_whale(whale_id):
                raise WhaleExistsError(whale_id)
            prepared = self._prepare(paths)
            new_id = whale_id or self._new_whale_id()
            self._store(prepared, new_id, create={new_id: (name, notes)}, action="enroll")
        log.info("enrolled whale %s with %d photos", new_id, len(prepared))
        return new_id

    def add_photos(self, whale_id: str, paths: Sequence[str | Path]) -> list[PhotoRecord]:
        """Add photos to a catalogued whale (all or nothing); returns their records."""
        self._require_writable()
        with self._lock:
            if not self.has_whale(whale_id):
                raise WhaleNotFoundError(whale_id)
            prepared = self._prepare(list(paths))
            ids = self._store(prepared, whale_id, create={}, action="add_photos")
            return [self.photo(i) for i in ids]

    def rename(self, whale_id: str, *, new_id: str | None = None, name: str | None = None,
               notes: str | None = None) -> None:
        """Change a whale's id, name and/or notes."""
        self._require_writable()
        if new_id is not None:
            validate_whale_id(new_id)
        with self._lock:
            old = self.whale(whale_id)
            if new_id is not None and new_id != whale_id and self.has_whale(new_id):
                raise WhaleExistsError(new_id)
            with self._transaction() as c:
                if name is not None or notes is not None:
                    c.execute("UPDATE whales SET name = COALESCE(?, name), notes = COALESCE(?, notes) "
                              "WHERE id = ?", (name, notes, whale_id))
                if new_id is not None and new_id != whale_id:
                    c.execute("UPDATE whales SET id = ? WHERE id = ?", (new_id, whale_id))
                self._audit(c, "rename", new_id or whale_id,
                            {"old_id": whale_id, "new_id": new_id or whale_id, "old_name": old.name,
                             "name": name if name is not None else old.name, "old_notes": old.notes,
                             "notes": notes if notes is not None else old.notes})

    def merge(self, source_id: str, target_id: str) -> None:
        """Move every photo of ``source_id`` to ``target_id`` and delete ``source_id``. The target keeps
        its name and notes; the source's are recorded in the audit log."""
        self._require_writable()
        if source_id == target_id:
            raise GalleryError(f"cannot merge whale {source_id} with itself")
        with self._lock:
            source = self.whale(source_id)
            self.whale(target_id)
            with self._transaction() as c:
                moved = [r[0] for r in c.execute("SELECT id FROM photos WHERE whale_id = ?", (source_id,))]
                c.execute("UPDATE photos SET whale_id = ? WHERE whale_id = ?", (target_id, source_id))
                c.execute("DELETE FROM whales WHERE id = ?", (source_id,))
                self._audit(c, "merge", target_id, {"source": source_id, "target": target_id,
                                                    "photos": moved, "source_name": source.name,
                                                    "source_notes": source.notes})

    def move_photo(self, photo_id: int, whale_id: str) -> None:
        self._require_writable()
        with self._lock:
            photo = self.photo(photo_id)
            if not self.has_whale(whale_id):
                raise WhaleNotFoundError(whale_id)
            with self._transaction() as c:
                c.execute("UPDATE photos SET whale_id = ? WHERE id = ?", (whale_id, photo.photo_id))
                self._audit(c, "move_photo", whale_id, {"photo": photo.photo_id, "sha256": photo.sha256,
                                                        "from": photo.whale_id, "to": whale_id})

    def remove_photo(self, photo_id: int) -> None:
        """Take a photo out of the catalogue (its whale stays, even with no photo left). The stored file
        is kept on disk (``check`` lists such files) so nothing is lost silently."""
        self._require_writable()
        with self._lock:
            photo = self.photo(photo_id)
            self._ensure_index()
            with self._transaction() as c:
                c.execute("DELETE FROM photos WHERE id = ?", (photo.photo_id,))
                self._audit(c, "remove_photo", photo.whale_id, _photo_details(photo))
                gen = self._bump_index_generation(c)
            self._index_changed(gen, remove=[photo.photo_id])

    def delete_whale(self, whale_id: str) -> None:
        """Delete a whale and take its photos out of the catalogue (stored files are kept)."""
        self._require_writable()
        with self._lock:
            whale = self.whale(whale_id)
            photos = self.photos(whale_id)
            self._ensure_index()
            with self._transaction() as c:
                c.execute("DELETE FROM photos WHERE whale_id = ?", (whale_id,))
                c.execute("DELETE FROM whales WHERE id = ?", (whale_id,))
                self._audit(c, "delete_whale", whale_id, {"name": whale.name, "notes": whale.notes,
                                                          "photos": [_photo_details(p) for p in photos]})
                gen = self._bump_index_generation(c)
            self._index_changed(gen, remove=[p.photo_id for p in photos])

    # ------------------------------------------------------------------ bulk import and export

    def import_catalogue(self, csv_path: str | Path | None, images_dir: str | Path, *,
                         progress: Callable[[int, int], None] | None = None,
                         cancel: threading.Event | None = None) -> ImportReport:
        """Import a labelled catalogue: a Kaggle ``Image,Id`` CSV with its images folder, or (``csv_path``
        None) one sub-folder per whale. Resumable: photos already catalogued are skipped by hash. Bad rows
        and unreadable photos are listed in the report and skipped. One transaction per batch."""
        from whalegui.core.catalogue import read_catalogue, read_folder_catalogue

        self._require_writable()
        embedder = self._require_embedder()
        catalogue = (read_folder_catalogue(images_dir) if csv_path is None
                     else read_catalogue(csv_path, images_dir))
        report = ImportReport(skipped_new_whale=catalogue.skipped_new_whale, errors=list(catalogue.errors),
                              total=len(catalogue.entries))
        entries = catalogue.entries
        done = 0
        if progress is not None:
            progress(0, len(entries))
        for start in range(0, len(entries), IMPORT_BATCH):
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            batch = entries[start:start + IMPORT_BATCH]
            ready: list[tuple[_Prepared, str]] = []
            seen: set[str] = set()
            for entry in batch:
                try:
                    data = entry.path.read_bytes()
                except OSError as exc:
                    report.errors.append((entry.name, f"cannot read the file ({exc.strerror or exc})"))
                    continue
                sha = hashlib.sha256(data).hexdigest()
                if sha in seen or self.find_photo_by_sha(sha) is not None:
                    report.skipped_duplicates += 1
                    continue
                try:
                    prepared = self._prepare_one(entry.path, data, sha)
                except PhotoError as exc:
                    report.errors.append((entry.name, exc.reason))
                    continue
                seen.add(sha)
                ready.append((prepared, entry.whale_id))
            if ready:
                vectors = embedder.embed_images([p.image for p, _ in ready], batch_size=IMPORT_BATCH)
                for (p, _), v in zip(ready, vectors, strict=True):
                    p.embedding = v
                with self._lock:
                    new_whales = {w: (catalogue.whale_names.get(w, ""), "") for _, w in ready
                                  if not self.has_whale(w)}
                    self._store_many(ready, create=new_whales, action="import")
                report.imported += len(ready)
                report.whales_created += len(new_whales)
            done += len(batch)
            if progress is not None:
                progress(done, len(entries))
        log.info("import: %d photos imported, %d duplicates skipped, %d errors", report.imported,
                 report.skipped_duplicates, len(report.errors))
        return report

    def export_csv(self, path: str | Path | io.TextIOBase) -> int:
        """Write the catalogue as CSV (``Image,Id`` first, so it re-imports with the gallery folder as the
        images folder; then name, original file name, date, GPS, sha256). Returns the number of rows."""
        import csv

        rows = self._query(
            "SELECT p.file, p.whale_id, w.name, p.original_name, p.taken_at, p.lat, p.lon, p.sha256 "
            "FROM photos p JOIN whales w ON w.id = p.whale_id ORDER BY p.whale_id, p.id")
        header = ["Image", "Id", "Name", "OriginalName", "TakenAt", "Latitude", "Longitude", "SHA256"]

        def write(f: Any) -> None:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            for r in rows:
                writer.writerow(["" if v is None else v for v in r])

        if isinstance(path, (str, Path)):
            target = Path(path)
            tmp = target.with_name(target.name + ".tmp")
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                write(f)
            os.replace(tmp, target)
        else:
            write(path)
        return len(rows)

    # ------------------------------------------------------------------ maintenance

    def rebuild_index(self) -> None:
        """Rebuild the index from SQLite and save it."""
        with self._lock:
            self._rebuild_index("rebuild requested")

    def check(self, repair: bool = False) -> CheckReport:
        """Verify the gallery; with ``repair``, rebuild what can be rebuilt (index, thumbnails, bad
        embeddings when the gallery's model is loaded). Never deletes a catalogued photo."""
        if repair:
            self._require_writable()
        report = CheckReport()
        with self._lock:
            self._check_database(report)
            if any(p.startswith("database") for p in report.problems):
                return report
            self._check_files(report, repair)
            self._check_embeddings(report, repair)
            self._check_index(report, repair)
        return report

    def _check_database(self, report: CheckReport) -> None:
        try:
            result = [r[0] for r in self._query("PRAGMA integrity_check")]
            if result != ["ok"]:
                report.problems.append("database: SQLite integrity check failed: " + "; ".join(result[:5]) +
                                       " (restore gallery.sqlite from a backup)")
            bad_fk = self._query("PRAGMA foreign_key_check")
            if bad_fk:
                report.problems.append(f"database: {len(bad_fk)} photos refer to whales that do not exist")
        except sqlite3.DatabaseError as exc:
            report.problems.append(f"database: unreadable ({exc})")

    def _check_files(self, report: CheckReport, repair: bool) -> None:
        rows = self._query("SELECT id, sha256, whale_id, file, thumb FROM photos ORDER BY id")
        referenced: set[str] = set()
        for photo_id, sha, whale_id, file, thumb in rows:
            referenced.add(file)
            if thumb:  # (also when the photo's file is missing or damaged: the thumbnail is still its own)
                referenced.add(thumb)
            path = self.folder / file
            what = f"photo {photo_id} of whale {whale_id} ({file})"
            if not path.is_file():
                report.problems.append(f"{what}: the stored file is missing")
                continue
            if _file_sha256(path) != sha:
                report.problems.append(f"{what}: the stored file does not match its hash (damaged)")
                continue
            if not thumb or not (self.folder / thumb).is_file() or not _readable_image(self.folder / thumb):
                if repair:
                    try:
                        image = load_photo(path, min_size=(THUMB_SIZE, THUMB_SIZE)).image
                        rel = self._write_thumb(image, sha)
                        with self._transaction() as c:
                            c.execute("UPDATE photos SET thumb = ? WHERE id = ?", (rel, photo_id))
                        report.repaired.append(f"{what}: thumbnail rebuilt")
                    except (PhotoError, OSError) as exc:
                        report.problems.append(f"{what}: thumbnail missing and cannot be rebuilt ({exc})")
                else:
                    report.problems.append(f"{what}: thumbnail missing or unreadable")
        unreferenced = [p for d in (PHOTOS_DIR, THUMBS_DIR) if (self.folder / d).is_dir()
                        for p in (self.folder / d).rglob("*") if p.is_file()
                        and p.relative_to(self.folder).as_posix() not in referenced]
        temps = [p for p in unreferenced if _TEMP_FILE.match(p.name)]
        kept = [p for p in unreferenced if not _TEMP_FILE.match(p.name)]
        if temps:
            if repair:
                for p in temps:
                    p.unlink(missing_ok=True)
                report.repaired.append(f"removed {len(temps)} half-written temporary files")
            else:
                report.notes.append(f"{len(temps)} half-written temporary files (an interrupted write; "
                                    "--repair removes them)")
        if kept:
            report.notes.append(f"{len(kept)} stored files are not in the catalogue (removed photos or an "
                                "interrupted import); they are kept")

    def _check_embeddings(self, report: CheckReport, repair: bool) -> None:
        dim = self.embedding_dim
        if self.embedder is not None and self.model_fingerprint and \
                self.embedder.fingerprint != self.model_fingerprint and self.photo_count() > 0:
            report.problems.append(f"model: the gallery was embedded with {self.model_name} "
                                   f"({self.model_fingerprint[:12]}), the loaded model is "
                                   f"{self.embedder.card.name} ({self.embedder.fingerprint[:12]}); "
                                   "run 'whalegui reembed'")
        can_fix = repair and self.embedder is not None and self.embedder.fingerprint == self.model_fingerprint
        for photo_id, file, blob in self._query("SELECT id, file, embedding FROM photos ORDER BY id"):
            vec = np.frombuffer(blob, dtype="<f4") if len(blob) % 4 == 0 else np.zeros(0, np.float32)
            if len(vec) == dim and np.all(np.isfinite(vec)) and abs(float(np.linalg.norm(vec)) - 1) < 1e-3:
                continue
            what = f"photo {photo_id} ({file}): its embedding is damaged"
            if can_fix:
                try:
                    assert self.embedder is not None
                    new = self.embedder.embed_images([load_photo(self.folder / file,
                                                                 min_size=self._model_size()).image])[0]
                    with self._transaction() as c:
                        c.execute("UPDATE photos SET embedding = ? WHERE id = ?", (_blob(new), photo_id))
                        self._audit(c, "repair_embedding", None, {"photo": photo_id})
                        self._bump_index_generation(c)
                    self._index = None  # rebuilt below
                    report.repaired.append(what + "; re-embedded")
                except (PhotoError, OSError) as exc:
                    report.problems.append(f"{what} and cannot be re-embedded ({exc})")
            else:
                report.problems.append(what + (" (load the gallery's model and --repair to re-embed)"
                                               if repair else ""))

    def _check_index(self, report: CheckReport, repair: bool) -> None:
        path = self.folder / INDEX_NAME
        reason = None
        if self.photo_count() == 0 and not path.exists():
            return
        try:
            index = PhotoIndex.load(path, self._index_stamp())
            ids = [r[0] for r in self._query("SELECT id FROM photos ORDER BY id")]
            if index.labels() != set(ids):
                reason = "the index holds other photos than the database"
            elif ids:
                stored = self._embeddings(ids)
                if not np.allclose(index.vectors(ids), stored, atol=1e-4):
                    reason = "the index's vectors differ from the database's embeddings"
        except StaleIndexError as exc:
            reason = str(exc)
        if reason is None:
            return
        if repair and not self.readonly:
            self._rebuild_index(f"check: {reason}")
            try:  # _rebuild_index only logs a failed save: make sure the rebuilt index is on disk
                PhotoIndex.load(path, self._index_stamp())
                report.repaired.append(f"index: {reason}; rebuilt from the database")
            except StaleIndexError as exc:
                report.problems.append(f"index: {reason}; rebuilt from the database but it cannot be "
                                       f"saved ({exc})")
        else:
            report.problems.append(f"index: {reason} (--repair rebuilds it; opening the gallery for "
                                   "writing also does)")

    # ------------------------------------------------------------------ internals: storing photos

    def _model_size(self) -> tuple[int, int]:
        """Decode photos at the size the model's input is made from (the same as in training)."""
        if self.embedder is None:
            return (THUMB_SIZE, THUMB_SIZE)
        return model_decode_size(self.embedder.card.preprocessing)

    def _prepare(self, paths: list[str | Path]) -> list[_Prepared]:
        """Read, hash, decode and embed photos; raise on the first unreadable or catalogued one."""
        embedder = self._require_embedder()
        prepared: list[_Prepared] = []
        seen: set[str] = set()
        for p in map(Path, paths):
            with _reading(p):
                data = p.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            existing = self.find_photo_by_sha(sha)
            if existing is not None:
                raise DuplicatePhotoError(p, existing)
            if sha in seen:
                continue  # the same photo twice in one call: once is enough
            seen.add(sha)
            prepared.append(self._prepare_one(p, data, sha))
        vectors = embedder.embed_images([item.image for item in prepared])
        for item, v in zip(prepared, vectors, strict=True):
            item.embedding = v
        return prepared

    def _prepare_one(self, path: Path, data: bytes, sha: str) -> _Prepared:
        photo = load_photo(path, min_size=self._model_size())
        ext = path.suffix.lower() if path.suffix.lower() in _EXTENSIONS else \
            "." + photo.meta.format.lower().replace("jpeg", "jpg")
        return _Prepared(path, sha, data, ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext) else ".img",
                         photo.image, photo.meta)

    def _store(self, prepared: list[_Prepared], whale_id: str, *, create: dict[str, tuple[str, str]],
               action: str) -> list[int]:
        return self._store_many([(p, whale_id) for p in prepared], create=create, action=action)

    def _store_many(self, items: list[tuple[_Prepared, str]], *, create: dict[str, tuple[str, str]],
                    action: str) -> list[int]:
        """Write the files (temp + fsync + rename), then commit the rows in one transaction, then update
        and save the index."""
        with self._lock:
            self._ensure_index()
            files = [(self._write_photo(p), self._write_thumb(p.image, p.sha256)) for p, _ in items]
            added = _now()
            ids: list[int] = []
            with self._transaction() as c:
                for whale_id, (name, notes) in create.items():
                    if c.execute("SELECT 1 FROM whales WHERE id = ?", (whale_id,)).fetchone():
                        raise WhaleExistsError(whale_id)
                    c.execute("INSERT INTO whales (id, name, notes, created) VALUES (?, ?, ?, ?)",
                              (whale_id, name, notes, added))
                for (p, whale_id), (file, thumb) in zip(items, files, strict=True):
                    assert p.embedding is not None
                    gps = p.meta.gps
                    cur = c.execute(
                        "INSERT INTO photos (sha256, whale_id, file, thumb, original_name, taken_at, lat, "
                        "lon, width, height, added_at, embedding) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (p.sha256, whale_id, file, thumb, p.source.name,
                         p.meta.taken_at.isoformat() if p.meta.taken_at else None,
                         gps[0] if gps else None, gps[1] if gps else None, p.meta.width, p.meta.height,
                         added, _blob(p.embedding)))
                    ids.append(int(cur.lastrowid or 0))
                by_whale: dict[str, list[dict[str, Any]]] = {}
                for (p, whale_id), photo_id in zip(items, ids, strict=True):
                    by_whale.setdefault(whale_id, []).append(
                        {"photo": photo_id, "sha256": p.sha256, "original_name": p.source.name})
                for whale_id, photos in by_whale.items():
                    self._audit(c, action, whale_id, {"created": whale_id in create, "photos": photos})
                gen = self._bump_index_generation(c)
            vectors = np.stack([np.asarray(p.embedding) for p, _ in items]) if items \
                else np.zeros((0, 1), np.float32)
            self._index_changed(gen, add=(ids, vectors))
            return ids

    def _write_photo(self, p: _Prepared) -> str:
        rel = f"{PHOTOS_DIR}/{p.sha256[:2]}/{p.sha256}{p.ext}"
        target = self.folder / rel
        if target.is_file() and target.stat().st_size == len(p.data) and _file_sha256(target) == p.sha256:
            return rel  # already there (a removed photo added again, or an interrupted import)
        _write_atomic(target, p.data)
        return rel

    def _write_thumb(self, image: Image.Image, sha: str) -> str:
        rel = f"{THUMBS_DIR}/{sha[:2]}/{sha}.jpg"
        thumb = image.copy()
        thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        thumb.convert("RGB").save(buf, "JPEG", quality=85)
        _write_atomic(self.folder / rel, buf.getvalue())
        return rel

    def _new_whale_id(self) -> str:
        return new_whale_id(self.has_whale)

    # ------------------------------------------------------------------ internals: index

    def _index_stamp(self) -> dict[str, Any]:
        return {"gallery_id": self._meta("gallery_id"),
                "generation": int(self._meta("index_generation") or 0),
                "model_fingerprint": self.model_fingerprint}

    def _ensure_index(self) -> PhotoIndex:
        """The index reflecting the database's current state: loaded, or rebuilt when stale."""
        with self._lock:
            generation = int(self._meta("index_generation") or 0)
            if self._index is not None and self._index_generation == generation:
                return self._index
            path = self.folder / INDEX_NAME
            try:
                self._index = PhotoIndex.load(path, self._index_stamp())
                if self._index.dim != self.embedding_dim or len(self._index) != self.photo_count():
                    raise StaleIndexError("index does not match the database's photo count")
                self._index_generation = generation
                return self._index
            except StaleIndexError as exc:
                return self._rebuild_index(str(exc), quiet=self.photo_count() == 0)

    def _rebuild_index(self, reason: str, quiet: bool = False) -> PhotoIndex:
        generation = int(self._meta("index_generation") or 0)
        rows = self._query("SELECT id, embedding FROM photos ORDER BY id")
        dim = self.embedding_dim or (self.embedder.dim if self.embedder else 1)
        ids = [int(r[0]) for r in rows]
        vectors = np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows]) if rows \
            else np.zeros((0, dim), np.float32)
        index = PhotoIndex.build(ids, vectors, dim)
        (log.info if quiet else log.warning)(
            "rebuilt the photo index of %s from the database (%d photos): %s", self.folder, len(ids), reason)
        if not self.readonly:
            try:
                index.save(self.folder / INDEX_NAME, self._index_stamp())
            except OSError as exc:
                log.warning("could not save the photo index (%s); it will be rebuilt next time", exc)
        self._index = index
        self._index_generation = generation
        return index

    def _index_changed(self, generation: int, *, add: tuple[list[int], np.ndarray] | None = None,
                       remove: list[int] | None = None) -> None:
        """Apply a committed change to the loaded index and save it. On failure the index is dropped:
        the database is already committed, and the stale index is rebuilt on next use."""
        try:
            index = self._index
            if index is None or self._index_generation != generation - 1:
                self._index = None
                return
            if add is not None:
                index.add(add[0], add[1])
            if remove:
                index.remove(remove)
            self._index_generation = generation
            index.save(self.folder / INDEX_NAME, self._index_stamp())
        except (OSError, RuntimeError) as exc:
            log.warning("could not update the photo index (%s); it will be rebuilt from the database", exc)
            self._index = None

    # ------------------------------------------------------------------ internals: SQLite

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise GalleryError("the gallery is closed")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
                self._conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise

    def _bump_index_generation(self, c: sqlite3.Connection) -> int:
        c.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'index_generation'")
        return int(c.execute("SELECT value FROM meta WHERE key = 'index_generation'").fetchone()[0])

    def _set_model(self, c: sqlite3.Connection, embedder: Embedder) -> None:
        for key, value in (("model_fingerprint", embedder.fingerprint), ("model_name", embedder.card.name),
                           ("embedding_dim", str(embedder.dim))):
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _audit(self, c: sqlite3.Connection, action: str, whale_id: str | None,
               details: dict[str, Any]) -> None:
        c.execute("INSERT INTO audit (at, action, whale_id, details) VALUES (?, ?, ?, ?)",
                  (_now(), action, whale_id, json.dumps(details, default=str)))

    def _meta(self, key: str) -> str | None:
        row = self._query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._closed:
                raise GalleryError("the gallery is closed")
            return list(self._conn.execute(sql, tuple(params)).fetchall())

    def _query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            if self._closed:
                raise GalleryError("the gallery is closed")
            row = self._conn.execute(sql, tuple(params)).fetchone()
            return None if row is None else tuple(row)

    def _record(self, r: Sequence[Any]) -> PhotoRecord:
        return PhotoRecord(
            photo_id=int(r[0]), sha256=r[1], whale_id=r[2], path=self.folder / r[3],
            thumb_path=self.folder / r[4] if r[4] else None, original_name=r[5],
            taken_at=_parse_time(r[6]),
            gps=(float(r[7]), float(r[8])) if r[7] is not None and r[8] is not None else None,
            added_at=_parse_time(r[9]) or datetime.min)

    def _photos_by_id(self, ids: Iterable[int]) -> dict[int, PhotoRecord]:
        wanted = sorted({int(i) for i in ids})
        out: dict[int, PhotoRecord] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self._query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id IN ({marks})", chunk):
                out[int(r[0])] = self._record(r)
        return out

    def _whale_of(self, ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            out.update((int(r[0]), r[1]) for r in self._query(
                f"SELECT id, whale_id FROM photos WHERE id IN ({marks})", chunk))
        return out

    def _whale_stats(self, whale_ids: list[str]) -> dict[str, tuple[str, int, datetime | None]]:
        if not whale_ids:
            return {}
        marks = ",".join("?" * len(whale_ids))
        rows = self._query(f"SELECT w.id, w.name, COUNT(p.id), MAX(p.taken_at) FROM whales w "
                           f"LEFT JOIN photos p ON p.whale_id = w.id WHERE w.id IN ({marks}) GROUP BY w.id",
                           whale_ids)
        return {r[0]: (r[1], int(r[2]), _parse_time(r[3])) for r in rows}

    def _embeddings(self, ids: list[int]) -> np.ndarray:
        rows = dict(self._query("SELECT id, embedding FROM photos"))
        return np.stack([np.frombuffer(rows[i], dtype="<f4") for i in ids])

    def _require_embedder(self) -> Embedder:
        if self.embedder is None:
            raise GalleryError("no model is loaded: searching and adding photos need one")
        if self.model_fingerprint and self.embedder.fingerprint != self.model_fingerprint and \
                self.photo_count() > 0:
            raise self._mismatch_error()
        return self.embedder

    def _require_writable(self) -> None:
        if self.readonly:
            raise GalleryError(f"the gallery {self.folder} is open read-only")


# ---------------------------------------------------------------------------------------------- re-embedding

def reembed(folder: str | Path, new_embedder: Embedder,
            progress: Callable[[int, int], None] | None = None) -> int:
    """Re-embed every photo of the gallery with ``new_embedder``, atomically: all embeddings are computed
    first, then written in one transaction with the new model's fingerprint; then the index is rebuilt.
    Returns the number of photos re-embedded."""
    with Gallery.open(folder, new_embedder, allow_model_mismatch=True) as gallery:
        rows = gallery._query("SELECT id, file FROM photos ORDER BY id")
        size = gallery._model_size()
        vectors: list[np.ndarray] = []
        for start in range(0, len(rows), IMPORT_BATCH):
            chunk = rows[start:start + IMPORT_BATCH]
            images = [load_photo(gallery.folder / file, min_size=size).image for _, file in chunk]
            vectors.extend(new_embedder.embed_images(images, batch_size=IMPORT_BATCH))
            if progress is not None:
                progress(start + len(chunk), len(rows))
        old = (gallery.model_name, gallery.model_fingerprint)
        with gallery._lock, gallery._transaction() as c:
            for (photo_id, _), vec in zip(rows, vectors, strict=True):
                c.execute("UPDATE photos SET embedding = ? WHERE id = ?", (_blob(vec), photo_id))
            gallery._set_model(c, new_embedder)
            gallery._audit(c, "reembed", None, {"old_model": old[0], "old_fingerprint": old[1],
                                                "model": new_embedder.card.name,
                                                "fingerprint": new_embedder.fingerprint, "photos": len(rows)})
            gallery._bump_index_generation(c)
        gallery._index = None
        remove_index_files(gallery.folder / INDEX_NAME)
        gallery._rebuild_index("re-embedded with a new model", quiet=True)
        if progress is not None and not rows:
            progress(0, 0)
        return len(rows)


# ---------------------------------------------------------------------------------------------- helpers

_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".gif", ".bmp")


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    try:
        if readonly:
            conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False, timeout=10)
        else:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn
    except sqlite3.DatabaseError as exc:
        raise GalleryError(f"{path} is not a readable gallery database ({exc})") from exc


def _acquire_lock(folder: Path) -> Any:
    path = folder / LOCK_NAME
    f = open(path, "a+")  # noqa: SIM115 - held open for the gallery's lifetime
    try:
        if sys.platform == "win32":
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        f.seek(0)
        holder = f.read().strip()
        f.close()
        who = f" (process {holder})" if holder.isdigit() else ""
        raise GalleryLockedError(f"the gallery {folder} is open for writing in another window or "
                                 f"process{who}; close it there, or open this one read-only") from exc
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


def _release_lock(f: Any) -> None:
    with contextlib.suppress(OSError):
        f.seek(0)
        f.truncate()
        f.flush()
    with contextlib.suppress(OSError):
        f.close()  # closing the file releases the flock


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _file_sha256(path: Path) -> str:
    with _reading(path):
        return file_sha256(path)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn the operating system's errors while reading a photo file into a PhotoError naming it."""
    try:
        yield
    except FileNotFoundError as exc:
        raise PhotoError(path, "file not found") from exc
    except IsADirectoryError as exc:
        raise PhotoError(path, "is a folder, not a photo") from exc
    except OSError as exc:
        raise PhotoError(path, f"cannot read the file ({exc.strerror or exc})") from exc


def _readable_image(path: Path) -> bool:
    try:
        read_metadata(path)
        return True
    except PhotoError:
        return False


def _blob(vec: np.ndarray) -> bytes:
    return np.asarray(vec, dtype="<f4").reshape(-1).tobytes()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _photo_details(p: PhotoRecord) -> dict[str, Any]:
    return {"photo": p.photo_id, "sha256": p.sha256, "file": p.path.name, "original_name": p.original_name,
            "whale": p.whale_id}


__all__ = ["Candidate", "CatalogueError", "CheckReport", "DuplicatePhotoError", "Gallery", "GalleryError",
           "GalleryLockedError", "Identification", "ImportReport", "ModelMismatchError", "PhotoMatch",
           "PhotoNotFoundError", "PhotoRecord", "WhaleExistsError", "WhaleNotFoundError", "WhaleSummary",
           "find_photos", "reembed", "validate_whale_id"]
