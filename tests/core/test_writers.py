"""One writer at a time, across processes: a second writer is refused with a clear message and changes
nothing; readers in other processes work while a writer enrolls; a killed writer does not leave the gallery
locked. Real processes (subprocess), real SQLite (WAL), hnswlib and ONNX Runtime, real JPEGs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.flukes import pattern_photo
from whalegui.cli import main
from whalegui.core.embedder import Embedder
from whalegui.core.errors import GalleryLockedError
from whalegui.core.gallery import Gallery

REPO = Path(__file__).resolve().parents[2]

#: A writer process: opens the gallery, says "ready", enrolls the whales it is given (two photos each),
#: saying "enrolled ID" after each, then waits for a line on stdin before closing.
WRITER = r"""
import json, sys
from whalegui.core.embedder import Embedder
from whalegui.core.errors import GalleryLockedError
from whalegui.core.gallery import Gallery
folder, model, plan = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
try:
    g = Gallery.open(folder, Embedder(model, device="cpu"))
except GalleryLockedError as exc:
    print("locked", exc, flush=True)
    sys.exit(3)
print("ready", flush=True)
for whale, photos in plan:
    g.enroll(photos, whale_id=whale)
    print("enrolled", whale, flush=True)
sys.stdin.readline()
g.close()
print("closed", flush=True)
"""

#: A reader process: opens the gallery read-only and, until the writer is done, checks what it sees.
READER = r"""
import sys
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery
folder, model, query, done_flag, ready_flag = sys.argv[1:6]
from pathlib import Path
seen, reads, counts = 0, 0, set()
with Gallery.open(folder, Embedder(model, device="cpu"), readonly=True) as g:
    Path(ready_flag).touch()
    while True:
        reads += 1
        finished = Path(done_flag).exists()
        whales = g.whales()
        # Every enrollment is one transaction: a reader never sees a whale with only some of its photos.
        assert all(w.photo_count == 2 for w in whales), [(w.whale_id, w.photo_count) for w in whales]
        assert len(whales) >= seen
        seen = len(whales)
        counts.add(seen)
        if whales:
            ident = g.identify(query)
            assert ident.candidates and ident.candidates[0].whale_id in {w.whale_id for w in g.whales()}
        if finished:
            break
print("reader saw", seen, "whales in", reads, "reads,", len(counts), "different counts", flush=True)
"""


def plan(folder: Path, whales: range) -> list[tuple[str, list[str]]]:
    return [(f"w{w}", [str(pattern_photo(folder / f"w{w}_{j}.jpg", w, j)) for j in range(2)]) for w in whales]


def start_writer(gallery: Path, model: Path, whales: list[tuple[str, list[str]]]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(gallery), str(model), json.dumps(whales)],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def read_line(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    assert time.monotonic() < deadline and line, proc.stderr.read() if proc.stderr else ""
    return line.strip()


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate("close\n", timeout=60)
    assert proc.returncode == 0, err
    return out


def test_a_second_writer_process_is_refused_and_changes_nothing(tmp_path: Path, model: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    gallery = tmp_path / "g"
    first = start_writer(gallery, model, plan(tmp_path / "a", range(2)))
    try:
        assert read_line(first) == "ready"
        assert read_line(first) == "enrolled w0" and read_line(first) == "enrolled w1"
        # Another process: refused at once, with the holder's process id.
        second = start_writer(gallery, model, plan(tmp_path / "b", range(5, 7)))
        out, err = second.communicate(timeout=60)
        assert second.returncode == 3, err
        assert out.startswith("locked ") and "open for writing in another window or process" in out
        assert f"(process {first.pid})" in out
        # This process too (as a window would), and the CLI: one clear line, exit code 1, no traceback.
        with pytest.raises(GalleryLockedError, match=f"process {first.pid}"):
            Gallery.open(gallery, Embedder(model, device="cpu"))
        extra = pattern_photo(tmp_path / "c" / "x.jpg", 9)
        assert main(["enroll", "--gallery", str(gallery), "--model", str(model), "--new", str(extra)]) == 1
        _, cli_err = capsys.readouterr()
        assert "open for writing in another window or process" in cli_err and "Traceback" not in cli_err
        assert len(cli_err.strip().splitlines()) == 1
        pattern_photo(tmp_path / "d" / "w9" / "x.jpg", 9)  # one sub-folder per whale
        assert main(["import", "--gallery", str(gallery), "--model", str(model), "--images",
                     str(tmp_path / "d")]) == 1
        assert "open for writing in another window or process" in capsys.readouterr().err
        # Readers are fine meanwhile.
        assert main(["info", "--gallery", str(gallery), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["whales"] == 2 and info["photos"] == 4
    finally:
        out = finish(first)
    assert "closed" in out
    with Gallery.open(gallery, Embedder(model, device="cpu")) as g:  # released on close
        assert sorted(w.whale_id for w in g.whales()) == ["w0", "w1"] and g.photo_count() == 4
        assert g.check().healthy


def test_two_writers_racing_one_wins_the_other_is_refused(tmp_path: Path, model: Path) -> None:
    gallery = tmp_path / "g"
    with Gallery.open(gallery, Embedder(model, device="cpu")):
        pass  # created: the race is over an existing gallery
    procs = [start_writer(gallery, model, plan(tmp_path / f"p{k}", range(10 * k, 10 * k + 3)))
             for k in range(1, 4)]
    results = []
    for p in procs:
        out, _ = p.communicate("close\n", timeout=120)
        results.append((p.returncode, out))
    winners = [out for code, out in results if code == 0]
    losers = [out for code, out in results if code == 3]
    assert len(winners) + len(losers) == 3, results
    assert winners, "no writer got the gallery"
    assert all("open for writing in another window or process" in out for out in losers)
    with Gallery.open(gallery, Embedder(model, device="cpu")) as g:
        # Each winner enrolled all its whales (winners can only follow one another); no loser wrote.
        expected = sum(out.count("enrolled") for out in winners)
        assert g.whale_count() == expected and g.photo_count() == 2 * expected
        assert all(w.photo_count == 2 for w in g.whales())
        assert g.check().healthy


def test_readers_in_other_processes_while_a_writer_enrolls(tmp_path: Path, model: Path) -> None:
    gallery = tmp_path / "g"
    whales = plan(tmp_path / "w", range(12))
    with Gallery.open(gallery, Embedder(model, device="cpu")) as g:
        g.enroll(whales[0][1], whale_id=whales[0][0])
    done_flag = tmp_path / "writer-done"
    query = str(pattern_photo(tmp_path / "q.jpg", 3, 40))
    ready = [tmp_path / f"reader{k}-ready" for k in range(2)]
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(gallery), str(model), query,
                                 str(done_flag), str(flag)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for flag in ready]
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.02)
    writer = start_writer(gallery, model, whales[1:])
    try:
        assert read_line(writer) == "ready"
        for whale, _ in whales[1:]:
            assert read_line(writer) == f"enrolled {whale}"
    finally:
        done_flag.touch()
        finish(writer)
    for r in readers:
        out, err = r.communicate(timeout=120)
        assert r.returncode == 0, err
        assert out.startswith("reader saw 12 whales"), out
    with Gallery.open(gallery, Embedder(model, device="cpu"), readonly=True) as g:
        assert g.whale_count() == 12 and g.photo_count() == 24 and g.check().healthy
        assert g.identify(query).candidates[0].whale_id == "w3"


def test_a_killed_writer_does_not_leave_the_gallery_locked(tmp_path: Path, model: Path) -> None:
    gallery = tmp_path / "g"
    writer = start_writer(gallery, model, plan(tmp_path / "a", range(1)))
    assert read_line(writer) == "ready" and read_line(writer) == "enrolled w0"
    writer.send_signal(signal.SIGKILL)
    writer.communicate(timeout=60)
    with Gallery.open(gallery, Embedder(model, device="cpu")) as g:  # the lock died with its process
        assert g.photo_count() == 2 and g.check().healthy
