"""Searching the gallery: a query's analysis -> the nearest photos -> candidates ranked by whale, verified by
local features and re-ranked (:func:`search`).

The ranking, the fusion and the new-whale verdict are :mod:`whalegui.core.identify`'s; this module fetches
the nearest photos from the index (enough of them for the wanted number of distinct whales), the stored
local features of the photos to verify, and fills in the catalogue's records.
"""

from __future__ import annotations

import time

import numpy as np

from whalegui.core.errors import GalleryError
from whalegui.core.gallery.derived_store import DerivedStore
from whalegui.core.gallery.index_cache import IndexCache
from whalegui.core.gallery.store import GalleryStore
from whalegui.core.identify import (
    Candidate,
    FusedHit,
    Identification,
    PhotoHit,
    PhotoMatch,
    fuse_ranking,
    is_new_whale,
    photos_to_verify,
    rank_by_whale,
)
from whalegui.core.model_card import VerificationSettings
from whalegui.core.records import PhotoRecord
from whalegui.core.sightings import Sighting
from whalegui.core.verify import LocalFeatures, verify

#: Nearest photos fetched per wanted whale (a whale may have many photos among the nearest).
OVERSAMPLE = 10


def search(store: GalleryStore, index: IndexCache, vec: np.ndarray, *, top: int, threshold: float,
           exclude_photo: int | None = None, features: LocalFeatures | None = None,
           verification: VerificationSettings | None = None) -> Identification:
    """Rank the gallery's whales for an embedding (nearest first) and give the new-whale verdict.

    With the query's ``features`` and ``verification`` enabled, the ``verification.candidates`` nearest
    whales are verified against their nearest photos' stored features and re-ranked by fused distance,
    on which the verdict is given. ``exclude_photo`` leaves one photo out (searching with a catalogued
    photo's own embedding).
    """
    vec = np.asarray(vec, dtype=np.float32).reshape(-1)
    dim = store.model.dim
    if dim == 0:  # never held a photo (or a read-only gallery that has not adopted a model): no candidates
        return Identification(None, vec, [], True, float(threshold), features=features)
    if vec.shape[0] != dim:
        raise GalleryError(f"embedding has {vec.shape[0]} values, the gallery's have {dim}")
    weight = verification.weight if verification is not None and features is not None else 0.0
    to_verify = verification.candidates if verification is not None and weight > 0 else 0
    wanted = max(top, to_verify)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with store.lock:
        photo_index = index.ensure()
        total = len(photo_index)
        k = min(total, max(wanted * OVERSAMPLE, 50))
        while True:
            ids, dists = photo_index.query(vec, k + (1 if exclude_photo is not None else 0))
            owners = store.whale_of(ids.tolist())
            hits = [PhotoHit(int(i), owners[int(i)], float(d)) for i, d in zip(ids, dists, strict=True)
                    if int(i) in owners and int(i) != exclude_photo]
            ranked = rank_by_whale(hits, wanted)
            if len(ranked) >= wanted or k >= total:
                break
            k = min(total, k * 4)
        inliers: dict[int, int] = {}
        timings["search"] = 1000 * (time.perf_counter() - started)
        if to_verify and features is not None:
            started = time.perf_counter()
            chosen = photos_to_verify(ranked, hits, to_verify)
            stored = DerivedStore(store).features([h.photo_id for h in chosen])
            inliers = {h.photo_id: verify(features, stored[h.photo_id]).inliers if h.photo_id in stored else 0
                       for h in chosen}
            timings["verify"] = 1000 * (time.perf_counter() - started)
        fused = fuse_ranking(ranked, hits, inliers, weight, top)
        records = store.photos_by_id([h.photo_id for h in hits])
        stats = store.whale_stats([w.whale_id for w in fused])
        candidates = [_candidate(w, records[w.photo_id], stats[w.whale_id]) for w in fused]
        matches = [PhotoMatch(records[h.photo_id], h.distance) for h in hits[: max(top * OVERSAMPLE, 50)]]
    verdict = is_new_whale([c.distance for c in candidates], threshold)
    return Identification(None, vec, candidates, verdict, float(threshold), photo_matches=matches,
                          features=features, fingerprint=store.model.fingerprint, timings=timings)


def _candidate(w: FusedHit, photo: PhotoRecord, stats: tuple[str, int, Sighting | None]) -> Candidate:
    name, count, last = stats
    return Candidate(w.whale_id, name, w.distance, photo, count, last.moment() if last else None,
                     w.embedding_distance, w.inliers, last.where() if last else "")
