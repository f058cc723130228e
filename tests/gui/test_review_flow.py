"""The app end to end on a real gallery: drop -> identify -> review -> confirm / new whale / undo."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from tests.gui.conftest import AppWindow, wait_status, whale_photo
from whalegui.gui.review_model import Status
from whalegui.gui.settings import Settings


def drop(window: QWidget, paths: list[Path]) -> None:
    """Drop files on the window the way a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = QPoint(window.width() // 2, window.height() // 2)
    enter = _drag_event(QDragEnterEvent, centre, mime)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, _drag_event(QDropEvent, centre, mime))


def _drag_event(kind: type[QDropEvent], centre: QPoint, mime: QMimeData) -> QDropEvent:
    """Qt 6.12 takes the position as QPointF (the QPoint form is deprecated); earlier releases take QPoint."""
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    try:
        return kind(QPointF(centre), *args)
    except TypeError:
        return kind(centre, *args)


def key(window: QWidget, k: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    window.activateWindow()
    QTest.keyClick(window, k, modifier)


def test_drop_identify_confirm_adds_photo_to_whale(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]
) -> None:
    window, controller = app_window
    assert controller.gallery is not None and controller.info is not None  # app_window opened the gallery
    drop(window, [queries["alpha"]])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    entry = controller.entries[0]
    assert entry.taken_at is not None and entry.taken_at.year == 2024  # the EXIF date, shown in the queue
    assert controller.review.current_row == 0
    assert controller.review.candidate_index == 0  # the top candidate is preselected
    candidate = controller.review.current_candidate()
    assert candidate is not None and candidate.whale_id == "w_alpha"
    assert not entry.likely_new
    assert window.compare_view.verdict.text().startswith("Best match w_alpha")
    qtbot.waitUntil(
        lambda: window.compare_view.query_pane.has_image() and window.compare_view.candidate_pane.has_image(),
        timeout=5000,
    )
    assert window.compare_view.query_pane.image_size() == (128, 64)  # full resolution

    key(window, Qt.Key.Key_Return)
    wait_status(qtbot, controller, 0, Status.MATCHED)
    assert entry.whale_id == "w_alpha"
    names = [p.original_name for p in controller.gallery.photos("w_alpha")]
    assert "alpha_new.jpg" in names and len(names) == 4
    assert controller.info.photo_count == 7
    # searchable at once: the same photo is now found as a gallery photo of w_alpha
    again = controller.gallery.identify(queries["alpha"])
    assert again.duplicate_of is not None and again.duplicate_of.whale_id == "w_alpha"
    assert again.candidates[0].distance < 1e-4


def test_new_whale_through_the_dialog(qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]) -> None:
    window, controller = app_window
    assert controller.gallery is not None and controller.info is not None  # app_window opened the gallery
    drop(window, [queries["unknown"]])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    assert controller.entries[0].likely_new
    assert "NEW whale" in window.compare_view.verdict.text()

    key(window, Qt.Key.Key_N)
    qtbot.waitUntil(
        lambda: window.enroll_dialog is not None and window.enroll_dialog.isVisible(), timeout=3000
    )
    dialog = window.enroll_dialog
    assert dialog is not None
    suggested = dialog.id_edit.text()
    assert suggested.startswith("w_") and not controller.whale_id_taken(suggested)
    assert dialog.date_known.isChecked()
    assert dialog.date_edit.dateTime().toString("yyyy-MM-dd HH:mm") == "2024-08-03 10:00"  # from EXIF
    dialog.id_edit.setText("w_alpha")  # taken: OK is refused
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    dialog.id_edit.setText("w_stranger")
    dialog.name_edit.setText("Stranger")
    dialog.notes_edit.setPlainText("notched left tip")
    form = dialog.sighting_form
    QTest.keyClicks(form.lat_edit, "91")  # out of range: Enroll is refused until it is corrected
    QTest.keyClicks(form.lon_edit, "17.6 W")
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    assert "latitude" in dialog.error_label.text()
    form.lat_edit.clear()
    QTest.keyClicks(form.lat_edit, "66.05 N")
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    for edit, text in ((form.place_edit, "Skjalfandi"), (form.observer_edit, "J. Doe"),
                       (form.vessel_edit, "Moby"), (form.notes_edit, "lob-tailing")):
        QTest.keyClicks(edit, text)
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)

    wait_status(qtbot, controller, 0, Status.NEW)
    whale = controller.gallery.whale("w_stranger")
    assert whale.name == "Stranger" and whale.photo_count == 1
    assert whale.notes == "notched left tip"  # the sighting is a record of its own, not a line of notes
    [record] = controller.gallery.sightings("w_stranger")
    seen = record.sighting
    assert seen.when == "2024-08-03T10:00"  # from EXIF
    assert seen.position == (66.05, -17.6)
    assert (seen.place, seen.observer, seen.vessel, seen.notes) == (
        "Skjalfandi", "J. Doe", "Moby", "lob-tailing")
    assert whale.last_place == "Skjalfandi"
    # observer and vessel are remembered for the next photos, and in the settings file
    assert (controller.settings.observer, controller.settings.vessel) == ("J. Doe", "Moby")
    assert Settings.load(controller.settings.path).observer == "J. Doe"
    assert controller.gallery.identify(queries["unknown"]).candidates[0].whale_id == "w_stranger"


def test_keyboard_shortcuts(qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]) -> None:
    window, controller = app_window
    drop(window, [queries["alpha"], queries["beta"]])
    wait_status(qtbot, controller, 1, Status.REVIEW)
    wait_status(qtbot, controller, 0, Status.REVIEW)
    assert controller.review.current_row == 0
    assert controller.review.candidates.candidates[0].whale_id == "w_alpha"
    assert len(controller.review.candidates.candidates) == 3  # every whale of the gallery (top 5 > 3)

    qtbot.waitUntil(lambda: len(controller.review.candidate_photos) == 3, timeout=5000)  # alpha's 3 photos
    key(window, Qt.Key.Key_Down)
    assert controller.review.candidate_photo_index == 1
    key(window, Qt.Key.Key_Up)
    key(window, Qt.Key.Key_Up)
    assert controller.review.candidate_photo_index == 2  # wraps around
    key(window, Qt.Key.Key_Right)
    assert controller.review.candidate_index == 1
    assert window.compare_view.strip.currentIndex().row() == 1
    key(window, Qt.Key.Key_Left)
    key(window, Qt.Key.Key_Left)
    assert controller.review.candidate_index == 0  # stops at the first

    zoom = window.compare_view.zoom
    key(window, Qt.Key.Key_Plus)
    assert window.compare_view.zoom > zoom
    key(window, Qt.Key.Key_0)
    assert window.compare_view.zoom == 1.0

    key(window, Qt.Key.Key_S)  # skip: to the next photo needing review
    assert controller.review.current_row == 1
    assert controller.entries[0].status is Status.REVIEW

    window.tabs.setCurrentIndex(1)  # in the gallery browser the review keys are off (typing is safe)
    key(window, Qt.Key.Key_S)
    assert controller.review.current_row == 1
    window.tabs.setCurrentIndex(0)


def test_undo_confirm_and_enroll(qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]) -> None:
    window, controller = app_window
    assert controller.gallery is not None and controller.info is not None  # app_window opened the gallery
    drop(window, [queries["alpha"], queries["unknown"]])
    wait_status(qtbot, controller, 1, Status.REVIEW)
    wait_status(qtbot, controller, 0, Status.REVIEW)
    assert not window.undo_action.isEnabled()

    controller.review.show_row(0)
    key(window, Qt.Key.Key_Return)
    wait_status(qtbot, controller, 0, Status.MATCHED)
    assert controller.info.photo_count == 7
    assert controller.review.current_row == 1  # moved on to the next photo to review

    controller.enroll_current("w_new", "New")
    wait_status(qtbot, controller, 1, Status.NEW)
    assert controller.info.whale_count == 4
    assert window.undo_action.isEnabled()

    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the enroll
    wait_status(qtbot, controller, 1, Status.REVIEW)
    qtbot.waitUntil(lambda: controller.info is not None and controller.info.whale_count == 3, timeout=5000)
    assert not controller.gallery.has_whale("w_new")

    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the confirm
    wait_status(qtbot, controller, 0, Status.REVIEW)
    qtbot.waitUntil(lambda: controller.info is not None and controller.info.photo_count == 6, timeout=5000)
    assert "alpha_new.jpg" not in [p.original_name for p in controller.gallery.photos("w_alpha")]
    assert controller.review.current_row == 0
    assert not window.undo_action.isEnabled()

    key(window, Qt.Key.Key_Return)  # and it can be confirmed again
    wait_status(qtbot, controller, 0, Status.MATCHED)
    assert controller.info.photo_count == 7


def test_bad_file_in_a_dropped_folder_is_marked(qtbot: QtBot, app_window: AppWindow, tmp_path: Path) -> None:
    window, controller = app_window
    folder = tmp_path / "card"
    whale_photo(folder / "a.jpg", 11, 1)
    whale_photo(folder / "sub" / "b.jpg", 12, 2)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("not a photo")
    drop(window, [folder])
    names = [e.name for e in controller.entries]
    assert sorted(names) == ["a.jpg", "b.jpg", "broken.jpg", "empty.png"]  # the .txt is not queued
    qtbot.waitUntil(lambda: not controller.batch_running, timeout=15000)
    by_name = {e.name: e for e in controller.entries}
    assert by_name["broken.jpg"].status is Status.ERROR and by_name["broken.jpg"].reason
    assert by_name["empty.png"].status is Status.ERROR and "empty" in by_name["empty.png"].reason
    assert by_name["a.jpg"].status is Status.REVIEW and by_name["b.jpg"].status is Status.REVIEW
    row = names.index("broken.jpg")
    text = window.queue_view.model.data(window.queue_view.model.index(row), Qt.ItemDataRole.ToolTipRole)
    assert isinstance(text, str)
    assert "error" in text and by_name["broken.jpg"].reason in text
    assert window.last_message_box is None  # a bad photo is marked in the queue, not a dialog


def test_window_stays_responsive_during_a_batch(qtbot: QtBot, app_window: AppWindow, tmp_path: Path) -> None:
    window, controller = app_window
    photos = [whale_photo(tmp_path / "batch" / f"p{i:02}.jpg", 100 + i, i) for i in range(40)]
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    progress: list[tuple[int, int]] = []
    controller.batch_progressed.connect(lambda d, t: progress.append((d, t)))
    with qtbot.waitSignal(controller.batch_finished, timeout=30000) as finished:
        started = time.perf_counter()
        controller.add_paths(photos)
        queued = time.perf_counter()
        timer.start(5)
        assert queued - started < 0.5  # queuing returns at once; the work is in workers
        assert window.queue_view.progress.isVisible()
    ended = time.perf_counter()
    timer.stop()
    assert finished.args == [False]
    assert all(e.status is Status.REVIEW for e in controller.entries)
    assert progress[-1] == (40, 40)
    # the event loop kept running all along: the timer ticked with no long gaps, until the batch's end
    marks = [queued, *ticks, ended]
    gaps = [b - a for a, b in itertools.pairwise(marks)]
    assert len(ticks) >= 3 and max(gaps) < 0.6, (len(ticks), max(gaps), ended - queued)
    assert not window.queue_view.progress.isVisible()


def test_cancel_a_batch(qtbot: QtBot, app_window: AppWindow, tmp_path: Path) -> None:
    window, controller = app_window
    photos = [whale_photo(tmp_path / "batch" / f"p{i:02}.jpg", 200 + i, i) for i in range(30)]
    with qtbot.waitSignal(controller.batch_finished, timeout=30000) as finished:
        controller.add_paths(photos)
        QTest.mouseClick(window.queue_view.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args == [True]
    counts = controller.status_counts()
    assert counts[Status.WAITING] > 0  # the rest wait
    assert counts[Status.WAITING] + counts[Status.REVIEW] == 30
    with qtbot.waitSignal(controller.batch_finished, timeout=30000):
        controller.identify_waiting()  # and can be identified later
    assert controller.status_counts()[Status.REVIEW] == 30


def test_redo_writes_an_undone_decision_again(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]
) -> None:
    window, controller = app_window
    assert controller.gallery is not None and controller.info is not None  # app_window opened the gallery
    drop(window, [queries["alpha"]])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    key(window, Qt.Key.Key_Return)
    wait_status(qtbot, controller, 0, Status.MATCHED)
    assert controller.undo_stack.undoText() == "alpha_new.jpg as whale w_alpha"
    assert window.undo_action.toolTip() == "Undo alpha_new.jpg as whale w_alpha"
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait_status(qtbot, controller, 0, Status.REVIEW)
    qtbot.waitUntil(lambda: controller.info is not None and controller.info.photo_count == 6, timeout=5000)
    assert window.redo_action.isEnabled()
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    wait_status(qtbot, controller, 0, Status.MATCHED)
    qtbot.waitUntil(lambda: controller.info is not None and controller.info.photo_count == 7, timeout=5000)
    assert "alpha_new.jpg" in [p.original_name for p in controller.gallery.photos("w_alpha")]
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # and undone again: the new ids
    qtbot.waitUntil(lambda: controller.info is not None and controller.info.photo_count == 6, timeout=5000)
    wait_status(qtbot, controller, 0, Status.REVIEW)
