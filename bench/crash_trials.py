"""Crash trials: kill a process with SIGKILL while it enrolls and imports photos; check nothing is lost.
(``--merge``: while it merges galleries; see :mod:`bench.crash_merge`.)

Each trial starts a child process that opens one gallery (the same gallery across trials, so it grows and
earlier work must survive later crashes) and runs a plan of operations on freshly generated JPEGs: enroll a
new whale (id given or generated), add photos to a catalogued whale, import a Kaggle CSV (a few bad rows
included, committed in batches). After each call returns (and after each import batch the progress callback
reports) the child appends ``done <sha256> <whale id>`` to a journal file with one ``write``: the caller
was told the photo is catalogued. The child is then killed with SIGKILL, either

* ``timer``: by this process, a random time after the child journalled a random number of operations, or
* ``step``: by itself, just before or just after its N-th call to ``os.replace``, ``os.fsync``, the
  gallery's atomic file write or the index save (the steps of storing a photo, a thumbnail or the index:
  the windows between the files and the SQLite commit, and between the commit and the index save).

Then the gallery is verified:

1. it opens read-only (as ``whalegui check`` does) and its check runs; it opens for writing;
2. every photo ever journalled (this trial and all earlier ones) is present exactly once, with its whale,
   and its stored file matches its hash;
3. no whale without photos (a half-made whale: every whale here is created with its photos);
4. the index agrees with SQLite: the same photo ids, and searching each journalled photo's stored
   embedding returns that photo at distance ~0;
5. ``check(repair=True)`` then ``check()`` is healthy, and repairing lost nothing.

Usage::

    python bench/crash_trials.py --trials 30 [--seed 0] [--keep DIR] [--json FILE] [--merge]

Prints one line per trial and a summary (trials run, photos journalled, data lost: must be 0); exit code 0
only when nothing was lost and every gallery was healthy or repaired.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import hashlib
import importlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: Seconds a child may take to open the gallery (importing ONNX Runtime on a busy machine included).
READY_TIMEOUT = 120.0
#: Seconds a child may take for one operation before the trial is declared hung.
OP_TIMEOUT = 60.0
#: Where a child may kill itself (``module:attribute``) and the largest call number drawn: the steps of
#: storing photos (file write: temp + fsync + rename; SQLite commit) and saving the index.
SELF_KILL_TARGETS = [
    ("os:replace", 40),
    ("os:fsync", 40),
    ("whalegui.core.gallery.files:write_atomic", 30),
    ("whalegui.core.index:PhotoIndex.save", 6),
]


# ---------------------------------------------------------------------------------------------- the child

def child_main(spec_path: str) -> int:
    """Run one trial's plan (a JSON spec) in this process, journalling every completed photo."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    from whalegui.core.catalogue import read_catalogue
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import Gallery

    journal = os.open(spec["journal"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def note(line: str) -> None:
        os.write(journal, (line + "\n").encode())  # one write per line: a kill cannot tear it

    embedder = Embedder(spec["model"], device="cpu")
    gallery = Gallery.open(spec["gallery"], embedder)
    kill = spec.get("kill")
    if kill:
        _arm_self_kill(kill["target"], int(kill["n"]), kill["when"])
    note("ready")
    for op in spec["plan"]:
        if op["op"] == "enroll":
            shas = [_sha(p) for p in op["photos"]]
            whale_id = gallery.enroll(op["photos"], whale_id=op.get("whale"), name=op.get("name", ""))
            for sha in shas:
                note(f"done {sha} {whale_id}")
        elif op["op"] == "add":
            shas = [_sha(p) for p in op["photos"]]
            gallery.add_photos(op["whale"], op["photos"])
            for sha in shas:
                note(f"done {sha} {op['whale']}")
        elif op["op"] == "import":
            # The import commits one batch at a time and then calls progress(done, total): entries[:done]
            # (in catalogue order, without the bad rows) are catalogued by then.
            entries = read_catalogue(op["csv"], op["images"]).entries
            journalled = 0

            def progress(done: int, total: int, entries: list[Any] = entries) -> None:
                nonlocal journalled
                for entry in entries[journalled:done]:
                    note(f"done {_sha(entry.path)} {entry.whale_id}")
                journalled = done

            report = gallery.import_catalogue(op["csv"], op["images"], progress=progress)
            note(f"import {report.imported} {len(report.errors)}")
        elif op["op"] == "merge":  # the merge trials' (bench/crash_merge.py)
            from bench.crash_merge import run_merge_op

            run_merge_op(gallery, op, note)
        note("op")
    gallery.close()
    note("finished")
    return 0


def _arm_self_kill(target: str, n: int, when: str) -> None:
    """Make this process SIGKILL itself just before or after its ``n``-th call to ``target``
    (``module:attribute``, e.g. ``os:replace`` or ``whalegui.core.index:PhotoIndex.save``)."""
    module_name, attr = target.split(":")
    owner: Any = importlib.import_module(module_name)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    count = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        if count == n and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if count == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)


def _sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------- planning

@dataclass
class Plan:
    ops: list[dict[str, Any]]
    new_whales: list[str]


def make_plan(work: Path, trial: int, rng: random.Random, known_whales: list[str], *,
              n_ops: int = 8, photo_size: tuple[int, int] = (256, 96)) -> Plan:
    """A list of operations on new photos (generated JPEGs, unique to this trial)."""
    from tests.flukes import pattern_photo

    folder = work / f"trial{trial:03d}"
    whales = list(known_whales)
    ops: list[dict[str, Any]] = []
    new_whales: list[str] = []
    counter = 0

    def photo(pattern: int, sub: str = "") -> str:
        nonlocal counter
        counter += 1
        path = folder / sub / f"p{counter:03d}.jpg"
        pattern_photo(path, pattern, trial * 1000 + counter, size=photo_size)
        return str(path)

    for k in range(n_ops):
        kind = rng.choices(["enroll", "add", "import"], weights=[5, 3, 2])[0]
        if k == 0 or (kind == "add" and not whales):
            kind = "enroll"
        pattern = rng.randrange(1_000_000)
        if kind == "enroll":
            given = rng.random() < 0.5
            whale = f"t{trial}_{k}" if given else None
            ops.append({"op": "enroll", "whale": whale, "name": f"Whale {trial}.{k}",
                        "photos": [photo(pattern) for _ in range(rng.randint(1, 3))]})
            if whale:
                whales.append(whale)
                new_whales.append(whale)
        elif kind == "add":
            ops.append({"op": "add", "whale": rng.choice(whales),
                        "photos": [photo(pattern) for _ in range(rng.randint(1, 2))]})
        else:
            sub = f"import{k}"
            rows: list[tuple[str, str]] = []
            targets = [rng.choice(whales)] if whales else []
            targets += [f"i{trial}_{k}_{j}" for j in range(rng.randint(2, 4))]
            for j in range(rng.randint(20, 40)):  # more than one batch (IMPORT_BATCH = 24) at times
                path = Path(photo(pattern + j % len(targets), sub))
                rows.append((path.name, targets[j % len(targets)]))
            rows.insert(rng.randrange(len(rows)), ("missing.jpg", targets[0]))  # bad rows: listed, skipped
            rows.insert(rng.randrange(len(rows)), ("../escape.jpg", targets[0]))
            rows.insert(rng.randrange(len(rows)), (rows[0][0], targets[0]))  # a duplicate row
            csv_path = folder / f"{sub}.csv"
            with open(csv_path, "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(["Image", "Id"])
                writer.writerows(rows)
            ops.append({"op": "import", "csv": str(csv_path), "images": str(folder / sub)})
            for t in targets:
                if t not in whales:
                    whales.append(t)
                    new_whales.append(t)
    return Plan(ops, new_whales)


# ---------------------------------------------------------------------------------------------- verifying

@dataclass
class Verdict:
    """What one verification found. ``lost`` must stay empty."""

    opened: bool = True
    lost: list[str] = field(default_factory=list)  # journalled photos missing or under another whale
    duplicates: list[str] = field(default_factory=list)
    half_made: list[str] = field(default_factory=list)
    index_problems: list[str] = field(default_factory=list)
    problems_before: list[str] = field(default_factory=list)  # the read-only check, right after the crash
    notes_before: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    problems_after: list[str] = field(default_factory=list)  # after check(repair=True): must be empty
    photos: int = 0
    whales: int = 0

    @property
    def ok(self) -> bool:
        return (self.opened and not self.lost and not self.duplicates and not self.half_made
                and not self.index_problems and not self.problems_after)


def verify(folder: Path, model: Path, expected: dict[str, str]) -> Verdict:
    """Check the gallery in ``folder`` against the journalled photos ``expected`` (sha256 -> whale id)."""
    import numpy as np

    from whalegui.core.embedder import Embedder
    from whalegui.core.errors import WhaleguiError
    from whalegui.core.gallery import Gallery

    verdict = Verdict()
    embedder = Embedder(model, device="cpu")
    try:
        with Gallery.open(folder, embedder, readonly=True) as g:
            report = g.check()
            verdict.problems_before = list(report.problems)
            verdict.notes_before = list(report.notes)
        g = Gallery.open(folder, embedder)
    except (WhaleguiError, OSError) as exc:
        verdict.opened = False
        verdict.lost.append(f"the gallery does not open: {exc}")
        return verdict
    with g:
        records = g.photos()
        by_sha = {r.sha256: r for r in records}
        counts = collections.Counter(r.sha256 for r in records)
        verdict.duplicates = [sha for sha, n in counts.items() if n > 1]
        for sha, whale in expected.items():
            rec = by_sha.get(sha)
            if rec is None:
                verdict.lost.append(f"{sha[:12]} (whale {whale}): not in the gallery")
            elif rec.whale_id != whale:
                verdict.lost.append(f"{sha[:12]}: under whale {rec.whale_id}, journalled {whale}")
            elif not rec.path.is_file() or _sha(rec.path) != sha:
                verdict.lost.append(f"{sha[:12]} (whale {whale}): stored file missing or damaged")
        verdict.half_made = [w.whale_id for w in g.whales() if w.photo_count == 0]

        # The index the gallery searches agrees with SQLite...
        ids = {r.photo_id for r in records}
        index = g.photo_index()
        if index.labels() != ids:
            verdict.index_problems.append(f"index holds {len(index.labels())} photos, database {len(ids)}")
        for sha in expected:
            rec = by_sha.get(sha)
            if rec is None:
                continue
            ident = g.identify_embedding(g.embedding(rec.photo_id), top=1)
            near = [m.photo.photo_id for m in ident.photo_matches if m.distance < 1e-4]
            if rec.photo_id not in near:
                verdict.index_problems.append(f"searching photo {rec.photo_id}'s embedding misses it")
        # ... and so does the one saved on disk (the gallery saves it when it rebuilds it).
        try:
            saved = g.saved_index()
            if saved.labels() != ids:
                verdict.index_problems.append("the saved index holds other photos than the database")
            elif ids and not np.allclose(saved.vectors(sorted(ids)), g.embeddings(sorted(ids)), atol=1e-4):
                verdict.index_problems.append("the saved index's vectors differ from the database's")
        except Exception as exc:  # StaleIndexError, or anything unexpected: both are findings
            if ids:
                verdict.index_problems.append(f"the saved index is unusable after reopening: {exc}")

        before = {r.sha256 for r in records}
        report = g.check(repair=True)
        verdict.repaired = list(report.repaired) + [f"(left) {p}" for p in report.problems]
        after = g.check()
        verdict.problems_after = list(after.problems)
        if {r.sha256 for r in g.photos()} != before:
            verdict.lost.append("check --repair changed the catalogued photos")
        verdict.photos, verdict.whales = g.photo_count(), g.whale_count()
    return verdict


# ---------------------------------------------------------------------------------------------- trials

@dataclass
class TrialResult:
    trial: int
    mode: str
    kill: str
    killed: bool
    ops_done: int
    ops_planned: int
    journalled: int  # photos journalled in this trial
    verdict: Verdict
    seconds: float


def start_child(spec: dict[str, Any], spec_path: Path, rng: random.Random, mode: str,
                kill: dict[str, Any] | None) -> tuple[subprocess.Popen[bytes], str]:
    """Start a child on ``spec`` (written to ``spec_path``); in ``mode`` "step" it kills itself at a write
    step (``kill``, random when None). Returns the process and how it is to die (for the report)."""
    kill_text = ""
    if mode == "step":
        if kill is None:
            target, most = rng.choice(SELF_KILL_TARGETS)
            kill = {"target": target, "n": rng.randint(1, most), "when": rng.choice(["before", "after"])}
        spec["kill"] = kill
        kill_text = f"{kill['when']} {kill['target']} #{kill['n']}"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, kill_text


def end_child(proc: subprocess.Popen[bytes], timeout: float, label: str) -> tuple[bool, str]:
    """Wait for a child (killing it past ``timeout``); whether it died of SIGKILL, and its stderr. Raises
    RuntimeError with the stderr when it failed otherwise."""
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    killed = proc.returncode == -signal.SIGKILL
    if not killed and proc.returncode != 0:
        raise RuntimeError(f"{label}: the child failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    return killed, stderr


def run_trial(trial: int, gallery: Path, model: Path, work: Path, expected: dict[str, str],
              rng: random.Random, mode: str | None = None, n_ops: int = 8,
              kill: dict[str, Any] | None = None) -> TrialResult:
    """One trial: plan, run the child, kill it, verify. ``expected`` (every photo journalled so far,
    sha256 -> whale) is updated with this trial's journal. ``mode`` "timer" or "step" (random when
    None); ``kill`` a self-kill spec for "step" (``target``, ``n``, ``when``; random when None)."""
    started = time.perf_counter()
    known = sorted(set(expected.values()))
    plan = make_plan(work, trial, rng, known, n_ops=n_ops)
    mode = mode or rng.choice(["timer", "step"])
    spec: dict[str, Any] = {"gallery": str(gallery), "model": str(model), "plan": plan.ops,
                            "journal": str(work / f"journal{trial:03d}.txt")}
    journal = Path(spec["journal"])
    proc, kill_text = start_child(spec, work / f"spec{trial:03d}.json", rng, mode, kill)
    try:
        _wait_for(journal, lambda lines: "ready" in lines or proc.poll() is not None, READY_TIMEOUT)
        if mode == "timer":
            # Kill after a random number of operations, a random time into the next one.
            ops_done = rng.randrange(len(plan.ops))
            t0 = time.perf_counter()
            _wait_for(journal, lambda lines: lines.count("op") >= ops_done or proc.poll() is not None,
                      OP_TIMEOUT * (ops_done + 1))
            per_op = (time.perf_counter() - t0) / max(ops_done, 1) if ops_done else 0.15
            time.sleep(rng.uniform(0, 1.5 * max(per_op, 0.02)))
            kill_text = f"after {ops_done} ops + a random delay"
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
    finally:
        killed, stderr = end_child(proc, OP_TIMEOUT * (len(plan.ops) + 1), f"trial {trial}")
    lines = _lines(journal)
    if "ready" not in lines:
        raise RuntimeError(f"trial {trial}: the child never opened the gallery:\n{stderr[-3000:]}")
    journalled = 0
    for line in lines:
        if line.startswith("done "):
            _, sha, whale = line.split()
            expected[sha] = whale
            journalled += 1
    verdict = verify(gallery, model, expected)
    return TrialResult(trial, mode, kill_text, killed, lines.count("op"), len(plan.ops), journalled, verdict,
                       time.perf_counter() - started)


def _lines(journal: Path) -> list[str]:
    try:
        text = journal.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    complete = text[: text.rfind("\n") + 1]  # a line without its newline was not written in full
    return complete.splitlines()


def _wait_for(journal: Path, condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition(_lines(journal)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for the child ({journal.name})")
        time.sleep(0.005)


def run_trials(trials: int, seed: int = 0, keep: Path | None = None,
               log: Any = print, n_ops: int = 8) -> dict[str, Any]:
    """Run ``trials`` crash trials on one gallery; returns the summary (``data_lost`` must be 0)."""
    from tests.models import make_tiny_model

    rng = random.Random(seed)
    with contextlib.ExitStack() as stack:
        root = keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="whalegui-crash-")))
        root.mkdir(parents=True, exist_ok=True)
        model = make_tiny_model(root / "model")
        gallery = root / "gallery"
        work = root / "work"
        work.mkdir(exist_ok=True)
        expected: dict[str, str] = {}
        results: list[TrialResult] = []
        for trial in range(trials):
            r = run_trial(trial, gallery, model, work, expected, rng, n_ops=n_ops)
            results.append(r)
            v = r.verdict
            found = "; ".join(v.problems_before) or "healthy"
            log(f"trial {trial + 1:3d}/{trials} {r.mode:7s} {'killed' if r.killed else 'finished'} "
                f"({r.kill}) after {r.ops_done}/{r.ops_planned} ops: +{r.journalled} journalled, "
                f"{v.photos} photos {v.whales} whales; check right after: {found[:160]}; "
                f"lost {len(v.lost)}; {'OK' if v.ok else 'FAILED'} ({r.seconds:.1f} s)")
            for what in v.lost + v.duplicates + v.half_made + v.index_problems + v.problems_after:
                log(f"    !! {what}")
        findings = collections.Counter(_kind(p) for r in results for p in r.verdict.problems_before)
        notes = collections.Counter(_kind(p) for r in results for p in r.verdict.notes_before)
        summary = {
            "trials": len(results),
            "killed": sum(r.killed for r in results),
            "killed_by_timer": sum(r.killed and r.mode == "timer" for r in results),
            "killed_at_a_step": sum(r.killed and r.mode == "step" for r in results),
            "photos_journalled": len(expected),
            "data_lost": sum(len(r.verdict.lost) for r in results),
            "duplicates": sum(len(r.verdict.duplicates) for r in results),
            "half_made_whales": sum(len(r.verdict.half_made) for r in results),
            "index_disagreements": sum(len(r.verdict.index_problems) for r in results),
            "unhealthy_after_repair": sum(bool(r.verdict.problems_after) for r in results),
            "check_findings_after_crash": dict(findings),
            "check_notes_after_crash": dict(notes),
            "final_photos": results[-1].verdict.photos if results else 0,
            "final_whales": results[-1].verdict.whales if results else 0,
            "ok": all(r.verdict.ok for r in results),
            "results": [dict(asdict(r), verdict=asdict(r.verdict)) for r in results],
        }
    return summary


def _kind(text: str) -> str:
    """A finding without its particulars (for counting kinds)."""
    if text.startswith("photo "):
        text = "photo: " + text.split(": ", 1)[-1]
    return re.sub(r"\d+", "N", text.split(" (")[0])[:80]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30, help="number of trials (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ops", type=int, default=8, help="operations planned per trial (default 8)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    parser.add_argument("--json", type=Path, default=None, help="write the summary as JSON here")
    parser.add_argument("--merge", action="store_true",
                        help="kill merges of galleries instead (bench/crash_merge.py)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child)
    started = time.perf_counter()
    if args.merge:
        from bench.crash_merge import print_summary, run_merge_trials

        summary = run_merge_trials(args.trials, args.seed, args.keep)
        print_summary(summary, time.perf_counter() - started)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
        return 0 if summary["ok"] else 1
    summary = run_trials(args.trials, args.seed, args.keep, n_ops=args.ops)
    print()
    print(f"crash trials run: {summary['trials']} (killed {summary['killed']}: {summary['killed_by_timer']} "
          f"by a timer, {summary['killed_at_a_step']} by itself at a chosen write step)")
    print(f"photos journalled as done: {summary['photos_journalled']}; final gallery "
          f"{summary['final_photos']} photos, {summary['final_whales']} whales")
    print(f"data lost: {summary['data_lost']}; duplicates: {summary['duplicates']}; half-made whales: "
          f"{summary['half_made_whales']}; index disagreements: {summary['index_disagreements']}; "
          f"unhealthy after --repair: {summary['unhealthy_after_repair']}")
    print(f"check right after a crash found: {summary['check_findings_after_crash'] or 'nothing'}; "
          f"notes: {summary['check_notes_after_crash'] or 'none'}")
    print(f"{time.perf_counter() - started:.0f} s; {'OK' if summary['ok'] else 'FAILED'}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
