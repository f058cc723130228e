"""Sightings as records: the migration of a gallery made by the previous release, sightings recorded by
enroll and confirm, listed, corrected, and carried through export and import; the Darwin Core and Wildbook
exports.

``tests/data/gallery_v2`` was made by the previous release (schema 2, commit 2f34d94) with the tiny test
model: whale ``w_tom`` with three EXIF-dated, GPS-tagged photos over two days, ``w_two`` with one dated
photo, ``w_undated`` with two photos without EXIF. Its search index (derived data, rebuilt from SQLite when
missing, and written in the format of whichever hnswlib build made it) is left out.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.core.test_export import sighting_photo
from tests.flukes import pattern_photo
from whalegui.core.embedder import Embedder
from whalegui.core.errors import GalleryError
from whalegui.core.gallery import SCHEMA_VERSION, Gallery
from whalegui.core.gallery.exports import DWC_COLUMNS, WILDBOOK_COLUMNS
from whalegui.core.sightings import Sighting, parse_when

OLD_GALLERY = Path(__file__).parent.parent / "data" / "gallery_v2"


def files_of(folder: Path) -> dict[str, str]:
    """Every file's hash (not SQLite's shared-memory and write-ahead files, which any reader opens)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(("-shm", "-wal"))}


@pytest.fixture
def old_gallery(tmp_path: Path) -> Path:
    folder = tmp_path / "old"
    shutil.copytree(OLD_GALLERY, folder)
    return folder


def test_the_previous_releases_gallery_migrates_on_open_keeping_every_photo(old_gallery: Path,
                                                                           embedder: Embedder) -> None:
    with sqlite3.connect(old_gallery / "gallery.sqlite") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
        photos_before = conn.execute("SELECT sha256, whale_id FROM photos ORDER BY id").fetchall()
    conn.close()
    # Read-only, before any upgrade: browsable as it is, with no sightings yet, and untouched.
    before = files_of(old_gallery)
    with Gallery.open(old_gallery, None, readonly=True) as g:
        assert g.schema_version == 2 and g.photo_count() == 6
        assert g.sightings() == [] and g.review_pairs() == []
        assert g.whale("w_tom").last_seen is not None  # from EXIF, as before
    assert files_of(old_gallery) == before

    with Gallery.open(old_gallery, embedder) as g:
        assert g.schema_version == SCHEMA_VERSION == 3
        assert [(p.sha256, p.whale_id) for p in g.photos()] == photos_before
        assert all(p.sighting_id is not None for p in g.photos())
        tom = g.sightings("w_tom")
        assert [(r.sighting.when, len(r.photo_ids)) for r in tom] == [("2019-07-14T09:30", 2),
                                                                      ("2021-08-01T15:00", 1)]
        assert tom[0].sighting.position == pytest.approx((64.05, -17.62), abs=1e-3)
        assert [r.sighting.when for r in g.sightings("w_undated")] == [""]
        assert g.whale("w_tom").last_seen.isoformat() == "2021-08-01T15:00:00"  # type: ignore[union-attr]
        upgrade = [a for a in g.audit_log() if a["action"] == "upgrade_schema"]
        assert len(upgrade) == 1
        assert upgrade[0]["details"] == {"from": 2, "to": 3, "photos": 6, "sightings": 4}
        # Searched as before (its index, left out of the copy, is rebuilt by the first search).
        tom_photo = g.photos("w_tom")[0]
        assert g.identify(tom_photo.path).duplicate_of == tom_photo
        assert g.check().healthy
    with Gallery.open(old_gallery, embedder) as g:  # opened again: nothing more to do
        assert len([a for a in g.audit_log() if a["action"] == "upgrade_schema"]) == 1
        assert len(g.sightings()) == 4


def test_enroll_and_confirm_record_the_sighting_given_or_the_exif_one(tmp_path: Path,
                                                                     embedder: Embedder) -> None:
    src = tmp_path / "src"
    seen = Sighting("2024-07-03T14:05", (64.0473, -17.6232), "Skjálfandi Bay", "A. Smith", "Moby",
                    "breaching")
    with Gallery.open(tmp_path / "g", embedder) as g:
        g.enroll([pattern_photo(src / "a.jpg", 1, 0)], "w_a", sighting=seen)
        g.enroll([sighting_photo(src / "b.jpg", 2, 0, "2023:06:30 08:15:00", (-64.77, -62.89))], "w_b")
        g.add_photos("w_a", [pattern_photo(src / "a2.jpg", 1, 1)],
                     sighting=Sighting("2024-07-10", place="Husavik", observer="B. Jones"))
        [first, second] = g.sightings("w_a")
        assert first.sighting == Sighting(seen.when, seen.position, seen.place, seen.observer, seen.vessel,
                                          seen.notes, first.sighting.uid) and len(first.sighting.uid) == 32
        assert (second.sighting.when, second.sighting.place) == ("2024-07-10", "Husavik")
        [b] = g.sightings("w_b")
        assert b.sighting.when == "2023-06-30T08:15"
        assert b.sighting.position == pytest.approx((-64.77, -62.89), abs=1e-3)
        assert [r.whale_id for r in g.sightings(since="2024-01-01")] == ["w_a", "w_a"]
        assert g.whale("w_a").last_place == "Husavik"
        assert g.identify(src / "a2.jpg").duplicate_of is not None
        # The researcher corrects a sighting; the audit log keeps what it was.
        g.update_sighting(second.sighting_id, Sighting("2024-07-11T09:00", (66.05, -17.35), "Husavik"))
        assert g.sighting(second.sighting_id).when == "2024-07-11T09:00"
        assert g.audit_log(1)[0]["details"]["old"]["when"] == "2024-07-10"
        # Taking the photo out takes its sighting along (no sighting is left without photos).
        g.remove_photo(g.photos("w_a")[1].photo_id)
        assert len(g.sightings("w_a")) == 1
        with pytest.raises(GalleryError, match="invalid date"):
            g.enroll([pattern_photo(src / "c.jpg", 3, 0)], "w_c", sighting=Sighting("03/07/2024"))
        with pytest.raises(GalleryError, match="latitude"):
            g.enroll([pattern_photo(src / "c.jpg", 3, 0)], "w_c", sighting=Sighting(position=(95.0, 0.0)))
        assert not g.has_whale("w_c")


def test_dates_are_kept_to_the_day_or_the_minute() -> None:
    assert parse_when("2024-07-03") == "2024-07-03"
    assert parse_when(" 2024-07-03 14:05:59 ") == "2024-07-03T14:05"
    assert parse_when("") == ""
    for bad in ("2024-13-01", "2024-02-30", "yesterday", "2024-07-03T25:00"):
        with pytest.raises(GalleryError):
            parse_when(bad)


@pytest.fixture
def seen_gallery(tmp_path: Path, embedder: Embedder) -> Path:
    src = tmp_path / "src"
    folder = tmp_path / "g"
    with Gallery.open(folder, embedder) as g:
        g.enroll([pattern_photo(src / "a.jpg", 1, 0), pattern_photo(src / "a1.jpg", 1, 1)], "w_a", "Anna",
                 sighting=Sighting("2024-07-03T14:05", (64.0473, -17.6232), "Skjálfandi Bay, north",
                                   "A. Smith", "Moby", "with a calf"))
        g.add_photos("w_a", [pattern_photo(src / "a2.jpg", 1, 2)], sighting=Sighting("2025-08-01"))
        g.enroll([pattern_photo(src / "b.jpg", 2, 0)], "w_b", sighting=Sighting())
    return folder


def test_sightings_round_trip_through_export_and_import(tmp_path: Path, seen_gallery: Path,
                                                       embedder: Embedder) -> None:
    exported = tmp_path / "export.csv"
    with Gallery.open(seen_gallery, None, readonly=True) as g:
        before = [(r.whale_id, r.sighting, len(r.photo_ids)) for r in g.sightings()]
        assert g.export_csv(exported) == 4
    with Gallery.open(tmp_path / "copy", embedder) as copy:
        assert copy.import_catalogue(exported, seen_gallery).imported == 4
        assert [(r.whale_id, r.sighting, len(r.photo_ids)) for r in copy.sightings()] == before


def test_the_darwin_core_export_has_every_required_column_in_every_row(tmp_path: Path,
                                                                        seen_gallery: Path) -> None:
    out = tmp_path / "dwc.csv"
    with Gallery.open(seen_gallery, None, readonly=True) as g:
        assert g.export_csv(out, "dwc") == 3  # occurrences: w_a twice, w_b once
        gallery_id = g._store.gallery_id
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    required = ("occurrenceID", "eventDate", "decimalLatitude", "decimalLongitude", "scientificName",
                "individualID", "basisOfRecord", "recordedBy", "locality", "associatedMedia")
    assert set(required) <= set(DWC_COLUMNS) and tuple(rows[0]) == DWC_COLUMNS
    assert all(set(required) <= set(r) and r["scientificName"] == "Megaptera novaeangliae"
               and r["basisOfRecord"] == "HumanObservation" for r in rows)
    assert len({r["occurrenceID"] for r in rows}) == 3
    first = rows[0]
    assert (first["eventDate"], first["individualID"], first["recordedBy"], first["locality"]) == (
        "2024-07-03T14:05", "w_a", "A. Smith", "Skjálfandi Bay, north")
    assert float(first["decimalLatitude"]) == pytest.approx(64.0473)
    assert first["occurrenceID"].startswith(f"whalegui:{gallery_id}:")
    media = first["associatedMedia"].split(" | ")
    assert len(media) == 2 and all((seen_gallery / m).is_file() for m in media)
    assert rows[-1]["eventDate"] == "" and rows[-1]["individualID"] == "w_b"  # undated last


def test_the_wildbook_export_is_one_encounter_per_row(tmp_path: Path, seen_gallery: Path) -> None:
    out = tmp_path / "wildbook.csv"
    with Gallery.open(seen_gallery, None, readonly=True) as g:
        assert g.export_csv(out, "wildbook") == 3
        stored = {p.path.name for p in g.photos()}
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:2] == ["Encounter.mediaAsset0", "Encounter.mediaAsset1"]
    assert set(WILDBOOK_COLUMNS) <= set(rows[0])
    first = rows[0]
    assert (first["MarkedIndividual.individualID"], first["Encounter.year"], first["Encounter.month"],
            first["Encounter.day"], first["Encounter.hour"], first["Encounter.minutes"]) == (
        "w_a", "2024", "7", "3", "14", "5")
    assert (first["Encounter.genus"], first["Encounter.specificEpithet"]) == ("Megaptera", "novaeangliae")
    assert {first["Encounter.mediaAsset0"], first["Encounter.mediaAsset1"]} <= stored
    assert first["Survey.vessel"] == "Moby" and first["Encounter.photographer0.fullName"] == "A. Smith"
    assert rows[1]["Encounter.mediaAsset1"] == "" and rows[1]["Encounter.hour"] == ""
