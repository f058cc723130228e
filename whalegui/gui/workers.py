"""Background work for the GUI: ``Worker(QRunnable)`` with ``WorkerSignals`` (superqt's ``WorkerBase`` idea).

A worker runs a plain function off the GUI thread. ``run()`` catches every exception and emits ``error``,
so nothing is lost silently; ``finished`` is always emitted last. Cancellation is a ``threading.Event`` the
function checks between items. Workers build ``QImage``s only; ``QPixmap``s are made on the GUI thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, SignalInstance
from PySide6.QtGui import QImage

from whalegui.core.images import load_photo

log = logging.getLogger(__name__)

R = TypeVar("R")


class WorkerSignals(QObject):
    """What a worker reports. Signals live in the GUI thread, so slots run there (queued connections)."""

    progress = Signal(object)  # the value the function passes to ``progress(value)``
    result = Signal(object)  # the function's return value
    error = Signal(object)  # the exception it raised
    finished = Signal()  # always, after result or error


class Worker(QRunnable):
    """Run ``fn(*args, **kwargs)`` in a thread pool.

    With ``with_progress=True`` the function also receives ``progress=`` (a callable taking one value,
    emitted as ``signals.progress``) and ``cancel=`` (the worker's ``threading.Event``).
    """

    def __init__(
        self,
        fn: Callable[..., object],
        *args: object,
        with_progress: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns the worker; the pool keeps a reference until it finishes
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.name = getattr(fn, "__qualname__", "worker")
        self.signals = WorkerSignals()
        self.cancel_event = threading.Event()
        self._with_progress = with_progress

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def run(self) -> None:
        kwargs = dict(self.kwargs)
        if self._with_progress:
            kwargs["progress"] = self._emit_progress
            kwargs["cancel"] = self.cancel_event
        try:
            value = self.fn(*self.args, **kwargs)
        except BaseException as exc:  # everything reaches the GUI: a worker never dies silently
            if not isinstance(exc, Exception):
                log.warning("worker %s interrupted by %r", self.name, exc)
            else:
                log.debug("worker %s failed: %s", self.name, exc, exc_info=True)
            self._emit(self.signals.error, exc)
        else:
            self._emit(self.signals.result, value)
        finally:
            self._emit(self.signals.finished)

    def _emit_progress(self, value: object) -> None:
        self._emit(self.signals.progress, value)

    @staticmethod
    def _emit(signal: SignalInstance, *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the signals object is gone: the app is quitting
            signal.emit(*args)


class WorkerPool(QObject):
    """A ``QThreadPool`` that remembers its running workers, so they can be cancelled and waited for.

    ``max_threads=1`` with threads that never expire gives a single, fixed thread: every job runs on it in
    order of priority, which is how the gallery's reads and writes are serialised.
    """

    def __init__(self, max_threads: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        if max_threads is not None:
            self._pool.setMaxThreadCount(max_threads)
        if max_threads == 1:
            self._pool.setExpiryTimeout(-1)
        self._active: set[Worker] = set()
        self._lock = threading.Lock()

    def start(self, worker: Worker, priority: int = 0) -> Worker:
        with self._lock:
            self._active.add(worker)
        worker.signals.finished.connect(lambda w=worker: self._forget(w))
        self._pool.start(worker, priority)
        return worker

    def submit(
        self,
        fn: Callable[..., R],
        *args: object,
        on_result: Callable[[R], object] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[object], None] | None = None,
        priority: int = 0,
        **kwargs: object,
    ) -> Worker:
        """Start ``fn`` in the pool and connect the given slots; returns the worker.

        Without ``on_error`` a failure is logged with its traceback: an error is never dropped.
        """
        worker = Worker(fn, *args, with_progress=on_progress is not None, **kwargs)
        if on_result is not None:
            worker.signals.result.connect(on_result)
        worker.signals.error.connect(on_error if on_error is not None else _log_error(worker.name))
        if on_progress is not None:
            worker.signals.progress.connect(on_progress)
        return self.start(worker, priority)

    def active_count(self) -> int:
        with self._lock:
            return len(self._active)

    def cancel_all(self) -> None:
        with self._lock:
            workers = list(self._active)
        for w in workers:
            w.cancel()

    def wait(self, msecs: int = -1) -> bool:
        """Block until every job finished (``True``) or ``msecs`` passed (``False``)."""
        return bool(self._pool.waitForDone(msecs))

    def _forget(self, worker: Worker) -> None:
        with self._lock:
            self._active.discard(worker)


def _log_error(name: str) -> Callable[[BaseException], None]:
    def report(exc: BaseException) -> None:
        log.error("background job %s failed: %s", name, exc, exc_info=exc)

    return report


def pil_to_qimage(image: Image.Image) -> QImage:
    """An RGB PIL image as a ``QImage`` that owns its pixels (safe to pass between threads)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    arr = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def load_qimage(path: str | Path, max_side: int | None = None) -> QImage:
    """Load a photo upright (EXIF-rotated) as a ``QImage``; full resolution unless ``max_side`` is given.

    Raises :class:`whalegui.core.errors.PhotoError` for unreadable photos.
    """
    if max_side is None:
        return pil_to_qimage(load_photo(path).image)
    photo = load_photo(path, min_size=(max_side, max_side // 2))
    image = photo.image
    image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return pil_to_qimage(image)


def save_qimage(image: QImage, target: Path) -> Path:
    """Write ``image`` to ``target`` (``.png``), in a worker: encoding a large pasted image takes a while."""
    if not image.save(str(target)):  # the format follows the suffix
        raise OSError(f"cannot write {target}")
    return target
