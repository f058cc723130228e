"""The canonical fluke of one individual, rendered as a texture: silhouette, trailing edge, pigmentation
and scars in "span units", before any photograph's pose, light or sea.

The canonical fluke lives in span units: x runs from -1 (left tip) to +1 (right tip), y points down. Its
texture covers x in [-X_EXTENT, X_EXTENT] and y in [0, Y_EXTENT].
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

if TYPE_CHECKING:
    from training.synthetic.identity import WhaleIdentity

X_EXTENT = 1.04
Y_EXTENT = 0.80
TEXTURE_WIDTH = 1024
TEXTURE_HEIGHT = round(TEXTURE_WIDTH * Y_EXTENT / (2 * X_EXTENT))
PX_PER_UNIT = TEXTURE_WIDTH / (2 * X_EXTENT)


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


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Smooth value noise: ``shape`` random values upsampled bicubically to ``size`` (width, height)."""
    small = rng.standard_normal(shape, dtype=np.float32)
    im = Image.fromarray(small, mode="F").resize(size, Image.Resampling.BICUBIC)
    return np.asarray(im, dtype=np.float32)


def render_texture(w: WhaleIdentity) -> Image.Image:
    """Render the canonical fluke: lightness (0 black .. 255 white) and opacity, as an ``LA`` image."""
    tw, th = TEXTURE_WIDTH, TEXTURE_HEIGHT
    xs = (np.arange(tw, dtype=np.float32) + 0.5) / PX_PER_UNIT - X_EXTENT
    ys = (np.arange(th, dtype=np.float32) + 0.5) / PX_PER_UNIT
    trailing, leading = _edges(w, xs.astype(np.float64))
    trailing = trailing.astype(np.float32)
    leading = leading.astype(np.float32)
    below_trailing = (ys[:, None] - trailing[None, :]) * PX_PER_UNIT  # pixels inside from the trailing edge
    above_leading = (leading[None, :] - ys[:, None]) * PX_PER_UNIT
    alpha = np.clip(below_trailing + 0.5, 0, 1) * np.clip(above_leading + 0.5, 0, 1)

    # Pigmentation field at quarter resolution (smooth), then full-resolution mottling on its boundaries.
    qw, qh = tw // 4, th // 4
    qx = ((np.arange(qw, dtype=np.float32) + 0.5) * 4 / PX_PER_UNIT - X_EXTENT)[None, :]
    qy = ((np.arange(qh, dtype=np.float32) + 0.5) * 4 / PX_PER_UNIT)[:, None]
    fld = np.full((qh, qw), w.white_bias, np.float32)
    for bx, by, rx, ry, angle, amp in w.blobs:
        c, s = math.cos(angle), math.sin(angle)
        dx, dy = qx - bx, qy - by
        u, v = (dx * c + dy * s) / rx, (-dx * s + dy * c) / ry
        fld += np.float32(amp) * np.exp(-(u * u + v * v))
    fld -= np.float32(w.centre_dark) * np.exp(-((qx / 0.16) ** 2) - ((qy - 0.7) / 0.35) ** 2)
    fld_full = np.asarray(Image.fromarray(fld, mode="F").resize((tw, th), Image.Resampling.BICUBIC))
    mottle_rng = np.random.default_rng(w.mottle_seed)
    mottle = (smooth_noise(mottle_rng, (th // 8, tw // 8), (tw, th)) * 0.25
              + smooth_noise(mottle_rng, (th // 3, tw // 3), (tw, th)) * 0.12)
    # Dark margins: along the trailing edge (thin) and the leading edge (broader, fading inwards).
    margin = np.exp(-np.maximum(below_trailing, 0) / (w.margin_width * PX_PER_UNIT)) * 3.0
    lead = np.exp(-np.maximum(above_leading, 0) / (0.05 * PX_PER_UNIT)) * np.float32(w.edge_dark)
    light = _smoothstep((fld_full + mottle - margin - lead) * 2.5 + 0.5)

    # Scars, drawn in texture pixels: dark spots on white skin, white rings and rake marks on black.
    scar = Image.new("L", (tw, th), 128)
    draw = ImageDraw.Draw(scar)

    def px(x: float, y: float) -> tuple[float, float]:
        return (x + X_EXTENT) * PX_PER_UNIT, y * PX_PER_UNIT

    for x, y, r in w.dark_spots:
        cx, cy = px(x, y)
        rr = r * PX_PER_UNIT
        draw.ellipse((cx - rr, cy - rr * 0.8, cx + rr, cy + rr * 0.8), fill=0)
    for x, y, r in w.white_spots:
        cx, cy = px(x, y)
        rr = r * PX_PER_UNIT
        draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), outline=255, width=max(1, round(rr * 0.4)))
    for x0, y0, x1, y1, width in w.scratches:
        draw.line((*px(x0, y0), *px(x1, y1)), fill=255, width=max(1, round(width * PX_PER_UNIT)))
    scar_arr = (np.asarray(scar.filter(ImageFilter.GaussianBlur(0.7)), np.float32) - 128) / 127
    light = np.clip(light + scar_arr, 0, 1)
    # Skin is never flat: faint blotches and grain on both the black and the white.
    skin = (smooth_noise(mottle_rng, (th // 12, tw // 12), (tw, th)) * 0.025
            + smooth_noise(mottle_rng, (th // 2, tw // 2), (tw, th)) * 0.012)
    light = np.clip(light * 0.94 + 0.03 + skin, 0, 1)

    la = np.stack([light * 255, alpha * 255], axis=-1)
    return Image.fromarray(np.round(la).astype(np.uint8), mode="LA")
