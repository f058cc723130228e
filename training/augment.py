"""Photo augmentation on PIL images, before :func:`whalegui.core.images.to_model_input`.

Tilt, zoom, shift, brightness/contrast, grayscale and blur: the changes between two sightings of one fluke
(camera angle, distance, framing, light). An augmented copy of a photo is the positive of a whale that has
only one photo, and of every unlabelled photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps


@dataclass(frozen=True)
class AugmentConfig:
    max_tilt_deg: float = 8.0
    zoom: tuple[float, float] = (0.85, 1.0)  # fraction of the photo kept by the crop
    max_shift: float = 0.06  # of width/height
    brightness: tuple[float, float] = (0.7, 1.3)
    contrast: tuple[float, float] = (0.7, 1.3)
    p_grayscale: float = 0.2
    p_blur: float = 0.25
    max_blur_radius: float = 1.5
    p_flip: float = 0.0  # flukes are not mirror-symmetric in their markings: off by default


def augment(image: Image.Image, rng: np.random.Generator, cfg: AugmentConfig | None = None) -> Image.Image:
    """A randomly altered copy of an RGB photo, the same size as the input."""
    cfg = cfg or AugmentConfig()
    im = image.convert("RGB") if image.mode != "RGB" else image
    w, h = im.size
    fill = _mean_colour(im)

    angle = float(rng.uniform(-cfg.max_tilt_deg, cfg.max_tilt_deg))
    im = im.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=fill)

    keep = float(rng.uniform(*cfg.zoom))
    cw, ch = max(1, round(w * keep)), max(1, round(h * keep))
    dx = (w - cw) / 2 + rng.uniform(-cfg.max_shift, cfg.max_shift) * w
    dy = (h - ch) / 2 + rng.uniform(-cfg.max_shift, cfg.max_shift) * h
    box = (dx, dy, dx + cw, dy + ch)
    im = im.transform((w, h), Image.Transform.EXTENT, box, resample=Image.Resampling.BILINEAR,
                      fillcolor=fill)

    im = ImageEnhance.Brightness(im).enhance(float(rng.uniform(*cfg.brightness)))
    im = ImageEnhance.Contrast(im).enhance(float(rng.uniform(*cfg.contrast)))
    if rng.random() < cfg.p_grayscale:
        im = ImageOps.grayscale(im).convert("RGB")
    if rng.random() < cfg.p_blur:
        im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, cfg.max_blur_radius))))
    if rng.random() < cfg.p_flip:
        im = ImageOps.mirror(im)
    return im


def _mean_colour(im: Image.Image) -> tuple[int, int, int]:
    small = np.asarray(im.resize((8, 8), Image.Resampling.BILINEAR), dtype=np.float32)
    r, g, b = (int(v) for v in small.reshape(-1, 3).mean(axis=0))
    return (r, g, b)
