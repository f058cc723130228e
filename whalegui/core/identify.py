"""Ranking and scoring: nearest photos -> candidates by whale, re-ranked by local-feature verification, the
"likely new whale" verdict, the Kaggle submission line and MAP@5.

Identification is a pipeline: the query's fluke is found and embedded, the nearest photos are ranked by
whale (:func:`rank_by_whale`), the nearest few whales are verified against a few of their nearest photos
(:func:`photos_to_verify`), and their embedding distance is fused with the inlier evidence
(:func:`fuse_ranking`); the new-whale verdict is given on the fused distance.

Pure functions over plain values, so the gallery, the CLI, the benchmarks and training's evaluation all rank
and score the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from whalegui.core.fluke import Fluke
from whalegui.core.images import PhotoMeta
from whalegui.core.records import NEW_WHALE, PhotoRecord
from whalegui.core.verify import LocalFeatures, fused_distance

#: Photos of one candidate whale verified against the query: its nearest ones (one more photo of the same
#: whale seldom changes the verdict, and each costs a match).
PHOTOS_PER_CANDIDATE = 3


@dataclass(frozen=True)
class PhotoHit:
    """One nearest photo: its id, its whale and its cosine distance to the query."""

    photo_id: int
    whale_id: str
    distance: float


@dataclass(frozen=True)
class WhaleHit:
    """A whale ranked by the distance of its best-matching photo."""

    whale_id: str
    distance: float
    photo_id: int  # the best-matching photo
    hits: int  # how many of the whale's photos were among the nearest


@dataclass(frozen=True)
class FusedHit:
    """A whale ranked by its fused distance: the embedding's cosine distance of its best-matching photo,
    lowered by the inliers of that photo's verification (``inliers`` None: not verified)."""

    whale_id: str
    distance: float
    embedding_distance: float
    photo_id: int
    inliers: int | None


@dataclass(frozen=True)
class Candidate:
    """A whale that may be the query's, ranked by ``distance``: the fused distance of its best-matching
    photo (the embedding's cosine distance, 0 same .. 2 opposite, lowered by the geometric evidence; the
    cosine distance itself when verification is off). ``embedding_distance`` and ``inliers`` are that
    photo's (``inliers`` None when it was not verified)."""

    whale_id: str
    name: str
    distance: float
    photo: PhotoRecord  # the whale's best-matching photo
    photo_count: int
    last_seen: datetime | None
    embedding_distance: float
    inliers: int | None = None
    last_place: str = ""  # where it was last seen (a place name or a position), '' when unknown


@dataclass(frozen=True)
class PhotoMatch:
    """One entry of the per-photo ranking."""

    photo: PhotoRecord
    distance: float


@dataclass
class Identification:
    """The answer to "who is this whale?" for one query."""

    query_path: Path | None
    embedding: np.ndarray
    candidates: list[Candidate]
    new_whale: bool
    threshold: float
    duplicate_of: PhotoRecord | None = None
    meta: PhotoMeta | None = None
    photo_matches: list[PhotoMatch] = field(default_factory=list)  # the per-photo ranking, nearest first
    sha256: str | None = None  # of the query file's bytes, when identified from a file
    fluke: Fluke | None = None  # where the query's fluke is, in the query photo's full-resolution pixels
    features: LocalFeatures | None = None  # the query's local features (for verification and the overlay)
    fingerprint: str = ""  # of the models that made ``embedding``, ``fluke`` and ``features``
    #: Milliseconds per stage: read (read, hash, decode), detect, embed, features, search, verify.
    timings: dict[str, float] = field(default_factory=dict)


def rank_by_whale(hits: Iterable[PhotoHit], top: int | None = None) -> list[WhaleHit]:
    """Aggregate photo hits by whale (minimum distance, keeping the best photo); nearest whale first.

    Ties are broken by whale id so the ranking is deterministic.
    """
    best: dict[str, PhotoHit] = {}
    counts: dict[str, int] = {}
    for hit in hits:
        counts[hit.whale_id] = counts.get(hit.whale_id, 0) + 1
        current = best.get(hit.whale_id)
        if current is None or (hit.distance, hit.photo_id) < (current.distance, current.photo_id):
            best[hit.whale_id] = hit
    ranked = sorted(best.values(), key=lambda h: (h.distance, h.whale_id))
    if top is not None:
        ranked = ranked[:top]
    return [WhaleHit(h.whale_id, h.distance, h.photo_id, counts[h.whale_id]) for h in ranked]


def photos_to_verify(ranked: Sequence[WhaleHit], hits: Sequence[PhotoHit], candidates: int,
                     per_whale: int = PHOTOS_PER_CANDIDATE) -> list[PhotoHit]:
    """The photos to verify: up to ``per_whale`` nearest photos of each of the ``candidates`` nearest
    whales, nearest first."""
    wanted = {w.whale_id for w in ranked[:candidates]}
    taken: dict[str, int] = {}
    out: list[PhotoHit] = []
    for hit in sorted(hits, key=lambda h: (h.distance, h.photo_id)):
        if hit.whale_id in wanted and taken.get(hit.whale_id, 0) < per_whale:
            taken[hit.whale_id] = taken.get(hit.whale_id, 0) + 1
            out.append(hit)
    return out


def fuse_ranking(ranked: Sequence[WhaleHit], hits: Sequence[PhotoHit], inliers: Mapping[int, int],
                 weight: float, top: int | None = None) -> list[FusedHit]:
    """Re-rank whales by fused distance: each verified whale by its verified photo (``inliers``: photo id
    -> inlier count) with the lowest :func:`~whalegui.core.verify.fused_distance`; a whale none of whose
    photos was verified keeps its embedding distance. Nearest first, ties by whale id."""
    by_whale: dict[str, list[PhotoHit]] = {}
    for hit in hits:
        if hit.photo_id in inliers:
            by_whale.setdefault(hit.whale_id, []).append(hit)
    fused: list[FusedHit] = []
    for whale in ranked:
        verified = by_whale.get(whale.whale_id)
        if not verified:
            fused.append(FusedHit(whale.whale_id, whale.distance, whale.distance, whale.photo_id, None))
            continue
        best = min(verified, key=lambda h: (fused_distance(h.distance, inliers[h.photo_id], weight),
                                            h.distance, h.photo_id))
        fused.append(FusedHit(whale.whale_id, fused_distance(best.distance, inliers[best.photo_id], weight),
                              best.distance, best.photo_id, inliers[best.photo_id]))
    fused.sort(key=lambda f: (f.distance, f.whale_id))
    return fused[:top] if top is not None else fused


def is_new_whale(distances: Sequence[float], threshold: float) -> bool:
    """The verdict: likely a new whale when there is no candidate or the nearest is beyond the threshold."""
    return len(distances) == 0 or float(distances[0]) > threshold


def kaggle_prediction(ranked: Sequence[tuple[str, float]], threshold: float, k: int = 5) -> list[str]:
    """Up to ``k`` labels for a submission line: the ranked whale ids with ``new_whale`` inserted before the
    first candidate farther than ``threshold`` (appended when all are nearer and there is room)."""
    labels: list[str] = []
    inserted = False
    for whale_id, distance in ranked:
        if not inserted and distance > threshold:
            labels.append(NEW_WHALE)
            inserted = True
        if whale_id != NEW_WHALE:
            labels.append(whale_id)
    if not inserted:
        labels.append(NEW_WHALE)
    return labels[:k]


def average_precision_at_5(truth: str, predicted: Sequence[str]) -> float:
    """1/rank of the true label among the first 5 predictions (each counted once), else 0."""
    seen: list[str] = []
    for label in predicted:
        if label in seen:
            continue
        seen.append(label)
        if len(seen) > 5:
            break
        if label == truth:
            return 1.0 / len(seen)
    return 0.0


def map_at_5(truth: Mapping[str, str], predictions: Mapping[str, Sequence[str]]) -> float:
    """The competition's MAP@5 over every image in ``truth`` (a missing prediction scores 0)."""
    if not truth:
        return 0.0
    total = sum(average_precision_at_5(label, predictions.get(image, ())) for image, label in truth.items())
    return total / len(truth)


__all__ = ["NEW_WHALE", "PHOTOS_PER_CANDIDATE", "Candidate", "FusedHit", "Identification", "PhotoHit",
           "PhotoMatch", "WhaleHit", "average_precision_at_5", "fuse_ranking", "is_new_whale",
           "kaggle_prediction", "map_at_5", "photos_to_verify", "rank_by_whale"]
