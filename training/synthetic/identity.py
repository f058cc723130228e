"""One synthetic individual: the parameters that make its fluke its own, drawn from a seed.

Identity lives where real fluke identification lives: the silhouette and the serrated, notched trailing
edge, the black and white ventral pigmentation pattern, and scars (spots, rake marks, scratches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from training.synthetic.texture import TEXTURE_WIDTH, render_texture


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

    def texture(self, span_px: float = float(TEXTURE_WIDTH)) -> Image.Image:
        """The canonical fluke as an ``LA`` image (lightness, opacity), at least ``span_px`` wide if possible.

        Smaller levels are made by halving, so shrinking the fluke into a small photo does not alias.
        """
        if not self._levels:
            self._levels.append(render_texture(self))
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


