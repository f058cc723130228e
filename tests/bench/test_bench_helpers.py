"""The benchmark helpers measure what they say (tiny sizes; the benchmarks themselves are not tests)."""

from __future__ import annotations

import time

import numpy as np

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
