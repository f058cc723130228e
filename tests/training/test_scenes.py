"""Wide synthetic scenes: determinism, the truth of the fluke's box and tips, and ``synth --scenes``."""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.synthetic import (
    BOXES_HEADER,
    Scene,
    SceneStyle,
    WhaleIdentity,
    generate_dataset,
    make_whale,
    render_scene,
)

WIDTH = 320
SEEDS = range(6)
NO_WHITE_WATER = SceneStyle(streams=0.0, foam=0.0)  # nothing but the fluke where the box is


@pytest.fixture(scope="module")
def whales() -> list[WhaleIdentity]:
    return [make_whale(i) for i in range(3)]


def _scene(whale: WhaleIdentity, seed: int, *, style: SceneStyle | None = None, fluke: bool = True) -> Scene:
    return render_scene(whale, np.random.default_rng(seed), WIDTH, style=style, fluke=fluke)


def _pixels(scene: Scene) -> np.ndarray:
    return np.asarray(scene.image, np.int16)


def test_same_rng_gives_the_same_pixels_and_truth(whales: list[WhaleIdentity]) -> None:
    a, b = _scene(whales[0], 7), _scene(make_whale(0), 7)
    assert a.image.tobytes() == b.image.tobytes()
    assert (a.box, a.tips, a.tilt_degrees) == (b.box, b.tips, b.tilt_degrees)
    assert a.mask.tobytes() == b.mask.tobytes()
    other = _scene(whales[0], 8)
    assert other.image.tobytes() != a.image.tobytes() and other.box != a.box


def test_frames_are_wide_camera_frames(whales: list[WhaleIdentity]) -> None:
    aspects = set()
    for seed in range(12):
        scene = _scene(whales[seed % 3], seed)
        assert scene.image.mode == "RGB" and scene.image.width == WIDTH
        aspect = WIDTH / scene.image.height
        assert min(abs(aspect - a) for a in (3 / 2, 4 / 3, 16 / 9)) < 0.01
        aspects.add(round(aspect, 2))
        xl, yl, xr, yr = scene.tips
        assert 0.3 - 1e-6 <= math.hypot(xr - xl, yr - yl) / WIDTH <= 0.9 + 1e-6
        assert abs(scene.tilt_degrees) <= 20
    assert len(aspects) >= 2
    with pytest.raises(ValueError, match="at least 64"):
        render_scene(whales[0], np.random.default_rng(0), 40)


@pytest.mark.parametrize("seed", SEEDS)
def test_box_bounds_the_visible_fluke_tightly(whales: list[WhaleIdentity], seed: int) -> None:
    whale = whales[seed % 3]
    scene = _scene(whale, seed, style=NO_WHITE_WATER)
    empty = _scene(whale, seed, style=NO_WHITE_WATER, fluke=False)
    assert (empty.box, empty.tips) == (scene.box, scene.tips)  # same draws, same truth
    x0, y0, x1, y1 = scene.box
    assert 0 <= x0 < x1 <= scene.image.width and 0 <= y0 < y1 <= scene.image.height
    mask = np.asarray(scene.mask) >= 128
    rows, cols = np.nonzero(mask)
    assert (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1) == scene.box

    # Where the mask says fluke, the frame differs from the same frame without the fluke...
    diff = np.abs(_pixels(scene) - _pixels(empty)).max(axis=-1)
    assert diff[mask].mean() > 12
    assert (diff[mask] > 4).mean() > 0.7
    # ...and nowhere above or beside the box (below it, the whale's body darkens the sea).
    pad = 8
    upper = y0 + (y1 - y0) // 2
    assert diff[: max(0, y0 - pad)].max(initial=0) == 0
    assert diff[:upper, : max(0, x0 - pad)].max(initial=0) == 0
    assert diff[:upper, x1 + pad:].max(initial=0) == 0

    # Tight: shrinking the box by 10 % on any side loses fluke pixels.
    dx, dy = max(1, (x1 - x0) // 10), max(1, (y1 - y0) // 10)
    for name, sub in (("left", mask[:, x0:x0 + dx]), ("right", mask[:, x1 - dx:x1]),
                      ("top", mask[y0:y0 + dy, :]), ("bottom", mask[y1 - dy:y1, :])):
        assert sub.sum() > 0, f"the {name} tenth of the box holds no fluke"


@pytest.mark.parametrize("seed", SEEDS)
def test_tips_lie_on_the_fluke_at_the_box_ends_and_show_the_tilt(whales: list[WhaleIdentity],
                                                                  seed: int) -> None:
    scene = _scene(whales[seed % 3], seed + 100)
    x0, y0, x1, y1 = scene.box
    xl, yl, xr, yr = scene.tips
    width = x1 - x0
    assert abs(xl - x0) <= 0.03 * width + 1 and abs(xr - x1) <= 0.03 * width + 1
    assert y0 - 2 <= min(yl, yr) and max(yl, yr) <= y1 + 2
    mask = np.asarray(scene.mask)
    for x, y in ((xl, yl), (xr, yr)):
        near = mask[max(0, int(y) - 2):int(y) + 3, max(0, int(x) - 2):int(x) + 3]
        assert near.max() >= 128, f"no fluke at the tip ({x:.1f}, {y:.1f})"
    angle = math.degrees(math.atan2(yr - yl, xr - xl))
    assert abs(angle - scene.tilt_degrees) < 3


def test_tilt_spans_both_ways_and_level_when_asked(whales: list[WhaleIdentity]) -> None:
    tilts = [_scene(whales[0], seed).tilt_degrees for seed in range(10)]
    assert min(tilts) < -5 and max(tilts) > 5
    level = _scene(whales[1], 3, style=SceneStyle(max_tilt=0.0))
    xl, yl, xr, yr = level.tips
    assert level.tilt_degrees == 0
    assert abs(math.degrees(math.atan2(yr - yl, xr - xl))) < 2.5


def test_greyscale_and_colour_styles(whales: list[WhaleIdentity]) -> None:
    grey = _pixels(_scene(whales[0], 4, style=SceneStyle(grayscale=1.0)))
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    colour = _pixels(_scene(whales[0], 4, style=SceneStyle(grayscale=0.0)))
    assert np.abs(colour[..., 0] - colour[..., 2]).mean() > 2


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_writes_scenes_with_one_box_per_photo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.__main__ import main

    out = tmp_path / "scenes"
    args = ["synth", "--scenes", "--out", str(out), "--whales", "3", "--train-per-whale", "1-2",
            "--unknown-whales", "1", "--seed", "4", "--width", "200-260"]
    assert main(args) == 0
    assert "boxes.csv" in capsys.readouterr().out
    train, test, boxes = (_read(out / name) for name in ("train.csv", "test_labels.csv", "boxes.csv"))
    assert train[0] == test[0] == ["Image", "Id"] and tuple(boxes[0]) == BOXES_HEADER
    photos = {row[0]: "train" for row in train[1:]} | {row[0]: "test" for row in test[1:]}
    assert sum(1 for row in test[1:] if row[1] == "new_whale") == 1
    assert sorted(row[0] for row in boxes[1:]) == sorted(photos)  # one row per photo, no other
    for name, *values in boxes[1:]:
        x0, y0, x1, y1 = (int(v) for v in values[:4])
        xl, _, xr, _ = (float(v) for v in values[4:])
        with Image.open(out / photos[name] / name) as im:
            assert im.format == "JPEG" and 200 <= im.width <= 260
            assert 0 <= x0 < x1 <= im.width and 0 <= y0 < y1 <= im.height
        assert abs(xl - x0) <= 0.03 * (x1 - x0) + 1 and abs(xr - x1) <= 0.03 * (x1 - x0) + 1

    # Same seed, same bytes; and the whales are not those of a cropped set of the same seed.
    assert main([*args[:3], str(tmp_path / "again"), *args[4:]]) == 0
    assert _digest(tmp_path / "again") == _digest(out)
    crops = generate_dataset(tmp_path / "crops", whales=3, train_per_whale=(1, 2), seed=4,
                             width_range=(64, 80))
    assert not {row[1] for row in _read(crops.train_csv)[1:]} & {row[1] for row in train[1:]}


def test_cli_refuses_a_written_set_and_bad_widths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.__main__ import main

    out = tmp_path / "scenes"
    base = ["synth", "--scenes", "--out", str(out), "--whales", "2", "--train-per-whale", "1",
            "--width", "96"]
    assert main(base) == 0
    capsys.readouterr()
    assert main(base) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main([*base, "--seed", "1", "--overwrite"]) == 0
    # A set of cropped flukes written over scenes leaves no stale boxes.csv behind.
    assert main(["synth", "--out", str(out), "--whales", "2", "--width", "96", "--overwrite"]) == 0
    assert not (out / "boxes.csv").exists()
    capsys.readouterr()
    assert main([*base[:3], str(tmp_path / "small"), *base[4:-1], "32-48"]) == 2
    assert "at least 64" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", "--scenes", "--out", str(tmp_path / "x"), "--whales", "0"])
