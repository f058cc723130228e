"""Benchmark 5: bulk import throughput, ``Gallery.import_catalogue`` on camera-sized JPEGs.

The catalogue: a Kaggle ``Image,Id`` CSV and a folder of 4000x3000 JPEGs (12 MP, quality 90, a few MB each,
like a camera's): a synthetic fluke (training's generator) scaled up to fill the frame, with sensor-like
noise so the files compress like photos; three photos per whale (one render each, varied by noise and
exposure). Imported into a new gallery with the model on the CPU; the whole call is timed (hashing,
decoding at reduced scale, embedding in batches of ``whalegui.core.gallery.IMPORT_BATCH``, copying the
files, thumbnails, SQLite, index).
"""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Result
from bench.galleries import app_model

SIZE = (4000, 3000)


def make_catalogue(folder: Path, n: int, per_whale: int = 3, seed: int = 0) -> tuple[Path, Path]:
    from PIL import Image

    images = folder / "train"
    images.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 7, (SIZE[1] + 64, SIZE[0] + 64, 3)).astype(np.float32)
    rows = []
    from training.synthetic import make_whale, render_photo  # numpy and Pillow only, as the app

    base: np.ndarray | None = None
    for i in range(n):
        whale = i // per_whale
        if i % per_whale == 0:  # one render per whale; its photos differ by noise and exposure
            photo = render_photo(make_whale(np.random.default_rng([seed, whale])),
                                 np.random.default_rng([seed, whale, i]), 1000)
            base = np.asarray(photo.resize(SIZE, Image.Resampling.BILINEAR), np.float32)
        assert base is not None
        dy, dx = divmod(i % 4096, 64)  # a different noise crop for every photo: no two files alike
        arr = np.clip(base * (0.9 + 0.05 * (i % per_whale)) + noise[dy:dy + SIZE[1], dx:dx + SIZE[0]],
                      0, 255).astype(np.uint8)
        name = f"cam_{i:04d}.jpg"
        Image.fromarray(arr).save(images / name, "JPEG", quality=90)
        rows.append((name, f"w_{whale:07x}"))
    csv_path = folder / "train.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Image", "Id"])
        w.writerows(rows)
    return csv_path, images


def run(quick: bool) -> list[Result]:
    from whalegui.core import gallery as gallery_module
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import Gallery

    n = 12 if quick else 96
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp_s:
        tmp = Path(tmp_s)
        model = app_model(tmp)
        t0 = time.perf_counter()
        csv_path, images = make_catalogue(tmp / "catalogue", n)
        make_s = time.perf_counter() - t0
        total_mb = sum(p.stat().st_size for p in images.iterdir()) / 1e6
        embedder = Embedder(model.path, device="cpu")
        embedder.embed_images([])  # nothing; the session is already loaded
        with Gallery.open(tmp / "gallery", embedder) as g:
            t0 = time.perf_counter()
            report = g.import_catalogue(csv_path, images)
            secs = time.perf_counter() - t0
            count = g.photo_count()
    assert report.imported == n == count, (report, count)
    batch = getattr(gallery_module, "IMPORT_BATCH", "?")
    rate = n / secs
    return [Result(
        "5 import", f"{n} JPEGs {SIZE[0]}x{SIZE[1]} ({total_mb / n:.1f} MB avg), batch {batch}, CPU, "
                    f"{model.label}",
        f"{rate:.2f} photos/s ({secs:.1f} s, {total_mb / secs:.1f} MB/s)",
        details={"photos": n, "seconds": secs, "photos_per_s": rate, "mb_total": total_mb,
                 "batch": batch, "catalogue_generation_s": make_s, "errors": report.errors})]
