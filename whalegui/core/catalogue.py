"""Labelled catalogues to import: Kaggle format (``Image,Id`` CSV + images folder) or one folder per whale.

A catalogue is read into entries (file, whale id) and per-row errors; a bad row never stops the others. A
problem with the whole file (unreadable, no ``Image``/``Id`` columns) raises :class:`CatalogueError`.
File names may not leave the images folder (absolute paths, ``..``, symbolic links pointing outside).
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from whalegui.core.errors import CatalogueError, GalleryError
from whalegui.core.images import is_photo_file
from whalegui.core.records import NEW_WHALE, validate_whale_id

log = logging.getLogger(__name__)

IMAGE_COLUMN = "image"
ID_COLUMN = "id"


@dataclass(frozen=True)
class CatalogueEntry:
    row: int  # 1-based line of the CSV (the header is row 1); 0 for folder catalogues
    name: str  # as written in the CSV (or the path relative to the images folder)
    path: Path
    whale_id: str


@dataclass
class Catalogue:
    source: Path
    entries: list[CatalogueEntry] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    skipped_new_whale: int = 0
    # (row, file name) of the CSV rows labelled new_whale: not whale ids, so never imported; training's
    # evaluation uses them as queries. Their paths are not checked here (see ``safe_join``).
    new_whale_rows: list[tuple[int, str]] = field(default_factory=list)
    whale_names: dict[str, str] = field(default_factory=dict)  # display names (folder catalogues)


def decode_text(data: bytes) -> str:
    """Decode a text file of unknown encoding: UTF-16 or UTF-8 (with or without BOM), else Windows-1252,
    else Latin-1 (which always succeeds)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def safe_join(root: Path, name: str) -> Path:
    """``root / name`` if it stays inside ``root``; else raise ValueError saying why."""
    if not name or "\x00" in name:
        raise ValueError("empty or invalid file name")
    text = name.replace("\\", "/")
    pure = PurePosixPath(text)
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", text) or text.startswith("~"):
        raise ValueError("refused: an absolute path (file names must be inside the images folder)")
    if any(part == ".." for part in pure.parts):
        raise ValueError("refused: the path leaves the images folder ('..')")
    path = root.joinpath(*pure.parts)
    try:
        resolved = path.resolve()
        if not resolved.is_relative_to(root.resolve()):
            raise ValueError("refused: the path leads outside the images folder (a link?)")
    except (OSError, RuntimeError) as exc:
        raise ValueError(f"unusable path ({exc})") from exc
    return path


def read_catalogue(csv_path: str | Path, images_dir: str | Path) -> Catalogue:
    """Read a Kaggle-format catalogue: a CSV with ``Image`` and ``Id`` columns (any case, any order; comma,
    semicolon or tab separated; UTF-8 with or without BOM, UTF-16, Windows-1252 or Latin-1)."""
    csv_path, root = Path(csv_path), Path(images_dir)
    if not root.is_dir():
        raise CatalogueError(root, "the images folder does not exist")
    try:
        text = decode_text(csv_path.read_bytes())
    except FileNotFoundError as exc:
        raise CatalogueError(csv_path, "file not found") from exc
    except IsADirectoryError as exc:
        raise CatalogueError(csv_path, "is a folder, not a CSV file") from exc
    except OSError as exc:
        raise CatalogueError(csv_path, f"cannot read the file ({exc.strerror or exc})") from exc
    text = text.replace("\x00", "")
    # Each line is one row, parsed on its own: an unbalanced quote or an overlong field spoils its own row
    # only (file names and whale ids never hold line breaks), and any line ending works (CR LF, LF, CR).
    lines = re.split(r"\r\n|\r|\n", text)
    if not lines or not lines[0].strip():
        raise CatalogueError(csv_path, "the CSV is empty (expected a header 'Image,Id')")
    header_line = lines[0]
    delimiter = max((",", ";", "\t"), key=header_line.count)
    catalogue = Catalogue(csv_path)
    try:
        header = [h.strip().lower() for h in _parse_line(header_line, delimiter)]
    except csv.Error as exc:
        raise CatalogueError(csv_path, f"malformed header ({exc})", row=1) from exc
    if IMAGE_COLUMN not in header or ID_COLUMN not in header:
        raise CatalogueError(csv_path, f"the header must have 'Image' and 'Id' columns, it has "
                                       f"{', '.join(repr(h) for h in header[:6]) or 'none'}", row=1)
    image_col, id_col = header.index(IMAGE_COLUMN), header.index(ID_COLUMN)
    first_row: dict[str, int] = {}
    for row, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            values = _parse_line(line, delimiter)
        except csv.Error as exc:
            catalogue.errors.append((f"row {row}", f"row {row}: malformed ({exc})"))
            continue
        if all(not v.strip() for v in values):
            continue
        name = values[image_col].strip() if image_col < len(values) else ""
        whale_id = values[id_col].strip() if id_col < len(values) else ""
        label = name or f"row {row}"
        if not name:
            catalogue.errors.append((label, f"row {row}: no image file name"))
            continue
        if not whale_id:
            catalogue.errors.append((label, f"row {row}: no whale id"))
            continue
        if whale_id == NEW_WHALE:
            catalogue.skipped_new_whale += 1
            catalogue.new_whale_rows.append((row, name))
            continue
        if name in first_row:
            catalogue.errors.append((label, f"row {row}: duplicate row (the file is already listed in "
                                            f"row {first_row[name]})"))
            continue
        first_row[name] = row
        try:
            validate_whale_id(whale_id)
            path = safe_join(root, name)
        except (ValueError, GalleryError) as exc:
            catalogue.errors.append((label, f"row {row}: {exc}"))
            continue
        try:
            found = path.is_file()
        except OSError as exc:  # e.g. a name too long for the file system
            catalogue.errors.append((label, f"row {row}: unusable file name ({exc.strerror or exc})"))
            continue
        if not found:
            catalogue.errors.append((label, f"row {row}: file not found in {root}"))
            continue
        catalogue.entries.append(CatalogueEntry(row, name, path, whale_id))
    log.info("%s: %d photos, %d new_whale rows, %d errors", csv_path, len(catalogue.entries),
             catalogue.skipped_new_whale, len(catalogue.errors))
    return catalogue


def _parse_line(line: str, delimiter: str) -> list[str]:
    """The fields of one CSV line (raises ``csv.Error`` for an overlong field)."""
    return next(csv.reader([line], delimiter=delimiter), [])


def read_folder_catalogue(images_dir: str | Path) -> Catalogue:
    """Read a catalogue laid out as one sub-folder per whale (the folder name is the whale id, spaces
    becoming underscores; photos anywhere below it). Photos outside any whale's folder are errors."""
    root = Path(images_dir)
    if not root.is_dir():
        raise CatalogueError(root, "the images folder does not exist")
    catalogue = Catalogue(root)
    for item in sorted(root.iterdir()):
        if item.is_file():
            if is_photo_file(item):
                catalogue.errors.append((item.name, "not in a whale's folder (one sub-folder per whale)"))
            continue
        if not item.is_dir() or item.name.startswith("."):
            continue
        whale_id = re.sub(r"\s+", "_", item.name.strip())
        if whale_id == NEW_WHALE:
            catalogue.skipped_new_whale += sum(1 for p in item.rglob("*") if p.is_file() and is_photo_file(p))
            continue
        try:
            validate_whale_id(whale_id)
        except GalleryError as exc:
            catalogue.errors.append((item.name, str(exc)))
            continue
        if whale_id != item.name:
            catalogue.whale_names[whale_id] = item.name
        for photo in sorted(p for p in item.rglob("*") if p.is_file() and is_photo_file(p)):
            # Found by walking the folder, so inside it; a linked file is the user's own choice.
            catalogue.entries.append(CatalogueEntry(0, photo.relative_to(root).as_posix(), photo, whale_id))
    return catalogue


__all__ = ["Catalogue", "CatalogueEntry", "decode_text", "read_catalogue", "read_folder_catalogue",
           "safe_join"]
