"""The way in for photos: read, hash, decode, embed, then store them crash-safely (:class:`PhotoIntake`).

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

import numpy as np
from PIL import Image

from whalegui.core.embedder import Embedder
from whalegui.core.errors import DuplicatePhotoError
from whalegui.core.gallery.files import THUMB_SIZE, PhotoFiles, photo_suffix
from whalegui.core.gallery.index_cache import IndexCache
from whalegui.core.gallery.store import GalleryStore, PhotoRow
from whalegui.core.identify import Identification
from whalegui.core.images import PhotoMeta, load_photo, model_decode_size, read_photo_bytes

log = logging.getLogger(__name__)

#: Photos embedded per batch during a bulk import or a re-embedding (also the unit of one import
#: transaction).
IMPORT_BATCH = 24


@dataclass
class PreparedPhoto:
    """A photo read, hashed and decoded (and, once :meth:`PhotoIntake.embed` ran, embedded)."""

    source: Path
    sha256: str
    data: bytes
    suffix: str  # what the stored copy is named with
    image: Image.Image
    meta: PhotoMeta
    original_name: str
    taken_at: datetime | None
    gps: tuple[float, float] | None
    embedding: np.ndarray | None = None


def decode_size(embedder: Embedder | None) -> tuple[int, int]:
    """The size photos are decoded at: the one the model's input is made from (as in training)."""
    if embedder is None:
        return (THUMB_SIZE, THUMB_SIZE)
    return model_decode_size(embedder.card.preprocessing)


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

    def prepare_new(self, paths: Sequence[Path], embedder: Embedder,
                    identified: Sequence[Identification] = ()) -> list[PreparedPhoto]:
        """Read, hash, decode and embed photos that are not catalogued yet; raise on the first unreadable
        (:class:`PhotoError`) or catalogued (:class:`DuplicatePhotoError`) one. A photo given twice is
        taken once. A path that is the ``query_path`` of one of ``identified`` (with the same bytes, when
        the identification knows their hash) takes that identification's embedding instead of being
        embedded again."""
        known = {Path(i.query_path): i for i in identified if i.query_path is not None}
        size = decode_size(embedder)
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
                item.embedding = _reusable(ident, sha, embedder.dim)
            prepared.append(item)
        self.embed(prepared, embedder)
        return prepared

    @staticmethod
    def embed(prepared: Sequence[PreparedPhoto], embedder: Embedder, batch_size: int = 16) -> None:
        """Embed the photos that have no embedding yet."""
        todo = [p for p in prepared if p.embedding is None]
        if not todo:
            return
        vectors = embedder.embed_images([p.image for p in todo], batch_size=batch_size)
        for item, vec in zip(todo, vectors, strict=True):
            item.embedding = vec

    def store(self, items: Sequence[tuple[PreparedPhoto, str]], *, create: Mapping[str, tuple[str, str]],
              action: str) -> list[int]:
        """Catalogue embedded photos, each under its whale id, creating the whales in ``create`` (id ->
        (name, notes)): files first, then one transaction, then the index. Returns the photo ids."""
        with self._store.lock:
            self._index.ensure()
            rows: list[PhotoRow] = []
            for p, whale_id in items:
                if p.embedding is None:
                    raise ValueError(f"{p.source} was not embedded")
                file = self._files.write_photo(p.sha256, p.suffix, p.data)
                thumb = self._files.write_thumb(p.image, p.sha256)
                rows.append(PhotoRow(p.sha256, whale_id, file, thumb, p.original_name, p.taken_at, p.gps,
                                     p.meta.width, p.meta.height, np.asarray(p.embedding)))
            ids, generation = self._store.insert_photos(rows, create=create, action=action)
            vectors = np.stack([r.embedding for r in rows]) if rows else np.zeros((0, 1), np.float32)
            self._index.apply(generation, add=(ids, vectors))
            return ids


def _reusable(ident: Identification, sha256: str, dim: int) -> np.ndarray | None:
    """The identification's embedding if it is one of this photo by this model's size, else None."""
    if ident.sha256 is not None and ident.sha256 != sha256:
        log.info("%s changed since it was identified: embedding it again", ident.query_path)
        return None
    vec = np.asarray(ident.embedding, dtype=np.float32).reshape(-1)
    if vec.shape[0] != dim:
        log.warning("the identification of %s has a %d-value embedding, the model makes %d: embedding it "
                    "again", ident.query_path, vec.shape[0], dim)
        return None
    return vec
