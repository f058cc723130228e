"""Cached backbone features: the frozen backbone's output for each photo and augmented view, computed once.

With a frozen VGG16, ``extractor(photo)`` is the same every epoch; the original design recomputed it for
the three photos of every triplet (about 5 hours an epoch). Here each photo is decoded once, its views
(view 0 = the photo, views 1.. = seeded augmentations) go through the backbone once, and the top trains on
the stored features (float16, optionally kept on disk under a key of everything that decides them).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from training.augment import AugmentConfig, augment
from whalegui.core.images import load_photo, model_decode_size, to_model_input
from whalegui.core.model_card import Preprocessing

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class PhotoViews(Protocol):
    """What :func:`extract_features` reads: photo ``i``'s model inputs for the given views."""

    @property
    def paths(self) -> Sequence[Path]: ...

    def views(self, i: int, views: Sequence[int]) -> list[np.ndarray]: ...


class ViewLoader:
    """Photo ``i``, view ``v`` -> the model's input tensor, through the project's one loader.

    ``fresh=False``: view ``v > 0`` is the same seeded augmentation every time (what the cache stores).
    ``fresh=True``: a new random augmentation at every call (the full path's on-the-fly augmentation).
    """

    def __init__(self, paths: Sequence[Path], prep: Preprocessing, seed: int = 0, *, fresh: bool = False,
                 augment_cfg: AugmentConfig | None = None) -> None:
        self.paths = list(paths)
        self.prep = prep
        self.seed = seed
        self.fresh = fresh
        self.augment_cfg = augment_cfg or AugmentConfig()
        self._rng = np.random.default_rng(seed)

    def views(self, i: int, views: Sequence[int]) -> list[np.ndarray]:
        image = load_photo(self.paths[i], min_size=model_decode_size(self.prep)).image
        out = []
        for v in views:
            im = image
            if v > 0:
                rng = self._rng if self.fresh else np.random.default_rng((self.seed, i, v))
                im = augment(image, rng, self.augment_cfg)
            out.append(to_model_input(im, self.prep))
        return out

    def batch(self, samples: Sequence[tuple[int, int]]) -> np.ndarray:
        return np.stack([self.views(i, [v])[0] for i, v in samples])


def extract_features(extractor: Any, loader: PhotoViews, views: int, *, batch_size: int = 32,
                     progress: Progress | None = None, workers: int = 2) -> np.ndarray:
    """Features of every photo x view: float16 array (n_photos, views, *feature_shape)."""
    n = len(loader.paths)
    shape = tuple(int(s) for s in extractor.output_shape[1:])
    out = np.zeros((n, views, *shape), dtype=np.float16)
    per_batch = max(1, batch_size // views)
    starts = list(range(0, n, per_batch))

    def prepare(start: int) -> np.ndarray:
        idx = range(start, min(n, start + per_batch))
        return np.stack([x for i in idx for x in loader.views(i, range(views))])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.submit(prepare, s) for s in starts[:workers]]
        for k, start in enumerate(starts):
            batch = pending.pop(0).result()
            if k + workers < len(starts):
                pending.append(pool.submit(prepare, starts[k + workers]))
            feats = np.asarray(extractor.predict_on_batch(batch))
            m = min(n, start + per_batch) - start
            out[start:start + m] = feats.reshape(m, views, *shape).astype(np.float16)
            if progress:
                progress(start + m, n)
    return out


def cache_key(paths: Sequence[Path], prep: Preprocessing, views: int, weights: str, layer: str,
              seed: int) -> str:
    spec = {"paths": [str(p) for p in paths], "prep": repr(prep), "views": views, "weights": weights,
            "layer": layer, "seed": seed, "version": 1}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def cached_features(extractor: Any, loader: ViewLoader, views: int, *, weights: str, layer: str,
                    cache_dir: Path | None, batch_size: int = 32,
                    progress: Progress | None = None) -> np.ndarray:
    """:func:`extract_features`, reusing ``cache_dir/features-KEY.npy`` when the same features were made."""
    if cache_dir is None or weights.lower() == "none":  # random weights differ between runs: never reuse
        return extract_features(extractor, loader, views, batch_size=batch_size, progress=progress)
    key = cache_key(loader.paths, loader.prep, views, weights, layer, loader.seed)
    path = Path(cache_dir) / f"features-{key}.npy"
    if path.is_file():
        log.info("reusing cached features %s", path)
        return np.asarray(np.load(path))
    feats = extract_features(extractor, loader, views, batch_size=batch_size, progress=progress)
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, feats)
    tmp.replace(path)
    return feats
