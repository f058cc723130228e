"""Nothing lost on the way out: a gallery exported to CSV, imported into a new gallery, is the same catalogue.

Real galleries (SQLite, hnswlib, ONNX Runtime with the tiny model), real JPEGs with EXIF dates and places.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image, TiffImagePlugin

from tests.flukes import pattern_photo
from whalegui.cli import main
from whalegui.core.catalogue import CATALOGUE_COLUMNS, read_catalogue
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery


def sighting_photo(path: Path, whale: int, shot: int, taken: str | None = None,
                   place: tuple[float, float] | None = None) -> Path:
    """A JPEG of ``whale`` with EXIF ``DateTimeOriginal`` (``YYYY:MM:DD HH:MM:SS``) and a GPS position."""
    image = Image.open(pattern_photo(path, whale, shot))
    image.load()
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    if place is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        for ref_tag, tag, value, refs in (
                (ExifTags.GPS.GPSLatitudeRef, ExifTags.GPS.GPSLatitude, place[0], "NS"),
                (ExifTags.GPS.GPSLongitudeRef, ExifTags.GPS.GPSLongitude, place[1], "EW")):
            degrees, rest = divmod(abs(value) * 3600, 3600)
            minutes, seconds = divmod(rest, 60)
            gps[ref_tag] = refs[value < 0]
            gps[tag] = tuple(TiffImagePlugin.IFDRational(round(v * 100), 100)
                             for v in (degrees, minutes, seconds))
    image.save(path, "JPEG", quality=90, exif=exif)
    return path


def catalogue_of(g: Gallery) -> dict[str, Any]:
    """Everything a researcher entered, field by field (not the gallery's own ids and timestamps)."""
    return {
        "whales": [(w.whale_id, w.name, w.notes, w.photo_count, w.last_seen) for w in g.whales()],
        "photos": sorted(((p.sha256, p.whale_id, p.original_name, p.taken_at, p.gps) for p in g.photos()),
                         key=lambda t: t[0]),
        "bytes": {p.sha256: p.path.read_bytes() for p in g.photos()},
    }


@pytest.fixture
def researched(tmp_path: Path, embedder: Embedder) -> Path:
    """A gallery with names, multi-line notes, odd original file names, EXIF and hand-entered sightings."""
    src = tmp_path / "field"
    folder = tmp_path / "gallery"
    with Gallery.open(folder, embedder) as g:
        g.enroll([sighting_photo(src / "IMG 0001.JPG", 1, 0, "2019:07:14 09:30:12", (-64.7721, -62.8893)),
                  sighting_photo(src / "baleine à bosse, 2.jpg", 1, 1, "2019:07:14 09:31:40",
                                 (-64.7725, -62.8901)),
                  pattern_photo(src / "no exif.jpg", 1, 2)],
                 whale_id="w_tom", name="Old Tom",
                 notes='nick in the left tip, "scar" on the right\nseen with a calf; again\n\nin 2021')
        g.enroll([sighting_photo(src / "dated only.jpg", 2, 0, "2020:01:02 03:04:05")], whale_id="w_2")
        g.enroll([pattern_photo(src / "ghost.jpg", 3, 0)], whale_id="w_ghost", name="Ghost")
        g.rename("w_ghost", notes="every photo removed; the whale is kept")
        g.remove_photo(g.photos("w_ghost")[0].photo_id)
        g.rename("w_2", name="Deux, the second")
        # A sighting a researcher typed in: a photo without EXIF, its date and place from a CSV.
        (src / "typed").mkdir()
        pattern_photo(src / "typed" / "scan.png", 4, 0, fmt="PNG")
        typed = tmp_path / "typed.csv"
        with typed.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([("Image", "Id", "Name", "OriginalName", "TakenAt", "Lat", "Lon"),
                                     ("scan.png", "w_scan", "Scanned", "slide 17 (1998).png",
                                      "1998-08-30T16:00:00", "-65.25", "-64.5")])
        report = g.import_catalogue(typed, src / "typed")
        assert report.imported == 1 and report.errors == []
    return folder


def test_export_then_import_gives_the_same_catalogue(tmp_path: Path, researched: Path,
                                                     embedder: Embedder) -> None:
    with Gallery.open(researched, embedder, readonly=True) as g:
        before = catalogue_of(g)
        exported = tmp_path / "export.csv"
        assert g.export_csv(exported) == 6  # five photos and the whale without one
    # What was entered is all there...
    photos = {p[2]: p for p in before["photos"]}
    assert photos["IMG 0001.JPG"][3] == datetime(2019, 7, 14, 9, 30, 12)
    assert photos["IMG 0001.JPG"][4] == pytest.approx((-64.7721, -62.8893), abs=1e-4)
    assert photos["slide 17 (1998).png"][3:] == (datetime(1998, 8, 30, 16), (-65.25, -64.5))
    assert photos["no exif.jpg"][3:] == (None, None)
    assert ("w_ghost", "Ghost", "every photo removed; the whale is kept", 0, None) in before["whales"]
    # ... in a CSV that Kaggle readers read (Image,Id first) and that says it in its own columns.
    with exported.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CATALOGUE_COLUMNS and CATALOGUE_COLUMNS[:2] == ("Image", "Id")
    tom = [r for r in rows if r["Id"] == "w_tom"]
    assert {r["OriginalName"] for r in tom} == {"IMG 0001.JPG", "baleine à bosse, 2.jpg", "no exif.jpg"}
    assert all(r["Name"] == "Old Tom" and r["Notes"].count("\n") == 3 for r in tom)

    with Gallery.open(tmp_path / "copy", embedder) as copy:
        report = copy.import_catalogue(exported, researched)
        assert report.errors == [] and report.imported == 5 and report.whales_created == 4
        after = catalogue_of(copy)
        assert after["whales"] == before["whales"]
        assert after["photos"] == before["photos"]
        assert after["bytes"] == before["bytes"]
        assert copy.check().healthy
        # Importing it again (resuming) changes nothing.
        again = copy.import_catalogue(exported, researched)
        assert again.imported == 0 and again.whales_created == 0 and catalogue_of(copy) == after


def test_the_command_line_round_trip(tmp_path: Path, researched: Path, model: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    exported = tmp_path / "catalogue.csv"
    assert main(["export", "--gallery", str(researched), "--output", str(exported)]) == 0
    assert main(["import", "--gallery", str(tmp_path / "copy"), "--csv", str(exported), "--images",
                 str(researched), "--model", str(model)]) == 0
    capsys.readouterr()
    with Gallery.open(researched, readonly=True) as a, Gallery.open(tmp_path / "copy", readonly=True) as b:
        assert catalogue_of(a) == catalogue_of(b)


def test_an_older_export_still_imports(tmp_path: Path, researched: Path, embedder: Embedder) -> None:
    """Exports made before Notes and Lat/Lon (columns Latitude, Longitude) read back too."""
    with Gallery.open(researched, embedder, readonly=True) as g:
        photo = next(p for p in g.photos() if p.original_name == "IMG 0001.JPG")
    old = tmp_path / "old.csv"
    with old.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([
            ("Image", "Id", "Name", "OriginalName", "TakenAt", "Latitude", "Longitude", "SHA256"),
            (photo.path.relative_to(researched).as_posix(), "w_tom", "Old Tom", "IMG 0001.JPG",
             photo.taken_at.isoformat() if photo.taken_at else "", -1.5, 2.25, photo.sha256)])
    entry = read_catalogue(old, researched).entries[0]
    assert (entry.original_name, entry.taken_at, entry.gps) == ("IMG 0001.JPG", photo.taken_at, (-1.5, 2.25))
