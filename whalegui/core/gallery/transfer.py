"""Catalogues in and out of a gallery: :func:`import_catalogue` and :func:`export_csv`.

The export carries everything a researcher entered (whale ids, names and notes; each photo's original file
name, date and place) in the columns :data:`~whalegui.core.catalogue.CATALOGUE_COLUMNS` that the catalogue
reader reads back, with ``Image`` the stored photo's path inside the gallery folder: importing the export
with the gallery folder as the images folder gives the same catalogue.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from whalegui.core.analysis import Analyser
from whalegui.core.catalogue import CATALOGUE_COLUMNS, read_catalogue, read_folder_catalogue
from whalegui.core.errors import PhotoError
from whalegui.core.gallery.intake import IMPORT_BATCH, PhotoIntake, PreparedPhoto, decode_size, read_photo
from whalegui.core.gallery.reports import ImportReport
from whalegui.core.gallery.store import GalleryStore

log = logging.getLogger(__name__)


def import_catalogue(store: GalleryStore, intake: PhotoIntake, analyser: Analyser,
                     csv_path: str | Path | None, images_dir: str | Path, *,
                     progress: Callable[[int, int], None] | None = None,
                     cancel: threading.Event | None = None) -> ImportReport:
    """Import a labelled catalogue (a Kaggle CSV with its images folder, or with ``csv_path`` None one
    sub-folder per whale) into the gallery of ``store`` through ``intake``. Resumable: photos already
    catalogued are skipped by hash; whales that exist keep their names and notes. Bad rows and unreadable
    photos are listed in the report and skipped. One transaction per batch of :data:`IMPORT_BATCH`."""
    catalogue = (read_folder_catalogue(images_dir) if csv_path is None
                 else read_catalogue(csv_path, images_dir))
    report = ImportReport(skipped_new_whale=catalogue.skipped_new_whale, errors=list(catalogue.errors),
                          total=len(catalogue.entries))

    def about(whale_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        return {w: (catalogue.whale_names.get(w, ""), catalogue.whale_notes.get(w, "")) for w in whale_ids}

    entries = catalogue.entries
    size = decode_size(analyser)
    done = 0
    if progress is not None:
        progress(0, len(entries))
    for start in range(0, len(entries), IMPORT_BATCH):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        batch = entries[start:start + IMPORT_BATCH]
        ready: list[tuple[PreparedPhoto, str]] = []
        seen: set[str] = set()
        for entry in batch:
            try:
                data, sha = read_photo(entry.path)
                if sha in seen or store.find_photo_by_sha(sha) is not None:
                    report.skipped_duplicates += 1
                    continue
                prepared = intake.prepare(entry.path, data, sha, size, original_name=entry.original_name,
                                          taken_at=entry.taken_at, gps=entry.gps)
            except PhotoError as exc:
                report.errors.append((entry.name, exc.reason))
                continue
            seen.add(sha)
            ready.append((prepared, entry.whale_id))
        if ready:
            intake.analyse([p for p, _ in ready], analyser, batch_size=IMPORT_BATCH)
            with store.lock:
                new_whales = about(dict.fromkeys(w for _, w in ready if not store.has_whale(w)))
                intake.store(ready, create=new_whales, action="import")
            report.imported += len(ready)
            report.whales_created += len(new_whales)
        done += len(batch)
        if progress is not None:
            progress(done, len(entries))
    if not report.cancelled and catalogue.bare_whales:
        with store.lock:
            bare = about(w for w in catalogue.bare_whales if not store.has_whale(w))
            if bare:
                store.create_whales(bare, action="import")
        report.whales_created += len(bare)
    log.info("import: %d photos imported, %d duplicates skipped, %d errors", report.imported,
             report.skipped_duplicates, len(report.errors))
    return report


def export_csv(store: GalleryStore, path: str | Path | io.TextIOBase) -> int:
    """Write the gallery's catalogue as CSV (columns :data:`CATALOGUE_COLUMNS`; a whale without photos is
    a row with no ``Image``), to a file (atomically) or an open text stream. Returns the number of rows."""
    rows: list[list[Any]] = [list(r) for r in store.query(
        "SELECT p.file, p.whale_id, w.name, w.notes, p.original_name, p.taken_at, p.lat, p.lon, p.sha256 "
        "FROM photos p JOIN whales w ON w.id = p.whale_id ORDER BY p.whale_id, p.id")]
    rows += [["", r[0], r[1], r[2], "", "", "", "", ""] for r in store.query(
        "SELECT w.id, w.name, w.notes FROM whales w WHERE NOT EXISTS "
        "(SELECT 1 FROM photos p WHERE p.whale_id = w.id) ORDER BY w.id")]

    def write(f: Any) -> None:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CATALOGUE_COLUMNS)
        for r in rows:
            writer.writerow(["" if v is None else v for v in r])

    if isinstance(path, (str, Path)):
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            write(f)
        os.replace(tmp, target)
    else:
        write(path)
    return len(rows)
