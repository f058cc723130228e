"""File > Merge gallery from...: the dry run, the merge in a worker, the possibly-same queue (real gallery,
real tiny model, real JPEGs)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from tests.core.test_merge import assert_unchanged, file_hashes
from tests.gui.conftest import AppWindow, seed_of, whale_photo
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery
from whalegui.gui.likely_same_dialog import LikelySameDialog
from whalegui.gui.merge_dialog import MergeDialog


def other_gallery(tmp_path: Path, tiny_model: Path) -> Path:
    """w_delta: new photos of alpha's pattern (possibly the same as w_alpha); w_beta: another whale (an
    id conflict); w_gamma: the gallery's own photo of gamma (the same whale)."""
    folder = tmp_path / "other"
    with Gallery.open(folder, Embedder(tiny_model, device="cpu")) as g:
        g.enroll([whale_photo(tmp_path / "o" / f"delta{i}.jpg", seed_of("w_alpha"), 60 + i)
                  for i in range(2)], whale_id="w_delta")
        g.enroll([whale_photo(tmp_path / "o" / "beta.jpg", 4242, 70)], whale_id="w_beta")
        g.enroll([tmp_path / "catalogue" / "w_gamma_0.jpg"], whale_id="w_gamma")
    return folder


def test_merge_dialog_dry_run_merge_and_the_likely_same_queue(
        qtbot: QtBot, app_window: AppWindow, tmp_path: Path, tiny_model: Path) -> None:
    window, controller = app_window
    other = other_gallery(tmp_path, tiny_model)
    before = file_hashes(other)
    dialog = MergeDialog(controller, other, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.report is not None and not dialog.running, timeout=15000)
    assert dialog.report is not None and dialog.report.dry_run
    text = dialog.summary.toPlainText()
    assert "dry run: merging" in text and "3 photos would be added, 1 already here" in text
    assert "id conflicts" in text and "w_delta (their w_delta) ~ w_alpha" in text
    assert dialog.merge_button.isEnabled() and controller.service.gallery is not None
    assert controller.service.gallery.photo_count() == 6  # the dry run changed nothing

    with qtbot.waitSignal(dialog.merge_finished, timeout=15000) as merged:
        dialog.merge_button.click()
    report = merged.args[0]
    assert not report.dry_run and report.photos_new == 3 and report.after == (5, 9)
    qtbot.waitUntil(lambda: window.gallery_label.text() == "gallery: 5 whales, 9 photos", timeout=10000)
    assert "it now has 5 whales and 9 photos" in dialog.summary.toPlainText()
    assert dialog.review_button.isVisible() and dialog.review_button.text() == "Review 1 possibly-same whale…"

    dialog.review_button.click()
    queue = window.findChild(LikelySameDialog)
    assert queue is not None and queue.current is not None
    assert (queue.current.whale_id, queue.current.mine) == ("w_delta", "w_alpha")
    assert queue.incoming_box.title() == "Merged in: w_delta"
    assert queue.mine_box.title() == "Already here: w_alpha"
    qtbot.waitUntil(lambda: all(label.pixmap() is not None and not label.pixmap().isNull()
                                for label in queue.incoming[:2] + queue.mine[:3]), timeout=10000)
    assert "2 of 2 photos of w_delta identified as w_alpha" in queue.evidence.text()
    queue.merge_button.click()
    qtbot.waitUntil(lambda: window.gallery_label.text() == "gallery: 4 whales, 9 photos", timeout=10000)
    assert queue.current is None and not queue.merge_button.isEnabled()
    assert [d for _, d in queue.decisions] == ["merged"]
    gallery = controller.service.gallery
    assert gallery is not None and len(gallery.photos("w_alpha")) == 5 and not gallery.has_whale("w_delta")
    queue.close()
    assert_unchanged(before, file_hashes(other))


def test_keep_apart_takes_the_pair_out_of_the_queue(
        qtbot: QtBot, app_window: AppWindow, tmp_path: Path, tiny_model: Path) -> None:
    window, controller = app_window
    other = other_gallery(tmp_path, tiny_model)
    dialog = MergeDialog(controller, other, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.report is not None and not dialog.running, timeout=15000)
    with qtbot.waitSignal(dialog.merge_finished, timeout=15000):
        dialog.merge_button.click()
    pending: list[object] = []
    controller.service.likely_same(done=pending.append, failed=pending.append)
    qtbot.waitUntil(lambda: bool(pending), timeout=5000)
    queue = LikelySameDialog(controller, pending[0], window)  # type: ignore[arg-type]
    qtbot.addWidget(queue)
    queue.apart_button.click()
    assert queue.current is None
    again: list[object] = []
    controller.service.likely_same(done=again.append, failed=again.append)
    qtbot.waitUntil(lambda: bool(again), timeout=5000)
    assert again == [[]]
    gallery = controller.service.gallery
    assert gallery is not None and gallery.has_whale("w_delta") and gallery.has_whale("w_alpha")
