"""Crash safety: a process killed with SIGKILL while it enrolls and imports loses nothing it reported done.

Three fast trials of ``bench/crash_trials.py`` (which runs 30 or more): each runs a real child process on one
growing gallery (real SQLite, hnswlib, ONNX Runtime with the tiny model, real JPEGs) and kills it.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench.crash_trials import run_trial
from tests.models import make_tiny_model


@pytest.mark.slow
def test_killed_writers_lose_nothing_they_reported(tmp_path: Path) -> None:
    model = make_tiny_model(tmp_path / "model")
    gallery, work = tmp_path / "gallery", tmp_path / "work"
    work.mkdir()
    expected: dict[str, str] = {}
    rng = random.Random(7)
    trials = [
        # After the first enrollment's commit, before its index save (the first save is the empty index):
        # the saved index is stale, and must be rebuilt from SQLite.
        ("step", {"target": "whalegui.core.index:PhotoIndex.save", "n": 2, "when": "before"}),
        # Half-way through writing a photo file (after its temp file's fsync, before the rename).
        ("step", {"target": "os:replace", "n": 5, "when": "before"}),
        # A random moment, after some operations.
        ("timer", None),
    ]
    number = 0
    for mode, kill in trials:
        # A timer may fire after the child's last operation (a quiet machine, a short last step): that trial
        # still has to lose nothing, and the next one tries again, up to three times.
        for _attempt in range(3 if mode == "timer" else 1):
            result = run_trial(number, gallery, model, work, expected, rng, mode=mode, n_ops=4, kill=kill)
            number += 1
            if result.killed:
                break
            assert result.verdict.ok, result.verdict
        v = result.verdict
        assert result.killed, f"trial {number - 1}: the child finished before it was killed"
        assert v.opened and not v.lost and not v.duplicates and not v.half_made, v
        assert not v.index_problems and not v.problems_after, v
        assert v.ok
        assert len(expected) <= v.photos
        if number == 1:  # committed, not yet reported: kept, and the stale index was noticed and rebuilt
            assert v.photos > 0 and not expected
            assert any(p.startswith("index: index is stale") for p in v.problems_before), v.problems_before


@pytest.mark.slow
def test_killed_merges_lose_nothing_and_a_rerun_finishes(tmp_path: Path) -> None:
    from bench.crash_merge import run_merge_trial, seed_mine

    model = make_tiny_model(tmp_path / "model")
    mine, work = tmp_path / "mine", tmp_path / "work"
    work.mkdir()
    expected: dict[str, str] = {}
    seed_mine(mine, model, work, expected)
    rng = random.Random(3)
    kills = [{"target": "os:replace", "n": 5, "when": "before"},  # between a photo's files and the commit
             {"target": "whalegui.core.index:PhotoIndex.save", "n": 1, "when": "after"}]  # after a commit
    for trial, kill in enumerate(kills):
        r = run_merge_trial(trial, mine, model, work, expected, rng, mode="step", kill=kill)
        assert r.killed, f"merge trial {trial}: the child finished before it was killed"
        assert r.after_kill.ok, r.after_kill
        assert not r.lost_after_rerun and not r.split and not r.other_changed and r.check_exit == 0, r
        assert r.conflicts == 1
        assert r.rerun_new > 0 if trial == 0 else r.rerun_new == 0  # the index is saved after the commit
