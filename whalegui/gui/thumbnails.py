"""Thumbnails for list models: decoded to ``QImage`` in workers, made ``QPixmap``s on the GUI thread."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

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
            on_result=lambda img, k=key: self._on_loaded(k, img),
            on_error=lambda exc, k=key: self._on_failed(k, exc),
        )
        return None

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
