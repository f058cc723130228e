"""``enroll``'s sighting options, ``whalegui sightings`` and ``export --format``: real photos (with EXIF), the
tiny ONNX model, a real gallery."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.core.test_export import sighting_photo
from tests.flukes import pattern_photo
from tests.models import make_tiny_model
from tests.test_cli import run
from whalegui.core.gallery import Gallery


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model"))


def test_enroll_records_the_sighting_from_its_options_and_the_photos_exif(
        tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "g"
    code, out, _ = run(capsys, "enroll", "--gallery", folder, "--model", model, "--new", "--whale", "w_a",
                       "--date", "2024-07-03T14:05", "--lat", "64.0473", "--lon", "-17.6232", "--place",
                       "Skjálfandi Bay", "--observer", "A. Smith", "--vessel", "Moby",
                       pattern_photo(tmp_path / "a.jpg", 1, 0))
    assert code == 0, out
    # No options: the date and position are the photo's EXIF; the place is typed.
    photo = sighting_photo(tmp_path / "a2.jpg", 1, 1, "2025:08:01 10:20:30", (65.5, -18.25))
    code, out, _ = run(capsys, "enroll", "--gallery", folder, "--model", model, "--whale", "w_a", "--place",
                       "Husavik", photo)
    assert code == 0 and "added 1 photo to whale w_a" in out

    code, out, _ = run(capsys, "sightings", "--gallery", folder)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("2024-07-03 14:05  w_a")
    assert "Skjálfandi Bay" in lines[1] and "Moby" in lines[1]
    assert lines[2].startswith("2025-08-01 10:20  w_a") and "Husavik" in lines[2]

    code, out, _ = run(capsys, "sightings", "--gallery", folder, "--whale", "w_a", "--since", "2025-01-01",
                       "--json")
    [only] = json.loads(out)
    assert (only["date"], only["latitude"], only["longitude"], only["place"]) == (
        "2025-08-01T10:20", pytest.approx(65.5, abs=1e-3), pytest.approx(-18.25, abs=1e-3), "Husavik")
    assert [p["original_name"] for p in only["photos"]] == ["a2.jpg"]

    code, _, err = run(capsys, "enroll", "--gallery", folder, "--model", model, "--whale", "w_a", "--date",
                       "3 July", pattern_photo(tmp_path / "a3.jpg", 1, 2))
    assert code == 1 and "invalid date '3 July'" in err
    code, _, err = run(capsys, "enroll", "--gallery", folder, "--model", model, "--whale", "w_a", "--lat",
                       "64", pattern_photo(tmp_path / "a3.jpg", 1, 2))
    assert code == 1 and "both a latitude and a longitude" in err
    code, _, err = run(capsys, "sightings", "--gallery", folder, "--whale", "w_nobody")
    assert code == 1 and "w_nobody" in err
    with Gallery.open(folder, readonly=True) as g:
        assert g.photo_count() == 2


def test_export_writes_each_format(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "g"
    assert run(capsys, "enroll", "--gallery", folder, "--model", model, "--new", "--whale", "w_a", "--date",
               "2024-07-03", "--observer", "A. Smith", pattern_photo(tmp_path / "a.jpg", 1, 0))[0] == 0
    for fmt, key, what, whales in (("csv", "Id", "1 photo", ["w_a"]),
                                   ("dwc", "individualID", "1 occurrence", ["w_a"]),
                                   ("wildbook", "MarkedIndividual.individualID", "1 encounter", ["w_a"]),
                                   ("pairs", "query_whale", "0 review pairs", [])):
        out = tmp_path / f"{fmt}.csv"
        code, _, err = run(capsys, "export", "--gallery", folder, "--format", fmt, "--output", out)
        assert code == 0 and f"exported {what}" in err
        with out.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert [r[key] for r in rows] == whales
    code, text, _ = run(capsys, "export", "--gallery", folder, "--format", "dwc")
    assert code == 0 and text.startswith("occurrenceID,") and "2024-07-03" in text
    code, _, err = run(capsys, "export", "--gallery", folder, "--format", "xml")
    assert code == 2 and "invalid choice" in err
