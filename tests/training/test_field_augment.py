"""Field augmentation (never a mirror; size and mode kept) and the detector's composites (truth where the
fluke was pasted). No TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from training.composites import make_composite, make_set_from
from training.field_augment import FieldAugment, jpeg, water_line

SEEDS = range(40)


def _asymmetric(w: int = 120, h: int = 60) -> Image.Image:
    """Dark on the left, light on the right, with a bright mark near the left edge: a mirror swaps it all."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (30, 40, 60)
    a[:, w // 2:] = (200, 190, 180)
    a[h // 4: h // 2, w // 8: w // 4] = (255, 255, 255)
    return Image.fromarray(a)


def _grey(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("L"), np.float64)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_field_augmentation_never_mirrors() -> None:
    image = _asymmetric()
    original, mirrored = _grey(image), _grey(ImageOps.mirror(image))
    for seed in SEEDS:
        out = _grey(FieldAugment()(image, np.random.default_rng(seed)))
        third = out.shape[1] // 3
        assert out[:, :third].mean() < out[:, -third:].mean(), seed  # the dark side stays on the left
        assert _corr(out, original) > _corr(out, mirrored), seed


@pytest.mark.parametrize("size", [(100, 100), (240, 80), (33, 71)])
def test_field_augmentation_keeps_size_and_mode_and_changes_pixels(size: tuple[int, int]) -> None:
    image = _asymmetric(*size)
    for seed in range(8):
        out = FieldAugment()(image, np.random.default_rng(seed))
        assert out.size == size and out.mode == "RGB"
        assert not np.array_equal(np.asarray(out), np.asarray(image))
    grey_input = FieldAugment()(image.convert("L"), np.random.default_rng(0))
    assert grey_input.size == size and grey_input.mode == "RGB"


def test_field_augmentation_is_deterministic_per_rng() -> None:
    image = _asymmetric()
    a = FieldAugment()(image, np.random.default_rng(3))
    b = FieldAugment()(image, np.random.default_rng(3))
    c = FieldAugment()(image, np.random.default_rng(4))
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def test_water_line_covers_only_the_lower_part_and_jpeg_keeps_size() -> None:
    white = Image.new("RGB", (80, 60), (255, 255, 255))
    covered = np.asarray(water_line(white, np.random.default_rng(0), top=(0.5, 0.5)), np.int16)
    assert (covered[:20] == 255).all()  # the line waves at most 4 % of the height about the middle
    assert (covered[-20:] < 250).all()  # sea below it
    assert jpeg(white, 50).size == white.size


# --- composites --------------------------------------------------------------------------------------

def _bright_fluke(w: int = 90, h: int = 30) -> Image.Image:
    return Image.new("RGB", (w, h), (230, 230, 230))


def test_composites_have_consistent_truth_and_shapes() -> None:
    flukes = [_bright_fluke(), _bright_fluke(60, 40)]
    a = make_set_from(flukes, 16, seed=5, size=48, p_empty=0.3)
    b = make_set_from(flukes, 16, seed=5, size=48, p_empty=0.3)
    assert a["image"].shape == (16, 48, 48, 3) and a["image"].dtype == np.uint8
    assert all(np.array_equal(a[k], b[k]) for k in a)
    has = a["has"] > 0.5
    assert 0 < has.sum() < 16
    assert (a["box"][~has] == 0).all() and (a["tips"][~has] == 0).all()
    box = a["box"][has]
    assert ((box >= 0) & (box <= 1)).all()
    assert (box[:, 2] > box[:, 0]).all() and (box[:, 3] > box[:, 1]).all()
    tips = a["tips"][has]
    assert (tips[:, 2] > tips[:, 0]).all()  # the left tip is left of the right one (tilt <= 20 deg)


def test_a_pasted_fluke_lies_inside_its_box() -> None:
    # Two flukes alike but in their middle: the same seed gives the same frame and box (the sea's tint
    # comes from the top corners), so the pixels that differ are the fluke's, and they are in the box.
    plain = np.full((30, 90, 3), 128, np.uint8)
    marked = plain.copy()
    marked[12:, 27:63] = 250
    seen = 0
    for seed in range(20):
        a = make_composite(Image.fromarray(plain), np.random.default_rng(seed), size=64)
        b = make_composite(Image.fromarray(marked), np.random.default_rng(seed), size=64)
        assert np.array_equal(a.box, b.box) and a.has == b.has == 1.0
        ys, xs = np.nonzero(np.abs(b.image.astype(np.int16) - a.image.astype(np.int16)).mean(axis=2) > 20)
        if len(xs) == 0:  # the water line hid the marked middle
            continue
        seen += 1
        x0, y0, x1, y1 = a.box * 64
        assert x0 <= xs.min() and xs.max() + 1 <= x1 and y0 <= ys.min() and ys.max() + 1 <= y1, seed
    assert seen >= 15
