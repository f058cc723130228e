"""``whalegui merge`` end to end: real galleries (tiny ONNX model, real JPEGs), its output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.test_merge import assert_unchanged, file_hashes
from tests.flukes import pattern_photo
from tests.models import make_tiny_model
from tests.test_cli import run
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model"))


@pytest.fixture
def galleries(tmp_path: Path, model: Path) -> tuple[Path, Path]:
    """MINE: whales A (pattern 1) and B (2). OTHER: A with one of MINE's photos, B for another whale (an id
    conflict), and D (pattern 2's other photos: possibly MINE's B)."""
    embedder = Embedder(model, device="cpu")

    def shot(pattern: int, j: int) -> Path:
        return pattern_photo(tmp_path / "shots" / f"p{pattern}_{j}.jpg", pattern, j)

    mine, other = tmp_path / "mine", tmp_path / "other"
    with Gallery.open(mine, embedder) as g:
        g.enroll([shot(1, 0), shot(1, 1)], whale_id="A")
        g.enroll([shot(2, 0), shot(2, 1)], whale_id="B")
    with Gallery.open(other, embedder) as g:
        g.enroll([shot(1, 1), shot(1, 2)], whale_id="A")
        g.enroll([shot(6, 0)], whale_id="B")
        g.enroll([shot(2, 3), shot(2, 4)], whale_id="D")
    return mine, other


def test_merge_dry_run_then_merge(galleries: tuple[Path, Path], model: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    mine, other = galleries
    mine_before, other_before = file_hashes(mine), file_hashes(other)
    args = ("merge", "--gallery", mine, "--from", other, "--model", model, "--cpu")
    code, out, _ = run(capsys, *args, "--dry-run")
    assert code == 0, out
    assert out.startswith("dry run: merging ") and "4 photos would be added, 1 already here" in out
    assert "the same whale as here: 1 (A)" in out and "new whales: 1 (D)" in out
    assert "id conflicts" in out and "D (their D) ~ B: 2 of 2 photos agree" in out
    assert_unchanged(mine_before, file_hashes(mine))

    code, out, _ = run(capsys, *args, "--json")
    report = json.loads(out)
    assert code == 0 and report["photos_new"] == 4 and report["photos_there"] == 1
    fresh = next(w["whale_id"] for w in report["whales"] if w["how"] == "conflict")
    assert fresh != "B" and [s["mine"] for s in report["likely_same"]] == ["B"]

    code, out, _ = run(capsys, *args)
    assert code == 0 and "0 photos added, 5 already here" in out
    assert f"B -> {fresh}" in out and "has 4 whales, 8 photos (had 4 whales, 8 photos)" in out
    code, out, _ = run(capsys, "check", "--gallery", mine, "--model", model, "--cpu")
    assert code == 0 and out.startswith("healthy: 4 whales, 8 photos")
    assert_unchanged(other_before, file_hashes(other))


def test_merge_errors_are_one_line(galleries: tuple[Path, Path], model: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    mine, _ = galleries
    code, _, err = run(capsys, "merge", "--gallery", mine, "--model", model)
    assert code == 2 and "--from" in err
    code, _, err = run(capsys, "merge", "--gallery", mine, "--from", tmp_path / "none", "--model", model,
                       "--cpu")
    assert code == 1 and err.count("\n") == 1 and "no gallery at" in err
    code, _, err = run(capsys, "merge", "--gallery", mine, "--from", mine, "--model", model, "--cpu")
    assert code == 1 and "being merged into" in err
    code, _, err = run(capsys, "merge", "--gallery", tmp_path / "new", "--from", mine, "--model", model,
                       "--cpu", "--dry-run")
    assert code == 1 and "no gallery at" in err
