"""The catalogue's value types: a catalogued photo, a whale's summary, and the rules for whale ids.

Plain frozen values, shared by the gallery, identification, the CLI and the GUI.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from whalegui.core.errors import GalleryError
from whalegui.core.fluke import Fluke

#: The Kaggle competition's label for "not a known individual"; never a whale id.
NEW_WHALE = "new_whale"

_WHALE_ID = re.compile(r"^[^\s,/\\\"']{1,100}$")


@dataclass(frozen=True)
class PhotoRecord:
    """A catalogued photo. ``path`` is the stored full-resolution copy inside the gallery; ``fluke`` is where
    its fluke is, in that copy's pixels (None when not recorded: a gallery made before boxes were kept)."""

    photo_id: int
    sha256: str
    whale_id: str
    path: Path
    thumb_path: Path | None
    original_name: str
    taken_at: datetime | None
    gps: tuple[float, float] | None
    added_at: datetime
    fluke: Fluke | None = None
    sighting_id: int | None = None  # the sighting it belongs to (None: none recorded)


@dataclass(frozen=True)
class WhaleSummary:
    """A catalogued whale with its photo count, latest sighting date and cover photo."""

    whale_id: str
    name: str
    notes: str
    created: datetime
    photo_count: int
    last_seen: datetime | None  # its latest sighting's date (in an old gallery, its photos' latest EXIF date)
    cover_photo: PhotoRecord | None
    last_place: str = ""  # where its latest sighting was (a place name or a position), '' when unknown


def validate_whale_id(whale_id: str) -> str:
    """A whale id: 1-100 characters, no spaces, commas, quotes or slashes, and not ``new_whale``."""
    if not isinstance(whale_id, str) or not _WHALE_ID.match(whale_id):
        raise GalleryError(f"invalid whale id {whale_id!r}: use 1-100 characters without spaces, commas, "
                           "quotes or slashes")
    if whale_id == NEW_WHALE:
        raise GalleryError(f"'{NEW_WHALE}' is not a whale id (it means an unknown whale)")
    return whale_id


def new_whale_id(is_taken: Callable[[str], bool]) -> str:
    """A fresh whale id like ``w_1a2b3c4`` (the Kaggle style) for which ``is_taken`` is false."""
    while True:
        candidate = f"w_{secrets.token_hex(4)[:7]}"
        if not is_taken(candidate):
            return candidate
