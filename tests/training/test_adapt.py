"""``whale-train adapt``: the top of a real (tiny, tf2onnx-exported) embedder interpreted in TensorFlow
and written back into its graph, adapting on a tiny synthetic gallery (better on held-out whales, or
refused with both figures and nothing written), and ``whalegui reembed`` with the adapted model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")

from tests.models import make_detector  # noqa: E402
from training.__main__ import main as whale_train  # noqa: E402
from training.adapt import AdaptConfig, AdaptRefused, adapt, ranking_scores  # noqa: E402
from training.onnx_top import OnnxTop, split_embedder, write_adapted  # noqa: E402
from whalegui.cli import main as whalegui  # noqa: E402
from whalegui.core.embedder import Embedder  # noqa: E402
from whalegui.core.errors import ModelError  # noqa: E402
from whalegui.core.gallery import Gallery  # noqa: E402
from whalegui.core.model_card import ModelCard, Preprocessing, card_path_for  # noqa: E402

PREP = Preprocessing(32, 64, "squash", "RGB", (127.5, 127.5, 127.5), (64.0, 64.0, 64.0))


def _export(model: Any, out: Path) -> Path:
    from training.export import export_model

    export_model(model, out, PREP, embedding_dim=int(model.output.shape[-1]), backbone="tiny-test",
                 new_whale_threshold=0.3)
    return out


def _trained_looking(top: Any, seed: int) -> None:
    """Non-zero biases and BatchNorm statistics, as a trained top has (tf2onnx folds zeros away)."""
    rng = np.random.default_rng(seed)
    for layer in top.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([w + rng.normal(0, 0.05, w.shape).astype(np.float32) for w in weights])


def _gem_embedder(out: Path) -> Path:
    """The field embedder's design in small: conv -> max pool (the backbone), GeM top (BN, dense, L2)."""
    import keras

    from training.field_embedder import FieldEmbedderConfig, build_top

    keras.utils.set_random_seed(1)
    image = keras.Input((32, 64, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(image)
    x = keras.layers.MaxPooling2D(4, name="block4_pool")(x)
    top = build_top((8, 16, 8), FieldEmbedderConfig(size=32, hidden=16, dim=8))
    _trained_looking(top, 1)
    return _export(keras.Model(image, top(x)), out)


def _cell_embedder(out: Path) -> Path:
    """A backbone that sees the photo in 4x4-pixel cells (a fixed random projection of them) and an
    average-pooled field top: weak on whales it was never trained for, so adapting has room to help."""
    import keras

    from training.field_embedder import FieldEmbedderConfig, build_top

    keras.utils.set_random_seed(0)
    image = keras.Input((32, 64, 3), name="image")
    x = keras.layers.AveragePooling2D(4)(image)
    x = keras.layers.Conv2D(64, (8, 16), name="cells")(x)
    top = build_top((1, 1, 64), FieldEmbedderConfig(size=32, hidden=32, dim=16, pool="gap"))
    _trained_looking(top, 0)
    return _export(keras.Model(image, top(x)), out)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A base model naming a fluke finder, and a gallery of 30 synthetic whales (3-5 photos each) it made."""
    from training.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("adapt")
    base = _cell_embedder(root / "base" / "base.onnx")
    make_detector(root / "base", [0.05, 0.05, 0.95, 0.95], [0.1, 0.5, 0.9, 0.5], 0.9, name="finder")
    card = json.loads(card_path_for(base).read_text())
    card["fluke_finder"] = {"model": "finder", "margin": 0.05, "crop_below": 1.0}
    card_path_for(base).write_text(json.dumps(card))
    synth = generate_dataset(root / "synth", whales=30, train_per_whale=(3, 5), test_per_whale=0, seed=3,
                             width_range=(64, 96))
    with Gallery.open(root / "gallery", Embedder(base, device="cpu")) as gallery:
        report = gallery.import_catalogue(synth.train_csv, synth.out / "train")
    assert report.imported > 90 and not report.errors
    return {"root": root, "base": base, "gallery": root / "gallery"}


def test_the_top_in_tensorflow_is_the_onnx_top_and_written_weights_run_in_onnx_runtime(tmp_path: Path,
                                                                                       ) -> None:
    path = _gem_embedder(tmp_path / "gem.onnx")
    split = split_embedder(path)
    # the backbone ends with the top's GeM pooling (its exponent is not trained): features are vectors
    assert {"MaxPool", "Pow", "ReduceMean"} <= {n.op_type for n in split.backbone.graph.node}
    assert {n.op_type for n in split.top} >= {"Mul", "MatMul", "Relu"}
    assert len(split.trainable) >= 5  # BN scale and shift, both dense kernels and biases
    x = np.random.default_rng(0).uniform(-2, 2, (6, 32, 64, 3)).astype(np.float32)
    full = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    backbone = ort.InferenceSession(split.backbone.SerializeToString(), providers=["CPUExecutionProvider"])
    feats = backbone.run(None, {"image": x})[0]
    np.testing.assert_allclose(OnnxTop(split).embed(feats), full.run(None, {"image": x})[0], atol=1e-5)
    # other weights written back: ONNX Runtime computes what the TensorFlow top does with them
    rng = np.random.default_rng(1)
    changed = {k: v + rng.normal(0, 0.1, v.shape).astype(np.float32)
               for k, v in split.initial_weights().items()}
    write_adapted(split, changed, tmp_path / "changed.onnx")
    out = ort.InferenceSession(str(tmp_path / "changed.onnx"), providers=["CPUExecutionProvider"])
    got = out.run(None, {"image": x})[0]
    np.testing.assert_allclose(got, OnnxTop(split, changed).embed(feats), atol=1e-5)
    assert np.abs(got - full.run(None, {"image": x})[0]).max() > 1e-2


def test_a_model_without_a_top_is_refused(tmp_path: Path) -> None:
    from tests.models import make_tint_model

    with pytest.raises(ModelError, match=r"no trainable top|no backbone|no dense"):
        split_embedder(make_tint_model(tmp_path))


def test_ranking_scores_leave_the_query_out() -> None:
    emb = np.eye(4, dtype=np.float32)[[0, 0, 1, 2]]  # photos 0 and 1 identical (whale a)
    scores = ranking_scores(emb, ["a", "a", "b", "c"], [0, 1])
    assert scores == {"top1": 1.0, "map5": 1.0, "queries": 2}
    swapped = ranking_scores(emb, ["a", "b", "a", "c"], [0])  # photo 0's twin is whale b's
    assert swapped["top1"] == 0.0 and swapped["map5"] == 0.5


def test_adapt_beats_the_base_on_held_out_whales_and_reembed_keeps_every_photo(
        setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = setup["root"] / "adapted" / "field.onnx"
    rc = whale_train(["adapt", "--gallery", str(setup["gallery"]), "--base", str(setup["base"]),
                      "--out", str(out), "--epochs", "30", "--holdout", "0.3", "--learning-rate", "1e-3",
                      "--cache", str(setup["root"] / "cache")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "features" in captured.err and "epoch 30/30" in captured.err
    card = ModelCard.load(card_path_for(out))
    record = card.training["adapted"]
    held = record["held_out"]
    assert held["adapted"]["map5"] > held["base"]["map5"]
    assert held["whales"] == 9 and held["photos"] >= 27  # round(0.3 * 30) whales of 3+ photos
    assert record["base"]["name"] == "base" and record["used"]["photos"] + held["photos"] > 90
    assert record["parity_adapted_max_abs_diff"] < 1e-4 and record["gallery"]["id"]
    assert card.name == "field" and card.fluke_finder is not None
    assert (out.parent / "finder.onnx").is_file()  # the fluke finder travels with the model
    assert not list(out.parent.glob("*tmp*"))
    # a rerun reuses every cached feature
    cached = sorted((setup["root"] / "cache").rglob("*.npy"))
    assert len(cached) > 90

    with Gallery.open(setup["gallery"], readonly=True) as gallery:
        before = {(p.sha256, p.whale_id) for p in gallery.photos()}
    assert whalegui(["reembed", "--gallery", str(setup["gallery"]), "--model", str(out), "--cpu"]) == 0
    adapted = Embedder(out, device="cpu")
    with Gallery.open(setup["gallery"], adapted) as gallery:
        assert {(p.sha256, p.whale_id) for p in gallery.photos()} == before
        assert gallery.model_fingerprint == adapted.fingerprint
        photo = gallery.photos()[0]
        ident = gallery.identify(photo.path)
        assert ident.duplicate_of is not None and ident.candidates[0].whale_id == photo.whale_id


def test_adapt_refuses_a_model_not_better_than_its_base_and_writes_nothing(
        setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = setup["root"] / "refused" / "same.onnx"
    # no training at all: the "adapted" model is the base, which is not better than itself
    rc = whale_train(["adapt", "--gallery", str(setup["gallery"]), "--base", str(setup["base"]),
                      "--out", str(out), "--epochs", "0", "--cache", str(setup["root"] / "cache")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "not better than the base" in err and err.count("MAP@5") == 2
    assert not out.exists() and not card_path_for(out).exists()
    # a real improvement that is smaller than the gain asked for is refused too, with both figures
    with pytest.raises(AdaptRefused) as refused:
        adapt(setup["gallery"], out, setup["base"], AdaptConfig(epochs=5, holdout=0.3, min_gain=1.0),
              cache=setup["root"] / "cache")
    assert refused.value.base["map5"] < 1.0 and "by at least 1" in str(refused.value)
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_kept_review_pairs_become_hard_triplets_labelled_by_the_photos_current_whales(tmp_path: Path) -> None:
    import csv

    from tests.models import make_tiny_model
    from training.adapt import hard_triplets
    from training.adapt_data import read_gallery
    from training.synthetic import generate_dataset
    from whalegui.core.reviews import Review

    synth = generate_dataset(tmp_path / "synth", whales=3, train_per_whale=(3, 3), test_per_whale=0, seed=5,
                             width_range=(64, 96))
    with open(synth.train_csv, newline="") as fh:
        rows = [(synth.out / "train" / r["Image"], r["Id"]) for r in csv.DictReader(fh)]
    embedder = Embedder(make_tiny_model(tmp_path / "model"), device="cpu")
    with Gallery.open(tmp_path / "gallery", embedder) as gallery:
        for path, whale in rows:  # a season: each photo identified, then filed as its label says
            ident = gallery.identify(path)
            if gallery.has_whale(whale):
                gallery.add_photos(whale, [path], identified=[ident], reviews=[Review(ident)])
            else:
                gallery.enroll([path], whale, identified=[ident], reviews=[Review(ident)])
        pairs = gallery.review_pairs()
        gallery.set_pair_keep(pairs[-1].pair_id, False)  # the researcher keeps one out of training
    data = read_gallery(tmp_path / "gallery")
    assert len(data.pairs) == len(pairs) - 1 > 0
    assert all(same == (data.whales[q] == data.whales[c]) for q, c, same in data.pairs)
    assert any(not same for *_, same in data.pairs)
    triplets = hard_triplets(data, set(range(len(data.photos))), seed=0)
    assert triplets and all(data.whales[a] == data.whales[p] != data.whales[n] for a, p, n in triplets)
    # a held-out photo takes no part in a training triplet
    some = data.pairs[0][0]
    assert all(some not in t for t in hard_triplets(data, set(range(len(data.photos))) - {some}, seed=0))

    # a photo filed under another whale afterwards: its pairs are labelled by its current whale
    q, c, _ = next(p for p in data.pairs if not p[2])
    with Gallery.open(tmp_path / "gallery", embedder) as gallery:
        gallery.move_photo(data.photos[q].photo_id, data.whales[c])
    moved = read_gallery(tmp_path / "gallery")
    assert (q, c, True) in moved.pairs
