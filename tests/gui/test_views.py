"""Start-up states, the compare view's zoom/pan/orientation, the gallery browser, import/export, resources."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from tests.gui.conftest import AppWindow, make_window, wait_status, whale_photo
from whalegui.gui import qtfix
from whalegui.gui.resources import icon, stylesheet
from whalegui.gui.review_model import Status
from whalegui.gui.settings import Settings


def test_missing_model_is_a_message_in_the_window(qtbot: QtBot, tmp_path: Path) -> None:
    window, controller = make_window(qtbot, tmp_path)
    with qtbot.waitSignal(controller.loading_failed, timeout=10000):
        controller.start(tmp_path / "nowhere" / "model.onnx", tmp_path / "gallery", device="cpu")
    assert window.review_stack.currentWidget() is window.message_page
    assert window.message_page.title.text() == "No identification model"
    assert "--model" in window.message_page.text.text() and "nowhere" in window.message_page.text.text()
    assert window.model_label.text() == "model: not loaded"
    controller.add_paths([whale_photo(tmp_path / "q.jpg", 1, 1)])  # queuing still works, nothing crashes
    assert controller.entries[0].status is Status.WAITING
    controller.shutdown()


def test_window_appears_before_the_model_loads_and_empty_gallery_says_how_to_start(
    qtbot: QtBot, tmp_path: Path, tiny_model: Path
) -> None:
    window, controller = make_window(qtbot, tmp_path)
    (tmp_path / "empty-gallery").mkdir()  # an empty folder becomes a gallery without asking
    controller.start(tiny_model, tmp_path / "empty-gallery", device="cpu")
    assert not controller.ready  # start() returned at once: loading runs in a worker
    assert window.review_stack.currentWidget() is window.message_page
    qtbot.waitUntil(lambda: controller.ready, timeout=10000)
    assert window.review_stack.currentWidget() is window.welcome
    assert window.device_label.text() == "device: CPU"
    assert window.model_label.text() == "model: tiny"
    assert window.gallery_label.text() == "gallery: 0 whales, 0 photos"
    # a photo dropped on an empty gallery can only be a new whale
    controller.add_paths([whale_photo(tmp_path / "first.jpg", 5, 1)])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    assert window.review_stack.currentWidget() is window.compare_view
    assert controller.entries[0].likely_new and controller.review.candidates.candidates == []
    assert not window.compare_view.confirm_button.isEnabled() and window.compare_view.new_button.isEnabled()
    controller.enroll_current("w_first")
    wait_status(qtbot, controller, 0, Status.NEW)
    assert window.gallery_label.text() == "gallery: 1 whale, 1 photo"
    controller.shutdown()


def test_compare_view_zoom_pan_and_orientation_are_synchronised(
    qtbot: QtBot, app_window: AppWindow, tmp_path: Path
) -> None:
    window, controller = app_window
    query = whale_photo(tmp_path / "wide.jpg", sum(map(ord, "w_alpha")), 77)
    controller.add_paths([query])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    view = window.compare_view
    qtbot.waitUntil(lambda: view.query_pane.has_image() and view.candidate_pane.has_image(), timeout=5000)
    q, c = view.query_pane, view.candidate_pane
    assert q.scale_factor() == pytest.approx(q.fit_scale())  # starts fitted

    view.zoom_by(4.0)
    assert q.scale_factor() == pytest.approx(4 * q.fit_scale())
    assert c.scale_factor() == pytest.approx(4 * c.fit_scale())  # same zoom relative to fit
    q.horizontalScrollBar().setValue(q.horizontalScrollBar().minimum())  # the user drags to the left
    fx, _fy = q.visible_centre()
    assert fx < 0.4
    assert c.visible_centre()[0] == pytest.approx(fx, abs=0.05)  # the candidate followed
    view.fit()
    assert q.scale_factor() == pytest.approx(q.fit_scale())

    assert q.sceneRect().width() > q.sceneRect().height()
    view.rotate(90)
    assert q.sceneRect().height() > q.sceneRect().width()  # rotated query; the candidate is untouched
    assert c.sceneRect().width() > c.sceneRect().height()
    view.flip_horizontal()
    assert q.flip_h and not c.flip_h
    view.actual_size()
    assert q.scale_factor() == pytest.approx(1.0)  # one photo pixel per screen pixel
    controller.skip()  # a new query starts upright and fitted
    controller.review.show_row(0)
    assert view.rotation == 0 and not view.flip_h and view.zoom == 1.0


def test_gallery_browser_search_rename_merge_delete(qtbot: QtBot, app_window: AppWindow) -> None:
    window, controller = app_window
    assert controller.gallery is not None and controller.info is not None  # app_window opened the gallery
    browser = window.browser
    window.tabs.setCurrentIndex(1)
    assert browser.whale_model.rowCount() == 3
    browser.search.setText("bet")
    shown = [browser.whale_model.whale(r) for r in range(browser.whale_model.rowCount())]
    assert [w.whale_id if w is not None else None for w in shown] == ["w_beta"]
    browser.search.setText("")
    browser.select_whale("w_alpha")
    qtbot.waitUntil(lambda: browser.photo_model.rowCount() == 3, timeout=5000)
    assert "3 photos" in browser.whale_title.text()

    with qtbot.waitSignal(controller.gallery_changed, timeout=5000):
        controller.editor.rename_whale("w_alpha", new_id="w_salt", name="Salt", notes="famous")
    assert controller.gallery.whale("w_salt").name == "Salt"
    with qtbot.waitSignal(controller.gallery_changed, timeout=5000):
        controller.editor.merge_whales("w_gamma", "w_beta")
    assert controller.gallery.whale("w_beta").photo_count == 3
    with qtbot.waitSignal(controller.gallery_changed, timeout=5000):
        controller.editor.delete_whale("w_beta")
    assert [w.whale_id for w in controller.info.whales] == ["w_salt"]
    assert browser.whale_model.rowCount() == 1
    assert window.gallery_label.text() == "gallery: 1 whale, 3 photos"


def test_import_catalogue_with_progress_and_export_csv(
    qtbot: QtBot, app_window: AppWindow, tmp_path: Path
) -> None:
    window, controller = app_window
    assert controller.info is not None  # app_window opened the gallery
    folder = tmp_path / "kaggle"
    rows = [("n1.jpg", "w_delta"), ("n2.jpg", "w_delta"), ("n3.jpg", "w_eps"), ("bad.jpg", "w_eps")]
    for i, (name, whale) in enumerate(rows[:3]):
        whale_photo(folder / "train" / name, sum(map(ord, whale)), 300 + i)
    (folder / "train" / "bad.jpg").write_bytes(b"garbage")
    with open(folder / "train.csv", "w", newline="") as f:
        csv.writer(f).writerows([("Image", "Id"), *rows])
    progress: list[tuple[int, int]] = []
    controller.editor.import_progressed.connect(lambda d, t: progress.append((d, t)))
    with qtbot.waitSignal(controller.editor.import_finished, timeout=15000) as done:
        controller.editor.import_catalogue(folder / "train.csv", folder / "train")
    report = done.args[0]
    assert report.imported == 3 and len(report.errors) == 1
    assert progress and progress[-1][0] == progress[-1][1]
    assert controller.info.whale_count == 5
    qtbot.waitUntil(lambda: window.last_message_box is not None, timeout=2000)  # the error is reported
    assert window.last_message_box is not None and "bad.jpg" in window.last_message_box.text()

    out = tmp_path / "export.csv"
    with qtbot.waitSignal(controller.status_messaged, timeout=5000) as written:
        controller.editor.export_csv(out)
    assert written.args == [f"9 rows written to {out}."]
    exported = list(csv.DictReader(out.open()))
    assert len(exported) == 9 and {r["Id"] for r in exported} >= {"w_delta", "w_eps", "w_alpha"}


def test_worker_errors_become_dialogs_not_tracebacks(qtbot: QtBot, app_window: AppWindow) -> None:
    window, controller = app_window
    with qtbot.waitSignal(controller.error_raised, timeout=5000) as raised:
        controller.editor.rename_whale("w_nobody", name="x")
    assert "w_nobody" in raised.args[1] and "not changed" in raised.args[1]
    assert window.last_message_box is not None and window.last_message_box.isVisible()


def test_resources_and_settings(tmp_path: Path) -> None:
    assert not icon("confirm").isNull()
    with pytest.raises(FileNotFoundError):
        icon("no-such-icon")
    assert "QPushButton#confirmButton" in stylesheet()
    settings = Settings.load(tmp_path / "s.ini")
    assert settings.top_k == 5
    settings.top_k = 7
    settings.gallery_dir = str(tmp_path / "g")
    settings.save()
    again = Settings.load(tmp_path / "s.ini")
    assert again.top_k == 7 and again.gallery_path() == tmp_path / "g"
    (tmp_path / "bad.ini").write_text("[General]\ntop_k=lots\ndevice=quantum\n")
    bad = Settings.load(tmp_path / "bad.ini")
    assert bad.top_k == 5 and bad.device == "auto"


def test_signal_emit_does_not_leak_true() -> None:
    class Emitter(QObject):
        happened = Signal(object)

    emitter = Emitter()
    emitter.happened.connect(lambda _value: None)
    qtfix.apply()
    before = sys.getrefcount(True)
    for _ in range(2000):
        emitter.happened.emit(QImage())
    assert sys.getrefcount(True) >= before - 5


def test_paste_files_and_an_image(qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]) -> None:
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QColor, QGuiApplication

    window, controller = app_window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(queries["beta"]))])
    QGuiApplication.clipboard().setMimeData(mime)
    window.paste_action.trigger()
    assert [e.name for e in controller.entries] == ["beta_new.jpg"]
    image = QImage(200, 80, QImage.Format.Format_RGB32)
    image.fill(QColor("#335577"))
    QGuiApplication.clipboard().setImage(image)
    window.paste_action.trigger()  # the image is written to a file in a worker, then queued
    qtbot.waitUntil(lambda: len(controller.entries) == 2, timeout=5000)
    assert controller.entries[1].name.startswith("pasted-") and controller.entries[1].path.stat().st_size
    wait_status(qtbot, controller, 1, Status.REVIEW)
    wait_status(qtbot, controller, 0, Status.REVIEW)
    assert controller.review.current_candidate() is not None
