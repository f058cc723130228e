"""Benchmark 6: training speed, the original triplet scheme vs cached backbone features.

Both sides are training's own ``training.train.fit`` on the same synthetic set (training's generator,
Kaggle format), the same random-triplet scheme (the anchor scrolls through every photo, a random positive
of its whale, a random negative), the same batch size and head:

- original: ``cached=False``: every step decodes and augments the three photos of each triplet and runs the
  frozen VGG16 on all of them. Timed on a few steps per epoch (``steps_per_epoch``), second epoch on (the
  first includes tracing), and projected to a whole epoch (``ceil(photos / batch)`` steps).
- cached: ``cached=True``: VGG16's ``block5_pool`` output is computed once per photo (timed separately, a
  one-time cost) and whole epochs train the head on it.

If the training engineer's ``bench/train_speed.py`` provides ``measure(quick) -> dict``, it is used instead.
Bar: cached at least 50x faster per epoch; and the projected epoch time for the original 6,800 photos.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Result, shared_path, skipped

BAR = 50.0
ORIGINAL_PHOTOS = 6_800


def _fit_epochs(cfg: Any, train: Any, run_dir: Path, steps: int | None) -> tuple[list[float], float]:
    from training.data import Catalogue
    from training.train import fit

    with contextlib.redirect_stdout(io.StringIO()):
        res = fit(cfg, train, Catalogue(), run_dir, verbose=0, steps_per_epoch=steps, tensorboard=False)
    return res.seconds_per_epoch, res.feature_seconds


def measure(quick: bool) -> dict[str, Any]:
    from training.config import TrainConfig
    from training.data import keep_min_photos, read_catalogue
    from training.synthetic import generate_dataset

    whales, batch, steps, rounds = (8, 4, 1, 1) if quick else (60, 32, 2, 2)
    weights = None if quick else shared_path("weights", "vgg16_imagenet_notop.weights.h5")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp_s:
        tmp = Path(tmp_s)
        generate_dataset(tmp / "set", whales=whales, train_per_whale=(2, 8), test_per_whale=0, seed=3)
        cat = keep_min_photos(read_catalogue(tmp / "set" / "train.csv", tmp / "set" / "train"), 2)
        n = len(cat)
        base = TrainConfig(weights=str(weights) if weights else "none", mining="random", batch_size=batch,
                           epochs=3, views=1)
        original_step, cached_epoch, feature_s = [], [], []
        for r in range(rounds):  # alternate: original, cached, original, cached, ...
            secs, _ = _fit_epochs(base.with_(cached=False, epochs=2), cat, tmp / f"orig{r}", steps)
            original_step.append(statistics.median(secs[1:]) / steps)
            secs, feats = _fit_epochs(base.with_(cached=True), cat, tmp / f"cached{r}", None)
            cached_epoch.append(statistics.median(secs[1:]))
            feature_s.append(feats)
    steps_per_epoch = math.ceil(n / batch)
    original_epoch = [s * steps_per_epoch for s in original_step]
    ratios = [o / c for o, c in zip(original_epoch, cached_epoch, strict=True)]
    feature_per_photo = statistics.median(feature_s) / n
    scale = ORIGINAL_PHOTOS / n
    return {
        "photos": n, "whales": whales, "batch_size": batch, "input": f"{base.height}x{base.width}",
        "weights": "ImageNet (../shared)" if weights else "random (speed does not depend on them)",
        "original_steps_timed_per_epoch": steps, "rounds": rounds,
        "original_s_per_step": original_step, "original_s_per_epoch": original_epoch,
        "cached_s_per_epoch": cached_epoch, "feature_extraction_s": feature_s,
        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        "projected_6800_original_s": statistics.median(original_epoch) * scale,
        "projected_6800_cached_s": statistics.median(cached_epoch) * scale,
        "projected_6800_feature_extraction_s": feature_per_photo * ORIGINAL_PHOTOS,
    }


def run(quick: bool) -> list[Result]:
    try:
        import tensorflow  # noqa: F401

        import training.train  # noqa: F401
    except ImportError as exc:
        return [skipped("6 training", "original vs cached epoch", f"needs the [train] extra ({exc})",
                        f">= {BAR:.0f}x")]
    logging.getLogger("training").setLevel(logging.WARNING)
    try:
        from bench import train_speed  # the training engineer's own measurement, when it exists

        d = train_speed.measure(quick) if hasattr(train_speed, "measure") else measure(quick)
    except ImportError:
        d = measure(quick)
    o, c = statistics.median(d["original_s_per_epoch"]), statistics.median(d["cached_s_per_epoch"])
    return [
        Result("6 training", f"s/epoch, {d['photos']} synthetic photos, batch {d['batch_size']}: "
                             "original (VGG16 x3 per triplet) vs cached",
               f"{o:.0f} s vs {c:.2f} s = {d['ratio_median']:.0f}x "
               f"({d['ratio_min']:.0f}..{d['ratio_max']:.0f})",
               f">= {BAR:.0f}x", d["ratio_median"] >= BAR, details=d),
        Result("6 training", f"projected epoch, {ORIGINAL_PHOTOS:,} photos: original / cached "
                             "(+ one-time features)",
               f"{d['projected_6800_original_s'] / 60:.0f} min / {d['projected_6800_cached_s']:.0f} s "
               f"(+ {d['projected_6800_feature_extraction_s'] / 60:.0f} min once)"),
    ]
