"""Benchmark 2: a 24-megapixel JPEG to the model's input, plain full decode + resize vs the loader's draft.

Plain: ``load_photo(path)`` (full 6000x4000 decode) then ``to_model_input``. Loader:
``load_model_input(path, prep)``, which asks libjpeg for a 1/2, 1/4 or 1/8 scale decode no smaller than
the model's input. Same file, same output shape, timed alternately. The bar is held on a grainy file
(noise sigma 12, about 8.5 MB, the top of what 24-MP cameras write at quality 90); a smoother file
(sigma 4) is shown for context: DCT scaling skips the inverse transforms and the big resize, not the
entropy decoding, so the gain grows as the file gets smoother. Bar: at least 4x.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.common import Paired, Result, model_prep, paired

BAR = 4.0


def make_camera_jpeg(path: Path, width: int = 6000, height: int = 4000, seed: int = 0,
                     quality: int = 90, noise: float = 12.0) -> Path:
    """A camera-sized JPEG: smooth gradients (sky, sea) plus fine noise, so it compresses like a photo."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    img = np.empty((height, width, 3), np.uint8)
    bases = (60 + 120 * y + 30 * x, 90 + 80 * y * (1 - x) + 40 * x, 140 + 60 * (1 - y) + 20 * np.sin(6 * x))
    for c, base in enumerate(bases):
        grain = rng.normal(0.0, noise, (height, width)).astype(np.float32)
        img[..., c] = np.clip(base + grain, 0, 255).astype(np.uint8)
    Image.fromarray(img, "RGB").save(path, "JPEG", quality=quality)
    return path


def measure(prep: object, noise: float, reps: int) -> dict[str, object]:
    from whalegui.core.images import load_model_input, load_photo, to_model_input

    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        path = make_camera_jpeg(Path(tmp) / "camera-24mp.jpg", noise=noise)
        size_mb = path.stat().st_size / 1e6

        def plain() -> np.ndarray:
            return to_model_input(load_photo(path).image, prep)  # type: ignore[arg-type]

        def draft() -> np.ndarray:
            return load_model_input(path, prep)  # type: ignore[arg-type]

        a, b = plain(), draft()
        assert a.shape == b.shape, (a.shape, b.shape)
        p = paired(plain, draft, reps)
    return {"paired": p,
            "jpeg": f"6000x4000 synthetic (gradients + Gaussian noise sigma {noise:g}), quality 90",
            "file_mb": round(size_mb, 1), "mean_abs_input_diff": round(float(np.abs(a - b).mean()), 2),
            "reps": reps}


def run(quick: bool) -> list[Result]:
    prep = model_prep()
    reps = 5 if quick else 11
    results: list[Result] = []
    for noise, role in ((12.0, "bar"), (4.0, "context")):
        m = measure(prep, noise, reps)
        p = m.pop("paired")
        assert isinstance(p, Paired)
        details = {**m, "model_input": f"{prep.height}x{prep.width}", "plain_ms": round(p.a.median * 1e3, 1),
                   "draft_ms": round(p.b.median * 1e3, 1), **p.to_dict()}
        what = f"24-MP JPEG, {m['file_mb']} MB (noise sigma {noise:g})"
        results.append(Result("2 decode", f"{what}: full decode+resize vs loader (draft)",
                              f"{p.a.ms()} vs {p.b.ms()}", details=details))
        results.append(Result("2 decode", f"{what}: draft speed-up (paired)", p.ratio_text(),
                              f">= {BAR:.0f}x" if role == "bar" else "",
                              (p.ratio >= BAR) if role == "bar" else None))
    return results
