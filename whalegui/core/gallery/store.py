"""The gallery's store: the SQLite database that is the truth (whales, photos with embeddings, meta, audit).

:class:`GalleryStore` owns the connection, the schema, transactions (each change is one transaction and
bumps the ``generation`` counter in ``meta``), the audit log, and the queries that turn rows into
:class:`PhotoRecord` and :class:`WhaleSummary` values. SQL always takes parameters; only fixed column lists
and ``?`` placeholders are formatted in. One re-entrant lock, :attr:`GalleryStore.lock`, serialises every
access within the process; the rest of the gallery takes the same lock for its compound operations.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from whalegui.core.errors import GalleryError, PhotoNotFoundError, WhaleExistsError, WhaleNotFoundError
from whalegui.core.fluke import Fluke
from whalegui.core.gallery.field_sql import (
    drop_orphan_sightings,
    drop_pairs_of,
    last_sightings,
    store_pairs,
    store_sighting,
)
from whalegui.core.gallery.schema import SCHEMA_VERSION, create_or_upgrade
from whalegui.core.records import PhotoRecord, WhaleSummary
from whalegui.core.reviews import PairRow
from whalegui.core.sightings import Sighting
from whalegui.core.verify import FEATURES_VERSION, LocalFeatures

log = logging.getLogger(__name__)

DB_NAME = "gallery.sqlite"
_PHOTO_COLUMNS = ("id, sha256, whale_id, file, thumb, original_name, taken_at, lat, lon, added_at, "
                  "box_left, box_top, box_right, box_bottom, box_source, box_score, box_angle, sighting_id")
#: The same columns from older databases (version 1: no boxes; 2: no sightings), read-only until upgraded.
_PHOTO_COLUMNS_OLD = {1: ("id, sha256, whale_id, file, thumb, original_name, taken_at, lat, lon, added_at, "
                          "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"),
                      2: _PHOTO_COLUMNS.replace("sighting_id", "NULL")}
_WHALE_SUMMARY = ("SELECT w.id, w.name, w.notes, w.created, COUNT(p.id), MAX(p.taken_at), MIN(p.id) "
                  "FROM whales w LEFT JOIN photos p ON p.whale_id = w.id ")
#: Ids per ``IN (...)`` query (well below SQLite's limit on parameters).
_CHUNK = 500


@dataclass(frozen=True)
class PhotoRow:
    """A photo to insert: its stored files (already written) and what is known about it."""

    sha256: str
    whale_id: str
    file: str
    thumb: str
    original_name: str
    taken_at: datetime | None
    gps: tuple[float, float] | None
    width: int
    height: int
    embedding: np.ndarray
    fluke: Fluke
    features: LocalFeatures
    sighting: Sighting | None = None  # None: the photo belongs to no sighting


@dataclass(frozen=True)
class PhotoAnalysis:
    """What the pipeline derived from one catalogued photo: its embedding, fluke box and local features."""

    photo_id: int
    embedding: np.ndarray
    fluke: Fluke
    features: LocalFeatures


@dataclass(frozen=True)
class ModelStamp:
    """The model whose embeddings the gallery holds."""

    fingerprint: str
    name: str
    dim: int


class GalleryStore:
    """The SQLite database of one gallery. Use :meth:`open`; every method holds :attr:`lock`."""

    def __init__(self, folder: Path, conn: sqlite3.Connection) -> None:
        self.folder = folder
        self.lock = threading.RLock()
        self._conn = conn
        self._closed = False
        self._columns = _PHOTO_COLUMNS

    # ------------------------------------------------------------------ connection and schema

    @classmethod
    def open(cls, folder: Path, *, readonly: bool) -> GalleryStore:
        """Connect to ``folder``'s database (WAL mode, full sync when writing; read-only by URI)."""
        path = folder / DB_NAME
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
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"{path} is not a readable gallery database ({exc})") from exc
        return cls(folder, conn)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Close the connection (idempotent); every later access raises GalleryError."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()

    def init_schema(self, model: ModelStamp | None) -> None:
        """Create the tables and the meta defaults where missing (a new gallery adopts ``model``), or
        upgrade a gallery made by an older whalegui (:mod:`.schema`), in one transaction."""
        defaults = {
            "gallery_id": secrets.token_hex(8),
            "generation": "0",
            "index_generation": "0",
            "model_fingerprint": model.fingerprint if model else "",
            "model_name": model.name if model else "",
            "embedding_dim": str(model.dim) if model else "0",
            "created": now(),
        }
        with self.transaction() as c:
            create_or_upgrade(c, defaults)

    def check_schema(self) -> None:
        """Raise :class:`GalleryError` unless this is a gallery database this version can read."""
        try:
            version = self.meta("schema_version")
        except sqlite3.DatabaseError as exc:
            raise GalleryError(f"{self.folder / DB_NAME} is not a readable gallery database ({exc})") from exc
        if version is None:
            raise GalleryError(f"{self.folder / DB_NAME} is not a gallery database (no schema version)")
        if int(version) > SCHEMA_VERSION:
            raise GalleryError(f"the gallery {self.folder} was made by a newer whalegui (schema {version})")
        self._columns = _PHOTO_COLUMNS_OLD.get(int(version), _PHOTO_COLUMNS)

    @property
    def schema_version(self) -> int:
        """The version of the database's schema (1: made before fluke boxes and local features were kept,
        not upgraded yet because it was only opened read-only)."""
        return int(self.meta("schema_version") or 0)

    # ------------------------------------------------------------------ transactions, meta, audit

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``) that bumps ``generation`` when it commits."""
        with self.lock:
            self._require_open()
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

    def meta(self, key: str) -> str | None:
        """A value of the ``meta`` table, or None."""
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    @property
    def model(self) -> ModelStamp:
        """The model the gallery's embeddings come from (empty fingerprint for a new gallery)."""
        return ModelStamp(self.meta("model_fingerprint") or "", self.meta("model_name") or "",
                          int(self.meta("embedding_dim") or 0))

    @property
    def generation(self) -> int:
        """A counter bumped by every committed change."""
        return int(self.meta("generation") or 0)

    @property
    def index_generation(self) -> int:
        """A counter bumped by every change to the set of photos or their embeddings."""
        return int(self.meta("index_generation") or 0)

    @property
    def gallery_id(self) -> str:
        """A random id given to the gallery when it was made (the index stamp names it)."""
        return self.meta("gallery_id") or ""

    @staticmethod
    def set_model(c: sqlite3.Connection, model: ModelStamp) -> None:
        """Record (within transaction ``c``) the model whose embeddings the gallery holds."""
        for key, value in (("model_fingerprint", model.fingerprint), ("model_name", model.name),
                           ("embedding_dim", str(model.dim))):
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @staticmethod
    def bump_index_generation(c: sqlite3.Connection) -> int:
        """Bump (within transaction ``c``) the index generation; returns its new value."""
        c.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'index_generation'")
        return int(c.execute("SELECT value FROM meta WHERE key = 'index_generation'").fetchone()[0])

    @staticmethod
    def audit(c: sqlite3.Connection, action: str, whale_id: str | None, details: Mapping[str, Any]) -> None:
        """Append an entry to the audit log within transaction ``c``."""
        c.execute("INSERT INTO audit (at, action, whale_id, details) VALUES (?, ?, ?, ?)",
                  (now(), action, whale_id, json.dumps(details, default=str)))

    def audit_log(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The audit log, newest first: dicts with id, at, action, whale_id, details."""
        sql = "SELECT id, at, action, whale_id, details FROM audit ORDER BY id DESC"
        rows = self.query(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ())
        return [{"id": r[0], "at": r[1], "action": r[2], "whale_id": r[3], "details": json.loads(r[4])}
                for r in rows]

    # ------------------------------------------------------------------ queries

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of a parametrised query."""
        with self.lock:
            self._require_open()
            return list(self._conn.execute(sql, tuple(params)).fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement outside :meth:`transaction`: for this connection's temporary tables only."""
        with self.lock:
            self._require_open()
            self._conn.execute(sql, tuple(params))

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """:meth:`execute` for many rows."""
        with self.lock:
            self._require_open()
            self._conn.executemany(sql, rows)

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a parametrised query, or None."""
        with self.lock:
            self._require_open()
            row = self._conn.execute(sql, tuple(params)).fetchone()
            return None if row is None else tuple(row)

    def whale_count(self) -> int:
        """How many whales are catalogued."""
        return int(self.query("SELECT COUNT(*) FROM whales")[0][0])

    def photo_count(self) -> int:
        """How many photos are catalogued."""
        return int(self.query("SELECT COUNT(*) FROM photos")[0][0])

    def has_whale(self, whale_id: str) -> bool:
        """Whether ``whale_id`` is catalogued."""
        return self.query_one("SELECT 1 FROM whales WHERE id = ?", (whale_id,)) is not None

    def whales(self, search: str = "") -> list[WhaleSummary]:
        """Every whale (matching ``search`` in id, name or notes, case-insensitive), sorted by id."""
        term = search.strip().lower()
        rows = self.query(_WHALE_SUMMARY + "WHERE ? = '' OR instr(lower(w.id), ?) > 0 "
                          "OR instr(lower(w.name), ?) > 0 OR instr(lower(w.notes), ?) > 0 "
                          "GROUP BY w.id ORDER BY w.id", (term, term, term, term))
        covers = self.photos_by_id([r[6] for r in rows if r[6] is not None])
        last = self.last_sightings([r[0] for r in rows])
        return [self._summary(r, covers.get(r[6]), last.get(r[0])) for r in rows]

    def whale(self, whale_id: str) -> WhaleSummary:
        """One whale's summary; :class:`WhaleNotFoundError` when it is not catalogued."""
        row = self.query_one(_WHALE_SUMMARY + "WHERE w.id = ? GROUP BY w.id", (whale_id,))
        if row is None:
            raise WhaleNotFoundError(whale_id)
        cover = self.photos_by_id([row[6]]).get(row[6]) if row[6] is not None else None
        return self._summary(row, cover, self.last_sightings([whale_id]).get(whale_id))

    def photos(self, whale_id: str | None = None) -> list[PhotoRecord]:
        """Every photo (of one whale when ``whale_id`` is given), oldest first."""
        if whale_id is None:
            rows = self.query(f"SELECT {self._columns} FROM photos ORDER BY id")
        else:
            if not self.has_whale(whale_id):
                raise WhaleNotFoundError(whale_id)
            rows = self.query(f"SELECT {self._columns} FROM photos WHERE whale_id = ? ORDER BY id",
                              (whale_id,))
        return [self._record(r) for r in rows]

    def photo(self, photo_id: int) -> PhotoRecord:
        """One photo; :class:`PhotoNotFoundError` when it is not catalogued."""
        row = self.query_one(f"SELECT {self._columns} FROM photos WHERE id = ?", (int(photo_id),))
        if row is None:
            raise PhotoNotFoundError(photo_id)
        return self._record(row)

    def find_photo_by_sha(self, sha256: str) -> PhotoRecord | None:
        """The catalogued photo with these bytes (by sha256), or None."""
        row = self.query_one(f"SELECT {self._columns} FROM photos WHERE sha256 = ?", (sha256,))
        return None if row is None else self._record(row)

    def photos_by_id(self, ids: Iterable[int]) -> dict[int, PhotoRecord]:
        """The records of the photos ``ids`` (ids not in the gallery are left out)."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, PhotoRecord] = {}
        for chunk in id_chunks(wanted):
            marks = ",".join("?" * len(chunk))
            for r in self.query(f"SELECT {self._columns} FROM photos WHERE id IN ({marks})", chunk):
                out[int(r[0])] = self._record(r)
        return out

    def whale_of(self, ids: Sequence[int]) -> dict[int, str]:
        """The whale of each photo id (ids not in the gallery are left out)."""
        out: dict[int, str] = {}
        for chunk in id_chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            out.update((int(r[0]), r[1]) for r in self.query(
                f"SELECT id, whale_id FROM photos WHERE id IN ({marks})", chunk))
        return out

    def whale_stats(self, whale_ids: Sequence[str]) -> dict[str, tuple[str, int, Sighting | None]]:
        """(name, photo count, latest sighting) of each whale: its latest dated sighting, else (a gallery
        not upgraded yet) one with the latest EXIF date of its photos, else None."""
        out: dict[str, tuple[str, int, Sighting | None]] = {}
        for chunk in id_chunks(list(whale_ids)):
            marks = ",".join("?" * len(chunk))
            rows = self.query(f"SELECT w.id, w.name, COUNT(p.id), MAX(p.taken_at) FROM whales w LEFT JOIN "
                              f"photos p ON p.whale_id = w.id WHERE w.id IN ({marks}) GROUP BY w.id", chunk)
            out.update((r[0], (r[1], int(r[2]), Sighting(when=r[3][:16]) if r[3] else None)) for r in rows)
        for whale_id, sighting in self.last_sightings(list(out)).items():
            out[whale_id] = (out[whale_id][0], out[whale_id][1], sighting)
        return out

    def last_sightings(self, whale_ids: Sequence[str]) -> dict[str, Sighting]:
        """Each whale's latest dated sighting (whales with none, or a gallery not upgraded yet: left out)."""
        return last_sightings(self.query, whale_ids) if self.schema_version >= 3 else {}

    def embedding(self, photo_id: int) -> np.ndarray:
        """A photo's stored embedding; :class:`PhotoNotFoundError` when not catalogued."""
        row = self.query_one("SELECT embedding FROM photos WHERE id = ?", (int(photo_id),))
        if row is None:
            raise PhotoNotFoundError(photo_id)
        return np.frombuffer(row[0], dtype="<f4").astype(np.float32)

    def embeddings(self, ids: Sequence[int]) -> np.ndarray:
        """The stored embeddings of ``ids``, one row each, in that order (only those rows are read)."""
        rows: dict[int, bytes] = {}
        for chunk in id_chunks(sorted({int(i) for i in ids})):
            marks = ",".join("?" * len(chunk))
            rows.update((int(r[0]), r[1]) for r in self.query(
                f"SELECT id, embedding FROM photos WHERE id IN ({marks})", chunk))
        return np.stack([np.frombuffer(rows[int(i)], dtype="<f4") for i in ids])

    def all_embeddings(self, dim: int) -> tuple[list[int], np.ndarray]:
        """Every photo's id and embedding, by id (a (0, ``dim``) array for an empty gallery)."""
        rows = self.query("SELECT id, embedding FROM photos ORDER BY id")
        ids = [int(r[0]) for r in rows]
        vectors = np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows]) if rows \
            else np.zeros((0, dim), np.float32)
        return ids, vectors

    # ------------------------------------------------------------------ changes

    def insert_photos(self, rows: Sequence[PhotoRow], *, create: Mapping[str, tuple[str, str]],
                      action: str, pairs: Sequence[PairRow] = (),
                      details: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[list[int], int]:
        """In one transaction: create the whales ``create`` names (id -> (name, notes); an existing one
        raises :class:`WhaleExistsError`), the rows' sightings not stored yet (by uid), the photos and the
        review ``pairs`` their decisions made, and audit the photos by whale (with ``details`` of the whale
        added to its entry). Returns the new photo ids and the index generation the change made. The
        photos' files must already be stored."""
        added = now()
        ids: list[int] = []
        with self.transaction() as c:
            self._create_whales(c, create, added)
            for row in rows:
                gps = row.gps
                sighting = store_sighting(c, row.sighting) if row.sighting is not None else None
                cur = c.execute(
                    "INSERT INTO photos (sha256, whale_id, file, thumb, original_name, taken_at, lat, lon, "
                    "width, height, added_at, embedding, box_left, box_top, box_right, box_bottom, "
                    "box_source, box_score, box_angle, sighting_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (row.sha256, row.whale_id, row.file, row.thumb, row.original_name,
                     row.taken_at.isoformat() if row.taken_at else None, gps[0] if gps else None,
                     gps[1] if gps else None, row.width, row.height, added, embedding_blob(row.embedding),
                     *fluke_values(row.fluke), sighting))
                photo_id = int(cur.lastrowid or 0)
                c.execute("INSERT INTO features (photo_id, version, blob) VALUES (?, ?, ?)",
                          (photo_id, FEATURES_VERSION, row.features.to_blob()))
                ids.append(photo_id)
            by_whale: dict[str, list[dict[str, Any]]] = {}
            for row, photo_id in zip(rows, ids, strict=True):
                by_whale.setdefault(row.whale_id, []).append(
                    {"photo": photo_id, "sha256": row.sha256, "original_name": row.original_name})
            for whale_id, photos in by_whale.items():
                self.audit(c, action, whale_id, {**(details or {}).get(whale_id, {}),
                                                 "created": whale_id in create, "photos": photos})
            store_pairs(c, pairs)
            generation = self.bump_index_generation(c)
        return ids, generation

    def create_whales(self, create: Mapping[str, tuple[str, str]], *, action: str) -> None:
        """Create whales without photos (id -> (name, notes)), in one transaction (audited). The photos,
        and so the index, do not change."""
        with self.transaction() as c:
            self._create_whales(c, create, now())
            for whale_id in create:
                self.audit(c, action, whale_id, {"created": True, "photos": []})

    def rename_whale(self, whale_id: str, *, new_id: str | None, name: str | None,
                     notes: str | None) -> None:
        """Change a whale's id, name and/or notes (None keeps it); audited with the old values."""
        with self.lock:
            old = self.whale(whale_id)
            if new_id is not None and new_id != whale_id and self.has_whale(new_id):
                raise WhaleExistsError(new_id)
            with self.transaction() as c:
                if name is not None or notes is not None:
                    c.execute("UPDATE whales SET name = COALESCE(?, name), notes = COALESCE(?, notes) "
                              "WHERE id = ?", (name, notes, whale_id))
                if new_id is not None and new_id != whale_id:
                    c.execute("UPDATE whales SET id = ? WHERE id = ?", (new_id, whale_id))
                self.audit(c, "rename", new_id or whale_id,
                           {"old_id": whale_id, "new_id": new_id or whale_id, "old_name": old.name,
                            "name": name if name is not None else old.name, "old_notes": old.notes,
                            "notes": notes if notes is not None else old.notes})

    def merge_whales(self, source_id: str, target_id: str) -> None:
        """Move every photo of ``source_id`` to ``target_id`` and delete ``source_id`` (audited)."""
        with self.lock:
            source = self.whale(source_id)
            self.whale(target_id)
            with self.transaction() as c:
                moved = [r[0] for r in c.execute("SELECT id FROM photos WHERE whale_id = ?", (source_id,))]
                c.execute("UPDATE photos SET whale_id = ? WHERE whale_id = ?", (target_id, source_id))
                c.execute("DELETE FROM whales WHERE id = ?", (source_id,))
                self.audit(c, "merge", target_id, {"source": source_id, "target": target_id,
                                                   "photos": moved, "source_name": source.name,
                                                   "source_notes": source.notes})

    def move_photo(self, photo_id: int, whale_id: str) -> None:
        """File a photo under another catalogued whale (audited)."""
        with self.lock:
            photo = self.photo(photo_id)
            if not self.has_whale(whale_id):
                raise WhaleNotFoundError(whale_id)
            with self.transaction() as c:
                c.execute("UPDATE photos SET whale_id = ? WHERE id = ?", (whale_id, photo.photo_id))
                self.audit(c, "move_photo", whale_id, {"photo": photo.photo_id, "sha256": photo.sha256,
                                                       "from": photo.whale_id, "to": whale_id})

    def delete_photo(self, photo: PhotoRecord) -> int:
        """Delete a photo's row (its files stay); returns the index generation the change made."""
        with self.transaction() as c:
            c.execute("DELETE FROM photos WHERE id = ?", (photo.photo_id,))
            pairs = drop_pairs_of(c, [photo.sha256])
            drop_orphan_sightings(c)
            self.audit(c, "remove_photo", photo.whale_id, dict(photo_details(photo), review_pairs=pairs))
            return self.bump_index_generation(c)

    def delete_whale(self, whale: WhaleSummary, photos: Sequence[PhotoRecord]) -> int:
        """Delete a whale and its photos' rows (files stay); returns the index generation it made."""
        with self.transaction() as c:
            c.execute("DELETE FROM photos WHERE whale_id = ?", (whale.whale_id,))
            c.execute("DELETE FROM whales WHERE id = ?", (whale.whale_id,))
            pairs = drop_pairs_of(c, [p.sha256 for p in photos])
            drop_orphan_sightings(c)
            self.audit(c, "delete_whale", whale.whale_id, {"name": whale.name, "notes": whale.notes,
                                                           "photos": [photo_details(p) for p in photos],
                                                           "review_pairs": pairs})
            return self.bump_index_generation(c)

    def set_thumb(self, photo_id: int, rel: str) -> None:
        """Record a photo's (rebuilt) thumbnail file."""
        with self.transaction() as c:
            c.execute("UPDATE photos SET thumb = ? WHERE id = ?", (rel, photo_id))

    def set_embedding(self, photo_id: int, vector: np.ndarray, *, action: str) -> int:
        """Replace one photo's embedding (audited); returns the index generation it made."""
        with self.transaction() as c:
            c.execute("UPDATE photos SET embedding = ? WHERE id = ?", (embedding_blob(vector), photo_id))
            self.audit(c, action, None, {"photo": photo_id})
            return self.bump_index_generation(c)

    # ------------------------------------------------------------------ internals

    def _require_open(self) -> None:
        if self._closed:
            raise GalleryError("the gallery is closed")

    @staticmethod
    def _create_whales(c: sqlite3.Connection, create: Mapping[str, tuple[str, str]], created: str) -> None:
        for whale_id, (name, notes) in create.items():
            if c.execute("SELECT 1 FROM whales WHERE id = ?", (whale_id,)).fetchone():
                raise WhaleExistsError(whale_id)
            c.execute("INSERT INTO whales (id, name, notes, created) VALUES (?, ?, ?, ?)",
                      (whale_id, name, notes, created))

    def _record(self, r: Sequence[Any]) -> PhotoRecord:
        return PhotoRecord(
            photo_id=int(r[0]), sha256=r[1], whale_id=r[2], path=self.folder / r[3],
            thumb_path=self.folder / r[4] if r[4] else None, original_name=r[5],
            taken_at=parse_time(r[6]),
            gps=(float(r[7]), float(r[8])) if r[7] is not None and r[8] is not None else None,
            added_at=parse_time(r[9]) or datetime.min, fluke=stored_fluke(r[10:17]),
            sighting_id=int(r[17]) if r[17] is not None else None)

    @staticmethod
    def _summary(r: Sequence[Any], cover: PhotoRecord | None, last: Sighting | None) -> WhaleSummary:
        seen = (last.moment() if last is not None else None) or parse_time(r[5])
        return WhaleSummary(r[0], r[1], r[2], parse_time(r[3]) or datetime.min, int(r[4]), seen, cover,
                            last.where() if last is not None else "")


def fluke_values(fluke: Fluke) -> tuple[float, float, float, float, str, float, float]:
    return (*map(float, fluke.box), fluke.source, float(fluke.score), float(fluke.angle))  # type: ignore[return-value]


def stored_fluke(values: Sequence[Any]) -> Fluke | None:
    """The fluke of the box columns (left, top, right, bottom, source, score, angle); None when not recorded
    or unusable."""
    left, top, right, bottom, source, score, angle = values
    if source not in ("detector", "researcher", "frame") or None in (left, top, right, bottom):
        return None
    box = (float(left), float(top), float(right), float(bottom))
    if not all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        return None
    return Fluke(box, str(source), float(score or 0.0), None, float(angle or 0.0))


def embedding_blob(vec: np.ndarray) -> bytes:
    """An embedding as SQLite stores it: little-endian float32."""
    return np.asarray(vec, dtype="<f4").reshape(-1).tobytes()


def now() -> str:
    """The current UTC time as SQLite stores it (ISO 8601, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def parse_time(value: str | None) -> datetime | None:
    """A stored time, or None when empty or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def photo_details(p: PhotoRecord) -> dict[str, Any]:
    """What the audit log keeps of a photo taken out of the catalogue."""
    return {"photo": p.photo_id, "sha256": p.sha256, "file": p.path.name, "original_name": p.original_name,
            "whale": p.whale_id}


def id_chunks(items: list[Any]) -> Iterator[list[Any]]:
    """``items`` in lists short enough for one ``IN (...)`` query each."""
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]
