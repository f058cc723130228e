"""Start the desktop app: parse the options, set up logging to a file, show the window at once and load the
model and the gallery in the background."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from whalegui.gui.controller import Controller, Status
from whalegui.gui.main_window import MainWindow
from whalegui.gui.resources import icon, stylesheet
from whalegui.gui.settings import Settings
from whalegui.paths import log_dir

log = logging.getLogger(__name__)

SCREENSHOT_STATES = ("empty", "queue", "review", "enroll", "gallery")


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


def install_excepthook(log_path: Path | None) -> None:
    """An unexpected error becomes a log entry and a dialog, never a traceback on the user's screen."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        log.critical("unexpected error:\n%s", "".join(traceback.format_exception(kind, exc, tb)))
        if QApplication.instance() is not None:
            where = (
                f"The details are in {log_path}." if log_path else "The details were printed to the terminal."
            )
            box = QMessageBox(
                QMessageBox.Icon.Critical,
                "Something went wrong",
                f"An unexpected error happened: {exc}.\n\nYour gallery is safe (every change is "
                f"saved when it is made). {where} If it happens again, restart whalegui and "
                "send that file to its developers.",
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    sys.excepthook = hook


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
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
    if args.screenshot_state:
        window.screenshot_driver = ScreenshotDriver(window, controller, args.screenshot_state)  # type: ignore[attr-defined]
    return int(app.exec())


def print_when_ready(controller: Controller) -> None:
    """For benchmarks and scripts (``WHALEGUI_PRINT_READY=1``): print ``whalegui: ready (N photos)`` to
    stdout once the model and the gallery are loaded and the window has shown them, or
    ``whalegui: failed`` when loading fails."""

    def on_changed() -> None:
        controller.gallery_changed.disconnect(on_changed)
        count = controller.info.photo_count if controller.info is not None else 0
        # After the window's own slots ran and the event loop painted: the window is interactive.
        QTimer.singleShot(0, lambda: print(f"whalegui: ready ({count} photos)", flush=True))

    controller.gallery_changed.connect(on_changed)
    controller.loading_failed.connect(lambda title, text: print(f"whalegui: failed: {title}", flush=True))


class ScreenshotDriver:
    """Steps the app into one of its main states for documentation screenshots (hidden option)."""

    def __init__(self, window: MainWindow, controller: Controller, state: str) -> None:
        self.window, self.controller, self.state = window, controller, state
        self.done = False
        self.timer = QTimer(window)
        self.timer.timeout.connect(self.step)
        self.timer.start(200)

    def step(self) -> None:
        c, w = self.controller, self.window
        if not c.ready or self.done:
            return
        if self.state == "empty":
            self.done = True
        elif self.state == "gallery":
            if c.info is not None and c.info.whales and w.import_progress is None:
                w.tabs.setCurrentIndex(1)
                w.browser.select_whale(c.info.whales[0].whale_id)
                self.done = True
        elif self.state == "queue":
            # a queue with every kind of entry: matched, new whale, needs review, an unreadable file
            reviewable = [e for e in c.entries if e.reviewable]
            if len(reviewable) < 4 or c.batch_running or w.import_progress is not None:
                return
            c.set_current_row(c.row_of(reviewable[0]))
            c.confirm()
            c.set_current_row(c.row_of(reviewable[1]))
            c.enroll_current("", "Demo")
            broken = c._make_temp_dir("whalegui-shot-") / "card-read-error.jpg"
            broken.write_bytes(b"\xff\xd8\xff\xe0 half-written")
            c.add_paths([broken])
            self.done = True
        elif any(e.status is Status.REVIEW for e in c.entries) and not c.batch_running:
            current = c.current_entry()
            if current is None or not current.reviewable:
                return
            if self.state == "review":  # show a confident match: the entry nearest to a catalogued whale
                best = min((e for e in c.entries if e.reviewable and e.identification.candidates),
                           key=lambda e: e.identification.candidates[0].distance, default=current)
                c.set_current_row(c.row_of(best))
            if self.state == "enroll":
                w.new_whale()
            self.done = True
        if self.done:
            self.timer.stop()
