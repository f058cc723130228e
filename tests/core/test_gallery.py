"""The gallery: real SQLite, real hnswlib, real ONNX Runtime (the tiny test model), real JPEGs."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.flukes import pattern_photo
from tests.models import make_tiny_model
from whalegui.core.embedder import Embedder
from whalegui.core.errors import (
    CatalogueError,
    DuplicatePhotoError,
    GalleryError,
    GalleryLockedError,
    ModelMismatchError,
    PhotoError,
    PhotoNotFoundError,
    WhaleExistsError,
    WhaleNotFoundError,
)
from whalegui.core.gallery import INDEX_NAME, Gallery, Identification, reembed, validate_whale_id
from whalegui.core.index import PhotoIndex
from whalegui.core.records import PhotoRecord

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def other_embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return Embedder(make_tiny_model(tmp_path_factory.mktemp("model2"), name="other", seed=5, dim=24),
                    device="cpu")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return tmp_path / "photos"


def shots(folder: Path, whale: int, n: int, start: int = 0) -> list[Path]:
    return [pattern_photo(folder / f"w{whale}_{j}.jpg", whale, j) for j in range(start, start + n)]


@pytest.fixture
def gallery(tmp_path: Path, embedder: Embedder, photos: Path) -> Iterator[Gallery]:
    g = Gallery.open(tmp_path / "gallery", embedder)
    for w in range(4):
        g.enroll(shots(photos, w, 3), whale_id=f"whale{w}", name=f"Whale {w}")
    yield g
    g.close()


def ranking(ident: Identification) -> list[tuple[str, float]]:
    return [(c.whale_id, round(c.distance, 5)) for c in ident.candidates]


# ---------------------------------------------------------------------------------------------- basics

def test_enroll_then_identify_returns_the_whale_first(gallery: Gallery, photos: Path) -> None:
    query = pattern_photo(photos / "query.jpg", 2, 99)
    ident = gallery.identify(query)
    assert ident.candidates[0].whale_id == "whale2"
    assert ident.candidates[0].name == "Whale 2"
    assert ident.candidates[0].photo_count == 3
    assert ident.candidates[0].distance < ident.candidates[1].distance
    assert not ident.new_whale
    assert ident.duplicate_of is None
    assert ident.query_path == query and ident.meta is not None and ident.meta.width == 128
    assert ident.candidates[0].photo.path.is_file()
    assert ident.candidates[0].photo.thumb_path is not None and ident.candidates[0].photo.thumb_path.is_file()
    assert gallery.whale_count() == 4 and gallery.photo_count() == 12


_OPENED: list[str] | None = None  # the files opened while a test counts them (see opened_files)


def _count_opens(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _OPENED is not None and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_count_opens)  # (hooks cannot be removed: it counts only while _OPENED is a list)


def test_identify_many_opens_each_query_once(gallery: Gallery, photos: Path) -> None:
    global _OPENED
    queries = [pattern_photo(photos / f"q{w}.jpg", w, 50 + w) for w in range(3)]
    _OPENED = []
    try:
        results = gallery.identify_many(queries, top=2)
    finally:
        opened, _OPENED = _OPENED, None
    assert [r.candidates[0].whale_id for r in results] == ["whale0", "whale1", "whale2"]  # type: ignore[union-attr]
    assert [sum(1 for o in opened if Path(o) == q) for q in queries] == [1, 1, 1], opened


def test_generated_ids_and_whale_listing(tmp_path: Path, embedder: Embedder, photos: Path) -> None:
    with Gallery.open(tmp_path / "g", embedder) as g:
        whale_id = g.enroll(shots(photos, 1, 2), notes="nick in left tip")
        assert whale_id.startswith("w_") and len(whale_id) == 9
        summary = g.whale(whale_id)
        assert summary.photo_count == 2 and summary.notes == "nick in left tip"
        assert summary.cover_photo is not None and summary.cover_photo.whale_id == whale_id
        assert [w.whale_id for w in g.whales("NICK")] == [whale_id]
        assert g.whales("nothing-like-this") == []
        with pytest.raises(WhaleExistsError):
            g.enroll(shots(photos, 2, 1), whale_id=whale_id)
        with pytest.raises(WhaleNotFoundError):
            g.whale("nobody")
        with pytest.raises(GalleryError):
            g.enroll([pattern_photo(photos / "x.jpg", 3)], whale_id="has space")
        # stored files are content-addressed copies of the originals
        record = g.photos(whale_id)[0]
        assert record.path.read_bytes() == (photos / record.original_name).read_bytes()
        assert record.path.name.startswith(record.sha256)


def test_per_whale_aggregation_matches_exact_search(gallery: Gallery, photos: Path) -> None:
    ident = gallery.identify(pattern_photo(photos / "q.jpg", 1, 50), top=4)
    assert len({c.whale_id for c in ident.candidates}) == len(ident.candidates) == 4
    for c in ident.candidates:  # each whale's distance is the minimum over its photos, with that photo
        dists = {p.photo_id: 1 - float(gallery.embedding(p.photo_id) @ ident.embedding)
                 for p in gallery.photos(c.whale_id)}
        best = min(dists, key=lambda k: dists[k])
        assert c.photo.photo_id == best
        assert c.distance == pytest.approx(dists[best], abs=1e-4)
    assert [c.distance for c in ident.candidates] == sorted(c.distance for c in ident.candidates)
    # the per-photo ranking covers every photo, nearest first
    assert len(ident.photo_matches) == 12
    assert [m.distance for m in ident.photo_matches] == sorted(m.distance for m in ident.photo_matches)


def test_threshold_verdict(gallery: Gallery, photos: Path, embedder: Embedder) -> None:
    query = pattern_photo(photos / "q.jpg", 0, 77)
    near = gallery.identify(query)
    assert near.threshold == embedder.card.new_whale_threshold and not near.new_whale
    assert gallery.identify(query, threshold=near.candidates[0].distance / 2).new_whale
    stranger = gallery.identify(pattern_photo(photos / "stranger.jpg", 42, 0))
    assert stranger.new_whale == (stranger.candidates[0].distance > stranger.threshold)
    assert stranger.candidates[0].distance > near.candidates[0].distance


def test_empty_gallery_says_new_whale(tmp_path: Path, embedder: Embedder, photos: Path) -> None:
    with Gallery.open(tmp_path / "empty", embedder) as g:
        ident = g.identify(pattern_photo(photos / "q.jpg", 0))
        assert ident.candidates == [] and ident.new_whale


def test_duplicates_are_reported_not_added(gallery: Gallery, photos: Path) -> None:
    existing = photos / "w1_0.jpg"
    copy = photos / "renamed copy.jpg"
    copy.write_bytes(existing.read_bytes())
    with pytest.raises(DuplicatePhotoError) as info:
        gallery.add_photos("whale3", [copy])
    existing_record = info.value.existing
    assert isinstance(existing_record, PhotoRecord) and existing_record.whale_id == "whale1"
    with pytest.raises(DuplicatePhotoError):
        gallery.enroll([pattern_photo(photos / "new.jpg", 9), copy])
    assert gallery.photo_count() == 12 and gallery.whale_count() == 4  # all or nothing
    ident = gallery.identify(copy)
    assert ident.duplicate_of is not None and ident.duplicate_of.whale_id == "whale1"
    assert ident.candidates[0].whale_id == "whale1" and ident.candidates[0].distance < 1e-4


def test_bad_photo_changes_nothing(gallery: Gallery, photos: Path) -> None:
    bad = photos / "notes.jpg"
    bad.write_text("not a photo")
    with pytest.raises(PhotoError):
        gallery.enroll([pattern_photo(photos / "ok.jpg", 8), bad])
    with pytest.raises(PhotoError):
        gallery.identify(bad)
    with pytest.raises(PhotoError):
        gallery.add_photos("whale0", [photos / "missing.jpg"])
    assert gallery.photo_count() == 12 and gallery.whale_count() == 4


class CountingEmbedder(Embedder):
    """The real tiny model, counting the photos it is asked to embed."""

    def __init__(self, model_path: Path) -> None:
        super().__init__(model_path, device="cpu")
        self.embedded = 0

    def embed_images(self, images: Sequence[Image.Image], batch_size: int = 16) -> np.ndarray:
        self.embedded += len(images)
        return super().embed_images(images, batch_size)


def test_enroll_and_add_photos_reuse_the_identification_s_embedding(tmp_path: Path, embedder: Embedder,
                                                                    photos: Path) -> None:
    counting = CountingEmbedder(embedder.path)
    with Gallery.open(tmp_path / "g", counting) as g:
        g.enroll(shots(photos, 0, 2), whale_id="a")
        stranger, again, changed = (pattern_photo(photos / "stranger.jpg", 7, 1),
                                    pattern_photo(photos / "a_again.jpg", 0, 5),
                                    pattern_photo(photos / "changed.jpg", 3, 1))
        idents = [i for i in g.identify_many([stranger, again, changed]) if isinstance(i, Identification)]
        assert counting.embedded == 5 and len(idents) == 3
        by_path = {i.query_path: i for i in idents}
        assert by_path[stranger].sha256 == _sha(stranger)

        counting.embedded = 0
        new_id = g.enroll([stranger], name="Stranger", identified=idents)
        records = g.add_photos("a", [again, pattern_photo(photos / "a_more.jpg", 0, 6)], identified=idents)
        assert counting.embedded == 1  # only the photo that was not identified
        enrolled = g.photos(new_id)[0]
        for record, path in ((enrolled, stranger), (records[0], again)):
            np.testing.assert_array_equal(g.embedding(record.photo_id), by_path[path].embedding)
            assert record.sha256 == _sha(path) and record.path.read_bytes() == path.read_bytes()
            assert record.thumb_path is not None and record.thumb_path.is_file()
            assert record.original_name == path.name
        assert g.identify_embedding(by_path[stranger].embedding).candidates[0].whale_id == new_id
        assert g.check().healthy

        # A file that changed after it was identified is embedded again, not given the stale vector.
        pattern_photo(changed, 4, 2)
        counting.embedded = 0
        record = g.add_photos("a", [changed], identified=idents)[0]
        assert counting.embedded == 1
        assert not np.allclose(g.embedding(record.photo_id), by_path[changed].embedding)
        np.testing.assert_allclose(g.embedding(record.photo_id), g.identify(changed).embedding, atol=1e-6)


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------- changes

def test_merge_rename_move_remove_delete_reflected_in_search(gallery: Gallery, photos: Path) -> None:
    q1 = pattern_photo(photos / "q1.jpg", 1, 60)
    gallery.merge("whale1", "whale0")
    ident = gallery.identify(q1)
    assert ident.candidates[0].whale_id == "whale0" and ident.candidates[0].photo_count == 6
    assert "whale1" not in [c.whale_id for c in ident.candidates]

    gallery.rename("whale0", new_id="Tom", name="Old Tom", notes="merged")
    top = gallery.identify(q1).candidates[0]
    assert (top.whale_id, top.name) == ("Tom", "Old Tom")
    assert len(gallery.photos("Tom")) == 6 and not gallery.has_whale("whale0")

    q2 = pattern_photo(photos / "q2.jpg", 2, 60)
    moved = gallery.identify(q2).candidates[0].photo
    gallery.move_photo(moved.photo_id, "whale3")
    assert gallery.photo(moved.photo_id).whale_id == "whale3"
    assert gallery.identify(q2).photo_matches[0].photo.whale_id == "whale3"

    for p in gallery.photos("whale2"):
        gallery.remove_photo(p.photo_id)
    assert gallery.whale("whale2").photo_count == 0
    assert "whale2" not in [c.whale_id for c in gallery.identify(q2).candidates]

    gallery.delete_whale("Tom")
    assert "Tom" not in [c.whale_id for c in gallery.identify(q1).candidates]
    assert gallery.photo_count() == 4  # whale3's three + the moved one
    with pytest.raises(PhotoNotFoundError):
        gallery.photo(moved.photo_id + 1000)

    actions = [entry["action"] for entry in gallery.audit_log()]
    for action in ("enroll", "merge", "rename", "move_photo", "remove_photo", "delete_whale"):
        assert action in actions
    deleted = next(e for e in gallery.audit_log() if e["action"] == "delete_whale")
    assert len(deleted["details"]["photos"]) == 6  # which photos went, so nothing is lost silently


def test_changes_survive_reopen(tmp_path: Path, embedder: Embedder, photos: Path) -> None:
    folder = tmp_path / "g"
    with Gallery.open(folder, embedder) as g:
        g.enroll(shots(photos, 0, 2), whale_id="a")
        g.enroll(shots(photos, 1, 2), whale_id="b")
        g.merge("b", "a")
        before = ranking(g.identify(photos / "w1_0.jpg"))
    with Gallery.open(folder, embedder, readonly=True) as g:
        assert ranking(g.identify(photos / "w1_0.jpg")) == before
        assert g.whale("a").photo_count == 4
        with pytest.raises(GalleryError, match="read-only"):
            g.rename("a", name="x")


# ---------------------------------------------------------------------------------------------- index

@pytest.mark.parametrize("damage", ["deleted", "stamp deleted", "truncated", "zero bytes", "random bytes",
                                    "stale"])
def test_index_lost_or_corrupted_is_rebuilt_with_identical_results(
        tmp_path: Path, embedder: Embedder, photos: Path, damage: str,
        caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "g"
    queries = [pattern_photo(photos / f"q{w}.jpg", w, 80) for w in range(4)]
    with Gallery.open(folder, embedder) as g:
        for w in range(4):
            g.enroll(shots(photos, w, 3), whale_id=f"whale{w}")
        old_bin, old_json = (folder / INDEX_NAME).read_bytes(), (folder / "index.json").read_bytes()
        g.enroll(shots(photos, 5, 2), whale_id="late")
        expected = [ranking(g.identify(q)) for q in queries]
    index = folder / INDEX_NAME
    if damage == "deleted":
        index.unlink()
    elif damage == "stamp deleted":
        (folder / "index.json").unlink()
    elif damage == "truncated":
        index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    elif damage == "zero bytes":
        index.write_bytes(b"")
    elif damage == "random bytes":
        index.write_bytes(os.urandom(index.stat().st_size))
    else:  # an index saved before the last change (e.g. a crash between the commit and the save)
        index.write_bytes(old_bin)
        (folder / "index.json").write_bytes(old_json)
    caplog.set_level(logging.INFO, logger="whalegui.core.gallery")
    with Gallery.open(folder, embedder) as g:
        assert [ranking(g.identify(q)) for q in queries] == expected
    rebuilt = [r for r in caplog.records if "rebuilt the photo index" in r.getMessage()]
    assert len(rebuilt) == 1
    caplog.clear()
    with Gallery.open(folder, embedder) as g:  # the rebuilt index was saved: no second rebuild
        assert [ranking(g.identify(q)) for q in queries] == expected
    assert not [r for r in caplog.records if "rebuilt the photo index" in r.getMessage()]


def test_index_grows_past_its_capacity(tmp_path: Path, embedder: Embedder, photos: Path) -> None:
    with Gallery.open(tmp_path / "g", embedder) as g:
        for w in range(22):  # 66 photos: beyond the initial capacity of 64
            g.enroll(shots(photos, w, 3), whale_id=f"w{w}")
        assert g.identify(pattern_photo(photos / "q.jpg", 17, 99)).candidates[0].whale_id == "w17"
        assert len(g.photo_index()) == 66


@pytest.mark.slow
def test_hnsw_recall_at_10_against_exact_search() -> None:
    rng = np.random.default_rng(0)
    dim, n = 128, 10_000
    data = rng.standard_normal((n, dim)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = rng.standard_normal((200, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    index = PhotoIndex.build(list(range(1, n + 1)), data, dim)
    exact = np.argsort(-(queries @ data.T), axis=1)[:, :10] + 1
    recall = np.mean([len(set(index.query(q, 10)[0].tolist()) & set(e.tolist())) / 10
                      for q, e in zip(queries, exact, strict=True)])
    assert recall >= 0.98, recall


def test_index_clamps_k_and_skips_removed_photos() -> None:
    vectors = np.eye(4, dtype=np.float32)
    index = PhotoIndex.build([10, 11, 12, 13], vectors, 4)
    ids, dists = index.query(vectors[0], 50)
    assert len(ids) == 4 and ids[0] == 10 and dists[0] == pytest.approx(0, abs=1e-6)
    index.remove([10])
    ids, _ = index.query(vectors[0], 50)
    assert sorted(ids.tolist()) == [11, 12, 13] and len(index) == 3
    assert index.labels() == {11, 12, 13}


# ---------------------------------------------------------------------------------------------- models

def test_model_mismatch_is_refused_then_reembed(tmp_path: Path, embedder: Embedder, other_embedder: Embedder,
                                                photos: Path) -> None:
    folder = tmp_path / "g"
    with Gallery.open(folder, embedder) as g:
        g.enroll(shots(photos, 0, 2), whale_id="a")
        g.enroll(shots(photos, 1, 2), whale_id="b")
    with pytest.raises(ModelMismatchError) as info:
        Gallery.open(folder, other_embedder)
    assert "tiny" in str(info.value) and "other" in str(info.value) and "reembed" in str(info.value)
    with Gallery.open(folder, other_embedder, readonly=True, allow_model_mismatch=True) as g:
        assert g.whale_count() == 2  # browsing works
        with pytest.raises(ModelMismatchError):
            g.identify(photos / "w0_0.jpg")
    assert reembed(folder, other_embedder) == 4
    with Gallery.open(folder, other_embedder) as g:
        assert g.model_fingerprint == other_embedder.fingerprint and g.embedding_dim == 24
        assert g.identify(pattern_photo(photos / "q.jpg", 1, 5)).candidates[0].whale_id == "b"
        assert g.audit_log(1)[0]["action"] == "reembed"
        assert g.check().healthy
    with pytest.raises(ModelMismatchError):
        Gallery.open(folder, embedder)


def test_empty_gallery_adopts_the_model(tmp_path: Path, embedder: Embedder, other_embedder: Embedder) -> None:
    Gallery.open(tmp_path / "g", embedder).close()
    with Gallery.open(tmp_path / "g", other_embedder) as g:
        assert g.model_fingerprint == other_embedder.fingerprint


# ---------------------------------------------------------------------------------------------- writers

def test_a_second_writer_is_refused_readers_are_fine(tmp_path: Path, embedder: Embedder,
                                                     photos: Path) -> None:
    folder = tmp_path / "g"
    with Gallery.open(folder, embedder) as writer:
        writer.enroll(shots(photos, 0, 1), whale_id="a")
        with pytest.raises(GalleryLockedError, match="another window or process"):
            Gallery.open(folder, embedder)
        code = ("import sys\nfrom whalegui.core.gallery import Gallery\nfrom whalegui.core.errors import "
                "GalleryLockedError\ntry:\n    Gallery.open(sys.argv[1])\nexcept GalleryLockedError as e:\n"
                "    print(e)\n    sys.exit(3)\n")
        result = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True,
                                cwd=REPO, timeout=60)
        assert result.returncode == 3, result.stderr
        assert str(os.getpid()) in result.stdout
        with Gallery.open(folder, embedder, readonly=True) as reader:
            assert reader.whale_count() == 1
            writer.enroll(shots(photos, 1, 1), whale_id="b")  # the reader sees committed changes
            assert reader.whale_count() == 2
            assert reader.identify(photos / "w1_0.jpg").candidates[0].whale_id == "b"
    with Gallery.open(folder, embedder) as again:  # closing released the lock
        assert again.whale_count() == 2


def test_threads_identify_while_another_enrolls(tmp_path: Path, embedder: Embedder, photos: Path) -> None:
    queries = [pattern_photo(photos / f"q{w}.jpg", w, 90) for w in range(3)]
    new = [shots(photos, w, 2) for w in range(10, 16)]
    errors: list[BaseException] = []
    with Gallery.open(tmp_path / "g", embedder) as g:
        for w in range(3):
            g.enroll(shots(photos, w, 2), whale_id=f"w{w}")

        def reader() -> None:
            try:
                for _ in range(15):
                    for w, q in enumerate(queries):
                        assert g.identify(q).candidates[0].whale_id == f"w{w}"
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        for w, paths in zip(range(10, 16), new, strict=True):
            g.enroll(paths, whale_id=f"w{w}")
        for t in threads:
            t.join()
        assert not errors, errors
        assert g.photo_count() == 18 and g.check().healthy


def test_open_refuses_a_folder_of_other_files(tmp_path: Path, embedder: Embedder) -> None:
    (tmp_path / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(GalleryError, match="other files"):
        Gallery.open(tmp_path, embedder)
    with pytest.raises(GalleryError, match="no gallery"):
        Gallery.open(tmp_path / "nothing", embedder, readonly=True)


def test_validate_whale_id() -> None:
    assert validate_whale_id("w_1a2b3c4") == "w_1a2b3c4"
    for bad in ("", "new_whale", "a b", "a,b", "a/b", "x" * 101):
        with pytest.raises(GalleryError):
            validate_whale_id(bad)


# ---------------------------------------------------------------------------------------------- import

def test_import_reports_bad_rows_and_imports_the_rest(tmp_path: Path, embedder: Embedder) -> None:
    images = tmp_path / "images"
    for w in range(3):
        for j in range(2):
            pattern_photo(images / f"{w}_{j}.jpg", w, j)
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (images / "empty.jpg").write_bytes(b"")
    (tmp_path / "secret.jpg").write_bytes((images / "0_0.jpg").read_bytes())
    csv_path = tmp_path / "train.csv"
    csv_path.write_text(
        "Image,Id\n0_0.jpg,w_a\n0_1.jpg,w_a\n1_0.jpg,w_b\n1_1.jpg,w_b\n2_0.jpg,w_c\n2_1.jpg,new_whale\n"
        "missing.jpg,w_a\n../secret.jpg,w_a\n/etc/passwd,w_a\nbroken.jpg,w_c\nempty.jpg,w_c\n"
        "0_0.jpg,w_a\n2_1.jpg,\n", encoding="utf-8")
    calls: list[tuple[int, int]] = []
    with Gallery.open(tmp_path / "g", embedder) as g:
        report = g.import_catalogue(csv_path, images, progress=lambda d, t: calls.append((d, t)))
        assert report.imported == 5 and report.whales_created == 3
        assert report.skipped_new_whale == 1 and report.skipped_duplicates == 0
        reasons = dict(report.errors)
        assert "file not found" in reasons["missing.jpg"]
        assert "leaves the images folder" in reasons["../secret.jpg"]
        assert "absolute" in reasons["/etc/passwd"]
        assert "broken.jpg" in reasons and "empty" in reasons["empty.jpg"]
        assert "duplicate row" in reasons["0_0.jpg"]
        assert any("no whale id" in r for r in reasons.values())
        assert calls[-1] == (calls[-1][1], calls[-1][1])
        assert {w.whale_id: w.photo_count for w in g.whales()} == {"w_a": 2, "w_b": 2, "w_c": 1}
        again = g.import_catalogue(csv_path, images)  # resumable: everything already there is skipped
        assert again.imported == 0 and again.skipped_duplicates == 5
        assert g.photo_count() == 5 and g.check().healthy
        with pytest.raises(CatalogueError, match="Image"):
            bad = tmp_path / "bad.csv"
            bad.write_text("file,whale\na.jpg,w_a\n")
            g.import_catalogue(bad, images)


def test_import_cancel_and_folder_per_whale(tmp_path: Path, embedder: Embedder) -> None:
    images = tmp_path / "whales"
    for w, folder in enumerate(("Old Tom", "w_b", "new_whale")):
        for j in range(2):
            pattern_photo(images / folder / f"{j}.jpg", w, j)
    pattern_photo(images / "loose.jpg", 5)
    cancel = threading.Event()
    cancel.set()
    with Gallery.open(tmp_path / "g", embedder) as g:
        cancelled = g.import_catalogue(None, images, cancel=cancel)
        assert cancelled.cancelled and cancelled.imported == 0 and g.photo_count() == 0
        report = g.import_catalogue(None, images)
        assert report.imported == 4 and report.skipped_new_whale == 2
        assert [name for name, _ in report.errors] == ["loose.jpg"]
        assert g.whale("Old_Tom").name == "Old Tom" and g.whale("w_b").photo_count == 2


# ---------------------------------------------------------------------------------------------- check

def test_check_finds_and_repairs_a_broken_gallery(tmp_path: Path, embedder: Embedder, photos: Path) -> None:
    folder = tmp_path / "g"
    with Gallery.open(folder, embedder) as g:
        for w in range(3):
            g.enroll(shots(photos, w, 2), whale_id=f"w{w}")
        assert g.check().healthy
        records = g.photos()
        expected = ranking(g.identify(photos / "w1_0.jpg"))
    records[0].thumb_path.unlink()  # type: ignore[union-attr]
    (folder / INDEX_NAME).write_bytes(b"\0" * 100)
    missing = records[1].path.read_bytes()
    records[1].path.unlink()
    records[2].path.write_bytes(b"damaged")
    with sqlite3.connect(folder / "gallery.sqlite") as conn:
        conn.execute("UPDATE photos SET embedding = ? WHERE id = ?", (b"\0" * 64, records[3].photo_id))
    conn.close()
    (folder / "photos" / f"{records[0].sha256}.jpg.0a1b2c3d.tmp").write_bytes(b"partial")  # half-written

    with Gallery.open(folder, embedder, readonly=True) as g:
        report = g.check()
    text = "\n".join(report.problems)
    assert not report.healthy
    assert "thumbnail" in text and "index" in text and "missing" in text and "does not match its hash" in text
    assert "embedding is damaged" in text
    assert any("temporary" in n for n in report.notes)

    with Gallery.open(folder, embedder) as g:
        report = g.check(repair=True)
        repaired = "\n".join(report.repaired)
        assert "thumbnail rebuilt" in repaired and "rebuilt from the database" in repaired
        assert "re-embedded" in repaired and "temporary" in repaired
        assert not report.healthy  # a missing or damaged photo cannot be rebuilt, and is never deleted
        assert len(report.problems) == 2 and g.photo_count() == 6
    records[1].path.write_bytes(missing)  # the user restores the files from a backup
    records[2].path.write_bytes((photos / records[2].original_name).read_bytes())
    with Gallery.open(folder, embedder) as g:
        report = g.check()
        assert report.healthy, report.problems
        assert ranking(g.identify(photos / "w1_0.jpg")) == expected
