"""Verification fixes a ranking the embedding gets wrong: a tiny embedder that sees only a photo's colour
cast ranks first the whale photographed under the query's light; local features (real SIFT, RANSAC) find the
query's marks on the right whale, and the fused distance puts it first. Real ONNX Runtime, SQLite, hnswlib,
JPEGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.core.marks import shot
from tests.models import make_tint_model
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery
from whalegui.core.model_card import VerificationSettings

WARM, MAGENTA, COOL, GREEN = (25, 0, -25), (25, -25, 0), (-25, 0, 25), (-20, 20, 0)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Embedder, Embedder]:
    """The same ONNX model (so the same gallery fingerprint) with and without verification in its card."""
    root = tmp_path_factory.mktemp("tint")
    alone = Embedder(make_tint_model(root / "alone"), device="cpu")
    verified = Embedder(make_tint_model(root / "verified", verification=VerificationSettings(0.3, 3)),
                        device="cpu")
    assert alone.fingerprint == verified.fingerprint
    return alone, verified


@pytest.fixture(scope="module")
def gallery_folder(models: tuple[Embedder, Embedder], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("g")
    folder = root / "gallery"
    with Gallery.open(folder, models[0]) as g:
        # Whale "a" was photographed under magenta light, "b" under the warm light of the query.
        for whale_id, seed, cast in (("a", 1, MAGENTA), ("b", 2, WARM), ("c", 3, COOL), ("d", 4, GREEN)):
            g.enroll([shot(root / f"{whale_id}.jpg", seed, cast)[0]], whale_id=whale_id)
    return folder


@pytest.fixture(scope="module")
def query(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """Whale "a" again, turned and nearer, under warm light."""
    return shot(tmp_path_factory.mktemp("q") / "query.jpg", 1, WARM, angle=8.0, scale=1.2)


def test_the_embedding_alone_ranks_the_wrong_whale_first(models: tuple[Embedder, Embedder],
                                                         gallery_folder: Path,
                                                         query: tuple[Path, np.ndarray]) -> None:
    with Gallery.open(gallery_folder, models[0], readonly=True) as g:
        ident = g.identify(query[0], top=4)
    assert [c.whale_id for c in ident.candidates][:2] == ["b", "a"]
    assert all(c.inliers is None for c in ident.candidates)  # nothing was verified
    assert all(c.distance == c.embedding_distance for c in ident.candidates)


def test_verification_puts_the_right_whale_first(models: tuple[Embedder, Embedder], gallery_folder: Path,
                                                 query: tuple[Path, np.ndarray]) -> None:
    with Gallery.open(gallery_folder, models[1], readonly=True) as g:
        ident = g.identify(query[0], top=4)
    first, *rest = ident.candidates
    assert first.whale_id == "a"
    b = next(c for c in rest if c.whale_id == "b")
    assert first.embedding_distance > b.embedding_distance  # the embedding still prefers b
    assert first.inliers is not None and b.inliers is not None and first.inliers > 3 * b.inliers
    assert first.distance < b.distance <= b.embedding_distance
    assert [c.distance for c in ident.candidates] == sorted(c.distance for c in ident.candidates)
    verified = [c for c in ident.candidates if c.inliers is not None]
    assert len(verified) == 3  # the card's candidates; the fourth whale keeps its embedding distance
    assert ident.features is not None and len(ident.features) > 50
    assert not ident.new_whale and "verify" in ident.timings


def test_match_points_map_the_query_s_marks_onto_the_candidate_s(models: tuple[Embedder, Embedder],
                                                                 gallery_folder: Path,
                                                                 query: tuple[Path, np.ndarray]) -> None:
    path, to_query = query
    with Gallery.open(gallery_folder, models[1], readonly=True) as g:
        ident = g.identify(path)
        photo = g.photos("a")[0]
        match = g.match_points(ident, photo.photo_id)
        assert match.inliers == ident.candidates[0].inliers
        wrong = g.match_points(ident, g.photos("c")[0].photo_id)
    assert match.pairs.shape == (match.inliers, 4)
    # Candidate "a" was shot unmoved on a 30 px border: its marks are at marks + 30; the query's at m(marks).
    original = match.pairs[:, 2:] - 30.0
    predicted = original @ to_query[:, :2].T + to_query[:, 2]
    error = np.linalg.norm(predicted - match.pairs[:, :2], axis=1)
    assert np.median(error) < 3.0
    assert wrong.inliers < match.inliers / 3
