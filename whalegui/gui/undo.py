"""Undo and redo of the review's decisions, as commands on a ``QUndoStack``.

A decision (a confirmed match, an enrolled new whale) is pushed once its write has reached the gallery, so
the first ``redo()`` that ``QUndoStack.push`` calls does nothing. Undo and redo are gallery writes too: the
command hands them to its :class:`DecisionHandler` (the controller), which runs them on the gallery thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from PySide6.QtGui import QUndoCommand

from whalegui.core.sightings import Sighting
from whalegui.gui.review_model import QueueEntry


class DecisionKind(Enum):
    """What a decision did."""
    CONFIRM = "confirm"  # the query photo was added to a catalogued whale
    ENROLL = "enroll"  # the query photo was enrolled as a new whale


@dataclass
class Decision:
    """What a decision wrote: the whale and the photos it added (updated when it is redone)."""

    kind: DecisionKind
    entry: QueueEntry
    whale_id: str
    photo_ids: list[int] = field(default_factory=list)
    name: str = ""  # of a new whale, to enroll it again on redo
    notes: str = ""
    sighting: Sighting | None = None  # the sighting it recorded, to record it again on redo

    def describe(self) -> str:
        """``alpha.jpg as whale w_alpha`` / ``alpha.jpg as new whale w_x``, for menus and messages."""
        what = "whale" if self.kind is DecisionKind.CONFIRM else "new whale"
        return f"{self.entry.name} as {what} {self.whale_id}"


class DecisionHandler(Protocol):
    """Runs the gallery writes of undo and redo."""

    def undo_decision(self, decision: Decision) -> None:
        """Take the decision's photos out of the gallery again."""

    def redo_decision(self, decision: Decision) -> None:
        """Write the decision again."""


class DecisionCommand(QUndoCommand):
    """One decision on the undo stack."""

    def __init__(self, decision: Decision, handler: DecisionHandler) -> None:
        super().__init__(decision.describe())
        self.decision = decision
        self._handler = handler
        self._applied = True  # pushed after its write landed

    def redo(self) -> None:
        if self._applied:
            return
        self._applied = True
        self._handler.redo_decision(self.decision)

    def undo(self) -> None:
        self._applied = False
        self._handler.undo_decision(self.decision)
