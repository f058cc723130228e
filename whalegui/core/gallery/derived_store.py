"""The gallery's derived data in SQLite: fluke boxes, local features, and a re-embedding's staging
(:class:`DerivedStore`).

Everything here can be rebuilt from the stored photos with the gallery's models, which is what ``check
--repair`` and ``reembed`` do. A re-embedding keeps its results in a temporary table of this connection
(not in memory: ten thousand photos' features are hundreds of megabytes) and writes them all in one
transaction, with the new model's stamp, only when every photo is done.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from whalegui.core.errors import GalleryError
from whalegui.core.fluke import Fluke
from whalegui.core.gallery.store import (
    GalleryStore,
    ModelStamp,
    PhotoAnalysis,
    embedding_blob,
    fluke_values,
    id_chunks,
)
from whalegui.core.verify import FEATURES_VERSION, LocalFeatures

log = logging.getLogger(__name__)

#: Where a re-embedding keeps its results until they are written in one transaction (this connection only).
_STAGED = ("CREATE TEMP TABLE IF NOT EXISTS staged (id INTEGER PRIMARY KEY, embedding BLOB NOT NULL, "
           "box_left REAL, box_top REAL, box_right REAL, box_bottom REAL, box_source TEXT, box_score REAL, "
           "box_angle REAL, features BLOB NOT NULL)")


class DerivedStore:
    """The boxes, local features and re-embedding staging of the gallery whose database is ``store``."""

    def __init__(self, store: GalleryStore) -> None:
        self._store = store

    def features(self, ids: Sequence[int]) -> dict[int, LocalFeatures]:
        """The stored local features of ``ids`` that are usable: missing, stale (another version) or
        damaged ones are left out (``check`` reports them)."""
        out: dict[int, LocalFeatures] = {}
        if self._store.schema_version < 2:
            return out
        wanted = sorted({int(i) for i in ids})
        for chunk in id_chunks(wanted):
            marks = ",".join("?" * len(chunk))
            for photo_id, version, blob in self._store.query(
                    f"SELECT photo_id, version, blob FROM features WHERE photo_id IN ({marks})", chunk):
                if version != FEATURES_VERSION:
                    continue
                try:
                    out[int(photo_id)] = LocalFeatures.from_blob(bytes(blob))
                except ValueError:
                    log.debug("photo %s: damaged local features", photo_id)
        return out

    def feature_rows(self) -> list[tuple[int, int | None, bytes | None]]:
        """(photo id, version, blob) of every photo, by id; version and blob None where none are stored."""
        if self._store.schema_version < 2:
            return [(int(r[0]), None, None) for r in self._store.query("SELECT id FROM photos ORDER BY id")]
        return [(int(r[0]), r[1], r[2]) for r in self._store.query(
            "SELECT p.id, f.version, f.blob FROM photos p LEFT JOIN features f ON f.photo_id = p.id "
            "ORDER BY p.id")]

    def set_derived(self, photo_id: int, fluke: Fluke | None, features: LocalFeatures | None) -> None:
        """Record a photo's rebuilt fluke box and/or local features (None keeps what is there). The
        embeddings, and so the index, do not change."""
        with self._store.transaction() as c:
            if fluke is not None:
                c.execute("UPDATE photos SET box_left = ?, box_top = ?, box_right = ?, box_bottom = ?, "
                          "box_source = ?, box_score = ?, box_angle = ? WHERE id = ?",
                          (*fluke_values(fluke), photo_id))
            if features is not None:
                c.execute("INSERT OR REPLACE INTO features (photo_id, version, blob) VALUES (?, ?, ?)",
                          (photo_id, FEATURES_VERSION, features.to_blob()))

    def stage(self, analyses: Sequence[PhotoAnalysis]) -> None:
        """Keep re-analysed photos in this connection's temporary table until :meth:`apply_staged`. The
        gallery itself does not change."""
        rows: list[tuple[Any, ...]] = [
            (a.photo_id, embedding_blob(a.embedding), *fluke_values(a.fluke), a.features.to_blob())
            for a in analyses]
        with self._store.lock:
            self._store.execute(_STAGED)
            self._store.execute_many(
                "INSERT OR REPLACE INTO temp.staged VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def clear_staged(self) -> None:
        """Forget what :meth:`stage` kept."""
        self._store.execute("DROP TABLE IF EXISTS temp.staged")

    def apply_staged(self, model: ModelStamp) -> int:
        """In one transaction: write every staged photo's embedding, box and local features and the new
        model's stamp (audited); returns the number of photos. Raises :class:`GalleryError`, changing
        nothing, unless every catalogued photo was staged."""
        old = self._store.model
        with self._store.lock:
            self._store.execute(_STAGED)
            with self._store.transaction() as c:
                missing = int(c.execute("SELECT COUNT(*) FROM photos WHERE id NOT IN "
                                        "(SELECT id FROM temp.staged)").fetchone()[0])
                if missing:
                    raise GalleryError(f"{missing} photos were added while re-embedding; re-embed again")
                count = int(c.execute("SELECT COUNT(*) FROM photos").fetchone()[0])
                c.execute("UPDATE photos SET (embedding, box_left, box_top, box_right, box_bottom, "
                          "box_source, box_score, box_angle) = (SELECT s.embedding, s.box_left, s.box_top, "
                          "s.box_right, s.box_bottom, s.box_source, s.box_score, s.box_angle "
                          "FROM temp.staged s WHERE s.id = photos.id)")
                c.execute("INSERT OR REPLACE INTO features (photo_id, version, blob) SELECT s.id, ?, "
                          "s.features FROM temp.staged s WHERE s.id IN (SELECT id FROM photos)",
                          (FEATURES_VERSION,))
                self._store.set_model(c, model)
                self._store.audit(c, "reembed", None, {
                    "old_model": old.name, "old_fingerprint": old.fingerprint, "model": model.name,
                    "fingerprint": model.fingerprint, "photos": count})
                self._store.bump_index_generation(c)
            self.clear_staged()
        return count

