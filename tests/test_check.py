"""``whalegui check --gallery DIR [--repair]`` on galleries broken on purpose, through ``whalegui.cli.main``.

Each test breaks a copy of one small gallery (made with the CLI: real SQLite, hnswlib, ONNX Runtime with the
tiny model, real JPEGs), then asserts what ``check`` prints, that it changes nothing without ``--repair``,
that ``--repair`` rebuilds what can be rebuilt and never deletes a user's photo, and the exit code (0 only
when healthy).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.flukes import pattern_photo
from tests.models import make_tiny_model
from whalegui.cli import main

PHOTOS_PER_WHALE = 2
WHALES = 3


@dataclass
class Built:
    model: Path
    template: Path
    sources: Path  # the original photos, by name


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("check")
    model = make_tiny_model(root / "model")
    gallery = root / "gallery"
    for w in range(WHALES):
        photos = [pattern_photo(root / "src" / f"w{w}_{j}.jpg", w, j) for j in range(PHOTOS_PER_WHALE)]
        assert main(["enroll", "--gallery", str(gallery), "--model", str(model), "--new", "--whale", f"w{w}",
                     *map(str, photos)]) == 0
    return Built(model, gallery, root / "src")


@pytest.fixture
def gallery(built: Built, tmp_path: Path) -> Path:
    folder = tmp_path / "gallery"
    shutil.copytree(built.template, folder)
    return folder


def check(built: Built, gallery: Path, capsys: pytest.CaptureFixture[str], *extra: str,
          model: Path | None = None) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["check", "--gallery", str(gallery), "--model", str(model or built.model), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of the gallery but SQLite's own (which a reader may touch) and the lock."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith("gallery.")}


def stored_photos(folder: Path) -> list[Path]:
    return sorted((folder / "photos").rglob("*.jpg"))


def thumbs(folder: Path) -> list[Path]:
    return sorted((folder / "thumbs").rglob("*.jpg"))


def count_photo_rows(folder: Path) -> int:
    with sqlite3.connect(folder / "gallery.sqlite") as conn:
        n = int(conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0])
    conn.close()
    return n


def test_a_healthy_gallery(built: Built, gallery: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(built, gallery, capsys)
    assert code == 0 and f"healthy: {WHALES} whales, {WHALES * PHOTOS_PER_WHALE} photos" in out
    assert "problem" not in out
    code, out = check(built, gallery, capsys, "--repair")
    assert code == 0 and "repaired" not in out


def test_no_gallery_there(built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(built, tmp_path / "nothing", capsys)
    assert code == 1 and "no gallery" in out
    assert not (tmp_path / "nothing").exists()  # check never creates a gallery


# ---------------------------------------------------------------------------------------------- breakages

@dataclass
class Breakage:
    """How to break a gallery, and what check must say about it."""

    break_it: Callable[[Path], None]
    found: list[str]  # substrings of check's output before repair
    repairable: bool  # --repair leaves it healthy
    repaired: list[str]  # substrings of --repair's "repaired:" lines
    left: list[str]  # substrings of the problems --repair cannot fix


def _delete_photo(folder: Path) -> None:
    stored_photos(folder)[0].unlink()


def _corrupt_photo(folder: Path) -> None:
    victim = stored_photos(folder)[1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: still a JPEG, no longer the photo that was catalogued
    victim.write_bytes(bytes(data))


def _truncate_photo(folder: Path) -> None:
    victim = stored_photos(folder)[2]
    victim.write_bytes(victim.read_bytes()[:100])


def _delete_index(folder: Path) -> None:
    (folder / "index.bin").unlink()


def _delete_index_and_stamp(folder: Path) -> None:
    (folder / "index.bin").unlink()
    (folder / "index.json").unlink()


def _random_index(folder: Path) -> None:
    index = folder / "index.bin"
    index.write_bytes(os.urandom(index.stat().st_size))


def _zero_index(folder: Path) -> None:
    (folder / "index.bin").write_bytes(b"")


def _garbage_stamp(folder: Path) -> None:
    (folder / "index.json").write_text("{not json", encoding="utf-8")


def _delete_thumbs(folder: Path) -> None:
    shutil.rmtree(folder / "thumbs")


def _corrupt_thumb(folder: Path) -> None:
    thumbs(folder)[0].write_bytes(b"not a jpeg")


def _change_fingerprint(folder: Path) -> None:
    with sqlite3.connect(folder / "gallery.sqlite") as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'model_fingerprint'", ("f" * 64,))
    conn.close()


def _damage_embedding(folder: Path) -> None:
    with sqlite3.connect(folder / "gallery.sqlite") as conn:
        conn.execute("UPDATE photos SET embedding = ? WHERE id = (SELECT MIN(id) FROM photos)", (b"\0" * 64,))
    conn.close()


def _sql(folder: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(folder / "gallery.sqlite") as conn:
        conn.execute(statement, params)
    conn.close()


def _delete_features(folder: Path) -> None:
    _sql(folder, "DELETE FROM features WHERE photo_id = (SELECT MIN(id) FROM photos)")


def _damage_features(folder: Path) -> None:
    _sql(folder, "UPDATE features SET blob = substr(blob, 1, length(blob) - 7) WHERE photo_id = "
                 "(SELECT MAX(id) FROM photos)")


def _stale_features(folder: Path) -> None:
    _sql(folder, "UPDATE features SET version = 0")


def _delete_box(folder: Path) -> None:
    _sql(folder, "UPDATE photos SET box_left = NULL, box_source = NULL WHERE id = "
                 "(SELECT MIN(id) FROM photos)")


def _orphan_files(folder: Path) -> None:
    (folder / "photos" / "zz").mkdir()
    shutil.copy(stored_photos(folder)[0], folder / "photos" / "zz" / "kept by the user.jpg")
    (folder / "photos" / "zz" / f"{'a' * 64}.jpg.0a1b2c3d.tmp").write_bytes(b"partial")  # _write_atomic's
    (folder / "thumbs" / "stray.jpg").write_bytes(b"x")


BREAKAGES = {
    "photo deleted": Breakage(_delete_photo, ["the stored file is missing"], False, [],
                              ["the stored file is missing"]),
    "photo bytes corrupted": Breakage(_corrupt_photo, ["does not match its hash"], False, [],
                                      ["does not match its hash"]),
    "photo truncated": Breakage(_truncate_photo, ["does not match its hash"], False, [],
                                ["does not match its hash"]),
    "index deleted": Breakage(_delete_index, ["index: index file missing"], True, ["index"], []),
    "index and stamp deleted": Breakage(_delete_index_and_stamp, ["index: no index stamp"], True, ["index"],
                                        []),
    "index random bytes": Breakage(_random_index, ["index: index file does not match its stamp"], True,
                                   ["index"], []),
    "index zero bytes": Breakage(_zero_index, ["index: index file does not match its stamp"], True,
                                 ["index"], []),
    "index stamp garbage": Breakage(_garbage_stamp, ["index: unreadable index stamp"], True, ["index"], []),
    "thumbnails deleted": Breakage(_delete_thumbs, ["thumbnail missing"], True, ["thumbnail rebuilt"], []),
    "thumbnail corrupted": Breakage(_corrupt_thumb, ["thumbnail missing or unreadable"], True,
                                    ["thumbnail rebuilt"], []),
    "model fingerprint changed": Breakage(_change_fingerprint, ["model: the gallery was embedded with",
                                                                "run 'whalegui reembed'"], False,
                                          ["index"], ["model: the gallery was embedded with"]),
    "embedding damaged": Breakage(_damage_embedding, ["its embedding is damaged"], True, ["re-embedded"], []),
    "local features deleted": Breakage(_delete_features, ["its local features are missing"], True,
                                       ["its local features are missing; rebuilt from the stored photo"], []),
    "local features damaged": Breakage(_damage_features, ["its local features are damaged"], True,
                                       ["its local features are damaged; rebuilt from the stored photo"], []),
    "local features stale": Breakage(_stale_features, ["its local features are stale (version 0"], True,
                                     ["this whalegui makes 1); rebuilt from the stored photo"], []),
    "fluke box missing": Breakage(_delete_box, ["its fluke box is missing"], True,
                                  ["its fluke box is missing; rebuilt from the stored photo"], []),
}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_check_reports_and_repair_rebuilds(built: Built, gallery: Path, capsys: pytest.CaptureFixture[str],
                                           name: str) -> None:
    b = BREAKAGES[name]
    b.break_it(gallery)
    before = snapshot(gallery)
    rows = count_photo_rows(gallery)

    code, out = check(built, gallery, capsys)
    assert code == 1, out
    assert "NOT healthy" in out and "(try --repair)" in out
    for text in b.found:
        assert text in out, out
    problem_lines = [line for line in out.splitlines() if line.startswith("problem: ")]
    assert problem_lines, out
    assert "not in the catalogue" not in out  # nothing here is an unreferenced file
    assert snapshot(gallery) == before, "check without --repair changed the gallery"

    code, out = check(built, gallery, capsys, "--repair")
    repaired = [line for line in out.splitlines() if line.startswith("repaired: ")]
    left = [line for line in out.splitlines() if line.startswith("problem: ")]
    for text in b.repaired:
        assert any(text in line for line in repaired), out
    for text in b.left:
        assert any(text in line for line in left), out
    assert code == (0 if b.repairable else 1), out
    assert any(line.startswith("healthy:") for line in out.splitlines()) == b.repairable

    # Never deletes a user's photo: every stored photo file that was there is still there, unchanged,
    # and so is every catalogue row.
    after = snapshot(gallery)
    for rel, data in before.items():
        if rel.startswith("photos/"):
            assert after.get(rel) == data, f"--repair changed or deleted {rel}"
    assert count_photo_rows(gallery) == rows

    code, out = check(built, gallery, capsys)  # and a second check agrees with what repair said
    assert code == (0 if b.repairable else 1), out


def test_index_rebuilt_by_repair_gives_the_same_identifications(
        built: Built, gallery: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = [str(pattern_photo(gallery.parent / "q" / f"q{w}.jpg", w, 50)) for w in range(WHALES)]

    def identify() -> str:
        capsys.readouterr()
        assert main(["identify", "--gallery", str(gallery), "--model", str(built.model), "--format", "json",
                     *queries]) == 0
        return capsys.readouterr().out

    expected = identify()
    _random_index(gallery)
    assert check(built, gallery, capsys)[0] == 1
    assert check(built, gallery, capsys, "--repair")[0] == 0
    assert identify() == expected


def test_missing_photo_restored_from_a_backup_is_healthy_again(
        built: Built, gallery: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = stored_photos(gallery)[0]
    backup = victim.read_bytes()
    victim.unlink()
    assert check(built, gallery, capsys, "--repair")[0] == 1
    victim.write_bytes(backup)
    code, out = check(built, gallery, capsys)
    assert code == 0, out


def test_orphan_files_are_notes_and_only_temporary_files_are_removed(
        built: Built, gallery: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _orphan_files(gallery)
    code, out = check(built, gallery, capsys)
    assert code == 0, out  # unreferenced files are harmless: healthy, with notes
    assert "note: 1 half-written temporary files" in out
    assert "note: 2 stored files are not in the catalogue" in out
    code, out = check(built, gallery, capsys, "--repair")
    assert code == 0 and "repaired: removed 1 half-written temporary files" in out
    assert not (gallery / "photos" / "zz" / f"{'a' * 64}.jpg.0a1b2c3d.tmp").exists()
    assert (gallery / "photos" / "zz" / "kept by the user.jpg").is_file()  # a user's photo is kept
    assert (gallery / "thumbs" / "stray.jpg").is_file()


def test_a_photo_named_like_a_temporary_file_is_not_deleted(
        built: Built, gallery: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keep = [gallery / "photos" / name for name in ("my.tmp.photo.jpg", "whale.jpg.tmp", "a.jpg.0a1b2c3d.tmp")]
    for path in keep:
        shutil.copy(stored_photos(gallery)[0], path)
    code, out = check(built, gallery, capsys, "--repair")
    assert code == 0, out
    assert "note: 3 stored files are not in the catalogue" in out
    assert all(path.is_file() for path in keep)


def test_a_damaged_database_is_reported_without_a_traceback(
        built: Built, gallery: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = gallery / "gallery.sqlite"
    data = bytearray(db.read_bytes())
    data[100:] = os.urandom(len(data) - 100)  # keep SQLite's header, scramble every page
    db.write_bytes(bytes(data))
    code, out = check(built, gallery, capsys)
    assert code == 1 and "gallery" in out
    code, out = check(built, gallery, capsys, "--repair")
    assert code == 1
    assert stored_photos(gallery), "the photo files are still there"


def test_check_with_another_model_reports_the_mismatch(
        built: Built, gallery: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    other = make_tiny_model(tmp_path / "other", name="other", seed=3)
    code, out = check(built, gallery, capsys, model=other)
    assert code == 1 and "model: the gallery was embedded with tiny" in out and "other" in out
    code, out = check(built, gallery, capsys, "--repair", model=other)
    assert code == 1 and count_photo_rows(gallery) == WHALES * PHOTOS_PER_WHALE
    assert check(built, gallery, capsys)[0] == 0  # the gallery's own model: still healthy


def derived(folder: Path) -> dict[int, tuple[object, ...]]:
    """Each photo's fluke box and local features, as stored."""
    with sqlite3.connect(folder / "gallery.sqlite") as conn:
        rows = conn.execute("SELECT p.id, p.box_left, p.box_top, p.box_right, p.box_bottom, p.box_source, "
                            "p.box_score, p.box_angle, f.version, f.blob FROM photos p "
                            "LEFT JOIN features f ON f.photo_id = p.id ORDER BY p.id").fetchall()
    conn.close()
    return {int(r[0]): tuple(r[1:]) for r in rows}


def test_repair_rebuilds_the_same_boxes_and_features(built: Built, gallery: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = derived(gallery)
    assert all(row[4] == "frame" and row[-1] for row in before.values())  # no fluke finder: the whole frame
    _delete_features(gallery)  # photo 1
    _damage_features(gallery)  # photo 6
    _sql(gallery, "UPDATE features SET version = 0 WHERE photo_id = 2")
    _sql(gallery, "UPDATE photos SET box_source = NULL WHERE id = 3")
    assert derived(gallery) != before
    code, out = check(built, gallery, capsys)
    assert code == 1 and out.count("problem: photo") == 4, out
    code, out = check(built, gallery, capsys, "--repair")
    assert code == 0 and out.count("rebuilt from the stored photo") == 4, out
    assert derived(gallery) == before


def test_without_a_model_features_are_rebuilt_but_a_box_is_not(built: Built, gallery: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    _delete_features(gallery)
    _delete_box(gallery)
    _sql(gallery, "DELETE FROM features WHERE photo_id = (SELECT MAX(id) FROM photos)")
    capsys.readouterr()
    assert main(["check", "--gallery", str(gallery), "--repair"]) == 1  # the bundled model did not embed it
    out = capsys.readouterr().out
    assert "its local features are missing; rebuilt from the stored photo" in out
    assert "problem:" in out and "its fluke box is missing" in out and "load the gallery's model" in out
    assert count_photo_rows(gallery) == WHALES * PHOTOS_PER_WHALE
    code, out = check(built, gallery, capsys, "--repair")
    assert code == 0, out
