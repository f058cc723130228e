"""The Training menu on a real gallery: the misranked-triplets window lists a planted misranking and keeps or
drops it; adapting runs a real child process (progress, refusal, cancel); applying a model re-embeds the
gallery atomically (and a cancelled re-embedding changes nothing)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.gui.conftest import AppWindow, wait_status
from tests.gui.test_review_flow import drop, key
from tests.models import make_tiny_model
from whalegui.core.embedder import Embedder
from whalegui.gui.adapt_runner import AdaptOutcome, AdaptRunner, adapt_command, progress_of
from whalegui.gui.review_model import Status
from whalegui.gui.triplets_view import KEEP, NEGATIVE, POSITIVE

REFUSAL = "the adapted model is not better than its base (MAP@5 0.500 -> 0.480); nothing was written"


def script(body: str) -> list[str]:
    """A real child process: this Python running ``body``."""
    return [sys.executable, "-c", "import sys, time\n" + body]


def test_triplets_window_lists_a_planted_misranking(
    qtbot: QtBot, app_window: AppWindow, queries: dict[str, Path]
) -> None:
    window, controller = app_window
    drop(window, [queries["alpha"]])
    wait_status(qtbot, controller, 0, Status.REVIEW)
    entry = controller.entries[0]
    assert entry.candidates[0].whale_id == "w_alpha"
    controller.review.select_candidate(1)  # file alpha's photo under the whale ranked second: a misranking
    wrong = entry.candidates[1].whale_id
    key(window, Qt.Key.Key_C)
    wait_status(qtbot, controller, 0, Status.MATCHED)

    dialog = window.tuning_menu.show_triplets()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1, timeout=5000)
    row = dialog.model.rows[0]
    assert row.anchor.original_name == "alpha_new.jpg" and row.anchor.whale_id == wrong
    assert row.positive.whale_id == wrong and row.triplet.positive.rank == 2
    assert row.negative.whale_id == "w_alpha" and row.triplet.negative.rank == 1
    assert "ranked 1" in dialog.model.index(0, NEGATIVE).data()
    assert "ranked 2" in dialog.model.index(0, POSITIVE).data()
    assert dialog.summary.text().startswith("1 misranked triplet")
    qtbot.waitUntil(lambda: all(p.pixmap() is not None and not p.pixmap().isNull() for p in dialog.previews),
                    timeout=5000)  # the three photos side by side

    keep = dialog.model.index(0, KEEP)
    assert keep.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert dialog.model.setData(keep, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    unchecked = Qt.CheckState.Unchecked
    qtbot.waitUntil(lambda: keep.data(Qt.ItemDataRole.CheckStateRole) == unchecked, timeout=5000)
    assert controller.gallery is not None
    assert not controller.gallery.misranked()[0].keep  # stored: training drops it
    dialog.refresh()
    qtbot.waitUntil(lambda: "1 dropped" in dialog.summary.text(), timeout=5000)


def test_adapt_runner_progress_refusal_success_and_cancel(qtbot: QtBot, tmp_path: Path) -> None:
    runner = AdaptRunner()
    lines: list[tuple[str, int, int]] = []
    runner.progressed.connect(lambda *a: lines.append(a))
    body = ("print('features: 1 of 2 photos', file=sys.stderr, flush=True)\n"
            "print('adapt: epoch 1/3, loss 0.5000', file=sys.stderr, flush=True)\n"
            f"print('whale-train adapt: error: {REFUSAL}', file=sys.stderr)\n"
            "sys.exit(1)")
    with qtbot.waitSignal(runner.finished, timeout=20000) as refused:
        runner.start(script(body), tmp_path / "adapted.onnx")
    outcome: AdaptOutcome = refused.args[0]
    assert not outcome.ok and not outcome.cancelled and outcome.out is None
    assert outcome.message == REFUSAL
    assert lines[:2] == [("features: 1 of 2 photos", 1, 2), ("adapt: epoch 1/3, loss 0.5000", 1, 3)]
    assert not runner.running

    with qtbot.waitSignal(runner.finished, timeout=20000) as done:
        runner.start(script("print('held-out whales: top-1 0.5 -> 0.7')"), tmp_path / "adapted.onnx")
    outcome = done.args[0]
    assert outcome.ok and outcome.message == "held-out whales: top-1 0.5 -> 0.7"
    assert outcome.out == tmp_path / "adapted.onnx"

    lines.clear()
    started = time.monotonic()
    with qtbot.waitSignal(runner.finished, timeout=20000) as cancelled:
        runner.start(script("print('adapt: epoch 1/50', file=sys.stderr, flush=True)\ntime.sleep(60)"))
        qtbot.waitUntil(lambda: bool(lines), timeout=20000)
        runner.cancel()
    outcome = cancelled.args[0]
    assert outcome.cancelled and not outcome.ok
    assert time.monotonic() - started < 30  # killed, not waited for


def test_adapt_command_and_progress_lines(tmp_path: Path) -> None:
    command = adapt_command(tmp_path / "g", tmp_path / "m.onnx", base=tmp_path / "b.onnx", epochs=4)
    assert command[:4] == [sys.executable, "-m", "training", "adapt"]
    assert command[4:] == ["--gallery", str(tmp_path / "g"), "--out", str(tmp_path / "m.onnx"),
                           "--base", str(tmp_path / "b.onnx"), "--epochs", "4"]
    assert progress_of("features: 12 of 50 photos, 2.1 photos/s") == (12, 50)
    assert progress_of("loading the base model") == (0, 0)
    assert progress_of("odd 9/3") == (0, 0)


def test_a_refused_adaptation_is_shown_in_the_window(qtbot: QtBot, app_window: AppWindow,
                                                     tmp_path: Path) -> None:
    window, controller = app_window
    menu = window.tuning_menu
    body = ("print('adapt: epoch 2/4, loss 0.3', file=sys.stderr, flush=True)\ntime.sleep(0.3)\n"
            f"print('whale-train adapt: error: {REFUSAL}', file=sys.stderr)\nsys.exit(1)")
    with qtbot.waitSignal(controller.tuning.adapt_finished, timeout=20000):
        assert menu.start_adapt(tmp_path / "adapted.onnx", command=script(body))
        qtbot.waitUntil(lambda: "epoch 2/4" in menu.panel.label.text(), timeout=20000)
        assert menu.panel.isVisible() and menu.panel.bar.maximum() == 4
    assert not menu.panel.isVisible()
    box = window.last_message_box
    assert box is not None and REFUSAL in box.text() and menu.question is None


def test_apply_a_model_reembeds_the_gallery(qtbot: QtBot, app_window: AppWindow, tmp_path: Path) -> None:
    window, controller = app_window
    gallery = controller.gallery
    assert gallery is not None
    old = gallery.model_fingerprint
    other = make_tiny_model(tmp_path / "other", name="other", seed=7)
    progress: list[tuple[int, int]] = []
    controller.tuning.work_progressed.connect(lambda _line, d, t: progress.append((d, t)))

    store_lock = gallery._store.lock  # held: the re-embedding waits, so the cancel comes before it writes
    store_lock.acquire()
    try:
        assert controller.tuning.apply(other)
        assert window.tuning_menu.panel.isVisible()
        controller.tuning.cancel()
    finally:
        store_lock.release()
    qtbot.waitUntil(lambda: not controller.tuning.working, timeout=20000)
    assert controller.gallery is not None and controller.gallery.model_fingerprint == old  # unchanged
    assert controller.gallery.photo_count() == 6 and controller.settings.model_path == ""

    with qtbot.waitSignal(controller.model_loaded, timeout=20000):
        assert controller.tuning.apply(other)
    qtbot.waitUntil(lambda: controller.gallery is not None and controller.gallery is not gallery
                    and controller.info is not None and not controller.loading, timeout=20000)
    assert controller.gallery is not None
    assert controller.gallery.model_fingerprint == Embedder(other, device="cpu").fingerprint != old
    assert controller.settings.model_path == str(other) and controller.model_path == other
    assert progress and progress[-1] == (6, 6)
    assert window.model_label.text().find("other") >= 0


def test_the_child_process_reads_the_gallery_the_app_holds(qtbot: QtBot, app_window: AppWindow) -> None:
    """What adapt does first: open the gallery read-only beside the app's writer, and read its whales."""
    window, controller = app_window
    assert controller.info is not None
    body = ("from whalegui.core.gallery import Gallery\n"
            f"with Gallery.open({str(controller.info.folder)!r}, readonly=True) as g:\n"
            "    print(f'features: {g.photo_count()} of {g.photo_count()} photos', file=sys.stderr)\n"
            "    print(sorted(w.whale_id for w in g.whales()))")
    lines: list[str] = []
    controller.tuning.work_progressed.connect(lambda line, _d, _t: lines.append(line))
    with qtbot.waitSignal(controller.tuning.adapt_finished, timeout=30000) as finished:
        assert window.tuning_menu.start_adapt(controller.info.folder / "x.onnx", command=script(body))
    outcome: AdaptOutcome = finished.args[0]
    assert outcome.ok, outcome.message
    assert outcome.message == "['w_alpha', 'w_beta', 'w_gamma']"
    assert lines == ["features: 6 of 6 photos"]
    assert window.tuning_menu.question is not None  # "apply the adapted model now?"
    window.tuning_menu.question.done(0)  # No
