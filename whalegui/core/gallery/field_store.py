"""The gallery's field records in SQLite: sightings and review pairs (:class:`FieldStore`); how they are
written with the photos they belong to is :mod:`.field_sql`'s."""

from __future__ import annotations

from datetime import datetime

from whalegui.core.errors import GalleryError, WhaleNotFoundError
from whalegui.core.gallery.field_sql import sighting_of_row
from whalegui.core.gallery.store import GalleryStore, parse_time
from whalegui.core.reviews import ReviewPair
from whalegui.core.sightings import Sighting, SightingRecord

_SIGHTING_COLUMNS = "s.id, s.uid, s.seen_at, s.lat, s.lon, s.place, s.observer, s.vessel, s.notes"
_PAIR_COLUMNS = ("id, decided_at, query_sha256, candidate_sha256, candidate_whale, chosen_whale, same, "
                 "explicit, distance, rank, keep")


class FieldStore:
    """The sightings and review pairs of the gallery whose database is ``store``."""

    def __init__(self, store: GalleryStore) -> None:
        self._store = store

    @property
    def available(self) -> bool:
        """Whether the database has them (a gallery opened read-only before its upgrade does not)."""
        return self._store.schema_version >= 3

    # ------------------------------------------------------------------ sightings

    def sightings(self, whale_id: str | None = None, since: str = "") -> list[SightingRecord]:
        """Every whale's sightings (or one whale's), oldest first (undated ones last), from ``since``
        (a sighting date, inclusive) on."""
        if whale_id is not None and not self._store.has_whale(whale_id):
            raise WhaleNotFoundError(whale_id)
        if not self.available:
            return []
        rows = self._store.query(
            f"SELECT p.whale_id, {_SIGHTING_COLUMNS}, group_concat(p.id) FROM photos p "
            "JOIN sightings s ON s.id = p.sighting_id WHERE (? IS NULL OR p.whale_id = ?) "
            "AND (? = '' OR (s.seen_at != '' AND s.seen_at >= ?)) GROUP BY p.whale_id, s.id "
            "ORDER BY s.seen_at = '', s.seen_at, s.id, p.whale_id", (whale_id, whale_id, since, since))
        return [SightingRecord(int(r[1]), str(r[0]), sighting_of_row(r[2:10]),
                               tuple(sorted(int(i) for i in str(r[10]).split(","))))
                for r in rows]

    def sighting(self, sighting_id: int) -> Sighting:
        """One stored sighting; :class:`GalleryError` when there is none with this id."""
        row = self._store.query_one(f"SELECT {_SIGHTING_COLUMNS} FROM sightings s WHERE s.id = ?",
                                    (int(sighting_id),)) if self.available else None
        if row is None:
            raise GalleryError(f"no sighting {sighting_id} in this gallery")
        return sighting_of_row(row[1:])

    def update_sighting(self, sighting_id: int, sighting: Sighting) -> None:
        """Correct a sighting's fields (its uid stays); audited with the old values."""
        new = sighting.checked()
        with self._store.lock:
            old = self.sighting(sighting_id)
            pos = new.position
            with self._store.transaction() as c:
                c.execute("UPDATE sightings SET seen_at = ?, lat = ?, lon = ?, place = ?, observer = ?, "
                          "vessel = ?, notes = ? WHERE id = ?",
                          (new.when, pos[0] if pos else None, pos[1] if pos else None, new.place,
                           new.observer, new.vessel, new.notes, int(sighting_id)))
                self._store.audit(c, "edit_sighting", None,
                                  {"sighting": old.uid, "old": _fields(old), "new": _fields(new)})

    # ------------------------------------------------------------------ review pairs

    def review_pairs(self) -> list[ReviewPair]:
        """Every stored review pair, in the order decided."""
        if not self.available:
            return []
        return [ReviewPair(int(r[0]), parse_time(r[1]) or datetime.min, r[2], r[3], r[4], r[5], bool(r[6]),
                           bool(r[7]), float(r[8]), int(r[9]), bool(r[10]))
                for r in self._store.query(f"SELECT {_PAIR_COLUMNS} FROM review_pairs ORDER BY id")]

    def set_keep(self, pair_id: int, keep: bool) -> None:
        """Let training use a pair, or not (audited)."""
        with self._store.lock:
            if self._store.query_one("SELECT 1 FROM review_pairs WHERE id = ?", (int(pair_id),)) is None:
                raise GalleryError(f"no review pair {pair_id} in this gallery")
            with self._store.transaction() as c:
                c.execute("UPDATE review_pairs SET keep = ? WHERE id = ?", (int(keep), int(pair_id)))
                self._store.audit(c, "keep_pair" if keep else "drop_pair", None, {"pair": int(pair_id)})


def _fields(s: Sighting) -> dict[str, object]:
    return {"when": s.when, "position": list(s.position) if s.position else None, "place": s.place,
            "observer": s.observer, "vessel": s.vessel, "notes": s.notes}
