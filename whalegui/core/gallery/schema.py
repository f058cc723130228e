"""The gallery database's schema: creating it, and upgrading a gallery made by an older whalegui.

Version 3 (this one) adds sightings (``sightings``: when, where, who, from which vessel; each photo points
at its sighting) and review decisions (``review_pairs``: the labelled pairs each "same whale" and "new
whale" made, :mod:`whalegui.core.reviews`). A version-2 gallery is upgraded in one transaction the first
time it is opened for writing: its photos are grouped into sightings by whale and EXIF day (the date and
position their EXIF gave), so every photo keeps the when and where it had, and the review table starts
empty. A version-1 gallery takes both steps in the same transaction.

Version 2 keeps, per photo, the fluke's box in the stored photo's pixels (its source, score and
tilt) and the photo's local features (``features``: keypoints and descriptors for geometric verification,
derived data that ``check --repair`` and ``reembed`` rebuild). A version-1 gallery is upgraded in place, in
one transaction, the first time it is opened for writing: the box columns and the features table are added
empty, and ``check`` then reports the boxes and features as missing until a re-embedding (or
``check --repair`` with the gallery's model) fills them in. Nothing else changes, so no photo is lost.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from datetime import datetime, timezone

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS whales (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,
    whale_id TEXT NOT NULL REFERENCES whales(id) ON UPDATE CASCADE ON DELETE RESTRICT,
    file TEXT NOT NULL,
    thumb TEXT,
    original_name TEXT NOT NULL,
    taken_at TEXT,
    lat REAL,
    lon REAL,
    width INTEGER,
    height INTEGER,
    added_at TEXT NOT NULL,
    embedding BLOB NOT NULL,
    box_left REAL,
    box_top REAL,
    box_right REAL,
    box_bottom REAL,
    box_source TEXT,
    box_score REAL,
    box_angle REAL,
    sighting_id INTEGER REFERENCES sightings(id) ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS photos_whale ON photos (whale_id);
CREATE INDEX IF NOT EXISTS photos_sighting ON photos (sighting_id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    whale_id TEXT,
    details TEXT NOT NULL
);
"""

#: Version 2's additions to a version-1 gallery, in order.
_BOX_COLUMNS = (("box_left", "REAL"), ("box_top", "REAL"), ("box_right", "REAL"), ("box_bottom", "REAL"),
                ("box_source", "TEXT"), ("box_score", "REAL"), ("box_angle", "REAL"))
_SIGHTINGS = """
CREATE TABLE IF NOT EXISTS sightings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    seen_at TEXT NOT NULL DEFAULT '',
    lat REAL,
    lon REAL,
    place TEXT NOT NULL DEFAULT '',
    observer TEXT NOT NULL DEFAULT '',
    vessel TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
)
"""
_REVIEW_PAIRS = """
CREATE TABLE IF NOT EXISTS review_pairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    decided_at TEXT NOT NULL,
    query_sha256 TEXT NOT NULL,
    candidate_sha256 TEXT NOT NULL,
    candidate_whale TEXT NOT NULL,
    chosen_whale TEXT NOT NULL,
    same INTEGER NOT NULL,
    explicit INTEGER NOT NULL,
    distance REAL NOT NULL,
    rank INTEGER NOT NULL,
    keep INTEGER NOT NULL DEFAULT 1,
    UNIQUE (query_sha256, candidate_sha256)
)
"""
_FEATURES = """
CREATE TABLE IF NOT EXISTS features (
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    blob BLOB NOT NULL
)
"""


def create_or_upgrade(c: sqlite3.Connection, defaults: dict[str, str]) -> int | None:
    """Within transaction ``c``: create the schema of a new gallery (with the ``meta`` ``defaults``), or
    upgrade an older one. Returns the version upgraded from, or None. A gallery made by a newer whalegui
    is left alone (the caller refuses it)."""
    has_meta = c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    row = c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if has_meta else None
    version = int(row[0]) if row is not None else None
    if version is not None and version > SCHEMA_VERSION:
        return None
    c.execute(_SIGHTINGS)
    if version is None:
        for statement in _TABLES.split(";"):
            if statement.strip():
                c.execute(statement)
    if version == 1:
        _upgrade_from_1(c)
    c.execute(_FEATURES)
    if version in (1, 2):
        _upgrade_from_2(c)
    c.execute(_REVIEW_PAIRS)
    c.execute("CREATE INDEX IF NOT EXISTS photos_sighting ON photos (sighting_id)")
    c.execute("CREATE INDEX IF NOT EXISTS review_query ON review_pairs (query_sha256)")
    if version is not None and version < SCHEMA_VERSION:
        c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        photos = int(c.execute("SELECT COUNT(*) FROM photos").fetchone()[0])
        sightings = int(c.execute("SELECT COUNT(*) FROM sightings").fetchone()[0])
        c.execute("INSERT INTO audit (at, action, whale_id, details) VALUES (?, 'upgrade_schema', NULL, ?)",
                  (_now(), json.dumps({"from": version, "to": SCHEMA_VERSION, "photos": photos,
                                       "sightings": sightings})))
        log.info("upgraded the gallery database from schema %d to %d (%d photos kept, in %d sightings)",
                 version, SCHEMA_VERSION, photos, sightings)
    for key, value in dict(defaults, schema_version=str(SCHEMA_VERSION)).items():
        c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
    return version if version is not None and version < SCHEMA_VERSION else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _upgrade_from_1(c: sqlite3.Connection) -> None:
    """Add the fluke box columns (their values come with a re-embedding or ``check --repair``)."""
    present = {r[1] for r in c.execute("PRAGMA table_info(photos)")}
    for name, kind in _BOX_COLUMNS:
        if name not in present:
            # Fixed names and types from the tuple above, never user data.
            c.execute(f"ALTER TABLE photos ADD COLUMN {name} {kind}")


def _upgrade_from_2(c: sqlite3.Connection) -> None:
    """Point every photo at a sighting: one per whale and EXIF day (undated photos: one per whale), dated
    with the group's earliest EXIF time and placed at its first EXIF position."""
    present = {r[1] for r in c.execute("PRAGMA table_info(photos)")}
    if "sighting_id" not in present:
        c.execute("ALTER TABLE photos ADD COLUMN sighting_id INTEGER REFERENCES sightings(id) "
                  "ON DELETE SET NULL")
    groups: dict[tuple[str, str], list[tuple[int, str | None, float | None, float | None]]] = {}
    for photo_id, whale_id, taken_at, lat, lon in c.execute(
            "SELECT id, whale_id, taken_at, lat, lon FROM photos WHERE sighting_id IS NULL ORDER BY id"):
        day = (taken_at or "")[:10]
        groups.setdefault((whale_id, day), []).append((photo_id, taken_at, lat, lon))
    created = _now()
    for members in groups.values():
        times = sorted(t for _, t, _, _ in members if t)
        when = times[0][:16] if times else ""
        position = next(((la, lo) for _, _, la, lo in members if la is not None and lo is not None), None)
        cur = c.execute("INSERT INTO sightings (uid, seen_at, lat, lon, created) VALUES (?, ?, ?, ?, ?)",
                        (uuid.uuid4().hex, when, position[0] if position else None,
                         position[1] if position else None, created))
        c.executemany("UPDATE photos SET sighting_id = ? WHERE id = ?",
                      [(cur.lastrowid, photo_id) for photo_id, _, _, _ in members])

