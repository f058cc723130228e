"""The review's fluke box (drawn on the query and the candidate, redrawn by the researcher and used to
identify again) and the matched-marks overlay, over a real gallery made with a known-answer detector."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from tests.gui.conftest import WHALES, AppWindow, make_window, seed_of, wait_status, whale_photo
from tests.models import make_detector, make_tiny_model
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery
from whalegui.core.model_card import FlukeFinderRef, VerificationSettings
from whalegui.gui.review_model import Status

#: The detector's answer for every frame, as fractions; on the 128x64 test photos (16, 8, 112, 56).
BOX_FRACTIONS = [0.125, 0.125, 0.875, 0.875]
DETECTED_BOX = (16.0, 8.0, 112.0, 56.0)


@pytest.fixture(scope="session")
def finder_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny embedder with a fluke finder and verification of the 3 nearest whales on its card."""
    folder = tmp_path_factory.mktemp("finder-model")
    make_detector(folder, BOX_FRACTIONS, [0.125, 0.5, 0.875, 0.5], 0.9, name="finder")
    return make_tiny_model(folder, name="tiny-finder", threshold=0.3,
                           fluke_finder=FlukeFinderRef("finder", 0.1),
                           verification=VerificationSettings(0.05, 3))


@pytest.fixture
def finder_window(qtbot: QtBot, tmp_path: Path, finder_model: Path) -> Iterator[AppWindow]:
    """The main window over a gallery of the conftest's whales catalogued with ``finder_model``."""
    folder = tmp_path / "gallery"
    with Gallery.open(folder, Embedder(finder_model, device="cpu")) as gallery:
        for whale_id, n in WHALES.items():
            paths = [whale_photo(tmp_path / "catalogue" / f"{whale_id}_{i}.jpg", seed_of(whale_id), i,
                                 taken_at=datetime(2023, 7, 1 + i)) for i in range(n)]
            gallery.enroll(paths, whale_id=whale_id)
    window, controller = make_window(qtbot, tmp_path)
    window.resize(1366, 768)
    with qtbot.waitSignal(controller.gallery_changed, timeout=20000):
        controller.start(finder_model, folder, device="cpu")
    yield window, controller
    controller.shutdown()


def review_query(qtbot: QtBot, window_and_controller: AppWindow, query: Path) -> None:
    """Queue ``query`` and wait until it is under review with both photos shown."""
    window, controller = window_and_controller
    controller.add_paths([query])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    view = window.compare_view
    qtbot.waitUntil(lambda: view.query_pane.has_image() and view.candidate_pane.has_image(), timeout=5000)


def test_the_fluke_box_is_drawn_on_the_query_and_the_candidate(
    qtbot: QtBot, finder_window: AppWindow, tmp_path: Path
) -> None:
    window, controller = finder_window
    review_query(qtbot, finder_window, whale_photo(tmp_path / "q.jpg", seed_of("w_alpha"), 60))
    view = window.compare_view
    ident = controller.entries[0].identification
    assert ident is not None and ident.fluke is not None and ident.fluke.source == "detector"
    assert view.query_pane.fluke_box() == pytest.approx(DETECTED_BOX, abs=1.0)
    assert view.candidate_pane.fluke_box() == pytest.approx(DETECTED_BOX, abs=1.0)  # the stored photo's box
    assert "no fluke found" not in view.panes.query_title.text()
    view.zoom_by(4.0)  # the box is in the photo's pixels: it follows the zoom
    q = view.query_pane
    corner = q.mapFromScene(QPointF(DETECTED_BOX[0], DETECTED_BOX[1]))
    assert q.fluke_box() == pytest.approx(DETECTED_BOX, abs=1.0)
    assert q.photo_point(QPointF(corner)).x() == pytest.approx(DETECTED_BOX[0], abs=1.0)


def test_without_a_fluke_the_header_says_the_whole_frame_is_used(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]
) -> None:
    window, _controller = app_window  # the tiny model has no fluke finder
    review_query(qtbot, app_window, queries["alpha"])
    assert "no fluke found: whole frame used" in window.compare_view.panes.query_title.text()
    assert window.compare_view.query_pane.fluke_box() is None


def test_a_box_dragged_on_the_query_identifies_it_again_and_is_kept_at_confirm(
    qtbot: QtBot, finder_window: AppWindow, tmp_path: Path
) -> None:
    window, controller = finder_window
    review_query(qtbot, finder_window, whale_photo(tmp_path / "q.jpg", seed_of("w_alpha"), 61))
    q = window.compare_view.query_pane
    first = controller.entries[0].identification
    drawn = (30.0, 12.0, 100.0, 50.0)
    start = q.mapFromScene(QPointF(drawn[0], drawn[1]))
    end = q.mapFromScene(QPointF(drawn[2], drawn[3]))
    shift = Qt.KeyboardModifier.ShiftModifier
    QTest.mousePress(q.viewport(), Qt.MouseButton.LeftButton, shift, start)
    QTest.mouseMove(q.viewport(), (start + end) / 2)
    QTest.mouseMove(q.viewport(), end)
    QTest.mouseRelease(q.viewport(), Qt.MouseButton.LeftButton, shift, end)

    entry = controller.entries[0]
    qtbot.waitUntil(lambda: entry.identification is not first and entry.status is Status.REVIEW,
                    timeout=10000)
    fluke = entry.identification.fluke if entry.identification is not None else None
    assert fluke is not None and fluke.source == "researcher"
    assert fluke.box == pytest.approx(drawn, abs=2.0)
    assert q.fluke_box() == pytest.approx(fluke.box)
    assert "box drawn by hand" in window.compare_view.panes.query_title.text()
    assert controller.review.candidates.candidates == entry.candidates  # the strip shows the new ranking

    assert controller.confirm()
    wait_status(qtbot, controller, 0, Status.MATCHED)
    assert controller.gallery is not None
    stored = [p for p in controller.gallery.photos(entry.whale_id or "") if p.fluke is not None
              and p.fluke.source == "researcher"]
    assert len(stored) == 1 and stored[0].fluke is not None
    assert stored[0].fluke.box == pytest.approx(fluke.box)


def test_a_click_is_not_a_box_and_drawing_mode_needs_no_shift(
    qtbot: QtBot, finder_window: AppWindow, tmp_path: Path
) -> None:
    window, controller = finder_window
    review_query(qtbot, finder_window, whale_photo(tmp_path / "q.jpg", seed_of("w_beta"), 62))
    view, q = window.compare_view, window.compare_view.query_pane
    drawn: list[object] = []
    q.box_drawn.connect(drawn.append)
    here = q.mapFromScene(QPointF(40, 20))
    QTest.mouseClick(q.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, here)
    assert drawn == []
    view.toggle_drawing()
    assert q.drawing
    QTest.mousePress(q.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, here)
    far = q.mapFromScene(QPointF(90, 50))
    QTest.mouseMove(q.viewport(), far)
    QTest.mouseRelease(q.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, far)
    assert len(drawn) == 1 and drawn[0] == pytest.approx((40, 20, 90, 50), abs=2.0)
    assert not q.drawing  # one box per toggle
    entry = controller.entries[0]
    qtbot.waitUntil(lambda: entry.status is Status.REVIEW and entry.identification is not None
                    and entry.identification.fluke is not None
                    and entry.identification.fluke.source == "researcher", timeout=10000)


def test_show_matches_marks_the_pairs_on_both_photos(
    qtbot: QtBot, finder_window: AppWindow, tmp_path: Path
) -> None:
    window, controller = finder_window
    review_query(qtbot, finder_window, whale_photo(tmp_path / "q.jpg", seed_of("w_alpha"), 63))
    view = window.compare_view
    assert view.query_pane.marks() == [] and view.candidate_pane.marks() == []
    with qtbot.waitSignal(controller.flukes.matches_loaded, timeout=10000) as loaded:
        QTest.keyClick(window, Qt.Key.Key_M)
    assert view.show_matches
    found = loaded.args[2]
    assert found.inliers > 0 and len(found.pairs) == found.inliers
    np.testing.assert_allclose(view.query_pane.marks(), found.pairs[:, :2], atol=1e-3)
    np.testing.assert_allclose(view.candidate_pane.marks(), found.pairs[:, 2:], atol=1e-3)
    assert len(view.panes.match_lines.lines()) == found.inliers  # fitted: every pair is on screen, joined
    mark = "matching mark" if found.inliers == 1 else "matching marks"
    assert f"{found.inliers} {mark}" in view.panes.candidate_title.text()

    QTest.keyClick(window, Qt.Key.Key_M)
    assert not view.show_matches
    assert view.query_pane.marks() == [] and view.candidate_pane.marks() == []
    assert view.panes.match_lines.lines() == []
