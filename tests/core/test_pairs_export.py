"""``export --format pairs``: the review decisions as labelled pairs, from a real gallery (tiny ONNX model,
real JPEGs), through the command line; a photo taken out takes its pairs out of the export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.flukes import pattern_photo
from tests.models import make_tiny_model
from tests.test_cli import run
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery
from whalegui.core.gallery.exports import PAIR_COLUMNS
from whalegui.core.reviews import Review


def test_pairs_export_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = make_tiny_model(tmp_path / "model")
    folder = tmp_path / "g"
    with Gallery.open(folder, Embedder(model, device="cpu")) as g:
        for whale in (1, 2, 3):
            g.enroll([pattern_photo(tmp_path / f"w{whale}_{i}.jpg", whale, i) for i in range(2)],
                     whale_id=f"w_{whale}")
        query = pattern_photo(tmp_path / "q.jpg", 1, 9)
        ident = g.identify(query)
        assert len(ident.candidates) == 3 and ident.candidates[0].whale_id == "w_1"
        wrong = ident.candidates[1].whale_id
        [added] = g.add_photos("w_1", [query], identified=[ident],
                               reviews=[Review(ident, frozenset({wrong}))])

    out = tmp_path / "pairs.csv"
    code, _, _ = run(capsys, "export", "--gallery", folder, "--format", "pairs", "--output", out)
    assert code == 0
    with out.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == PAIR_COLUMNS
    assert [(r["candidate_whale"], r["same"], r["explicit"], r["rank"]) for r in rows] == [
        ("w_1", "1", "0", "1"), (wrong, "0", "1", "2"), (ident.candidates[2].whale_id, "0", "0", "3")]
    assert {r["query_sha256"] for r in rows} == {added.sha256}
    assert {r["query_whale"] for r in rows} == {"w_1"} and {r["chosen_whale"] for r in rows} == {"w_1"}
    assert all(r["query_file"] == rows[0]["query_file"] and r["candidate_file"] for r in rows)
    assert rows[1]["candidate_now"] == wrong and rows[0]["keep"] == "1" and rows[0]["decided_at"]

    with Gallery.open(folder) as g:
        g.remove_photo(added.photo_id)  # an undo: the decision goes with the photo
        assert g.export_csv(out, "pairs") == 0
