"""Benchmark 7: app start, seconds from launch to an interactive window with a 100,000-photo gallery.

``whalegui --gallery DIR --model MODEL --cpu`` is launched as a subprocess under ``QT_QPA_PLATFORM=offscreen``
with ``WHALEGUI_PRINT_READY=1``, which makes the app print ``whalegui: ready (N photos)`` once the model and
the gallery are loaded and the window has shown them (``whalegui.gui.app.print_when_ready``). Timed from
``Popen`` to that line; the app's resident memory (VmRSS, and the peak VmHWM) is read from /proc at that
moment, then the app is terminated. Launches with the big gallery alternate with launches with an empty
gallery (same model), so the cost of the gallery itself is a paired difference. Settings, logs and caches
go to a temporary home. The gallery: synthetic embeddings inserted directly (``bench.galleries``).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, Result, mib, skipped
from bench.galleries import app_model, build_gallery

TIMEOUT_S = 300


def _command(gallery: Path, model: Path, settings: Path) -> list[str]:
    exe = Path(sys.executable).with_name("whalegui")
    head = [str(exe)] if exe.is_file() else ([shutil.which("whalegui")] if shutil.which("whalegui")
                                              else [sys.executable, "-m", "whalegui"])
    return [*head, "--gallery", str(gallery), "--model", str(model), "--cpu", "--settings", str(settings)]


def _status(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def launch(gallery: Path, model: Path, home: Path) -> dict[str, Any]:
    """Start the app once; return seconds to ready and its memory then."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WHALEGUI_PRINT_READY="1", HOME=str(home),
               XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])))
    t0 = time.perf_counter()
    proc = subprocess.Popen(_command(gallery, model, home / "settings.json"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = ""
    try:
        assert proc.stdout is not None
        deadline = t0 + TIMEOUT_S
        while time.perf_counter() < deadline:
            line = proc.stdout.readline()
            if not line or line.startswith("whalegui: ready") or line.startswith("whalegui: failed"):
                break
        secs = time.perf_counter() - t0
        rss, hwm = _status(proc.pid, "VmRSS"), _status(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    if not line.startswith("whalegui: ready"):
        raise RuntimeError(f"the app did not report ready ({line.strip() or 'no output'}): {err[-800:]}")
    return {"seconds": secs, "rss": rss, "peak_rss": hwm, "line": line.strip()}


def run(quick: bool) -> list[Result]:
    try:
        import PySide6  # noqa: F401
    except ImportError as exc:
        return [skipped("7 app start", "launch to interactive window", f"PySide6 missing ({exc})")]
    n = 10_000 if quick else 100_000
    reps = 2 if quick else 5
    with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp_s:
        tmp = Path(tmp_s)
        model = app_model(tmp)
        build = build_gallery(tmp / "big", model.path, n, photos_per_whale=5)
        build_gallery(tmp / "small", model.path, 1)
        home = tmp / "home"
        home.mkdir()
        launch(tmp / "small", model.path, home)  # warm the OS file cache for Qt and Python
        big: list[dict[str, Any]] = []
        small: list[dict[str, Any]] = []
        for i in range(reps):
            order = [(tmp / "big", big), (tmp / "small", small)]
            for folder, out in order if i % 2 == 0 else order[::-1]:
                out.append(launch(folder, model.path, home))
    t_big = [r["seconds"] for r in big]
    t_small = [r["seconds"] for r in small]
    diffs = [b - s for b, s in zip(t_big, t_small, strict=True)]
    rss_big = statistics.median(r["rss"] for r in big)
    rss_small = statistics.median(r["rss"] for r in small)
    label = f"{n:,}" if n != 100_000 else "100,000"
    details = {"photos": n, "reps": reps, "big_s": t_big, "empty_s": t_small,
               "big_rss": [r["rss"] for r in big], "empty_rss": [r["rss"] for r in small],
               "big_peak_rss": [r["peak_rss"] for r in big],
               "model": str(model.path), **build}
    results = [
        Result("7 app start", f"launch -> interactive, {label}-photo gallery, {model.label}",
               f"{statistics.median(t_big):.1f} s ({min(t_big):.1f}..{max(t_big):.1f}); RSS {mib(rss_big)}",
               details=details),
        Result("7 app start", "  same with a 1-photo gallery (alternated): start / RSS",
               f"{statistics.median(t_small):.1f} s; RSS {mib(rss_small)}; the gallery adds "
               f"{statistics.median(diffs):+.1f} s, {mib(rss_big - rss_small)}"),
    ]
    if quick:
        results.append(skipped("7 app start", "100,000-photo gallery", "full run only (quick uses 10,000)"))
    return results
