"""Index damage beyond tests/core/test_gallery.py's (deleted, stamp deleted, truncated, zero bytes, random
bytes, stale): another gallery's index copied in, a garbage stamp, a folder where the index should be, and a
damaged index under a read-only opening (rebuilt in memory, nothing written). Each gives the same
identifications as the intact gallery. Real SQLite, hnswlib, ONNX Runtime (tiny model), real JPEGs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.flukes import pattern_photo
from tests.models import make_tiny_model
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import INDEX_NAME, Gallery


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Embedder, Path, Path, list[Path]]:
    root = tmp_path_factory.mktemp("index")
    embedder = Embedder(make_tiny_model(root / "model"), device="cpu")
    template, other = root / "g", root / "other"
    with Gallery.open(template, embedder) as g:
        for w in range(4):
            g.enroll([pattern_photo(root / "src" / f"{w}_{j}.jpg", w, j) for j in range(2)], whale_id=f"w{w}")
    with Gallery.open(other, embedder) as g:  # another gallery, with the same number of photos
        for w in range(4):
            g.enroll([pattern_photo(root / "src2" / f"{w}_{j}.jpg", 50 + w, j) for j in range(2)],
                     whale_id=f"x{w}")
    queries = [pattern_photo(root / "q" / f"q{w}.jpg", w, 70) for w in range(4)]
    return embedder, template, other, queries


def results(g: Gallery, queries: list[Path]) -> list[list[tuple[str, float]]]:
    return [[(c.whale_id, round(c.distance, 5)) for c in g.identify(q).candidates] for q in queries]


@pytest.mark.parametrize("damage", ["another gallery's index", "garbage stamp", "stamp of another format",
                                    "a folder instead of the index"])
@pytest.mark.parametrize("readonly", [False, True])
def test_damaged_index_gives_the_same_identifications(setup: tuple[Embedder, Path, Path, list[Path]],
                                                      tmp_path: Path, damage: str, readonly: bool) -> None:
    embedder, template, other, queries = setup
    folder = tmp_path / "g"
    shutil.copytree(template, folder)
    with Gallery.open(folder, embedder, readonly=True) as g:
        expected = results(g, queries)
    index, stamp = folder / INDEX_NAME, folder / "index.json"
    if damage == "another gallery's index":
        shutil.copy(other / INDEX_NAME, index)
        shutil.copy(other / "index.json", stamp)
    elif damage == "garbage stamp":
        stamp.write_bytes(b"\x00\xff{[")
    elif damage == "stamp of another format":
        stamp.write_text('{"format": 99}', encoding="utf-8")
    else:
        index.unlink()
        index.mkdir()
    before = {p.name: (p.is_dir() or p.read_bytes()) for p in (index, stamp) if p.exists()}
    with Gallery.open(folder, embedder, readonly=readonly) as g:
        assert results(g, queries) == expected
        if damage != "a folder instead of the index":
            report = g.check()
            assert report.healthy == (not readonly), report.problems
    after = {p.name: (p.is_dir() or p.read_bytes()) for p in (index, stamp) if p.exists()}
    if readonly:
        assert after == before  # a reader rebuilds in memory and writes nothing
    with Gallery.open(folder, embedder) as g:  # and a writer (repairing it when it can) agrees
        assert results(g, queries) == expected
        report = g.check(repair=True)
        if damage == "a folder instead of the index":  # it cannot be saved over a folder: still reported
            assert not report.healthy and "cannot be saved" in report.problems[0], report.problems
            assert index.is_dir()
        else:
            assert report.healthy and g.check().healthy
