"""Start the desktop app: parse the options, set up logging to a file, show the window at once and load the
model and the gallery in the background."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from whalegui.gui import messages
from whalegui.gui.controller import Controller
from whalegui.gui.main_window import MainWindow
from whalegui.gui.resources import icon, stylesheet
from whalegui.gui.screenshot_driver import SCREENSHOT_STATES, ScreenshotDriver
from whalegui.gui.service import GalleryInfo
from whalegui.gui.settings import Settings
from whalegui.paths import log_dir

log = logging.getLogger(__name__)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="whalegui", description="Identify humpback whales from fluke photos."
    )
    parser.add_argument("photos", nargs="*", help="photos or folders to queue at start")
    parser.add_argument("--gallery", metavar="DIR", help="the gallery folder (default: your data folder)")
    parser.add_argument(
        "--model", metavar="MODEL.onnx", help="the embedding model (default: the bundled one)"
    )
    parser.add_argument("--cpu", action="store_true", help="run the model on the CPU even if a GPU works")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open a throwaway gallery of synthetic demo whales with query photos",
    )
    parser.add_argument("--top", type=int, metavar="N", help="candidates to show (default 5)")
    parser.add_argument("--settings", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--screenshot-state", choices=SCREENSHOT_STATES, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def setup_logging() -> Path | None:
    """Log to ``whalegui.log`` in the platform's log folder (and warnings to stderr)."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(logging.Formatter("whalegui: %(levelname)s: %(message)s"))
    root.addHandler(stderr)
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "whalegui.log"
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError as exc:
        log.warning("cannot write a log file (%s); logging to the terminal only", exc)
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    root.addHandler(handler)
    return path


def no_display(env: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why no window can be shown, or ``None`` when a display platform can start.

    On Linux Qt needs an X11 or Wayland display, or a platform chosen with ``QT_QPA_PLATFORM`` (such as
    ``offscreen``); without one it aborts the whole process with a message about plugins.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM"):
        return None
    return (
        "whalegui: no display to show the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
        "start it from a desktop session, or use the command line (whalegui --help)"
    )


class ErrorReporter:
    """An unexpected error becomes a log entry and a dialog, never a traceback on the user's screen.

    The reporter keeps each dialog until it is closed: a dialog nobody refers to is deleted at once.
    """

    MAX_OPEN = 3  # an error that repeats (in a paint event, say) must not bury the window in dialogs

    def __init__(self, log_path: Path | None) -> None:
        self.log_path = log_path
        self.dialogs: list[QMessageBox] = []

    def __call__(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        log.critical("unexpected error:\n%s", "".join(traceback.format_exception(kind, exc, tb)))
        if QApplication.instance() is None or len(self.dialogs) >= self.MAX_OPEN:
            return
        message = messages.unexpected_error(exc, self.log_path)
        parent = next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None)
        box = QMessageBox(
            QMessageBox.Icon.Critical, message.title, message.text, QMessageBox.StandardButton.Ok, parent
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result, b=box: self._forget(b))
        self.dialogs.append(box)
        box.open()

    def _forget(self, box: QMessageBox) -> None:
        if box in self.dialogs:
            self.dialogs.remove(box)


def install_excepthook(log_path: Path | None) -> ErrorReporter:
    """Report unexpected errors with a dialog (see :class:`ErrorReporter`); returns the reporter."""
    reporter = ErrorReporter(log_path)
    sys.excepthook = reporter
    return reporter


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns its exit status (1 when there is no display to show it on)."""
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    problem = no_display()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    log_path = setup_logging()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "whalegui"])
    assert isinstance(app, QApplication)
    app.setApplicationName("whalegui")
    app.setOrganizationName("whalegui")
    app.setWindowIcon(icon("app"))
    app.setStyleSheet(stylesheet())
    install_excepthook(log_path)

    settings = Settings.load(args.settings)
    if args.top:
        settings.top_k = max(1, min(args.top, 20))
    controller = Controller(settings)
    window = MainWindow(controller)
    screen = app.primaryScreen()
    if screen is not None:  # as large as a laptop screen allows (1366x768 is common at sea)
        area = screen.availableGeometry()
        window.resize(min(1440, area.width()), min(900, area.height()))
    if os.environ.get("WHALEGUI_PRINT_READY"):
        print_when_ready(controller)
    window.show()
    app.aboutToQuit.connect(controller.shutdown)

    device = "cpu" if args.cpu else settings.device
    model = args.model or (settings.model_path or None)
    log.info(
        "whalegui starting: model %s, gallery %s, device %s%s",
        model or "bundled",
        args.gallery or settings.gallery_path(),
        device,
        ", demo" if args.demo else "",
    )

    def start() -> None:
        controller.start(model, args.gallery, device=device, demo=args.demo)
        if args.photos:
            controller.add_paths(args.photos)

    QTimer.singleShot(0, start)  # the window paints first; loading happens in a worker
    driver = ScreenshotDriver(window, controller, args.screenshot_state) if args.screenshot_state else None
    status = int(app.exec())
    del driver  # kept until here: it drives the window while the event loop runs
    return status


def print_when_ready(controller: Controller) -> None:
    """For benchmarks and scripts (``WHALEGUI_PRINT_READY=1``): print ``whalegui: ready (N photos)`` to
    stdout once the model and the gallery are loaded and the window has shown them, or
    ``whalegui: failed`` when loading fails."""

    def on_changed(info: GalleryInfo) -> None:
        controller.gallery_changed.disconnect(on_changed)
        count = info.photo_count
        # After the window's own slots ran and the event loop painted: the window is interactive.
        QTimer.singleShot(0, lambda: print(f"whalegui: ready ({count} photos)", flush=True))

    controller.gallery_changed.connect(on_changed)
    controller.loading_failed.connect(lambda title, text: print(f"whalegui: failed: {title}", flush=True))
