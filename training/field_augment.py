"""Field nuisance augmentation: what changes between two field photos of one fluke.

Scale and framing, tilt, a wavy water line over the lower part, light, greyscale, blur, JPEG and a
squashed aspect (the crop's aspect is jittered and the resize back to the photo's size squashes it).
Never a mirror: the left and right halves of a fluke carry different marks, so a mirrored photo is not a
positive of the same whale.

:func:`water_line`, :func:`sea_texture` and :func:`jpeg` are shared with the detector's composites
(:mod:`training.composites`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps


@dataclass(frozen=True)
class FieldAugment:
    """A random field-photo alteration of an RGB image, the same size as the input (call it with an rng).

    The defaults are those the shipped embedder was trained with.
    """

    keep: tuple[float, float] = (0.7, 1.0)  # fraction of each side kept by the zoom crop
    max_shift: float = 0.08  # of width / height
    max_tilt_deg: float = 12.0
    aspect: tuple[float, float] = (0.75, 1.33)  # crop aspect jitter (the resize squashes it back)
    p_water: float = 0.3
    p_grey: float = 0.3
    p_blur: float = 0.3
    p_jpeg: float = 0.5
    light: tuple[float, float] = (0.7, 1.3)  # brightness and contrast factors

    def __call__(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        im = image.convert("RGB")
        w, h = im.size
        fill = _mean_colour(im)
        im = im.rotate(float(rng.uniform(-self.max_tilt_deg, self.max_tilt_deg)),
                       resample=Image.Resampling.BILINEAR, fillcolor=fill)
        keep = float(rng.uniform(*self.keep))
        aspect = float(np.exp(rng.uniform(*np.log(self.aspect))))
        cw, ch = min(w, w * keep * np.sqrt(aspect)), min(h, h * keep / np.sqrt(aspect))
        dx = (w - cw) / 2 + rng.uniform(-self.max_shift, self.max_shift) * w
        dy = (h - ch) / 2 + rng.uniform(-self.max_shift, self.max_shift) * h
        im = im.transform((w, h), Image.Transform.EXTENT, (dx, dy, dx + cw, dy + ch),
                          resample=Image.Resampling.BILINEAR, fillcolor=fill)
        if rng.random() < self.p_water:
            im = water_line(im, rng)
        im = ImageEnhance.Brightness(im).enhance(float(rng.uniform(*self.light)))
        im = ImageEnhance.Contrast(im).enhance(float(rng.uniform(*self.light)))
        if rng.random() < self.p_grey:
            im = ImageOps.grayscale(im).convert("RGB")
        if rng.random() < self.p_blur:
            # the radius grows with the photo so a large photo is blurred as much as a thumbnail
            im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2) * max(1.0, w / 200))))
        if rng.random() < self.p_jpeg:
            im = jpeg(im, int(rng.integers(25, 85)))
        return im


def water_line(im: Image.Image, rng: np.random.Generator, *,
               top: tuple[float, float] = (0.75, 0.95)) -> Image.Image:
    """Cover the part below a wavy line (its mean at ``top`` of the height) with sea: the fluke's
    trailing edge partly under water."""
    a = np.asarray(im.convert("RGB"), dtype=np.float32).copy()
    h, w = a.shape[:2]
    base = rng.uniform(*top) * h
    xs = np.arange(w)
    line = base + rng.uniform(0.01, 0.04) * h * np.sin(xs / w * rng.uniform(4, 14) + rng.uniform(0, 6.3))
    mask = np.arange(h)[:, None] > line[None, :]
    sea = sea_texture(h, w, rng)
    a[mask] = sea[mask]
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def sea_texture(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A float32 (h, w, 3) blue-grey sea with horizontal ripples and speckle (0..255, unclipped)."""
    colour = np.asarray([rng.uniform(20, 90), rng.uniform(50, 120), rng.uniform(80, 170)], dtype=np.float32)
    if rng.random() < 0.3:
        colour[:] = colour.mean()
    small = rng.normal(0, 1, (max(2, h // 6), max(2, w // 3))).astype(np.float32)
    noise = np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    fine = rng.normal(0, 1, (h, w)).astype(np.float32)
    tex: np.ndarray = colour[None, None, :] * (1 + 0.25 * noise[..., None]) + 4 * fine[..., None]
    return tex


def jpeg(im: Image.Image, quality: int) -> Image.Image:
    """``im`` after a round trip through JPEG at ``quality``."""
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("RGB")


def _mean_colour(im: Image.Image) -> tuple[int, int, int]:
    r, g, b = (int(c) for c in np.asarray(im.resize((1, 1), Image.Resampling.BOX)).reshape(3))
    return (r, g, b)
