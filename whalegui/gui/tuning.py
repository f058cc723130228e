"""The model's side of the controller: what the review decisions taught, and using it.

Lists the misranked triplets (queries filed under a whale that the review ranked below a wrong one) and
marks them kept or dropped for training; exports the review pairs; adapts the model to the gallery (the
training package in a child process, :mod:`.adapt_runner`) and applies an adapted model (the gallery
re-embedded in the service's worker, atomically). Owned by the controller (``controller.tuning``), which
forwards ``error_raised`` and ``status_messaged``, clears the undo stack on ``changing`` and reloads the
review on ``model_applied``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from whalegui.core import errors
from whalegui.gui import messages
from whalegui.gui.adapt_runner import (
    NEEDS_TRAIN,
    AdaptOutcome,
    AdaptRunner,
    adapt_command,
    training_available,
)
from whalegui.gui.service import Applied, Failed, GalleryService
from whalegui.gui.settings import Settings
from whalegui.gui.workers import Worker
from whalegui.wording import plural

log = logging.getLogger(__name__)


class Tuning(QObject):
    """Misranked triplets, review-pair export, adapting the model and applying an adapted one."""

    triplets_listed = Signal(list)  # TripletRow, worst first
    pair_kept = Signal(int, bool)  # pair id, whether training may use it
    work_started = Signal(str)  # what runs (adapting, re-embedding), in words
    work_progressed = Signal(str, int, int)  # a line of progress, done, total (0, 0: not known)
    work_finished = Signal()
    adapt_finished = Signal(object)  # AdaptOutcome
    changing = Signal()  # the gallery is about to be re-embedded: undo no longer holds
    model_applied = Signal(object, object)  # ModelInfo, the gallery folder: reload the review
    error_raised = Signal(str, str)  # title, text
    status_messaged = Signal(str)

    def __init__(self, service: GalleryService, settings: Settings, busy: Callable[[], bool],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self._settings = settings
        self._busy = busy  # photos are being identified: do not swap the model under them
        self.runner = AdaptRunner(self)
        self.runner.progressed.connect(self.work_progressed)
        self.runner.finished.connect(self._on_adapt_finished)
        self._apply: Worker | None = None

    @property
    def working(self) -> bool:
        """Whether an adaptation or a re-embedding runs."""
        return self.runner.running or self._apply is not None

    # ------------------------------------------------------------------ triplets and pairs

    def list_triplets(self) -> None:
        """Read the misranked triplets; :attr:`triplets_listed` brings them."""
        if self._service.is_open:
            self._service.misranked(done=self.triplets_listed.emit, failed=self._failed("Listing triplets"))

    def set_keep(self, pair_id: int, keep: bool) -> None:
        """Keep a triplet for training (its wrong whale's pair), or drop it."""
        if self._service.is_open:
            self._service.set_pair_keep(pair_id, keep, done=lambda _: self.pair_kept.emit(pair_id, keep),
                                        failed=self._failed("Marking the triplet"))

    def export_pairs(self, path: str | Path) -> None:
        """Write the review pairs as CSV (see :mod:`whalegui.core.gallery.exports`)."""
        if self._service.is_open:
            self._service.export(
                Path(path), "pairs",
                done=lambda rows: self.status_messaged.emit(
                    f"{plural(rows, 'review pair')} written to {path}."),
                failed=self._failed(f"Exporting to {path}"))

    # ------------------------------------------------------------------ adapting and applying

    def can_adapt(self) -> str:
        """Why adapting cannot start now (empty: it can)."""
        if not training_available():
            return NEEDS_TRAIN
        if self.working:
            return "An adaptation or a re-embedding is already running."
        if not self._service.is_open:
            return "The gallery is not open yet."
        return ""

    def adapt(self, gallery: Path, out: Path, *, base: Path | None, epochs: int | None = None,
              command: list[str] | None = None) -> bool:
        """Adapt the model to ``gallery``, writing ``out`` (``command``: another command line, for tests)."""
        why = "" if command is not None else self.can_adapt()
        if why:
            self.error_raised.emit("Cannot adapt the model", why)
            return False
        self.work_started.emit(f"Adapting the model to {gallery.name}")
        self.runner.start(command or adapt_command(gallery, out, base=base, epochs=epochs), out)
        return True

    def cancel(self) -> None:
        """Stop the adaptation (killed) or the re-embedding (before it writes)."""
        if self.runner.running:
            self.runner.cancel()
        elif self._apply is not None:
            self._apply.cancel()
            self.status_messaged.emit("Cancelling the re-embedding…")

    def _on_adapt_finished(self, outcome: AdaptOutcome) -> None:
        self.work_finished.emit()
        if outcome.ok:
            self.status_messaged.emit(f"Adapted model written to {outcome.out}.")
        elif outcome.cancelled:
            self.status_messaged.emit("Adapting the model cancelled.")
        else:
            log.warning("adapting the model failed: %s", outcome.message)
        self.adapt_finished.emit(outcome)

    def apply(self, model_path: Path) -> bool:
        """Re-embed the gallery with the model at ``model_path`` and use that model from now on."""
        if self.working or self._busy():
            self.error_raised.emit("Cannot apply the model now",
                                   "Wait for the running work (identifying, adapting or re-embedding) to "
                                   "finish, or cancel it, then apply the model again.")
            return False
        if not self._service.is_open:
            return False
        self.changing.emit()
        self.work_started.emit(f"Re-embedding the gallery with {model_path.name}")
        self._apply = self._service.apply_model(
            model_path, self._settings.device,
            progress=lambda d, t: self.work_progressed.emit(f"{d} of {t} photos", d, t),
            done=self._on_applied, failed=self._on_apply_failed)
        return True

    def _on_applied(self, result: Applied) -> None:
        self._apply = None
        self.work_finished.emit()
        if result.cancelled or result.model is None:
            self.status_messaged.emit("Re-embedding cancelled: the gallery and the model are unchanged.")
            return
        self._settings.model_path = str(result.model.path)  # the next start loads it too
        if self._settings.path is not None:
            self._settings.save()
        self.status_messaged.emit(f"{plural(result.count, 'photo')} re-embedded with {result.model.name}.")
        self.model_applied.emit(result.model, result.info.folder)

    def _on_apply_failed(self, exc: BaseException) -> None:
        self._apply = None
        self.work_finished.emit()
        self._failed("Re-embedding the gallery")(exc)

    def shutdown(self) -> None:
        """Stop a running adaptation (the re-embedding is the service's, which waits for it)."""
        if self.runner.running:
            self.runner.cancel()
            self.runner.wait(3000)

    def _failed(self, doing: str) -> Failed:
        def report(exc: BaseException) -> None:
            if not isinstance(exc, errors.WhaleguiError):
                log.error("%s failed", doing, exc_info=exc)
            self.error_raised.emit(f"{doing} failed", f"{doing} failed: {messages.error_reason(exc)}.")

        return report
