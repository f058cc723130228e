"""The photo index: an hnswlib (cosine) index over the gallery's photo embeddings, labelled by photo id.

``import hnswlib`` is Chroma's build of hnswlib 0.7 (``chroma-hnswlib``, which ships wheels) on CPython
3.10-3.12 and upstream hnswlib 0.8 elsewhere; this module uses only the API the two share.

It is a cache derived from SQLite. It is saved with a small JSON stamp beside it (``index.json``) that records
which state of the gallery it reflects and the sha256 of ``index.bin``, so a missing, stale, truncated or
otherwise corrupted index is detected *before* hnswlib reads it, and rebuilt from SQLite.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

log = logging.getLogger(__name__)

#: Graph degree and build-time search width. With EF_SEARCH below: recall@10 about 0.99 on 10,000 random
#: 128-d unit vectors (the hardest case; real embeddings cluster), about 1 ms a query.
M = 16
EF_CONSTRUCTION = 200
#: Query-time search width (raised to k when k is larger).
EF_SEARCH = 512
_MIN_CAPACITY = 64
INDEX_FORMAT = 1


class PhotoIndex:
    """Approximate nearest photos by cosine distance. Not thread-safe: the gallery serialises access."""

    def __init__(self, dim: int, capacity: int = _MIN_CAPACITY) -> None:
        self.dim = dim
        self._index: Any = hnswlib.Index(space="cosine", dim=dim)
        self._index.init_index(max_elements=max(capacity, _MIN_CAPACITY), ef_construction=EF_CONSTRUCTION,
                               M=M, random_seed=100)
        self._index.set_ef(EF_SEARCH)
        self._live = 0

    @classmethod
    def build(cls, ids: Sequence[int], vectors: np.ndarray, dim: int) -> PhotoIndex:
        index = cls(dim, capacity=max(len(ids) + len(ids) // 4, _MIN_CAPACITY))
        index.add(ids, vectors)
        return index

    def __len__(self) -> int:
        """The number of live (not deleted) photos."""
        return self._live

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        needed = self._index.get_current_count() + len(ids)
        capacity = self._index.get_max_elements()
        if needed > capacity:
            self._index.resize_index(max(needed, capacity * 2))
        self._index.add_items(vectors, np.asarray(ids, dtype=np.int64), num_threads=1)
        self._live += len(ids)

    def remove(self, ids: Sequence[int]) -> None:
        for label in ids:
            try:
                self._index.mark_deleted(int(label))
                self._live -= 1
            except RuntimeError:  # not in the index, or already deleted: nothing to remove
                log.debug("photo %s was not in the index", label)

    def labels(self) -> set[int]:
        """The ids of the live photos."""
        ids = set(map(int, self._index.get_ids_list()))
        deleted = _deleted_labels(self._index, ids)
        return ids - deleted

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        return np.asarray(self._index.get_items(list(ids)), dtype=np.float32)

    def query(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest photos (clamped to the photo count): (ids int64, cosine distances float32)."""
        k = min(k, self._live)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        self._index.set_ef(max(EF_SEARCH, k))
        labels, distances = self._index.knn_query(np.asarray(vector, np.float32).reshape(1, -1), k=k,
                                                  num_threads=1)
        return labels[0].astype(np.int64), np.maximum(distances[0], 0.0).astype(np.float32)

    def save(self, path: Path, stamp: dict[str, Any]) -> None:
        """Write ``path`` and its JSON stamp atomically (temp file + ``os.replace``, stamp last)."""
        tmp = path.with_name(path.name + ".tmp")
        self._index.save_index(str(tmp))
        _fsync_file(tmp)
        os.replace(tmp, path)
        record = dict(stamp, format=INDEX_FORMAT, dim=self.dim, count=self._live, sha256=_sha256(path))
        _write_json_atomic(stamp_path(path), record)

    @classmethod
    def load(cls, path: Path, stamp: dict[str, Any]) -> PhotoIndex:
        """Load ``path`` if its stamp matches ``stamp`` (and the file its recorded hash); else raise
        :class:`StaleIndexError` saying why."""
        try:
            record = json.loads(stamp_path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise StaleIndexError("no index stamp") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StaleIndexError(f"unreadable index stamp ({exc})") from exc
        if not isinstance(record, dict) or record.get("format") != INDEX_FORMAT:
            raise StaleIndexError("unknown index stamp format")
        for key, value in stamp.items():
            if record.get(key) != value:
                raise StaleIndexError(f"index is stale ({key} {record.get(key)!r}, gallery {value!r})")
        if not path.is_file():
            raise StaleIndexError("index file missing")
        if _sha256(path) != record.get("sha256"):
            raise StaleIndexError("index file does not match its stamp (truncated or corrupted)")
        dim = int(record["dim"])
        index = cls.__new__(cls)
        index.dim = dim
        index._index = hnswlib.Index(space="cosine", dim=dim)
        try:
            index._index.load_index(str(path))
        except (RuntimeError, MemoryError, ValueError) as exc:
            raise StaleIndexError(f"index file unreadable ({exc})") from exc
        index._index.set_ef(EF_SEARCH)
        index._live = len(index.labels())
        if index._live != record.get("count"):
            raise StaleIndexError("index holds a different number of photos than its stamp says")
        return index


class StaleIndexError(Exception):
    """The saved index cannot be used (missing, stale or corrupted); the reason is the message."""


def stamp_path(index_path: Path) -> Path:
    return index_path.with_suffix(".json")


def _deleted_labels(index: Any, ids: set[int]) -> set[int]:
    # hnswlib (0.7 and 0.8) exposes no list of deleted labels; a deleted label's get_items raises, a live
    # one does not.
    deleted: set[int] = set()
    for label in ids:
        try:
            index.get_items([label])
        except RuntimeError:
            deleted.add(label)
    return deleted


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def remove_index_files(path: Path) -> None:
    for p in (path, stamp_path(path)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
