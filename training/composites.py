"""Detector training data: real cropped flukes pasted into synthesised field frames, truth known exactly.

A composite is a wide frame (sky gradient, horizon, sea texture, wakes, glare) with one real cropped fluke
pasted at a random scale (20-90 % of the frame width), place and tilt (+-20 deg), softly blended at its
edges (the crop's own water meets a sea of its colour), sometimes partly under a wavy water line,
sometimes grey, then JPEG'd and squashed to the detector's square input (sometimes via a 100x100
thumbnail, like the labelled photos). A tenth of the frames hold no fluke.

Truth per frame, in coordinates normalised to the frame (0..1, x right, y down):
``box`` = (x0, y0, x1, y1) of the pasted, rotated crop; ``tips`` = (xl, yl, xr, yr), the midpoints of the
crop's left and right edges after rotation (their slope is the tilt to undo); ``has`` = 1 when a fluke
is present.

Flukes come from a folder of real cropped fluke photos (by default ``../shared/data/real-flukes`` beside
the repository, see :func:`default_flukes_dir`); :func:`make_set_from` takes images instead, so tests
can paste synthetic flukes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from training.field_augment import jpeg, sea_texture, water_line

log = logging.getLogger(__name__)

#: The detector's square input side, in pixels.
SIZE = 128


def default_flukes_dir() -> Path:
    """``../shared/data/real-flukes`` beside the repository (it need not exist)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-flukes"


@dataclass(frozen=True)
class Composite:
    """One training frame for the detector and its truth (see the module docstring)."""

    image: np.ndarray  # (size, size, 3) uint8, squashed
    box: np.ndarray  # (4,) float32
    tips: np.ndarray  # (4,) float32
    has: float


def fluke_paths(root: Path | None = None) -> list[Path]:
    """The fluke photos in ``root`` (default :func:`default_flukes_dir`), sorted by name."""
    root = default_flukes_dir() if root is None else root
    return sorted(p for p in root.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def background(w: int, h: int, rng: np.random.Generator, tint: np.ndarray) -> np.ndarray:
    """Sky over sea (the horizon often above the frame), wakes and glare; float (h, w, 3)."""
    sea = sea_texture(h, w, rng)
    # pull the sea towards the fluke crop's own water colour so the paste's edge is not a giveaway
    mix = float(rng.uniform(0.4, 0.9))
    sea = sea * (1 - mix) + (tint[None, None, :] + (sea - sea.mean((0, 1)))) * mix
    horizon = int(rng.uniform(-0.6, 0.5) * h)
    if horizon > 0:
        top = np.asarray([rng.uniform(150, 230), rng.uniform(170, 235), rng.uniform(190, 255)])
        bot = top * rng.uniform(0.75, 1.0)
        t = np.linspace(0, 1, horizon)[:, None, None]
        sea[:horizon] = top * (1 - t) + bot * t
        if rng.random() < 0.4:  # a strip of coast on the horizon
            ch = max(1, int(rng.uniform(0.02, 0.08) * h))
            y0 = max(0, horizon - ch)
            sea[y0:horizon] = np.asarray([rng.uniform(40, 110)] * 3) + rng.normal(0, 8, (horizon - y0, w, 1))
    img = Image.fromarray(sea.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(0, 4))):  # wakes / white water
        y = rng.uniform(max(horizon, 0), h)
        x = rng.uniform(0, w)
        rw, rh = rng.uniform(0.05, 0.4) * w, rng.uniform(0.01, 0.05) * h
        draw.ellipse((x - rw, y - rh, x + rw, y + rh), fill=tuple(int(v) for v in rng.uniform(200, 255, 3)))
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    a = np.asarray(img, dtype=np.float32)
    if rng.random() < 0.3:  # glare
        yy, xx = np.mgrid[0:h, 0:w]
        gx, gy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.1, 0.4) * w
        a += 120 * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r))[..., None]
    return a


def _edge_tint(crop: np.ndarray) -> np.ndarray:
    """Mean colour of the crop's top corners (water or sky beside the fluke's tips)."""
    h, w = crop.shape[:2]
    s = max(2, min(h, w) // 5)
    corners = np.concatenate([crop[:s, :s].reshape(-1, 3), crop[:s, -s:].reshape(-1, 3)])
    return np.asarray(corners.mean(0))


def make_composite(fluke: Image.Image | None, rng: np.random.Generator, size: int = SIZE) -> Composite:
    """One composite (see the module docstring); ``fluke=None`` gives an empty frame."""
    fw = int(rng.integers(220, 360))
    fh = int(fw / rng.uniform(1.0, 2.2))
    if fluke is None:
        bg = background(fw, fh, rng, np.asarray([60.0, 90.0, 120.0]))
        img = Image.fromarray(bg.clip(0, 255).astype(np.uint8))
        return Composite(_finish(img, rng, size), np.zeros(4, np.float32), np.zeros(4, np.float32), 0.0)
    frac = float(rng.uniform(0.2, 0.9))
    cw = max(8, int(frac * fw))
    ch = max(4, int(cw * fluke.height / fluke.width * rng.uniform(0.85, 1.15)))
    ch = min(ch, int(0.95 * fh))
    crop = fluke.resize((cw, ch), Image.Resampling.BILINEAR)
    carr = np.asarray(crop, dtype=np.float32)
    bg = background(fw, fh, rng, _edge_tint(carr))
    angle = float(rng.uniform(-20, 20))
    # soft alpha: an inset rectangle, blurred, so the crop fades into the sea
    feather = max(1.0, rng.uniform(0.03, 0.1) * min(cw, ch))
    alpha = Image.new("L", (cw, ch), 0)
    ImageDraw.Draw(alpha).rectangle((feather, feather, cw - 1 - feather, ch - 1 - feather), fill=255)
    alpha = alpha.filter(ImageFilter.GaussianBlur(feather / 2))
    rgba = crop.convert("RGBA")
    rgba.putalpha(alpha)
    rot = rgba.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    rw, rh = rot.size
    # a tall rotated crop may not fit: then it overhangs (the box is clipped to the frame)
    x_lo, x_hi = sorted((-0.05 * rw, fw - 0.95 * rw))
    y_lo, y_hi = sorted((-0.05 * rh, fh - 0.95 * rh))
    x0, y0 = float(rng.uniform(x_lo, x_hi)), float(rng.uniform(y_lo, y_hi))
    img = Image.fromarray(bg.clip(0, 255).astype(np.uint8))
    img.paste(rot, (round(x0), round(y0)), rot)
    # truth: the crop's corners and edge midpoints, rotated about its centre (PIL rotates anticlockwise)
    th = np.deg2rad(angle)
    cx, cy = x0 + rw / 2, y0 + rh / 2
    pts = np.asarray([[-cw / 2, -ch / 2], [cw / 2, -ch / 2], [cw / 2, ch / 2], [-cw / 2, ch / 2],
                      [-cw / 2, 0], [cw / 2, 0]])
    rotm = np.asarray([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
    p = pts @ rotm.T + np.asarray([cx, cy])
    box = np.asarray([p[:4, 0].min(), p[:4, 1].min(), p[:4, 0].max(), p[:4, 1].max()])
    box = np.clip(box / np.asarray([fw, fh, fw, fh]), 0, 1)
    tips = np.clip((p[4:] / np.asarray([fw, fh])).reshape(4), 0, 1)
    if rng.random() < 0.35:
        img = water_line(img, rng, top=(0.6, 0.98))
    return Composite(_finish(img, rng, size), box.astype(np.float32), tips.astype(np.float32), 1.0)


def _finish(img: Image.Image, rng: np.random.Generator, size: int) -> np.ndarray:
    if rng.random() < 0.3:
        img = ImageOps.grayscale(img).convert("RGB")
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    img = jpeg(img, int(rng.integers(30, 90)))
    if rng.random() < 0.5:  # via a labelled-style 100x100 thumbnail
        img = jpeg(img.resize((100, 100), Image.Resampling.BILINEAR), int(rng.integers(50, 90)))
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def load_fluke(path: Path, max_width: int = 400) -> Image.Image:
    """A fluke photo as RGB, no wider than ``max_width`` (decoded at a reduced size when JPEG allows)."""
    with Image.open(path) as f:
        f.draft("RGB", (max_width, max_width))
        im = f.convert("RGB")
    if im.width > max_width:
        im = im.resize((max_width, max(1, round(im.height * max_width / im.width))),
                       Image.Resampling.BILINEAR)
    return im


def make_set(paths: Sequence[Path], n: int, seed: int, size: int = SIZE, p_empty: float = 0.1,
             ) -> dict[str, np.ndarray]:
    """``n`` composites drawing flukes from the photos at ``paths``: arrays image, box, tips, has."""
    return make_set_from([load_fluke(p) for p in paths], n, seed, size, p_empty)


def make_set_from(flukes: Sequence[Image.Image], n: int, seed: int, size: int = SIZE,
                  p_empty: float = 0.1) -> dict[str, np.ndarray]:
    """``n`` composites drawing from ``flukes`` (RGB images): arrays image (n, size, size, 3) uint8, box
    (n, 4), tips (n, 4) and has (n,) float32."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {"image": [], "box": [], "tips": [], "has": []}
    for _ in range(n):
        f = None if rng.random() < p_empty else flukes[int(rng.integers(len(flukes)))]
        c = make_composite(f, rng, size)
        out["image"].append(c.image)
        out["box"].append(c.box)
        out["tips"].append(c.tips)
        out["has"].append(np.asarray(c.has, np.float32))
    return {k: np.stack(v) for k, v in out.items()}
