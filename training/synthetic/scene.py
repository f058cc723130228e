"""A wide boat photo of one synthetic individual's fluke, with the truth of where the fluke is.

Where :func:`~training.synthetic.photo.render_photo` makes tight crops that a fluke fills, a scene is a whole
camera frame (3:2, 4:3 or 16:9): a fluke 30-90 % of the frame's width rises out of a sea seen in perspective
(:mod:`~training.synthetic.seascape`) with sky, sometimes a coast, glare and haze; it is tilted up to 20
degrees, its lower part hidden under a wavy water line with foam, water runs off its tips, and the camera
adds vignetting, grain, blur, sometimes a date or file-name overlay, and a third of frames are greyscale.
The truth comes with it: the tight box of the visible fluke, its two tips and its tilt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from training.synthetic.identity import WhaleIdentity
from training.synthetic.seascape import camera_for, render_seascape, sun_glare
from training.synthetic.texture import X_EXTENT, smooth_noise

#: Below this opacity a pixel is not counted as fluke (the box bounds pixels at least half fluke).
VISIBLE = 128

_MIN_WIDTH = 64
_Y_REF = 0.35  # the canonical fluke's point (0, _Y_REF) is the pose's centre
_CAPTIONS = ("{y}/{m:02d}/{d:02d} {hh:02d}:{mm:02d}", "'{yy:02d} {m} {d}", "IMG_{n:04d}.JPG", "DSC_{n:04d}",
             "{y}-{m:02d}-{d:02d}  {hh:02d}:{mm:02d}:{ss:02d}", "(c) {y} Fluke ID project",
             "P{m}{d:02d}{n:04d}", "{d:02d}.{m:02d}.{y}")
_CAPTION_COLOURS = ((255, 150, 40), (255, 210, 60), (250, 250, 250), (235, 90, 40))


@dataclass(frozen=True)
class SceneStyle:
    """The range a scene's nuisance is drawn from. Probabilities are per frame."""

    aspects: tuple[float, ...] = (3 / 2, 4 / 3, 16 / 9)
    fluke_width: tuple[float, float] = (0.3, 0.9)  # tip-to-tip distance / frame width
    max_tilt: float = 20.0  # degrees either way
    grayscale: float = 1 / 3
    caption: float = 0.3
    coast: float = 0.4
    glare: float = 0.35
    haze: float = 0.3
    streams: float = 0.5  # water running off the tips
    foam: float = 0.85  # white water where the fluke meets the sea
    backlit: float = 0.08


@dataclass(frozen=True)
class Scene:
    """A rendered frame and its truth, all in pixels of ``image`` (x right, y down; a pixel (i, j) covers
    [i, i+1] x [j, j+1]).

    ``box`` = (x0, y0, x1, y1), right and bottom exclusive as in :meth:`PIL.Image.Image.crop`: the tight box
    of the pixels that are at least half visible fluke (after tilt, water line and foam). ``tips`` = (xl, yl,
    xr, yr): the left and right tip, as they land in the frame. ``tilt_degrees``: the roll applied to the
    fluke, positive when the right tip goes down (clockwise on screen); the line through the tips differs
    from it only by the fluke's own asymmetry and perspective (a degree or two). ``mask``: the visible
    fluke's opacity (``L``, 0..255), for tests and for training a segmenter.
    """

    image: Image.Image
    box: tuple[int, int, int, int]
    tips: tuple[float, float, float, float]
    tilt_degrees: float
    mask: Image.Image


@dataclass(frozen=True)
class _Outline:
    """The canonical fluke's landmarks in span units: its tips (2 x 2, left then right), points along its
    top edge (N x 2) and the two ends of the peduncle where the texture cuts it off (2 x 2)."""

    tips: np.ndarray
    top: np.ndarray
    peduncle: np.ndarray


def _outline(whale: WhaleIdentity) -> _Outline:
    tex = whale.texture()  # the full-resolution level
    alpha = np.asarray(tex.getchannel("A"))
    ppu = tex.width / (2 * X_EXTENT)
    solid = alpha >= VISIBLE
    columns = np.flatnonzero(solid.any(axis=0))
    left, right = int(columns[0]), int(columns[-1])

    def tip(cols: slice, x: float) -> tuple[float, float]:
        rows = np.flatnonzero(solid[:, cols].any(axis=1))
        return x, float(rows.mean()) + 0.5

    tips = np.array([tip(slice(left, left + 3), left), tip(slice(right - 2, right + 1), right + 1.0)])
    picks = np.linspace(left, right, 48).round().astype(int)
    top = np.array([(c + 0.5, float(np.argmax(solid[:, c]))) for c in picks if solid[:, c].any()])
    bottom = np.flatnonzero(solid[-1])
    peduncle = np.array([(bottom[0], alpha.shape[0]), (bottom[-1] + 1.0, alpha.shape[0])], np.float64)

    def canonical(px: np.ndarray) -> np.ndarray:
        out: np.ndarray = px / ppu - np.array([X_EXTENT, 0.0])
        return out

    return _Outline(tips=canonical(tips), top=canonical(top), peduncle=canonical(peduncle))


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    homo = np.column_stack([points, np.ones(len(points))]) @ matrix.T
    out: np.ndarray = homo[:, :2] / homo[:, 2:3]
    return out


def _pose(tilt_deg: float, yaw: float, pitch: float) -> np.ndarray:
    """Canonical span units -> pose units (centred on (0, _Y_REF), before scale and placement)."""
    t = math.radians(tilt_deg)
    c, s = math.cos(t), math.sin(t)
    centre = np.array([[1, 0, 0], [0, 1, -_Y_REF], [0, 0, 1]], np.float64)
    roll = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float64)
    persp = np.array([[1, 0, 0], [0, 1, 0], [yaw, pitch, 1]], np.float64)
    out: np.ndarray = persp @ roll @ centre
    return out


def render_scene(whale: WhaleIdentity, rng: np.random.Generator, width: int = 1200, *,
                 style: SceneStyle | None = None, fluke: bool = True) -> Scene:
    """One wide frame of ``whale``'s fluke at sea, ``width`` pixels wide, with nuisance drawn from ``rng``.

    ``fluke=False`` renders the same frame (the same draws from ``rng``) with the fluke, its foam and its
    water left out, and the same truth: a background for tests, or a fluke-free frame for a detector.
    The same ``rng`` state gives the same pixels.
    """
    style = style or SceneStyle()
    width = int(width)
    if width < _MIN_WIDTH:
        raise ValueError(f"a scene needs a width of at least {_MIN_WIDTH} pixels, got {width}")
    aspect = float(style.aspects[int(rng.integers(len(style.aspects)))])
    height = round(width / aspect)
    grayscale = bool(rng.random() < style.grayscale)
    outline = _outline(whale)

    # Pose, in units of the fluke's span: roll, a little perspective, and where the sea cuts it.
    tilt = float(rng.uniform(-style.max_tilt, style.max_tilt))
    yaw = float(np.clip(rng.normal(0, 0.025), -0.05, 0.05))
    pitch = float(np.clip(rng.normal(0, 0.04), -0.08, 0.08))
    pose = _pose(tilt, yaw, pitch)
    tips, top, ped = (_apply(pose, p) for p in (outline.tips, outline.top, outline.peduncle))
    slope = math.tan(math.radians(float(np.clip(rng.normal(0, 1.2), -3, 3))))  # camera roll
    wave = float(rng.uniform(0.004, 0.015))  # the water line's waviness, span units
    margin = 0.05
    lo = float(np.max(tips[:, 1] - slope * tips[:, 0])) + margin + wave  # both tips stay dry
    hi = float(np.min(ped[:, 1] - slope * ped[:, 0])) - margin - wave  # the cut peduncle stays wet
    water = hi - (hi - lo) * 0.85 * float(rng.uniform(0, 1)) ** 1.2 if hi > lo else (lo + hi) / 2
    xs_fluke = np.concatenate([tips[:, 0], top[:, 0]])
    left, right = float(xs_fluke.min()), float(xs_fluke.max())
    top_y = float(min(tips[:, 1].min(), top[:, 1].min()))
    bottom_y = water + wave + max(slope * left, slope * right)

    # Scale and place: the tips span the drawn share of the width, the whole fluke stays in the frame.
    frac = float(rng.uniform(*style.fluke_width))
    scale = frac * width / float(np.hypot(*(tips[1] - tips[0])))
    scale = min(scale, 0.94 * height / (bottom_y - top_y), 0.96 * width / (right - left))
    # Anywhere it fits, but photographers aim at the fluke: the middle is likelier than the edges.
    mx, my = 0.02 * width, 0.04 * height
    x_lo, x_hi = mx - scale * left, width - mx - scale * right
    y_lo, y_hi = my - scale * top_y, height - my - scale * bottom_y
    cx = x_lo + max(0.0, x_hi - x_lo) * float(rng.beta(2.0, 2.0))
    cy = y_lo + max(0.0, y_hi - y_lo) * float(rng.beta(2.2, 1.8))
    frame = np.array([[scale, 0, cx], [0, scale, cy], [0, 0, 1]], np.float64) @ pose
    water_row = cy + scale * water  # the water line's row at the fluke's centre (before waves)

    camera = camera_for(rng, width, water_row - slope * (cx - width / 2), scale * 2, slope)
    seascape = render_seascape(rng, width, height, camera, coast=bool(rng.random() < style.coast),
                               glitter=float(rng.uniform(0.3, 1.0)) if rng.random() < style.glare else 0.0,
                               whitecaps=float(rng.uniform(0.0, 0.8)) if rng.random() < 0.35 else 0.0)
    background = seascape.image

    # The fluke: the canonical texture warped into the frame.
    tex = whale.texture(scale * 2 * X_EXTENT)
    ppu = tex.width / (2 * X_EXTENT)
    to_canonical = np.array([[1 / ppu, 0, -X_EXTENT], [0, 1 / ppu, 0], [0, 0, 1]], np.float64)
    inverse = np.linalg.inv(frame @ to_canonical)
    coeffs = tuple(float(v) for v in (inverse / inverse[2, 2]).ravel()[:8])
    warped = tex.transform((width, height), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
    light = np.asarray(warped.getchannel("L"), np.float32) / 255
    alpha = np.asarray(warped.getchannel("A"), np.float32) / 255

    xs = np.arange(width, dtype=np.float32) + 0.5
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    ripple = smooth_noise(rng, (1, max(2, int(rng.integers(6, 30)))), (width, 1))[0]
    swell = np.float32(scale * rng.uniform(0.02, 0.06))
    ripple = ripple + np.sin(xs / swell + np.float32(rng.uniform(0, 6.3))) * 0.4
    water_line = (np.float32(water_row) + (xs - np.float32(cx)) * np.float32(slope)
                  + np.clip(ripple, -1.4, 1.4) / 1.4 * np.float32(wave * scale))
    dry = np.clip(water_line[None, :] - ys + 0.5, 0, 1)
    foam = _foam(rng, width, height, water_line, frame, water, scale) * np.float32(rng.random() < style.foam)
    visible = alpha * dry * (1 - foam)
    mask = np.round(visible * 255).astype(np.uint8)
    rows, cols = np.nonzero(mask >= VISIBLE)
    box = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
    tips_px = _apply(frame, outline.tips)

    skin = _skin(rng, light, alpha, xs, ys, cx, cy, scale, water_line, style)
    composite = background + (skin - background) * (alpha * dry)[..., None]
    streams = _streams(rng, width, height, tips_px, water_line, scale, style) * (1 - alpha * dry)
    # Under the surface the whale's body darkens the sea around where the peduncle goes in.
    px_in = float(_apply(frame, np.array([[0.0, _Y_REF + water]]))[0, 0])
    shadow = (np.exp(-(((xs - px_in) / np.float32(scale * rng.uniform(0.12, 0.3))) ** 2))[None, :]
              * np.exp(-np.maximum(ys - water_line[None, :], 0) / np.float32(scale * rng.uniform(0.05, 0.2)))
              * (1 - dry) * np.float32(rng.uniform(0.05, 0.3)))
    foam_colour = np.float32(rng.uniform(215, 245))
    if fluke:
        image = composite * (1 - shadow[..., None])
        image = image + (foam_colour - image) * foam[..., None]
        image = image + (np.float32(235) - image) * streams[..., None]
    else:
        image = background
    image = _camera(rng, image, seascape.sun_x, camera.horizon, style)
    photo = Image.fromarray(image, mode="RGB")
    if photo.height >= 48 and rng.random() < style.caption:
        _burn_caption(photo, rng, box)
    if grayscale:  # a black-and-white camera, or a scan of a print: the overlay too
        photo = photo.convert("L").convert("RGB")
    return Scene(image=photo, box=box, tips=(float(tips_px[0, 0]), float(tips_px[0, 1]), float(tips_px[1, 0]),
                                             float(tips_px[1, 1])),
                 tilt_degrees=tilt, mask=Image.fromarray(mask, mode="L"))


def _foam(rng: np.random.Generator, width: int, height: int, water_line: np.ndarray, frame: np.ndarray,
          water: float, scale: float) -> np.ndarray:
    """White water where the fluke meets the sea: a grainy band along the water line, thickest at the
    peduncle, spray a little above and foam spread on the surface below (0..1)."""
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    centre = float(_apply(frame, np.array([[0.0, _Y_REF + water]]))[0, 0])
    spread = np.float32(scale * rng.uniform(0.15, 0.7))
    envelope = np.exp(-(((xs - np.float32(centre)) / spread) ** 2))
    up, down = np.float32(scale * rng.uniform(0.01, 0.05)), np.float32(scale * rng.uniform(0.01, 0.04))
    dist = ys - water_line[None, :]
    # Spray rises a little, foam spreads a little: both end, so the sea further off is untouched.
    reach = np.clip(1 - np.maximum(-dist / (3 * up), dist / (4 * down)), 0, 1)
    band = np.exp(-np.maximum(-dist / up, dist / down)) * reach
    cells = (max(2, int(height / max(scale * 0.02, 1.0))), max(2, int(width / max(scale * 0.03, 1.0))))
    cells = (min(cells[0], max(2, height // 2)), min(cells[1], max(2, width // 2)))
    grain = smooth_noise(rng, cells, (width, height))
    amount = np.float32(rng.uniform(0.3, 1.0))
    level = band * envelope * amount * (1 + grain * np.float32(0.35))
    out: np.ndarray = np.clip(level * 1.3, 0, 1).astype(np.float32)
    return out


def _skin(rng: np.random.Generator, light: np.ndarray, alpha: np.ndarray, xs: np.ndarray, ys: np.ndarray,
          cx: float, cy: float, scale: float, water_line: np.ndarray, style: SceneStyle) -> np.ndarray:
    """The fluke's colour under this frame's light: black and white skin, light falling across it from
    one side, wet and darker near the water, and specular sheen on the wet black skin."""
    black = np.float32(rng.uniform(12, 45)) + rng.normal(0, 4, 3).astype(np.float32)
    white = np.float32(rng.uniform(170, 240)) + rng.normal(0, 6, 3).astype(np.float32)
    if rng.random() < 0.25:  # diatoms
        white = white * np.array([1.0, 0.92, 0.78], np.float32) ** np.float32(rng.uniform(0.3, 1.0))
    height, width = light.shape
    gain0 = np.float32(rng.uniform(0.8, 1.1))
    if rng.random() < style.backlit:  # the sun behind the fluke: little more than a silhouette
        gain0 *= np.float32(rng.uniform(0.3, 0.55))
    direction = rng.uniform(0, 2 * math.pi)
    across = ((xs[None, :] - np.float32(cx)) * np.float32(math.cos(direction))
              + (ys - np.float32(cy)) * np.float32(math.sin(direction))) / np.float32(scale)
    gain = gain0 * (1 + across * np.float32(rng.normal(0, 0.15)))
    wet = np.exp(-np.maximum(water_line[None, :] - ys, 0) / np.float32(scale * rng.uniform(0.03, 0.12)))
    gain = gain * (1 - wet * np.float32(rng.uniform(0.1, 0.4)))
    gain = gain * (1 + smooth_noise(rng, (3, 4), (width, height)) * np.float32(rng.uniform(0.02, 0.1)))
    # The fluke is thick in the middle and thin at its edges: the light rolls off towards the outline.
    alpha_im = Image.fromarray(np.round(alpha * 255).astype(np.uint8), mode="L")
    rounded = np.asarray(alpha_im.filter(ImageFilter.GaussianBlur(max(0.8, scale * 0.012))), np.float32) / 255
    gain = gain * (1 - np.clip(1 - rounded, 0, 1) * np.float32(rng.uniform(0.1, 0.45)))
    cells = (min(max(2, int(height / max(scale * 0.015, 1.0))), max(2, height // 2)),
             min(max(2, int(width / max(scale * 0.015, 1.0))), max(2, width // 2)))
    sheen = np.clip(smooth_noise(rng, cells, (width, height)) - np.float32(rng.uniform(1.0, 1.8)), 0, None)
    sheen = sheen * np.float32(rng.uniform(20, 90)) * (1 - light)
    skin = black + light[..., None] * (white - black)
    out: np.ndarray = (skin * np.clip(gain, 0.05, 1.5)[..., None] + sheen[..., None]).astype(np.float32)
    return out


def _streams(rng: np.random.Generator, width: int, height: int, tips: np.ndarray, water_line: np.ndarray,
             scale: float, style: SceneStyle) -> np.ndarray:
    """Water pouring off the tips into the sea: a short strand at the tip breaking into a falling column
    of drops, thinning out towards the water (0..1)."""
    layer = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(layer)
    for tx, ty in tips:
        if rng.random() >= style.streams:
            continue
        col = int(np.clip(tx, 0, width - 1))
        fall = max(float(water_line[col]) - float(ty), 1.0)
        shade = int(rng.uniform(120, 230))
        drift = float(rng.normal(0, 0.04))
        strand = fall * float(rng.uniform(0.05, 0.25))
        draw.line((tx, ty, tx + drift * strand, ty + strand), fill=shade,
                  width=max(1, round(scale * rng.uniform(0.003, 0.008))))
        for _ in range(int(scale * rng.uniform(0.05, 0.3)) + 3):
            t = float(rng.uniform(0, 1)) ** 1.6
            y = ty + strand + (fall - strand) * t
            x = tx + drift * (y - ty) + float(rng.normal(0, 1)) * scale * 0.006 * (0.3 + t)
            r = max(0.6, scale * float(rng.uniform(0.0015, 0.004)))
            draw.ellipse((x - r, y - r * 2.5, x + r, y + r * 2.5), fill=int(shade * (1 - 0.6 * t)))
    out: np.ndarray = np.asarray(layer.filter(ImageFilter.GaussianBlur(0.6)), np.float32) / 255
    return out


def _camera(rng: np.random.Generator, image: np.ndarray, sun_x: float, horizon: float,
            style: SceneStyle) -> np.ndarray:
    """What the camera and the air do to the whole frame: haze, glare, exposure and white balance,
    vignetting, grain and blur; returns uint8 RGB."""
    height, width = image.shape[:2]
    if rng.random() < style.haze:
        veil = np.float32(rng.uniform(170, 235)) + rng.normal(0, 4, 3).astype(np.float32)
        image = image + (veil - image) * np.float32(rng.uniform(0.08, 0.4))
    if rng.random() < style.glare:
        sun_y = float(min(horizon, height * 0.3) - rng.uniform(0.1, 0.8) * height)
        glare = sun_glare(width, height, sun_x, sun_y, float(width * rng.uniform(0.2, 0.7)))
        image = image + (np.float32(255) - image) * (glare * np.float32(rng.uniform(0.15, 0.5)))[..., None]
    balance = (1 + rng.normal(0, 0.05, 3)).astype(np.float32) * np.float32(rng.uniform(0.8, 1.15))
    pivot = np.float32(118)  # fixed, so a frame without the fluke gets the same grading
    image = (image - pivot) * np.float32(rng.uniform(0.8, 1.2)) + pivot
    image = image * balance
    ys = (np.arange(height, dtype=np.float32)[:, None] + 0.5) / height - 0.5
    xs = (np.arange(width, dtype=np.float32)[None, :] + 0.5) / width - 0.5
    image = image * (1 - np.float32(rng.uniform(0, 0.35)) * (xs * xs + ys * ys) * 2)[..., None]
    sigma = np.float32(rng.uniform(0.5, 6))
    image = image + rng.standard_normal((height, width, 1), dtype=np.float32) * sigma
    out = Image.fromarray(np.clip(np.round(image), 0, 255).astype(np.uint8), mode="RGB")
    if rng.random() < 0.5:  # defocus or shake
        out = out.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5)) * width / 1200))
    arr: np.ndarray = np.asarray(out)
    return arr


def _burn_caption(photo: Image.Image, rng: np.random.Generator, box: tuple[int, int, int, int]) -> None:
    """A camera's date or file-name overlay in a corner the fluke's box leaves free (none if it leaves
    none, so the box stays the fluke's)."""
    fmt = _CAPTIONS[int(rng.integers(len(_CAPTIONS)))]
    y = int(rng.integers(1995, 2020))
    text = fmt.format(y=y, yy=y % 100, m=int(rng.integers(1, 13)), d=int(rng.integers(1, 29)),
                      hh=int(rng.integers(6, 20)), mm=int(rng.integers(60)), ss=int(rng.integers(60)),
                      n=int(rng.integers(1, 9999)))
    size = max(8, int(photo.height * rng.uniform(0.03, 0.06)))
    font = ImageFont.load_default(size=size)
    colour = _CAPTION_COLOURS[int(rng.integers(len(_CAPTION_COLOURS)))]
    draw = ImageDraw.Draw(photo)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    margin = size
    far_x, far_y = photo.width - right - margin, photo.height - bottom - margin
    corners = [(far_x, far_y), (margin, far_y), (far_x, margin), (margin, margin)]
    order = rng.permutation(len(corners)) if rng.random() < 0.4 else np.arange(len(corners))
    for i in order:
        x, y0 = corners[int(i)]
        x0, y0_, x1, y1 = x + left, y0 + top, x + right, y0 + bottom
        if x1 <= box[0] or x0 >= box[2] or y1 <= box[1] or y0_ >= box[3]:
            draw.text((x + 1, y0 + 1), text, fill=(20, 20, 20), font=font)
            draw.text((x, y0), text, fill=colour, font=font)
            return
