"""Thumbnails for list models: decoded to ``QImage`` in workers, made ``QPixmap``s on the GUI thread."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from whalegui.core.records import PhotoRecord
from whalegui.gui.workers import WorkerPool, load_qimage

log = logging.getLogger(__name__)


class ThumbnailCache(QObject):
    """``pixmap(path)`` returns the thumbnail or ``None`` and starts loading it; ``thumbnail_loaded`` says
    when it is there. A photo that cannot be read is remembered as failed and not retried."""

    thumbnail_loaded = Signal(str)  # path

    def __init__(self, pool: WorkerPool, size: int = 96, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self.size = size
        self._pixmaps: dict[str, QPixmap] = {}
        self._pending: set[str] = set()
        self._failed: set[str] = set()

    def pixmap(self, path: str | Path | None) -> QPixmap | None:
        if path is None:
            return None
        key = str(path)
        found = self._pixmaps.get(key)
        if found is not None or key in self._pending or key in self._failed:
            return found
        self._pending.add(key)
        self._pool.submit(
            load_qimage,
            key,
            self.size,
            priority=1,
            on_result=partial(self._on_loaded, key),
            on_error=partial(self._on_failed, key),
        )
        return None

    def photo_pixmap(self, photo: PhotoRecord | None) -> QPixmap | None:
        """The thumbnail of a gallery photo (from its small copy when the gallery made one)."""
        return self.pixmap(self.photo_file(photo)) if photo is not None else None

    @staticmethod
    def photo_file(photo: PhotoRecord) -> Path:
        """The file a gallery photo's thumbnail is made from: its small copy, else the photo."""
        return photo.thumb_path or photo.path

    def failed(self, path: str | Path) -> bool:
        return str(path) in self._failed

    def _on_loaded(self, key: str, image: QImage) -> None:
        self._pending.discard(key)
        self._pixmaps[key] = QPixmap.fromImage(image)
        self.thumbnail_loaded.emit(key)

    def _on_failed(self, key: str, exc: BaseException) -> None:
        self._pending.discard(key)
        self._failed.add(key)
        log.debug("no thumbnail for %s: %s", key, exc)
        self.thumbnail_loaded.emit(key)
