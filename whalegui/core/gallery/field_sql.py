"""Writing sightings and review pairs inside a caller's transaction: the one that catalogues (or takes
out) the photos they belong to, so a photo, its sighting and the pairs its review made are stored, or lost,
together. Plain functions on a connection, below :mod:`.store` (which calls them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from whalegui.core.reviews import PairRow
from whalegui.core.sightings import Sighting

_CHUNK = 500


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def store_sighting(c: sqlite3.Connection, sighting: Sighting) -> int:
    """The row id of ``sighting`` (by uid), inserting it when new. A sighting already stored keeps its
    fields: a merge or an import never overwrites what a researcher corrected."""
    s = sighting.with_uid()
    row = c.execute("SELECT id FROM sightings WHERE uid = ?", (s.uid,)).fetchone()
    if row is not None:
        return int(row[0])
    pos = s.position
    cur = c.execute(
        "INSERT INTO sightings (uid, seen_at, lat, lon, place, observer, vessel, notes, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (s.uid, s.when, pos[0] if pos else None, pos[1] if pos else None, s.place, s.observer, s.vessel,
         s.notes, _now()))
    return int(cur.lastrowid or 0)


def store_pairs(c: sqlite3.Connection, rows: Sequence[PairRow]) -> None:
    """Insert review pairs (a pair decided again replaces the earlier decision)."""
    at = _now()
    c.executemany(
        "INSERT OR REPLACE INTO review_pairs (decided_at, query_sha256, candidate_sha256, candidate_whale, "
        "chosen_whale, same, explicit, distance, rank, keep) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        [(at, r.query_sha256, r.candidate_sha256, r.candidate_whale, r.chosen_whale, int(r.same),
          int(r.explicit), float(r.distance), int(r.rank)) for r in rows])


def drop_pairs_of(c: sqlite3.Connection, query_shas: Iterable[str]) -> int:
    """Delete the pairs whose query is one of ``query_shas`` (photos leaving the catalogue); returns how
    many."""
    shas = sorted(set(query_shas))
    gone = 0
    for chunk in (shas[i:i + _CHUNK] for i in range(0, len(shas), _CHUNK)):
        marks = ",".join("?" * len(chunk))
        gone += c.execute(f"DELETE FROM review_pairs WHERE query_sha256 IN ({marks})", chunk).rowcount
    return gone


def drop_orphan_sightings(c: sqlite3.Connection) -> None:
    """Delete sightings no photo belongs to any more."""
    c.execute("DELETE FROM sightings WHERE id NOT IN (SELECT sighting_id FROM photos "
              "WHERE sighting_id IS NOT NULL)")


def sighting_of_row(r: Sequence[object]) -> Sighting:
    """A :class:`Sighting` from ``uid, seen_at, lat, lon, place, observer, vessel, notes``."""
    uid, when, lat, lon, place, observer, vessel, notes = r
    position = (float(lat), float(lon)) if lat is not None and lon is not None else None  # type: ignore[arg-type]
    return Sighting(str(when or ""), position, str(place or ""), str(observer or ""), str(vessel or ""),
                    str(notes or ""), str(uid))


def last_sightings(query: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
                   whale_ids: Sequence[str]) -> dict[str, Sighting]:
    """Each whale's latest dated sighting (whales with none are left out); ``query`` runs one SELECT."""
    out: dict[str, Sighting] = {}
    ids = list(whale_ids)
    for chunk in (ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)):
        marks = ",".join("?" * len(chunk))
        rows = query("SELECT p.whale_id, s.uid, s.seen_at, s.lat, s.lon, s.place, s.observer, s.vessel, "
                     f"s.notes FROM photos p JOIN sightings s ON s.id = p.sighting_id WHERE p.whale_id IN "
                     f"({marks}) AND s.seen_at != '' ORDER BY s.seen_at, s.id", chunk)
        out.update((str(r[0]), sighting_of_row(r[1:])) for r in rows)  # the latest wins
    return out
