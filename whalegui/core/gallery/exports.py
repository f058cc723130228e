"""Catalogues out of a gallery, in three layouts (:func:`export`).

- ``csv``: the gallery's own catalogue, every photo a row in the columns
  :data:`~whalegui.core.catalogue.CATALOGUE_COLUMNS` that the catalogue reader reads back (whale ids,
  names and notes; each photo's original name, EXIF date and position, hash; its sighting), with ``Image``
  the stored photo's path inside the gallery folder: importing it with the gallery folder as the images
  folder gives the same catalogue. A whale without photos is a row with no ``Image``.
- ``dwc``: a Darwin Core occurrence table, one row per whale per sighting (an occurrence: one organism at
  one event), as GBIF and OBIS take it: ``occurrenceID`` (gallery id, sighting uid and whale id),
  ``eventDate`` (ISO 8601), ``decimalLatitude``/``decimalLongitude`` (WGS84), ``scientificName``
  *Megaptera novaeangliae*, ``individualID``, ``basisOfRecord`` HumanObservation, ``recordedBy``,
  ``locality``, ``associatedMedia`` (the stored photos' paths, `` | `` between them) and a few more.
- ``wildbook``: a Wildbook bulk-import sheet, one encounter (a whale at a sighting) per row, in the column
  names of Wildbook's bulk-import documentation (``Encounter.mediaAsset0`` ..., ``MarkedIndividual.
  individualID``, ``Encounter.year`` ..., ``Occurrence.occurrenceID``). Media are the stored files' names,
  to upload with them from the gallery's ``photos`` folder.
- ``pairs``: the review decisions as labelled pairs (:data:`PAIR_COLUMNS`), one row per (query photo,
  candidate photo) a review showed, in the order decided: both photos' hashes and stored files (empty when
  the candidate photo has since left the catalogue), the candidate's whale and the whale chosen for the
  query, ``same`` and ``explicit`` (1/0), the distance and rank the review showed, ``keep`` (whether
  training may use it) and when it was decided. ``query_whale`` and ``candidate_now`` are the photos'
  current whales (a photo moved or whales merged since may differ from the decision).

Every file is written to a temporary name and renamed over the target, so a crash leaves the old one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from whalegui.core.catalogue import CATALOGUE_COLUMNS
from whalegui.core.gallery.files import write_atomic
from whalegui.core.gallery.store import GalleryStore

FORMATS = ("csv", "dwc", "wildbook", "pairs")
SCIENTIFIC_NAME = "Megaptera novaeangliae"
DWC_COLUMNS = ("occurrenceID", "basisOfRecord", "eventID", "eventDate", "decimalLatitude", "decimalLongitude",
               "geodeticDatum", "scientificName", "vernacularName", "individualID", "organismName",
               "individualCount", "recordedBy", "locality", "associatedMedia", "occurrenceRemarks")
WILDBOOK_COLUMNS = ("MarkedIndividual.individualID", "MarkedIndividual.nickname", "Encounter.genus",
                    "Encounter.specificEpithet", "Encounter.year", "Encounter.month", "Encounter.day",
                    "Encounter.hour", "Encounter.minutes", "Encounter.decimalLatitude",
                    "Encounter.decimalLongitude", "Encounter.verbatimLocality", "Occurrence.occurrenceID",
                    "Encounter.photographer0.fullName", "Survey.vessel", "Encounter.occurrenceRemarks")
PAIR_COLUMNS = ("query_sha256", "query_file", "query_whale", "candidate_sha256", "candidate_file",
                "candidate_whale", "candidate_now", "chosen_whale", "same", "explicit", "distance", "rank",
                "keep", "decided_at")


def export(store: GalleryStore, path: str | Path | io.TextIOBase, fmt: str = "csv") -> int:
    """Write the gallery's catalogue in layout ``fmt`` (:data:`FORMATS`) to a file (atomically) or an open
    text stream. Returns the number of data rows."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    header, rows = {"csv": _catalogue, "dwc": _darwin_core, "wildbook": _wildbook,
                    "pairs": _pairs}[fmt](store)
    _write(path, header, rows)
    return len(rows)


def _photo_rows(store: GalleryStore) -> list[tuple[Any, ...]]:
    """Every photo with its whale and sighting: file, whale id, name, notes, original name, taken_at, lat,
    lon, sha256, then the sighting's uid, seen_at, lat, lon, place, observer, vessel, notes (None when the
    photo has none, or the gallery is not upgraded yet)."""
    if store.schema_version >= 3:
        sighting = ("s.uid, s.seen_at, s.lat, s.lon, s.place, s.observer, s.vessel, s.notes",
                    "LEFT JOIN sightings s ON s.id = p.sighting_id")
    else:
        sighting = ("NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL", "")
    return store.query(
        f"SELECT p.file, p.whale_id, w.name, w.notes, p.original_name, p.taken_at, p.lat, p.lon, p.sha256, "
        f"{sighting[0]} FROM photos p JOIN whales w ON w.id = p.whale_id {sighting[1]} "
        "ORDER BY p.whale_id, p.id")


def _catalogue(store: GalleryStore) -> tuple[Sequence[str], list[list[Any]]]:
    rows = [list(r) for r in _photo_rows(store)]
    rows += [["", r[0], r[1], r[2]] + [""] * (len(CATALOGUE_COLUMNS) - 4) for r in store.query(
        "SELECT w.id, w.name, w.notes FROM whales w WHERE NOT EXISTS "
        "(SELECT 1 FROM photos p WHERE p.whale_id = w.id) ORDER BY w.id")]
    return CATALOGUE_COLUMNS, rows


def _encounters(store: GalleryStore) -> list[list[tuple[Any, ...]]]:
    """The photos grouped into encounters (one whale at one sighting), by date (undated last)."""
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for r in _photo_rows(store):
        groups.setdefault((r[1], r[9] or f"photo-{r[8]}"), []).append(r)
    return sorted(groups.values(), key=lambda g: (not g[0][10], g[0][10] or "", g[0][1], g[0][9] or ""))


def _position(r: Sequence[Any]) -> tuple[Any, Any]:
    """A photo row's latitude and longitude: its sighting's, else its EXIF's (None, None when neither)."""
    return (r[11], r[12]) if r[11] is not None else (r[6], r[7])


def _darwin_core(store: GalleryStore) -> tuple[Sequence[str], list[list[Any]]]:
    gallery = store.gallery_id
    rows = []
    for group in _encounters(store):
        first = group[0]
        uid = first[9] or f"photo-{first[8]}"
        lat, lon = _position(first)
        when = first[10] or (first[5] or "")[:19]
        rows.append([f"whalegui:{gallery}:{uid}:{first[1]}", "HumanObservation", f"whalegui:{gallery}:{uid}",
                     when, lat, lon, "WGS84" if lat is not None else "", SCIENTIFIC_NAME, "humpback whale",
                     first[1], first[2], 1, first[14] or "", first[13] or "",
                     " | ".join(str(PurePosixPath(r[0])) for r in group), first[16] or ""])
    return DWC_COLUMNS, rows


def _wildbook(store: GalleryStore) -> tuple[Sequence[str], list[list[Any]]]:
    groups = _encounters(store)
    media = max((len(g) for g in groups), default=1)
    header = [f"Encounter.mediaAsset{i}" for i in range(media)] + list(WILDBOOK_COLUMNS)
    rows = []
    for group in groups:
        first = group[0]
        when = first[10] or (first[5] or "")[:16]
        date, _, time = when.partition("T")
        ymd = date.split("-") if date else ["", "", ""]
        hm = time.split(":")[:2] if time else ["", ""]
        lat, lon = _position(first)
        files = [PurePosixPath(r[0]).name for r in group]
        rows.append(files + [""] * (media - len(files)) + [
            first[1], first[2], "Megaptera", "novaeangliae", *(str(int(v)) if v else "" for v in ymd + hm),
            lat, lon, first[13] or "", first[9] or "", first[14] or "", first[15] or "", first[16] or ""])
    return header, rows


def _pairs(store: GalleryStore) -> tuple[Sequence[str], list[list[Any]]]:
    if store.schema_version < 3:  # a gallery opened read-only before its upgrade has no decisions yet
        return PAIR_COLUMNS, []
    rows = store.query(
        "SELECT r.query_sha256, q.file, q.whale_id, r.candidate_sha256, c.file, r.candidate_whale, "
        "c.whale_id, r.chosen_whale, r.same, r.explicit, r.distance, r.rank, r.keep, r.decided_at "
        "FROM review_pairs r LEFT JOIN photos q ON q.sha256 = r.query_sha256 "
        "LEFT JOIN photos c ON c.sha256 = r.candidate_sha256 ORDER BY r.id")
    return PAIR_COLUMNS, [[*r[:10], round(float(r[10]), 6), *r[11:]] for r in rows]


def _write(path: str | Path | io.TextIOBase, header: Sequence[str], rows: list[list[Any]]) -> None:
    out: Any = io.StringIO() if isinstance(path, (str, Path)) else path
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow(["" if v is None else v for v in r])
    if isinstance(path, (str, Path)):
        write_atomic(Path(path), out.getvalue().encode("utf-8"))
