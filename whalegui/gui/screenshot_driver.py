"""Steps the app into one of its main states for documentation screenshots (``--screenshot-state``)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QTimer

from whalegui.gui.controller import Controller
from whalegui.gui.main_window import MainWindow
from whalegui.gui.merge_screenshots import MERGE_STATES, MergeShots
from whalegui.gui.review_model import Status

SCREENSHOT_STATES = ("empty", "queue", "review", "matches", "enroll", "gallery", "history", "triplets",
                     "rejected", *MERGE_STATES)


class ScreenshotDriver:
    """Polls the app every 200 ms and, once the state can be reached, drives the window into it."""

    def __init__(self, window: MainWindow, controller: Controller, state: str) -> None:
        self.window, self.controller, self.state = window, controller, state
        self.done = False
        self.planted = False  # "triplets": the misranked confirmations were made
        self.merge = MergeShots(window, controller, state) if state in MERGE_STATES else None
        self.timer = QTimer(window)
        self.timer.timeout.connect(self.step)
        self.timer.start(200)

    def step(self) -> None:
        c, w, review = self.controller, self.window, self.controller.review
        busy = c.batch_running or c.editor.importing
        if not c.ready or self.done:
            return
        if self.state == "empty":
            self.done = True
        elif self.state == "gallery":
            if c.info is not None and c.info.whales and not c.editor.importing:
                w.tabs.setCurrentIndex(1)
                w.browser.select_whale(c.info.whales[0].whale_id)
                self.done = True
        elif self.state == "history":  # the longest, latest history: its sightings and where they were
            if c.info is not None and c.info.whales and not c.editor.importing:
                whale = max(c.info.whales, key=lambda w: (w.photo_count, w.last_seen or datetime.min))
                w.tabs.setCurrentIndex(1)
                w.browser.select_whale(whale.whale_id)
                w.browser.pages.setCurrentWidget(w.browser.history)
                self.done = True
        elif self.state == "triplets":
            self.plant_triplets(busy)
        elif self.merge is not None:
            self.merge.step()
            self.done = self.merge.done
        elif self.state == "queue":
            # a queue with every kind of entry: matched, new whale, needs review, an unreadable file
            reviewable = [e for e in c.entries if e.reviewable]
            if len(reviewable) < 4 or busy:
                return
            review.show(reviewable[0])
            c.confirm()
            review.show(reviewable[1])
            c.enroll_current("", "Demo")
            broken = c.make_temp_dir("whalegui-shot-") / "card-read-error.jpg"
            broken.write_bytes(b"\xff\xd8\xff\xe0 half-written")
            c.add_paths([broken])
            self.done = True
        elif any(e.status is Status.REVIEW for e in c.entries) and not busy:
            current = review.current_entry
            if current is None or not current.reviewable:
                return
            if self.state in ("review", "matches", "rejected"):  # a confident match
                best = min(
                    (e for e in c.entries if e.reviewable and e.candidates),
                    key=lambda e: e.candidates[0].distance,
                    default=current,
                )
                review.show(best)
            if self.state == "matches":  # with the marks matched between query and candidate
                w.compare_view.toggle_matches()
            if self.state == "rejected":  # "Not this whale" on the best match
                review.toggle_rejected()
            if self.state == "enroll":
                c.request_new_whale()
            self.done = True
        if self.done:
            self.timer.stop()

    def plant_triplets(self, busy: bool) -> None:
        """File two demo queries under their second candidate (misranked), then show the triplets."""
        c, review = self.controller, self.controller.review
        if not self.planted:
            reviewable = [e for e in c.entries if e.reviewable and len(e.candidates) > 1]
            if len(reviewable) < 2 or busy:
                return
            for entry in reviewable[:2]:
                review.show(entry)
                review.select_candidate(1)
                c.confirm()
            self.planted = True
        elif not any(e.status is Status.IDENTIFYING for e in c.entries):
            self.window.tuning_menu.show_triplets()
            self.done = True
