"""Catalogues into a gallery: :func:`import_catalogue` (exports are :mod:`.exports`').

Each photo is filed under the sighting its row names (by uid, so the rows of one sighting stay one
sighting); a row that gives sighting fields without a uid shares one with the rows of the same whale that
give the same fields; a row that says nothing of a sighting shares one with the photos of the same whale
and EXIF day, dated and placed by the first of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from whalegui.core.analysis import Analyser
from whalegui.core.catalogue import CatalogueEntry, read_catalogue, read_folder_catalogue
from whalegui.core.errors import PhotoError
from whalegui.core.gallery.intake import IMPORT_BATCH, PhotoIntake, PreparedPhoto, decode_size, read_photo
from whalegui.core.gallery.reports import ImportReport
from whalegui.core.gallery.store import GalleryStore
from whalegui.core.sightings import Sighting, when_of

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
    sightings: dict[tuple[object, ...], Sighting] = {}
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
            prepared.sighting = _sighting_of(entry, prepared, sightings)
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


def _sighting_of(entry: CatalogueEntry, photo: PreparedPhoto,
                 known: dict[tuple[object, ...], Sighting]) -> Sighting:
    """The sighting a catalogue row files its photo under (see the module's docstring); ``known`` keeps
    the sightings made for rows without a uid, by whale and fields (or EXIF day)."""
    given = entry.sighting
    if given is not None and given.uid:
        return given
    if given is not None:
        key: tuple[object, ...] = (entry.whale_id, given)
        made = given
    else:
        key = (entry.whale_id, photo.taken_at.date() if photo.taken_at else None)
        made = Sighting(when=when_of(photo.taken_at), position=photo.gps)
    if key not in known:
        known[key] = made.with_uid()
    return known[key]
