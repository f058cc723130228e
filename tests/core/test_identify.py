"""Ranking by whale, the new-whale verdict, the Kaggle submission line and MAP@5."""

from __future__ import annotations

import pytest

from whalegui.core.identify import (
    NEW_WHALE,
    PhotoHit,
    average_precision_at_5,
    is_new_whale,
    kaggle_prediction,
    map_at_5,
    rank_by_whale,
)


def test_rank_by_whale_keeps_each_whales_best_photo() -> None:
    hits = [PhotoHit(1, "a", 0.30), PhotoHit(2, "b", 0.10), PhotoHit(3, "a", 0.05), PhotoHit(4, "c", 0.40),
            PhotoHit(5, "b", 0.20)]
    ranked = rank_by_whale(hits)
    assert [(w.whale_id, w.distance, w.photo_id, w.hits) for w in ranked] == [
        ("a", 0.05, 3, 2), ("b", 0.10, 2, 2), ("c", 0.40, 4, 1)]
    assert [w.whale_id for w in rank_by_whale(hits, top=2)] == ["a", "b"]
    assert rank_by_whale([]) == []


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
