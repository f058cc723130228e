"""Fluke-like photos whose marks are known, for tests of local features and verification.

:func:`marks` draws a whale's scatter of white blotches and scars on a dark field; :func:`similar` moves a
photo by a known rotation and scale onto a larger canvas; :func:`shot` is a whale's photo under a colour cast,
optionally moved, saved as a JPEG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def marks(seed: int, size: tuple[int, int] = (480, 160)) -> Image.Image:
    """A fluke-like grey field with a whale-specific scatter of white blotches and scars."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = np.full((h, w), 40.0)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(45):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(3, 14), rng.uniform(3, 10)
        img[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1] = rng.uniform(150, 250)
    img += np.random.default_rng(seed + 1000).normal(0, 4, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).convert("RGB")


def similar(image: Image.Image, angle: float, scale: float, *, border: int = 80,
            fill: tuple[int, int, int] = (90, 110, 130)) -> tuple[Image.Image, np.ndarray]:
    """The image rotated about its centre and scaled onto a canvas ``border`` px larger, and the 2x3 map
    old -> new pixel coordinates."""
    import cv2

    w, h = image.size
    W, H = round(w * scale) + border, round(h * scale) + border
    # cv2's stubs type the matrix as any-dtype MatLike; it is float64 (asarray makes no copy)
    m = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale), dtype=np.float64)
    m[:, 2] += [W / 2 - w / 2, H / 2 - h / 2]
    out = cv2.warpAffine(np.asarray(image), m, (W, H), flags=cv2.INTER_LINEAR, borderValue=fill)
    return Image.fromarray(out), m


def shot(path: Path, whale: int, cast: tuple[int, int, int], *, angle: float = 0.0, scale: float = 1.0
         ) -> tuple[Path, np.ndarray]:
    """Whale ``whale``'s marks under colour ``cast`` (added to R, G, B), moved by ``angle`` and ``scale``
    onto a canvas of the field's own grey; saved as a JPEG. Returns the path and the map from :func:`marks`
    pixels to the photo's."""
    moved, m = similar(marks(whale), angle, scale, border=60, fill=(40, 40, 40))
    rgb = np.asarray(moved, dtype=np.float64) + np.asarray(cast, dtype=np.float64)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=92)
    return path, m
