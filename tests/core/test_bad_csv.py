"""Bad catalogue CSVs imported into a real gallery: clear per-row errors, the rest imported.

Missing columns, unknown photos, duplicate rows, paths escaping the images folder, odd encodings and line
endings, empty files, blank lines, broken quoting, overlong fields; then a bounded hypothesis fuzz of the
reader (structured rows and raw bytes) and of the whole import: nothing but the project's typed errors.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.flukes import pattern_photo
from whalegui.cli import main
from whalegui.core.catalogue import read_catalogue
from whalegui.core.embedder import Embedder
from whalegui.core.errors import CatalogueError, WhaleguiError
from whalegui.core.gallery import Gallery, validate_whale_id

GOOD = ["a.jpg", "b.jpg", "c.jpg", "baleine_é.jpg", "with space.jpg", "sub/d.jpg"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An images folder of real JPEGs (one distinct photo per name), a photo outside it, a link out."""
    root = tmp_path_factory.mktemp("catalogue")
    images = root / "images"
    for k, name in enumerate(GOOD):
        pattern_photo(images / name, k, k)
    shutil.copy(images / "a.jpg", images / "a_copy.jpg")  # the same photo under another name
    (images / "notes.jpg").write_text("not a photo", encoding="utf-8")
    pattern_photo(root / "outside.jpg", 99)
    os.symlink(root / "outside.jpg", images / "link.jpg")
    return images


def write(path: Path, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def imported(g: Gallery) -> dict[str, str]:
    return {p.original_name: p.whale_id for p in g.photos()}


def reasons_for(errors: list[tuple[str, str]], name: str) -> list[str]:
    return [reason for n, reason in errors if n == name]


# ---------------------------------------------------------------------------------------------- cases

def test_every_kind_of_bad_row_is_reported_and_the_rest_imported(tmp_path: Path, source: Path,
                                                                  embedder: Embedder) -> None:
    csv_path = write(tmp_path / "train.csv",
                     "Image,Id\n"
                     "a.jpg,w_a\n"
                     "\n"                            # blank lines are ignored
                     "missing.jpg,w_a\n"             # unknown photo
                     "b.jpg,w_b\n"
                     "a.jpg,w_a\n"                   # duplicate row, same whale
                     "a.jpg,w_z\n"                   # duplicate row, another whale
                     "../outside.jpg,w_a\n"          # escapes the images folder
                     "sub/../../outside.jpg,w_a\n"
                     "..\\outside.jpg,w_a\n"
                     f"{source.parent / 'outside.jpg'},w_a\n"  # an absolute path
                     "C:\\photos\\x.jpg,w_a\n"
                     "~/x.jpg,w_a\n"
                     "link.jpg,w_a\n"                # a link leading out of the folder
                     "notes.jpg,w_c\n"               # not a photo
                     "c.jpg,new_whale\n"             # not an identity: skipped
                     "c.jpg\n"                       # too few fields
                     ",w_c\n"                        # no file name
                     "with space.jpg,bad id\n"       # invalid whale id
                     "a_copy.jpg,w_c\n"              # the same photo as a.jpg: a duplicate, not an error
                     "sub/d.jpg,w_b\n"
                     "baleine_é.jpg,w_c,extra,fields\n"
                     "   \n")
    with Gallery.open(tmp_path / "g", embedder) as g:
        report = g.import_catalogue(csv_path, source)
        assert imported(g) == {"a.jpg": "w_a", "b.jpg": "w_b", "d.jpg": "w_b", "baleine_é.jpg": "w_c"}
        assert report.imported == 4 and report.skipped_duplicates == 1 and report.skipped_new_whale == 1
        errors = report.errors
        assert "file not found" in reasons_for(errors, "missing.jpg")[0]
        assert len(reasons_for(errors, "a.jpg")) == 2
        assert all("duplicate row (the file is already listed in row 2)" in r
                   for r in reasons_for(errors, "a.jpg"))
        for name in ("../outside.jpg", "sub/../../outside.jpg", "..\\outside.jpg"):
            assert "leaves the images folder" in reasons_for(errors, name)[0], name
        for name in (str(source.parent / "outside.jpg"), "C:\\photos\\x.jpg", "~/x.jpg"):
            assert "absolute path" in reasons_for(errors, name)[0], name
        assert "outside the images folder" in reasons_for(errors, "link.jpg")[0]
        assert reasons_for(errors, "notes.jpg")  # named, with the loader's reason
        assert "no whale id" in reasons_for(errors, "c.jpg")[0]
        assert any("no image file name" in r for _, r in errors)
        assert "invalid whale id" in reasons_for(errors, "with space.jpg")[0]
        assert len(errors) == 14, errors
        assert all(r.startswith("row ") for n, r in errors if n != "notes.jpg")
        assert g.check().healthy
        # Nothing from outside the images folder got in.
        assert g.find_photo_by_sha(_sha(source.parent / "outside.jpg")) is None


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le",
                                      "utf-16-be"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_odd_encodings_and_line_endings(tmp_path: Path, source: Path, encoding: str, newline: str) -> None:
    csv_path = write(tmp_path / "t.csv", "Image,Id\nbaleine_é.jpg,w_1\n\na.jpg,w_2\n", encoding, newline)
    cat = read_catalogue(csv_path, source)
    # (UTF-16 without a byte-order mark reads too: as Windows-1252 with its NULs dropped.)
    assert [(e.name, e.whale_id) for e in cat.entries] == [("baleine_é.jpg", "w_1"), ("a.jpg", "w_2")]
    assert cat.errors == []
    assert [e.row for e in cat.entries] == [2, 4]  # rows are the file's lines, blank ones counted


def test_whole_file_problems_are_one_clear_error_and_change_nothing(
        tmp_path: Path, source: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gallery = tmp_path / "g"
    cases = {
        "empty.csv": (b"", "empty"),
        "blank.csv": (b"\n\n  \n", "empty"),
        "bom-only.csv": (b"\xef\xbb\xbf", "empty"),
        "no-id.csv": (b"Image,Whale\na.jpg,w_1\n", "'Image' and 'Id' columns"),
        "no-image.csv": (b"File,Id\na.jpg,w_1\n", "'Image' and 'Id' columns"),
        "binary.csv": (bytes(range(256)) * 4, "'Image' and 'Id' columns"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CatalogueError, match=message) as info:
            read_catalogue(tmp_path / name, source)
        assert info.value.path == tmp_path / name
        capsys.readouterr()
        code = main(["import", "--gallery", str(gallery), "--model", str(model),
                     "--csv", str(tmp_path / name), "--images", str(source)])
        out, err = capsys.readouterr()
        assert code == 1 and message.split()[0] in err and "Traceback" not in out + err, (name, err)
        assert len(err.strip().splitlines()) == 1, err
    with Gallery.open(gallery, None, readonly=True) as g:  # opened, and nothing added
        assert g.photo_count() == 0 and g.whale_count() == 0
    capsys.readouterr()
    assert main(["import", "--gallery", str(gallery), "--model", str(model),
                 "--csv", str(tmp_path / "nope.csv"), "--images", str(source)]) == 1
    assert "not found" in capsys.readouterr().err


def test_header_only_imports_nothing(tmp_path: Path, source: Path, embedder: Embedder) -> None:
    with Gallery.open(tmp_path / "g", embedder) as g:
        report = g.import_catalogue(write(tmp_path / "t.csv", "Image,Id\n"), source)
        assert report.imported == 0 and report.errors == [] and g.photo_count() == 0


def test_broken_quoting_and_overlong_fields_spoil_only_their_row(tmp_path: Path, source: Path,
                                                                 embedder: Embedder) -> None:
    text = ("Image,Id\n"
            '"a.jpg,w_1\n'                       # an unbalanced quote
            f"{'x' * 200_000}.jpg,w_1\n"        # longer than the csv module's field limit
            '"b.jpg",w_2\n'                      # quoted: fine
            f"{'y' * 300}.jpg,w_1\n"             # longer than the file system allows a name to be
            'c.jpg,"w_3"\n')
    cat = read_catalogue(write(tmp_path / "t.csv", text), source)
    assert [(e.name, e.whale_id) for e in cat.entries] == [("b.jpg", "w_2"), ("c.jpg", "w_3")]
    assert [r.split(":")[0] for _, r in cat.errors] == ["row 2", "row 3", "row 5"]
    assert "field larger than field limit" in cat.errors[1][1]
    assert "unusable file name" in cat.errors[2][1]
    with Gallery.open(tmp_path / "g", embedder) as g:
        report = g.import_catalogue(tmp_path / "t.csv", source)
        assert report.imported == 2 and len(report.errors) == 3


def test_semicolons_tabs_and_quoted_names_with_commas(tmp_path: Path, source: Path) -> None:
    shutil.copy(source / "a.jpg", tmp_path / "x, y.jpg")
    (tmp_path / "images").mkdir()
    shutil.move(tmp_path / "x, y.jpg", tmp_path / "images" / "x, y.jpg")
    for text in ('Image,Id\n"x, y.jpg",w_1\n', "Image;Id\nx, y.jpg;w_1\n", "Image\tId\nx, y.jpg\tw_1\n"):
        cat = read_catalogue(write(tmp_path / "t.csv", text), tmp_path / "images")
        assert [(e.name, e.whale_id) for e in cat.entries] == [("x, y.jpg", "w_1")], text


def test_import_through_the_cli_lists_bad_rows_and_imports_the_rest(
        tmp_path: Path, source: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = write(tmp_path / "t.csv", "\ufeffImage;Id\na.jpg;w_1\n../outside.jpg;w_1\nmissing.jpg;w_2\n"
                                         "a.jpg;w_1\nb.jpg;w_2\n", "utf-8", "\r\n")
    gallery = tmp_path / "g"
    code = main(["import", "--gallery", str(gallery), "--model", str(model), "--csv", str(csv_path),
                 "--images", str(source)])
    out, err = capsys.readouterr()
    assert code == 1  # some rows failed
    assert "skipped ../outside.jpg: row 3: refused" in err
    assert "skipped missing.jpg: row 4: file not found" in err
    assert "skipped a.jpg: row 5: duplicate row" in err
    assert "imported 2 photos (2 new whales)" in out and "3 with errors" in out
    assert "Traceback" not in out + err


# ---------------------------------------------------------------------------------------------- fuzzing

_TOKENS = st.sampled_from(
    [*GOOD, "a_copy.jpg", "notes.jpg", "link.jpg", "missing.jpg", "../outside.jpg", "/etc/passwd", "..", ".",
     "C:\\x.jpg", "~", "", " ", '"', '""', "'", ",", ";", "\t", "new_whale", "w_1", "w_2", "bad id", "é",
     "\u202e", "\x00", "\ufeff", "x" * 300, "sub/", "sub\\d.jpg", "a.jpg ", "A.JPG"])
_ROW = st.lists(_TOKENS, min_size=0, max_size=4).map(",".join)
_HEADER = st.sampled_from(["Image,Id", "Id,Image", "image;id", "IMAGE\tID", "Image,Id,Extra", "Image", "",
                           "Id,Image,Image"])
_ENCODING = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])
_NEWLINE = st.sampled_from(["\n", "\r\n", "\r"])

#: Bounded fuzzing: examples per test (the figures the reliability report quotes).
FUZZ_STRUCTURED = 300
FUZZ_BYTES = 300
FUZZ_IMPORT = 20


def _check_catalogue(csv_path: Path, images: Path) -> None:
    try:
        cat = read_catalogue(csv_path, images)
    except CatalogueError as exc:
        assert exc.path == csv_path and exc.reason
        return
    names = [e.name for e in cat.entries]
    assert len(names) == len(set(names))
    root = images.resolve()
    for e in cat.entries:
        assert e.path.resolve().is_relative_to(root) and e.path.is_file()
        assert validate_whale_id(e.whale_id) == e.whale_id
    for name, reason in cat.errors:
        assert isinstance(name, str) and reason


@settings(max_examples=FUZZ_STRUCTURED, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # the file is rewritten each time
@given(header=_HEADER, rows=st.lists(_ROW, max_size=8), encoding=_ENCODING, newline=_NEWLINE)
def test_fuzz_structured_rows(tmp_path: Path, source: Path, header: str, rows: list[str], encoding: str,
                              newline: str) -> None:
    text = newline.join([header, *rows])
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    (tmp_path / "t.csv").write_bytes(data)
    _check_catalogue(tmp_path / "t.csv", source)


_FIXTURES_OK = [HealthCheck.function_scoped_fixture]  # tmp_path is reused on purpose: the file is rewritten


@settings(max_examples=FUZZ_BYTES, deadline=None, suppress_health_check=_FIXTURES_OK)
@given(prefix=st.sampled_from([b"", b"Image,Id\n", b"\xef\xbb\xbfImage,Id\r\n",
                               "Image,Id\n".encode("utf-16")]),
       data=st.binary(max_size=600))
def test_fuzz_raw_bytes(tmp_path: Path, source: Path, prefix: bytes, data: bytes) -> None:
    (tmp_path / "t.csv").write_bytes(prefix + data)
    _check_catalogue(tmp_path / "t.csv", source)


@settings(max_examples=FUZZ_IMPORT, deadline=None, suppress_health_check=_FIXTURES_OK)
@given(rows=st.lists(_ROW, min_size=1, max_size=6))
def test_fuzz_import_into_a_gallery(tmp_path_factory: pytest.TempPathFactory, source: Path,
                                    embedder: Embedder, rows: list[str]) -> None:
    folder = tmp_path_factory.mktemp("fuzzimport")
    csv_path = folder / "t.csv"
    csv_path.write_text("\n".join(["Image,Id", *rows]), encoding="utf-8")
    with Gallery.open(folder / "g", embedder) as g:
        try:
            report = g.import_catalogue(csv_path, source)
        except WhaleguiError:
            assert g.photo_count() == 0
            return
        assert report.imported == g.photo_count()
        assert report.imported + report.skipped_duplicates <= len(rows)
        root = source.resolve()
        for p in g.photos():
            assert (root / p.original_name).exists() or any(root.rglob(p.original_name))
        assert g.check().healthy


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
