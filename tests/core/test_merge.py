"""Merging one gallery into another: real SQLite, hnswlib, ONNX Runtime (the tiny model), real JPEGs."""

from __future__ import annotations

import collections
import hashlib
import shutil
import threading
from pathlib import Path

import pytest

from tests.flukes import pattern_photo
from tests.models import make_tiny_model
from whalegui.core.embedder import Embedder
from whalegui.core.errors import GalleryError, ModelMismatchError
from whalegui.core.gallery import Gallery
from whalegui.core.gallery.merge import (
    MERGE_DONE,
    MERGE_IN,
    keep_apart,
    merge_gallery,
    pending_likely_same,
)
from whalegui.core.reviews import Review
from whalegui.core.sightings import Sighting

#: The SQLite files a read-only reader of a WAL database leaves (empty WAL, shared-memory index).
READER_FILES = {"gallery.sqlite-shm", "gallery.sqlite-wal"}


def shot(folder: Path, pattern: int, j: int) -> Path:
    return pattern_photo(folder / f"p{pattern}_{j}.jpg", pattern, j)


def file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_unchanged(before: dict[str, str], after: dict[str, str]) -> None:
    assert {k: after.get(k) for k in before if k not in READER_FILES} == \
        {k: v for k, v in before.items() if k not in READER_FILES}
    assert set(after) - set(before) <= READER_FILES


@pytest.fixture
def pair(tmp_path: Path, embedder: Embedder) -> tuple[Path, Path, Path]:
    """MINE: whales A (pattern 1), B (2) and C (3). OTHER: A with one of MINE's photos and a new one
    (the same whale), B for another whale (pattern 5: an id conflict), D (pattern 3 again, other photos:
    possibly the same as C), E (pattern 7, reviewed when enrolled), F (one of MINE's B photos: joined),
    and G without photos."""
    shots_dir = tmp_path / "shots"
    mine, other = tmp_path / "mine", tmp_path / "other"
    with Gallery.open(mine, embedder) as g:
        g.enroll([shot(shots_dir, 1, j) for j in range(3)], whale_id="A", name="Whale A")
        g.enroll([shot(shots_dir, 2, j) for j in range(2)], whale_id="B")
        g.enroll([shot(shots_dir, 3, j) for j in range(3)], whale_id="C", notes="nicked left tip")
    with Gallery.open(other, embedder) as g:
        g.enroll([shot(shots_dir, 1, 1), shot(shots_dir, 1, 4)], whale_id="A", name="Alpha")
        g.enroll([shot(shots_dir, 5, j) for j in range(2)], whale_id="B", name="Other B",
                 sighting=Sighting(when="2024-05-01", place="Skjervøy", observer="K. N."))
        g.enroll([shot(shots_dir, 3, j) for j in range(5, 8)], whale_id="D")
        query = shot(shots_dir, 7, 0)
        g.enroll([query], whale_id="E", reviews=[Review(g.identify(query))])
        g.enroll([shot(shots_dir, 2, 0), shot(shots_dir, 2, 6)], whale_id="F")
        g.rename("F", notes="seen with a calf")
    with Gallery.open(other, embedder) as g:  # a whale without photos: enrolled, then its photo removed
        g.enroll([shot(shots_dir, 9, 0)], whale_id="G")
        g.remove_photo(g.photos("G")[0].photo_id)
    return mine, other, shots_dir


def test_merge_matches_photos_resolves_conflicts_and_lists_likely_same_whales(
        pair: tuple[Path, Path, Path], embedder: Embedder) -> None:
    mine, other, _ = pair
    other_before = file_hashes(other)
    with Gallery.open(other, embedder, readonly=True) as g:
        their = {p.sha256: p.whale_id for p in g.photos()}
        their_pairs = len(g.review_pairs())
    assert their_pairs > 0
    with Gallery.open(mine, embedder) as g:
        report = merge_gallery(g, other)
        assert report.before == (3, 8) and report.photos_total == 10
        assert report.photos_there == 2 and report.photos_new == 8 and report.reembedded == 0
        how = {w.their_id: (w.how, w.whale_id) for w in report.whales}
        assert how["A"] == ("same", "A") and how["D"] == ("new", "D") and how["E"] == ("new", "E")
        assert how["F"] == ("joined", "B") and how["G"] == ("new", "G")
        conflict, fresh = how["B"]
        assert conflict == "conflict" and fresh not in ("A", "B", "C", "D", "E", "F", "G")
        assert [w.their_id for w in report.conflicts] == ["B"]
        # Every incoming photo is here exactly once, under the whale its incoming whale became.
        here = {p.sha256: p.whale_id for p in g.photos()}
        assert len(here) == len(g.photos()) == 16
        assert all(here[sha] == how[w][1] for sha, w in their.items())
        assert report.after == (g.whale_count(), g.photo_count()) == (3 + 4, 16)
        assert g.photos("G") == [] and g.whale(fresh).name == "Other B"
        # Names and notes: MINE's kept, OTHER's differing ones reported and audited.
        assert g.whale("A").name == "Whale A" and g.whale("B").notes == ""
        assert ("A", "Alpha", "") in report.names_differ
        assert ("B", "", "seen with a calf") in report.names_differ
        entries = [e for e in g.audit_log() if e["action"] == MERGE_IN]
        assert {"their_id": "B", "how": "conflict"}.items() <= \
            next(e["details"] for e in entries if e["whale_id"] == fresh).items()
        assert next(e["details"] for e in entries if e["whale_id"] == "A")["their_name"] == "Alpha"
        # Possibly the same whale: D (C's pattern) is listed against C; E (a pattern MINE lacks) is not.
        likely = {s.their_id: s for s in report.likely_same}
        assert "D" in likely and likely["D"].mine == "C" and likely["D"].agreed >= 2
        assert "E" not in likely and fresh not in {s.mine for s in report.likely_same}
        assert pending_likely_same(g) == report.likely_same
        # Sightings and review pairs came along.
        seen = [s for s in g.sightings(fresh)]
        assert [(s.sighting.when, s.sighting.place) for s in seen] == [("2024-05-01", "Skjervøy")]
        assert report.sightings_new >= 5
        assert len(g.review_pairs()) == their_pairs == report.review_pairs
        assert {p.chosen_whale for p in g.review_pairs()} == {"E"}
        assert g.check().healthy
        # A rerun finds everything there and changes nothing.
        again = merge_gallery(g, other)
        assert again.photos_new == 0 and again.photos_there == 10
        assert {w.their_id: (w.how, w.whale_id) for w in again.whales} == how
        assert g.photo_count() == 16 and g.whale_count() == 7
        assert [e["action"] for e in g.audit_log(2)] == [MERGE_DONE, MERGE_DONE]
        # The researcher merges D into C: it leaves the queue.
        g.merge("D", "C")
        assert "D" not in {s.their_id for s in pending_likely_same(g)}
    assert_unchanged(other_before, file_hashes(other))


def test_dry_run_reports_the_merge_and_changes_nothing(pair: tuple[Path, Path, Path],
                                                        embedder: Embedder, tmp_path: Path) -> None:
    mine, other, _ = pair
    copy = tmp_path / "copy"
    shutil.copytree(mine, copy)
    before = file_hashes(mine)
    with Gallery.open(mine, embedder, readonly=True) as g:
        dry = merge_gallery(g, other, dry_run=True)
        with pytest.raises(GalleryError, match="read-only"):
            merge_gallery(g, other)
    assert_unchanged(before, file_hashes(mine))
    with Gallery.open(copy, embedder) as g:
        real = merge_gallery(g, other)
    assert dry.dry_run and dry.after == dry.before == real.before
    assert (dry.photos_new, dry.photos_there, dry.sightings_new) == \
        (real.photos_new, real.photos_there, real.sightings_new)
    assert [(w.their_id, w.how) for w in dry.whales] == [(w.their_id, w.how) for w in real.whales]
    assert [(s.their_id, s.mine, s.agreed) for s in dry.likely_same] == \
        [(s.their_id, s.mine, s.agreed) for s in real.likely_same]


def test_a_gallery_of_another_model_is_re_embedded(pair: tuple[Path, Path, Path], embedder: Embedder,
                                                    tmp_path: Path) -> None:
    mine, _, shots_dir = pair
    other_model = Embedder(make_tiny_model(tmp_path / "m2", name="other", seed=3, dim=24), device="cpu")
    other = tmp_path / "other-model"
    with Gallery.open(other, other_model) as g:
        g.enroll([shot(shots_dir, 3, 9), shot(shots_dir, 3, 10)], whale_id="X")
        g.enroll([shot(shots_dir, 1, 0)], whale_id="A")  # one of MINE's photos
    with Gallery.open(mine, embedder) as g:
        report = merge_gallery(g, other)
        assert not report.same_model and report.reembedded == report.photos_new == 2
        assert report.photos_there == 1
        assert g.embeddings([p.photo_id for p in g.photos("X")]).shape == (2, embedder.dim)
        assert g.check().healthy
        assert [(s.their_id, s.mine) for s in report.likely_same] == [("X", "C")]
        assert pending_likely_same(g) == report.likely_same
        keep_apart(g, report.likely_same[0])  # a researcher looked: two whales
        assert pending_likely_same(g) == [] and g.has_whale("X")
        assert g.audit_log(1)[0]["action"] == "keep_apart"


def test_a_cancelled_merge_keeps_what_it_stored_and_a_rerun_finishes(
        pair: tuple[Path, Path, Path], embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    mine, other, _ = pair
    monkeypatch.setattr("whalegui.core.gallery.merge.IMPORT_BATCH", 3)  # several batches of 8 photos
    cancel = threading.Event()
    with Gallery.open(mine, embedder) as g:
        stopped = merge_gallery(g, other, cancel=cancel,
                                progress=lambda done, total: cancel.set() if done else None)
        assert stopped.cancelled and stopped.photos_new == 3 and g.photo_count() == 8 + 3
        assert not [e for e in g.audit_log() if e["action"] == MERGE_DONE]
        finished = merge_gallery(g, other)
        assert not finished.cancelled and g.photo_count() == 16
        counts = collections.Counter(p.sha256 for p in g.photos())
        assert max(counts.values()) == 1 and g.check().healthy


def test_merging_a_gallery_into_itself_or_from_no_gallery_is_refused(
        pair: tuple[Path, Path, Path], embedder: Embedder, tmp_path: Path) -> None:
    mine, _, _ = pair
    with Gallery.open(mine, embedder) as g:
        with pytest.raises(GalleryError, match="being merged into"):
            merge_gallery(g, mine)
        with pytest.raises(GalleryError, match="no gallery"):
            merge_gallery(g, tmp_path / "nowhere")
    with Gallery.open(mine, None) as g, pytest.raises(GalleryError, match="model"):
        merge_gallery(g, tmp_path / "nowhere")
    other_model = Embedder(make_tiny_model(tmp_path / "m3", name="other", seed=4), device="cpu")
    with Gallery.open(mine, other_model, allow_model_mismatch=True) as g, \
            pytest.raises(ModelMismatchError):  # its photos would be mixed with another model's
        merge_gallery(g, pair[1])
