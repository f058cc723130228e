"""What the app says: chosen by the exception's type and data, counted in good English."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication

from whalegui.core import errors
from whalegui.core.gallery import ImportReport
from whalegui.gui import messages
from whalegui.gui.card_delegate import wrap_text
from whalegui.gui.review_model import QueueEntry, Status
from whalegui.wording import plural


def test_plurals_and_counts() -> None:
    assert plural(1, "photo") == "1 photo"
    assert plural(0, "photo") == "0 photos"
    assert plural(2, "whale") == "2 whales"
    assert messages.gallery_summary(1, 1) == "1 whale, 1 photo"
    assert messages.gallery_summary(12, 28) == "12 whales, 28 photos"
    assert Status.REVIEW.count_text(1) == "1 needs review"
    assert Status.REVIEW.count_text(33) == "33 need review"
    assert Status.NEW.count_text(2) == "2 new whales"
    assert Status.ERROR.count_text(1) == "1 error"
    assert Status.MATCHED.count_text(3) == "3 matched"


def test_unknown_dates_are_left_out() -> None:
    assert messages.day(None) == "" and messages.moment(None) == ""
    assert messages.day(datetime(2024, 8, 2, 14, 5)) == "2024-08-02"
    assert messages.moment(datetime(2024, 8, 2, 14, 5)) == "2024-08-02 14:05"


def test_load_errors_are_chosen_by_type_and_the_file_not_by_text(tmp_path: Path) -> None:
    missing = messages.load_error(errors.ModelError(tmp_path / "none.onnx", "whatever the words"))
    assert missing.title == "No identification model" and "--model" in missing.text
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"x")
    # the reason's words do not matter ("not found" in them used to pick the wrong message)
    broken = messages.load_error(errors.ModelError(model, "the card was not found"))
    assert broken.title == "The model cannot be used" and "the card was not found" in broken.text
    assert messages.load_error(errors.GalleryLockedError("locked by pid 7")).title == "The gallery is in use"
    assert messages.load_error(errors.ModelMismatchError("a" * 40, "b" * 40)).title.endswith("re-embedding")
    assert messages.load_error(RuntimeError("boom")).title == "Start-up failed"


def test_gallery_change_errors_name_what_is_wrong() -> None:
    text = messages.gallery_change_failed("Renaming w_x", errors.WhaleNotFoundError("w_x")).text
    assert "no whale w_x" in text and "not changed" in text
    taken = messages.gallery_change_failed("Renaming w_x", errors.WhaleExistsError("w_y")).text
    assert "w_y is already in the gallery" in taken
    disk = messages.gallery_change_failed("Exporting", PermissionError(13, "Permission denied", "/ro/x.csv"))
    assert "Permission denied (/ro/x.csv)" in disk.text
    write = messages.write_failed("New whale", "q.jpg", errors.WhaleExistsError("w_q"))
    assert "w_q" in write.text and "q.jpg" in write.text


def test_import_summary() -> None:
    report = ImportReport(imported=1, whales_created=1, skipped_duplicates=2, total=4,
                          errors=[("bad.jpg", "the file is empty (0 bytes)")])
    summary = messages.import_summary(report)
    assert summary.line == "1 photo imported (1 new whale)"
    assert summary.needs_dialog and "1 photo could not be imported:" in summary.text
    assert "bad.jpg: the file is empty" in summary.text
    clean = messages.import_summary(ImportReport(imported=28, whales_created=12, total=28))
    assert clean.line == "28 photos imported (12 new whales)" and not clean.needs_dialog
    cancelled = messages.import_summary(ImportReport(imported=24, whales_created=9, total=28, cancelled=True))
    assert cancelled.needs_dialog and cancelled.line.startswith("Import cancelled")
    assert "importing again resumes" in cancelled.text


def test_a_long_queue_status_wraps_instead_of_being_cut(qapp: QApplication) -> None:
    entry = QueueEntry(Path("q.jpg"), Status.MATCHED, reason="already in the gallery", whale_id="w_2e609ba")
    text = entry.status_text()
    assert text == "matched: w_2e609ba, already in the gallery"
    fm = QFontMetrics(QFont())
    width = fm.horizontalAdvance("matched: w_2e609ba,") + 2
    lines = wrap_text(text, fm, width, 3)
    assert " ".join(lines) == text  # every word is there, none is elided
    assert len(lines) > 1 and all(fm.horizontalAdvance(line) <= width for line in lines)
    cut = wrap_text(text, fm, width, 1)  # with one line only it is elided (the tooltip has it all)
    assert len(cut) == 1 and cut[0].endswith("…")
