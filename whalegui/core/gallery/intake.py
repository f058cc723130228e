"""The way in for photos: read, hash, decode, analyse (fluke, embedding, local features), then store them
crash-safely (:class:`PhotoIntake`).

Storing follows one order: the photo and its thumbnail are written (temp file, fsync, rename) *before* the
SQLite transaction that refers to them commits, so a committed row always has its files; a crash in between
leaves only unreferenced files (harmless; ``check`` reports them). The index is updated after the commit.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from whalegui.core.analysis import Analyser, Analysis
from whalegui.core.errors import DuplicatePhotoError
from whalegui.core.fluke import Fluke
from whalegui.core.gallery.files import THUMB_SIZE, PhotoFiles, photo_suffix
from whalegui.core.gallery.index_cache import IndexCache
from whalegui.core.gallery.store import GalleryStore, PhotoRow
from whalegui.core.identify import Identification
from whalegui.core.images import PhotoMeta, load_photo, read_photo_bytes
from whalegui.core.reviews import PairRow
from whalegui.core.sightings import Sighting

log = logging.getLogger(__name__)

#: Photos analysed per batch during a bulk import or a re-embedding (also the unit of one import
#: transaction).
IMPORT_BATCH = 24


@dataclass
class PreparedPhoto:
    """A photo read, hashed and decoded (and, once :meth:`PhotoIntake.analyse` ran, analysed). ``fluke``
    is a box the researcher drew, kept instead of the fluke finder's."""

    source: Path
    sha256: str
    data: bytes
    suffix: str  # what the stored copy is named with
    image: Image.Image
    meta: PhotoMeta
    original_name: str
    taken_at: datetime | None
    gps: tuple[float, float] | None
    fluke: Fluke | None = None
    analysis: Analysis | None = None
    sighting: Sighting | None = None  # the sighting it is filed under

    @property
    def full_size(self) -> tuple[int, int]:
        """The photo's upright full-resolution (width, height): the stored copy's pixels."""
        return (self.meta.width, self.meta.height)


def decode_size(analyser: Analyser | None) -> tuple[int, int]:
    """The size photos are decoded at: the analyser's (thumbnail size when there is none)."""
    return analyser.decode_size if analyser is not None else (THUMB_SIZE, THUMB_SIZE)


def read_photo(path: Path) -> tuple[bytes, str]:
    """A photo file's bytes (read once) and their sha256; :class:`PhotoError` when unreadable."""
    data = read_photo_bytes(path)
    return data, hashlib.sha256(data).hexdigest()


class PhotoIntake:
    """Takes photos into the gallery whose database, files and index are ``store``, ``files``, ``index``."""

    def __init__(self, store: GalleryStore, files: PhotoFiles, index: IndexCache) -> None:
        self._store = store
        self._files = files
        self._index = index

    def prepare(self, path: Path, data: bytes, sha256: str, size: tuple[int, int], *,
                original_name: str | None = None, taken_at: datetime | None = None,
                gps: tuple[float, float] | None = None) -> PreparedPhoto:
        """Decode a photo from its bytes at ``size``. ``original_name``, ``taken_at`` and ``gps`` override
        the file's name and its EXIF date and place (a catalogue that says them)."""
        photo = load_photo(path, min_size=size, data=data)
        return PreparedPhoto(path, sha256, data, photo_suffix(path, photo.meta.format), photo.image,
                             photo.meta, original_name or path.name,
                             taken_at if taken_at is not None else photo.meta.taken_at,
                             gps if gps is not None else photo.meta.gps)

    def prepare_new(self, paths: Sequence[Path], analyser: Analyser,
                    identified: Sequence[Identification] = ()) -> list[PreparedPhoto]:
        """Read, hash, decode and analyse photos that are not catalogued yet; raise on the first unreadable
        (:class:`PhotoError`) or catalogued (:class:`DuplicatePhotoError`) one. A photo given twice is
        taken once. A path that is the ``query_path`` of one of ``identified`` (with the same bytes, when
        the identification knows their hash) takes that identification's analysis (its fluke, a drawn box
        included, its embedding and local features) instead of being analysed again."""
        known = {Path(i.query_path): i for i in identified if i.query_path is not None}
        size = decode_size(analyser)
        prepared: list[PreparedPhoto] = []
        seen: set[str] = set()
        for p in paths:
            data, sha = read_photo(p)
            existing = self._store.find_photo_by_sha(sha)
            if existing is not None:
                raise DuplicatePhotoError(p, existing)
            if sha in seen:
                continue  # the same photo twice in one call: once is enough
            seen.add(sha)
            item = self.prepare(p, data, sha, size)
            ident = known.get(p)
            if ident is not None:
                item.analysis = _reusable(ident, sha, analyser)
                if item.analysis is None and ident.fluke is not None and ident.fluke.source == "researcher":
                    item.fluke = ident.fluke  # analysed again, in the box the researcher drew
            prepared.append(item)
        self.analyse(prepared, analyser)
        return prepared

    @staticmethod
    def analyse(prepared: Sequence[PreparedPhoto], analyser: Analyser, batch_size: int = 16) -> None:
        """Analyse the photos that have no analysis yet."""
        todo = [p for p in prepared if p.analysis is None]
        if not todo:
            return
        done = analyser.analyse_many([p.image for p in todo], [p.fluke for p in todo],
                                     [p.full_size for p in todo], batch_size=batch_size)
        for item, analysis in zip(todo, done, strict=True):
            item.analysis = analysis

    def store(self, items: Sequence[tuple[PreparedPhoto, str]], *, create: Mapping[str, tuple[str, str]],
              action: str, pairs: Sequence[PairRow] = (),
              details: Mapping[str, Mapping[str, Any]] | None = None) -> list[int]:
        """Catalogue analysed photos, each under its whale id and in its sighting, creating the whales in
        ``create`` (id -> (name, notes)), with the review ``pairs`` their decision made: files first, then
        one transaction, then the index. ``details`` (whale id -> fields) go into each whale's audit entry.
        Returns the photo ids."""
        with self._store.lock:
            self._index.ensure()
            rows: list[PhotoRow] = []
            for p, whale_id in items:
                a = p.analysis
                if a is None:
                    raise ValueError(f"{p.source} was not analysed")
                file = self._files.write_photo(p.sha256, p.suffix, p.data)
                thumb = self._files.write_thumb(p.image, p.sha256)
                rows.append(PhotoRow(p.sha256, whale_id, file, thumb, p.original_name, p.taken_at, p.gps,
                                     p.meta.width, p.meta.height, np.asarray(a.embedding), a.fluke,
                                     a.features, p.sighting))
            ids, generation = self._store.insert_photos(rows, create=create, action=action, pairs=pairs,
                                                        details=details)
            vectors = np.stack([r.embedding for r in rows]) if rows else np.zeros((0, 1), np.float32)
            self._index.apply(generation, add=(ids, vectors))
            return ids


def _reusable(ident: Identification, sha256: str, analyser: Analyser) -> Analysis | None:
    """The identification's analysis if it is one of this photo by these models, else None."""
    if ident.sha256 is not None and ident.sha256 != sha256:
        log.info("%s changed since it was identified: analysing it again", ident.query_path)
        return None
    vec = np.asarray(ident.embedding, dtype=np.float32).reshape(-1)
    if ident.fingerprint and ident.fingerprint != analyser.fingerprint:
        log.warning("%s was identified with other models: analysing it again", ident.query_path)
        return None
    if vec.shape[0] != analyser.embedder.dim:
        log.warning("the identification of %s has a %d-value embedding, the model makes %d: analysing it "
                    "again", ident.query_path, vec.shape[0], analyser.embedder.dim)
        return None
    if ident.fluke is None or ident.features is None:
        return None
    return Analysis(ident.fluke, vec, ident.features)
