"""One photograph of a synthetic individual: the canonical fluke posed, lit and degraded.

Every photo of an individual varies in nuisance: rotation, scale, perspective tilt, crop, a water line
hiding part of the fluke, sea and sky, lighting, diatom tint, haze, blur, noise, greyscale, caption text.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from training.synthetic.identity import WhaleIdentity
from training.synthetic.texture import X_EXTENT, Y_EXTENT, smooth_noise

#: Default aspect ratio range (width / height) of the photos: real cropped flukes are wide.
ASPECT_RANGE = (2.5, 4.0)

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
        waves += smooth_noise(rng, cells, (w2, h2)) * np.float32(amp)
    shade = 1 + (ys - 0.5) * np.float32(rng.uniform(-0.3, 0.3)) + waves
    glint = np.clip(waves - np.float32(rng.uniform(0.12, 0.35)), 0, None) * np.float32(rng.uniform(0, 700))
    img = sea[None, None, :] * shade[..., None] + glint[..., None]
    if horizon > 0:
        sky = _SKY_COLOURS[rng.integers(len(_SKY_COLOURS))] + rng.normal(0, 6, 3).astype(np.float32)
        hy = max(1, int(horizon * h2))
        img[:hy] = sky * np.linspace(0.85, 1.05, hy, dtype=np.float32)[:, None, None]
        if rng.random() < 0.35 and hy > 3:  # distant land or a mountain ridge on the horizon
            land = np.float32(rng.uniform(40, 110))
            ridge = (hy - np.abs(smooth_noise(rng, (1, max(2, w2 // 40)), (w2, 1))[0]) * hy
                     * rng.uniform(0.1, 0.6))
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
    src = np.array([(-X_EXTENT, 0), (X_EXTENT, 0), (X_EXTENT, Y_EXTENT), (-X_EXTENT, Y_EXTENT)])
    c, s = math.cos(angle), math.sin(angle)
    dst = []
    for x, y in src - np.array([0.0, fluke_top]):
        depth = 1 + tilt * (y - 0.3) + yaw * x  # projective foreshortening
        px_, py_ = x * span / depth, y * sy / depth
        dst.append((cx + px_ * c - py_ * s, cy + px_ * s + py_ * c))
    tex = whale.texture(span * 2 * X_EXTENT)
    src_px = src * (tex.width / (2 * X_EXTENT)) + np.array([tex.width / 2, 0])
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
    gain = gain0 * (1 + across) * (1 + smooth_noise(rng, (3, 6), (gw, gh)) * np.float32(0.06 * k))
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
              + smooth_noise(rng, (1, max(2, width // 40)), (width, 1))[0] * np.float32(height * 0.03))
        rows = np.arange(height, dtype=np.float32)[:, None]
        dry = np.clip((wl[None, :] - rows) / 2 + 0.5, 0, 1)
        alpha = ImageChops.multiply(alpha, Image.fromarray((dry * 255).astype(np.uint8), mode="L"))
        if rng.random() < 0.75:
            foam_h = np.float32(height * rng.uniform(0.02, 0.08))
            centre = np.exp(-(((xs - cx) / np.float32(width * rng.uniform(0.1, 0.5))) ** 2))
            band = np.exp(-(((rows - wl[None, :]) / foam_h) ** 2)) * (0.25 + 0.75 * centre)[None, :]
            grain = smooth_noise(rng, (max(2, height // 5), max(2, width // 8)), (width // 2, height // 2))
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

