"""Training's catalogue readers: built on the app's reader, they refuse a catalogue with unusable rows,
paths that leave the images folder included, and keep ``new_whale`` photos apart as queries."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from training.data import read_catalogue, read_folders
from whalegui.core.errors import CatalogueError
from whalegui.core.records import NEW_WHALE


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "img"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        Image.new("RGB", (40, 20), "gray").save(folder / name)
    Image.new("RGB", (40, 20), "gray").save(tmp_path / "outside.jpg")
    return folder


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_known_and_new_whale_rows(tmp_path: Path, images: Path) -> None:
    csv_path = _csv(tmp_path / "t.csv", "Image,Id\na.jpg,w_1\nb.jpg,new_whale\nc.jpg,w_2\n")
    cat = read_catalogue(csv_path, images)
    a, b, c = (images / n for n in ("a.jpg", "b.jpg", "c.jpg"))
    assert cat.paths == [a, c] and cat.ids == ["w_1", "w_2"] and cat.unknown == [b]
    assert cat.queries() == ([a, c, b], ["w_1", "w_2", NEW_WHALE])


def test_errors_name_the_file_and_the_row(tmp_path: Path, images: Path) -> None:
    with pytest.raises(CatalogueError, match="'Image' and 'Id'"):
        read_catalogue(_csv(tmp_path / "bad.csv", "file,whale\na.jpg,w_1\n"), images)
    with pytest.raises(CatalogueError, match=r"1 problem\(s\).*d\.jpg: row 3: file not found"):
        read_catalogue(_csv(tmp_path / "missing.csv", "Image,Id\na.jpg,w_1\nd.jpg,w_2\n"), images)
    with pytest.raises(CatalogueError, match="no rows"):
        read_catalogue(_csv(tmp_path / "empty.csv", "Image,Id\n"), images)


@pytest.mark.parametrize("label", ["w_1", NEW_WHALE])
@pytest.mark.parametrize(("name", "why"), [("../outside.jpg", "leaves the images folder"),
                                           ("..\\outside.jpg", "leaves the images folder"),
                                           ("sub/../../outside.jpg", "leaves the images folder"),
                                           ("ABSOLUTE", "absolute path")])
def test_a_path_escaping_the_images_folder_is_refused(tmp_path: Path, images: Path, name: str, why: str,
                                                      label: str) -> None:
    if name == "ABSOLUTE":
        name = str(tmp_path / "outside.jpg")
    csv_path = _csv(tmp_path / "t.csv", f"Image,Id\na.jpg,w_1\n{name},{label}\n")
    with pytest.raises(CatalogueError, match=why) as err:
        read_catalogue(csv_path, images)
    assert "row 3" in str(err.value)


def test_a_link_out_of_the_images_folder_is_refused(tmp_path: Path, images: Path) -> None:
    (images / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    with pytest.raises(CatalogueError, match="outside the images folder"):
        read_catalogue(_csv(tmp_path / "t.csv", "Image,Id\nlink.jpg,w_1\n"), images)


def test_duplicate_rows_and_bad_whale_ids_are_refused(tmp_path: Path, images: Path) -> None:
    with pytest.raises(CatalogueError, match=r"2 problem\(s\).*duplicate row.*row 4"):
        read_catalogue(_csv(tmp_path / "t.csv", "Image,Id\na.jpg,w_1\na.jpg,w_2\nb.jpg,bad id\n"), images)


def test_folders_per_whale(tmp_path: Path) -> None:
    root = tmp_path / "whales"
    for folder in ("w_1", "w_2", NEW_WHALE):
        (root / folder).mkdir(parents=True)
        for j in range(2):
            Image.new("RGB", (40, 20), "gray").save(root / folder / f"{j}.jpg")
    cat = read_folders(root)
    assert cat.ids == ["w_1", "w_1", "w_2", "w_2"]
    assert cat.unknown == [root / NEW_WHALE / "0.jpg", root / NEW_WHALE / "1.jpg"]
    Image.new("RGB", (40, 20), "gray").save(root / "loose.jpg")
    with pytest.raises(CatalogueError, match=r"loose\.jpg: not in a whale's folder"):
        read_folders(root)
    with pytest.raises(CatalogueError):
        read_folders(tmp_path / "nope")
