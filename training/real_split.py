"""The by-whale split of the real labelled photos and the Kaggle-style evaluation protocol.

Whales, not photos, are split: a TEST whale is never trained on, never used to choose anything, and is
scored once per candidate pipeline; VALIDATION whales choose thresholds, fusion weights and sizes; TRAIN
whales are the only ones whose identities the embedding learns from.

Evaluation over one held-out set (VALIDATION or TEST):
- each *known* whale (>= 2 photos) gives one query photo; its other photos go into the gallery;
- each *unknown* whale (>= 2 photos, a fixed fraction of the held-out multi-photo whales) gives all its
  photos as queries and none to the gallery: the right answer is ``new_whale``;
- single-photo held-out whales are gallery distractors.
The gallery holds held-out whales only, so nothing scored was trained on.

Metrics: known-whale top-1 and top-5 (rank of the true whale among distinct gallery whales), MAP@5 over all
queries with ``new_whale`` inserted at the first rank whose distance exceeds the threshold, and the
new-whale AUC of the nearest distance (unknown queries should be farther than known ones).
"""

from __future__ import annotations

import csv
import logging
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whalegui.core.records import NEW_WHALE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Photos:
    """The labelled photos in ``labels.csv`` order."""

    paths: list[Path]
    whales: list[str]

    @classmethod
    def load(cls, root: Path) -> Photos:
        with open(root / "labels.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        return cls([root / "images" / r["Image"] for r in rows], [r["Id"] for r in rows])

    def by_whale(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, w in enumerate(self.whales):
            groups[w].append(i)
        return dict(groups)


@dataclass(frozen=True)
class Split:
    """Whale ids per part. ``train`` is every whale not held out."""

    train: frozenset[str]
    val: frozenset[str]
    test: frozenset[str]

    def part(self, name: str) -> frozenset[str]:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def split_whales(photos: Photos, *, seed: int = 2018, test_frac: float = 0.25,
                 val_frac: float = 0.15) -> Split:
    """Split multi-photo and single-photo whales separately, each by the same fractions."""
    groups = photos.by_whale()
    rng = np.random.default_rng(seed)
    parts: dict[str, set[str]] = {"train": set(), "val": set(), "test": set()}
    for multi in (True, False):
        ids = sorted(w for w, idx in groups.items() if (len(idx) >= 2) == multi)
        ids = [ids[i] for i in rng.permutation(len(ids))]
        n_test, n_val = round(test_frac * len(ids)), round(val_frac * len(ids))
        parts["test"].update(ids[:n_test])
        parts["val"].update(ids[n_test:n_test + n_val])
        parts["train"].update(ids[n_test + n_val:])
    return Split(frozenset(parts["train"]), frozenset(parts["val"]), frozenset(parts["test"]))


@dataclass(frozen=True)
class EvalSet:
    """Indices into :class:`Photos` for one held-out evaluation."""

    gallery: np.ndarray
    queries: np.ndarray
    known: np.ndarray  # per query: True when its whale is in the gallery


def make_eval_set(photos: Photos, whales: frozenset[str], *, seed: int = 7,
                  unknown_frac: float = 0.25) -> EvalSet:
    """Queries and gallery for the held-out ``whales`` (see the module docstring)."""
    groups = photos.by_whale()
    rng = np.random.default_rng(seed)
    multi = sorted(w for w in whales if len(groups[w]) >= 2)
    multi = [multi[i] for i in rng.permutation(len(multi))]
    n_unknown = round(unknown_frac * len(multi))
    unknown, known = multi[:n_unknown], multi[n_unknown:]
    gallery: list[int] = []
    queries: list[int] = []
    is_known: list[bool] = []
    for w in known:
        idx = list(groups[w])
        q = int(rng.choice(idx))
        queries.append(q)
        is_known.append(True)
        gallery.extend(i for i in idx if i != q)
    for w in unknown:
        queries.extend(groups[w])
        is_known.extend([False] * len(groups[w]))
    for w in sorted(whales):
        if len(groups[w]) == 1:
            gallery.extend(groups[w])
    return EvalSet(np.asarray(sorted(gallery)), np.asarray(queries), np.asarray(is_known))


@dataclass
class Ranking:
    """Per query: distinct gallery whales best first, and the distance of each (smallest over photos)."""

    whales: list[list[str]]
    dists: list[np.ndarray]
    truth: list[str]
    known: np.ndarray
    extra: dict[str, float] = field(default_factory=dict)


def rank_whales(dist: np.ndarray, gallery_whales: list[str], truth: list[str], known: np.ndarray,
                depth: int = 20) -> Ranking:
    """Collapse a (queries x gallery photos) distance matrix to the ``depth`` nearest distinct whales."""
    out_w: list[list[str]] = []
    out_d: list[np.ndarray] = []
    gw = np.asarray(gallery_whales)
    for row in dist:
        order = np.argsort(row, kind="stable")
        seen: dict[str, float] = {}
        for j in order:
            w = str(gw[j])
            if w not in seen:
                seen[w] = float(row[j])
                if len(seen) == depth:
                    break
        out_w.append(list(seen))
        out_d.append(np.asarray(list(seen.values())))
    return Ranking(out_w, out_d, truth, known)


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties half (Mann-Whitney)."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    allv = np.concatenate([pos, neg])
    ranks = np.argsort(np.argsort(allv, kind="stable"), kind="stable").astype(np.float64) + 1
    # average ranks for ties
    _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / counts)[inv]
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def map5(r: Ranking, threshold: float) -> float:
    """MAP@5 with ``new_whale`` inserted before the first candidate farther than ``threshold``."""
    total = 0.0
    for ws, ds, t, k in zip(r.whales, r.dists, r.truth, r.known, strict=True):
        answer = t if k else NEW_WHALE
        preds: list[str] = []
        placed = False
        for w, d in zip(ws, ds, strict=False):
            if not placed and d > threshold:
                preds.append(NEW_WHALE)
                placed = True
            if len(preds) == 5:
                break
            preds.append(w)
            if len(preds) == 5:
                break
        if not placed and len(preds) < 5:
            preds.append(NEW_WHALE)
        preds = preds[:5]
        if answer in preds:
            total += 1.0 / (preds.index(answer) + 1)
    return total / len(r.truth)


def choose_threshold(r: Ranking) -> float:
    """The threshold maximising MAP@5 over the nearest distances seen (run on VALIDATION only)."""
    nearest = np.asarray([d[0] for d in r.dists])
    grid = np.unique(np.concatenate([nearest, [nearest.min() - 1e-6, nearest.max() + 1e-6]]))
    if len(grid) > 400:
        grid = np.quantile(nearest, np.linspace(0, 1, 401))
    scores = [map5(r, float(t)) for t in grid]
    return float(grid[int(np.argmax(scores))])


@dataclass(frozen=True)
class Scores:
    top1: float
    top5: float
    map5: float
    auc: float
    threshold: float
    queries_known: int
    queries_unknown: int
    gallery: int

    def row(self, name: str) -> str:
        return (f"| {name} | {self.top1:.3f} | {self.top5:.3f} | {self.map5:.3f} | {self.auc:.3f} | "
                f"{self.threshold:.3f} |")


def score(r: Ranking, threshold: float, gallery_size: int) -> Scores:
    """Top-1/top-5 over known queries, MAP@5 over all at ``threshold``, new-whale AUC."""
    known = np.asarray(r.known, dtype=bool)
    hits1 = [ws[:1].count(t) > 0 for ws, t, k in zip(r.whales, r.truth, known, strict=True) if k]
    hits5 = [t in ws[:5] for ws, t, k in zip(r.whales, r.truth, known, strict=True) if k]
    nearest = np.asarray([d[0] for d in r.dists])
    return Scores(float(np.mean(hits1)), float(np.mean(hits5)), map5(r, threshold),
                  _auc(nearest[~known], nearest[known]), threshold, int(known.sum()),
                  int((~known).sum()), gallery_size)


def cosine_distances(q: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``1 - cos`` between rows (inputs need not be normalised)."""
    qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    gn = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    out: np.ndarray = 1.0 - qn @ gn.T
    return out


def evaluate_embeddings(emb: np.ndarray, photos: Photos, ev: EvalSet, threshold: float | None = None,
                        dist: np.ndarray | None = None) -> tuple[Scores, Ranking]:
    """Score per-photo embeddings (rows aligned with ``photos``) on one evaluation set.

    ``threshold=None`` chooses it on this set (do so only on VALIDATION). ``dist`` overrides the cosine
    distance matrix (queries x gallery), e.g. after re-ranking.
    """
    if dist is None:
        dist = cosine_distances(emb[ev.queries], emb[ev.gallery])
    gw = [photos.whales[i] for i in ev.gallery]
    truth = [photos.whales[i] for i in ev.queries]
    r = rank_whales(dist, gw, truth, ev.known)
    if threshold is None:
        threshold = choose_threshold(r)
    return score(r, threshold, len(ev.gallery)), r


def standard(root: Path, seed: int = 2018) -> tuple[Photos, Split, EvalSet, EvalSet]:
    """The project's fixed split of the labelled folder ``root``: photos, split, VALIDATION evaluation set,
    TEST evaluation set."""
    photos = Photos.load(root)
    split = split_whales(photos, seed=seed)
    return photos, split, make_eval_set(photos, split.val), make_eval_set(photos, split.test)


if __name__ == "__main__":
    p, s, v, t = standard(Path(sys.argv[1]))
    for name, e in (("val", v), ("test", t)):
        print(name, "gallery", len(e.gallery), "known q", int(e.known.sum()), "unknown q",
              int((~e.known).sum()))
    print("train whales", len(s.train), "photos", sum(1 for w in p.whales if w in s.train))
