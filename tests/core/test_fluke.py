"""The fluke finder on a real ONNX Runtime session: a tiny detector graph (built with onnx.helper) whose
answer is known, so the mapping back to photo pixels, the fallback to the whole frame, the crop and the
levelling can be checked exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.models import make_detector
from whalegui.core.errors import ModelError
from whalegui.core.fluke import Fluke, FlukeFinder, box_iou, clamp_box, crop_fluke, crops_for_embedding


def test_the_box_and_tips_map_back_to_photo_pixels(tmp_path: Path) -> None:
    finder = FlukeFinder(make_detector(tmp_path, [0.25, 0.5, 0.75, 0.9], [0.25, 0.6, 0.75, 0.6], 0.9),
                         device="cpu")
    for size in ((400, 200), (1600, 900)):
        fluke = finder.find(Image.new("RGB", size))
        w, h = size
        assert fluke.found and fluke.source == "detector"
        assert fluke.box == pytest.approx((0.25 * w, 0.5 * h, 0.75 * w, 0.9 * h), abs=1e-3)
        assert fluke.angle == pytest.approx(0.0, abs=1e-6)
        assert fluke.score == pytest.approx(0.9)


def test_no_fluke_found_gives_the_whole_frame(tmp_path: Path) -> None:
    finder = FlukeFinder(make_detector(tmp_path, [0.2, 0.2, 0.8, 0.8], [0.2, 0.5, 0.8, 0.5], 0.1),
                         device="cpu")
    image = Image.new("RGB", (300, 100))
    fluke = finder.find(image)
    assert not fluke.found and fluke.box == (0.0, 0.0, 300.0, 100.0)
    assert crop_fluke(image, fluke) is image


def test_levelling_undoes_a_known_tilt(tmp_path: Path) -> None:
    # A level white bar, tilted by 12 degrees (right end up), in a 600x400 frame.
    frame = Image.new("L", (600, 400), 0)
    ImageDraw.Draw(frame).rectangle((150, 195, 450, 205), fill=255)
    tilted = frame.rotate(12, resample=Image.Resampling.BILINEAR, center=(300, 200)).convert("RGB")
    dx, dy = 150 * math.cos(math.radians(12)), 150 * math.sin(math.radians(12))
    tips = [(300 - dx) / 600, (200 + dy) / 400, (300 + dx) / 600, (200 - dy) / 400]
    finder = FlukeFinder(make_detector(tmp_path, [0.2, 0.35, 0.8, 0.65], tips, 0.9), device="cpu")
    fluke = finder.find(tilted)
    assert fluke.angle == pytest.approx(12.0, abs=0.5)
    crop = np.asarray(crop_fluke(tilted, fluke, margin=0.0).convert("L"), dtype=np.float64)
    rows = np.where(crop.max(axis=1) > 128)[0]
    assert rows.max() - rows.min() <= 14  # the bar is level again: about its own 11 px thick
    # Unlevelled, the same crop shows the bar spanning far more rows.
    flat = np.asarray(crop_fluke(tilted, Fluke(fluke.box), margin=0.0).convert("L"))
    assert np.ptp(np.where(flat.max(axis=1) > 128)[0]) > 40


def test_a_drawn_box_is_clamped_and_never_levelled() -> None:
    fluke = Fluke.drawn((-10, 50, 250, 20), (200, 100))
    assert fluke.box == (0.0, 20.0, 200.0, 50.0) and fluke.source == "researcher" and fluke.angle == 0
    crop = crop_fluke(Image.new("RGB", (200, 100)), fluke, margin=0.0)
    assert crop.size == (200, 30)
    assert fluke.scaled(2.0).box == (0.0, 40.0, 400.0, 100.0)


def test_box_helpers() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert clamp_box((5, 5, -5, -5), (4, 4)) == (0.0, 0.0, 4.0, 4.0)


def test_bad_detector_files_are_model_errors(tmp_path: Path) -> None:
    path = make_detector(tmp_path / "a", [0, 0, 1, 1], [0, 0, 1, 0], 1.0)
    card = json.loads(path.with_suffix(".json").read_text())
    with pytest.raises(ModelError, match="not found"):
        FlukeFinder(tmp_path / "missing.onnx")
    path.with_suffix(".json").write_text(json.dumps({**card, "sha256": "0" * 64}))
    with pytest.raises(ModelError, match="does not match"):
        FlukeFinder(path)
    path.with_suffix(".json").write_text(json.dumps({**card, "kind": "embedder"}))
    with pytest.raises(ModelError, match="malformed"):
        FlukeFinder(path)
    path.with_suffix(".json").write_text(json.dumps({**card, "outputs": {"box": "nope"}}))
    with pytest.raises(ModelError, match="no output"):
        FlukeFinder(path)


def test_only_a_fluke_small_in_its_frame_is_cropped_for_the_embedding() -> None:
    size = (1000, 500)
    assert crops_for_embedding(Fluke((100, 100, 500, 300)), size, 0.5)  # 16% of the frame
    assert not crops_for_embedding(Fluke((0, 0, 900, 400)), size, 0.5)  # 72%: it fills the frame
    assert not crops_for_embedding(Fluke.whole(size), size, 0.5)  # nothing found
    assert crops_for_embedding(Fluke((0, 0, 900, 400)), size, 0.8)
