"""The window in the field: small screens, a verdict that proposes, honest cards, a moving import, wide
flukes shown large."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from tests.gui.conftest import AppWindow, make_window, seed_of, wait_status, whale_photo
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery
from whalegui.gui.card_delegate import LINES_ROLE
from whalegui.gui.controller import Controller
from whalegui.gui.main_window import MainWindow
from whalegui.gui.review_model import Status
from whalegui.gui.settings import Settings


def inside(widget: QWidget, window: QWidget) -> bool:
    """Whether ``widget`` is shown whole inside ``window``'s area."""
    top_left = widget.mapTo(window, QPoint(0, 0))
    bottom_right = widget.mapTo(window, QPoint(widget.width() - 1, widget.height() - 1))
    area = window.rect()
    return widget.isVisible() and area.contains(top_left) and area.contains(bottom_right)


def settle(qtbot: QtBot) -> None:
    QApplication.processEvents()
    qtbot.wait(20)


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1024, 700)])
def test_the_review_fits_small_screens(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path], width: int, height: int
) -> None:
    window, controller = app_window
    controller.add_paths([queries["unknown"], queries["alpha"]])
    wait_status(qtbot, controller, 1, Status.REVIEW)
    wait_status(qtbot, controller, 0, Status.REVIEW)
    controller.review.show_row(0)  # the longest verdict: likely a new whale
    view = window.compare_view
    qtbot.waitUntil(lambda: view.query_pane.has_image() and view.candidate_pane.has_image(), timeout=5000)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700, hint
    window.resize(width, height)
    settle(qtbot)
    assert window.width() == width and window.height() == height
    for part in (view.verdict, view.confirm_button, view.new_button, view.skip_button, view.undo_button,
                 view.strip, view.query_pane, view.candidate_pane, window.statusBar(), window.queue_view):
        assert inside(part, window), part
    assert view.query_pane.width() >= 300 and view.query_pane.height() >= 100
    assert window.gallery_label.width() >= window.gallery_label.minimumSizeHint().width()


def test_the_queue_folds_away_and_comes_back(qtbot: QtBot, app_window: AppWindow) -> None:
    window, _controller = app_window
    window.resize(1024, 700)
    settle(qtbot)
    wide = window.compare_view.width()
    window.queue_action.trigger()  # F9
    settle(qtbot)
    assert window.splitter.sizes()[0] == 0 and window.compare_view.width() > wide
    window.queue_action.trigger()
    settle(qtbot)
    assert window.queue_view.width() >= window.queue_view.minimumSizeHint().width()


def test_a_likely_new_whale_proposes_new_whale_and_enter_enrolls(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]
) -> None:
    window, controller = app_window
    view = window.compare_view
    controller.add_paths([queries["unknown"], queries["alpha"]])
    wait_status(qtbot, controller, 1, Status.REVIEW)
    wait_status(qtbot, controller, 0, Status.REVIEW)

    controller.review.show_row(1)  # a good match: confirming is proposed
    assert not controller.entries[1].likely_new
    assert view.proposed_button() is view.confirm_button
    assert view.confirm_button.text() == "Same whale (Enter)" and view.new_button.text() == "New whale… (N)"

    controller.review.show_row(0)  # "likely a NEW whale": the screen proposes a new whale
    assert controller.entries[0].likely_new and "NEW whale" in view.verdict.text()
    assert view.proposed_button() is view.new_button
    assert view.new_button.text() == "New whale… (Enter)" and view.confirm_button.text() == "Same whale (C)"
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_Return)  # Enter does what the verdict says: it asks for the new whale
    qtbot.waitUntil(lambda: window.enroll_dialog is not None and window.enroll_dialog.isVisible(),
                    timeout=3000)
    assert controller.entries[0].status is Status.REVIEW  # nothing was confirmed
    assert window.enroll_dialog is not None
    window.enroll_dialog.reject()
    qtbot.waitUntil(lambda: window.enroll_dialog is None, timeout=3000)

    QTest.keyClick(window, Qt.Key.Key_C)  # the match can still be confirmed on purpose
    wait_status(qtbot, controller, 0, Status.MATCHED)
    assert controller.entries[0].whale_id == controller.entries[0].candidates[0].whale_id


def test_best_match_is_said_of_the_first_candidate_only(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]
) -> None:
    window, controller = app_window
    controller.add_paths([queries["alpha"]])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    title = window.compare_view.panes.candidate_title
    assert title.text().startswith("#1 w_alpha") and title.text().endswith("best match")
    controller.review.step_candidate(1)
    assert title.text().startswith("#2 ") and "best match" not in title.text()
    assert "taken 2023-07-0" in title.text()  # the gallery photos' EXIF dates
    controller.review.step_candidate(-1)
    qtbot.waitUntil(lambda: len(controller.review.candidate_photos) == 3, timeout=5000)
    controller.review.step_candidate_photo(1)  # another photo of the best whale is not "the best match"
    assert title.text().startswith("#1 w_alpha") and "best match" not in title.text()


def test_cards_leave_unknown_dates_out(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path], tmp_path: Path
) -> None:
    window, controller = app_window
    undated = whale_photo(tmp_path / "undated.jpg", seed_of("w_beta"), 70)  # no EXIF date
    controller.add_paths([undated, queries["alpha"]])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    wait_status(qtbot, controller, 1, Status.REVIEW)
    queue = controller.review.queue
    undated_lines = queue.data(queue.index(0), LINES_ROLE)
    assert undated_lines == ["needs review"]  # no "date unknown"
    dated_lines = queue.data(queue.index(1), LINES_ROLE)
    assert isinstance(dated_lines, list) and dated_lines[0] == "2024-08-02 14:05"
    candidates = controller.review.candidates
    controller.review.show_row(0)
    for row in range(candidates.rowCount()):
        lines = candidates.data(candidates.index(row), LINES_ROLE)
        assert isinstance(lines, list)
        assert not any("unknown" in line for line in lines), lines
        assert lines[0].endswith(("1 photo", "2 photos", "3 photos"))
    assert "unknown" not in window.compare_view.panes.query_title.text()


def test_the_import_panel_moves_with_the_imports_progress(
    qtbot: QtBot, app_window: AppWindow, tmp_path: Path
) -> None:
    window, controller = app_window
    folder = tmp_path / "catalogue"
    rows = [(f"n{i:02}.jpg", f"w_batch{i % 5}") for i in range(30)]  # more than one batch of 24
    for i, (name, whale) in enumerate(rows):
        whale_photo(folder / name, seed_of(whale), 400 + i)
    with open(tmp_path / "train.csv", "w", newline="") as f:
        csv.writer(f).writerows([("Image", "Id"), *rows])
    panel = window.import_panel
    seen: list[tuple[int, int, int, int]] = []  # (done, total, the bar's value, its maximum)
    controller.editor.import_progressed.connect(
        lambda done, total: seen.append((done, total, panel.bar.value(), panel.bar.maximum()))
    )
    with qtbot.waitSignal(controller.editor.import_finished, timeout=30000):
        assert controller.editor.import_catalogue(tmp_path / "train.csv", folder)
        assert panel.isVisible() and panel.active
    middle = [s for s in seen if 0 < s[0] < s[1]]
    assert middle, seen  # it reported between the start and the end
    assert all(value == done and maximum == total for done, total, value, maximum in middle)
    assert not panel.isVisible()
    # a progress report that arrives after the import finished (the old race) changes nothing
    controller.editor.import_progressed.emit(30, 30)
    assert not panel.isVisible() and not panel.active


def wide_fluke(path: Path, seed: int, noise: int) -> Path:
    """A 512x128 photo (4:1, as wide as a fluke crop gets)."""
    pattern = np.random.default_rng(seed).integers(0, 256, (8, 32, 3)).astype(np.float32)
    pixels = np.kron(pattern, np.ones((16, 16, 1), np.float32))
    pixels += np.random.default_rng(noise).normal(0, 6, pixels.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(path, "JPEG", quality=90)
    return path


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1024, 700)])
def test_wide_flukes_fill_their_panes(
    qtbot: QtBot, tmp_path: Path, tiny_model: Path, width: int, height: int
) -> None:
    folder = tmp_path / "wide-gallery"
    with Gallery.open(folder, Embedder(tiny_model, device="cpu")) as gallery:
        gallery.enroll([wide_fluke(tmp_path / "w1.jpg", 1, 1)], whale_id="w_wide")
    controller = Controller(Settings.load(tmp_path / "settings.ini"))
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.resize(width, height)
    window.show()
    with qtbot.waitSignal(controller.gallery_changed, timeout=20000):
        controller.start(tiny_model, folder, device="cpu")
    controller.add_paths([wide_fluke(tmp_path / "q.jpg", 1, 2)])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    view = window.compare_view
    qtbot.waitUntil(lambda: view.query_pane.has_image() and view.candidate_pane.has_image(), timeout=5000)
    settle(qtbot)
    for pane in (view.query_pane, view.candidate_pane):
        w, h = pane.image_size()
        shown = w * h * pane.scale_factor() ** 2
        area = pane.viewport().width() * pane.viewport().height()
        assert shown / area >= 0.6, (pane.viewport().size(), shown / area)
        assert w * pane.scale_factor() >= 0.6 * view.width()  # and they are shown large, not just snug
    controller.shutdown()


def test_an_empty_gallery_says_it_is_importing_not_empty(
    qtbot: QtBot, tmp_path: Path, tiny_model: Path
) -> None:
    window, controller = make_window(qtbot, tmp_path)
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(controller.gallery_changed, timeout=20000):
        controller.start(tiny_model, tmp_path / "empty", device="cpu")
    assert window.review_stack.currentWidget() is window.welcome
    folder = tmp_path / "whales" / "w_one"
    whale_photo(folder / "a.jpg", 1, 1)
    with qtbot.waitSignal(controller.editor.import_finished, timeout=20000):
        controller.editor.import_catalogue(None, tmp_path / "whales")
        assert window.review_stack.currentWidget() is window.message_page
        assert window.message_page.title.text().startswith("Importing")
    assert window.review_stack.currentWidget() is window.compare_view  # the gallery has a whale now
    controller.shutdown()
