"""Ranking and scoring: nearest photos -> candidates by whale, the "likely new whale" verdict, the Kaggle
submission line and MAP@5.

Pure functions over plain values, so the gallery, the CLI, the benchmarks and training's evaluation all rank
and score the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from whalegui.core.images import PhotoMeta
from whalegui.core.records import NEW_WHALE, PhotoRecord


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
class Candidate:
    """A whale that may be the query's, with the distance of its best-matching photo."""

    whale_id: str
    name: str
    distance: float  # cosine distance, 0 (same) .. 2 (opposite); comparable across queries
    photo: PhotoRecord  # the whale's best-matching photo
    photo_count: int
    last_seen: datetime | None


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


__all__ = ["NEW_WHALE", "Candidate", "Identification", "PhotoHit", "PhotoMatch", "WhaleHit",
           "average_precision_at_5", "is_new_whale", "kaggle_prediction", "map_at_5", "rank_by_whale"]
