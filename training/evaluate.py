"""``whale-train evaluate``: the Kaggle MAP@5 with ``new_whale``, top-1/top-5, and the original's
distance report (known positives vs known negatives, ROC AUC, per-query listing, a PNG histogram).

Gallery = the known photos; queries = held-out photos of known whales plus photos of whales not in the
gallery (truth ``new_whale``). Whales are ranked by their nearest photo (minimum cosine distance), and
``new_whale`` is inserted at the threshold stored in the model card (tuned on validation by ``fit``).
Ranking and scoring are :mod:`whalegui.core.identify`'s, the same as the app's.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from whalegui.core.identify import PhotoHit, kaggle_prediction, map_at_5, rank_by_whale
from whalegui.core.records import NEW_WHALE

log = logging.getLogger(__name__)

THRESHOLD_GRID = tuple(round(t, 3) for t in np.arange(0.02, 1.2, 0.02))


def rank_whales(query: np.ndarray, gallery: np.ndarray, gallery_ids: Sequence[str]
                ) -> list[list[tuple[str, float]]]:
    """For each query, every gallery whale with its minimum cosine distance, nearest first.

    The ranking is the app's, :func:`whalegui.core.identify.rank_by_whale` (ties broken by whale id); numpy
    only finds each whale's nearest photo first, so the app's rule sees one hit per whale, not per photo.
    """
    whales, inverse = np.unique(np.asarray(gallery_ids, dtype=str), return_inverse=True)
    dist = 1.0 - np.asarray(query, np.float32) @ np.asarray(gallery, np.float32).T  # (q, g)
    nearest = np.zeros((len(query), len(whales)), np.float32)
    best_photo = np.zeros((len(query), len(whales)), np.int64)
    rows = np.arange(len(query))
    for w in range(len(whales)):
        columns = np.flatnonzero(inverse == w)
        arg = dist[:, columns].argmin(axis=1)
        best_photo[:, w] = columns[arg]
        nearest[:, w] = dist[rows, columns[arg]]
    ranked = []
    for q in range(len(query)):
        hits = (PhotoHit(int(best_photo[q, w]), str(whales[w]), float(nearest[q, w]))
                for w in range(len(whales)))
        ranked.append([(hit.whale_id, hit.distance) for hit in rank_by_whale(hits)])
    return ranked


def score(ranked: list[list[tuple[str, float]]], truths: Sequence[str], threshold: float) -> dict[str, float]:
    """MAP@5 with new_whale at ``threshold``; top-1/top-5 among known-whale queries (no new_whale)."""
    preds = {str(i): kaggle_prediction(r, threshold) for i, r in enumerate(ranked)}
    truth = {str(i): t for i, t in enumerate(truths)}
    known = [i for i, t in enumerate(truths) if t != NEW_WHALE]
    top1 = np.mean([ranked[i][0][0] == truths[i] for i in known]) if known else 0.0
    top5 = np.mean([truths[i] in [w for w, _ in ranked[i][:5]] for i in known]) if known else 0.0
    baseline = map_at_5(truth, {k: [NEW_WHALE] for k in truth})
    return {"map5": map_at_5(truth, preds), "top1_known": float(top1), "top5_known": float(top5),
            "map5_all_new_whale": baseline}


def tune_threshold(ranked: list[list[tuple[str, float]]], truths: Sequence[str]) -> tuple[float, float]:
    """The ``new_whale`` threshold (cosine distance) with the best MAP@5: (threshold, MAP@5)."""
    best = (0.5, -1.0)
    for t in THRESHOLD_GRID:
        m = score(ranked, truths, t)["map5"]
        if m > best[1] + 1e-12:
            best = (float(t), m)
    return best


def split_gallery_queries(ids: Sequence[str], seed: int = 0, unknown_fraction: float = 0.3
                          ) -> tuple[list[int], list[int], list[str]]:
    """Make a gallery/query split from labelled photos: a fraction of whales become unknown (one query
    photo each, truth new_whale); every other whale with 2+ photos gives its last photo as a query."""
    rng = np.random.default_rng(seed)
    whales = sorted(set(ids))
    unknown = set(rng.permutation(whales)[:round(len(whales) * unknown_fraction)].tolist())
    by: dict[str, list[int]] = {}
    for i, w in enumerate(ids):
        by.setdefault(w, []).append(i)
    gallery: list[int] = []
    queries: list[int] = []
    truths: list[str] = []
    for w in whales:
        idx = by[w]
        if w in unknown:
            queries.append(idx[0])
            truths.append(NEW_WHALE)
        elif len(idx) >= 2:
            gallery.extend(idx[:-1])
            queries.append(idx[-1])
            truths.append(w)
        else:
            gallery.extend(idx)
    return gallery, queries, truths


def validation_report(emb: np.ndarray, ids: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """MAP@5 of validation whales (a gallery/query split of them) and the tuned new_whale threshold."""
    g, q, truths = split_gallery_queries(ids, seed)
    if not g or not q:
        return {"note": "validation set too small to tune a threshold", "new_whale_threshold": 0.5}
    ranked = rank_whales(emb[q], emb[g], [ids[i] for i in g])
    thr, _ = tune_threshold(ranked, truths)
    rep = score(ranked, truths, thr)
    rep.update({"new_whale_threshold": thr, "queries": len(q), "gallery_photos": len(g)})
    return rep


def distance_table(query: np.ndarray, gallery: np.ndarray, query_ids: Sequence[str],
                   gallery_ids: Sequence[str]) -> dict[str, Any]:
    """Cosine distances of known positives (same whale) and known negatives, their means and ROC AUC."""
    d = 1.0 - np.asarray(query, np.float32) @ np.asarray(gallery, np.float32).T
    same = np.asarray(query_ids)[:, None] == np.asarray(gallery_ids)[None, :]
    known = np.asarray([t != NEW_WHALE for t in query_ids])[:, None]
    pos = d[same & known]
    neg = d[~same & known]
    return {"positive_mean": float(pos.mean()) if pos.size else None,
            "negative_mean": float(neg.mean()) if neg.size else None,
            "positive_std": float(pos.std()) if pos.size else None,
            "negative_std": float(neg.std()) if neg.size else None,
            "positive_pairs": int(pos.size), "negative_pairs": int(neg.size),
            "roc_auc": roc_auc(pos, neg), "_pos": pos, "_neg": neg}


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """P(a random positive distance < a random negative distance), ties half (Mann-Whitney U)."""
    if pos.size == 0 or neg.size == 0:
        return None
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv), np.float64)
    ranks[order] = np.arange(1, len(allv) + 1)
    _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    sums = np.zeros(len(counts))
    np.add.at(sums, inv, ranks)
    ranks = (sums / counts)[inv]  # average ranks for ties
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2
    return float(1.0 - u / (pos.size * neg.size))


def save_histogram(pos: np.ndarray, neg: np.ndarray, path: Path, threshold: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0, max(1.0, float(np.max(np.concatenate([pos, neg, [1.0]])))), 50).tolist()
    ax.hist(neg, bins=bins, alpha=0.6, density=True, label=f"different whale (n={neg.size})")
    ax.hist(pos, bins=bins, alpha=0.6, density=True, label=f"same whale (n={pos.size})")
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", label=f"new_whale threshold {threshold:.2f}")
    ax.set_xlabel("cosine distance")
    ax.set_ylabel("density")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def evaluate(query_emb: np.ndarray, gallery_emb: np.ndarray, query_truth: Sequence[str],
             gallery_ids: Sequence[str], threshold: float) -> tuple[dict[str, Any], list[str],
                                                                     np.ndarray, np.ndarray]:
    """Scores, the per-query listing, and the positive/negative distance arrays."""
    ranked = rank_whales(query_emb, gallery_emb, gallery_ids)
    summary: dict[str, Any] = score(ranked, query_truth, threshold)
    summary["threshold"] = threshold
    best_thr, best_map = tune_threshold(ranked, query_truth)
    summary["best_threshold_on_this_set"] = best_thr
    summary["map5_at_best_threshold"] = best_map
    table = distance_table(query_emb, gallery_emb, query_truth, gallery_ids)
    pos, neg = table.pop("_pos"), table.pop("_neg")
    summary["distances"] = table
    summary["queries"] = len(query_truth)
    summary["unknown_queries"] = sum(t == NEW_WHALE for t in query_truth)
    summary["gallery_photos"] = len(gallery_ids)
    summary["gallery_whales"] = len(set(gallery_ids))
    listing = []
    for i, r in enumerate(ranked):
        w, dist = r[0]
        truth = query_truth[i]
        pred = kaggle_prediction(r, threshold)[0]
        verdict = "Correct" if pred == truth else "Incorrect"
        listing.append(f"query {i}: truth {truth}; nearest {w}, distance {dist:.2f}; predicted {pred}, "
                       f"{verdict}")
    return summary, listing, pos, neg


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True, metavar="MODEL.onnx",
                   help="the ONNX model; its card MODEL.json beside it")
    p.add_argument("--gallery-csv", type=Path, required=True, metavar="CSV",
                   help="known photos (Image,Id): the gallery")
    p.add_argument("--query-csv", type=Path, required=True, metavar="CSV",
                   help="query photos (Image,Id); Id new_whale for whales not in the gallery")
    p.add_argument("--images", type=Path, required=True, metavar="DIR",
                   help="folder holding both CSVs' photos")
    p.add_argument("--query-images", type=Path, metavar="DIR",
                   help="folder of the query photos (default: --images)")
    p.add_argument("--report", type=Path, metavar="DIR",
                   help="write summary.json, queries.txt and distances.png here")
    p.add_argument("--threshold", type=float,
                   help="new_whale threshold, a cosine distance (default: the model card's)")
    p.add_argument("--cpu", action="store_true", help="run the model on the CPU even if a GPU works")


def embed_paths(embedder: Any, paths: Sequence[Path], batch: int = 16, label: str = "photos") -> np.ndarray:
    """Embed the photos at ``paths`` with the app's loader and embedder, counting progress on stdout (in
    place on a terminal, a line at the end otherwise)."""
    from whalegui.core.images import load_photo, model_decode_size

    prep = embedder.card.preprocessing
    out = []
    total = len(paths)
    interactive = sys.stdout.isatty()
    for start in range(0, total, batch):
        chunk = paths[start:start + batch]
        images = [load_photo(p, min_size=model_decode_size(prep)).image for p in chunk]
        out.append(embedder.embed_images(images, batch_size=batch))
        if interactive:
            print(f"\rembedding {label}: {min(total, start + batch)}/{total}", end="", flush=True)
    print(f"\rembedding {label}: {total}/{total}" if interactive else f"embedded {total} {label}")
    return np.concatenate(out) if out else np.zeros((0, embedder.dim), np.float32)


def run(args: argparse.Namespace) -> int:
    from training.data import read_catalogue
    from whalegui.core.embedder import Embedder
    from whalegui.core.errors import CatalogueError

    emb = Embedder(args.model, device="cpu" if args.cpu else "auto")
    print(emb.describe())
    gal = read_catalogue(args.gallery_csv, args.images)
    qry = read_catalogue(args.query_csv, args.query_images or args.images)
    if not gal.paths:
        raise CatalogueError(args.gallery_csv, "the gallery has no known whales")
    q_paths, q_truth = qry.queries()
    if not q_paths:
        raise CatalogueError(args.query_csv, "no query photos")
    g_emb = embed_paths(emb, gal.paths, label="gallery")
    q_emb = embed_paths(emb, q_paths, label="queries")
    threshold = args.threshold if args.threshold is not None else emb.card.new_whale_threshold
    summary, listing, pos, neg = evaluate(q_emb, g_emb, q_truth, gal.ids, threshold)
    for line in listing[:20]:
        print(line)
    if len(listing) > 20:
        print(f"... {len(listing) - 20} more queries")
    d = summary["distances"]
    print(f"MAP@5 {summary['map5']:.4f} (all new_whale: {summary['map5_all_new_whale']:.4f}) at threshold "
          f"{threshold:.2f}; top-1 {summary['top1_known']:.3f}, top-5 {summary['top5_known']:.3f} on known "
          f"whales")
    if d["positive_mean"] is not None:
        print(f"mean distance: same whale {d['positive_mean']:.3f}, different whale "
              f"{d['negative_mean']:.3f}; ROC AUC {d['roc_auc']:.4f}")
    if args.report:
        rep = Path(args.report)
        rep.mkdir(parents=True, exist_ok=True)
        summary["model"] = str(args.model)
        summary["model_sha256"] = emb.fingerprint
        (rep / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        (rep / "queries.txt").write_text("\n".join(listing) + "\n")
        if pos.size and neg.size:
            save_histogram(pos, neg, rep / "distances.png", threshold)
        print(f"report written to {rep}")
    return 0
