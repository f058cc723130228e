"""Benchmark 6: training speed, the original triplet scheme vs cached backbone features.

Both sides are training's own ``training.train.fit`` on the same synthetic set (training's generator,
Kaggle format), the same random-triplet scheme (the anchor scrolls through every photo, a random positive
of its whale, a random negative), the same batch size and head:

- original: ``cached=False``: every step decodes and augments the three photos of each triplet and runs the
  frozen VGG16 on all of them. Timed on a few steps per epoch (``steps_per_epoch``), second epoch on (the
  first includes tracing), and projected to a whole epoch (``ceil(photos / batch)`` steps).
- cached: ``cached=True``: VGG16's ``block5_pool`` output is computed once per photo (timed separately, a
  one-time cost) and whole epochs train the head on it.

The measurement itself is ``bench/train_speed.py``'s ``measure(quick)``; this module reports it.
Bar: cached at least 50x faster per epoch; and the projected epoch time for the original 6,800 photos.
"""

from __future__ import annotations

import logging
import statistics

from bench.common import Result, skipped
from bench.train_speed import ORIGINAL_PHOTOS

BAR = 50.0



def run(quick: bool) -> list[Result]:
    try:
        import tensorflow  # noqa: F401

        import training.train  # noqa: F401
    except ImportError as exc:
        return [skipped("6 training", "original vs cached epoch", f"needs the [train] extra ({exc})",
                        f">= {BAR:.0f}x")]
    logging.getLogger("training").setLevel(logging.WARNING)
    from bench import train_speed

    d = train_speed.measure(quick)
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
