"""The sighting a decision records: prefilled from the query's EXIF, corrected by the researcher.

A researcher on a boat types the place, observer and vessel once and confirms a hundred photos: those
three carry over from photo to photo (observer and vessel also between runs, in the settings), while the
date, position and sighting notes belong to each photo (EXIF's date and GPS unless corrected). The review's
sighting strip and the New whale dialog edit this draft; the controller records it with the decision.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import replace

from whalegui.core.sightings import Sighting, from_photos
from whalegui.gui.review_model import QueueEntry
from whalegui.gui.settings import Settings

log = logging.getLogger(__name__)


class SightingDraft:
    """The sightings the next decisions record, one per queued photo."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.place = ""
        self._own: weakref.WeakKeyDictionary[QueueEntry, Sighting] = weakref.WeakKeyDictionary()
        self._problems: weakref.WeakKeyDictionary[QueueEntry, str] = weakref.WeakKeyDictionary()

    def prefill(self, entry: QueueEntry) -> Sighting:
        """What the photo says of its sighting: its EXIF date (or the date probed when it was queued) and
        GPS position."""
        meta = entry.identification.meta if entry.identification is not None else None
        seen = from_photos([meta])
        if not seen.when and entry.taken_at is not None:
            seen = replace(seen, when=entry.taken_at.strftime("%Y-%m-%dT%H:%M"))
        return seen

    def for_entry(self, entry: QueueEntry) -> Sighting:
        """The sighting a decision on ``entry`` records (the uid left for the gallery to give)."""
        own = self._own.get(entry) or self.prefill(entry)
        return replace(own, place=self.place, observer=self._settings.observer,
                       vessel=self._settings.vessel, uid="")

    def problem(self, entry: QueueEntry) -> str:
        """Why the sighting typed for ``entry`` cannot be recorded ('' when it can)."""
        return self._problems.get(entry, "")

    def edit(self, entry: QueueEntry, sighting: Sighting | None, problem: str = "") -> None:
        """The researcher changed the sighting of ``entry`` (``sighting`` None with a ``problem``: what was
        typed is wrong). Place, observer and vessel carry over to the next photos."""
        if sighting is None:
            self._problems[entry] = problem or "the sighting is not valid"
            return
        self._problems.pop(entry, None)
        self._own[entry] = replace(sighting, uid="")
        self.remember(sighting)

    def remember(self, sighting: Sighting) -> None:
        """Keep ``sighting``'s place for the next photos and its observer and vessel in the settings."""
        self.place = sighting.place
        settings = self._settings
        if (settings.observer, settings.vessel) != (sighting.observer, sighting.vessel):
            settings.observer, settings.vessel = sighting.observer, sighting.vessel
            try:
                settings.save()
            except OSError as exc:
                log.warning("cannot save settings: %s", exc)
