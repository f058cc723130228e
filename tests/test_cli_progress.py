"""Progress of long commands (lines off a terminal, a bar with an ETA on one) and Ctrl-C during an import."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path

import pytest

from tests.flukes import pattern_photo
from tests.models import make_tiny_model
from whalegui import cli
from whalegui.cli import ProgressBar, main
from whalegui.core.gallery import Gallery


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model"))


def _whale_folders(root: Path, whales: int, shots: int) -> Path:
    for w in range(whales):
        for j in range(shots):
            pattern_photo(root / f"whale{w:02d}" / f"{j}.jpg", w, j)
    return root


def test_off_a_terminal_a_line_at_the_start_every_interval_and_at_the_end() -> None:
    stream, clock = io.StringIO(), _Clock()
    bar = ProgressBar("import", stream, interval=5.0, clock=clock)
    for now, done in [(0, 0), (1, 24), (4, 48), (6, 72), (8, 96), (10.5, 120), (12, 144), (16, 500)]:
        clock.now = now
        bar(done, 500)
    bar.finish()
    assert stream.getvalue().splitlines() == [
        "import: 0 of 500 photos",
        "import: 72 of 500 photos, 12.0 photos/s, about 36 s left",  # 6 s after the first line
        "import: 144 of 500 photos, 12.0 photos/s, about 30 s left",  # 6 s after the second
        "import: 500 of 500 photos, 31.2 photos/s",  # the end, whenever it comes
    ]


def test_on_a_terminal_a_bar_redrawn_in_place_with_the_time_left() -> None:
    stream, clock = _Terminal(), _Clock()
    bar = ProgressBar("import", stream, width=10, clock=clock)
    bar(0, 600)
    clock.now = 60
    bar(120, 600)
    bar.finish()
    text = stream.getvalue()
    assert text.startswith("\rimport [..........] 0/600\rimport [##........] 120/600, 2.0 photos/s, "
                           "about 4 min left")
    assert text.endswith("\n") and text.count("\n") == 1


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "1 s"), (40, "40 s"), (185, "3 min"),
                                               (4800, "1 h 20 min")])
def test_durations_read_like_a_person_would_say_them(seconds: float, text: str) -> None:
    assert cli._duration(seconds) == text


def test_a_real_import_off_a_terminal_prints_progress_lines(tmp_path: Path, model: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    images = _whale_folders(tmp_path / "catalogue", 3, 2)
    code = main(["import", "--gallery", str(tmp_path / "g"), "--model", str(model), "--images", str(images)])
    out, err = capsys.readouterr()
    assert code == 0 and "imported 6 photos (3 new whales)" in out
    lines = err.splitlines()
    assert lines[0] == "import: 0 of 6 photos"
    assert lines[-1].startswith("import: 6 of 6 photos")
    assert "\r" not in err


def _ctrl_c_after_first_batch(monkeypatch: pytest.MonkeyPatch, presses: int) -> list[int]:
    """Press Ctrl-C (a real SIGINT to this process) ``presses`` times once the first batch is stored;
    returns the list that will hold how many photos were done by then."""
    original = ProgressBar.__call__
    pressed_at: list[int] = []

    def progress(self: ProgressBar, done: int, total: int) -> None:
        original(self, done, total)
        if done > 0 and not pressed_at:
            pressed_at.append(done)
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(ProgressBar, "__call__", progress)
    return pressed_at


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_keeps_what_was_imported_and_says_how_to_resume(
        presses: int, tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    images = _whale_folders(tmp_path / "catalogue", 10, 6)  # 60 photos: more than one batch
    argv = ["import", "--gallery", str(tmp_path / "g"), "--model", str(model), "--images", str(images)]
    handler = signal.getsignal(signal.SIGINT)
    with monkeypatch.context() as m:
        pressed_at = _ctrl_c_after_first_batch(m, presses)
        code = main(argv)
    kept = pressed_at[0]
    assert 0 < kept < 60
    out, err = capsys.readouterr()
    assert signal.getsignal(signal.SIGINT) is handler  # Ctrl-C behaves as before once the import is over
    assert code == 130 and out == ""
    assert "stopping after the current batch" in err
    assert f"interrupted: {kept} photos imported and kept; run the same command again to resume" in err
    assert "Traceback" not in err
    with Gallery.open(tmp_path / "g", readonly=True) as g:
        assert g.photo_count() == kept
    code = main(argv)  # the same command again resumes
    out, _ = capsys.readouterr()
    assert code == 0
    assert f"imported {60 - kept} photos" in out and f"skipped {kept} already catalogued" in out
    with Gallery.open(tmp_path / "g", readonly=True) as g:
        assert g.photo_count() == 60 and g.whale_count() == 10
