"""Searching the gallery: an embedding -> the nearest photos -> candidates ranked by whale (:func:`search`).

The ranking and the new-whale verdict are :mod:`whalegui.core.identify`'s; this module fetches the nearest
photos from the index, enough of them for ``top`` distinct whales, and fills in the catalogue's records.
"""

from __future__ import annotations

import numpy as np

from whalegui.core.errors import GalleryError
from whalegui.core.gallery.index_cache import IndexCache
from whalegui.core.gallery.store import GalleryStore
from whalegui.core.identify import (
    Candidate,
    Identification,
    PhotoHit,
    PhotoMatch,
    is_new_whale,
    rank_by_whale,
)

#: Nearest photos fetched per wanted whale (a whale may have many photos among the nearest).
OVERSAMPLE = 10


def search(store: GalleryStore, index: IndexCache, vec: np.ndarray, *, top: int, threshold: float,
           exclude_photo: int | None = None) -> Identification:
    """Rank the gallery's whales for an embedding (nearest first) and give the new-whale verdict.

    ``exclude_photo`` leaves one photo out (searching with a catalogued photo's own embedding).
    """
    vec = np.asarray(vec, dtype=np.float32).reshape(-1)
    dim = store.model.dim
    if dim == 0:  # never held a photo (or a read-only gallery that has not adopted a model): no candidates
        return Identification(None, vec, [], True, float(threshold))
    if vec.shape[0] != dim:
        raise GalleryError(f"embedding has {vec.shape[0]} values, the gallery's have {dim}")
    with store.lock:
        photo_index = index.ensure()
        total = len(photo_index)
        k = min(total, max(top * OVERSAMPLE, 50))
        while True:
            ids, dists = photo_index.query(vec, k + (1 if exclude_photo is not None else 0))
            owners = store.whale_of(ids.tolist())
            hits = [PhotoHit(int(i), owners[int(i)], float(d)) for i, d in zip(ids, dists, strict=True)
                    if int(i) in owners and int(i) != exclude_photo]
            ranked = rank_by_whale(hits, top)
            if len(ranked) >= top or k >= total:
                break
            k = min(total, k * 4)
        records = store.photos_by_id([h.photo_id for h in hits])
        stats = store.whale_stats([w.whale_id for w in ranked])
        candidates = [Candidate(w.whale_id, stats[w.whale_id][0], w.distance, records[w.photo_id],
                                stats[w.whale_id][1], stats[w.whale_id][2]) for w in ranked]
        matches = [PhotoMatch(records[h.photo_id], h.distance) for h in hits[: max(top * OVERSAMPLE, 50)]]
    verdict = is_new_whale([c.distance for c in candidates], threshold)
    return Identification(None, vec, candidates, verdict, float(threshold), photo_matches=matches)
