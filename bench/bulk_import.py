"""Benchmark 5: bulk import throughput, ``Gallery.import_catalogue`` on camera-sized JPEGs.

The catalogue: a Kaggle ``Image,Id`` CSV and a folder of 4000x3000 JPEGs (12 MP, quality 90, a few MB each,
like a camera's): a synthetic fluke (training's generator) scaled up to fill the frame, with sensor-like
noise so the files compress like photos; three photos per whale (one render each, varied by noise and
exposure). Imported into a new gallery on the CPU; the whole ``import_catalogue`` call is timed (hashing,
decoding at reduced scale, finding the fluke, embedding in batches of ``IMPORT_BATCH``, extracting and
storing local features, copying the files, thumbnails, SQLite, index).

Today's pipeline against the previous one, on the same machine in the same run (issue 10's budget: no less
than half the previous photos/s): the previous one is the code and the bundled model of commit
:data:`OLD_COMMIT` (VGG16 to block5 at 96x288, no fluke finder, no local features), taken from this checkout's
git history into a temporary folder with ``git archive``. Each import runs in a fresh Python process
(``PYTHONPATH`` naming the code to run) on the same catalogue into a new gallery, old and new alternated, so
both pay the same start-up and load drift hits both. Then today's stages per photo (read and decode,
detect, embed, features) are timed in this process on one import batch, from the analysis's own timings.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import REPO, Result
from bench.galleries import app_model

SIZE = (4000, 3000)
#: The last commit before identification became a pipeline (fluke finder, crop, local features, verification).
OLD_COMMIT = "6b8b4ad"
OLD_MODEL = "resources/models/whale-vgg16"
BUDGET = 0.5  # today's photos/s at least this fraction of the previous pipeline's

#: One import in a fresh process: whichever ``whalegui`` PYTHONPATH names, the given model, a new gallery.
_IMPORT_SCRIPT = """
import json, sys, time
import whalegui
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery
model, csv_path, images, folder = sys.argv[1:5]
embedder = Embedder(model, device="cpu")
with Gallery.open(folder, embedder) as g:
    t0 = time.perf_counter()
    report = g.import_catalogue(csv_path, images)
    seconds = time.perf_counter() - t0
    count = g.photo_count()
print(json.dumps({"seconds": seconds, "imported": report.imported, "count": count,
                  "whalegui": whalegui.__file__}))
"""


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


def old_pipeline(folder: Path) -> tuple[Path, Path] | None:
    """The previous pipeline's code root and model, extracted from git into ``folder``; None without git."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "old.tar"
    try:
        subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), OLD_COMMIT, "whalegui",
                        f"{OLD_MODEL}.onnx", f"{OLD_MODEL}.json"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    archive.unlink()
    return folder, folder / f"{OLD_MODEL}.onnx"


def import_in_process(code_root: Path, model: Path, csv_path: Path, images: Path, gallery: Path
                      ) -> dict[str, object]:
    """Import the catalogue in a fresh Python whose ``whalegui`` is ``code_root``'s; its JSON line."""
    env = dict(os.environ, PYTHONPATH=str(code_root))
    # cwd too: ``python -c`` puts the working directory first on sys.path.
    out = subprocess.run([sys.executable, "-c", _IMPORT_SCRIPT, str(model), str(csv_path), str(images),
                          str(gallery)], env=env, cwd=code_root, check=True, capture_output=True, text=True)
    got: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    assert str(got["whalegui"]).startswith(str(code_root)), (got, code_root)  # the intended code ran
    return got


def stage_split(model: Path, images: Path, n: int) -> dict[str, float]:
    """Today's milliseconds per photo per stage (read = read and decode), over one import batch."""
    from whalegui.core.analysis import Analyser
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import IMPORT_BATCH
    from whalegui.core.images import load_photo

    analyser = Analyser(Embedder(model, device="cpu"))
    paths = sorted(images.iterdir())[:min(n, IMPORT_BATCH)]
    analyser.analyse_many([load_photo(paths[0], min_size=analyser.decode_size).image])  # warm
    t0 = time.perf_counter()
    photos = [load_photo(p, min_size=analyser.decode_size) for p in paths]
    timings = {"read": 1000 * (time.perf_counter() - t0)}
    analyser.analyse_many([ph.image for ph in photos], full_sizes=[(ph.meta.width, ph.meta.height)
                                                                    for ph in photos],
                          batch_size=IMPORT_BATCH, timings=timings)
    return {k: v / len(paths) for k, v in timings.items()}


def run(quick: bool) -> list[Result]:
    from whalegui.core.gallery import IMPORT_BATCH

    n, pairs = (8, 1) if quick else (48, 2)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp_s:
        tmp = Path(tmp_s)
        model = app_model(tmp)
        t0 = time.perf_counter()
        csv_path, images = make_catalogue(tmp / "catalogue", n)
        make_s = time.perf_counter() - t0
        total_mb = sum(p.stat().st_size for p in images.iterdir()) / 1e6
        old = old_pipeline(tmp / "old")
        sides = {"new": (REPO, model.path)} | ({"old": old} if old is not None else {})
        seconds: dict[str, list[float]] = {side: [] for side in sides}
        for i in range(pairs):
            order = list(sides) if i % 2 == 0 else list(sides)[::-1]
            for side in order:
                got = import_in_process(*sides[side], csv_path, images, tmp / f"gallery-{side}-{i}")
                assert got["imported"] == n == got["count"], got
                seconds[side].append(float(str(got["seconds"])))
        split = stage_split(model.path, images, n)
    rate = {side: n / statistics.median(s) for side, s in seconds.items()}
    label = f"{n} JPEGs {SIZE[0]}x{SIZE[1]} ({total_mb / n:.1f} MB avg), batch {IMPORT_BATCH}, CPU"
    details = {"photos": n, "pairs": pairs, "seconds": seconds, "photos_per_s": rate, "mb_total": total_mb,
               "batch": IMPORT_BATCH, "catalogue_generation_s": make_s, "old_commit": OLD_COMMIT,
               "stage_ms_per_photo": split}
    results = [Result("5 import", f"{label}, today's pipeline ({model.label} + fluke finder + features)",
                      f"{rate['new']:.2f} photos/s ({statistics.median(seconds['new']):.1f} s, "
                      f"{total_mb / statistics.median(seconds['new']):.1f} MB/s)", details=details)]
    if "old" in rate:
        ratio = rate["new"] / rate["old"]
        has_bar = not model.stand_in
        results.append(Result(
            "5 import", f"  previous pipeline ({OLD_COMMIT}: its code and model, no finder, no features), "
                        "same catalogue, alternated: photos/s, new / old",
            f"{rate['old']:.2f} photos/s; new / old = {ratio:.2f}",
            f">= {BUDGET:.1f}" if has_bar else "", (ratio >= BUDGET) if has_bar else None))
    else:
        results.append(Result("5 import", "  previous pipeline", "-", "", None,
                              f"no git history here to take commit {OLD_COMMIT} from"))
    total = sum(split.values()) or 1.0
    results.append(Result("5 import", "  today's stages, ms per photo (share): " + " / ".join(split),
                          " / ".join(f"{v:.0f} ({100 * v / total:.0f}%)" for v in split.values())))
    return results
