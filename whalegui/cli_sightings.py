"""The command line's sightings: ``enroll``'s sighting options, and ``whalegui sightings``.

``enroll --date 2024-07-03T14:05 --lat 64.05 --lon -17.62 --place Husavik --observer "A. Smith"`` files
the photos under one sighting; what is not given comes from the photos' EXIF (the earliest date, the first
GPS position). ``whalegui sightings [--whale ID] [--since DATE] [--json]`` lists them, oldest first.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whalegui.core.errors import PhotoError
from whalegui.core.images import PhotoMeta, read_metadata
from whalegui.core.sightings import Sighting, SightingRecord, check_position, from_photos, parse_when

if TYPE_CHECKING:
    from whalegui.core.gallery import Gallery


def add_sighting_arguments(p: argparse.ArgumentParser) -> None:
    """``enroll``'s options for the sighting its photos are filed under."""
    g = p.add_argument_group("the sighting (what is not given comes from the photos' EXIF)")
    g.add_argument("--date", default=None, metavar="YYYY-MM-DD[THH:MM]", help="when the whale was seen")
    g.add_argument("--lat", type=float, default=None, metavar="DEGREES", help="latitude, decimal degrees")
    g.add_argument("--lon", type=float, default=None, metavar="DEGREES", help="longitude, decimal degrees")
    g.add_argument("--place", default="", metavar="NAME", help="the place's name")
    g.add_argument("--observer", default="", metavar="NAME", help="who saw it")
    g.add_argument("--vessel", default="", metavar="NAME", help="from which boat")
    g.add_argument("--sighting-notes", default="", metavar="TEXT", help="notes on the sighting")


def sighting_from_args(args: argparse.Namespace, photos: Sequence[Path]) -> Sighting:
    """The sighting ``enroll``'s options describe, completed from the photos' EXIF; GalleryError when an
    option is invalid."""
    when = parse_when(args.date) if args.date else ""
    position = check_position(args.lat, args.lon)
    if not when or position is None:
        metas: list[PhotoMeta | None] = []
        for photo in photos:
            try:
                metas.append(read_metadata(photo))
            except (PhotoError, OSError):
                metas.append(None)  # enroll itself says what is wrong with the photo
        exif = from_photos(metas)
        when, position = when or exif.when, position or exif.position
    return Sighting(when, position, args.place, args.observer, args.vessel, args.sighting_notes).checked()


def add_sightings_command(p: argparse.ArgumentParser) -> None:
    p.add_argument("--whale", default=None, metavar="ID", help="one whale's sightings only")
    p.add_argument("--since", default="", metavar="YYYY-MM-DD", help="sightings on or after this date")
    p.add_argument("--json", action="store_true", help="print JSON")


def cmd_sightings(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import Gallery

    with Gallery.open(args.gallery, None, readonly=True) as gallery:
        records = gallery.sightings(args.whale, args.since)
        if args.json:
            json.dump([_as_json(gallery, r) for r in records], sys.stdout, indent=2)
            sys.stdout.write("\n")
            return 0
        if not records:
            print("no sightings" + (f" of whale {args.whale}" if args.whale else "") +
                  (f" since {args.since}" if args.since else ""))
            return 0
        print(f"{'date':<16}  {'whale':<14}  {'photos':>6}  {'where':<30}  {'observer':<16}  vessel")
        for r in records:
            s = r.sighting
            print(f"{s.when.replace('T', ' ') or '?':<16}  {r.whale_id:<14}  {len(r.photo_ids):>6}  "
                  f"{_cut(s.where(), 30):<30}  {_cut(s.observer, 16):<16}  {s.vessel}")
    return 0


def _as_json(gallery: Gallery, r: SightingRecord) -> dict[str, Any]:
    s = r.sighting
    photos = {i: gallery.photo(i) for i in r.photo_ids}
    return {"sighting": s.uid, "whale": r.whale_id, "date": s.when or None,
            "latitude": s.position[0] if s.position else None,
            "longitude": s.position[1] if s.position else None, "place": s.place, "observer": s.observer,
            "vessel": s.vessel, "notes": s.notes,
            "photos": [{"id": i, "sha256": photos[i].sha256, "original_name": photos[i].original_name}
                       for i in r.photo_ids if i in photos]}


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
