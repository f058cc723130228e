"""Keeping a gallery sound: check, repair and re-embed (:class:`Maintenance`).

A check verifies the database (SQLite's integrity and foreign keys), every stored photo against its hash,
the thumbnails, the embeddings (size, finite, unit length) and the saved index against the database.
Repairing rebuilds what can be rebuilt from what is kept: thumbnails from photos, embeddings from photos
(with the gallery's own model), the index from the embeddings, and removes half-written temporary files.
It never deletes a catalogued photo.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

import numpy as np

from whalegui.core.embedder import Embedder
from whalegui.core.errors import PhotoError
from whalegui.core.gallery.files import THUMB_SIZE, PhotoFiles, is_temp_file, readable_image, stored_sha256
from whalegui.core.gallery.index_cache import IndexCache
from whalegui.core.gallery.intake import IMPORT_BATCH, decode_size
from whalegui.core.gallery.reports import CheckReport
from whalegui.core.gallery.store import GalleryStore, ModelStamp
from whalegui.core.images import load_photo
from whalegui.core.index import StaleIndexError

log = logging.getLogger(__name__)


class Maintenance:
    """Checks, repairs and re-embeds the gallery made of ``store``, ``files`` and ``index``.

    ``embedder`` is the loaded model (None when browsing only); repairs that write need ``readonly``
    false.
    """

    def __init__(self, store: GalleryStore, files: PhotoFiles, index: IndexCache, embedder: Embedder | None,
                 *, readonly: bool) -> None:
        self._store = store
        self._files = files
        self._index = index
        self._embedder = embedder
        self._readonly = readonly

    def check(self, repair: bool = False) -> CheckReport:
        """Verify the gallery; with ``repair``, rebuild what can be rebuilt (see the module's doc)."""
        report = CheckReport()
        with self._store.lock:
            self._check_database(report)
            if any(p.startswith("database") for p in report.problems):
                return report
            self._check_files(report, repair)
            self._check_embeddings(report, repair)
            self._check_index(report, repair)
        return report

    def reembed(self, embedder: Embedder, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-embed every photo with ``embedder``, atomically: all embeddings are computed first, then
        written in one transaction with the new model's stamp; then the index is rebuilt. Returns the
        number of photos re-embedded."""
        rows = self._store.query("SELECT id, file FROM photos ORDER BY id")
        size = decode_size(embedder)
        vectors: dict[int, np.ndarray] = {}
        for start in range(0, len(rows), IMPORT_BATCH):
            chunk = rows[start:start + IMPORT_BATCH]
            images = [load_photo(self._files.path(file), min_size=size).image for _, file in chunk]
            embedded = embedder.embed_images(images, batch_size=IMPORT_BATCH)
            vectors.update((int(photo_id), vec) for (photo_id, _), vec in zip(chunk, embedded, strict=True))
            if progress is not None:
                progress(start + len(chunk), len(rows))
        with self._store.lock:
            self._store.replace_embeddings(vectors, ModelStamp(embedder.fingerprint, embedder.card.name,
                                                               embedder.dim))
            self._index.drop(remove_files=True)
            self._index.rebuild("re-embedded with a new model", quiet=True)
        if progress is not None and not rows:
            progress(0, 0)
        return len(rows)

    # ------------------------------------------------------------------ the parts of a check

    def _check_database(self, report: CheckReport) -> None:
        try:
            result = [r[0] for r in self._store.query("PRAGMA integrity_check")]
            if result != ["ok"]:
                report.problems.append("database: SQLite integrity check failed: " + "; ".join(result[:5]) +
                                       " (restore gallery.sqlite from a backup)")
            bad_fk = self._store.query("PRAGMA foreign_key_check")
            if bad_fk:
                report.problems.append(f"database: {len(bad_fk)} photos refer to whales that do not exist")
        except sqlite3.DatabaseError as exc:
            report.problems.append(f"database: unreadable ({exc})")

    def _check_files(self, report: CheckReport, repair: bool) -> None:
        rows = self._store.query("SELECT id, sha256, whale_id, file, thumb FROM photos ORDER BY id")
        referenced: set[str] = set()
        for photo_id, sha, whale_id, file, thumb in rows:
            referenced.add(file)
            if thumb:  # (also when the photo's file is missing or damaged: the thumbnail is still its own)
                referenced.add(thumb)
            path = self._files.path(file)
            what = f"photo {photo_id} of whale {whale_id} ({file})"
            if not path.is_file():
                report.problems.append(f"{what}: the stored file is missing")
                continue
            if stored_sha256(path) != sha:
                report.problems.append(f"{what}: the stored file does not match its hash (damaged)")
                continue
            if thumb and self._files.path(thumb).is_file() and readable_image(self._files.path(thumb)):
                continue
            if not repair:
                report.problems.append(f"{what}: thumbnail missing or unreadable")
                continue
            try:
                image = load_photo(path, min_size=(THUMB_SIZE, THUMB_SIZE)).image
                self._store.set_thumb(photo_id, self._files.write_thumb(image, sha))
                report.repaired.append(f"{what}: thumbnail rebuilt")
            except (PhotoError, OSError) as exc:
                report.problems.append(f"{what}: thumbnail missing and cannot be rebuilt ({exc})")
        unreferenced = [p for p in self._files.stored_files() if self._files.relative(p) not in referenced]
        temps = [p for p in unreferenced if is_temp_file(p)]
        kept = [p for p in unreferenced if not is_temp_file(p)]
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
        model = self._store.model
        embedder = self._embedder
        if embedder is not None and model.fingerprint and embedder.fingerprint != model.fingerprint and \
                self._store.photo_count() > 0:
            report.problems.append(f"model: the gallery was embedded with {model.name} "
                                   f"({model.fingerprint[:12]}), the loaded model is "
                                   f"{embedder.card.name} ({embedder.fingerprint[:12]}); "
                                   "run 'whalegui reembed'")
        fixer = embedder if repair and embedder is not None and embedder.fingerprint == model.fingerprint \
            else None
        for photo_id, file, blob in self._store.query("SELECT id, file, embedding FROM photos ORDER BY id"):
            vec = np.frombuffer(blob, dtype="<f4") if len(blob) % 4 == 0 else np.zeros(0, np.float32)
            if len(vec) == model.dim and np.all(np.isfinite(vec)) and \
                    abs(float(np.linalg.norm(vec)) - 1) < 1e-3:
                continue
            what = f"photo {photo_id} ({file}): its embedding is damaged"
            if fixer is None:
                report.problems.append(what + (" (load the gallery's model and --repair to re-embed)"
                                               if repair else ""))
                continue
            try:
                image = load_photo(self._files.path(file), min_size=decode_size(fixer)).image
                self._store.set_embedding(photo_id, fixer.embed_images([image])[0], action="repair_embedding")
                self._index.drop()  # rebuilt by the index check
                report.repaired.append(what + "; re-embedded")
            except (PhotoError, OSError) as exc:
                report.problems.append(f"{what} and cannot be re-embedded ({exc})")

    def _check_index(self, report: CheckReport, repair: bool) -> None:
        reason = None
        if self._store.photo_count() == 0 and not self._index.path.exists():
            return
        try:
            saved = self._index.load_saved()
            ids = [r[0] for r in self._store.query("SELECT id FROM photos ORDER BY id")]
            if saved.labels() != set(ids):
                reason = "the index holds other photos than the database"
            elif ids and not np.allclose(saved.vectors(ids), self._store.embeddings(ids), atol=1e-4):
                reason = "the index's vectors differ from the database's embeddings"
        except StaleIndexError as exc:
            reason = str(exc)
        if reason is None:
            return
        if repair and not self._readonly:
            self._index.rebuild(f"check: {reason}")
            try:  # rebuild only logs a failed save: make sure the rebuilt index is on disk
                self._index.load_saved()
                report.repaired.append(f"index: {reason}; rebuilt from the database")
            except StaleIndexError as exc:
                report.problems.append(f"index: {reason}; rebuilt from the database but it cannot be "
                                       f"saved ({exc})")
        else:
            report.problems.append(f"index: {reason} (--repair rebuilds it; opening the gallery for "
                                   "writing also does)")
