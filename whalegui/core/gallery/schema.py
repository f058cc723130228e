"""The gallery database's schema: creating it, and upgrading a gallery made by an older whalegui.

Version 2 (this one) keeps, per photo, the fluke's box in the stored photo's pixels (its source, score and
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
from datetime import datetime, timezone

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2

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
    box_angle REAL
);
CREATE INDEX IF NOT EXISTS photos_whale ON photos (whale_id);
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
    upgraded = None
    if version == 1:
        _upgrade_from_1(c)
        upgraded = 1
    else:
        for statement in _TABLES.split(";"):
            if statement.strip():
                c.execute(statement)
    c.execute(_FEATURES)
    for key, value in dict(defaults, schema_version=str(SCHEMA_VERSION)).items():
        c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
    return upgraded


def _upgrade_from_1(c: sqlite3.Connection) -> None:
    present = {r[1] for r in c.execute("PRAGMA table_info(photos)")}
    for name, kind in _BOX_COLUMNS:
        if name not in present:
            # Fixed names and types from the tuple above, never user data.
            c.execute(f"ALTER TABLE photos ADD COLUMN {name} {kind}")
    c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
    photos = int(c.execute("SELECT COUNT(*) FROM photos").fetchone()[0])
    c.execute("INSERT INTO audit (at, action, whale_id, details) VALUES (?, 'upgrade_schema', NULL, ?)",
              (datetime.now(timezone.utc).isoformat(timespec="seconds"),
               json.dumps({"from": 1, "to": SCHEMA_VERSION, "photos": photos})))
    log.info("upgraded the gallery database from schema 1 to %d (%d photos kept; their fluke boxes and "
             "local features are rebuilt by a re-embedding)", SCHEMA_VERSION, photos)

