"""The by-whale split of the real labelled photos and its metrics (:mod:`training.real_split`), on a
labels.csv written here and on rankings made by hand."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from training.real_split import (
    Photos,
    Ranking,
    choose_threshold,
    make_eval_set,
    map5,
    score,
    split_whales,
    standard,
)
from whalegui.core.identify import kaggle_prediction, map_at_5
from whalegui.core.records import NEW_WHALE


def write_labels(root: Path, photos_per_whale: list[int]) -> Path:
    """``root/labels.csv`` naming ``images/pNNNN.jpg`` (the files need not exist to be split)."""
    root.mkdir(parents=True, exist_ok=True)
    rows, n = [], 0
    for w, count in enumerate(photos_per_whale):
        for _ in range(count):
            rows.append((f"p{n:04d}.jpg", f"w_{w:07x}"))
            n += 1
    rng = np.random.default_rng(0)
    rows = [rows[i] for i in rng.permutation(len(rows))]  # a whale's photos are not adjacent in the file
    with (root / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Image", "Id"])
        writer.writerows(rows)
    return root


@pytest.fixture
def photos(tmp_path: Path) -> Photos:
    # 60 multi-photo whales (2-5 photos) and 40 single-photo whales
    return Photos.load(write_labels(tmp_path / "real", [2 + w % 4 for w in range(60)] + [1] * 40))


def test_photos_load_in_file_order_under_images(photos: Photos, tmp_path: Path) -> None:
    with (tmp_path / "real" / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert photos.paths == [tmp_path / "real" / "images" / r["Image"] for r in rows]
    assert photos.whales == [r["Id"] for r in rows]
    assert sum(len(v) for v in photos.by_whale().values()) == len(rows) and len(photos.by_whale()) == 100


def test_whales_not_photos_are_split_and_each_kind_by_the_same_fractions(photos: Photos) -> None:
    split = split_whales(photos, seed=3)
    parts = [split.train, split.val, split.test]
    for i, a in enumerate(parts):
        for b in parts[i + 1:]:
            assert not a & b
    assert split.train | split.val | split.test == set(photos.whales)
    groups = photos.by_whale()
    multi = {w for w, idx in groups.items() if len(idx) >= 2}
    assert len(split.test & multi) == 15 and len(split.test - multi) == 10  # 25 % of 60 and of 40
    assert len(split.val & multi) == 9 and len(split.val - multi) == 6  # 15 %
    assert split.part("val") is split.val
    assert split_whales(photos, seed=3) == split and split_whales(photos, seed=4) != split


def test_an_evaluation_set_hides_unknown_whales_from_the_gallery(photos: Photos) -> None:
    split = split_whales(photos, seed=3)
    groups = photos.by_whale()
    for part in (split.val, split.test):
        ev = make_eval_set(photos, part)
        gallery_whales = {photos.whales[i] for i in ev.gallery}
        query_whales = [photos.whales[i] for i in ev.queries]
        assert gallery_whales | set(query_whales) == set(part)  # held-out whales only, all of them
        assert not set(ev.gallery.tolist()) & set(ev.queries.tolist())
        unknown = {w for w, k in zip(query_whales, ev.known, strict=True) if not k}
        known = [w for w, k in zip(query_whales, ev.known, strict=True) if k]
        assert unknown and not unknown & gallery_whales
        for w in unknown:  # every photo of an unknown whale is a query
            assert query_whales.count(w) == len(groups[w])
        assert len(known) == len(set(known)) and set(known) <= gallery_whales  # one query per known whale
        singles = {w for w in part if len(groups[w]) == 1}
        assert singles <= gallery_whales and not singles & set(query_whales)
        multi = sorted(w for w in part if len(groups[w]) >= 2)
        assert len(unknown) == round(0.25 * len(multi))


def test_standard_is_the_split_of_the_folder_it_is_given(tmp_path: Path) -> None:
    root = write_labels(tmp_path / "real", [3] * 20 + [1] * 8)
    photos, split, val, test = standard(root)
    assert split == split_whales(photos, seed=2018)
    assert np.array_equal(test.queries, make_eval_set(photos, split.test).queries)
    assert {photos.whales[i] for i in val.gallery} <= split.val


def hand_ranking() -> Ranking:
    """Three known queries (true whale ranked 1st, 2nd, 6th) and two unknown ones."""
    return Ranking(
        whales=[["w_a", "w_b"], ["w_a", "w_b"], ["w_a", "w_b", "w_d", "w_e", "w_f", "w_c"], ["w_a"], ["w_b"]],
        dists=[np.array(d) for d in ([0.1, 0.5], [0.2, 0.3], [0.4, 0.5, 0.6, 0.7, 0.8, 0.9], [0.35], [0.7])],
        truth=["w_a", "w_b", "w_c", "w_x", "w_y"], known=np.array([True, True, True, False, False]))


def test_the_metrics_on_a_ranking_made_by_hand() -> None:
    s = score(hand_ranking(), threshold=0.3, gallery_size=9)
    assert s.top1 == pytest.approx(1 / 3) and s.top5 == pytest.approx(2 / 3)
    # At 0.3: [a, new, b] -> 1; [a, b, new] -> 1/2; [new, a, b, d, e] -> 0; [new, a] -> 1; [new, b] -> 1.
    assert s.map5 == pytest.approx((1 + 0.5 + 0 + 1 + 1) / 5)
    # The unknown queries' nearest (0.35, 0.7) beat the known ones' (0.1, 0.2, 0.4) in 5 of 6 pairs.
    assert s.auc == pytest.approx(5 / 6)
    assert (s.queries_known, s.queries_unknown, s.gallery, s.threshold) == (3, 2, 9, 0.3)
    # At 0.05 new_whale comes first everywhere: a at 2nd (1/2), b at 3rd (1/3), c absent, two unknowns right.
    early = score(hand_ranking(), threshold=0.05, gallery_size=9)
    assert early.map5 == pytest.approx((1 / 2 + 1 / 3 + 2) / 5)


def test_map5_is_the_apps_kaggle_prediction_scored_by_the_apps_map_at_5() -> None:
    rng = np.random.default_rng(1)
    whales = [f"w_{i:07x}" for i in range(12)]
    for _ in range(20):
        n = 30
        ranked = [sorted(zip(rng.permutation(whales)[:8].tolist(), rng.random(8).tolist(), strict=True),
                         key=lambda x: x[1]) for _ in range(n)]
        known = rng.random(n) < 0.6
        truth = [str(rng.choice(whales)) for _ in range(n)]
        r = Ranking([[w for w, _ in q] for q in ranked], [np.array([d for _, d in q]) for q in ranked], truth,
                    known)
        threshold = float(rng.random())
        answers = {str(i): t if k else NEW_WHALE for i, (t, k) in enumerate(zip(truth, known, strict=True))}
        app = map_at_5(answers, {str(i): kaggle_prediction(q, threshold) for i, q in enumerate(ranked)})
        assert map5(r, threshold) == pytest.approx(app)


def test_the_threshold_chosen_maximises_validation_map5() -> None:
    # Known queries' true whale sits at 0.2-0.4, unknown queries' nearest whale at 0.5-0.7: the best
    # threshold lies between, where every query scores 1.
    rng = np.random.default_rng(2)
    known_d = rng.uniform(0.2, 0.4, 10)
    unknown_d = rng.uniform(0.5, 0.7, 10)
    whales = [["w_t", "w_o"]] * 10 + [["w_o", "w_p"]] * 10
    dists = [np.array([d, d + 0.3]) for d in known_d] + [np.array([d, d + 0.1]) for d in unknown_d]
    r = Ranking(whales, dists, ["w_t"] * 10 + ["w_n"] * 10, np.array([True] * 10 + [False] * 10))
    t = choose_threshold(r)
    assert known_d.max() <= t < unknown_d.min()
    assert map5(r, t) == 1.0
    best_on_grid = max(map5(r, float(g)) for g in np.linspace(0, 1.2, 241))
    assert map5(r, t) >= best_on_grid
