"""Ranking by whale, the new-whale verdict, the Kaggle submission line and MAP@5."""

from __future__ import annotations

import pytest

from whalegui.core.identify import (
    NEW_WHALE,
    PhotoHit,
    average_precision_at_5,
    fuse_ranking,
    is_new_whale,
    kaggle_prediction,
    map_at_5,
    photos_to_verify,
    rank_by_whale,
)
from whalegui.core.verify import fused_distance


def test_rank_by_whale_keeps_each_whales_best_photo() -> None:
    hits = [PhotoHit(1, "a", 0.30), PhotoHit(2, "b", 0.10), PhotoHit(3, "a", 0.05), PhotoHit(4, "c", 0.40),
            PhotoHit(5, "b", 0.20)]
    ranked = rank_by_whale(hits)
    assert [(w.whale_id, w.distance, w.photo_id, w.hits) for w in ranked] == [
        ("a", 0.05, 3, 2), ("b", 0.10, 2, 2), ("c", 0.40, 4, 1)]
    assert [w.whale_id for w in rank_by_whale(hits, top=2)] == ["a", "b"]
    assert rank_by_whale([]) == []


def test_the_nearest_photos_of_the_nearest_whales_are_verified() -> None:
    hits = [PhotoHit(i, w, d) for i, (w, d) in enumerate(
        [("a", 0.1), ("b", 0.2), ("a", 0.25), ("a", 0.3), ("a", 0.35), ("c", 0.4), ("b", 0.5)])]
    ranked = rank_by_whale(hits)
    chosen = photos_to_verify(ranked, hits, candidates=2, per_whale=3)
    assert [(h.whale_id, h.photo_id) for h in chosen] == [("a", 0), ("b", 1), ("a", 2), ("a", 3), ("b", 6)]
    assert photos_to_verify(ranked, hits, candidates=0) == []


def test_fusion_re_ranks_by_inlier_evidence() -> None:
    hits = [PhotoHit(1, "a", 0.10), PhotoHit(2, "b", 0.20), PhotoHit(3, "b", 0.22), PhotoHit(4, "c", 0.30)]
    ranked = rank_by_whale(hits)
    inliers = {1: 0, 2: 5, 3: 40}  # whale c was not verified
    fused = fuse_ranking(ranked, hits, inliers, weight=0.1)
    assert [f.whale_id for f in fused] == ["b", "a", "c"]
    b, a, c = fused
    assert (b.photo_id, b.embedding_distance, b.inliers) == (3, 0.22, 40)  # its best fused photo, not nearest
    assert b.distance == pytest.approx(fused_distance(0.22, 40, 0.1))
    assert (a.distance, a.embedding_distance, a.inliers) == (0.10, 0.10, 0)
    assert (c.distance, c.inliers) == (0.30, None)
    alone = fuse_ranking(ranked, hits, inliers, weight=0.0, top=2)
    assert [(f.whale_id, f.distance) for f in alone] == [("a", 0.10), ("b", 0.20)]


def test_rank_by_whale_breaks_ties_by_id() -> None:
    ranked = rank_by_whale([PhotoHit(1, "z", 0.2), PhotoHit(2, "m", 0.2)])
    assert [w.whale_id for w in ranked] == ["m", "z"]


def test_new_whale_verdict() -> None:
    assert is_new_whale([], 0.3)
    assert is_new_whale([0.31, 0.5], 0.3)
    assert not is_new_whale([0.3, 0.5], 0.3)


@pytest.mark.parametrize(("distances", "expected"), [
    ([0.1, 0.2, 0.5, 0.6, 0.7], ["a", "b", NEW_WHALE, "c", "d"]),
    ([0.5, 0.6], [NEW_WHALE, "a", "b"]),
    ([0.1, 0.2], ["a", "b", NEW_WHALE]),
    ([0.1, 0.1, 0.1, 0.1, 0.1], ["a", "b", "c", "d", "e"]),
    ([0.1, 0.1, 0.1, 0.1, 0.9], ["a", "b", "c", "d", NEW_WHALE]),
    ([], [NEW_WHALE]),
])
def test_kaggle_prediction_inserts_new_whale_at_the_threshold(distances: list[float],
                                                              expected: list[str]) -> None:
    ranked = list(zip("abcde", distances, strict=False))
    assert kaggle_prediction(ranked, 0.3) == expected


def test_map_at_5() -> None:
    assert average_precision_at_5("a", ["a", "b"]) == 1.0
    assert average_precision_at_5("b", ["a", "b"]) == 0.5
    assert average_precision_at_5("f", ["a", "b", "c", "d", "e", "f"]) == 0.0
    assert average_precision_at_5("b", ["a", "a", "b"]) == 0.5  # a repeated label counts once
    truth = {"1.jpg": "a", "2.jpg": "new_whale", "3.jpg": "c", "4.jpg": "d"}
    predictions = {"1.jpg": ["a"], "2.jpg": ["x", "new_whale"], "3.jpg": ["x", "y", "c"]}
    assert map_at_5(truth, predictions) == pytest.approx((1 + 0.5 + 1 / 3 + 0) / 4)
    assert map_at_5({}, {}) == 0.0
