"""Deterministic procedural photographs of humpback whale flukes, in the Kaggle whale format.

No labelled real fluke photos can be downloaded where this project is built, so it makes its own: a set of
synthetic individuals, each photographed several times. Identity lives where real fluke identification
lives (:class:`WhaleIdentity`): the silhouette and the serrated, notched trailing edge, the black and white
ventral pigmentation pattern, and scars (spots, rake marks, scratches). Every photo of an individual varies
in nuisance (:func:`render_photo`): rotation, scale, perspective tilt, crop, a water line hiding part of the
fluke, sea and sky, lighting, diatom tint, haze, blur, noise, greyscale, caption text, JPEG quality and size.

Pure numpy + Pillow, so the app's demo and the tests can use it without TensorFlow. The same seed gives
byte-identical output.

Python API::

    generate_dataset(out, whales=50, train_per_whale=(1, 6), test_per_whale=1, unknown_whales=10, seed=0)
    whale = make_whale(7)
    image = render_photo(whale, np.random.default_rng(1), width=900)

Command line: ``whale-train synth --out DIR --whales N [--train-per-whale A-B] [--test-per-whale C]
[--unknown-whales U] [--seed S] [--width A-B]``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

log = logging.getLogger(__name__)

# The canonical fluke lives in "span units": x runs from -1 (left tip) to +1 (right tip), y points down.
# Its texture covers x in [-_X_EXTENT, _X_EXTENT] and y in [0, _Y_EXTENT].
_X_EXTENT = 1.04
_Y_EXTENT = 0.80
_TEXTURE_WIDTH = 1024
_TEXTURE_HEIGHT = round(_TEXTURE_WIDTH * _Y_EXTENT / (2 * _X_EXTENT))
_PX_PER_UNIT = _TEXTURE_WIDTH / (2 * _X_EXTENT)

#: Default aspect ratio range (width / height) of the photos: real cropped flukes are wide.
ASPECT_RANGE = (2.5, 4.0)
#: Default width range of dataset photos (real cropped flukes have a median of about 940x250).
WIDTH_RANGE = (600, 1000)

ProgressFn = Callable[[int, int], None]


# --------------------------------------------------------------------------------------------------------
# Identity
# --------------------------------------------------------------------------------------------------------

@dataclass(eq=False)
class WhaleIdentity:
    """The parameters that make one individual: its fluke's shape, edge, pigmentation and scars.

    The rendered fluke texture (lightness + opacity in canonical position) is made once and cached.
    """

    whale_id: str
    # Silhouette, per side (left, right): tip height, trailing-edge sweep and its curve, chord profile.
    tip_y: tuple[float, float]
    sweep: tuple[float, float]
    sweep_power: tuple[float, float]
    chord: tuple[float, float]
    chord_m: tuple[float, float]
    chord_n: tuple[float, float]
    notch_depth: float
    notch_width: float
    peduncle_width: float
    # Trailing edge: serration (scallops) and bites taken out of it; an optional missing tip.
    serration_freq: float
    serration_phase: np.ndarray  # control points of a wandering phase, so the knobs are irregular
    serration_amp: np.ndarray  # control points of the scallop amplitude along x in [-1, 1]
    bites: np.ndarray  # rows of (x, depth, half width)
    missing_tip: tuple[int, float] | None  # (side -1/+1, |x| beyond which the tip is gone)
    # Pigmentation: bias (mostly black .. mostly white), blobs (x, y, rx, ry, angle, amplitude).
    white_bias: float
    blobs: np.ndarray
    centre_dark: float
    edge_dark: float
    margin_width: float
    mottle_seed: int
    # Scars: dark spots, white rings, white scratches (x0, y0, x1, y1, width), rake groups.
    dark_spots: np.ndarray
    white_spots: np.ndarray
    scratches: np.ndarray
    _levels: list[Image.Image] = field(default_factory=list, init=False, repr=False)

    def texture(self, span_px: float = float(_TEXTURE_WIDTH)) -> Image.Image:
        """The canonical fluke as an ``LA`` image (lightness, opacity), at least ``span_px`` wide if possible.

        Smaller levels are made by halving, so shrinking the fluke into a small photo does not alias.
        """
        if not self._levels:
            self._levels.append(_render_texture(self))
        level = self._levels[0]
        i = 0
        while level.width / 2 >= span_px * 1.1 and level.width > 64:
            i += 1
            if i >= len(self._levels):
                prev = self._levels[-1]
                self._levels.append(prev.reduce(2))
            level = self._levels[i]
        return level

    def release(self) -> None:
        """Forget the cached texture (it is re-rendered, identically, when next needed)."""
        self._levels.clear()


def _as_rng(seed_or_rng: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


def _pair(rng: np.random.Generator, lo: float, hi: float, spread: float) -> tuple[float, float]:
    """Two related values (left and right side): flukes are near-symmetric, never exactly."""
    v = rng.uniform(lo, hi)
    d = rng.uniform(-spread, spread) * (hi - lo)
    return float(np.clip(v - d, lo, hi)), float(np.clip(v + d, lo, hi))


def make_whale(seed_or_rng: int | np.random.Generator | None = None) -> WhaleIdentity:
    """Draw a new individual: its whale id (``w_`` + 7 hex digits) and its identity parameters."""
    rng = _as_rng(seed_or_rng)
    whale_id = f"w_{int(rng.integers(0, 16**7)):07x}"

    # Bites: 0-4 chunks missing from the trailing edge (a strong, stable identity cue in real flukes).
    n_bites = int(rng.choice([0, 1, 1, 2, 2, 3, 4]))
    bites = np.column_stack([
        rng.uniform(-0.92, 0.92, n_bites) * rng.choice([-1, 1], n_bites),
        rng.uniform(0.008, 0.03, n_bites),
        rng.uniform(0.01, 0.035, n_bites),
    ]) if n_bites else np.zeros((0, 3))
    missing_tip = None
    if rng.random() < 0.08:
        missing_tip = (int(rng.choice([-1, 1])), float(rng.uniform(0.8, 0.93)))

    # Pigmentation blobs, many mirrored onto the other side with a perturbation.
    n_blobs = int(rng.integers(5, 13))
    blobs = []
    for _ in range(n_blobs):
        x = rng.uniform(0.05, 0.95) * rng.choice([-1, 1])
        y = rng.uniform(0.12, 0.55)
        rx, ry = rng.uniform(0.04, 0.28), rng.uniform(0.03, 0.14)
        angle = rng.uniform(-0.9, 0.9)
        amp = rng.uniform(0.4, 1.4) * rng.choice([-1, 1])
        blobs.append((x, y, rx, ry, angle, amp))
        if rng.random() < 0.6:
            j = rng.normal(0, 0.05, 4)
            blobs.append((-x + j[0], y + j[1] * 0.5, rx * (1 + j[2] * 3), ry * (1 + j[3] * 3), -angle,
                          amp * rng.uniform(0.6, 1.1)))
    # Type 1 (mostly white) .. type 5 (mostly black), as photo-ID catalogues classify flukes.
    white_bias = float(rng.choice([-1.3, -0.7, -0.2, 0.3, 0.8, 1.3]) + rng.normal(0, 0.2))

    def spots(n: int, rmin: float, rmax: float) -> np.ndarray:
        return np.column_stack([rng.uniform(-0.95, 0.95, n), rng.uniform(0.05, 0.6, n),
                                rng.uniform(rmin, rmax, n)]) if n else np.zeros((0, 3))

    n_dark = int(rng.choice([0, 3, 10, 25, 60]) * rng.uniform(0.5, 1.5))
    n_white = int(rng.choice([0, 2, 6, 15, 35]) * rng.uniform(0.5, 1.5))
    scratches = []
    for _ in range(int(rng.choice([0, 1, 2, 3, 5]))):  # rake marks: groups of parallel lines
        x0, y0 = rng.uniform(-0.9, 0.9), rng.uniform(0.1, 0.55)
        angle = rng.uniform(-1.2, 1.2) + (math.pi / 2 if rng.random() < 0.4 else 0)
        length = rng.uniform(0.05, 0.25)
        gap = rng.uniform(0.008, 0.02)
        width = rng.uniform(0.0025, 0.006)
        for k in range(int(rng.integers(1, 5))):
            ox, oy = -math.sin(angle) * gap * k, math.cos(angle) * gap * k
            ll = length * rng.uniform(0.7, 1.0)
            scratches.append((x0 + ox, y0 + oy, x0 + ox + math.cos(angle) * ll,
                              y0 + oy + math.sin(angle) * ll, width))
    for _ in range(int(rng.choice([0, 2, 5, 12]))):  # single fine scratches
        x0, y0 = rng.uniform(-0.9, 0.9), rng.uniform(0.1, 0.55)
        angle, ll = rng.uniform(0, math.pi), rng.uniform(0.02, 0.1)
        scratches.append((x0, y0, x0 + math.cos(angle) * ll, y0 + math.sin(angle) * ll,
                          rng.uniform(0.002, 0.004)))

    return WhaleIdentity(
        whale_id=whale_id,
        tip_y=_pair(rng, 0.03, 0.16, 0.15),
        sweep=_pair(rng, 0.12, 0.26, 0.15),
        sweep_power=_pair(rng, 0.8, 1.7, 0.1),
        chord=_pair(rng, 0.28, 0.40, 0.1),
        chord_m=_pair(rng, 1.4, 3.0, 0.1),
        chord_n=_pair(rng, 0.45, 0.85, 0.1),
        notch_depth=float(rng.uniform(0.02, 0.07)),
        notch_width=float(rng.uniform(0.012, 0.04)),
        peduncle_width=float(rng.uniform(0.07, 0.13)),
        serration_freq=float(rng.uniform(18, 45)),
        serration_phase=rng.uniform(0, 2 * math.pi) + rng.normal(0, 1.2, 40).cumsum() * 0.5,
        serration_amp=rng.uniform(0.0, 1.0, 12) ** 1.5 * rng.uniform(0.004, 0.014),
        bites=bites,
        missing_tip=missing_tip,
        white_bias=white_bias,
        blobs=np.array(blobs),
        centre_dark=float(rng.uniform(0.3, 2.0)),
        edge_dark=float(rng.uniform(0.5, 2.5)),
        margin_width=float(rng.uniform(0.008, 0.03)),
        mottle_seed=int(rng.integers(0, 2**31)),
        dark_spots=spots(n_dark, 0.003, 0.012),
        white_spots=spots(n_white, 0.004, 0.014),
        scratches=np.array(scratches) if scratches else np.zeros((0, 5)),
    )


def _sided(values: tuple[float, float], x: np.ndarray) -> np.ndarray:
    return np.where(x < 0, values[0], values[1])


def _edges(w: WhaleIdentity, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trailing edge (top) and leading edge (bottom) heights of the fluke at each x, in span units."""
    ax = np.minimum(np.abs(x), 1.0)
    trailing = _sided(w.tip_y, x) + _sided(w.sweep, x) * (1 - ax) ** _sided(w.sweep_power, x)
    trailing = trailing + w.notch_depth * np.exp(-((x / w.notch_width) ** 2))
    # Scallops whose amplitude wanders along the edge; none at the very centre.
    amp = np.interp(x, np.linspace(-1, 1, len(w.serration_amp)), w.serration_amp)
    phase = np.interp(x, np.linspace(-1, 1, len(w.serration_phase)), w.serration_phase)
    scallop = 1 - np.abs(np.sin(math.pi * w.serration_freq * x + phase)) ** 0.6
    trailing = trailing + amp * scallop * np.clip(np.abs(x) / 0.08, 0, 1)
    for bx, depth, half in w.bites:
        u = np.clip(1 - ((x - bx) / half) ** 2, 0, None)
        trailing = trailing + depth * u
    chord = _sided(w.chord, x) * np.clip(1 - ax ** _sided(w.chord_m, x), 0, None) ** _sided(w.chord_n, x)
    leading = trailing - (w.notch_depth * np.exp(-((x / w.notch_width) ** 2))) + chord
    leading = leading + 1.2 * np.exp(-((x / w.peduncle_width) ** 2))  # the peduncle runs out of frame
    leading = np.where(np.abs(x) > 1, trailing, leading)
    if w.missing_tip is not None:
        side, cut = w.missing_tip
        gone = (x * side) > cut
        trailing = np.where(gone, 10.0, trailing)
    return trailing, leading


def _smoothstep(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)
    out: np.ndarray = v * v * (3 - 2 * v)
    return out


def _noise(rng: np.random.Generator, shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Smooth value noise: ``shape`` random values upsampled bicubically to ``size`` (width, height)."""
    small = rng.standard_normal(shape, dtype=np.float32)
    im = Image.fromarray(small, mode="F").resize(size, Image.Resampling.BICUBIC)
    return np.asarray(im, dtype=np.float32)


def _render_texture(w: WhaleIdentity) -> Image.Image:
    """Render the canonical fluke: lightness (0 black .. 255 white) and opacity, as an ``LA`` image."""
    tw, th = _TEXTURE_WIDTH, _TEXTURE_HEIGHT
    xs = (np.arange(tw, dtype=np.float32) + 0.5) / _PX_PER_UNIT - _X_EXTENT
    ys = (np.arange(th, dtype=np.float32) + 0.5) / _PX_PER_UNIT
    trailing, leading = _edges(w, xs.astype(np.float64))
    trailing = trailing.astype(np.float32)
    leading = leading.astype(np.float32)
    below_trailing = (ys[:, None] - trailing[None, :]) * _PX_PER_UNIT  # pixels inside from the trailing edge
    above_leading = (leading[None, :] - ys[:, None]) * _PX_PER_UNIT
    alpha = np.clip(below_trailing + 0.5, 0, 1) * np.clip(above_leading + 0.5, 0, 1)

    # Pigmentation field at quarter resolution (smooth), then full-resolution mottling on its boundaries.
    qw, qh = tw // 4, th // 4
    qx = ((np.arange(qw, dtype=np.float32) + 0.5) * 4 / _PX_PER_UNIT - _X_EXTENT)[None, :]
    qy = ((np.arange(qh, dtype=np.float32) + 0.5) * 4 / _PX_PER_UNIT)[:, None]
    fld = np.full((qh, qw), w.white_bias, np.float32)
    for bx, by, rx, ry, angle, amp in w.blobs:
        c, s = math.cos(angle), math.sin(angle)
        dx, dy = qx - bx, qy - by
        u, v = (dx * c + dy * s) / rx, (-dx * s + dy * c) / ry
        fld += np.float32(amp) * np.exp(-(u * u + v * v))
    fld -= np.float32(w.centre_dark) * np.exp(-((qx / 0.16) ** 2) - ((qy - 0.7) / 0.35) ** 2)
    fld_full = np.asarray(Image.fromarray(fld, mode="F").resize((tw, th), Image.Resampling.BICUBIC))
    mottle_rng = np.random.default_rng(w.mottle_seed)
    mottle = (_noise(mottle_rng, (th // 8, tw // 8), (tw, th)) * 0.25
              + _noise(mottle_rng, (th // 3, tw // 3), (tw, th)) * 0.12)
    # Dark margins: along the trailing edge (thin) and the leading edge (broader, fading inwards).
    margin = np.exp(-np.maximum(below_trailing, 0) / (w.margin_width * _PX_PER_UNIT)) * 3.0
    lead = np.exp(-np.maximum(above_leading, 0) / (0.05 * _PX_PER_UNIT)) * np.float32(w.edge_dark)
    light = _smoothstep((fld_full + mottle - margin - lead) * 2.5 + 0.5)

    # Scars, drawn in texture pixels: dark spots on white skin, white rings and rake marks on black.
    scar = Image.new("L", (tw, th), 128)
    draw = ImageDraw.Draw(scar)

    def px(x: float, y: float) -> tuple[float, float]:
        return (x + _X_EXTENT) * _PX_PER_UNIT, y * _PX_PER_UNIT

    for x, y, r in w.dark_spots:
        cx, cy = px(x, y)
        rr = r * _PX_PER_UNIT
        draw.ellipse((cx - rr, cy - rr * 0.8, cx + rr, cy + rr * 0.8), fill=0)
    for x, y, r in w.white_spots:
        cx, cy = px(x, y)
        rr = r * _PX_PER_UNIT
        draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), outline=255, width=max(1, round(rr * 0.4)))
    for x0, y0, x1, y1, width in w.scratches:
        draw.line((*px(x0, y0), *px(x1, y1)), fill=255, width=max(1, round(width * _PX_PER_UNIT)))
    scar_arr = (np.asarray(scar.filter(ImageFilter.GaussianBlur(0.7)), np.float32) - 128) / 127
    light = np.clip(light + scar_arr, 0, 1)
    # Skin is never flat: faint blotches and grain on both the black and the white.
    skin = (_noise(mottle_rng, (th // 12, tw // 12), (tw, th)) * 0.025
            + _noise(mottle_rng, (th // 2, tw // 2), (tw, th)) * 0.012)
    light = np.clip(light * 0.94 + 0.03 + skin, 0, 1)

    la = np.stack([light * 255, alpha * 255], axis=-1)
    return Image.fromarray(np.round(la).astype(np.uint8), mode="LA")


# --------------------------------------------------------------------------------------------------------
# One photo
# --------------------------------------------------------------------------------------------------------

_SEA_COLOURS = np.array([
    (22, 48, 84), (35, 70, 110), (60, 80, 98), (48, 66, 62), (28, 36, 46), (90, 105, 118), (130, 140, 150),
    (40, 85, 120), (75, 90, 85),
], np.float32)
_SKY_COLOURS = np.array([(200, 210, 222), (170, 195, 225), (225, 228, 232), (150, 160, 170), (235, 220, 200)],
                        np.float32)
_CAPTIONS = ("HW-{y}-{n:04d}", "{d:02d}/{m:02d}/{y}", "IMG_{n:04d}", "(c) Whale Watch {y}", "#{n}",
             "Fluke ID {n:03d}", "{y}-{m:02d}-{d:02d}  sighting {d}")


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 projective map taking the four ``src`` points onto the four ``dst`` points."""
    a = []
    b = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.extend([u, v])
    h = np.linalg.solve(np.array(a, np.float64), np.array(b, np.float64))
    return np.append(h, 1.0).reshape(3, 3)


def _background(rng: np.random.Generator, width: int, height: int, horizon: float) -> Image.Image:
    """Sea (and sky above ``horizon``, a fraction of the height), made at half size: it is smooth anyway."""
    w2, h2 = max(4, width // 2), max(4, height // 2)
    sea = _SEA_COLOURS[rng.integers(len(_SEA_COLOURS))] * np.float32(rng.uniform(0.75, 1.25))
    sea = sea + rng.normal(0, 8, 3).astype(np.float32)
    ys = np.linspace(0, 1, h2, dtype=np.float32)[:, None]
    # Waves: horizontally stretched noise at three scales (finer towards the top, as seen obliquely).
    base_x = int(rng.integers(15, 45))
    waves = np.zeros((h2, w2), np.float32)
    octaves = ((1, rng.uniform(0.05, 0.15)), (3, rng.uniform(0.03, 0.09)), (8, rng.uniform(0.0, 0.06)))
    for octave, amp in octaves:
        cells = (max(2, octave * h2 // base_x * 3), max(2, octave * w2 // base_x))
        waves += _noise(rng, cells, (w2, h2)) * np.float32(amp)
    shade = 1 + (ys - 0.5) * np.float32(rng.uniform(-0.3, 0.3)) + waves
    glint = np.clip(waves - np.float32(rng.uniform(0.12, 0.35)), 0, None) * np.float32(rng.uniform(0, 700))
    img = sea[None, None, :] * shade[..., None] + glint[..., None]
    if horizon > 0:
        sky = _SKY_COLOURS[rng.integers(len(_SKY_COLOURS))] + rng.normal(0, 6, 3).astype(np.float32)
        hy = max(1, int(horizon * h2))
        img[:hy] = sky * np.linspace(0.85, 1.05, hy, dtype=np.float32)[:, None, None]
        if rng.random() < 0.35 and hy > 3:  # distant land or a mountain ridge on the horizon
            land = np.float32(rng.uniform(40, 110))
            ridge = hy - np.abs(_noise(rng, (1, max(2, w2 // 40)), (w2, 1))[0]) * hy * rng.uniform(0.1, 0.6)
            rows = np.arange(h2, dtype=np.float32)[:, None]
            img[(rows >= ridge[None, :]) & (rows < hy)] = land
    small = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="RGB")
    return small.resize((width, height), Image.Resampling.BILINEAR)


def _channel_luts(black: np.ndarray, white: np.ndarray, gmax: float) -> list[list[int]]:
    v = np.arange(256, dtype=np.float32)[:, None] / 255
    table = np.clip(np.round((black + v * (white - black)) * gmax), 0, 255).astype(int)
    return [table[:, c].tolist() for c in range(3)]


def render_photo(whale: WhaleIdentity, rng: np.random.Generator, width: int = 900, *,
                 aspect: float | None = None, grayscale: bool | None = None,
                 caption: bool | None = None, nuisance: float = 1.0) -> Image.Image:
    """One RGB photograph of ``whale`` with random nuisance drawn from ``rng``.

    ``aspect`` (width / height) is drawn from :data:`ASPECT_RANGE` when ``None``; ``grayscale`` (about a
    third of photos) and ``caption`` (burned-in text, about one in six) are drawn when ``None``.
    ``nuisance`` scales how far pose, water line, lighting and degradations stray from a clean, centred
    photo (0 = clean, 1 = the full range).
    """
    k = float(np.clip(nuisance, 0.0, 1.5))
    if aspect is None:
        aspect = float(rng.uniform(*ASPECT_RANGE))
    width = int(width)
    height = max(8, round(width / aspect))
    if grayscale is None:
        grayscale = bool(rng.random() < 0.33)
    if caption is None:
        caption = bool(rng.random() < 0.16 * min(k, 1.0))

    horizon = float(rng.uniform(0.05, 0.6)) if rng.random() < 0.35 * k else 0.0
    background = _background(rng, width, height, horizon)

    # Pose: where the canonical fluke lands in the photo.
    span = width * rng.uniform(1.0 - 0.2 * k, 1.0 + 0.07 * k) / 2  # output pixels per span unit in x
    fluke_top, fluke_bottom = 0.03, 0.62  # the fluke's vertical extent of interest, in span units
    fit = height * rng.uniform(0.85 - 0.1 * k, 1.0) / (fluke_bottom - fluke_top)
    sy = span * float(np.clip(fit / span, 0.75, 1.5))
    angle = math.radians(rng.normal(0, 4 * k))
    tilt = rng.normal(0, 0.12 * k)  # top edge narrower or wider than the bottom: camera pitch
    yaw = rng.normal(0, 0.08 * k)  # one side nearer the camera
    cx = width / 2 + rng.normal(0, 0.03 * k) * width
    cy = height * rng.uniform(0.0, 0.08 * k + 0.02)  # where y = fluke_top lands
    src = np.array([(-_X_EXTENT, 0), (_X_EXTENT, 0), (_X_EXTENT, _Y_EXTENT), (-_X_EXTENT, _Y_EXTENT)])
    c, s = math.cos(angle), math.sin(angle)
    dst = []
    for x, y in src - np.array([0.0, fluke_top]):
        depth = 1 + tilt * (y - 0.3) + yaw * x  # projective foreshortening
        px_, py_ = x * span / depth, y * sy / depth
        dst.append((cx + px_ * c - py_ * s, cy + px_ * s + py_ * c))
    tex = whale.texture(span * 2 * _X_EXTENT)
    src_px = src * (tex.width / (2 * _X_EXTENT)) + np.array([tex.width / 2, 0])
    h_inv = _homography(np.array(dst), src_px)  # output pixel -> texture pixel, as PIL's transform wants
    coeffs = tuple(float(v) for v in (h_inv / h_inv[2, 2]).ravel()[:8])
    light, alpha = tex.transform((width, height), Image.Transform.PERSPECTIVE, coeffs,
                                 Image.Resampling.BILINEAR).split()

    # Skin colour under this photo's light: black skin is never pure black, white skin takes the sky's tint
    # and, on some whales at some times, the yellow-brown of diatoms. Light falls unevenly across the fluke.
    black = np.float32(rng.uniform(8, 38)) + rng.normal(0, 4, 3).astype(np.float32)
    white = np.float32(rng.uniform(195, 245)) + rng.normal(0, 6, 3).astype(np.float32)
    if rng.random() < 0.25 * k:
        white = white * np.array([1.0, 0.9, 0.74], np.float32) ** np.float32(rng.uniform(0.2, 1.0))
    gain0 = rng.uniform(1 - 0.3 * k, 1 + 0.1 * k)
    if rng.random() < 0.08 * k:  # backlit: a dark silhouette against the light
        gain0 *= rng.uniform(0.25, 0.5)
    gw, gh = max(2, width // 16), max(2, height // 16)
    across = np.linspace(-1, 1, gw, dtype=np.float32)[None, :] * np.float32(rng.normal(0, 0.12 * k))
    gain = gain0 * (1 + across) * (1 + _noise(rng, (3, 6), (gw, gh)) * np.float32(0.06 * k))
    gmax = max(1.0, float(gain.max()))
    luts = _channel_luts(black, white, gmax)
    skin = Image.merge("RGB", [light.point(lut) for lut in luts])
    gain_im = Image.fromarray(np.clip(gain / gmax * 255, 0, 255).astype(np.uint8), mode="L")
    gain_im = gain_im.resize((width, height), Image.Resampling.BILINEAR).convert("RGB")
    skin = ImageChops.multiply(skin, gain_im)

    # The water line: the sea hides the peduncle and, in some photos, the lower fluke; foam along it.
    foam = None
    if rng.random() < 0.7 * k:
        xs = np.arange(width, dtype=np.float32)
        wl = (height * rng.uniform(0.62, 1.0) + (xs - width / 2) * np.float32(rng.normal(0, 0.04))
              + _noise(rng, (1, max(2, width // 40)), (width, 1))[0] * np.float32(height * 0.03))
        rows = np.arange(height, dtype=np.float32)[:, None]
        dry = np.clip((wl[None, :] - rows) / 2 + 0.5, 0, 1)
        alpha = ImageChops.multiply(alpha, Image.fromarray((dry * 255).astype(np.uint8), mode="L"))
        if rng.random() < 0.75:
            foam_h = np.float32(height * rng.uniform(0.02, 0.08))
            centre = np.exp(-(((xs - cx) / np.float32(width * rng.uniform(0.1, 0.5))) ** 2))
            band = np.exp(-(((rows - wl[None, :]) / foam_h) ** 2)) * (0.25 + 0.75 * centre)[None, :]
            grain = _noise(rng, (max(2, height // 5), max(2, width // 8)), (width // 2, height // 2))
            grain = np.repeat(np.repeat(grain, 2, axis=0), 2, axis=1)
            grain = np.pad(grain, ((0, height - grain.shape[0]), (0, width - grain.shape[1])), mode="edge")
            foam_level = np.clip((grain + np.float32(rng.uniform(-0.8, 0.4))) * 2, 0, 1) * band
            foam_level *= np.float32(255 * rng.uniform(0.5, 1.0))
            foam = Image.fromarray(foam_level.astype(np.uint8), "L")

    photo = Image.composite(skin, background, alpha)
    if foam is not None:
        photo = Image.composite(Image.new("RGB", photo.size, (236, 240, 242)), photo, foam)
    if rng.random() < 0.3 * k:  # haze
        haze = int(rng.uniform(150, 235))
        haze_im = Image.new("RGB", photo.size, (haze, haze, haze))
        photo = Image.blend(photo, haze_im, float(rng.uniform(0.05, 0.3)))
    # Global exposure and contrast, one lookup table.
    contrast, offset = rng.uniform(1 - 0.2 * k, 1 + 0.15 * k), rng.normal(0, 8 * k)
    lut = np.clip(np.round((np.arange(256) - 128) * contrast + 128 + offset), 0, 255).astype(int).tolist()
    photo = photo.point(lut * 3)
    if grayscale:
        photo = photo.convert("L").convert("RGB")
    noise_sigma = rng.uniform(0, 7 * k)
    if noise_sigma > 0.5:
        grain = rng.standard_normal((height, width), dtype=np.float32) * np.float32(noise_sigma) + 128
        grain_im = Image.fromarray(np.clip(grain, 0, 255).astype(np.uint8), mode="L").convert("RGB")
        photo = ImageChops.add(photo, grain_im, 1.0, -128)
    blur = rng.uniform(0, 1.6 * k) * width / 900 if rng.random() < 0.6 else 0.0
    if blur > 0.3:  # defocus or shake: shrinking and re-enlarging blurs at a fraction of a filter's cost
        small = photo.resize((max(4, round(width / (1 + blur))), max(4, round(height / (1 + blur)))),
                             Image.Resampling.BILINEAR)
        photo = small.resize((width, height), Image.Resampling.BILINEAR)
    if caption:
        _burn_caption(photo, rng)
    return photo


def _burn_caption(photo: Image.Image, rng: np.random.Generator) -> None:
    fmt = _CAPTIONS[int(rng.integers(len(_CAPTIONS)))]
    text = fmt.format(y=int(rng.integers(1995, 2019)), m=int(rng.integers(1, 13)), d=int(rng.integers(1, 29)),
                      n=int(rng.integers(1, 9999)))
    size = max(8, int(photo.height * rng.uniform(0.07, 0.14)))
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(photo)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    margin = size // 2
    x = margin if rng.random() < 0.5 else photo.width - (right - left) - margin
    y = margin if rng.random() < 0.4 else photo.height - (bottom - top) - margin - top
    colour = [(255, 255, 255), (255, 230, 60), (20, 20, 20)][int(rng.integers(3))]
    draw.text((x, y), text, fill=colour, font=font)


# --------------------------------------------------------------------------------------------------------
# A data set
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SyntheticSet:
    """Where :func:`generate_dataset` wrote its set, and how many of what."""

    out: Path
    train_csv: Path
    test_labels_csv: Path
    counts: dict[str, int]


def long_tail_counts(rng: np.random.Generator, n: int, low: int, high: int, power: float = 1.4) -> np.ndarray:
    """``n`` photo counts in ``low..high`` with P(k) proportional to (k - low + 1) ** -power.

    Like the real catalogue: many individuals seen once or twice, a few seen often.
    """
    ks = np.arange(low, high + 1)
    p = (ks - low + 1.0) ** -power
    return rng.choice(ks, size=n, p=p / p.sum())


def _photo_rng(seed: int, whale_index: int, photo_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, 2, whale_index, photo_index])


def generate_dataset(out: str | Path, *, whales: int, train_per_whale: tuple[int, int] = (1, 6),
                     test_per_whale: int = 1, unknown_whales: int = 0, seed: int = 0,
                     width_range: tuple[int, int] = WIDTH_RANGE,
                     progress: ProgressFn | None = None) -> SyntheticSet:
    """Write a Kaggle-format synthetic set into ``out``.

    ``out/train.csv`` (``Image,Id``) and ``out/train/*.jpg`` hold ``whales`` individuals with a long-tailed
    number of photos each in ``train_per_whale`` (inclusive). ``out/test/*.jpg`` and ``out/test_labels.csv``
    hold ``test_per_whale`` further photos of each of them plus ``test_per_whale`` photos of each of
    ``unknown_whales`` individuals absent from train, labelled ``new_whale``. ``progress(done, total)`` is
    called after each photo. The same arguments give byte-identical files.
    """
    lo, hi = int(train_per_whale[0]), int(train_per_whale[1])
    if whales < 0 or unknown_whales < 0 or test_per_whale < 0 or not 1 <= lo <= hi:
        raise ValueError("need whales >= 0, unknown_whales >= 0, test_per_whale >= 0 and 1 <= A <= B")
    wmin, wmax = int(width_range[0]), int(width_range[1])
    if not 16 <= wmin <= wmax:
        raise ValueError(f"bad width range {width_range}")
    out = Path(out)
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "test").mkdir(parents=True, exist_ok=True)

    plan_rng = np.random.default_rng([seed, 0])
    train_counts = long_tail_counts(plan_rng, whales, lo, hi)
    identities: list[WhaleIdentity] = []
    seen: set[str] = set()
    for i in range(whales + unknown_whales):
        w = make_whale(np.random.default_rng([seed, 1, i]))
        while w.whale_id in seen:  # 16**7 ids: a clash is rare but must not merge two individuals
            w.whale_id = f"w_{int(plan_rng.integers(0, 16**7)):07x}"
        seen.add(w.whale_id)
        identities.append(w)

    names: set[str] = set()

    def new_name() -> str:
        while True:
            name = f"{int(plan_rng.integers(0, 16**9)):09x}.jpg"
            if name not in names:
                names.add(name)
                return name

    # (split, whale index, photo index) for every photo, grouped by whale; the random names scatter them.
    jobs: list[tuple[str, int, int]] = []
    for i in range(whales):
        jobs += [("train", i, j) for j in range(int(train_counts[i]))]
        jobs += [("test", i, int(train_counts[i]) + j) for j in range(test_per_whale)]
    for i in range(whales, whales + unknown_whales):
        jobs += [("test", i, j) for j in range(test_per_whale)]
    named = [(new_name(), *job) for job in jobs]

    rows: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
    total = len(named)
    for done, (name, split, i, j) in enumerate(named, start=1):
        rng = _photo_rng(seed, i, j)
        photo = render_photo(identities[i], rng, width=int(rng.integers(wmin, wmax + 1)))
        photo.save(out / split / name, format="JPEG", quality=int(rng.integers(60, 96)))
        label = identities[i].whale_id if i < whales else "new_whale"
        rows[split].append((name, label))
        if progress is not None:
            progress(done, total)
        if done == total or named[done][2] != i:  # jobs come grouped by whale: keep memory flat
            identities[i].release()

    train_csv = out / "train.csv"
    test_csv = out / "test_labels.csv"
    for path, split in ((train_csv, "train"), (test_csv, "test")):
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["Image", "Id"])
            writer.writerows(sorted(rows[split]))
    counts = {
        "whales": whales,
        "unknown_whales": unknown_whales,
        "train_photos": len(rows["train"]),
        "test_photos": len(rows["test"]),
        "test_new_whale": sum(1 for _, label in rows["test"] if label == "new_whale"),
    }
    log.debug("wrote %d train and %d test photos of %d whales (+%d unknown) to %s", counts["train_photos"],
             counts["test_photos"], whales, unknown_whales, out)
    return SyntheticSet(out=out, train_csv=train_csv, test_labels_csv=test_csv, counts=counts)


# --------------------------------------------------------------------------------------------------------
# Command line: whale-train synth
# --------------------------------------------------------------------------------------------------------

def _int_range(text: str) -> tuple[int, int]:
    try:
        parts = [int(p) for p in text.split("-")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A-B or N, got {text!r}") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or parts[0] > parts[1]:
        raise argparse.ArgumentTypeError(f"expected A-B with A <= B, got {text!r}")
    return parts[0], parts[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="folder to write train/, test/ and the CSVs")
    parser.add_argument("--whales", required=True, type=int, help="number of known individuals (in train)")
    parser.add_argument("--train-per-whale", type=_int_range, default=(1, 6), metavar="A-B",
                        help="train photos per whale, long-tailed within A-B (default 1-6)")
    parser.add_argument("--test-per-whale", type=int, default=1, metavar="C",
                        help="test photos per known and per unknown whale (default 1)")
    parser.add_argument("--unknown-whales", type=int, default=0, metavar="U",
                        help="individuals only in test, labelled new_whale (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)")
    parser.add_argument("--width", type=_int_range, default=WIDTH_RANGE, metavar="A-B",
                        help=f"photo width range in pixels (default {WIDTH_RANGE[0]}-{WIDTH_RANGE[1]}); "
                             "heights follow from a 2.5-4:1 aspect")


def run(args: argparse.Namespace) -> int:
    start = time.monotonic()
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if done == total or (interactive and done % 10 == 0) or (not interactive and done % 500 == 0):
            rate = done / max(time.monotonic() - start, 1e-6)
            end = "\n" if done == total or not interactive else ""
            print(f"\rsynth: {done}/{total} photos ({rate:.0f}/s)", end=end, file=sys.stderr, flush=True)

    try:
        result = generate_dataset(args.out, whales=args.whales, train_per_whale=args.train_per_whale,
                                  test_per_whale=args.test_per_whale, unknown_whales=args.unknown_whales,
                                  seed=args.seed, width_range=args.width, progress=progress)
    except ValueError as exc:
        print(f"whale-train synth: error: {exc}", file=sys.stderr)
        return 2
    c = result.counts
    print(f"{result.out}: {c['train_photos']} train photos of {c['whales']} whales, {c['test_photos']} test "
          f"photos ({c['test_new_whale']} new_whale)")
    return 0
