"""Sightings: when and where a whale was seen, by whom, from which vessel.

A sighting (an *encounter* in Wildbook's words) is a record of its own: date and time, position, place
name, observer, vessel and notes. One or more catalogued photos belong to it; a whale's sightings are the
sightings of its photos, so a photo filed under another whale takes its sighting along. ``uid`` is unique
across galleries, so two boats' galleries can be merged without confusing their sightings.

Dates are kept as ISO 8601 text, ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` (no time zone: the researcher's
local time, as cameras record it), so a date typed without a time stays one.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from whalegui.core.errors import GalleryError
from whalegui.core.images import PhotoMeta

_WHEN = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?)?$")
#: Longest place, observer, vessel and notes kept.
MAX_TEXT = 2000


def new_uid() -> str:
    """A fresh sighting uid (unique across galleries)."""
    return uuid.uuid4().hex


def parse_when(text: str) -> str:
    """A date as the gallery keeps it: ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` ('' for unknown). Accepts
    seconds (dropped) and a space for the ``T``; raises :class:`GalleryError` for anything else."""
    text = (text or "").strip()
    if not text:
        return ""
    m = _WHEN.match(text)
    if m is None:
        raise GalleryError(f"invalid date {text!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM")
    year, month, day, hour, minute = m.groups()
    try:
        if hour is None:
            return datetime(int(year), int(month), int(day)).strftime("%Y-%m-%d")
        return datetime(int(year), int(month), int(day), int(hour), int(minute)).strftime("%Y-%m-%dT%H:%M")
    except ValueError as exc:
        raise GalleryError(f"invalid date {text!r} ({exc})") from None


def when_of(moment: datetime | None) -> str:
    """A camera time as a sighting date (to the minute; '' when unknown)."""
    return "" if moment is None else moment.strftime("%Y-%m-%dT%H:%M")


def check_position(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    """A (latitude, longitude) pair in range, or None when both are missing; raises :class:`GalleryError`
    for half a position or one out of range."""
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise GalleryError("a position needs both a latitude and a longitude")
    lat, lon = float(lat), float(lon)
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise GalleryError(f"latitude {lat} is not between -90 and 90")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise GalleryError(f"longitude {lon} is not between -180 and 180")
    return (lat, lon)


@dataclass(frozen=True)
class Sighting:
    """When and where photos were taken. Every field may be unknown ('' or None)."""

    when: str = ""  # parse_when's form
    position: tuple[float, float] | None = None  # (latitude, longitude), decimal degrees
    place: str = ""
    observer: str = ""
    vessel: str = ""
    notes: str = ""
    uid: str = ""  # '' until stored: the gallery gives it a new one

    def checked(self) -> Sighting:
        """This sighting with its date normalised and every field validated (:class:`GalleryError`)."""
        pos = self.position
        position = check_position(pos[0], pos[1]) if pos is not None else None
        texts = {}
        for name in ("place", "observer", "vessel", "notes"):
            value = str(getattr(self, name) or "").strip()
            if len(value) > MAX_TEXT:
                raise GalleryError(f"the sighting's {name} is longer than {MAX_TEXT} characters")
            texts[name] = value
        if self.uid and not re.fullmatch(r"[0-9a-zA-Z_-]{1,64}", self.uid):
            raise GalleryError(f"invalid sighting uid {self.uid!r}")
        return replace(self, when=parse_when(self.when), position=position, **texts)

    def with_uid(self) -> Sighting:
        """This sighting, given a fresh uid if it has none."""
        return self if self.uid else replace(self, uid=new_uid())

    @property
    def empty(self) -> bool:
        """Whether nothing at all is known of it."""
        return not (self.when or self.position or self.place or self.observer or self.vessel or self.notes)

    def where(self) -> str:
        """The place name, else the position, else ''."""
        if self.place:
            return self.place
        return format_position(self.position) if self.position is not None else ""

    def moment(self) -> datetime | None:
        """The date (and time) as a datetime; None when unknown."""
        return datetime.fromisoformat(self.when) if self.when else None

    def label(self) -> str:
        """``2024-07-03, Husavik`` (what is known of when and where; 'date unknown' when nothing)."""
        when = self.when.replace("T", " ") if self.when else "date unknown"
        return f"{when}, {self.where()}" if self.where() else when


def format_position(position: tuple[float, float]) -> str:
    """``64.0473 N, 17.6232 W``."""
    lat, lon = position
    return f"{abs(lat):.4f} {'N' if lat >= 0 else 'S'}, {abs(lon):.4f} {'E' if lon >= 0 else 'W'}"


def from_photos(metas: Sequence[PhotoMeta | None]) -> Sighting:
    """A sighting prefilled from photos' EXIF: the earliest date and the first GPS position."""
    times = [m.taken_at for m in metas if m is not None and m.taken_at is not None]
    positions = [m.gps for m in metas if m is not None and m.gps is not None]
    return Sighting(when=when_of(min(times)) if times else "", position=positions[0] if positions else None)


@dataclass(frozen=True)
class SightingRecord:
    """A stored sighting of one whale: the sighting and that whale's photos in it (ids, oldest first)."""

    sighting_id: int
    whale_id: str
    sighting: Sighting
    photo_ids: tuple[int, ...]
