"""Training package: losses, mining, data, cached vs full training, export parity, and end to end.

Tiny images (32x96), a VGG16 with random weights, a dozen synthetic whales: seconds, not minutes.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")

from training.augment import augment  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.data import (  # noqa: E402
    encode_labels,
    keep_min_photos,
    read_catalogue,
    split_by_whale,
    with_unlabelled,
)
from training.losses import (  # noqa: E402
    batch_hard_pairs,
    batch_hard_triplet_loss,
    semi_hard_triplet_loss,
    triplet_loss,
)
from training.mining import PKBatches, RandomTriplets  # noqa: E402

TINY = TrainConfig(height=32, width=96, weights="none", embedding_dim=8, head_channels=8, epochs=1,
                   batch_size=8, whales_per_batch=4, views=2, min_photos=1, val_fraction=0.0, seed=0,
                   learning_rate=3e-3, dropout=0.0)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.synthetic import generate_dataset

    out = tmp_path_factory.mktemp("synth")
    generate_dataset(out, whales=10, train_per_whale=(2, 4), test_per_whale=1, unknown_whales=3, seed=5,
                     width_range=(120, 180))
    return out


# --- losses -------------------------------------------------------------------------------------------

def test_triplet_loss_matches_hand_computed_values() -> None:
    a = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    p = np.array([[0.6, 0.8], [1.0, 0.0]], np.float32)
    n = np.array([[0.0, 1.0], [0.6, 0.8]], np.float32)
    # d(a,p) = 0.16 + 0.64 = 0.8 and 0; d(a,n) = 2 and 0.8
    # margin 1.5: max(0.8 - 2 + 1.5, 0) = 0.3 ; max(0 - 0.8 + 1.5, 0) = 0.7 -> mean 0.5
    assert float(triplet_loss(a, p, n, 1.5)) == pytest.approx(0.5, abs=1e-6)
    # margin 0.2: max(-1.0, 0) = 0 ; max(-0.6, 0) = 0
    assert float(triplet_loss(a, p, n, 0.2)) == pytest.approx(0.0, abs=1e-7)


def test_batch_hard_picks_the_hardest_positive_and_negative() -> None:
    emb = np.array([[1, 0], [0.8, 0.6], [0, 1], [0.96, 0.28], [-1, 0], [0.6, 0.8]], np.float32)
    labels = np.array([0, 0, 0, 1, 1, 2])
    hp, hn = batch_hard_pairs(labels, emb)
    # anchor 0: positives 1 (d 0.4), 2 (d 2) -> hardest 2; negatives 3 (d 0.08), 4, 5 -> hardest 3
    assert hp[0] == 2 and hn[0] == 3
    # anchor 3: only positive is 4; nearest other-whale photo is 0
    assert hp[3] == 4 and hn[3] == 0
    assert hp[5] == -1  # whale 2 has no positive in the batch
    d = ((emb[:, None] - emb[None]) ** 2).sum(-1)
    expected = [max(d[i, hp[i]] - d[i, hn[i]] + 0.3, 0) for i in range(5)]
    got = float(batch_hard_triplet_loss(labels, emb, 0.3))
    assert got == pytest.approx(np.mean(expected), abs=1e-5)


def test_semi_hard_uses_the_nearest_negative_beyond_the_positive() -> None:
    emb = np.array([[1, 0], [0.8, 0.6], [0.96, 0.28], [0, 1]], np.float32)
    labels = np.array([0, 0, 1, 2])
    d = ((emb[:, None] - emb[None]) ** 2).sum(-1)
    # pair (0,1): d=0.4; negatives of 0: 2 (0.08, not beyond) and 3 (2.0) -> semi-hard is 3
    # pair (1,0): d=0.4; negatives of 1: 2 (d(1,2)=0.1), 3 (d(1,3)=0.4+0.4... ) computed below
    neg1 = [j for j in (2, 3) if d[1, j] > d[1, 0]]
    n1 = min(neg1, key=lambda j: d[1, j]) if neg1 else min((2, 3), key=lambda j: d[1, j])
    expected = np.mean([max(d[0, 1] - d[0, 3] + 0.5, 0), max(d[1, 0] - d[1, n1] + 0.5, 0)])
    assert float(semi_hard_triplet_loss(labels, emb, 0.5)) == pytest.approx(expected, abs=1e-5)


# --- mining -------------------------------------------------------------------------------------------

def test_random_sampling_never_pairs_a_whale_with_itself_as_negative() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 3, 3, 4])  # whales 2 and 4 have one photo each
    sampler = RandomTriplets(labels, views=3, seed=1)
    seen_negatives = set()
    for _ in range(30):
        triplets = sampler.epoch()
        assert [a[0] for a, _, _ in triplets] == list(range(len(labels)))  # the anchor scrolls through all
        for (a, va), (p, vp), (n, _) in triplets:
            assert labels[p] == labels[a]
            assert labels[n] != labels[a]
            if labels[a] in (2, 4):  # a single photo: its positive is another view of itself
                assert p == a and vp != va
            else:
                assert p != a
            seen_negatives.add(n)
    assert len(seen_negatives) == len(labels)  # new random draws: every photo serves as a negative


def test_pk_batches_hold_p_whales_with_k_samples_each() -> None:
    labels = np.array([0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 4])
    sampler = PKBatches(labels, views=4, seed=0, whales_per_batch=3, photos_per_whale=2)
    batches = sampler.epoch(5)
    assert len(batches) == 5
    for samples, labs in batches:
        assert len(samples) == 6 and len(set(labs)) == 3
        for (i, _), lab in zip(samples, labs, strict=True):
            assert labels[i] == lab
        by_whale: dict[int, list[tuple[int, int]]] = {}
        for s, lab in zip(samples, labs, strict=True):
            by_whale.setdefault(lab, []).append(s)
        for pair in by_whale.values():
            assert pair[0] != pair[1]  # a one-photo whale gets two different views


# --- data and augmentation -----------------------------------------------------------------------------

def test_split_is_by_individual_and_unlabelled_photos_are_their_own_whale(synth: Path) -> None:
    cat = read_catalogue(synth / "train.csv", synth / "train")
    train, val = split_by_whale(keep_min_photos(cat, 2), 0.3, seed=0)
    assert val.ids and not set(train.ids) & set(val.ids)
    extra = sorted((synth / "test").iterdir())[:3]
    more = with_unlabelled(train, extra)
    labels, names = encode_labels(more.ids)
    assert len(set(labels[-3:])) == 3 and len(names) == len(set(train.ids)) + 3


def test_augment_keeps_size_and_changes_pixels() -> None:
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 255, (40, 120, 3), dtype=np.uint8))
    out = augment(im, np.random.default_rng(1))
    assert out.size == im.size and out.mode == "RGB"
    assert np.abs(np.asarray(out, np.float32) - np.asarray(im, np.float32)).mean() > 1.0


# --- training --------------------------------------------------------------------------------------------

def _catalogue(synth: Path):  # type: ignore[no-untyped-def]
    cat = read_catalogue(synth / "train.csv", synth / "train")
    return cat, cat.subset([])


@pytest.mark.slow
def test_cached_and_full_training_follow_the_same_loss_trend(synth: Path, tmp_path: Path) -> None:
    from training.train import fit

    cat, empty = _catalogue(synth)
    cfg = replace(TINY, epochs=4, mining="random")
    cached = fit(cfg, cat, empty, tmp_path / "cached", verbose=0, tensorboard=False)
    full = fit(replace(cfg, cached=False), cat, empty, tmp_path / "full", verbose=0, tensorboard=False)
    lc, lf = cached.history["loss"], full.history["loss"]
    assert lc[-1] < lc[0] and lf[-1] < lf[0]
    assert lc[0] == pytest.approx(lf[0], rel=0.5)  # same model, same margin: the same starting loss
    assert lc[-1] == pytest.approx(lf[-1], rel=0.6, abs=0.05)
    assert (tmp_path / "cached" / "embedder.weights.h5").is_file()


@pytest.mark.slow
def test_export_parity_and_the_app_embedder_reads_the_card(synth: Path, tmp_path: Path) -> None:
    from training.export import export_onnx
    from training.model import build_embedder
    from whalegui.core.embedder import Embedder
    from whalegui.core.images import load_model_input, load_photo

    keras_model = build_embedder(TINY)
    photos = sorted((synth / "train").iterdir())[:3]
    card = export_onnx(keras_model, TINY, tmp_path / "m.onnx", new_whale_threshold=0.4, real_photos=photos)
    emb = Embedder(tmp_path / "m.onnx", device="cpu")
    assert emb.card == card and card.preprocessing == TINY.preprocessing()
    assert card.training["export"]["parity"]["fp32"]["real"]["max_abs_diff"] < 1e-4
    batch = np.stack([load_model_input(p, card.preprocessing) for p in photos])
    np.testing.assert_allclose(emb.embed(batch), keras_model(batch).numpy(), atol=1e-4)
    via_images = emb.embed_images([load_photo(p).image for p in photos])
    np.testing.assert_allclose(via_images, emb.embed(batch), atol=1e-6)  # one preprocessing for both


@pytest.mark.slow
def test_end_to_end_synth_fit_export_fp16_evaluate_beats_all_new_whale(synth: Path, tmp_path: Path) -> None:
    from training.__main__ import main

    run, model, report = tmp_path / "run", tmp_path / "model.onnx", tmp_path / "report"
    rc = main(["fit", "--csv", str(synth / "train.csv"), "--images", str(synth / "train"), "--out", str(run),
               "--weights", "none", "--image-size", "32x96", "--epochs", "3", "--views", "2",
               "--embedding-dim", "16", "--batch-size", "8", "--whales-per-batch", "4", "--min-photos", "1",
               "--val-fraction", "0", "--learning-rate", "0.003"])
    assert rc == 0 and (run / "logs").is_dir()  # TensorBoard logs
    real = sorted((synth / "test").iterdir())[:2]
    assert main(["export", "--run", str(run), "--out", str(model), "--compress", "fp16",
                 "--real", *map(str, real)]) == 0
    card = json.loads(model.with_suffix(".json").read_text())
    parity = card["training"]["export"]["parity"]
    assert parity["fp32"]["random"]["max_abs_diff"] < 1e-4 and parity["fp32"]["real"]["max_abs_diff"] < 1e-4
    assert parity["fp16_weights"]["real"]["min_cosine"] > 0.999
    assert model.stat().st_size < 0.6 * 4 * 14_714_688  # float16: about half VGG16's float32 weights
    rc = main(["evaluate", "--model", str(model), "--gallery-csv", str(synth / "train.csv"),
               "--query-csv", str(synth / "test_labels.csv"), "--images", str(synth / "train"),
               "--query-images", str(synth / "test"), "--report", str(report)])
    assert rc == 0
    summary = json.loads((report / "summary.json").read_text())
    assert summary["map5_at_best_threshold"] > summary["map5_all_new_whale"]
    assert (report / "distances.png").stat().st_size > 1000
    listing = (report / "queries.txt").read_text()
    assert "distance" in listing and ("Correct" in listing or "Incorrect" in listing)


def test_fit_reports_a_bad_catalogue_as_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    from training.__main__ import main

    (tmp_path / "img").mkdir()
    with open(tmp_path / "c.csv", "w", newline="") as f:
        csv.writer(f).writerows([["Image", "Id"], ["nope.jpg", "w_1"]])
    rc = main(["fit", "--csv", str(tmp_path / "c.csv"), "--images", str(tmp_path / "img"),
               "--out", str(tmp_path / "run"), "--weights", "none"])
    assert rc == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("whale-train fit: error: ") and "nope.jpg: row 2: file not found" in last
