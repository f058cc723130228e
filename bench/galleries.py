"""Large synthetic galleries for the identify and app-start benchmarks, and the model they use.

Importing 100,000 photos through the model would take hours on a laptop CPU, and what these benchmarks
measure (a query against a big gallery, opening a big gallery) does not depend on how the rows got there.
So a gallery is created through the real API (``Gallery.open`` + ``enroll`` of one real photo, which sets
the model and writes a real photo file and thumbnail), then ``n`` photo rows with synthetic embeddings are
inserted straight into its SQLite database, all pointing at that one photo file, and finally the index is
rebuilt from SQLite by ``Gallery.rebuild_index`` (timed: that is the gallery's own rebuild).
Embeddings: a Gaussian mixture, one centre per whale (see ``bench.search_scale.clustered_vectors``).

Each inserted photo also gets what a real import stores for verification: a fluke box (the whole frame) and
a ``features`` row. The features are real: a few fluke photos (real ones from ``../shared/data/real-flukes``
when present, else synthetic) are analysed once by the gallery's own
:class:`~whalegui.core.analysis.Analyser` and their blobs are assigned round-robin, so every verification of
a candidate does the matching work a real one does (the mean keypoint count is reported).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.common import default_model, shared_path

if TYPE_CHECKING:
    from whalegui.core.embedder import Embedder

#: How many real photos' features are shared round-robin by a synthetic gallery's photos.
FEATURE_PHOTOS = 4


@dataclass
class AppModel:
    path: Path
    stand_in: bool  # True: a tiny test model, because the default model is not there yet

    @property
    def label(self) -> str:
        return "default model" if not self.stand_in else "tiny stand-in model (default model absent)"


def app_model(tmp: Path) -> AppModel:
    """The default model, or a tiny stand-in (figures then carry no bar)."""
    shipped = default_model()
    if shipped is not None:
        return AppModel(shipped, False)
    from tests.models import make_tiny_model

    return AppModel(make_tiny_model(tmp / "stand-in", name="stand-in", height=96, width=288, dim=128), True)


def write_fluke_photo(path: Path, seed: int = 0, width: int = 900) -> Path:
    """One synthetic fluke photo (training's generator), or noise when training is not installed."""
    try:
        from training.synthetic import make_whale, render_photo

        rng = np.random.default_rng(seed)
        img = render_photo(make_whale(rng), rng, width)
        img.save(path, "JPEG", quality=90)
    except ImportError:
        from PIL import Image

        rng = np.random.default_rng(seed)
        Image.fromarray(rng.integers(0, 255, (width // 3, width, 3), dtype=np.uint8)).save(path, "JPEG")
    return path


def reference_features(embedder: Embedder, folder: Path, count: int = FEATURE_PHOTOS, seed: int = 0
                       ) -> list[bytes]:
    """The stored-features blobs of ``count`` fluke photos, as the gallery's analysis makes them: the first
    real flukes of ``../shared`` when present, else synthetic ones."""
    from whalegui.core.analysis import Analyser
    from whalegui.core.images import load_photo

    analyser = Analyser(embedder)
    folder.mkdir(parents=True, exist_ok=True)
    blobs = []
    real = shared_path("data", "real-flukes")
    paths = sorted(real.glob("*.jpg"))[:count] if real is not None else []
    if len(paths) < count:
        paths = [write_fluke_photo(folder / f"features-{i}.jpg", seed=1000 + seed + i) for i in range(count)]
    for path in paths:
        photo = load_photo(path, min_size=analyser.decode_size)
        analysis = analyser.analyse(photo.image, full_size=(photo.meta.width, photo.meta.height))
        blobs.append(analysis.features.to_blob())
    return blobs


def synthetic_embeddings(n: int, dim: int, photos_per_whale: int, seed: int,
                         spread: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors, ``photos_per_whale`` around each whale's random centre: (vectors, whale index)."""
    rng = np.random.default_rng(seed + 10)
    whales = max(1, n // photos_per_whale)
    centres = rng.standard_normal((whales, dim), dtype=np.float32)
    owner = np.arange(n) % whales
    v = centres[owner] / np.linalg.norm(centres[owner], axis=1, keepdims=True)
    v += rng.standard_normal((n, dim), dtype=np.float32) * (spread / np.sqrt(dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32), owner


def build_gallery(folder: Path, model_path: Path, n_photos: int, photos_per_whale: int = 5,
                  seed: int = 0) -> dict[str, float]:
    """Create a gallery of ``n_photos`` photos in ``folder``; returns timings of the steps (seconds)."""
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import DB_NAME, Gallery
    from whalegui.core.verify import FEATURES_VERSION, LocalFeatures

    embedder = Embedder(model_path, device="cpu")
    folder.mkdir(parents=True, exist_ok=True)
    seed_photo = write_fluke_photo(folder.parent / f"{folder.name}-seed.jpg", seed)
    with Gallery.open(folder, embedder) as g:
        g.enroll([seed_photo], whale_id="w_seed")

    t0 = time.perf_counter()
    n = n_photos - 1
    vectors, owner = synthetic_embeddings(n, embedder.dim, photos_per_whale, seed)
    now = datetime.now(timezone.utc).isoformat()
    blobs = reference_features(embedder, folder.parent / f"{folder.name}-features", seed=seed)
    conn = sqlite3.connect(folder / DB_NAME)
    with conn:
        file_rel, thumb_rel, width, height = conn.execute(
            "SELECT file, thumb, width, height FROM photos WHERE whale_id = 'w_seed'").fetchone()
        whales = int(owner.max(initial=-1)) + 1
        conn.executemany("INSERT INTO whales (id, name, notes, created) VALUES (?, ?, '', ?)",
                         [(f"w_{i:07x}", f"Synthetic {i}", now) for i in range(whales)])
        # The whole frame as the fluke's box, as an import stores it when nothing smaller is found.
        conn.executemany(
            "INSERT INTO photos (sha256, whale_id, file, thumb, original_name, taken_at, lat, lon, width, "
            "height, added_at, embedding, box_left, box_top, box_right, box_bottom, box_source, box_score, "
            "box_angle) VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?, ?, 0, 0, ?, ?, 'frame', 0, 0)",
            ((hashlib.sha256(f"synthetic-{seed}-{i}".encode()).hexdigest(), f"w_{int(owner[i]):07x}",
              file_rel, thumb_rel, f"synthetic_{i:07d}.jpg", width, height, now,
              vectors[i].astype("<f4").tobytes(), float(width), float(height))
             for i in range(n)))
        ids = [int(r[0]) for r in conn.execute(
            "SELECT id FROM photos WHERE whale_id != 'w_seed' ORDER BY id")]
        conn.executemany("INSERT INTO features (photo_id, version, blob) VALUES (?, ?, ?)",
                         ((photo_id, FEATURES_VERSION, blobs[k % len(blobs)])
                          for k, photo_id in enumerate(ids)))
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                     "WHERE key IN ('generation', 'index_generation')")
    conn.close()
    insert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with Gallery.open(folder, embedder) as g:
        g.rebuild_index()
        count = g.photo_count()
    rebuild_s = time.perf_counter() - t0
    assert count == n_photos, (count, n_photos)
    keypoints = [LocalFeatures.from_blob(b).points.shape[0] for b in blobs]
    return {"insert_s": insert_s, "index_rebuild_s": rebuild_s,
            "stored_keypoints_mean": float(np.mean(keypoints))}
