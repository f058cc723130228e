"""The synthetic fluke generator: determinism, the Kaggle format, long tails, identity and the CLI."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.models import make_tiny_model
from training.synthetic import (
    SyntheticSet,
    generate_dataset,
    long_tail_counts,
    make_whale,
    render_photo,
)
from whalegui.core.embedder import Embedder
from whalegui.core.images import load_photo

SMALL = (160, 240)


def _rows(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        assert next(reader) == ["Image", "Id"]
        return [(r[0], r[1]) for r in reader]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSet:
    out = tmp_path_factory.mktemp("synth")
    return generate_dataset(out, whales=8, train_per_whale=(1, 4), test_per_whale=1, unknown_whales=3,
                            seed=5, width_range=SMALL)


def test_same_seed_gives_the_same_bytes(small_set: SyntheticSet, tmp_path: Path) -> None:
    again = generate_dataset(tmp_path / "again", whales=8, train_per_whale=(1, 4), test_per_whale=1,
                             unknown_whales=3, seed=5, width_range=SMALL)
    assert _digest(again.out) == _digest(small_set.out)
    other = generate_dataset(tmp_path / "other", whales=3, seed=6, width_range=SMALL)
    assert not {w for _, w in _rows(other.train_csv)} & {w for _, w in _rows(small_set.train_csv)}


def test_kaggle_format_and_counts(small_set: SyntheticSet) -> None:
    train = _rows(small_set.train_csv)
    test = _rows(small_set.test_labels_csv)
    out = small_set.out
    assert sorted(p.name for p in (out / "train").iterdir()) == sorted(name for name, _ in train)
    assert sorted(p.name for p in (out / "test").iterdir()) == sorted(name for name, _ in test)
    assert not {name for name, _ in train} & {name for name, _ in test}
    per_whale = Counter(whale for _, whale in train)
    assert len(per_whale) == 8
    assert all(1 <= n <= 4 for n in per_whale.values())
    assert all(w.startswith("w_") and len(w) == 9 and int(w[2:], 16) >= 0 for w in per_whale)
    # One test photo per known whale (never new_whale) and one per unknown whale (always new_whale).
    test_ids = Counter(whale for _, whale in test)
    assert test_ids["new_whale"] == 3
    assert {w for w in test_ids if w != "new_whale"} == set(per_whale)
    assert small_set.counts == {"whales": 8, "unknown_whales": 3, "train_photos": len(train),
                                "test_photos": 11, "test_new_whale": 3}


def test_photos_decode_with_the_apps_loader(small_set: SyntheticSet) -> None:
    paths = sorted((small_set.out / "train").glob("*.jpg")) + sorted((small_set.out / "test").glob("*.jpg"))
    sizes = []
    for path in paths:
        photo = load_photo(path)
        assert photo.image.mode == "RGB"
        w, h = photo.image.size
        assert SMALL[0] <= w <= SMALL[1]
        assert 2.4 <= w / h <= 4.2
        sizes.append(w)
    assert len(set(sizes)) > 3  # sizes vary


def test_photo_counts_have_a_long_tail() -> None:
    counts = long_tail_counts(np.random.default_rng(0), 2000, 1, 10)
    hist = np.bincount(counts, minlength=11)[1:]
    assert counts.min() == 1 and counts.max() == 10
    assert (np.diff(hist[:5]) < 0).all()  # fewer whales with each extra photo
    assert hist[-1] < hist[0] / 10
    assert hist[:2].sum() > 0.45 * len(counts)  # many whales seen once or twice


def test_render_varies_nuisance_and_size() -> None:
    whale = make_whale(3)
    a = render_photo(whale, np.random.default_rng(1), width=300)
    b = render_photo(whale, np.random.default_rng(2), width=300)
    assert a.mode == b.mode == "RGB" and a.width == b.width == 300
    assert a.tobytes() != b.tobytes()
    grey = render_photo(whale, np.random.default_rng(1), width=300, grayscale=True, aspect=3.0)
    assert grey.size == (300, 100)
    arr = np.asarray(grey, np.int16)
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()
    again = render_photo(make_whale(3), np.random.default_rng(1), width=300)
    assert again.tobytes() == a.tobytes()


def test_whales_differ_in_identity() -> None:
    a, b = make_whale(1), make_whale(2)
    assert a.whale_id != b.whale_id
    ta, tb = (np.asarray(w.texture(), np.float32) for w in (a, b))
    assert np.abs(ta - tb).mean() > 10  # pattern and silhouette differ


def _photos(n_whales: int, per_whale: int, seed: int) -> tuple[list[Image.Image], np.ndarray]:
    images, labels = [], []
    for i in range(n_whales):
        whale = make_whale(np.random.default_rng([seed, i]))
        for j in range(per_whale):
            images.append(render_photo(whale, np.random.default_rng([seed, i, j]), width=256))
            labels.append(i)
    return images, np.array(labels)


def _same_minus_different(vectors: np.ndarray, labels: np.ndarray) -> float:
    sim = vectors @ vectors.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    return float(sim[same & off_diagonal].mean() - sim[~same].mean())


def test_same_whale_photos_are_more_alike_than_different_whales(tmp_path: Path) -> None:
    images, labels = _photos(6, 4, seed=11)
    # A plain descriptor: downsampled grey pixels, standardised per photo.
    grey = np.stack([np.asarray(im.convert("L").resize((48, 16), Image.Resampling.BOX), np.float32).ravel()
                     for im in images])
    grey = (grey - grey.mean(axis=1, keepdims=True)) / grey.std(axis=1, keepdims=True)
    grey /= np.linalg.norm(grey, axis=1, keepdims=True)
    assert _same_minus_different(grey, labels) > 0.15
    # The tiny real ONNX model used across the tests, through the app's embedder.
    embedder = Embedder(make_tiny_model(tmp_path, height=32, width=96, dim=32), device="cpu")
    vectors = embedder.embed_images(images)
    assert _same_minus_different(vectors, labels) > 0.08


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.__main__ import main

    out = tmp_path / "set"
    rc = main(["synth", "--out", str(out), "--whales", "4", "--train-per-whale", "2-3",
               "--test-per-whale", "2", "--unknown-whales", "1", "--seed", "3", "--width", "160-200"])
    assert rc == 0
    captured = capsys.readouterr()
    assert "synth: " in captured.err  # progress line
    train, test = _rows(out / "train.csv"), _rows(out / "test_labels.csv")
    assert 8 <= len(train) <= 12
    assert len(test) == 10 and sum(1 for _, w in test if w == "new_whale") == 2
    assert all(160 <= Image.open(out / "train" / name).width <= 200 for name, _ in train)


def test_cli_rejects_bad_ranges(tmp_path: Path) -> None:
    from training.__main__ import main

    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path), "--whales", "2", "--train-per-whale", "3-1"])
    assert main(["synth", "--out", str(tmp_path), "--whales", "2", "--train-per-whale", "0-2"]) == 2


def test_generator_does_not_import_tensorflow() -> None:
    code = "import sys, training.synthetic; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
