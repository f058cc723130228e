"""The field models' recipe: what it needs from ../shared, and the smoke budget's small set of whales.
(The recipe itself runs on the real data only; see its docstring for the smoke command.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from training.real_split import Photos, split_whales
from training.recipes.field_models import SMOKE, Budget, main, subset_whales


def test_the_recipe_says_what_is_missing_from_the_shared_folder(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"real-labelled.*not found.*--shared"):
        main(["--work", str(tmp_path / "work"), "--shared", str(tmp_path / "nowhere")])
    assert not (tmp_path / "work").exists()  # nothing written before the inputs are checked


def test_smoke_subset_keeps_multi_and_single_photo_whales_for_every_part() -> None:
    whales = [f"w{i:03d}" for i in range(60) for _ in range(3)] + [f"s{i:03d}" for i in range(30)]
    photos = Photos([Path(f"{i}.jpg") for i in range(len(whales))], whales)
    small = subset_whales(photos, 40)
    groups = small.by_whale()
    assert sum(len(v) >= 2 for v in groups.values()) == 40 and sum(len(v) == 1 for v in groups.values()) == 10
    assert all(w == whales[int(path.stem)] for path, w in zip(small.paths, small.whales, strict=True))
    split = split_whales(small, seed=2018)
    assert split.train and split.val and split.test
    assert SMOKE.steps < Budget().steps and Budget().steps == 800 and Budget().embed_flukes == 800
