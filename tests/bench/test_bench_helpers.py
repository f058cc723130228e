"""The benchmark helpers measure what they say (tiny sizes; the benchmarks themselves are not tests)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from bench.common import Result, Timing, paired
from bench.run import format_table
from bench.search_scale import bench_size, clustered_vectors, exact_topk


def test_paired_ratio_says_how_many_times_faster_b_is() -> None:
    p = paired(lambda: time.sleep(0.004), lambda: time.sleep(0.001), reps=3, warmup=0)
    assert len(p.ratios) == 3
    assert 1.5 < p.ratio < 6


def test_timing_percentiles() -> None:
    t = Timing([0.1, 0.2, 0.3, 0.4, 0.5])
    assert t.median == 0.3
    assert abs(t.pct(95) - 0.48) < 1e-9
    assert t.pct(0) == 0.1


def test_clustered_vectors_are_unit_length_and_clustered() -> None:
    v, centres = clustered_vectors(500, 16, seed=0, per_cluster=10)
    assert v.shape == (500, 16) and centres.shape == (50, 16)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    nearest_centre = (v @ centres.T).max(axis=1)
    assert np.median(nearest_centre) > 0.8  # each vector lies near one centre


def test_exact_topk_matches_brute_force() -> None:
    v, c = clustered_vectors(300, 8, seed=1)
    q, _ = clustered_vectors(7, 8, seed=2, centres=c)
    top = exact_topk(v, q, k=5, chunk=3)
    want = np.argsort(-(q @ v.T), axis=1)[:, :5]
    np.testing.assert_array_equal(top, want)


def test_search_benchmark_runs_on_a_tiny_index() -> None:
    log: list[str] = []
    d = bench_size(2_000, 16, n_queries=50, latency_queries=20, sweep=(16,), log=log)
    assert d["recall_at_10"] >= 0.95
    assert d["ratio_median"] > 0 and d["index_file_bytes"] > 0
    assert log


def test_table_marks_bars() -> None:
    rows = [Result("x", "fast", "3.0x", ">= 2x", True), Result("x", "slow", "1.0x", ">= 2x", False),
            Result("x", "later", "-", "", None, "not measured here")]
    text = format_table(rows)
    assert "| met" in text and "NOT met" in text and "skipped: not measured here" in text


def test_synthetic_gallery_stores_features_that_identify_verifies(tmp_path: Path) -> None:
    import sqlite3

    from bench.galleries import app_model, build_gallery
    from bench.identify import write_scene_query
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import DB_NAME, Gallery

    model = app_model(tmp_path)
    if model.stand_in:
        pytest.skip("the bundled models are not here (the stand-in model does no verification)")
    build_gallery(tmp_path / "gallery", model.path, 40)
    with sqlite3.connect(tmp_path / "gallery" / DB_NAME) as conn:
        assert conn.execute("SELECT COUNT(*) FROM features").fetchone()[0] == 40
        assert conn.execute("SELECT COUNT(*) FROM photos WHERE box_source IS NULL").fetchone()[0] == 0
    query = write_scene_query(tmp_path / "q.jpg", seed=0, width=1300)
    embedder = Embedder(model.path, device="cpu")
    assert embedder.card.verification is not None and embedder.card.verification.candidates >= 5
    with Gallery.open(tmp_path / "gallery", embedder, readonly=True) as g:
        ident = g.identify(query, top=5)
    assert ident.candidates and all(c.inliers is not None for c in ident.candidates)
    # A photo without stored features verifies with 0 inliers; matching against stored ones finds some.
    assert max(c.inliers or 0 for c in ident.candidates) > 0
    assert ident.timings["verify"] > 0
