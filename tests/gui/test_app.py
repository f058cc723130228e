"""Starting the app: no display, an unexpected error, a gallery folder that does not exist."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from tests.gui.conftest import make_window
from whalegui.gui.app import ErrorReporter, no_display
from whalegui.gui.controller import Controller
from whalegui.gui.main_window import MainWindow

REPO = Path(__file__).resolve().parents[2]


def test_no_display_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
        "HOME": str(tmp_path),  # no DISPLAY, no WAYLAND_DISPLAY, no QT_QPA_PLATFORM
    }
    done = subprocess.run([sys.executable, "-m", "whalegui"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("whalegui: no display"), done.stderr[-2000:]
    assert "DISPLAY" in lines[0] and "libxcb" not in done.stderr
    assert not (tmp_path / ".local").exists()  # it gave up before writing anything


def test_which_environments_have_a_display() -> None:
    assert no_display({}, "linux") is not None
    assert no_display({"DISPLAY": ":0"}, "linux") is None
    assert no_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert no_display({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert no_display({}, "win32") is None and no_display({}, "darwin") is None


def test_an_unexpected_error_shows_a_dialog_that_stays(qtbot: QtBot, tmp_path: Path) -> None:
    reporter = ErrorReporter(tmp_path / "whalegui.log")
    try:
        raise AttributeError("'NoneType' object has no attribute 'setLabelText'")
    except AttributeError as exc:
        reporter(type(exc), exc, exc.__traceback__)
    gc.collect()  # the dialog must not depend on a local variable that is gone
    QApplication.processEvents()
    shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert len(shown) == 1 and shown[0] is reporter.dialogs[0]
    box = shown[0]
    assert box.windowTitle() == "Something went wrong"
    assert "setLabelText" in box.text() and str(tmp_path / "whalegui.log") in box.text()
    box.accept()
    QApplication.processEvents()
    assert reporter.dialogs == []


def start_with_a_typo(
    qtbot: QtBot, tmp_path: Path, model: Path
) -> tuple[MainWindow, Controller, Path, QMessageBox]:
    """``whalegui --gallery galery-typo``: the window asks what to do about the missing folder."""
    window, controller = make_window(qtbot, tmp_path)
    typo = tmp_path / "galery-typo"
    with qtbot.waitSignal(controller.gallery_missing, timeout=20000):
        controller.start(model, typo, device="cpu")
    box = window.gallery_question
    assert box is not None and box.isVisible()
    return window, controller, typo, box


def test_a_missing_gallery_folder_is_asked_about_then_created(
    qtbot: QtBot, tmp_path: Path, tiny_model: Path
) -> None:
    window, controller, typo, box = start_with_a_typo(qtbot, tmp_path, tiny_model)
    assert str(typo) in box.text() and not typo.exists()  # nothing created before the answer
    assert not controller.ready
    create = next(b for b in box.buttons() if b.text().startswith("Create"))
    with qtbot.waitSignal(controller.gallery_changed, timeout=20000):
        create.click()
    assert controller.ready and typo.is_dir() and controller.info.folder == typo
    assert window.review_stack.currentWidget() is window.welcome
    controller.shutdown()


def test_declining_the_new_gallery_opens_none(qtbot: QtBot, tmp_path: Path, tiny_model: Path) -> None:
    window, controller, typo, box = start_with_a_typo(qtbot, tmp_path, tiny_model)
    with qtbot.waitSignal(controller.loading_failed, timeout=5000):
        box.button(QMessageBox.StandardButton.Cancel).click()
    assert not typo.exists() and not controller.ready
    assert window.review_stack.currentWidget() is window.message_page
    assert window.message_page.title.text() == "No gallery open"
    assert str(typo) in window.message_page.text.text()
    controller.shutdown()
