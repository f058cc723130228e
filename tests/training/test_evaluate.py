"""Training's evaluation ranks whales as the app does (:func:`whalegui.core.identify.rank_by_whale`)."""

from __future__ import annotations

import numpy as np

from training.evaluate import rank_whales, score
from whalegui.core.identify import PhotoHit, rank_by_whale
from whalegui.core.records import NEW_WHALE


def _unit(rng: np.random.Generator, n: int, dim: int = 8) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    unit: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return unit


def test_rank_whales_is_the_apps_ranking_over_every_gallery_photo() -> None:
    rng = np.random.default_rng(0)
    gallery, query = _unit(rng, 30), _unit(rng, 6)
    ids = [f"w_{i % 7}" for i in range(30)]
    ranked = rank_whales(query, gallery, ids)
    dist = 1.0 - query @ gallery.T
    for q in range(len(query)):
        app = rank_by_whale(PhotoHit(j, ids[j], float(dist[q, j])) for j in range(len(ids)))
        assert [w for w, _ in ranked[q]] == [h.whale_id for h in app]
        np.testing.assert_allclose([d for _, d in ranked[q]], [h.distance for h in app], atol=1e-6)


def test_ties_are_broken_by_whale_id_and_an_empty_gallery_ranks_nothing() -> None:
    same = np.array([[1.0, 0.0]], np.float32)
    ranked = rank_whales(same, np.repeat(same, 3, axis=0), ["w_c", "w_a", "w_b"])
    assert [w for w, _ in ranked[0]] == ["w_a", "w_b", "w_c"]
    assert rank_whales(same, np.zeros((0, 2), np.float32), []) == [[]]


def test_score_counts_new_whale_at_the_threshold() -> None:
    ranked = [[("w_1", 0.1), ("w_2", 0.9)], [("w_1", 0.8), ("w_2", 0.9)]]
    result = score(ranked, ["w_1", NEW_WHALE], threshold=0.5)
    assert result["map5"] == 1.0 and result["top1_known"] == 1.0
