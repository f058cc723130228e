"""The review's state as Qt models: the queue of query photos, the photo under review, its candidates and
the candidate photo shown.

:class:`ReviewModel` holds the state and says what changed, with the values views need; the controller
drives it and does the loading. Lists the views show are ``QAbstractListModel``s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from whalegui.core.identify import Candidate, Identification
from whalegui.core.records import PhotoRecord
from whalegui.gui.card_delegate import ACCENT_ROLE, BADGE_ROLE, LINES_ROLE, OBJECT_ROLE
from whalegui.gui.messages import day, moment
from whalegui.gui.resources import icon
from whalegui.gui.thumbnails import ThumbnailCache
from whalegui.wording import plural

log = logging.getLogger(__name__)

_Index = QModelIndex | QPersistentModelIndex
STATUS_ROLE = Qt.ItemDataRole.UserRole + 10
MATCH_COLOUR, BEYOND_COLOUR, REJECTED_COLOUR = QColor("#2e7d32"), QColor("#a35f00"), QColor("#8a8a8a")


class Status(str, Enum):
    """Where a queued photo stands."""

    WAITING = "waiting"
    IDENTIFYING = "identifying"
    REVIEW = "needs review"
    MATCHED = "matched"
    NEW = "new whale"
    ERROR = "error"

    def count_text(self, count: int) -> str:
        """``1 needs review``, ``33 need review``, ``2 new whales``, ``1 error``."""
        if self is Status.REVIEW:
            return f"{count} {'needs' if count == 1 else 'need'} review"
        if self in (Status.NEW, Status.ERROR):
            return plural(count, self.value)
        return f"{count} {self.value}"


STATUS_COLOURS = {
    Status.WAITING: QColor("#6b7a89"),
    Status.IDENTIFYING: QColor("#1f6fb5"),
    Status.REVIEW: QColor("#a35f00"),
    Status.MATCHED: QColor("#2e7d32"),
    Status.NEW: QColor("#7b3fa0"),
    Status.ERROR: QColor("#c62828"),
}


@dataclass(eq=False)
class QueueEntry:
    """One query photo in the queue (compared by identity: the same file is queued once)."""

    path: Path
    status: Status = Status.WAITING
    taken_at: datetime | None = None
    reason: str = ""  # why it failed, or a note ("already in the gallery")
    identification: Identification | None = None
    whale_id: str | None = None  # the whale it was matched to or enrolled as
    rejected: set[str] = field(default_factory=set)  # candidate whales the researcher said it is not

    @property
    def name(self) -> str:
        """The photo's file name."""
        return self.path.name

    @property
    def likely_new(self) -> bool:
        """The verdict: no catalogued whale is near enough, or the researcher rejected every candidate."""
        if self.identification is None:
            return False
        shown = {c.whale_id for c in self.identification.candidates}
        return self.identification.new_whale or (bool(shown) and shown <= self.rejected)

    @property
    def reviewable(self) -> bool:
        """Whether it waits for the researcher's decision."""
        return self.status is Status.REVIEW

    @property
    def candidates(self) -> list[Candidate]:
        """Its candidates, nearest first (none before it is identified, or after an error)."""
        if self.identification is None or self.status is Status.ERROR:
            return []
        return list(self.identification.candidates)

    def status_text(self) -> str:
        """The status in words, in full (the queue elides or wraps it; its tooltip shows all of it)."""
        if self.status is Status.ERROR:
            return f"error: {self.reason}"
        if self.status is Status.IDENTIFYING and self.reason:
            return self.reason  # "adding to the gallery", "enrolling"
        if self.status is Status.REVIEW and self.likely_new:
            return "needs review (new whale?)"
        if self.status in (Status.MATCHED, Status.NEW) and self.whale_id:
            note = f", {self.reason}" if self.reason else ""
            return f"{self.status.value}: {self.whale_id}{note}"
        return str(self.status.value)


@dataclass(frozen=True)
class CandidatePhoto:
    """What the candidate pane shows: photo ``index`` of ``count`` of the candidate ranked ``rank``."""

    rank: int
    candidate: Candidate
    photo: PhotoRecord
    index: int
    count: int

    @property
    def best_match(self) -> bool:
        """The gallery photo nearest to the query of all: the first candidate's best photo."""
        return self.rank == 0 and self.index == 0 and self.photo.photo_id == self.candidate.photo.photo_id


class QueueModel(QAbstractListModel):
    """The queued photos: thumbnail, file name, date when known, status (with an error's reason)."""

    def __init__(self, thumbnails: ThumbnailCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self._entries: list[QueueEntry] = []
        thumbnails.thumbnail_loaded.connect(self._on_thumbnail_loaded)

    @property
    def entries(self) -> Sequence[QueueEntry]:
        """The queued photos in order (a copy)."""
        return tuple(self._entries)

    def entry(self, row: int) -> QueueEntry | None:
        """The entry in ``row``, or ``None``."""
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def row_of(self, entry: QueueEntry | None) -> int:
        """The row of ``entry`` (``-1``: not queued)."""
        return next((row for row, e in enumerate(self._entries) if e is entry), -1)

    def counts(self) -> dict[Status, int]:
        """How many entries stand where."""
        counts = dict.fromkeys(Status, 0)
        for e in self._entries:
            counts[e.status] += 1
        return counts

    def append(self, entries: Sequence[QueueEntry]) -> None:
        """Queue more photos at the end."""
        if not entries:
            return
        first = len(self._entries)
        self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
        self._entries.extend(entries)
        self.endInsertRows()

    def keep(self, keep: Callable[[QueueEntry], bool]) -> None:
        """Drop the entries for which ``keep`` is false."""
        self.beginResetModel()
        self._entries = [e for e in self._entries if keep(e)]
        self.endResetModel()

    def update(self, entry: QueueEntry) -> None:
        """Tell the views that ``entry`` changed."""
        row = self.row_of(entry)
        if row >= 0:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        entry = self.entry(index.row()) if index.isValid() else None
        if entry is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.name
        if role == LINES_ROLE:  # the status last: it takes the lines left and wraps
            return [line for line in (moment(entry.taken_at), entry.status_text()) if line]
        if role == ACCENT_ROLE:
            return STATUS_COLOURS[entry.status]
        if role == Qt.ItemDataRole.DecorationRole:
            if entry.status is Status.ERROR:
                return icon("cancel").pixmap(40, 40)
            return self._thumbnails.pixmap(entry.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            taken = f"\ntaken {moment(entry.taken_at)}" if entry.taken_at else ""
            return f"{entry.path}{taken}\n{entry.status_text()}"
        if role == STATUS_ROLE:
            return entry.status
        if role == OBJECT_ROLE:
            return entry
        return None

    def _on_thumbnail_loaded(self, path: str) -> None:
        for entry in self._entries:
            if str(entry.path) == path:
                self.update(entry)


def last_seen_line(when: datetime | None, place: str) -> str:
    """``last seen 2024-07-03, Husavik`` (what is known of it)."""
    return "last seen " + ", ".join(part for part in (day(when), place) if part)


class CandidateModel(QAbstractListModel):
    """The candidates for the photo under review: best-photo thumbnail, id and name, distance, photos,
    last seen (when known)."""

    def __init__(self, thumbnails: ThumbnailCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self._candidates: list[Candidate] = []
        self._threshold: float | None = None
        self._rejected: frozenset[str] = frozenset()
        thumbnails.thumbnail_loaded.connect(self._on_thumbnail_loaded)

    def set_candidates(self, candidates: list[Candidate], threshold: float | None,
                       rejected: frozenset[str] = frozenset()) -> None:
        """Show these candidates; ``threshold`` marks the ones beyond the new-whale distance, ``rejected``
        the whales the researcher said the query is not."""
        self.beginResetModel()
        self._candidates, self._threshold, self._rejected = list(candidates), threshold, rejected
        self.endResetModel()

    def set_rejected(self, rejected: frozenset[str]) -> None:
        """Mark the candidate whales the researcher said the query is not."""
        self._rejected = rejected
        if self._candidates:
            self.dataChanged.emit(self.index(0), self.index(len(self._candidates) - 1))

    @property
    def candidates(self) -> list[Candidate]:
        """The candidates shown (a copy)."""
        return list(self._candidates)

    def candidate(self, row: int) -> Candidate | None:
        """The candidate ranked ``row`` (0: the nearest), or ``None``."""
        return self._candidates[row] if 0 <= row < len(self._candidates) else None

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._candidates)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        cand = self.candidate(index.row()) if index.isValid() else None
        if cand is None:
            return None
        beyond = self._threshold is not None and cand.distance > self._threshold
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{cand.whale_id}  {cand.name}".strip()
        if role == LINES_ROLE:
            lines = [f"d {cand.distance:.3f} · {plural(cand.photo_count, 'photo')}"]
            if cand.last_seen is not None or cand.last_place:
                lines.append(last_seen_line(cand.last_seen, cand.last_place))
            if cand.whale_id in self._rejected:
                lines.insert(0, "not this whale")
            return lines
        if role == ACCENT_ROLE:
            if cand.whale_id in self._rejected:
                return REJECTED_COLOUR
            return BEYOND_COLOUR if beyond else MATCH_COLOUR
        if role == BADGE_ROLE:
            return str(index.row() + 1)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnails.photo_pixmap(cand.photo)
        if role == Qt.ItemDataRole.ToolTipRole:
            verdict = " (beyond the new-whale threshold)" if beyond else ""
            seen = (f", {last_seen_line(cand.last_seen, cand.last_place)}"
                    if cand.last_seen or cand.last_place else "")
            return (
                f"{cand.whale_id} {cand.name}\ncosine distance {cand.distance:.4f}{verdict}\n"
                f"{plural(cand.photo_count, 'photo')}{seen}"
            )
        if role == OBJECT_ROLE:
            return cand
        return None

    def _on_thumbnail_loaded(self, path: str) -> None:
        for row, cand in enumerate(self._candidates):
            if str(ThumbnailCache.photo_file(cand.photo)) == path:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx)


class ReviewModel(QObject):
    """The queue, the photo under review, its candidates and the candidate photo shown."""

    current_entry_changed = Signal(object)  # QueueEntry | None: another photo is under review
    current_entry_updated = Signal(object)  # QueueEntry: the photo under review changed (status, result)
    candidate_selected = Signal(object)  # Candidate | None; its rank is ``candidate_index``
    candidate_photo_changed = Signal(object)  # CandidatePhoto | None

    def __init__(self, thumbnails: ThumbnailCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = QueueModel(thumbnails, self)
        self.candidates = CandidateModel(thumbnails, self)
        self._current: QueueEntry | None = None
        self.candidate_index = -1
        self.candidate_photos: list[PhotoRecord] = []  # of the selected whale, its best match first
        self.candidate_photo_index = 0

    # ------------------------------------------------------------------ what is shown

    @property
    def current_entry(self) -> QueueEntry | None:
        """The photo under review."""
        return self._current

    @property
    def current_row(self) -> int:
        """Its queue row (``-1``: none)."""
        return self.queue.row_of(self._current)

    def current_candidate(self) -> Candidate | None:
        """The selected candidate."""
        return self.candidates.candidate(self.candidate_index)

    def current_photo(self) -> CandidatePhoto | None:
        """The candidate photo shown."""
        cand = self.current_candidate()
        if cand is None or not 0 <= self.candidate_photo_index < len(self.candidate_photos):
            return None
        return CandidatePhoto(
            self.candidate_index,
            cand,
            self.candidate_photos[self.candidate_photo_index],
            self.candidate_photo_index,
            len(self.candidate_photos),
        )

    # ------------------------------------------------------------------ changes

    def show(self, entry: QueueEntry | None) -> None:
        """Put ``entry`` under review (``None``: nothing) with its best candidate selected."""
        if entry is not None and self.queue.row_of(entry) < 0:
            entry = None
        self._current = entry
        self._reset_candidates()
        self.current_entry_changed.emit(entry)
        self.select_candidate(0)

    def show_row(self, row: int) -> None:
        """Put queue row ``row`` under review (out of range: nothing)."""
        self.show(self.queue.entry(row))

    def update(self, entry: QueueEntry) -> None:
        """``entry`` changed: the queue repaints it and, when it is under review, so does the review."""
        self.queue.update(entry)
        if entry is not self._current:
            return
        if self.candidates.candidates != entry.candidates:
            self._reset_candidates()
            self.select_candidate(0)
        self.current_entry_updated.emit(entry)

    def select_candidate(self, index: int) -> None:
        """Select the candidate ranked ``index`` (clamped), showing its best-matching photo."""
        count = self.candidates.rowCount()
        index = max(0, min(index, count - 1)) if count else -1
        cand = self.candidates.candidate(index)
        self.candidate_index = index
        self.candidate_photos = [cand.photo] if cand is not None else []
        self.candidate_photo_index = 0
        self.candidate_selected.emit(cand)
        self.candidate_photo_changed.emit(self.current_photo())

    def step_candidate(self, delta: int) -> None:
        """Left/right through the candidates (stopping at the ends)."""
        if self.candidates.rowCount():
            self.select_candidate(self.candidate_index + delta)

    def toggle_rejected(self) -> bool:
        """"Not this whale": the selected candidate is marked as not the whale under review (stored as an
        explicit rejection with the decision) and the next candidate is selected; on a rejected one, take
        the rejection back. False when there is nothing to reject."""
        entry, cand = self._current, self.current_candidate()
        if entry is None or cand is None or not entry.reviewable:
            return False
        if cand.whale_id in entry.rejected:
            entry.rejected.discard(cand.whale_id)
        else:
            entry.rejected.add(cand.whale_id)
        self.candidates.set_rejected(frozenset(entry.rejected))
        self.current_entry_updated.emit(entry)
        following = next((i for i in range(self.candidate_index + 1, self.candidates.rowCount())
                          if self.candidates.candidates[i].whale_id not in entry.rejected), None)
        if cand.whale_id in entry.rejected and following is not None:
            self.select_candidate(following)
        return True

    def step_candidate_photo(self, delta: int) -> None:
        """Up/down through the selected whale's photos (wrapping)."""
        n = len(self.candidate_photos)
        if n > 1:
            self.candidate_photo_index = (self.candidate_photo_index + delta) % n
            self.candidate_photo_changed.emit(self.current_photo())

    def set_whale_photos(self, whale_id: str, rank: int, photos: list[PhotoRecord]) -> None:
        """The photos of the whale ranked ``rank`` arrived: list them, its best match first."""
        cand = self.current_candidate()
        if cand is None or cand.whale_id != whale_id or rank != self.candidate_index:
            return  # the user moved on
        shown = self.candidate_photos[self.candidate_photo_index] if self.candidate_photos else cand.photo
        ordered = [cand.photo] + [p for p in photos if p.photo_id != cand.photo.photo_id]
        self.candidate_photos = ordered
        self.candidate_photo_index = next(
            (i for i, p in enumerate(ordered) if p.photo_id == shown.photo_id), 0
        )
        self.candidate_photo_changed.emit(self.current_photo())

    def next_to_review(self) -> QueueEntry | None:
        """The next photo needing review after the current one (wrapping), other than the current one."""
        entries = self.queue.entries
        start = self.current_row
        for step in range(1, len(entries) + 1):
            entry = entries[(start + step) % len(entries)]
            if entry.reviewable and entry is not self._current:
                return entry
        return None

    def keep(self, keep: Callable[[QueueEntry], bool]) -> None:
        """Drop queue entries; the one under review stays shown when it is kept."""
        current = self._current
        self.queue.keep(keep)
        self.show(current if current is not None and keep(current) else None)

    def _reset_candidates(self) -> None:
        entry = self._current
        ident = entry.identification if entry is not None else None
        self.candidates.set_candidates(
            entry.candidates if entry is not None else [], ident.threshold if ident is not None else None,
            frozenset(entry.rejected) if entry is not None else frozenset(),
        )
