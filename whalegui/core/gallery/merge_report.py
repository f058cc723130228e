"""What merging one gallery into another did (or, in a dry run, would do): :class:`MergeReport`, with the
incoming whales' fates (:class:`IncomingWhale`) and the whales that are possibly the same as one already
catalogued (:class:`LikelySame`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: How an incoming whale entered: ``new`` (its id was free: catalogued under it), ``same`` (the same id
#: on both sides and a photo in common, or one side has no photos: one whale), ``joined`` (its photos are
#: already catalogued under another id: the rest join that whale), ``conflict`` (the same id for another
#: whale, no photo in common: catalogued under a fresh id).
HOWS = ("new", "same", "joined", "conflict")


@dataclass(frozen=True)
class IncomingWhale:
    """One whale of the incoming gallery: its id there (``their_id``), the whale it is (or becomes) in
    the receiving gallery (``whale_id``) and ``how`` (one of :data:`HOWS`)."""

    their_id: str
    whale_id: str
    how: str
    photos_new: int  # photos of it that are (or would be) added
    photos_there: int  # photos of it already catalogued (by content hash)
    name: str = ""
    notes: str = ""


@dataclass(frozen=True)
class LikelySame:
    """An incoming whale that was catalogued as a new whale (``whale_id``, ``their_id`` in the incoming
    gallery) but whose photos identify as ``mine``, a whale catalogued before the merge: ``agreed`` of its
    ``searched`` photos had ``mine`` as their nearest earlier whale within the gallery's threshold, the
    nearest at ``distance``."""

    their_id: str
    whale_id: str
    mine: str
    distance: float
    agreed: int
    searched: int


@dataclass
class MergeReport:
    """The outcome of merging the gallery ``other`` into this one."""

    other: str
    dry_run: bool = False
    same_model: bool = True  # False: the incoming photos were (or would be) re-analysed with this gallery's
    photos_total: int = 0  # photos in the incoming gallery
    photos_new: int = 0  # added (or would be)
    photos_there: int = 0  # already catalogued, by content hash (never duplicated)
    reembedded: int = 0  # photos analysed again with this gallery's models
    sightings_new: int = 0
    review_pairs: int = 0  # the incoming gallery's review decisions carried over with their photos
    whales: list[IncomingWhale] = field(default_factory=list)
    #: Photos already catalogued under another whale than the one their incoming whale became:
    #: (sha256, their whale, the whale that holds it here). Left where they are.
    elsewhere: list[tuple[str, str, str]] = field(default_factory=list)
    #: Whales on both sides whose names or notes differ: (whale id, their name, their notes). This
    #: gallery's are kept; theirs are recorded in the audit log.
    names_differ: list[tuple[str, str, str]] = field(default_factory=list)
    damaged: list[tuple[str, str]] = field(default_factory=list)  # incoming photos not readable: (file, why)
    likely_same: list[LikelySame] = field(default_factory=list)
    before: tuple[int, int] = (0, 0)  # (whales, photos) here before
    after: tuple[int, int] = (0, 0)  # and after (the same as before in a dry run)
    cancelled: bool = False

    def of_kind(self, how: str) -> list[IncomingWhale]:
        """The incoming whales that entered ``how`` (one of :data:`HOWS`)."""
        return [w for w in self.whales if w.how == how]

    @property
    def conflicts(self) -> list[IncomingWhale]:
        """Incoming whales whose id named another whale here: each got a fresh id."""
        return self.of_kind("conflict")

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return asdict(self)
