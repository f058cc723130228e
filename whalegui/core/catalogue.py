"""Labelled catalogues to import: Kaggle format (``Image,Id`` CSV + images folder) or one folder per whale.

A catalogue is read into entries (file, whale id) and per-row errors; a bad row never stops the others. A
problem with the whole file (unreadable, no ``Image``/``Id`` columns) raises :class:`CatalogueError`.
File names may not leave the images folder (absolute paths, ``..``, symbolic links pointing outside).

Beyond ``Image`` and ``Id``, the columns a gallery's export writes (:data:`CATALOGUE_COLUMNS`) are read
when present, so an export imports back whole: each whale's ``Name`` and ``Notes``, each photo's
``OriginalName``, ``TakenAt`` (ISO 8601) and place (``Lat``, ``Lon`` in decimal degrees), and the sighting
it belongs to (``Sighting``: its uid, so the rows of one sighting stay one; ``SeenAt``, ``SightingLat``,
``SightingLon``, ``Place``, ``Observer``, ``Vessel``, ``SightingNotes``). A row with a whale id and no
image, in a CSV with a ``Name`` or ``Notes`` column, lists a whale that has no photo.
A quoted field may hold line breaks (multi-line notes, as spreadsheets write them).
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from whalegui.core.errors import CatalogueError, GalleryError
from whalegui.core.images import is_photo_file
from whalegui.core.records import NEW_WHALE, validate_whale_id
from whalegui.core.sightings import Sighting

log = logging.getLogger(__name__)

#: The columns of a catalogue CSV, as a gallery's export writes them: ``Image,Id`` first (what Kaggle
#: readers need), then what a researcher entered, then the photo's hash (written, not needed to read).
CATALOGUE_COLUMNS = ("Image", "Id", "Name", "Notes", "OriginalName", "TakenAt", "Lat", "Lon", "SHA256",
                     "Sighting", "SeenAt", "SightingLat", "SightingLon", "Place", "Observer", "Vessel",
                     "SightingNotes")
IMAGE_COLUMN = "image"
ID_COLUMN = "id"
#: Header names (lower case, without spaces, ``_`` or ``-``) of the optional columns, aliases included.
_OPTIONAL_COLUMNS = {"name": ("name",), "notes": ("notes",), "original": ("originalname",),
                     "taken": ("takenat",), "lat": ("lat", "latitude"), "lon": ("lon", "longitude"),
                     "sighting": ("sighting", "sightingid"), "seen": ("seenat", "sightingdate"),
                     "slat": ("sightinglat",), "slon": ("sightinglon",), "place": ("place",),
                     "observer": ("observer",), "vessel": ("vessel",), "snotes": ("sightingnotes",)}
_EXIF_DATETIME_FORMAT = "%Y:%m:%d %H:%M:%S"
#: The most lines one quoted field may span (a longer one is taken as an unbalanced quote).
_MAX_RECORD_LINES = 200


@dataclass(frozen=True)
class CatalogueEntry:
    """One photo of a catalogue, with what the catalogue says about it (None: it does not say)."""

    row: int  # 1-based line of the CSV (the header is row 1); 0 for folder catalogues
    name: str  # as written in the CSV (or the path relative to the images folder)
    path: Path
    whale_id: str
    original_name: str | None = None  # the photo's own file name, before a gallery stored it
    taken_at: datetime | None = None  # when it was taken (else the photo's EXIF says)
    gps: tuple[float, float] | None = None  # (latitude, longitude) in decimal degrees (else EXIF's)
    sighting: Sighting | None = None  # the sighting the catalogue files it under (None: it does not say)


@dataclass
class Catalogue:
    """A labelled catalogue read from a CSV or a folder: its photos, whales and per-row errors."""

    source: Path
    entries: list[CatalogueEntry] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    skipped_new_whale: int = 0
    # (row, file name) of the CSV rows labelled new_whale: not whale ids, so never imported; training's
    # evaluation uses them as queries. Their paths are not checked here (see ``safe_join``).
    new_whale_rows: list[tuple[int, str]] = field(default_factory=list)
    whale_names: dict[str, str] = field(default_factory=dict)  # display names by whale id
    whale_notes: dict[str, str] = field(default_factory=dict)
    bare_whales: list[str] = field(default_factory=list)  # whales listed without any photo


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
    semicolon or tab separated; UTF-8 with or without BOM, UTF-16, Windows-1252 or Latin-1), and the
    optional columns of :data:`CATALOGUE_COLUMNS` when present."""
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
    # only, and any line ending works (CR LF, LF, CR). Only a quoted field that closes cleanly on a later
    # line joins lines (file names and whale ids never hold line breaks; notes may).
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
    columns = _Columns(header)
    first_row: dict[str, int] = {}
    for row, record in _records(lines, delimiter):
        if not record.strip():
            continue
        try:
            values = _parse_line(record, delimiter)
        except csv.Error as exc:
            catalogue.errors.append((f"row {row}", f"row {row}: malformed ({exc})"))
            continue
        if all(not v.strip() for v in values):
            continue
        name, whale_id = columns.get(values, columns.image), columns.get(values, columns.whale)
        label = name or f"row {row}"
        if not name and whale_id and whale_id != NEW_WHALE and columns.lists_whales:
            _read_bare_whale(catalogue, columns, values, row, whale_id)
            continue
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
            taken_at = _parse_taken_at(columns.get(values, columns.taken))
            gps = _parse_place(columns.get(values, columns.lat), columns.get(values, columns.lon))
            sighting = columns.sighting_of(values)
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
        catalogue.entries.append(CatalogueEntry(row, name, path, whale_id,
                                                columns.get(values, columns.original) or None, taken_at, gps,
                                                sighting))
        _note_whale(catalogue, columns, values, whale_id)
    log.info("%s: %d photos, %d new_whale rows, %d errors", csv_path, len(catalogue.entries),
             catalogue.skipped_new_whale, len(catalogue.errors))
    return catalogue


class _Columns:
    """Where each known column is in a header (None: absent)."""

    def __init__(self, header: list[str]) -> None:
        keys = [re.sub(r"[\s_-]", "", h) for h in header]
        self.image = header.index(IMAGE_COLUMN)
        self.whale = header.index(ID_COLUMN)
        found = {key: next((keys.index(a) for a in aliases if a in keys), None)
                 for key, aliases in _OPTIONAL_COLUMNS.items()}
        self.name, self.notes, self.original = found["name"], found["notes"], found["original"]
        self.taken, self.lat, self.lon = found["taken"], found["lat"], found["lon"]
        self._sighting = {k: found[k] for k in ("sighting", "seen", "slat", "slon", "place", "observer",
                                                "vessel", "snotes")}
        #: A CSV that says whales' names or notes may list a whale without a photo (a row with no image).
        self.lists_whales = self.name is not None or self.notes is not None

    @staticmethod
    def get(values: list[str], column: int | None) -> str:
        return values[column].strip() if column is not None and column < len(values) else ""

    def sighting_of(self, values: list[str]) -> Sighting | None:
        """The row's sighting; None when the row says nothing of one. Raises GalleryError/ValueError."""
        v = {k: self.get(values, c) for k, c in self._sighting.items()}
        if not any(v.values()):
            return None
        return Sighting(v["seen"], _parse_place(v["slat"], v["slon"]), v["place"], v["observer"], v["vessel"],
                        v["snotes"], v["sighting"]).checked()


def _note_whale(catalogue: Catalogue, columns: _Columns, values: list[str], whale_id: str) -> None:
    """Keep a whale's name and notes (the first row that gives them wins)."""
    for value, known in ((columns.get(values, columns.name), catalogue.whale_names),
                         (columns.get(values, columns.notes), catalogue.whale_notes)):
        if value and whale_id not in known:
            known[whale_id] = value


def _read_bare_whale(catalogue: Catalogue, columns: _Columns, values: list[str], row: int,
                     whale_id: str) -> None:
    try:
        validate_whale_id(whale_id)
    except GalleryError as exc:
        catalogue.errors.append((f"row {row}", f"row {row}: {exc}"))
        return
    if whale_id not in catalogue.bare_whales:
        catalogue.bare_whales.append(whale_id)
    _note_whale(catalogue, columns, values, whale_id)


def _parse_taken_at(text: str) -> datetime | None:
    """A ``TakenAt`` value: ISO 8601 (what the export writes) or EXIF's ``2019:07:14 09:30:00``."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.strptime(text, _EXIF_DATETIME_FORMAT)
    except ValueError:
        raise ValueError(f"unreadable TakenAt {text[:40]!r} (expected a date and time like "
                         "2019-07-14T09:30:00)") from None


def _parse_place(lat_text: str, lon_text: str) -> tuple[float, float] | None:
    """A ``Lat``, ``Lon`` pair in decimal degrees (a decimal comma is accepted); both or neither."""
    if not lat_text and not lon_text:
        return None
    if not lat_text or not lon_text:
        raise ValueError("Lat and Lon go together, and one of them is empty")
    try:
        lat, lon = float(lat_text.replace(",", ".")), float(lon_text.replace(",", "."))
    except ValueError:
        raise ValueError(f"unreadable place {lat_text[:20]!r}, {lon_text[:20]!r} (expected decimal "
                         "degrees like -64.5, -62.9)") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"place {lat}, {lon} is not on Earth (latitude -90..90, longitude -180..180)")
    return (lat, lon)


# The quoting states of a CSV record, by the csv module's rules.
_START, _FIELD, _QUOTED, _CLOSING = range(4)


def _records(lines: list[str], delimiter: str) -> Iterator[tuple[int, str]]:
    """The records after the header: (row of its first line, its text)."""
    i = 1
    while i < len(lines):
        end = _record_end(lines, i, delimiter)
        yield i + 1, "\n".join(lines[i:end])
        i = end


def _record_end(lines: list[str], start: int, delimiter: str) -> int:
    """The line after the record starting at ``lines[start]``: the next line, unless a quoted field opens
    there and closes cleanly (its closing quote followed by a delimiter or the line's end) on a later line
    within :data:`_MAX_RECORD_LINES`."""
    state = _scan(lines[start], delimiter, _START)
    for j in range(start + 1, min(len(lines), start + _MAX_RECORD_LINES)):
        if state != _QUOTED:
            break
        state = _scan(lines[j], delimiter, _QUOTED)
        if state is not None and state != _QUOTED:
            return j + 1
    return start + 1


def _scan(line: str, delimiter: str, state: int | None) -> int | None:
    """The quoting state after ``line``; None when a closing quote is followed by anything but a quote or
    a delimiter (not a cleanly quoted field)."""
    for ch in line:
        if state == _QUOTED:
            if ch == '"':
                state = _CLOSING
        elif state == _CLOSING:
            if ch == '"':
                state = _QUOTED  # a doubled quote inside a quoted field
            elif ch == delimiter:
                state = _START
            else:
                return None
        elif state == _START:
            if ch == '"':
                state = _QUOTED
            elif ch != delimiter:
                state = _FIELD
        elif ch == delimiter:  # _FIELD: a quote here is an ordinary character
            state = _START
    return state


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


__all__ = ["CATALOGUE_COLUMNS", "Catalogue", "CatalogueEntry", "decode_text", "read_catalogue",
           "read_folder_catalogue", "safe_join"]
