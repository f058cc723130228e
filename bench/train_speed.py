"""Training speed: seconds per epoch, the original triplet scheme (frozen VGG16 recomputed for the three
photos of every triplet) vs the top trained on cached backbone features, on the same synthetic photos.

    python bench/train_speed.py [--quick] [--whales N] [--size HxW] [--steps K] [--rounds R] [--json OUT]

Both sides are ``training.train.fit`` with random triplets (the original sampling), the same batch size,
input and head. The original side is timed on K steps per epoch from the second epoch on (the first
includes tracing) and projected to a whole epoch (``ceil(photos / batch)`` steps); the cached side trains
whole epochs. Feature extraction (once per photo) is reported apart, as is the projection to the
original's 6,800 photos. Rounds alternate original and cached, so drift on a shared machine hits both.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ORIGINAL_PHOTOS = 6_800
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
WEIGHTS = SHARED / "weights" / "vgg16_imagenet_notop.weights.h5"


def measure(quick: bool = False, *, whales: int | None = None, size: str | None = None,
            steps: int | None = None, rounds: int | None = None, batch: int | None = None) -> dict[str, Any]:
    """The figures as a dict (the keys bench/training.py reads)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from training.config import TrainConfig
    from training.data import Catalogue, keep_min_photos, read_catalogue
    from training.synthetic import generate_dataset
    from training.train import fit

    whales = whales or (8 if quick else 60)
    steps = steps or (1 if quick else 2)
    rounds = rounds or (1 if quick else 2)
    batch = batch or (4 if quick else 32)
    h, w = (int(v) for v in (size or ("32x96" if quick else "96x288")).split("x"))
    weights = str(WEIGHTS) if WEIGHTS.is_file() and not quick else "none"
    with tempfile.TemporaryDirectory(prefix="train-speed-") as tmp_s:
        tmp = Path(tmp_s)
        generate_dataset(tmp / "set", whales=whales, train_per_whale=(2, 8), test_per_whale=0, seed=3,
                         width_range=(300, 500) if quick else (600, 1000))
        cat = keep_min_photos(read_catalogue(tmp / "set" / "train.csv", tmp / "set" / "train"), 2)
        n = len(cat)
        base = TrainConfig(height=h, width=w, weights=weights, mining="random", batch_size=batch, epochs=3,
                           views=1, val_fraction=0.0, min_photos=2)

        def run(cfg: TrainConfig, name: str, steps_per_epoch: int | None) -> tuple[list[float], float]:
            with contextlib.redirect_stdout(io.StringIO()):
                res = fit(cfg, cat, Catalogue(), tmp / name, verbose=0, steps_per_epoch=steps_per_epoch,
                          tensorboard=False)
            return res.seconds_per_epoch, res.feature_seconds

        original_step: list[float] = []
        cached_epoch: list[float] = []
        feature_s: list[float] = []
        for r in range(rounds):
            secs, _ = run(base.with_(cached=False, epochs=2), f"orig{r}", steps)
            original_step.append(statistics.median(secs[1:]) / steps)
            secs, feats = run(base.with_(cached=True), f"cached{r}", None)
            cached_epoch.append(statistics.median(secs[1:]))
            feature_s.append(feats)
    steps_per_epoch = math.ceil(n / batch)
    original_epoch = [s * steps_per_epoch for s in original_step]
    ratios = [o / c for o, c in zip(original_epoch, cached_epoch, strict=True)]
    scale = ORIGINAL_PHOTOS / n
    return {
        "photos": n, "whales": whales, "batch_size": batch, "input": f"{h}x{w}",
        "weights": "ImageNet (../shared)" if weights != "none" else "random (speed does not depend on them)",
        "original_steps_timed_per_epoch": steps, "rounds": rounds,
        "original_s_per_step": original_step, "original_s_per_epoch": original_epoch,
        "cached_s_per_epoch": cached_epoch, "feature_extraction_s": feature_s,
        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "projected_6800_original_s": statistics.median(original_epoch) * scale,
        "projected_6800_cached_s": statistics.median(cached_epoch) * scale,
        "projected_6800_feature_extraction_s": statistics.median(feature_s) / n * ORIGINAL_PHOTOS,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny set, random weights, 32x96 (about a minute)")
    p.add_argument("--whales", type=int, help="synthetic whales (2-8 photos each)")
    p.add_argument("--size", help="input HxW (default 96x288, the shipped model's)")
    p.add_argument("--steps", type=int, help="original-scheme steps timed per epoch")
    p.add_argument("--rounds", type=int, help="alternating rounds")
    p.add_argument("--batch", type=int, help="triplets per batch")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    d = measure(args.quick, whales=args.whales, size=args.size, steps=args.steps, rounds=args.rounds,
                batch=args.batch)
    o = statistics.median(d["original_s_per_epoch"])
    c = statistics.median(d["cached_s_per_epoch"])
    print(f"{d['photos']} synthetic photos, input {d['input']}, batch {d['batch_size']}, {d['weights']}")
    step = statistics.median(d["original_s_per_step"])
    feats = statistics.median(d["feature_extraction_s"])
    print(f"original (VGG16 x3 per triplet): {o:.1f} s/epoch (projected from "
          f"{d['original_steps_timed_per_epoch']} steps: {step:.2f} s/step)")
    print(f"cached features:                 {c:.3f} s/epoch (+ {feats:.1f} s once for the features)")
    print(f"ratio: {d['ratio_median']:.0f}x (min {d['ratio_min']:.0f}x, max {d['ratio_max']:.0f}x)")
    print(f"projected epoch of {ORIGINAL_PHOTOS:,} photos: original "
          f"{d['projected_6800_original_s'] / 60:.0f} min, cached {d['projected_6800_cached_s']:.1f} s "
          f"(+ {d['projected_6800_feature_extraction_s'] / 60:.0f} min of features, once)")
    if args.json:
        args.json.write_text(json.dumps(d, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
