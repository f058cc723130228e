"""The review's fluke work: identifying the query again with a box the researcher drew, and fetching the
matched keypoints between the query and a candidate photo for the overlay.

Both go through the :class:`~whalegui.gui.service.GalleryService` (never on the GUI thread). The controller
owns one :class:`FlukeReview`; views connect to :attr:`FlukeReview.matches_loaded` and call its methods.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from whalegui.core import errors
from whalegui.core.fluke import Box, Fluke
from whalegui.core.identify import Identification
from whalegui.gui import messages
from whalegui.gui.review_model import QueueEntry, ReviewModel, Status
from whalegui.gui.service import WRITE_PRIORITY, GalleryService

log = logging.getLogger(__name__)


class FlukeReview(QObject):
    """Re-identifies the photo under review with a drawn box; fetches match points for the overlay."""

    #: (Identification, candidate photo id, Verification): the pairs for that query and photo arrived
    matches_loaded = Signal(object, int, object)
    error_raised = Signal(str, str)  # title, text
    status_messaged = Signal(str)

    def __init__(self, service: GalleryService, review: ReviewModel, top: Callable[[], int],
                 ready: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self._review = review
        self._top = top
        self._ready = ready

    def redraw(self, box: Box, size: tuple[int, int]) -> bool:
        """Identify the photo under review again with ``box`` (its full-resolution pixels; ``size`` is the
        photo's (width, height)) as its fluke. Returns whether it was started: the photo must await review."""
        entry = self._review.current_entry
        if entry is None or not entry.reviewable or not self._ready():
            return False
        fluke = Fluke.drawn(box, size)
        entry.status, entry.reason = Status.IDENTIFYING, "identifying with the box drawn"
        self._review.update(entry)
        # a user action: ahead of the batch, and not cancelled with it
        self._service.identify(entry.path, self._top(), threading.Event(), fluke=fluke,
                               priority=WRITE_PRIORITY,
                               done=lambda ident: self._on_identified(entry, ident),
                               failed=lambda exc: self._on_failed(entry, exc))
        return True

    def _on_identified(self, entry: QueueEntry, ident: Identification | None) -> None:
        entry.status, entry.reason = Status.REVIEW, ""
        if ident is not None:
            entry.identification = ident
        self._review.update(entry)
        self.status_messaged.emit(f"{entry.name} identified again with the box drawn.")

    def _on_failed(self, entry: QueueEntry, exc: BaseException) -> None:
        entry.status, entry.reason = Status.REVIEW, ""  # the earlier identification still stands
        self._review.update(entry)
        if not isinstance(exc, (errors.WhaleguiError, ValueError)):
            log.error("identifying %s with a drawn box failed", entry.path, exc_info=exc)
        message = messages.box_failed(entry.name, exc)
        self.error_raised.emit(message.title, message.text)

    def request_matches(self, identification: Identification, photo_id: int) -> None:
        """Fetch the keypoint pairs between the query and catalogued photo ``photo_id``;
        :attr:`matches_loaded` brings them."""
        if not self._ready():
            return
        self._service.match_points(
            identification, photo_id,
            done=lambda found: self.matches_loaded.emit(identification, photo_id, found),
            failed=lambda exc: log.warning("matching points with photo %d failed: %s", photo_id, exc))
