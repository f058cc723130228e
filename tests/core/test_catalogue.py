"""Reading labelled catalogues: encodings, delimiters, per-row errors, paths that try to escape."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whalegui.core.catalogue import decode_text, read_catalogue, read_folder_catalogue, safe_join
from whalegui.core.errors import CatalogueError


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg", "baleine_é.jpg", "with space.jpg"):
        (folder / name).write_bytes(b"jpeg bytes")
    (folder / "sub").mkdir()
    (folder / "sub" / "d.jpg").write_bytes(b"jpeg bytes")
    (tmp_path / "outside.jpg").write_bytes(b"jpeg bytes")
    return folder


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"])
def test_odd_encodings(tmp_path: Path, images: Path, encoding: str) -> None:
    csv_path = write(tmp_path / "t.csv", "Image,Id\r\nbaleine_é.jpg,w_1\r\na.jpg,w_2\r\n", encoding)
    cat = read_catalogue(csv_path, images)
    assert [(e.name, e.whale_id) for e in cat.entries] == [("baleine_é.jpg", "w_1"), ("a.jpg", "w_2")]
    assert cat.errors == []


def test_header_case_order_and_delimiters(tmp_path: Path, images: Path) -> None:
    for text in ("id;IMAGE\nw_1;a.jpg\n", "Id\tImage\nw_1\ta.jpg\n", " Image , Id ,extra\na.jpg , w_1 ,x\n"):
        cat = read_catalogue(write(tmp_path / "t.csv", text), images)
        assert [(e.name, e.whale_id) for e in cat.entries] == [("a.jpg", "w_1")], text


def test_whole_file_problems_raise(tmp_path: Path, images: Path) -> None:
    with pytest.raises(CatalogueError, match="'Image' and 'Id'"):
        read_catalogue(write(tmp_path / "t.csv", "file,whale\na.jpg,w\n"), images)
    with pytest.raises(CatalogueError, match="empty"):
        read_catalogue(write(tmp_path / "t.csv", ""), images)
    with pytest.raises(CatalogueError, match="not found"):
        read_catalogue(tmp_path / "missing.csv", images)
    with pytest.raises(CatalogueError, match="images folder"):
        read_catalogue(write(tmp_path / "t.csv", "Image,Id\n"), tmp_path / "nope")


def test_per_row_errors_and_the_rest_read(tmp_path: Path, images: Path) -> None:
    text = ("Image,Id\na.jpg,w_1\nb.jpg,new_whale\nmissing.jpg,w_1\n../outside.jpg,w_1\n/etc/passwd,w_1\n"
            "..\\outside.jpg,w_1\nC:\\x.jpg,w_1\na.jpg,w_1\na.jpg,w_2\nc.jpg,\n,w_3\nc.jpg,bad id\n"
            "sub/d.jpg,w_4\nwith space.jpg,w_5\nshort\n\n")
    cat = read_catalogue(write(tmp_path / "t.csv", text), images)
    assert [(e.name, e.whale_id) for e in cat.entries] == [("a.jpg", "w_1"), ("sub/d.jpg", "w_4"),
                                                           ("with space.jpg", "w_5")]
    assert cat.skipped_new_whale == 1
    reasons = [reason for _, reason in cat.errors]
    assert len(cat.errors) == 11, cat.errors
    assert sum("duplicate row" in r for r in reasons) == 2
    assert sum("leaves the images folder" in r for r in reasons) == 2
    assert sum("absolute" in r for r in reasons) == 2
    assert any("file not found" in r for r in reasons)
    assert all(r.startswith("row ") for r in reasons)


def test_symlink_out_of_the_images_folder_is_refused(tmp_path: Path, images: Path) -> None:
    os.symlink(tmp_path / "outside.jpg", images / "link.jpg")
    cat = read_catalogue(write(tmp_path / "t.csv", "Image,Id\nlink.jpg,w_1\n"), images)
    assert cat.entries == [] and "outside the images folder" in cat.errors[0][1]


def test_decode_text() -> None:
    assert decode_text("\ufeffImage,Id".encode()) == "Image,Id"
    assert decode_text("é".encode("latin-1")) == "é"
    assert decode_text("é".encode("utf-16")) == "é"
    assert decode_text(b"\x81\x8d") == "\x81\x8d"  # undefined in cp1252: Latin-1


def test_safe_join(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a/b.jpg") == tmp_path / "a" / "b.jpg"
    for bad in ("", "../a", "a/../../b", "/abs", "C:/x", "~/x", "a\x00b"):
        with pytest.raises(ValueError):
            safe_join(tmp_path, bad)


def test_folder_catalogue(tmp_path: Path) -> None:
    root = tmp_path / "whales"
    for folder in ("Old Tom", "w_2", "new_whale", "bad,id", ".hidden"):
        (root / folder).mkdir(parents=True)
        (root / folder / "1.jpg").write_bytes(b"x")
    (root / "w_2" / "deeper").mkdir()
    (root / "w_2" / "deeper" / "2.png").write_bytes(b"x")
    (root / "w_2" / "notes.txt").write_text("not a photo")
    (root / "loose.jpg").write_bytes(b"x")
    cat = read_folder_catalogue(root)
    assert sorted((e.name, e.whale_id) for e in cat.entries) == [
        ("Old Tom/1.jpg", "Old_Tom"), ("w_2/1.jpg", "w_2"), ("w_2/deeper/2.png", "w_2")]
    assert cat.whale_names == {"Old_Tom": "Old Tom"}
    assert cat.skipped_new_whale == 1
    assert sorted(name for name, _ in cat.errors) == ["bad,id", "loose.jpg"]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_csv_reader_raises_only_catalogue_errors(tmp_path_factory: pytest.TempPathFactory,
                                                      data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "a.jpg").write_bytes(b"x")
    csv_path = folder / "t.csv"
    csv_path.write_bytes(b"Image,Id\n" + data)
    try:
        cat = read_catalogue(csv_path, folder)
    except CatalogueError:
        return
    assert all(e.path.parent == folder or folder in e.path.parents for e in cat.entries)


def test_optional_columns_are_read_when_present(tmp_path: Path, images: Path) -> None:
    text = ("Image;Id;Name;Notes;Original Name;taken_at;Latitude;Longitude\n"
            "a.jpg;w_1;Old Tom;nick, left tip;IMG 0001.JPG;2019-07-14T09:30:12;-64,5;-62,25\n"
            "b.jpg;w_1;;;;2019:07:15 10:00:00;;\n"          # EXIF's date format; no place
            "c.jpg;w_2;;;;;;\n")                            # says nothing more: all None
    cat = read_catalogue(write(tmp_path / "t.csv", text), images)
    assert cat.errors == []
    a, b, c = cat.entries
    assert (a.original_name, a.taken_at, a.gps) == ("IMG 0001.JPG", datetime(2019, 7, 14, 9, 30, 12),
                                                    (-64.5, -62.25))
    assert (b.original_name, b.taken_at, b.gps) == (None, datetime(2019, 7, 15, 10), None)
    assert (c.original_name, c.taken_at, c.gps) == (None, None, None)
    assert cat.whale_names == {"w_1": "Old Tom"} and cat.whale_notes == {"w_1": "nick, left tip"}
    assert cat.bare_whales == []


def test_bad_dates_and_places_spoil_only_their_row(tmp_path: Path, images: Path) -> None:
    text = ("Image,Id,TakenAt,Lat,Lon\n"
            "a.jpg,w_1,yesterday,,\n"
            "b.jpg,w_1,,-64.5,\n"
            "c.jpg,w_1,,91,0\n"
            "with space.jpg,w_1,,north,west\n"
            "sub/d.jpg,w_1,2020-02-30,,\n"                  # no such day
            "baleine_é.jpg,w_1,2020-02-28,-0.5,179.9\n")
    cat = read_catalogue(write(tmp_path / "t.csv", text), images)
    assert [e.name for e in cat.entries] == ["baleine_é.jpg"]
    reasons = dict(cat.errors)
    assert "unreadable TakenAt 'yesterday'" in reasons["a.jpg"]
    assert "go together" in reasons["b.jpg"]
    assert "not on Earth" in reasons["c.jpg"]
    assert "unreadable place" in reasons["with space.jpg"]
    assert "unreadable TakenAt" in reasons["sub/d.jpg"]
    assert all(r.startswith("row ") for r in reasons.values())


def test_quoted_line_breaks_join_lines_into_one_row(tmp_path: Path, images: Path) -> None:
    text = ('Image,Id,Notes\n'
            'a.jpg,w_1,"first line\n'
            '\n'
            'third, with ""quotes"""\n'
            'b.jpg,w_2,plain\n'
            'c.jpg,w_3,"never closed\n'                      # an unbalanced quote: its own line only
            'with space.jpg,w_4,"x" trailing\n')           # not cleanly quoted: read as the csv module does
    cat = read_catalogue(write(tmp_path / "t.csv", text), images)
    assert [(e.row, e.name, e.whale_id) for e in cat.entries] == [
        (2, "a.jpg", "w_1"), (5, "b.jpg", "w_2"), (6, "c.jpg", "w_3"), (7, "with space.jpg", "w_4")]
    assert cat.whale_notes == {"w_1": 'first line\n\nthird, with "quotes"', "w_2": "plain",
                               "w_3": "never closed", "w_4": "x trailing"}
    assert cat.errors == []


def test_a_whale_without_photos_is_a_row_without_an_image(tmp_path: Path, images: Path) -> None:
    text = "Image,Id,Name,Notes\na.jpg,w_1,,\n,w_ghost,Ghost,all photos removed\n,w_ghost,,\n,bad id,x,\n"
    cat = read_catalogue(write(tmp_path / "t.csv", text), images)
    assert [e.whale_id for e in cat.entries] == ["w_1"]
    assert cat.bare_whales == ["w_ghost"]
    assert (cat.whale_names, cat.whale_notes) == ({"w_ghost": "Ghost"}, {"w_ghost": "all photos removed"})
    assert len(cat.errors) == 1 and "invalid whale id" in cat.errors[0][1]
    # Without a Name or Notes column (a plain Kaggle CSV) a row without an image is an error, as ever.
    cat = read_catalogue(write(tmp_path / "t.csv", "Image,Id\n,w_ghost\n"), images)
    assert cat.bare_whales == [] and "no image file name" in cat.errors[0][1]
