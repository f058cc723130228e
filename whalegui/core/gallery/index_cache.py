"""The gallery's index cache: the hnswlib photo index kept in step with SQLite, or rebuilt from it.

The index is derived data. Its stamp (``index.json``) records the gallery id, the index generation of the
database it reflects and the model's fingerprint; an index whose stamp differs, whose file does not match
its hash, or whose photo count differs from the database's is rebuilt from the stored embeddings. A change
is applied to the loaded index after its SQLite transaction commits; if that fails the index is dropped and
rebuilt on next use (the database is already right).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from whalegui.core.gallery.store import GalleryStore
from whalegui.core.index import PhotoIndex, StaleIndexError, remove_index_files, stamp_path

log = logging.getLogger(__name__)

INDEX_NAME = "index.bin"
#: The index's stamp file, beside it.
INDEX_STAMP_NAME = stamp_path(Path(INDEX_NAME)).name


class IndexCache:
    """The photo index of the gallery whose database is ``store``: loaded once, updated, saved, rebuilt.

    ``fallback_dim`` sizes the index of a gallery that holds no embeddings yet. Saving is skipped for a
    read-only gallery. Every method holds the store's lock.
    """

    def __init__(self, store: GalleryStore, *, readonly: bool, fallback_dim: int) -> None:
        self._store = store
        self._readonly = readonly
        self._fallback_dim = fallback_dim
        self._index: PhotoIndex | None = None
        self._generation = -1
        self.path = store.folder / INDEX_NAME

    def stamp(self) -> dict[str, Any]:
        """What the saved index must record to be used for the database's current state."""
        return {"gallery_id": self._store.gallery_id, "generation": self._store.index_generation,
                "model_fingerprint": self._store.model.fingerprint}

    def ensure(self) -> PhotoIndex:
        """The index reflecting the database's current state: the loaded one, the saved one, or rebuilt."""
        with self._store.lock:
            generation = self._store.index_generation
            if self._index is not None and self._generation == generation:
                return self._index
            try:
                self._index = self.load_saved()
                if self._index.dim != self._store.model.dim or len(self._index) != self._store.photo_count():
                    raise StaleIndexError("index does not match the database's photo count")
                self._generation = generation
                return self._index
            except StaleIndexError as exc:
                return self.rebuild(str(exc), quiet=self._store.photo_count() == 0)

    def load_saved(self) -> PhotoIndex:
        """The index saved on disk, if its stamp matches the database; else :class:`StaleIndexError`."""
        return PhotoIndex.load(self.path, self.stamp())

    def rebuild(self, reason: str, *, quiet: bool = False) -> PhotoIndex:
        """Build the index from the stored embeddings and save it (a failed save is only logged)."""
        with self._store.lock:
            generation = self._store.index_generation
            dim = self._store.model.dim or self._fallback_dim
            ids, vectors = self._store.all_embeddings(dim)
            index = PhotoIndex.build(ids, vectors, dim)
            (log.info if quiet else log.warning)(
                "rebuilt the photo index of %s from the database (%d photos): %s", self._store.folder,
                len(ids), reason)
            if not self._readonly:
                try:
                    index.save(self.path, self.stamp())
                except OSError as exc:
                    log.warning("could not save the photo index (%s); it will be rebuilt next time", exc)
            self._index = index
            self._generation = generation
            return index

    def apply(self, generation: int, *, add: tuple[Sequence[int], np.ndarray] | None = None,
              remove: Sequence[int] = ()) -> None:
        """Apply a committed change (which made index generation ``generation``) and save the index.

        Only an index that reflected the state just before the change is updated; otherwise, or when the
        update fails, the index is dropped and rebuilt on next use.
        """
        with self._store.lock:
            try:
                index = self._index
                if index is None or self._generation != generation - 1:
                    self._index = None
                    return
                if add is not None:
                    index.add(add[0], add[1])
                if remove:
                    index.remove(remove)
                self._generation = generation
                index.save(self.path, self.stamp())
            except (OSError, RuntimeError) as exc:
                log.warning("could not update the photo index (%s); it will be rebuilt from the database",
                            exc)
                self._index = None

    def drop(self, *, remove_files: bool = False) -> None:
        """Forget the loaded index (and delete the saved one): the next use rebuilds it."""
        with self._store.lock:
            self._index = None
            if remove_files:
                remove_index_files(self.path)
