"""Sightings in the GUI: the New whale dialog and the review's strip record them, the gallery browser shows
a whale's history (in time order, with a position plot) and corrects a sighting, undoably."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from tests.gui.conftest import AppWindow, make_window, seed_of, wait_status, whale_photo
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery
from whalegui.core.sightings import Sighting, SightingRecord
from whalegui.gui.enroll_dialog import EnrollDialog
from whalegui.gui.position_plot import PositionPlot, degrees, nice_ticks
from whalegui.gui.review_model import Status
from whalegui.gui.sighting_form import parse_degrees

OK = QDialogButtonBox.StandardButton.Ok

#: w_trail's sightings as enrolled, out of time order on purpose; one undated, one without a position.
TRAIL = [
    Sighting("2023-07-14T10:30", (66.05, -17.50), "Outer bay", "A. Obs", "RV One", "feeding"),
    Sighting("2021-06-02", (66.10, -17.40), "North bay"),
    Sighting("", (66.12, -17.30), "Island shelf"),
    Sighting("2022-08-20T16:00", None, "Harbour mouth", notes="with a calf"),
]


def test_enroll_dialog_returns_its_sighting(qtbot: QtBot) -> None:
    prefill = Sighting("2024-08-03T10:00", (66.05, -17.6), "Bay", "J. Doe", "Moby", "")
    dialog = EnrollDialog("w_new", sighting=prefill)
    qtbot.addWidget(dialog)
    form = dialog.sighting_form
    assert form.lat_edit.text() == "66.05000" and form.lon_edit.text() == "-17.60000"
    assert dialog.request().sighting == prefill
    form.lon_edit.selectAll()  # half a position is refused, in words
    QTest.keyClick(form.lon_edit, Qt.Key.Key_Backspace)
    assert not dialog.buttons.button(OK).isEnabled()
    assert "both a latitude and a longitude" in dialog.error_label.text()
    QTest.keyClicks(form.lon_edit, "17.25 E")
    form.date_known.setChecked(False)  # the date is not known after all
    QTest.keyClicks(form.notes_edit, "breaching")
    assert dialog.buttons.button(OK).isEnabled()
    seen = dialog.request().sighting
    assert (seen.when, seen.position, seen.notes) == ("", (66.05, 17.25), "breaching")
    assert (seen.place, seen.observer, seen.vessel) == ("Bay", "J. Doe", "Moby")


def test_plot_joins_a_track_across_the_antimeridian(qtbot: QtBot) -> None:
    plot = PositionPlot()
    qtbot.addWidget(plot)
    plot.set_sightings([SightingRecord(1, "w", Sighting("2024-01-01", (-17.5, 179.9)), (1,)),
                        SightingRecord(2, "w", Sighting("2024-01-02", (-17.6, -179.8)), (2,))])
    assert [round(p.lon, 6) for p in plot.points] == [179.9, 180.2]  # 0.3 degrees apart, not 359.7
    assert degrees(180.2, 0.1, "E", "W") == "179.8° W"


def test_degrees_and_ticks() -> None:
    assert parse_degrees("64,5 S") == -64.5 and parse_degrees(" 17.6° W") == -17.6
    assert parse_degrees("") is None
    with pytest.raises(Exception, match="not a number of degrees"):
        parse_degrees("north")
    assert nice_ticks(66.013, 66.118, 5) == [66.02, 66.04, 66.06, 66.08, 66.1]
    assert nice_ticks(-17.8, -17.2, 4) == [-17.8, -17.6, -17.4, -17.2]
    assert nice_ticks(-17.8, -17.2, 3) == [-17.5]  # never more than asked for


def test_confirm_records_the_strips_sighting_and_carries_it_on(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]
) -> None:
    window, controller = app_window
    assert controller.gallery is not None
    strip = window.compare_view.sighting_strip
    controller.add_paths([queries["alpha"], queries["beta"]])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    wait_status(qtbot, controller, 1, Status.REVIEW)
    controller.review.show(controller.entries[0])
    qtbot.waitUntil(lambda: strip.form.date_known.isChecked(), timeout=3000)  # alpha's EXIF date
    form = strip.form
    assert form.date_edit.dateTime().toString("yyyy-MM-dd HH:mm") == "2024-08-02 14:05"
    errors: list[tuple[str, str]] = []
    controller.error_raised.connect(lambda title, text: errors.append((title, text)))
    QTest.keyClicks(form.lat_edit, "95")  # out of range: the confirm waits, and says why
    QTest.keyClicks(form.lon_edit, "-17.5")
    assert not controller.confirm()
    assert errors and "latitude" in errors[-1][1]
    assert window.last_message_box is not None
    window.last_message_box.accept()  # the researcher reads it and corrects the latitude
    form.lat_edit.clear()
    QTest.keyClicks(form.lat_edit, "66.1")
    window.activateWindow()  # the window's shortcuts are live
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    for edit, text in ((form.place_edit, "Bay"), (form.observer_edit, "J. Doe"),
                       (form.vessel_edit, "Moby"), (form.notes_edit, "feeding")):
        edit.setFocus()  # as a researcher clicks into the field
        QTest.keyClicks(edit, text)

    # letters typed in the strip are text, not the review's one-key shortcuts (B draws a box, N, S…)
    assert not window.compare_view.draw_button.isChecked() and window.enroll_dialog is None
    assert controller.review.current_entry is controller.entries[0]
    # Enter in a field decides, as everywhere in the review; the next photo gets the keys back
    QTest.keyClick(form.notes_edit, Qt.Key.Key_Return)
    wait_status(qtbot, controller, 0, Status.MATCHED)
    assert not form.notes_edit.hasFocus()
    stored = [r for r in controller.gallery.sightings("w_alpha") if r.sighting.when == "2024-08-02T14:05"]
    assert len(stored) == 1
    seen = stored[0].sighting
    assert (seen.position, seen.place, seen.observer, seen.vessel, seen.notes) == (
        (66.1, -17.5), "Bay", "J. Doe", "Moby", "feeding")
    assert controller.gallery.whale("w_alpha").last_place == "Bay"

    # the next photo (beta, no EXIF): place, observer and vessel carry over; its date and position do not
    qtbot.waitUntil(lambda: strip.entry is controller.entries[1], timeout=3000)
    assert (form.place_edit.text(), form.observer_edit.text(), form.vessel_edit.text()) == (
        "Bay", "J. Doe", "Moby")
    assert not form.date_known.isChecked() and form.lat_edit.text() == "" and form.notes_edit.text() == ""
    assert controller.settings.observer == "J. Doe"

    # undo takes the photo and its sighting out; redo records the same sighting again
    controller.undo()
    wait_status(qtbot, controller, 0, Status.REVIEW)
    assert not [r for r in controller.gallery.sightings("w_alpha") if r.sighting.place == "Bay"]
    controller.redo()
    wait_status(qtbot, controller, 0, Status.MATCHED)
    [again] = [r for r in controller.gallery.sightings("w_alpha") if r.sighting.place == "Bay"]
    assert again.sighting.position == (66.1, -17.5) and again.sighting.when == "2024-08-02T14:05"


@pytest.fixture
def trail_window(qtbot: QtBot, tmp_path: Path, tiny_model: Path) -> Iterator[AppWindow]:
    """The app on a gallery whose w_trail was seen four times (and w_alone once, with no position)."""
    folder = tmp_path / "trail-gallery"
    with Gallery.open(folder, Embedder(tiny_model, device="cpu")) as gallery:
        for i, seen in enumerate(TRAIL):
            photos = [whale_photo(tmp_path / "trail" / f"t{i}_{j}.jpg", seed_of("w_trail"), 10 * i + j)
                      for j in range(1 + (i == 0))]  # two photos in the first sighting
            if i == 0:
                gallery.enroll(photos, whale_id="w_trail", name="Trail", sighting=seen)
            else:
                gallery.add_photos("w_trail", photos, sighting=seen)
        gallery.enroll([whale_photo(tmp_path / "alone.jpg", seed_of("w_alone"), 1)], whale_id="w_alone",
                       sighting=Sighting("2020-05-05", None, "Far away"))
    window, controller = make_window(qtbot, tmp_path)
    with qtbot.waitSignal(controller.gallery_changed, timeout=20000):
        controller.start(tiny_model, folder, device="cpu")
    window.tabs.setCurrentIndex(1)
    yield window, controller
    controller.shutdown()


def test_history_lists_sightings_in_time_order_with_a_point_per_position(
    qtbot: QtBot, trail_window: AppWindow
) -> None:
    window, _controller = trail_window
    browser = window.browser
    history = browser.history
    browser.select_whale("w_trail")
    browser.pages.setCurrentWidget(history)
    qtbot.waitUntil(lambda: len(history.model.records) == 4, timeout=5000)
    records = history.model.records
    assert [r.sighting.when for r in records] == ["2021-06-02", "2022-08-20T16:00", "2023-07-14T10:30", ""]
    assert history.summary.text() == "4 sightings · first seen 2021-06-02 · last seen 2023-07-14"
    assert [len(r.photo_ids) for r in records] == [1, 1, 2, 1]
    qtbot.waitUntil(lambda: len(history.model.photos_of(records[2])) == 2, timeout=5000)  # its photos
    # the plot: a point per positioned sighting, in time order (the undated one last, as listed)
    plot: PositionPlot = history.plot
    assert [(p.lat, p.lon) for p in plot.points] == [(66.10, -17.40), (66.05, -17.50), (66.12, -17.30)]
    assert history.plot_hint.text() == "3 sightings with a position of 4"
    plot.resize(300, 240)
    plot.refit()
    spots = [plot.map_point(p.lat, p.lon) for p in plot.points]
    area = plot.plot_rect()
    assert all(area.contains(s) for s in spots)
    assert spots[2].y() < spots[0].y() < spots[1].y()  # north is up
    assert spots[1].x() < spots[0].x() < spots[2].x()  # east is right
    assert not plot.grab().isNull()

    browser.select_whale("w_alone")  # one sighting without a position: nothing to plot, and it says so
    qtbot.waitUntil(lambda: [r.whale_id for r in history.model.records] == ["w_alone"], timeout=5000)
    assert plot.points == [] and history.summary.text().startswith("1 sighting · first seen 2020-05-05")


def test_editing_a_sighting_persists_and_undoes(qtbot: QtBot, trail_window: AppWindow) -> None:
    window, controller = trail_window
    assert controller.gallery is not None
    history = window.browser.history
    window.browser.select_whale("w_trail")
    qtbot.waitUntil(lambda: len(history.model.records) == 4, timeout=5000)
    record = history.model.records[3]  # the undated one
    dialog = history.edit(3)
    assert dialog is not None and dialog.isVisible()
    form = dialog.form
    form.date_known.setChecked(True)
    form.date_edit.setDateTime(QDateTime.fromString("2024-06-30 09:15", "yyyy-MM-dd HH:mm"))
    form.place_edit.clear()
    QTest.keyClicks(form.place_edit, "Skjalfandi")
    QTest.keyClicks(form.observer_edit, "B. Spotter")
    QTest.mouseClick(dialog.buttons.button(OK), Qt.MouseButton.LeftButton)

    def stored() -> Sighting:
        assert controller.gallery is not None
        return controller.gallery.sighting(record.sighting_id)

    qtbot.waitUntil(lambda: stored().place == "Skjalfandi", timeout=5000)
    assert (stored().when, stored().observer, stored().position) == ("2024-06-30T09:15", "B. Spotter",
                                                                      (66.12, -17.30))
    # the history follows: now the latest sighting, and the whale's last seen
    qtbot.waitUntil(lambda: history.model.records[-1].sighting.place == "Skjalfandi", timeout=5000)
    assert history.summary.text().endswith("last seen 2024-06-30")
    assert history.plot.points[-1].label == "2024-06-30"
    assert controller.gallery.whale("w_trail").last_place == "Skjalfandi"

    controller.undo()  # Ctrl+Z: the old sighting is back
    qtbot.waitUntil(lambda: stored().place == "Island shelf", timeout=5000)
    assert stored().when == "" and stored().observer == ""
    controller.redo()
    qtbot.waitUntil(lambda: stored().place == "Skjalfandi", timeout=5000)

    history.list.doubleClicked.emit(history.model.index(0))  # a double-click opens the same dialog
    qtbot.waitUntil(lambda: history.dialog is not None and history.dialog.isVisible(), timeout=3000)
    assert history.dialog is not None and history.dialog.record.sighting.when == "2021-06-02"
    history.dialog.reject()
    qtbot.waitUntil(lambda: history.dialog is None, timeout=3000)
