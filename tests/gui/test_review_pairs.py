"""Review decisions kept as data from the app: confirm / new whale / "Not this whale" store labelled pairs in
the real gallery, undo takes them away and redo writes them again; the pairs export."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.gui.conftest import AppWindow, wait_status
from tests.gui.test_review_flow import drop, key
from whalegui.core.reviews import ReviewPair
from whalegui.gui.card_delegate import LINES_ROLE
from whalegui.gui.controller import Controller
from whalegui.gui.review_model import Status


def pairs_of(controller: Controller, query: str) -> list[ReviewPair]:
    gallery = controller.gallery
    assert gallery is not None
    photo = next((p for p in gallery.photos() if p.original_name == query), None)
    if photo is None:
        return []
    return [p for p in gallery.review_pairs() if p.query_sha256 == photo.sha256]


def all_pairs(controller: Controller) -> list[ReviewPair]:
    assert controller.gallery is not None
    return controller.gallery.review_pairs()


def test_decisions_are_stored_undone_and_redone(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]
) -> None:
    window, controller = app_window
    drop(window, [queries["alpha"], queries["unknown"]])
    wait_status(qtbot, controller, 1, Status.REVIEW)
    wait_status(qtbot, controller, 0, Status.REVIEW)
    controller.review.show_row(0)
    entry = controller.entries[0]
    shown = [c.whale_id for c in entry.candidates]
    assert shown[0] == "w_alpha" and len(shown) == 3

    controller.review.select_candidate(2)  # "Not this whale" on the third candidate (key X)
    key(window, Qt.Key.Key_X)
    assert entry.rejected == {shown[2]}
    assert controller.review.candidates.index(2).data(LINES_ROLE)[0] == "not this whale"
    key(window, Qt.Key.Key_X)  # again: taken back
    assert entry.rejected == set()
    key(window, Qt.Key.Key_X)
    controller.review.select_candidate(0)
    key(window, Qt.Key.Key_C)  # same whale: w_alpha
    wait_status(qtbot, controller, 0, Status.MATCHED)

    confirmed = {p.candidate_whale: p for p in pairs_of(controller, "alpha_new.jpg")}
    assert set(confirmed) == set(shown)
    assert confirmed["w_alpha"].same and confirmed["w_alpha"].rank == 1
    assert not confirmed[shown[1]].same and not confirmed[shown[1]].explicit  # rejected by confirming w_alpha
    assert not confirmed[shown[2]].same and confirmed[shown[2]].explicit  # rejected with "Not this whale"
    assert all(p.chosen_whale == "w_alpha" for p in confirmed.values())
    assert confirmed["w_alpha"].distance < confirmed[shown[1]].distance

    controller.enroll_current("w_new", "New")
    wait_status(qtbot, controller, 1, Status.NEW)
    enrolled = pairs_of(controller, "stranger.jpg")
    assert len(enrolled) == 3 and not any(p.same for p in enrolled)
    assert {p.chosen_whale for p in enrolled} == {"w_new"}
    assert len(all_pairs(controller)) == 6

    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the enroll: its pairs go
    wait_status(qtbot, controller, 1, Status.REVIEW)
    qtbot.waitUntil(lambda: len(all_pairs(controller)) == 3, timeout=5000)
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the confirm: its pairs go
    wait_status(qtbot, controller, 0, Status.REVIEW)
    qtbot.waitUntil(lambda: all_pairs(controller) == [], timeout=5000)

    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    wait_status(qtbot, controller, 0, Status.MATCHED)  # redo the confirm: the same pairs, explicit kept
    qtbot.waitUntil(lambda: len(all_pairs(controller)) == 3, timeout=5000)
    again = {p.candidate_whale: (p.same, p.explicit, p.rank) for p in pairs_of(controller, "alpha_new.jpg")}
    assert again == {w: (p.same, p.explicit, p.rank) for w, p in confirmed.items()}
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    wait_status(qtbot, controller, 1, Status.NEW)  # redo the enroll
    qtbot.waitUntil(lambda: len(all_pairs(controller)) == 6, timeout=5000)


def test_rejecting_every_candidate_proposes_a_new_whale(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]
) -> None:
    window, controller = app_window
    drop(window, [queries["beta"]])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    entry = controller.entries[0]
    assert not entry.likely_new
    for _ in entry.candidates:
        key(window, Qt.Key.Key_X)  # each rejection moves on to the next candidate
    assert entry.rejected == {c.whale_id for c in entry.candidates}
    assert entry.likely_new
    assert entry.status_text() == "needs review (new whale?)"
    assert "you marked every candidate as not this whale" in window.compare_view.verdict.text()


def test_review_pairs_export(qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path],
                             tmp_path: Path) -> None:
    window, controller = app_window
    drop(window, [queries["alpha"]])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    controller.review.select_candidate(1)
    key(window, Qt.Key.Key_X)
    controller.review.select_candidate(0)
    key(window, Qt.Key.Key_C)
    wait_status(qtbot, controller, 0, Status.MATCHED)
    out = tmp_path / "pairs.csv"
    with qtbot.waitSignal(controller.status_messaged, timeout=5000,
                          check_params_cb=lambda text: "review pairs written" in text):
        controller.tuning.export_pairs(out)
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["same"] == "1" and rows[0]["candidate_whale"] == "w_alpha" == rows[0]["query_whale"]
    assert rows[1]["explicit"] == "1" and rows[2]["explicit"] == "0"
    assert {r["keep"] for r in rows} == {"1"}
    assert rows[0]["query_file"].startswith("photos/") and rows[0]["candidate_file"].startswith("photos/")
    assert float(rows[0]["distance"]) < float(rows[1]["distance"])
