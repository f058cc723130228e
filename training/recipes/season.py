"""A simulated field season on the real labelled photos: a gallery grows photo by photo with review
decisions taken from the labels, ``whale-train adapt`` adapts the bundled model to it, ``reembed`` applies
the adapted model, and top-1 / MAP@5 are measured before and after.

    python -m training.recipes.season --shared ../shared --work /tmp/season   # about 12 min, 2 CPU cores

Only VALIDATION and TEST whales of the real split (seed 2018) are used: the bundled model was trained on the
TRAIN whales. They are split by whale (seeded):

- **season whales**: their photos arrive in a random order; each is identified against the gallery
  (:meth:`Gallery.identify`, the app's full pipeline) and filed as the labels say: confirmed as its whale
  (``add_photos`` with the review) when the whale is catalogued, else enrolled as a new whale (``enroll``
  with the review), so review pairs accumulate as a researcher's would. One photo of each season whale with
  2+ photos never arrives: it is held out;
- **other whales** (2+ photos each, never in the season): a separate gallery holds the first photo of each,
  the others are its queries: whales the adapted model never saw.

Reported, base model vs adapted model (the app's fused ranking, the five candidates it shows):
(a) the held-out photos of season whales against the season's gallery (also split into whales adapt trained
on and the whales adapt held out itself), (b) the other whales' queries against their gallery. A table on
stdout, and WORK/season.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from training.real_split import Photos, split_whales
from whalegui.core.errors import DuplicatePhotoError

log = logging.getLogger(__name__)


def plan(photos: Photos, seed: int, season_fraction: float) -> dict[str, Any]:
    """Which photos arrive in the season (in order), which are held out, and the other whales' gallery and
    queries (photo indices)."""
    split = split_whales(photos, seed=2018)
    pool = split.val | split.test
    groups = {w: idx for w, idx in photos.by_whale().items() if w in pool}
    rng = np.random.default_rng(seed)
    multi = sorted(w for w, idx in groups.items() if len(idx) >= 2)
    single = sorted(w for w, idx in groups.items() if len(idx) == 1)
    multi = [multi[i] for i in rng.permutation(len(multi))]
    n_season = round(season_fraction * len(multi))
    season_whales, other_whales = multi[:n_season], multi[n_season:]
    season_single = [single[i] for i in rng.permutation(len(single))[:round(season_fraction * len(single))]]
    arrivals: list[int] = []
    held_out: list[int] = []
    for w in season_whales:
        idx = [groups[w][i] for i in rng.permutation(len(groups[w]))]
        held_out.append(idx[0])
        arrivals.extend(idx[1:])
    arrivals.extend(groups[w][0] for w in season_single)
    arrivals = [arrivals[i] for i in rng.permutation(len(arrivals))]
    other_gallery = [groups[w][0] for w in other_whales]
    other_queries = [i for w in other_whales for i in groups[w][1:]]
    return {"arrivals": arrivals, "held_out": held_out, "other_gallery": other_gallery,
            "other_queries": other_queries, "season_whales": len(season_whales),
            "season_single_whales": len(season_single), "other_whales": len(other_whales)}


def run_season(folder: Path, embedder: Any, photos: Photos, arrivals: list[int]) -> dict[str, int]:
    """File each arriving photo as its label says, after identifying it (the review pairs accumulate)."""
    from whalegui.core.gallery import Gallery
    from whalegui.core.reviews import Review

    counts = {"confirmed": 0, "enrolled": 0, "top1_right": 0, "duplicates": 0}
    started = time.monotonic()
    with Gallery.open(folder, embedder) as gallery:
        for n, i in enumerate(arrivals, start=1):
            path, whale = photos.paths[i], photos.whales[i]
            ident = gallery.identify(path)
            if ident.duplicate_of is not None:
                counts["duplicates"] += 1
                continue
            try:
                if gallery.has_whale(whale):
                    counts["top1_right"] += bool(ident.candidates) and ident.candidates[0].whale_id == whale
                    gallery.add_photos(whale, [path], identified=[ident], reviews=[Review(ident)])
                    counts["confirmed"] += 1
                else:
                    gallery.enroll([path], whale, identified=[ident], reviews=[Review(ident)])
                    counts["enrolled"] += 1
            except DuplicatePhotoError:
                counts["duplicates"] += 1
            if n % 200 == 0 or n == len(arrivals):
                print(f"season: {n}/{len(arrivals)} photos filed, {time.monotonic() - started:.0f} s",
                      file=sys.stderr, flush=True)
        counts["review_pairs"] = len(gallery.review_pairs())
        counts["misranked"] = len(gallery.misranked())
    return counts


def build_other(folder: Path, embedder: Any, photos: Photos, gallery_photos: list[int]) -> None:
    """The other whales' gallery: one photo each, enrolled under its label."""
    from whalegui.core.gallery import Gallery

    with Gallery.open(folder, embedder) as gallery:
        for i in gallery_photos:
            gallery.enroll([photos.paths[i]], photos.whales[i])


def per_query(folder: Path, embedder: Any, photos: Photos, queries: list[int],
              ) -> dict[int, tuple[bool, float]]:
    """Each query's (top-1 right, AP@5) over the five candidates the app shows (no new_whale)."""
    from whalegui.core.gallery import Gallery
    from whalegui.core.identify import Identification, average_precision_at_5

    with Gallery.open(folder, embedder, readonly=True) as gallery:
        results = gallery.identify_many([photos.paths[i] for i in queries], top=5)
    out = {}
    for i, r in zip(queries, results, strict=True):
        assert isinstance(r, Identification)
        ranked = [c.whale_id for c in r.candidates[:5]]
        truth = photos.whales[i]
        out[i] = (bool(ranked) and ranked[0] == truth, average_precision_at_5(truth, ranked))
    return out


def summary(results: dict[int, tuple[bool, float]], queries: list[int]) -> dict[str, float]:
    """Top-1 and MAP@5 of ``queries``."""
    if not queries:
        return {"top1": 0.0, "map5": 0.0, "queries": 0}
    return {"top1": round(float(np.mean([results[i][0] for i in queries])), 4),
            "map5": round(float(np.mean([results[i][1] for i in queries])), 4), "queries": len(queries)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", type=Path, default=Path("../shared"))
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--season-fraction", type=float, default=0.7,
                   help="fraction of the VALIDATION+TEST whales that the season sees")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--anchor", type=float, default=None, help="adapt's L2-SP weight (default: adapt's)")
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--cache", type=Path, default=None,
                   help="adapt's feature cache (default WORK/cache; a rerun's is reused by photo hash)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from training.adapt import AdaptConfig, AdaptRefused, adapt
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import reembed
    from whalegui.paths import bundled_model_path

    photos = Photos.load(args.shared / "data" / "real-labelled")
    what = plan(photos, args.seed, args.season_fraction)
    args.work.mkdir(parents=True, exist_ok=True)
    season, other = args.work / "season-gallery", args.work / "other-gallery"
    for folder in (season, other):
        if folder.exists():
            raise SystemExit(f"{folder} exists: use a fresh --work")
    base_model = bundled_model_path()
    base = Embedder(base_model, device="cpu")
    clock = {"start": time.monotonic()}
    filed = run_season(season, base, photos, what["arrivals"])
    build_other(other, base, photos, what["other_gallery"])
    clock["season"] = time.monotonic()

    base_results = {"season": per_query(season, base, photos, what["held_out"]),
                    "other": per_query(other, base, photos, what["other_queries"])}
    clock["scored_base"] = time.monotonic()
    cfg = AdaptConfig(epochs=args.epochs)
    if args.anchor is not None:
        cfg = AdaptConfig(**{**cfg.__dict__, "anchor": args.anchor})
    if args.learning_rate is not None:
        cfg = AdaptConfig(**{**cfg.__dict__, "learning_rate": args.learning_rate})
    out = args.work / "adapted" / "whale-vgg16-season.onnx"
    report: dict[str, Any] = {"plan": {k: v for k, v in what.items() if not isinstance(v, list)},
                              "season": filed, "config": cfg.__dict__}
    try:
        result = adapt(season, out, base_model, cfg, cache=args.cache or args.work / "cache",
                       report=lambda e, n, loss: print(f"adapt: epoch {e}/{n}, loss {loss:.4f}",
                                                       file=sys.stderr) if e % 10 == 0 else None)
    except AdaptRefused as exc:
        report["refused"] = str(exc)
        print(f"adapt refused: {exc}")
        (args.work / "season.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return 1
    clock["adapted"] = time.monotonic()
    adapted = Embedder(out, device="cpu")
    reembed(season, adapted)
    reembed(other, adapted)
    clock["reembedded"] = time.monotonic()
    adapted_results = {"season": per_query(season, adapted, photos, what["held_out"]),
                       "other": per_query(other, adapted, photos, what["other_queries"])}
    # the season's held-out photos, and those of them whose whales adapt trained on or held out itself
    held_whales = set(result.record["held_out"]["whale_ids"])
    subsets = {"season_held_out": ("season", what["held_out"]),
               "season_held_out_trained_whales":
                   ("season", [i for i in what["held_out"] if photos.whales[i] not in held_whales]),
               "season_held_out_adapt_held_whales":
                   ("season", [i for i in what["held_out"] if photos.whales[i] in held_whales]),
               "other_whales": ("other", what["other_queries"])}
    before = {k: summary(base_results[g], q) for k, (g, q) in subsets.items()}
    after = {k: summary(adapted_results[g], q) for k, (g, q) in subsets.items()}
    clock["scored_adapted"] = time.monotonic()
    report["before"], report["after"] = before, after
    report["adapt_held_out"] = {"base": result.base, "adapted": result.adapted}
    report["adapt_record"] = {k: v for k, v in result.record.items() if k != "held_out"}
    report["seconds"] = {k: round(v - clock["start"], 1) for k, v in clock.items() if k != "start"}
    print(table(before, after, result))
    (args.work / "season.json").write_text(json.dumps(report, indent=2, default=str) + "\n",
                                           encoding="utf-8")
    print(f"wrote {args.work / 'season.json'}")
    return 0


def table(before: dict[str, Any], after: dict[str, Any], result: Any) -> str:
    rows = ["| queries | n | base top-1 | adapted top-1 | base MAP@5 | adapted MAP@5 |",
            "| --- | --- | --- | --- | --- | --- |"]
    for key, label in (("season_held_out", "(a) held-out photos of the season's whales"),
                       ("season_held_out_trained_whales", "(a1) of them, whales adapt trained on"),
                       ("season_held_out_adapt_held_whales", "(a2) of them, whales adapt held out"),
                       ("other_whales", "(b) whales the gallery does not hold")):
        b, a = before[key], after[key]
        rows.append(f"| {label} | {b['queries']} | {b['top1']:.3f} | {a['top1']:.3f} | {b['map5']:.3f} | "
                    f"{a['map5']:.3f} |")
    rows.append(f"| adapt's own check (embedding only, held-out whales) | {result.base['queries']} | "
                f"{result.base['top1']:.3f} | {result.adapted['top1']:.3f} | {result.base['map5']:.3f} | "
                f"{result.adapted['map5']:.3f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
