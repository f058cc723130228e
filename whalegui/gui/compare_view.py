"""The review: the verdict, the query photo and the selected candidate's photo at full resolution, the
candidate strip, and the decision buttons.

Zoom is shared (a factor relative to "fit", so photos of different resolutions stay comparable) and so is
the pan position (the visible centre as a fraction of each photo). The query can be rotated and flipped;
that is a view transform only, the file is never changed. The screen proposes what the verdict says: under
"likely a new whale" Enter means New whale, else it confirms the selected candidate.

Each pane outlines its photo's fluke box. The researcher can draw a new box on the query (Draw box, B, or
Shift+drag) and the photo is identified again with it; Show matches (M) marks the keypoint pairs that the
geometric check matched between the query and the candidate photo, in the same colour and number on both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from whalegui.core.identify import Candidate, Identification
from whalegui.core.verify import Verification
from whalegui.gui.candidate_strip import CandidateStrip
from whalegui.gui.controller import Controller
from whalegui.gui.elided_label import ElidedLabel
from whalegui.gui.image_pane import ZOOM_STEP, Box, ImagePane
from whalegui.gui.messages import day, moment
from whalegui.gui.photo_panes import PhotoPanes
from whalegui.gui.resources import icon
from whalegui.gui.review_model import CandidatePhoto, QueueEntry, Status
from whalegui.gui.sighting_strip import SightingStrip
from whalegui.wording import plural

MIN_ZOOM, MAX_ZOOM = 0.25, 64.0
KEYS_HINT = (
    "←/→ candidates · ↑/↓ that whale's photos · wheel or +/- zoom · drag to pan · Shift+drag a fluke box · "
    "M matches · F1 all keys"
)
#: The fluke box's colour by who placed it.
BOX_COLOURS = {"detector": QColor("#4dd0e1"), "researcher": QColor("#ffb74d")}


class CompareView(QWidget):
    """Query and candidate side by side (or one above the other), the strip, and the decisions."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._review = controller.review
        self.zoom = 1.0
        self.centre = (0.5, 0.5)
        self.rotation = 0
        self.flip_h = False
        self.flip_v = False

        self.verdict = QLabel("", self)
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.PlainText)
        self.panes = PhotoPanes(self)
        self.query_pane: ImagePane = self.panes.query_pane
        self.candidate_pane: ImagePane = self.panes.candidate_pane

        tools = QHBoxLayout()
        tools.setContentsMargins(0, 0, 0, 0)
        tools.setSpacing(2)
        for name, tip, slot in (
            ("zoom-out", "Zoom out (-)", lambda: self.zoom_by(1 / ZOOM_STEP)),
            ("zoom-in", "Zoom in (+)", lambda: self.zoom_by(ZOOM_STEP)),
            ("zoom-fit", "Fit both photos to their panes (0)", self.fit),
            ("zoom-100", "Query at full resolution, 1:1 (1)", self.actual_size),
            ("rotate-left", "Rotate the query left ([)", lambda: self.rotate(-90)),
            ("rotate-right", "Rotate the query right (])", lambda: self.rotate(90)),
            ("flip-horizontal", "Flip the query left-right (H)", self.flip_horizontal),
            ("flip-vertical", "Flip the query upside down (V)", self.flip_vertical),
        ):
            tools.addWidget(self._tool(name, tip, slot))
            if name in ("zoom-100", "rotate-right"):
                tools.addSpacing(8)
        tools.addSpacing(8)
        self.draw_button = self._tool("draw-box", "Draw the fluke's box on the query, then identify it again "
                                      "with it (B, or Shift+drag)", None)
        self.matches_button = self._tool("matches", "Show the marks matched between the query and the "
                                         "candidate (M)", None)
        for button in (self.draw_button, self.matches_button):
            button.setCheckable(True)
            tools.addWidget(button)
        self.draw_button.toggled.connect(self.query_pane.set_drawing)
        self.matches_button.toggled.connect(lambda _on: self._update_matches())
        self._matches: tuple[Identification, int, Verification] | None = None
        self.zoom_label = QLabel("", self)
        self.zoom_label.setObjectName("hint")
        tools.addSpacing(8)
        tools.addWidget(self.zoom_label)
        tools.addStretch(1)

        self.strip = CandidateStrip(controller.review, self)
        self.confirm_button = QPushButton(icon("confirm"), "Same whale (Enter)", self)
        self.confirm_button.setObjectName("confirmButton")
        self.confirm_button.setToolTip("Add the query photo to the selected whale")
        self.new_button = QPushButton(icon("new-whale"), "New whale… (N)", self)
        self.new_button.setObjectName("newWhaleButton")
        self.new_button.setToolTip("Enroll the query photo as a whale not in the gallery")
        self.skip_button = QPushButton(icon("skip"), "Skip (S)", self)
        self.skip_button.setToolTip("Decide later: go to the next photo that needs review")
        self.undo_button = QPushButton(icon("undo"), "Undo (Ctrl+Z)", self)
        self.undo_button.setEnabled(False)
        self.keys_hint = ElidedLabel(KEYS_HINT, self)
        self.keys_hint.setObjectName("hint")
        buttons = QHBoxLayout()
        for b in (self.confirm_button, self.new_button, self.skip_button, self.undo_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Enter must not "click" whichever button has focus
            buttons.addWidget(b)
        buttons.addWidget(self.keys_hint, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.verdict)
        layout.addLayout(tools)
        layout.addWidget(self.panes, 1)
        layout.addWidget(self.strip)
        self.sighting_strip = SightingStrip(controller, self)
        layout.addWidget(self.sighting_strip)
        layout.addLayout(buttons)

        self.confirm_button.clicked.connect(controller.confirm)
        self.new_button.clicked.connect(controller.request_new_whale)
        self.skip_button.clicked.connect(controller.skip)
        self.undo_button.clicked.connect(controller.undo)
        for pane in (self.query_pane, self.candidate_pane):
            pane.zoom_requested.connect(self.zoom_by)
            pane.panned.connect(self._on_pane_panned)
        self._review.current_entry_changed.connect(self._on_current_entry_changed)
        self._review.current_entry_updated.connect(self._on_current_entry_updated)
        self._review.candidate_selected.connect(self._on_candidate_selected)
        self._review.candidate_photo_changed.connect(self._on_candidate_photo_changed)
        controller.query_image_loaded.connect(self._on_query_image_loaded)
        controller.candidate_image_loaded.connect(self._on_candidate_image_loaded)
        controller.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        self.query_pane.box_drawn.connect(self._on_box_drawn)
        controller.flukes.matches_loaded.connect(self._on_matches_loaded)
        self._on_current_entry_changed(self._review.current_entry)

    def _tool(self, name: str, tip: str, slot: Callable[[], None] | None) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icon(name))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        if slot is not None:
            button.clicked.connect(slot)
        return button

    # ------------------------------------------------------------------ the fluke box and the matches

    @property
    def show_matches(self) -> bool:
        """Whether the matched marks are shown."""
        return self.matches_button.isChecked()

    def toggle_matches(self) -> None:
        """Show or hide the matched marks (M)."""
        self.matches_button.toggle()

    def set_show_matches(self, show: bool) -> None:
        self.matches_button.setChecked(show)

    def toggle_drawing(self) -> None:
        """Turn box drawing on the query on or off (B); a drawn box turns it off again."""
        self.draw_button.toggle()

    def _on_box_drawn(self, box: Box) -> None:
        if self._controller.flukes.redraw(box, self.query_pane.image_size()):
            self.query_pane.set_fluke_box(box, BOX_COLOURS["researcher"], dashed=True)  # until it is used
        self.draw_button.setChecked(False)

    def _update_query_box(self) -> None:
        entry = self._review.current_entry
        fluke = entry.identification.fluke if entry is not None and entry.identification else None
        if entry is None or fluke is None or not fluke.found or self.query_pane.path != str(entry.path):
            self.query_pane.set_fluke_box(None)
        else:
            self.query_pane.set_fluke_box(fluke.box, BOX_COLOURS.get(fluke.source))

    def _update_candidate_box(self) -> None:
        shown = self._review.current_photo()
        fluke = shown.photo.fluke if shown is not None else None
        on_screen = shown is not None and self.candidate_pane.path == str(shown.photo.path)
        if fluke is None or not fluke.found or not on_screen:
            self.candidate_pane.set_fluke_box(None)
        else:
            self.candidate_pane.set_fluke_box(fluke.box, BOX_COLOURS.get(fluke.source))

    def _match_key(self) -> tuple[Identification, int] | None:
        """The query's identification and the candidate photo shown, when both photos are on screen."""
        entry, shown = self._review.current_entry, self._review.current_photo()
        if entry is None or entry.identification is None or shown is None or entry.status is Status.ERROR:
            return None
        if self.query_pane.path != str(entry.path) or self.candidate_pane.path != str(shown.photo.path):
            return None
        return entry.identification, shown.photo.photo_id

    def _update_matches(self) -> None:
        """Show the pairs for what is on screen, asking for them first if they are not here yet."""
        key = self._match_key()
        held = self._matches
        current = held is not None and key is not None and held[0] is key[0] and held[1] == key[1]
        if self.show_matches and current and held is not None:
            pairs = held[2].pairs
            self.query_pane.set_marks([(float(x), float(y)) for x, y in pairs[:, :2]])
            self.candidate_pane.set_marks([(float(x), float(y)) for x, y in pairs[:, 2:]])
        else:
            self.query_pane.set_marks([])
            self.candidate_pane.set_marks([])
            if self.show_matches and key is not None and not current:
                self._controller.flukes.request_matches(*key)
        self.panes.match_lines.update()
        self._update_candidate_title()

    def _on_matches_loaded(self, identification: Identification, photo_id: int, found: Verification) -> None:
        self._matches = (identification, photo_id, found)
        self._update_matches()

    # ------------------------------------------------------------------ what the window asks

    def query_preview(self, path: Path) -> QPixmap | None:
        """The query photo as shown, when it is ``path`` (for the New whale dialog's preview)."""
        pane = self.query_pane
        return pane.pixmap() if pane.has_image() and pane.path == str(path) else None

    def proposed_button(self) -> QPushButton | None:
        """The decision the screen proposes (Enter), or ``None`` when there is nothing to decide."""
        if self.confirm_button.property("proposed"):
            return self.confirm_button
        if self.new_button.property("proposed"):
            return self.new_button
        return None

    # ------------------------------------------------------------------ zoom, pan, orientation

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.zoom * factor)

    def set_zoom(self, zoom: float) -> None:
        self.zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        if self.query_pane.has_image():
            self.centre = self.query_pane.visible_centre()
        self._apply()

    def fit(self) -> None:
        self.zoom, self.centre = 1.0, (0.5, 0.5)
        self._apply()

    def actual_size(self) -> None:
        """Zoom so the query shows one photo pixel per screen pixel."""
        self.set_zoom(1.0 / self.query_pane.fit_scale())

    def rotate(self, degrees: int) -> None:
        self.rotation = (self.rotation + degrees) % 360
        self._apply_orientation()

    def flip_horizontal(self) -> None:
        self.flip_h = not self.flip_h
        self._apply_orientation()

    def flip_vertical(self) -> None:
        self.flip_v = not self.flip_v
        self._apply_orientation()

    def _apply_orientation(self) -> None:
        self.query_pane.set_orientation(self.rotation, self.flip_h, self.flip_v)
        self._apply()

    def _apply(self) -> None:
        for pane in (self.query_pane, self.candidate_pane):
            pane.show_at(self.zoom, self.centre)
        self.panes.match_lines.update()
        self.zoom_label.setText(f"{self.zoom * 100:.0f}% of fit" if self.query_pane.has_image() else "")

    def _on_pane_panned(self, fx: float, fy: float) -> None:
        self.centre = (fx, fy)
        source = self.sender()
        for pane in (self.query_pane, self.candidate_pane):
            if pane is not source:
                pane.show_at(self.zoom, self.centre)

    # ------------------------------------------------------------------ the review

    def _on_current_entry_changed(self, entry: QueueEntry | None) -> None:
        self.rotation, self.flip_h, self.flip_v = 0, False, False
        self.query_pane.set_orientation(0, False, False)
        self.zoom, self.centre = 1.0, (0.5, 0.5)
        title = self.panes.query_title
        if entry is None:
            title.setText("Query")
            self.query_pane.set_message("Choose a photo in the queue,\nor drop photos here.")
        elif entry.status is Status.ERROR:
            title.setText(f"Query: {entry.name}")
            self.query_pane.set_message(f"This photo cannot be used:\n{entry.reason}")
        elif self.query_pane.path != str(entry.path):
            self.query_pane.set_message("Loading…")
        self._on_current_entry_updated(entry)

    def _on_current_entry_updated(self, entry: QueueEntry | None) -> None:
        if entry is not None and entry.status is Status.ERROR and self.query_pane.has_image():
            self.query_pane.set_message(f"This photo cannot be used:\n{entry.reason}")
        if entry is not None and entry.status is not Status.ERROR:
            self.panes.query_title.setText(_query_title(entry))
        self._update_query_box()
        self._update_verdict(entry)
        self._update_buttons(entry)
        self._update_matches()

    def _update_buttons(self, entry: QueueEntry | None) -> None:
        reviewable = entry is not None and entry.reviewable and self._controller.ready
        has_candidate = self._review.current_candidate() is not None
        proposes_new = reviewable and entry is not None and (entry.likely_new or not has_candidate)
        self.confirm_button.setEnabled(reviewable and has_candidate)
        self.new_button.setEnabled(reviewable)
        self.skip_button.setEnabled(entry is not None)
        self.confirm_button.setText("Same whale (C)" if proposes_new else "Same whale (Enter)")
        self.new_button.setText("New whale… (Enter)" if proposes_new else "New whale… (N)")
        for button, proposed in (
            (self.confirm_button, reviewable and not proposes_new),
            (self.new_button, proposes_new),
        ):
            if button.property("proposed") != proposed:
                button.setProperty("proposed", proposed)
                button.style().unpolish(button)  # the style sheet picks the proposed button's colours
                button.style().polish(button)

    def _update_verdict(self, entry: QueueEntry | None) -> None:
        ident = entry.identification if entry is not None else None
        if entry is None or ident is None or entry.status is Status.ERROR:
            text, kind = "", ""
        elif entry.status in (Status.MATCHED, Status.NEW):
            note = f" ({entry.reason})" if entry.reason else ""
            text, kind = f"Done: {entry.status.value} {entry.whale_id}{note}", "matchBanner"
        elif entry.likely_new:
            nearest = (
                f"the nearest whale is at distance {ident.candidates[0].distance:.3f}, beyond the "
                f"threshold {ident.threshold:.2f}"
                if ident.candidates
                else "the gallery has no whales yet"
            )
            if not ident.new_whale:  # every candidate was marked "Not this whale"
                nearest = "you marked every candidate as not this whale"
            text = f"Likely a NEW whale: {nearest}. Compare the candidates, then enroll it with Enter."
            kind = "newWhaleBanner"
        else:
            best = ident.candidates[0]
            text = (
                f"Best match {best.whale_id} at distance {best.distance:.3f} "
                f"(threshold {ident.threshold:.2f}). Compare, then confirm with Enter."
            )
            if entry.rejected:
                text += f" Not this whale: {', '.join(sorted(entry.rejected))}."
            kind = "matchBanner"
        self.verdict.setText(text)
        self.verdict.setVisible(bool(text))
        self.verdict.setObjectName(kind)
        self.verdict.style().unpolish(self.verdict)
        self.verdict.style().polish(self.verdict)

    def _on_candidate_selected(self, candidate: Candidate | None) -> None:
        if candidate is None:
            entry = self._review.current_entry
            self.panes.candidate_title.setText("Candidate")
            self.panes.candidate_title.set_tooltip("")
            empty = entry is not None and entry.identification is not None and entry.reviewable
            self.candidate_pane.set_message(
                "No whales in the gallery yet:\nenroll this one as a new whale (Enter)." if empty else ""
            )
        self._update_buttons(self._review.current_entry)

    def _on_candidate_photo_changed(self, shown: CandidatePhoto | None) -> None:
        if shown is None:
            return
        cand, photo = shown.candidate, shown.photo
        self._update_candidate_title()
        taken = day(photo.taken_at)
        self.panes.candidate_title.set_tooltip(
            f"{photo.original_name}" + (f", taken {taken}" if taken else "")
            + f"; distance {cand.distance:.3f}; {plural(cand.photo_count, 'photo')} of this whale"
        )
        if self.candidate_pane.path != str(photo.path):
            self.candidate_pane.set_message("Loading…")
        self._update_candidate_box()
        self._update_matches()

    def _update_candidate_title(self) -> None:
        shown = self._review.current_photo()
        if shown is None:
            return
        cand, photo = shown.candidate, shown.photo
        name = f" {cand.name}" if cand.name else ""
        if shown.best_match:
            note = " · best match"
        else:
            taken = day(photo.taken_at)
            note = f" · taken {taken}" if taken else ""
        inliers = cand.inliers if photo.photo_id == cand.photo.photo_id else None
        held, key = self._matches, self._match_key()
        if held is not None and key is not None and held[0] is key[0] and held[1] == photo.photo_id:
            inliers = held[2].inliers
        if inliers is not None:
            note += f" · {plural(inliers, 'matching mark')}"
        self.panes.candidate_title.setText(
            f"#{shown.rank + 1} {cand.whale_id}{name} · photo {shown.index + 1}/{max(shown.count, 1)}{note}"
        )

    def _on_query_image_loaded(self, path: str, image: QImage) -> None:
        entry = self._review.current_entry
        if entry is not None and str(entry.path) == path:
            self.query_pane.set_image(path, image)
            self._update_query_box()
            self._apply()
            self._update_matches()

    def _on_candidate_image_loaded(self, path: str, image: QImage) -> None:
        shown = self._review.current_photo()
        if shown is not None and str(shown.photo.path) == path:
            self.candidate_pane.set_image(path, image)
            self._update_candidate_box()
            self._apply()
            self._update_matches()


def _query_title(entry: QueueEntry) -> str:
    """``Query: NAME · when``, and where its fluke came from when that is not the detector."""
    when = moment(entry.taken_at)
    text = f"Query: {entry.name}" + (f" · {when}" if when else "")
    fluke = entry.identification.fluke if entry.identification is not None else None
    if fluke is not None and not fluke.found:
        text += " · no fluke found: whole frame used"
    elif fluke is not None and fluke.source == "researcher":
        text += " · box drawn by hand"
    return text
