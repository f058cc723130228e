"""The bundled models as they ship: the fluke finder finds the fluke in wide synthetic scenes (a style it was
never trained on, with the truth known), and the demo's known whales are ranked first by the app's pipeline.

These exercise the real resources/models files (no ../shared, no network); they are the regression guard for
a model swap, not a measure of accuracy (that is ``whale-train ablation``'s job).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from training.synthetic import make_whale, render_scene
from whalegui.core.embedder import Embedder
from whalegui.core.fluke import FlukeFinder, box_iou
from whalegui.core.gallery import Gallery
from whalegui.resources import demo_folder, resource_path


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(resource_path("models", "whale-vgg16.onnx"), device="cpu")


def test_the_fluke_finder_finds_flukes_in_unseen_wide_scenes() -> None:
    finder = FlukeFinder(resource_path("models", "fluke-finder.onnx"), device="cpu")
    ious = []
    for i in range(12):
        scene = render_scene(make_whale(500 + i), np.random.default_rng(i), width=640)
        fluke = finder.find(scene.image)
        ious.append(box_iou(fluke.box, scene.box) if fluke.found else 0.0)
    # Measured over 324 scenes of 1200-1600 px: mean IoU 0.48, found in 88 %; 0.51 on these 12. Boxing the
    # whole frame scores 0.21 on these 12 (the fluke is 30-90 % of the width and low in the frame).
    assert float(np.mean(ious)) > 0.4, ious


def test_every_known_demo_query_ranks_its_whale_first(embedder: Embedder, tmp_path: Path) -> None:
    demo = demo_folder()
    with Gallery.open(tmp_path / "g", embedder) as gallery:
        report = gallery.import_catalogue(demo / "catalogue.csv", demo / "photos")
        assert report.imported == 28 and not report.errors
        # the demo's invented sightings: every photo in one, most with a position, some shared by two photos
        seen = gallery.sightings()
        assert sum(len(r.photo_ids) for r in seen) == 28 and 20 <= len(seen) < 28
        assert sum(r.sighting.position is not None for r in seen) >= 18
        assert all(r.sighting.when and r.sighting.place and r.sighting.observer for r in seen)
        answers = list(csv.DictReader((demo / "answers.csv").open(encoding="utf-8")))
        known = [r for r in answers if r["Id"] != "new_whale"]
        assert len(known) == 4
        for row in known:
            ident = gallery.identify(demo / "queries" / row["Image"])
            assert ident.candidates[0].whale_id == row["Id"], (row, ident.candidates[:3])
            assert ident.meta is not None and ident.meta.taken_at is not None and ident.meta.gps is not None
            assert ident.fluke is not None and ident.fluke.found
        for row in answers:
            if row["Id"] == "new_whale":
                assert gallery.identify(demo / "queries" / row["Image"]).new_whale, row
