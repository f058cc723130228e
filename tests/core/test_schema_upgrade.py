"""A gallery made before fluke boxes and local features were kept (schema 1, written here by SQL as the old
whalegui wrote it, with real photo files and the tiny model's whole-frame embeddings): read-only it is
searched as it is; a pipeline with a fluke finder refuses it with the re-embed message; ``reembed`` brings it
up to date with no photo lost; with its own model, ``check --repair`` fills in what is missing."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.flukes import pattern_photo
from tests.models import make_detector, make_tiny_model
from whalegui.core.embedder import Embedder
from whalegui.core.errors import ModelMismatchError
from whalegui.core.fluke import Fluke
from whalegui.core.gallery import SCHEMA_VERSION, Gallery, reembed
from whalegui.core.images import load_photo, model_decode_size
from whalegui.core.model_card import FlukeFinderRef

WHALES, PHOTOS = 3, 2

# The schema of whalegui's galleries before version 2, as its store created it.
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE whales (id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '',
                     created TEXT NOT NULL);
CREATE TABLE photos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,
    whale_id TEXT NOT NULL REFERENCES whales(id) ON UPDATE CASCADE ON DELETE RESTRICT,
    file TEXT NOT NULL, thumb TEXT, original_name TEXT NOT NULL, taken_at TEXT, lat REAL, lon REAL,
    width INTEGER, height INTEGER, added_at TEXT NOT NULL, embedding BLOB NOT NULL);
CREATE INDEX photos_whale ON photos (whale_id);
CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL,
                    whale_id TEXT, details TEXT NOT NULL);
"""


def make_v1_gallery(folder: Path, embedder: Embedder, sources: Path) -> dict[str, str]:
    """A schema-1 gallery of WHALES x PHOTOS pattern photos; returns sha256 -> whale id."""
    folder.mkdir(parents=True)
    conn = sqlite3.connect(folder / "gallery.sqlite")
    conn.executescript(V1_SCHEMA)
    meta = {"schema_version": "1", "gallery_id": "0123456789abcdef", "generation": "1",
            "index_generation": "1", "model_fingerprint": embedder.fingerprint,
            "model_name": embedder.card.name, "embedding_dim": str(embedder.dim),
            "created": "2026-01-01T00:00:00+00:00"}
    conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    truth: dict[str, str] = {}
    for w in range(WHALES):
        conn.execute("INSERT INTO whales VALUES (?, ?, '', '2026-01-01T00:00:00+00:00')", (f"w{w}", f"W{w}"))
        for j in range(PHOTOS):
            src = pattern_photo(sources / f"w{w}_{j}.jpg", w, j)
            data = src.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            rel = f"photos/{sha[:2]}/{sha}.jpg"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
            image = load_photo(src, min_size=model_decode_size(embedder.card.preprocessing)).image
            thumb = f"thumbs/{sha[:2]}/{sha}.jpg"
            (folder / thumb).parent.mkdir(parents=True, exist_ok=True)
            image.save(folder / thumb, "JPEG")
            vec = embedder.embed_images([image])[0]
            conn.execute("INSERT INTO photos (sha256, whale_id, file, thumb, original_name, width, height, "
                         "added_at, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, '2026-01-01', ?)",
                         (sha, f"w{w}", rel, thumb, src.name, image.width, image.height,
                          np.asarray(vec, "<f4").tobytes()))
            truth[sha] = f"w{w}"
    conn.commit()
    conn.close()
    return truth


@pytest.fixture
def old(tmp_path: Path, embedder: Embedder) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "old"
    return folder, make_v1_gallery(folder, embedder, tmp_path / "src")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    folder = tmp_path_factory.mktemp("pipeline")
    make_detector(folder, [0.1, 0.1, 0.9, 0.9], [0.1, 0.5, 0.9, 0.5], 0.9, name="finder")
    return Embedder(make_tiny_model(folder, fluke_finder=FlukeFinderRef("finder")), device="cpu")


def schema_of(folder: Path) -> str:
    conn = sqlite3.connect(folder / "gallery.sqlite")
    try:
        return str(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    finally:
        conn.close()


def test_read_only_an_old_gallery_is_searched_as_it_is(old: tuple[Path, dict[str, str]], embedder: Embedder,
                                                      tmp_path: Path) -> None:
    folder, _ = old
    with Gallery.open(folder, embedder, readonly=True) as g:
        assert g.schema_version == 1 and g.photo_count() == WHALES * PHOTOS
        assert all(p.fluke is None for p in g.photos())
        ident = g.identify(pattern_photo(tmp_path / "q.jpg", 1, 9))
        assert ident.candidates[0].whale_id == "w1"
        report = g.check()
        assert any(p.startswith("schema: the gallery was made by an older whalegui") for p in report.problems)
    assert schema_of(folder) == "1"  # a read-only open writes nothing


def test_an_old_gallery_is_refused_by_a_finder_then_reembedded(old: tuple[Path, dict[str, str]],
                                                               pipeline: Embedder, tmp_path: Path) -> None:
    folder, truth = old
    files = {p.relative_to(folder): p.read_bytes() for p in (folder / "photos").rglob("*.jpg")}
    with pytest.raises(ModelMismatchError, match="re-embed the gallery with 'whalegui reembed'"):
        Gallery.open(folder, pipeline)
    assert schema_of(folder) == str(SCHEMA_VERSION)  # upgraded in place, nothing else changed

    assert reembed(folder, pipeline) == WHALES * PHOTOS
    with Gallery.open(folder, pipeline) as g:
        assert {p.sha256: p.whale_id for p in g.photos()} == truth  # no photo lost or moved
        assert [w.name for w in g.whales()] == [f"W{w}" for w in range(WHALES)]
        for record in g.photos():
            assert record.fluke is not None and record.fluke.source == "detector"
            assert record.fluke.box == pytest.approx((12.8, 6.4, 115.2, 57.6), abs=1e-3)  # of 128x64
        assert g.model_fingerprint == pipeline.fingerprint
        report = g.check()
        assert report.healthy, report.problems
        ident = g.identify(pattern_photo(tmp_path / "q.jpg", 2, 9))
        assert ident.candidates[0].whale_id == "w2"
        assert [e["action"] for e in g.audit_log()][:2] == ["reembed", "upgrade_schema"]
    assert {p.relative_to(folder): p.read_bytes() for p in (folder / "photos").rglob("*.jpg")} == files


def test_with_its_own_model_an_old_gallery_is_repaired(old: tuple[Path, dict[str, str]], embedder: Embedder,
                                                       tmp_path: Path) -> None:
    folder, truth = old
    with Gallery.open(folder, embedder) as g:  # the same model: no re-embedding needed, only the derived data
        assert g.schema_version == SCHEMA_VERSION
        report = g.check()
        missing = [p for p in report.problems if "its fluke box is missing and its local features are missing"
                   in p]
        assert len(missing) == WHALES * PHOTOS, report.problems
        report = g.check(repair=True)
        assert len([r for r in report.repaired if "rebuilt from the stored photo" in r]) == WHALES * PHOTOS
        assert g.check().healthy
        assert {p.sha256: p.whale_id for p in g.photos()} == truth
        assert all(p.fluke == Fluke.whole((128, 64)) for p in g.photos())


def test_an_upgrade_keeps_every_photo_of_a_copy(old: tuple[Path, dict[str, str]], embedder: Embedder,
                                                tmp_path: Path) -> None:
    folder, truth = old
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    with Gallery.open(copy, embedder) as g:
        assert {p.sha256: p.whale_id for p in g.photos()} == truth
        np.testing.assert_array_equal(g.embeddings([p.photo_id for p in g.photos()]).shape,
                                      (WHALES * PHOTOS, embedder.dim))
    conn = sqlite3.connect(copy / "gallery.sqlite")
    columns = {r[1] for r in conn.execute("PRAGMA table_info(photos)")}
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert {"box_left", "box_source", "box_angle"} <= columns and "features" in tables
