"""The queue of possibly-same whales a merge found (:class:`LikelySameDialog`): for each pair, the incoming
whale's photos beside those of the whale it identified as; "Same whale: merge" merges the incoming whale
into it (:meth:`Gallery.merge <whalegui.core.gallery.Gallery.merge>`, through the controller's editor),
"Keep apart" records the decision (the pair leaves the queue), "Later" leaves it for next time."""

from __future__ import annotations

import logging
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from whalegui.core.gallery.merge_report import LikelySame
from whalegui.core.records import PhotoRecord
from whalegui.gui.controller import Controller
from whalegui.gui.thumbnails import ThumbnailCache
from whalegui.wording import plural

log = logging.getLogger(__name__)

#: Photos shown per whale.
SHOWN = 4


class LikelySameDialog(QDialog):
    """Review ``pairs`` one at a time (the controller's editor merges; its service records "keep apart")."""

    def __init__(self, controller: Controller, pairs: list[LikelySame],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Possibly the same whale")
        self.resize(900, 520)
        self._controller = controller
        self.pairs = list(pairs)
        self.position = 0
        self.decisions: list[tuple[LikelySame, str]] = []  # (pair, "merged" | "apart" | "later")
        self._photos: dict[str, list[PhotoRecord]] = {}
        self.counter = QLabel()
        self.evidence = QLabel()
        self.evidence.setWordWrap(True)
        self.incoming_box, self.incoming = _photo_row()
        self.mine_box, self.mine = _photo_row()
        sides = QHBoxLayout()
        sides.addWidget(self.incoming_box)
        sides.addWidget(self.mine_box)
        self.merge_button = QPushButton("Same whale: &merge")
        self.apart_button = QPushButton("&Keep apart")
        self.later_button = QPushButton("&Later")
        self.close_button = QPushButton("Close")
        self.merge_button.clicked.connect(self._on_merge_clicked)
        self.apart_button.clicked.connect(self._on_apart_clicked)
        self.later_button.clicked.connect(partial(self._decide, "later"))
        self.close_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        for b in (self.merge_button, self.apart_button, self.later_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.counter)
        layout.addLayout(sides, 1)
        layout.addWidget(self.evidence)
        layout.addLayout(buttons)
        controller.thumbnails.thumbnail_loaded.connect(self._on_thumbnail_loaded)
        self._show_current()

    @property
    def current(self) -> LikelySame | None:
        """The pair on show (None when the queue is done)."""
        return self.pairs[self.position] if self.position < len(self.pairs) else None

    def _show_current(self) -> None:
        pair = self.current
        for b in (self.merge_button, self.apart_button, self.later_button):
            b.setEnabled(pair is not None)
        if pair is None:
            self.counter.setText(f"<b>Done:</b> {plural(len(self.pairs), 'pair')} reviewed.")
            self.evidence.setText("")
            self.incoming_box.setTitle("")
            self.mine_box.setTitle("")
            _fill(self.incoming, [], self._controller.thumbnails)
            _fill(self.mine, [], self._controller.thumbnails)
            self.close_button.setDefault(True)
            return
        self.counter.setText(f"<b>Possibly the same whale</b> — {self.position + 1} of {len(self.pairs)}")
        their = f" (their {pair.their_id})" if pair.their_id != pair.whale_id else ""
        self.incoming_box.setTitle(f"Merged in: {pair.whale_id}{their}")
        self.mine_box.setTitle(f"Already here: {pair.mine}")
        self.evidence.setText(
            f"{pair.agreed} of {plural(pair.searched, 'photo')} of {pair.whale_id} identified as {pair.mine} "
            f"(nearest distance {pair.distance:.3f}, within the gallery's threshold). Merging moves the "
            f"photos of {pair.whale_id} to {pair.mine}; {pair.mine} keeps its name and notes.")
        for whale_id in (pair.whale_id, pair.mine):
            if whale_id not in self._photos:
                self._controller.service.whale_photos(
                    whale_id, done=partial(self._on_photos_listed, whale_id),
                    failed=partial(self._on_photos_failed, whale_id))
        self._refill()

    def _refill(self) -> None:
        pair = self.current
        if pair is None:
            return
        _fill(self.incoming, self._photos.get(pair.whale_id, []), self._controller.thumbnails)
        _fill(self.mine, self._photos.get(pair.mine, []), self._controller.thumbnails)

    def _on_photos_listed(self, whale_id: str, photos: list[PhotoRecord]) -> None:
        self._photos[whale_id] = photos
        self._refill()

    def _on_photos_failed(self, whale_id: str, exc: BaseException) -> None:
        log.info("no photos of %s: %s", whale_id, exc)  # merged or deleted meanwhile
        self._photos[whale_id] = []
        self._refill()

    def _on_thumbnail_loaded(self, _path: str) -> None:
        self._refill()

    def _on_merge_clicked(self) -> None:
        pair = self.current
        if pair is not None:
            self._controller.editor.merge_whales(pair.whale_id, pair.mine)
            self._decide("merged")

    def _on_apart_clicked(self) -> None:
        pair = self.current
        if pair is not None:
            self._controller.service.keep_apart(
                pair, failed=lambda exc: self._controller.status_messaged.emit(str(exc)))
            self._decide("apart")

    def _decide(self, decision: str) -> None:
        pair = self.current
        if pair is None:
            return
        self.decisions.append((pair, decision))
        self.position += 1
        # A whale merged away leaves the pairs that name it.
        if decision == "merged":
            gone = pair.whale_id
            self.pairs = self.pairs[:self.position] + [p for p in self.pairs[self.position:]
                                                       if gone not in (p.whale_id, p.mine)]
        self._show_current()


class _Photo(QLabel):
    """A photo scaled to fit the label whatever its size (it is rescaled when the dialog is resized)."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(120, 60)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self._source: QPixmap | None = None

    def show_pixmap(self, pixmap: QPixmap | None, text: str = "") -> None:
        self._source = pixmap
        if pixmap is None:
            self.clear()
            self.setText(text)
        else:
            self._rescale()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._source is not None:
            self.setPixmap(self._source.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))


def _photo_row() -> tuple[QGroupBox, list[_Photo]]:
    box = QGroupBox()
    grid = QGridLayout(box)
    labels = []
    for i in range(SHOWN):
        label = _Photo()
        grid.addWidget(label, i // 2, i % 2)
        labels.append(label)
    return box, labels


def _fill(labels: list[_Photo], photos: list[PhotoRecord], thumbnails: ThumbnailCache) -> None:
    """Show up to SHOWN photos; the labels not needed are hidden, so fewer photos are shown larger."""
    for label, photo in zip(labels, photos + [None] * len(labels), strict=False):
        label.setVisible(photo is not None or (not photos and label is labels[0]))
        pixmap = thumbnails.photo_pixmap(photo) if photo is not None else None
        label.show_pixmap(pixmap, "" if photo is None else "…")
        label.setToolTip("" if photo is None else photo.original_name)
