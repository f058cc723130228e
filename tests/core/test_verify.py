"""Local-feature verification: stored bytes round-trip, a transformed copy of a fluke verifies with pairs that
follow the transform, a different fluke does not, and the fused distance orders them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.core.marks import marks, similar
from whalegui.core.verify import (
    INLIER_FLOOR,
    LocalFeatures,
    extract_features,
    fused_distance,
    verify,
)


def test_blob_round_trip_and_damage() -> None:
    feats = extract_features(marks(1))
    assert len(feats) > 50
    back = LocalFeatures.from_blob(feats.to_blob())
    np.testing.assert_array_equal(back.points, feats.points)
    np.testing.assert_array_equal(back.descriptors, feats.descriptors)
    assert back.scale == pytest.approx(feats.scale)
    blob = feats.to_blob()
    for bad in (b"", blob[:-1], b"XXXX" + blob[4:], blob + b"\0"):
        with pytest.raises(ValueError):
            LocalFeatures.from_blob(bad)


def test_a_rotated_scaled_copy_verifies_and_its_pairs_follow_the_transform() -> None:
    original = marks(2)
    moved, m = similar(original, angle=12.0, scale=1.4)
    result = verify(extract_features(original), extract_features(moved))
    assert result.inliers >= 20
    assert result.pairs.shape == (result.inliers, 4)
    predicted = result.pairs[:, :2] @ m[:, :2].T + m[:, 2]
    error = np.linalg.norm(predicted - result.pairs[:, 2:], axis=1)
    assert np.median(error) < 3.0  # pixels of the moved photo: the pairs are the same marks


def test_a_different_fluke_does_not_verify() -> None:
    a, b = extract_features(marks(3)), extract_features(marks(4))
    assert verify(a, b).inliers < INLIER_FLOOR + 4


def test_features_inside_a_box_are_in_photo_coordinates() -> None:
    fluke = marks(5, (300, 100))
    frame = Image.new("RGB", (900, 500), (70, 90, 120))
    frame.paste(fluke, (400, 250))
    feats = extract_features(frame, (400, 250, 700, 350))
    assert len(feats) > 20
    assert feats.points[:, 0].min() >= 399 and feats.points[:, 0].max() <= 701
    assert feats.points[:, 1].min() >= 249 and feats.points[:, 1].max() <= 351
    assert feats.scale == pytest.approx(300)
    same = verify(feats, extract_features(fluke))
    assert same.inliers >= 20
    np.testing.assert_allclose(same.pairs[:, :2] - [400, 250], same.pairs[:, 2:], atol=2.0)


def test_a_box_too_small_or_blank_gives_no_features() -> None:
    assert len(extract_features(marks(6), (10, 10, 14, 14))) == 0
    assert len(extract_features(Image.new("RGB", (200, 100), (50, 50, 50)))) == 0
    assert verify(extract_features(Image.new("RGB", (200, 100))), extract_features(marks(7))).inliers == 0


def test_fused_distance_rewards_inliers_only_beyond_chance() -> None:
    assert fused_distance(0.5, 0, 0.1) == 0.5
    assert fused_distance(0.5, INLIER_FLOOR, 0.1) == 0.5
    assert fused_distance(0.5, 30, 0.1) < fused_distance(0.5, 10, 0.1) < 0.5
    assert fused_distance(0.5, 30, 0.0) == 0.5
