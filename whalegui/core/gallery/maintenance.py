"""Keeping a gallery sound: check, repair and re-embed (:class:`Maintenance`).

A check verifies the database (SQLite's integrity and foreign keys), every stored photo against its hash,
the thumbnails, the embeddings (size, finite, unit length), each photo's fluke box and local features
(present, of the current version, readable) and the saved index against the database. Repairing rebuilds
what can be rebuilt from what is kept: thumbnails from photos, local features from photos and their boxes,
embeddings and missing boxes from photos (with the gallery's own models), the index from the embeddings,
and removes half-written temporary files. It never deletes a catalogued photo.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

import numpy as np

from whalegui.core.analysis import Analyser, fluke_features
from whalegui.core.errors import PhotoError
from whalegui.core.fluke import Fluke
from whalegui.core.gallery.derived_store import DerivedStore
from whalegui.core.gallery.files import THUMB_SIZE, PhotoFiles, is_temp_file, readable_image, stored_sha256
from whalegui.core.gallery.index_cache import IndexCache
from whalegui.core.gallery.intake import IMPORT_BATCH
from whalegui.core.gallery.reports import CheckReport
from whalegui.core.gallery.store import GalleryStore, ModelStamp, PhotoAnalysis
from whalegui.core.images import load_photo
from whalegui.core.index import StaleIndexError
from whalegui.core.verify import FEATURES_VERSION, LocalFeatures

log = logging.getLogger(__name__)

#: The decode size of a repair of local features when no model is loaded (the analyser's is used else).
_FEATURES_DECODE = (960, 320)


class Maintenance:
    """Checks, repairs and re-embeds the gallery made of ``store`` (and its ``derived`` data), ``files``
    and ``index``.

    ``analyser`` analyses photos with the loaded models (None when browsing only); repairs that write need
    ``readonly`` false.
    """

    def __init__(self, store: GalleryStore, derived: DerivedStore, files: PhotoFiles, index: IndexCache,
                 analyser: Analyser | None, *, readonly: bool) -> None:
        self._store = store
        self._derived = derived
        self._files = files
        self._index = index
        self._analyser = analyser
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
            self._check_derived(report, repair)
            self._check_index(report, repair)
        return report

    def reembed(self, analyser: Analyser, progress: Callable[[int, int], None] | None = None) -> int:
        """Re-analyse every photo with ``analyser``, atomically: each photo's fluke is found again (a box
        the researcher drew is kept), its crop embedded and its local features extracted; the results are
        staged, then written in one transaction with the new models' stamp, then the index is rebuilt.
        Returns the number of photos re-embedded. An unreadable photo stops it with its
        :class:`PhotoError`, changing nothing."""
        records = self._store.photos()
        size = analyser.decode_size
        self._derived.clear_staged()
        try:
            for start in range(0, len(records), IMPORT_BATCH):
                chunk = records[start:start + IMPORT_BATCH]
                photos = [load_photo(r.path, min_size=size) for r in chunk]
                analyses = analyser.analyse_many(
                    [p.image for p in photos], [_drawn(r.fluke) for r in chunk],
                    [(p.meta.width, p.meta.height) for p in photos], batch_size=IMPORT_BATCH)
                self._derived.stage([PhotoAnalysis(r.photo_id, a.embedding, a.fluke, a.features)
                                     for r, a in zip(chunk, analyses, strict=True)])
                if progress is not None:
                    progress(start + len(chunk), len(records))
            with self._store.lock:
                self._derived.apply_staged(ModelStamp(analyser.fingerprint, analyser.name,
                                                      analyser.embedder.dim))
                self._index.drop(remove_files=True)
                self._index.rebuild("re-embedded with a new model", quiet=True)
        finally:
            self._derived.clear_staged()
        if progress is not None and not records:
            progress(0, 0)
        return len(records)

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

    def _fixer(self, repair: bool) -> Analyser | None:
        """The loaded analyser when it may rebuild the gallery's model-made data (it made them)."""
        a = self._analyser
        return a if repair and a is not None and a.fingerprint == self._store.model.fingerprint else None

    def _check_embeddings(self, report: CheckReport, repair: bool) -> None:
        model = self._store.model
        analyser = self._analyser
        if analyser is not None and model.fingerprint and analyser.fingerprint != model.fingerprint and \
                self._store.photo_count() > 0:
            report.problems.append(f"model: the gallery was embedded with {model.name} "
                                   f"({model.fingerprint[:12]}), the loaded model is "
                                   f"{analyser.name} ({analyser.fingerprint[:12]}); "
                                   "run 'whalegui reembed'")
        fixer = self._fixer(repair)
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
                record = self._store.photo(photo_id)
                photo = load_photo(record.path, min_size=fixer.decode_size)
                analysis = fixer.analyse(photo.image, record.fluke, full_size=(photo.meta.width,
                                                                               photo.meta.height))
                self._store.set_embedding(photo_id, analysis.embedding, action="repair_embedding")
                self._index.drop()  # rebuilt by the index check
                report.repaired.append(what + "; re-embedded")
            except (PhotoError, OSError) as exc:
                report.problems.append(f"{what} and cannot be re-embedded ({exc})")

    def _check_derived(self, report: CheckReport, repair: bool) -> None:
        """Each photo's fluke box and local features: present, current and readable."""
        if self._store.schema_version < 2:
            report.problems.append(f"schema: the gallery was made by an older whalegui (schema "
                                   f"{self._store.schema_version}) and keeps no fluke boxes or local "
                                   "features; open it for writing (check --repair, or reembed) to upgrade it")
            return
        records = {r.photo_id: r for r in self._store.photos()}
        fixer = self._fixer(repair)
        for photo_id, version, blob in self._derived.feature_rows():
            record = records[photo_id]
            what = f"photo {photo_id} ({record.path.name})"
            faults = [] if record.fluke is not None else ["its fluke box is missing"]
            faults += _features_fault(version, blob)
            if not faults:
                continue
            text = f"{what}: {' and '.join(faults)}"
            needs_model = record.fluke is None
            if not repair or self._readonly or (needs_model and fixer is None):
                hint = repair and needs_model
                report.problems.append(text + (" (load the gallery's model and --repair to rebuild it)"
                                               if hint else ""))
                continue
            try:
                photo = load_photo(record.path, min_size=fixer.decode_size if fixer else _FEATURES_DECODE)
                full = (photo.meta.width, photo.meta.height)
                if record.fluke is None:
                    assert fixer is not None
                    analysis = fixer.analyse(photo.image, full_size=full)
                    self._derived.set_derived(photo_id, analysis.fluke, analysis.features)
                else:
                    self._derived.set_derived(photo_id, None, fluke_features(photo.image, record.fluke,
                                                                             full_size=full))
                report.repaired.append(f"{text}; rebuilt from the stored photo")
            except (PhotoError, OSError) as exc:
                report.problems.append(f"{text} and cannot be rebuilt ({exc})")

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
            report.problems.append(f"index: {reason} (--repair rebuilds it; so does the next search or "
                                   "change)")


def _drawn(fluke: Fluke | None) -> Fluke | None:
    """A box the researcher drew (kept by a re-embedding); None for one the detector found."""
    return fluke if fluke is not None and fluke.source == "researcher" else None


def _features_fault(version: int | None, blob: bytes | None) -> list[str]:
    if blob is None:
        return ["its local features are missing"]
    if version != FEATURES_VERSION:
        return [f"its local features are stale (version {version}, this whalegui makes {FEATURES_VERSION})"]
    try:
        LocalFeatures.from_blob(bytes(blob))
    except ValueError:
        return ["its local features are damaged"]
    return []
