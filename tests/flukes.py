"""Quick synthetic "fluke" photos for gallery and CLI tests.

:func:`pattern_photo` draws a whale-specific block pattern with per-shot noise and brightness: fast, and
easy for the tiny test model to tell apart (photos of one pattern land near each other).
:func:`synthetic_kaggle_set` writes a small Kaggle-format set (``train.csv`` + ``train/``, ``test/`` +
``test_labels.csv``) of procedural flukes from :mod:`training.synthetic` with mild nuisance.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def pattern_photo(path: str | Path, whale: int, shot: int = 0, *, size: tuple[int, int] = (128, 64),
                  noise: float = 14.0, fmt: str = "JPEG") -> Path:
    """Write a photo of ``whale`` (an int: the pattern) as shot number ``shot``; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = np.random.default_rng([whale, 7]).integers(0, 256, (8, 16, 3)).astype(np.float64)
    w, h = size
    big = np.asarray(Image.fromarray(base.astype(np.uint8)).resize((w, h), Image.Resampling.NEAREST),
                     dtype=np.float64)
    rng = np.random.default_rng([whale, shot, 11])
    big = big * rng.uniform(0.9, 1.1) + rng.normal(0, noise, big.shape)
    Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(path, fmt)
    return path


def synthetic_kaggle_set(out: str | Path, *, whales: int = 10, train_per_whale: int = 3, unknown: int = 3,
                         width: int = 160, nuisance: float = 0.2) -> tuple[Path, Path, dict[str, str]]:
    """A small Kaggle-format set of procedural flukes; returns (train_csv, test_dir, test truth)."""
    from training.synthetic import make_whale, render_photo

    out = Path(out)
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "test").mkdir(parents=True, exist_ok=True)
    train_rows: list[tuple[str, str]] = []
    truth: dict[str, str] = {}

    identities: dict[int, Any] = {}

    def identity(index: int) -> Any:
        if index not in identities:
            identities[index] = make_whale(index)
        return identities[index]

    def shot(index: int, j: int) -> Image.Image:
        return render_photo(identity(index), np.random.default_rng([index, j]), width=width, aspect=3.0,
                            grayscale=False, caption=False, nuisance=nuisance)

    for i in range(whales):
        whale_id = identity(i).whale_id
        for j in range(train_per_whale):
            name = f"t{i:03d}_{j}.jpg"
            shot(i, j).save(out / "train" / name, quality=90)
            train_rows.append((name, whale_id))
        name = f"q{i:03d}.jpg"
        shot(i, train_per_whale).save(out / "test" / name, quality=90)
        truth[name] = whale_id
    for i in range(whales, whales + unknown):
        name = f"q{i:03d}.jpg"
        shot(i, 0).save(out / "test" / name, quality=90)
        truth[name] = "new_whale"
    train_csv = out / "train.csv"
    with train_csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["Image", "Id"])
        writer.writerows(train_rows)
    with (out / "test_labels.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["Image", "Id"])
        writer.writerows(sorted(truth.items()))
    return train_csv, out / "test", truth
