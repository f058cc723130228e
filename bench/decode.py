"""Benchmark 2: a 24-megapixel JPEG to the model's input, plain full decode + resize vs the loader's draft.

Plain: ``load_photo(path)`` (full 6000x4000 decode) then ``to_model_input``. Loader:
``load_model_input(path, prep)``, which asks libjpeg for a 1/2, 1/4 or 1/8 scale decode no smaller than
the model's input. Same file, same output shape, timed alternately. Bar: at least 4x.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.common import Result, model_prep, paired

BAR = 4.0


def make_camera_jpeg(path: Path, width: int = 6000, height: int = 4000, seed: int = 0,
                     quality: int = 90) -> Path:
    """A camera-sized JPEG: smooth gradients (sky, sea) plus fine noise, so it compresses like a photo."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    img = np.empty((height, width, 3), np.uint8)
    bases = (60 + 120 * y + 30 * x, 90 + 80 * y * (1 - x) + 40 * x, 140 + 60 * (1 - y) + 20 * np.sin(6 * x))
    for c, base in enumerate(bases):
        noise = rng.normal(0.0, 12.0, (height, width)).astype(np.float32)
        img[..., c] = np.clip(base + noise, 0, 255).astype(np.uint8)
    Image.fromarray(img, "RGB").save(path, "JPEG", quality=quality)
    return path


def run(quick: bool) -> list[Result]:
    from whalegui.core.images import load_model_input, load_photo, to_model_input

    prep = model_prep()
    reps = 5 if quick else 11
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        path = make_camera_jpeg(Path(tmp) / "camera-24mp.jpg")
        size_mb = path.stat().st_size / 1e6

        def plain() -> np.ndarray:
            return to_model_input(load_photo(path).image, prep)

        def draft() -> np.ndarray:
            return load_model_input(path, prep)

        a, b = plain(), draft()
        assert a.shape == b.shape == (prep.height, prep.width, 3), (a.shape, b.shape)
        mean_abs_diff = float(np.abs(a - b).mean())
        p = paired(plain, draft, reps)
    details = {"jpeg": "6000x4000 synthetic (gradients + Gaussian noise sigma 12), quality 90",
               "file_mb": round(size_mb, 1), "model_input": f"{prep.height}x{prep.width}",
               "plain_ms": round(p.a.median * 1e3, 1), "draft_ms": round(p.b.median * 1e3, 1),
               "mean_abs_pixel_diff": round(mean_abs_diff, 2), "reps": reps, **p.to_dict()}
    return [
        Result("2 decode", "24-MP JPEG -> input: full decode+resize",
               p.a.ms(), details=details),
        Result("2 decode", "24-MP JPEG -> input: loader (draft)",
               p.b.ms()),
        Result("2 decode", "draft speed-up (paired ratio)", p.ratio_text(), f">= {BAR:.0f}x",
               p.ratio >= BAR, details=details),
    ]
