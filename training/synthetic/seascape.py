"""The backdrop of a wide boat photo: sky, clouds, a coast on the horizon and a sea seen in perspective.

Unlike :mod:`~training.synthetic.photo`'s flat sea, the sea here is a periodic wave field laid on the
ground plane and seen from a camera a few metres above it: waves shrink and crowd towards the horizon,
reflect more sky at grazing angles, and glitter under the sun. Distances are in metres so that the sea's
scale agrees with the fluke's (a fluke spans about four metres).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from training.synthetic.texture import smooth_noise

_WAVE_CELLS = 256  # the periodic wave field's side, in cells
_MIP_LEVELS = 5  # 256 .. 16 cells; beyond the coarsest, the sea is its mean shade

_ZENITH = np.array([(70, 115, 175), (95, 135, 185), (150, 165, 185), (120, 150, 190), (175, 180, 185)],
                   np.float32)
_HORIZON_SKY = np.array([(205, 215, 225), (225, 228, 230), (190, 200, 210), (230, 222, 205), (200, 205, 205)],
                        np.float32)
_DEEP_SEA = np.array([(14, 40, 66), (20, 48, 70), (30, 45, 55), (18, 52, 60), (38, 50, 62), (25, 35, 48)],
                     np.float32)
_LAND = np.array([(62, 78, 60), (80, 84, 78), (96, 90, 76), (54, 64, 72), (110, 110, 104)], np.float32)


@dataclass(frozen=True)
class Camera:
    """Where the camera stands over the sea: ``horizon`` is the horizon's row at the frame's centre
    (negative when the horizon is above the frame), ``slope`` its rise per pixel to the right (camera
    roll), ``focal`` the focal length in pixels and ``height`` the camera's height above the sea in
    metres."""

    horizon: float
    slope: float
    focal: float
    height: float


@dataclass(frozen=True)
class Seascape:
    """A rendered backdrop (``image``: float32 RGB, height x width x 3, 0..255) and what the fluke's
    lighting takes from it: the sky's colour at the horizon and the sun's column."""

    image: np.ndarray
    sky_colour: np.ndarray
    sun_x: float


def _horizon_rows(camera: Camera, width: int) -> np.ndarray:
    xs = np.arange(width, dtype=np.float32) + 0.5
    return np.float32(camera.horizon) + (xs - width / 2) * np.float32(camera.slope)


def _wave_field(rng: np.random.Generator) -> np.ndarray:
    """A periodic height field (cells x cells) with crests running across the view: energy mostly in
    wave numbers along v (towards the horizon), a peak and a power-law tail, as wind seas have."""
    n = _WAVE_CELLS
    ku = np.fft.fftfreq(n)[None, :] * n
    kv = np.fft.rfftfreq(n)[:, None] * n
    kv = np.broadcast_to(kv, (n // 2 + 1, n))
    ku = np.broadcast_to(ku, (n // 2 + 1, n))
    k = np.hypot(ku, kv) + 1e-6
    peak = rng.uniform(4, 11)
    spread = rng.uniform(1, 4)  # how tightly the waves keep one direction
    direction = np.abs(kv) / k
    power = (k / peak) ** -3.5 * np.exp(-1.25 * (peak / k) ** 2) * direction ** spread
    power[0, 0] = 0
    spectrum = (rng.standard_normal(power.shape) + 1j * rng.standard_normal(power.shape)) * np.sqrt(power)
    field = np.fft.irfft2(spectrum.T, s=(n, n)).T.astype(np.float32)  # rows: v, columns: u
    out: np.ndarray = field / (field.std() + 1e-9)
    return out


def _mips(field: np.ndarray) -> list[np.ndarray]:
    levels = [field]
    for _ in range(_MIP_LEVELS - 1):
        f = levels[-1]
        levels.append((f[0::2, 0::2] + f[1::2, 0::2] + f[0::2, 1::2] + f[1::2, 1::2]) / 4)
    return levels


def _sample_wrapped(field: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear samples of a periodic ``field`` (cells x cells x channels, cells a power of two) at cell
    coordinates (``u`` across, ``v`` along rows): len(u) x channels."""
    n = field.shape[0]
    flat = field.reshape(n * n, -1)
    u0, v0 = np.floor(u), np.floor(v)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    iu, iv = u0.astype(np.int32) & (n - 1), (v0.astype(np.int32) & (n - 1)) * n
    ju, jv = (iu + 1) & (n - 1), ((iv + n) & (n * n - 1))
    top = flat.take(iv + iu, axis=0) * (1 - fu) + flat.take(iv + ju, axis=0) * fu
    bottom = flat.take(jv + iu, axis=0) * (1 - fu) + flat.take(jv + ju, axis=0) * fu
    out: np.ndarray = top * (1 - fv) + bottom * fv
    return out


def _sample_sea(mips: list[np.ndarray], u: np.ndarray, v: np.ndarray, per_px: np.ndarray) -> np.ndarray:
    """Wave height and slope (len(u) x 2) at cell coordinates (u, v), from the mip level that ``per_px``
    cells per pixel allow, blending the two nearest so no seam shows; waves finer than the coarsest level
    fade out."""
    octaves = np.log2(np.maximum(per_px, 1e-6))
    level = np.clip(octaves + 0.5, 0, _MIP_LEVELS - 1 + 0.999)
    out = np.zeros((len(u), 2), np.float32)
    lev_int = np.floor(level).astype(np.int64)
    frac = (level - lev_int).astype(np.float32)
    for i in range(_MIP_LEVELS):
        sel = np.flatnonzero(lev_int == i)
        if not len(sel):
            continue
        us, vs, f = u[sel], v[sel], frac[sel][:, None]
        here = _sample_wrapped(mips[i], us * np.float32(2.0 ** -i), vs * np.float32(2.0 ** -i))
        if i + 1 < _MIP_LEVELS:
            half = np.float32(2.0 ** -(i + 1))
            coarser = _sample_wrapped(mips[i + 1], us * half, vs * half)
            here = here * (1 - f) + coarser * f
        out[sel] = here
    fade = np.clip(_MIP_LEVELS - octaves, 0, 1) * np.clip(2.5 - octaves / 3, 0.15, 1)
    result: np.ndarray = out * fade[:, None]
    return result


def _sky(rng: np.random.Generator, width: int, height: int,
         rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sky above the horizon: a gradient from the zenith's colour to a pale horizon, and clouds."""
    zenith = _ZENITH[rng.integers(len(_ZENITH))] + rng.normal(0, 8, 3).astype(np.float32)
    pale = _HORIZON_SKY[rng.integers(len(_HORIZON_SKY))] + rng.normal(0, 5, 3).astype(np.float32)
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    above = np.clip((rows[None, :] - ys) / max(height * 0.9, 1.0), 0, 1) ** np.float32(rng.uniform(0.5, 1.0))
    sky = pale + (zenith - pale) * above[..., None]
    cloud_cover = rng.uniform(-0.6, 1.2)
    cw, ch = max(2, width // 3), max(2, height // 3)
    clouds = (smooth_noise(rng, (max(2, ch // 30), max(2, cw // 60)), (cw, ch))
              + smooth_noise(rng, (max(2, ch // 10), max(2, cw // 20)), (cw, ch)) * np.float32(0.35))
    clouds_im = Image.fromarray(clouds, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    cover = np.clip((np.asarray(clouds_im, np.float32) + np.float32(cloud_cover)) * 0.8, 0, 1)
    cloud_colour = np.float32(rng.uniform(200, 245)) - np.float32(rng.uniform(0, 60)) * cover[..., None]
    sky = sky + (cloud_colour - sky) * (cover[..., None] * np.float32(rng.uniform(0.3, 0.9)))
    return sky.astype(np.float32), pale


def _coast(rng: np.random.Generator, image: np.ndarray, rows: np.ndarray, sky_colour: np.ndarray) -> None:
    """Land on the horizon: one or two ridges of hills (the farther paler), or a low flat shore."""
    height, width = image.shape[:2]
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    n_ridges = int(rng.integers(1, 3))
    start, end = sorted(rng.uniform(-0.3, 1.3, 2) * width)  # where the land runs along the horizon
    xs = np.arange(width, dtype=np.float32) + 0.5
    extent = np.clip(np.minimum(xs - start, end - xs) / max(width * 0.05, 1.0), 0, 1)
    for ridge in range(n_ridges):
        far = ridge == 0 and n_ridges == 2
        tall = np.float32(height * rng.uniform(0.01, 0.07) * (1.5 if far else 1.0))
        profile = (np.abs(smooth_noise(rng, (1, max(2, int(rng.integers(2, 8)))), (width, 1))[0]) * 0.7 + 0.3
                   + smooth_noise(rng, (1, max(2, width // 16)), (width, 1))[0] * np.float32(0.08))
        top = rows - tall * np.clip(profile, 0.05, None) * extent
        land = _LAND[rng.integers(len(_LAND))] + rng.normal(0, 6, 3).astype(np.float32)
        paling = rng.uniform(0.45, 0.75) if far else rng.uniform(0.1, 0.45)  # aerial perspective
        land = land + (sky_colour - land) * np.float32(paling)
        cover = np.clip(ys - top[None, :], 0, 1) * np.clip(rows[None, :] - ys + 0.5, 0, 1)
        grain = smooth_noise(rng, (max(2, height // 3), max(2, width // 3)), (width, height))
        shade = land[None, None, :] * (1 + grain[..., None] * np.float32(0.02 if far else 0.05))
        image += (shade - image) * cover[..., None]


def render_seascape(rng: np.random.Generator, width: int, height: int, camera: Camera, *,
                    coast: bool, glitter: float, whitecaps: float) -> Seascape:
    """Sky, clouds, optionally a coast, and the sea below ``camera``'s horizon, as float32 RGB.

    ``glitter`` (0..1) is how strongly the sun sparkles on the waves; ``whitecaps`` (0..1) how windy it is.
    """
    rows = _horizon_rows(camera, width)
    sky, sky_colour = _sky(rng, width, height, rows)
    image = sky
    sun_x = float(rng.uniform(-0.3, 1.3) * width)
    if coast and camera.horizon > 0:
        _coast(rng, image, rows, sky_colour)

    # The sea: every pixel below the horizon looks at a point (U, Z) of the ground plane, in metres.
    field = _wave_field(rng)
    slope_field = np.roll(field, -1, axis=0) - np.roll(field, 1, axis=0)  # d height / d v: facing or not
    slope_field /= slope_field.std() + 1e-9
    mips = _mips(np.stack([field, slope_field], axis=-1))
    tile_m = float(rng.uniform(18, 60))  # the wave field repeats every tile_m metres
    cells_per_m = _WAVE_CELLS / tile_m
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    below = np.maximum(ys - rows[None, :], 0.5)
    depth = camera.focal * camera.height / below  # Z, metres
    drift = rng.uniform(0, _WAVE_CELLS, 2)
    sea_px = np.flatnonzero(ys - rows[None, :] > -1)  # only where there is sea to see
    depth_s = depth.ravel()[sea_px]
    below_s = below.ravel()[sea_px]
    across_s = (np.broadcast_to(xs, depth.shape).ravel()[sea_px] - width / 2) * depth_s / camera.focal
    u = across_s * np.float32(cells_per_m) + np.float32(drift[0])
    v = depth_s * np.float32(cells_per_m) + np.float32(drift[1])
    # Cells per pixel (rows near the horizon crowd many cells into one), to pick levels that do not alias.
    per_px = np.maximum(cells_per_m * camera.height / below_s,
                        cells_per_m * camera.focal * camera.height / below_s ** 2)
    waves = _sample_sea(mips, u, v, per_px)
    # Ripples on the waves: the same field, finer and turned, so the sea near the camera is not smooth.
    fine = float(rng.uniform(5, 9))
    turn = float(rng.uniform(-0.3, 0.3))
    fu = (u * np.float32(math.cos(turn)) - v * np.float32(math.sin(turn))) * np.float32(fine)
    fv = (u * np.float32(math.sin(turn)) + v * np.float32(math.cos(turn))) * np.float32(fine)
    waves += _sample_sea(mips, fu, fv, per_px * np.float32(fine)) * np.float32(rng.uniform(0.15, 0.4))
    grid = np.zeros((height * width, 2), np.float32)
    grid[sea_px] = waves
    heights, slopes = grid[:, 0].reshape(height, width), grid[:, 1].reshape(height, width)

    deep = _DEEP_SEA[rng.integers(len(_DEEP_SEA))] * np.float32(rng.uniform(0.8, 1.3))
    deep = deep + rng.normal(0, 5, 3).astype(np.float32)
    grazing = np.arctan(below / camera.focal)  # the angle below the horizontal the pixel looks at
    fresnel = 0.03 + 0.7 * (1 - np.sin(grazing + 0.04)) ** 12
    wave_gain = np.float32(rng.uniform(0.1, 0.3))
    reflect = np.clip(fresnel + slopes * wave_gain * (0.4 + fresnel), 0, 1)
    sky_seen = sky_colour * np.float32(rng.uniform(0.75, 1.0))
    sea = deep[None, None, :] + (sky_seen - deep)[None, None, :] * reflect[..., None]
    sea *= (1 + heights * np.float32(rng.uniform(0.02, 0.08)))[..., None]
    if whitecaps > 0:
        # Breaking crests: the highest, forward-facing parts of the waves, broken up by the slope field.
        crest = np.clip(heights - (2.9 - whitecaps), 0, 1) * np.clip(slopes, 0, 1)
        near = np.clip(1 - np.log2(np.maximum(cells_per_m * camera.height / below, 1e-6)) / 3, 0, 1)
        caps = np.clip(crest * 2, 0, 0.8) * near
        sea += (np.float32(225) - sea) * caps[..., None]
    if glitter > 0:
        # Sparkles: wave facets tilted just so, in a column under the sun that widens with distance.
        column = np.exp(-(((xs - sun_x) / (width * 0.08 + depth / camera.focal * width * 0.3)) ** 2))
        sparkle = np.clip(slopes - np.float32(rng.uniform(1.4, 2.2)), 0, None) ** 2 * column
        sea += (np.float32(255) * glitter * np.clip(sparkle * 3, 0, 1))[..., None]
    # The sea beyond a few hundred metres takes the horizon's haze.
    haze = 1 - np.exp(-depth / np.float32(rng.uniform(300, 2500)))
    sea += (sky_colour - sea) * (haze * 0.8)[..., None]
    seaward = np.clip(ys - rows[None, :] + 0.5, 0, 1)[..., None]
    image = image + (sea - image) * seaward
    return Seascape(image=image.astype(np.float32), sky_colour=sky_colour, sun_x=sun_x)


def camera_for(rng: np.random.Generator, width: int, water_row: float, fluke_span_px: float,
               slope: float) -> Camera:
    """A camera consistent with a fluke whose water line is at ``water_row`` and whose tips are
    ``fluke_span_px`` apart: the horizon lies (camera height / fluke span) x span pixels above the water
    line, whatever the lens, so a big fluke from a high deck leaves no sky in the frame."""
    span_m = float(rng.uniform(3.2, 4.6))  # an adult humpback's fluke, tip to tip
    height_m = float(rng.uniform(0.8, 3.5))
    focal = float(width * rng.uniform(1.0, 4.0))
    horizon = water_row - fluke_span_px * height_m / span_m
    return Camera(horizon=horizon, slope=slope, focal=focal, height=height_m)


def sun_glare(width: int, height: int, x: float, y: float, radius: float) -> np.ndarray:
    """A veiling glare around (x, y): float32 height x width in 0..1, brightest at the centre."""
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    d2 = ((xs - x) ** 2 + (ys - y) ** 2) / np.float32(radius * radius)
    out: np.ndarray = (np.exp(-d2) * 0.7 + 0.3 / (1 + d2 * 4)).astype(np.float32)
    return out


