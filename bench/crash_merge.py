"""Crash trials of merging galleries: ``python bench/crash_trials.py --merge --trials 20``.

Each trial builds (in this process, not killed) a fresh incoming gallery OTHER that overlaps the growing
gallery MINE the way two research groups' galleries do: some of MINE's photos again, under the same whale
(``same``) and under another id (``joined``); a whale whose id MINE already uses for another whale (an id
conflict); new whales. Then a child process merges OTHER into MINE and is killed with SIGKILL (a random
time into the merge, or by itself at its N-th file write, fsync, rename or index save, as
:mod:`bench.crash_trials` does). After each batch the merge reports, the child journals every photo of
OTHER that MINE then holds, with its whale.

Then:

1. MINE is verified as after any crash (:func:`bench.crash_trials.verify`: it opens, ``check`` runs, every
   photo journalled in any trial is there once under its whale, no half-made whale, the index agrees);
2. the merge is run again here, to the end, and ``whalegui check`` must exit 0;
3. **data lost** counts OTHER's photos missing from MINE after the rerun (plus journalled photos lost);
   **duplicates** photos stored twice; **split** incoming whales whose photos ended under more than one
   whale (a rerun that placed them differently); **other changed** files of OTHER that changed (it is only
   read). All must be 0.
"""

from __future__ import annotations

import collections
import contextlib
import io
import random
import shutil
import signal
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.crash_trials import (
    OP_TIMEOUT,
    READY_TIMEOUT,
    Verdict,
    _lines,
    _sha,
    _wait_for,
    end_child,
    start_child,
    verify,
)

#: Files a read-only reader of a WAL database may leave in OTHER (empty, re-creatable).
READER_FILES = {"gallery.sqlite-shm", "gallery.sqlite-wal"}
PHOTO_SIZE = (256, 96)


def run_merge_op(gallery: Any, op: dict[str, Any], note: Any) -> None:
    """In the child: merge ``op["other"]`` into ``gallery``, journalling OTHER's photos MINE holds after
    each batch (and at the end)."""
    from whalegui.core.gallery import Gallery
    from whalegui.core.gallery.merge import merge_gallery

    with Gallery.open(op["other"], None, readonly=True) as other:
        shas = [p.sha256 for p in other.photos()]
    journalled: set[str] = set()

    def progress(done: int, total: int) -> None:
        for sha in shas:
            if sha not in journalled:
                rec = gallery.find_photo_by_sha(sha)
                if rec is not None:
                    note(f"done {sha} {rec.whale_id}")
                    journalled.add(sha)

    report = merge_gallery(gallery, op["other"], progress=progress)
    progress(0, 0)
    note(f"merge {report.photos_new} {report.photos_there}")


def make_other(root: Path, trial: int, rng: random.Random, mine: Path, model: Path) -> Path:
    """A fresh incoming gallery for trial ``trial`` that overlaps MINE (see the module's docstring)."""
    from tests.flukes import pattern_photo
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import Gallery

    shots = root / f"merge{trial:03d}"
    counter = 0

    def photo(pattern: int) -> Path:
        nonlocal counter
        counter += 1
        return pattern_photo(shots / f"p{counter:03d}.jpg", pattern, trial * 1000 + counter, size=PHOTO_SIZE)

    embedder = Embedder(model, device="cpu")
    with Gallery.open(mine, None, readonly=True) as g:
        records = g.photos()
        whales = sorted({r.whale_id for r in records})
    other = root / f"other{trial:03d}"
    with Gallery.open(other, embedder) as g:
        for j in range(rng.randint(2, 4)):  # new whales
            g.enroll([photo(rng.randrange(10**6)) for _ in range(rng.randint(4, 9))],
                     whale_id=f"m{trial}_{j}", name=f"Merged {trial}.{j}")
        if whales:
            # An id conflict: MINE's id for another whale, with other photos.
            g.enroll([photo(rng.randrange(10**6)) for _ in range(rng.randint(3, 6))],
                     whale_id=rng.choice(whales))
            # The same whale (some of its photos again, and new ones), and one joined by a shared photo.
            same, joined = rng.sample(records, 2) if len(records) > 1 else (records[0], records[0])
            if not g.has_whale(same.whale_id):
                shared = [r.path for r in records if r.whale_id == same.whale_id][:3]
                g.enroll([*shared, photo(rng.randrange(10**6))], whale_id=same.whale_id)
            if g.find_photo_by_sha(joined.sha256) is None:
                g.enroll([joined.path, photo(rng.randrange(10**6))], whale_id=f"j{trial}")
    return other


@dataclass
class MergeTrial:
    trial: int
    mode: str
    kill: str
    killed: bool
    journalled: int
    other_photos: int
    after_kill: Verdict
    lost_after_rerun: list[str] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    other_changed: list[str] = field(default_factory=list)
    check_exit: int = 0
    rerun_new: int = 0
    conflicts: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (self.after_kill.ok and not self.lost_after_rerun and not self.split
                and not self.other_changed and self.check_exit == 0)


def run_merge_trial(trial: int, mine: Path, model: Path, work: Path, expected: dict[str, str],
                    rng: random.Random, mode: str | None = None,
                    kill: dict[str, Any] | None = None) -> MergeTrial:
    """One merge trial (see the module's docstring); ``expected`` grows with every photo MINE holds."""
    from whalegui.cli import main as cli_main
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import Gallery
    from whalegui.core.gallery.merge import merge_gallery

    started = time.perf_counter()
    other = make_other(work, trial, rng, mine, model)
    other_before = _hashes(other)
    mode = mode or rng.choice(["timer", "step"])
    spec: dict[str, Any] = {"gallery": str(mine), "model": str(model),
                            "journal": str(work / f"mj{trial:03d}.txt"),
                            "plan": [{"op": "merge", "other": str(other)}]}
    journal = Path(spec["journal"])
    proc, kill_text = start_child(spec, work / f"mspec{trial:03d}.json", rng, mode, kill)
    try:
        _wait_for(journal, lambda lines: "ready" in lines or proc.poll() is not None, READY_TIMEOUT)
        if mode == "timer":
            # A merge of 20-50 photos with the tiny model takes about a second: kill somewhere in it.
            time.sleep(rng.uniform(0.0, 1.5))
            kill_text = "a random time into the merge"
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
    finally:
        killed, _ = end_child(proc, OP_TIMEOUT * 2, f"merge trial {trial}")
    journalled = 0
    for line in _lines(journal):
        if line.startswith("done "):
            _, sha, whale = line.split()
            expected[sha] = whale
            journalled += 1
    after_kill = verify(mine, model, expected)
    # The rerun, to the end; then the command-line check.
    embedder = Embedder(model, device="cpu")
    with Gallery.open(mine, embedder) as g:
        report = merge_gallery(g, other)
        holders = {r.sha256: r.whale_id for r in g.photos()}
    with Gallery.open(other, None, readonly=True) as o:
        theirs = o.photos()
    result = MergeTrial(trial, mode, kill_text, killed, journalled, len(theirs), after_kill,
                        rerun_new=report.photos_new, conflicts=len(report.conflicts))
    result.lost_after_rerun = [f"{p.sha256[:12]} of their {p.whale_id}" for p in theirs
                               if p.sha256 not in holders]
    placed: dict[str, set[str]] = collections.defaultdict(set)
    elsewhere = {sha for sha, _, _ in report.elsewhere}
    for p in theirs:
        if p.sha256 in holders and p.sha256 not in elsewhere:
            placed[p.whale_id].add(holders[p.sha256])
    result.split = [f"their {w} is under {sorted(h)}" for w, h in placed.items() if len(h) > 1]
    for p in theirs:
        expected.setdefault(p.sha256, holders.get(p.sha256, "?"))
    after = _hashes(other)
    result.other_changed = [k for k in set(other_before) | set(after)
                            if k not in READER_FILES and other_before.get(k) != after.get(k)]
    with contextlib.redirect_stdout(io.StringIO()):
        result.check_exit = cli_main(["check", "--gallery", str(mine), "--model", str(model), "--cpu"])
    result.seconds = time.perf_counter() - started
    return result


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def seed_mine(mine: Path, model: Path, work: Path, expected: dict[str, str]) -> None:
    """Give MINE a few whales before the first merge (in this process: nothing is killed)."""
    from tests.flukes import pattern_photo
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import Gallery

    with Gallery.open(mine, Embedder(model, device="cpu")) as g:
        for w in range(4):
            paths = [pattern_photo(work / "seed" / f"w{w}_{j}.jpg", 500 + w, j, size=PHOTO_SIZE)
                     for j in range(3)]
            g.enroll(paths, whale_id=f"seed{w}")
        expected.update((p.sha256, p.whale_id) for p in g.photos())


def run_merge_trials(trials: int, seed: int = 0, keep: Path | None = None,
                     log: Any = print) -> dict[str, Any]:
    """Run ``trials`` merge crash trials on one growing gallery; returns the summary."""
    from tests.models import make_tiny_model

    rng = random.Random(seed)
    with contextlib.ExitStack() as stack:
        root = keep or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="whalegui-crash-merge-")))
        if keep is not None and root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        model = make_tiny_model(root / "model")
        mine, work = root / "mine", root / "work"
        work.mkdir(exist_ok=True)
        expected: dict[str, str] = {}
        seed_mine(mine, model, work, expected)
        results: list[MergeTrial] = []
        for trial in range(trials):
            r = run_merge_trial(trial, mine, model, work, expected, rng)
            results.append(r)
            v = r.after_kill
            found = "; ".join(v.problems_before) or "healthy"
            log(f"merge trial {trial + 1:3d}/{trials} {r.mode:5s} {'killed' if r.killed else 'finished'} "
                f"({r.kill}): +{r.journalled} journalled of {r.other_photos}; check right after: "
                f"{found[:120]}; "
                f"rerun added {r.rerun_new}, {r.conflicts} conflicts; {v.photos} photos; lost "
                f"{len(v.lost) + len(r.lost_after_rerun)}; check exit {r.check_exit}; "
                f"{'OK' if r.ok else 'FAILED'} ({r.seconds:.1f} s)")
            for what in (v.lost + v.duplicates + v.index_problems + r.lost_after_rerun + r.split
                         + r.other_changed):
                log(f"    !! {what}")
        summary = {
            "trials": len(results),
            "killed": sum(r.killed for r in results),
            "killed_by_timer": sum(r.killed and r.mode == "timer" for r in results),
            "killed_at_a_step": sum(r.killed and r.mode == "step" for r in results),
            "other_photos": sum(r.other_photos for r in results),
            "photos_journalled": sum(r.journalled for r in results),
            "data_lost": sum(len(r.after_kill.lost) + len(r.lost_after_rerun) for r in results),
            "duplicates": sum(len(r.after_kill.duplicates) for r in results),
            "split_whales": sum(len(r.split) for r in results),
            "other_changed": sum(len(r.other_changed) for r in results),
            "check_failed_after_rerun": sum(r.check_exit != 0 for r in results),
            "index_disagreements": sum(len(r.after_kill.index_problems) for r in results),
            "conflicts": sum(r.conflicts for r in results),
            "final_photos": results[-1].after_kill.photos if results else 0,
            "ok": all(r.ok for r in results),
            "results": [dict(asdict(r), after_kill=asdict(r.after_kill)) for r in results],
        }
    return summary


def print_summary(summary: dict[str, Any], seconds: float) -> None:
    print()
    print(f"merge crash trials run: {summary['trials']} (killed {summary['killed']}: "
          f"{summary['killed_by_timer']} by a timer, {summary['killed_at_a_step']} by itself at a chosen "
          f"write step); photos in the incoming galleries: {summary['other_photos']}, journalled before "
          f"the kill: {summary['photos_journalled']}; id conflicts resolved: {summary['conflicts']}")
    print(f"data lost: {summary['data_lost']}; duplicates: {summary['duplicates']}; split whales: "
          f"{summary['split_whales']}; incoming gallery changed: {summary['other_changed']}; check failed "
          f"after the rerun: {summary['check_failed_after_rerun']}; index disagreements: "
          f"{summary['index_disagreements']}")
    print(f"{seconds:.0f} s; {'OK' if summary['ok'] else 'FAILED'}")
