"""Adapting the model to a gallery, from the app: ``python -m training adapt`` run as a child process.

The app never imports the training package (it pulls in TensorFlow, and the app must stay light), so the
adaptation runs in its own Python process (:class:`AdaptRunner`, a ``QProcess``): the app reads its progress
lines from stderr (``features: 12 of 50 photos ...``, ``adapt: epoch 3/10, loss 0.41``), a Cancel kills it,
and when it fails, or refuses a model that is not better than its base, its one-line reason
(``whale-train adapt: error: ...``) is what the app shows. It only reads the gallery (a read-only open works
beside the app's writer), so the app keeps working meanwhile.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

log = logging.getLogger(__name__)

#: ``12 of 50``, ``3/10``: how far a progress line says the work is.
_FRACTION = re.compile(r"(\d+)\s*(?:/|of)\s*(\d+)")
_ERROR = re.compile(r"^whale-train(?: [\w-]+)?: error: ")
NEEDS_TRAIN = ("Adapting the model needs the training tools, which are not installed. Install them with "
               "pip install 'whalegui[train]' (TensorFlow included) and start the app again.")


def training_available() -> bool:
    """Whether the training package can be run (found on the path; it is not imported here)."""
    try:
        return importlib.util.find_spec("training") is not None
    except (ImportError, ValueError):
        return False


def adapt_command(gallery: Path, out: Path, *, base: Path | None = None, epochs: int | None = None
                  ) -> list[str]:
    """The command line of ``whale-train adapt`` for this Python: program first."""
    args = [sys.executable, "-m", "training", "adapt", "--gallery", str(gallery), "--out", str(out)]
    if base is not None:
        args += ["--base", str(base)]
    if epochs is not None:
        args += ["--epochs", str(int(epochs))]
    return args


def progress_of(line: str) -> tuple[int, int]:
    """``(done, total)`` from a progress line; ``(0, 0)`` when it says none (a busy bar)."""
    found = _FRACTION.search(line)
    if found is None:
        return 0, 0
    done, total = int(found.group(1)), int(found.group(2))
    return (done, total) if 0 <= done <= total and total > 0 else (0, 0)


@dataclass(frozen=True)
class AdaptOutcome:
    """How the run ended: ``ok`` (exit status 0), ``cancelled`` (killed by :meth:`AdaptRunner.cancel`),
    else failed; ``message`` is what to tell the researcher (the summary, or the reason it failed)."""

    ok: bool
    cancelled: bool
    message: str
    out: Path | None  # the model written (when ok)


class AdaptRunner(QObject):
    """Runs one command at a time as a child process; its stderr lines are progress, its end an outcome."""

    progressed = Signal(str, int, int)  # the line, done, total (0, 0: not known)
    finished = Signal(object)  # AdaptOutcome

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process: QProcess | None = None
        self._err = ""  # stderr not yet split into lines
        self._lines: list[str] = []  # every stderr line, for the failure's reason
        self._cancelled = False
        self._out: Path | None = None

    @property
    def running(self) -> bool:
        """Whether a command is running."""
        return self._process is not None

    def start(self, command: list[str], out: Path | None = None) -> None:
        """Run ``command`` (program first); ``out`` is the file it is to write."""
        if self._process is not None:
            raise RuntimeError("a command is already running")
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.readyReadStandardError.connect(self._on_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self._process, self._err, self._lines = process, "", []
        self._cancelled, self._out = False, out
        log.info("running %s", " ".join(command))
        process.start(command[0], command[1:])

    def cancel(self) -> None:
        """Stop the command now (nothing it was writing is kept: it writes its model last)."""
        if self._process is not None:
            self._cancelled = True
            self._process.kill()

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for the command to end (tests, shutdown)."""
        return self._process is None or self._process.waitForFinished(msecs)

    def _on_stderr(self) -> None:
        if self._process is None:
            return
        self._err += bytes(self._process.readAllStandardError().data()).decode("utf-8", "replace")
        *complete, self._err = re.split(r"[\r\n]", self._err)
        self._take(complete)

    def _take(self, lines: list[str]) -> None:
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            self._lines.append(line)
            del self._lines[:-200]
            self.progressed.emit(line, *progress_of(line))

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error is QProcess.ProcessError.FailedToStart and self._process is not None:
            self._lines.append(f"could not start {self._process.program()}: {self._process.errorString()}")
            self._end(ok=False)

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._process is None:
            return
        self._on_stderr()
        self._take([self._err])
        self._err = ""
        ok = status is QProcess.ExitStatus.NormalExit and code == 0 and not self._cancelled
        if not ok and not self._cancelled and not self._lines:
            self._lines.append(f"it stopped with exit status {code}")
        self._end(ok)

    def _end(self, ok: bool) -> None:
        process, self._process = self._process, None
        summary = ""
        if process is not None:
            summary = bytes(process.readAllStandardOutput().data()).decode("utf-8", "replace").strip()
            process.deleteLater()
        if ok:
            message = summary
        elif self._cancelled:
            message = "cancelled; nothing was written"
        else:
            message = _reason(self._lines)
        self.finished.emit(AdaptOutcome(ok, self._cancelled and not ok, message, self._out if ok else None))


def _reason(lines: list[str]) -> str:
    """Why it failed: its ``error:`` line (without the program's name), else its last line."""
    for line in reversed(lines):
        if _ERROR.match(line):
            return _ERROR.sub("", line)
    return lines[-1] if lines else "it failed without saying why"
