"""Cheap variants of the default model's top on the default recipe's cached features (margin, mining,
head, epochs), each scored on the recipe's synthetic test set. Run after ``default_model`` (it reuses
WORK/feature-cache, so only the top trains).

    python -m training.recipes.ablation --work /tmp/whale-default [--variants margin=0.2 mining=semi-hard ...]

A variant is ``key=value[,key=value]`` of TrainConfig fields. Prints one line per variant; writes
WORK/ablation.json.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from training.recipes.default_model import REAL, WEIGHTS, backbone_features, read_test_set

DEFAULT_VARIANTS = ("margin=0.5", "margin=0.2", "mining=semi-hard", "head=gap", "epochs=60",
                    "embedding_dim=256")


def parse_variant(text: str, base: Any) -> Any:
    types = {f.name: type(getattr(base, f.name)) for f in fields(base)}
    changes: dict[str, Any] = {}
    for part in text.split(","):
        k, v = part.split("=")
        changes[k] = types[k](v)
    return replace(base, **changes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--size", default="96x288")
    p.add_argument("--unlabelled", type=int, default=600)
    p.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from training.config import TrainConfig
    from training.evaluate import evaluate
    from training.model import build_whale_model
    from training.train import fit, load_training_data

    work, cache = args.work, args.work / "feature-cache"
    h, w = (int(v) for v in args.size.split("x"))
    base = TrainConfig(height=h, width=w, weights=str(WEIGHTS), views=2, epochs=30, margin=0.5,
                       min_photos=1, val_fraction=0.15, max_unlabelled=args.unlabelled, seed=0)
    train, val = load_training_data(base, work / "synth-train" / "train.csv", work / "synth-train" / "train",
                                    REAL)
    gal, _, q_paths, q_truth = read_test_set(work / "synth-test")
    results: dict[str, Any] = {}
    for text in args.variants:
        cfg = parse_variant(text, base)
        run = work / f"ablation-{text.replace('=', '-').replace(',', '_')}"
        res = fit(cfg, train, val, run, cache_dir=cache, verbose=0, tensorboard=False)
        wm = build_whale_model(cfg)
        gf, qf = (backbone_features(wm, cfg, paths, cache) for paths in (gal.paths, q_paths))
        wm.embedder.load_weights(str(run / "embedder.weights.h5"))
        thr = float(res.validation.get("new_whale_threshold", 0.5))
        s, _, _, _ = evaluate(np.asarray(wm.top.predict(qf, verbose=0)),
                              np.asarray(wm.top.predict(gf, verbose=0)), q_truth, gal.ids, thr)
        results[text] = {"map5": s["map5"], "map5_best": s["map5_at_best_threshold"], "threshold": thr,
                         "top1_known": s["top1_known"], "roc_auc": s["distances"]["roc_auc"],
                         "val_map5": res.validation.get("map5"),
                         "s_per_epoch": float(np.median(res.seconds_per_epoch))}
        print(text, json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                for k, v in results[text].items()}), flush=True)
    (work / "ablation.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
