"""The merge's screenshot states (``--demo --screenshot-state merge|merge-queue``): a second team's small
gallery is made from the demo's query photos (one of them filed under one of the demo's ids for another
whale: an id conflict; one with a demo photo: the same whale), then merged into the demo gallery."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from whalegui.gui.controller import Controller
from whalegui.gui.likely_same_dialog import LikelySameDialog
from whalegui.gui.main_window import MainWindow
from whalegui.gui.merge_dialog import MergeDialog

log = logging.getLogger(__name__)

MERGE_STATES = ("merge", "merge-queue")


class MergeShots:
    """Drives the window into a merge state, one :meth:`step` at a time; :attr:`done` when there."""

    def __init__(self, window: MainWindow, controller: Controller, state: str) -> None:
        self.window, self.controller, self.state = window, controller, state
        self.other: Path | None = None
        self.dialog: MergeDialog | None = None
        self.done = False
        self._building = False

    def step(self) -> None:
        c = self.controller
        if self.done or c.info is None or not c.info.whales or c.editor.importing:
            return
        if self.other is None:
            if not self._building:
                self._building = True
                folder = c.make_temp_dir("whalegui-shot-other-") / "south-team"
                threading.Thread(target=self._build, args=(folder, c.model_path), daemon=True).start()
            return
        if self.dialog is None:
            self.dialog = MergeDialog(c, self.other, self.window)
            self.dialog.show()
            return
        d = self.dialog
        if d.running or d.report is None:
            return
        if self.state == "merge" or (not d.report.dry_run and not d.report.likely_same):
            self.done = True
        elif d.report.dry_run:
            d.merge_button.click()
        else:
            d.review_button.click()
            queue = self.window.findChild(LikelySameDialog)
            if queue is not None:
                queue.show()
            self.done = True

    def _build(self, folder: Path, model: Path | None) -> None:
        from whalegui.core.embedder import Embedder
        from whalegui.core.gallery import Gallery
        from whalegui.core.sightings import Sighting
        from whalegui.paths import bundled_model_path
        from whalegui.resources import demo_folder

        demo = demo_folder()
        queries, photos = demo / "queries", demo / "photos"
        south = Sighting(when="2025-08-14", place="Skjálfandi", observer="South team")
        try:
            with Gallery.open(folder, Embedder(model or bundled_model_path(), device="cpu")) as g:
                g.enroll([queries / "query_01.jpg"], whale_id="s_0001", name="Notch", sighting=south)
                g.enroll([queries / "query_02.jpg", photos / "w_3b17498_1.jpg"], whale_id="w_3b17498",
                         sighting=south)
                g.enroll([queries / "query_04.jpg"], whale_id="w_13495fc", name="Comet", sighting=south)
                g.enroll([queries / "query_03.jpg"], whale_id="s_0002", sighting=south)
        except Exception:  # a screenshot aid: say why in the log, never take the app down
            log.exception("could not make the screenshot's second gallery")
            return
        self.other = folder
