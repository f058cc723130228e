"""The field embedder: GeM top, training on cached features, block4_pool views and their cache, and the
whole embedder exported to ONNX with the card the app's Embedder reads. Tiny: 32x32, random VGG16."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")

from training.field_augment import FieldAugment  # noqa: E402
from training.field_embedder import (  # noqa: E402
    FIELD_CREDITS,
    FieldEmbedderConfig,
    GeM,
    build_field_embedder,
    build_top,
    embed_features,
    export_field_embedder,
    train_top,
)
from training.field_features import (  # noqa: E402
    FRAME_AUG_SEED,
    block4_extractor,
    block4_features,
    cache_path,
    floor_descriptors,
    fluke_views,
    frame_views,
)
from whalegui.core.embedder import Embedder  # noqa: E402
from whalegui.core.images import load_model_input, to_model_input  # noqa: E402

TINY = FieldEmbedderConfig(size=32, hidden=16, dim=8, steps=30, whales_per_batch=4, per_whale=2)


def _photos(folder: Path, n: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        a = np.random.default_rng(i).integers(0, 256, (40, 60, 3)).astype(np.uint8)
        path = folder / f"p{i}.jpg"
        Image.fromarray(a).save(path, quality=90)
        paths.append(path)
    return paths


def test_gem_with_p_one_is_average_pooling_and_the_top_ends_unit_norm() -> None:
    x = np.random.default_rng(0).uniform(0.1, 4.0, (3, 2, 2, 16)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(GeM(p=1.0)(x)), x.mean(axis=(1, 2)), rtol=1e-5)
    assert (np.asarray(GeM(p=8.0)(x)) > x.mean(axis=(1, 2))).all()  # towards the max
    top = build_top((2, 2, 16), TINY)
    emb = embed_features(top, x)
    assert emb.shape == (3, TINY.dim)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_config_refuses_what_the_design_cannot_do() -> None:
    with pytest.raises(ValueError, match="pool"):
        FieldEmbedderConfig(pool="flat")
    with pytest.raises(ValueError, match="loss"):
        FieldEmbedderConfig(loss="random")
    with pytest.raises(ValueError, match="multiple of 16"):
        FieldEmbedderConfig(size=40)


def _similarity_gap(top: Any, feats: np.ndarray, labels: np.ndarray) -> float:
    """Mean cosine similarity of same-class pairs minus that of other-class pairs."""
    emb = embed_features(top, feats)
    sim = emb @ emb.T
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    return float(sim[same].mean() - sim[labels[:, None] != labels[None, :]].mean())


def test_training_pulls_same_class_features_together() -> None:
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 2, (8, 1, 1, 16))
    labels = np.repeat(np.arange(8), 3)
    feats = (centres[labels][:, None] + rng.uniform(0, 1, (24, 2, 2, 2, 16))).astype(np.float16)
    unseen = (centres[labels] + rng.uniform(0, 1, (24, 2, 2, 16))).astype(np.float16)
    tf.keras.utils.set_random_seed(TINY.seed)
    untrained = build_top((2, 2, 16), TINY)  # the same start as train_top's
    top, losses = train_top(feats, labels, TINY)
    assert len(losses) == TINY.steps and np.isfinite(losses).all()
    assert _similarity_gap(top, unseen, labels) > 1.3 * _similarity_gap(untrained, unseen, labels)


def test_views_are_seeded_by_photo_and_the_cache_is_reused(tmp_path: Path) -> None:
    paths = _photos(tmp_path / "photos")
    prep = TINY.preprocessing()
    aug = FieldAugment()
    views = frame_views(paths, prep, aug)
    again = frame_views(list(reversed(paths)), prep, aug)  # the augmentation follows the file, not the index
    np.testing.assert_array_equal(views.views(0, [0])[0], again.views(3, [0])[0])
    with Image.open(paths[0]) as im:
        expected = aug(im.convert("RGB"), np.random.default_rng((FRAME_AUG_SEED, zlib.crc32(b"p0.jpg"), 1)))
    np.testing.assert_array_equal(views.views(0, [0])[0], to_model_input(expected, prep))
    flukes = fluke_views(paths, prep, aug)
    v0, v1, v2 = flukes.views(1, [0, 1, 2])
    assert not np.array_equal(v0, v1) and not np.array_equal(v1, v2)

    extractor = block4_extractor(TINY.size, "none")
    feats = block4_features(extractor, flukes, 3, weights="w.h5", work=tmp_path / "cache", label="flukes")
    assert feats.shape == (4, 3, 2, 2, 512) and feats.dtype == np.float16
    assert cache_path(tmp_path / "cache", "flukes", flukes, 3, "w.h5").is_file()
    other = block4_extractor(TINY.size, "none")  # other random weights: a recomputation would differ
    np.testing.assert_array_equal(
        block4_features(other, flukes, 3, weights="w.h5", work=tmp_path / "cache", label="flukes"), feats)
    two_views = block4_features(other, flukes, 2, weights="w.h5", work=tmp_path / "cache", label="flukes")
    assert not np.array_equal(two_views, feats[:, :2])  # another key: computed anew
    assert floor_descriptors(feats[:, 0], "none").shape == (4, 512)


@pytest.mark.slow
def test_the_whole_embedder_exports_with_parity_and_the_app_reads_its_card(tmp_path: Path) -> None:
    top = build_top((2, 2, 512), TINY)
    embedder = build_field_embedder(top, TINY, "none")
    photos = _photos(tmp_path / "photos", 3)
    out = tmp_path / "models" / "whale-embedder.onnx"
    card = export_field_embedder(embedder, out, TINY, new_whale_threshold=0.25, name="whale-embedder",
                                 training={"trained_on": "nothing"}, metrics={"test": {"top1": 0.0}},
                                 real_photos=tuple(photos))
    assert card.name == "whale-embedder" and card.embedding_dim == TINY.dim
    assert card.credits == FIELD_CREDITS and card.new_whale_threshold == 0.25
    assert card.training["design"] == TINY.to_dict() and card.training["trained_on"] == "nothing"
    parity = card.training["export"]["parity"]["fp32"]
    assert parity["real"]["n"] == 3 and parity["real"]["max_abs_diff"] < 1e-4

    app = Embedder(out, device="cpu")
    p = app.card.preprocessing
    assert (p.height, p.width, p.resize, p.channel_order) == (32, 32, "squash", "BGR")
    assert p.mean == pytest.approx((103.939, 116.779, 123.68))
    batch = np.stack([load_model_input(q, p) for q in photos])
    got = app.embed(batch)
    np.testing.assert_allclose(got, np.asarray(embedder(batch, training=False)), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # training's cached path (block4_pool maps, then the top) computes what the exported model does
    extractor = tf.keras.Model(embedder.input, embedder.get_layer("block4_pool").output)
    cached = block4_features(extractor, frame_views(photos, p), 1, weights="none")[:, 0]
    np.testing.assert_allclose(embed_features(top, cached), got, atol=2e-2)  # float16 maps
