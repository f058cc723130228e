"""Benchmark 3: identify end to end (photo file -> ``Gallery.identify`` -> ranked whales), warm.

The gallery holds 10,000 photos (synthetic embeddings inserted directly, see ``bench.galleries``); the query
path is the real one: the photo file is hashed, decoded by the loader, embedded by the model on the CPU
(ONNX Runtime), searched in the gallery's HNSW index and ranked by whale. Queries are synthetic fluke photos
600-1000 px wide (training's generator), each identified several times after a warm-up query; p50 and p95
over all timed queries. A per-stage split (decode, embed, search+rank) is measured separately.
Bar: p50 under 150 ms on 2 CPU cores with the default model.
"""

from __future__ import annotations

import tempfile
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.common import Result, Timing, time_many
from bench.galleries import app_model, build_gallery, write_fluke_photo

if TYPE_CHECKING:
    from whalegui.core.gallery import Gallery

BAR_MS = 150.0
GALLERY_PHOTOS = 10_000


def _identify_timings(g: Gallery, queries: list[Path], rounds: int) -> Timing:
    samples = []
    for _ in range(rounds):
        for q in queries:
            t0 = time.perf_counter()
            ident = g.identify(q, top=5)
            samples.append(time.perf_counter() - t0)
            assert ident.candidates, "identify returned no candidates"
    return Timing(samples)


def run(quick: bool, cuda: bool = False) -> list[Result]:
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import Gallery
    from whalegui.core.images import load_photo, model_decode_size

    n_queries, rounds = (8, 2) if quick else (30, 3)
    with tempfile.TemporaryDirectory(prefix="bench-identify-") as tmp_s:
        tmp = Path(tmp_s)
        model = app_model(tmp)
        build = build_gallery(tmp / "gallery", model.path, GALLERY_PHOTOS)
        qdir = tmp / "queries"
        qdir.mkdir()
        rng = np.random.default_rng(5)
        queries = [write_fluke_photo(qdir / f"q{i:03d}.jpg", seed=100 + i, width=int(rng.integers(600, 1001)))
                   for i in range(n_queries)]
        devices = ["cpu"] + (["cuda"] if cuda else [])
        results: list[Result] = []
        for device in devices:
            embedder = Embedder(model.path, device=device)
            if device == "cuda" and embedder.device != "CUDA GPU":
                continue
            with Gallery.open(tmp / "gallery", embedder, readonly=True) as g:
                g.identify(queries[0], top=5)  # warm: index loaded, session warmed
                t = _identify_timings(g, queries, rounds)
                # Per-stage split, same photos.
                prep = embedder.card.preprocessing
                size = model_decode_size(prep)  # what the gallery decodes queries at
                q0 = queries[len(queries) // 2]
                decode = time_many(partial(load_photo, q0, min_size=size), 10)
                image = load_photo(q0, min_size=size).image
                embed = time_many(partial(embedder.embed_images, [image]), 10)
                vec = embedder.embed_images([image])[0]
                search = time_many(partial(g.identify_embedding, vec, top=5), 20)
            p50, p95 = t.pct(50) * 1e3, t.pct(95) * 1e3
            where = "CUDA GPU" if device == "cuda" else "CPU"
            has_bar = not model.stand_in and device == "cpu"
            results.append(Result(
                "3 identify", f"photo -> ranked whales, {GALLERY_PHOTOS:,}-photo gallery, {where}, "
                              f"{model.label}",
                f"p50 {p50:.0f} ms, p95 {t.pct(95) * 1e3:.0f} ms (n={len(t.samples)})",
                f"p50 < {BAR_MS:.0f} ms" if has_bar else "", (p50 < BAR_MS) if has_bar else None,
                details={"p50_ms": p50, "p95_ms": p95, "samples_s": t.samples, "model": str(model.path),
                         "input": f"{prep.height}x{prep.width}", "queries": n_queries, "rounds": rounds,
                         "decode_ms": decode.median * 1e3, "embed_ms": embed.median * 1e3,
                         "search_rank_ms": search.median * 1e3, **build}))
            results.append(Result(
                "3 identify", f"  split ({where}): decode / embed / search+rank",
                f"{decode.median * 1e3:.0f} / {embed.median * 1e3:.0f} / {search.median * 1e3:.1f} ms"))
        results.append(Result("3 identify", f"  gallery set-up: {GALLERY_PHOTOS:,} rows inserted / index "
                              "rebuilt from SQLite",
                              f"{build['insert_s']:.1f} s / {build['index_rebuild_s']:.1f} s"))
    return results
