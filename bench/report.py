"""Write BENCHMARKS.md from one or more ``bench/run.py --json`` files.

    python bench/report.py OUT.md RUN.json [MORE.json ...]

Later files replace earlier ones benchmark by benchmark (so a full run can be completed by re-running some
benchmarks with ``--only``). The method of each benchmark is its module's docstring. A hand-written
``## Findings`` section already in OUT is kept.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import BENCHES

MODULES = {"decode": "decode", "search": "search_scale", "identify": "identify", "import": "bulk_import",
           "app": "app_start", "embedding": "embedding", "training": "training"}
PREFIX = {"1 embedding": "embedding", "2 decode": "decode", "3 identify": "identify", "4 search": "search",
          "5 import": "import", "6 training": "training", "7 app start": "app"}
ORDER = ("embedding", "decode", "identify", "search", "import", "training", "app")


def merge(paths: list[str]) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Rows by benchmark (the last file holding a benchmark wins; each row remembers its run)."""
    by_bench: dict[str, list[dict[str, Any]]] = {}
    runs = []
    for p in paths:
        data = json.loads(Path(p).read_text())
        runs.append(data)
        fresh: dict[str, list[dict[str, Any]]] = {}
        for r in data["results"]:
            r["run_load"] = data["machine"]["load_avg"][0]
            fresh.setdefault(PREFIX.get(r["bench"], r["bench"]), []).append(r)
        by_bench.update(fresh)
    return by_bench, runs


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| benchmark | what | figure | bar | met |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        figure = r["figure"] if not r["skipped"] else f"skipped: {r['skipped']}"
        verdict = {"met": "**met**", "NOT met": "**NOT met**"}.get(r["verdict"], r["verdict"])
        out.append(f"| {r['bench']} | {r['name'].strip()} | {figure} | {r['bar']} | "
                   f"{verdict if r['bar'] or r['skipped'] else ''} |")
    return "\n".join(out)


def kept_findings(path: Path) -> list[str]:
    """The hand-written ``## Findings`` section of an existing report, carried over to the new one."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    start = text.find("## Findings")
    if start < 0:
        return []
    end = text.find("\n## ", start + 1)
    return [text[start:end if end >= 0 else len(text)].rstrip(), ""]


def main(argv: list[str]) -> int:
    out, inputs = argv[0], argv[1:]
    by_bench, runs = merge(inputs)
    m = runs[-1]["machine"]
    v = m["versions"]
    lines = [
        "# Benchmarks",
        "",
        "Figures from `python bench/run.py` (full sizes) on the machine below, written into this file by",
        "`python bench/report.py BENCHMARKS.md RUN.json ...`. On a shared machine absolute times drift, so",
        "every comparison is a ratio measured in the same run: A and B alternated, several repetitions,",
        "the median and the spread (min..max) of the per-pair ratios. `python bench/run.py --quick` runs the",
        "same code at small sizes in under 5 minutes, without `../shared`.",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']} (`/proc/cpuinfo`), {m['usable_cores']} cores usable, {m['ram_gib']} GiB RAM, "
        f"{m['os']}",
        "- Load average when each run started (runs 1..n in the order given to report.py): "
        + ", ".join(f"{r['machine']['load_avg'][0]:.1f}" for r in runs)
        + " (the 2 cores were shared with other work: absolute times are pessimistic, ratios are paired)",
        "- GPU: " + ("ONNX Runtime CUDA provider working" if any(r.get("cuda") for r in runs)
                     else "none (no NVIDIA GPU here; the same script adds GPU rows where ORT's CUDA "
                          "provider works)"),
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
        "## Results",
        "",
    ]
    all_rows = [r for b in ORDER for r in by_bench.get(b, [])]
    lines += [table(all_rows), ""]
    met = [r for r in all_rows if r["verdict"] == "met"]
    missed = [r for r in all_rows if r["verdict"] == "NOT met"]
    which = "; ".join(f"{r['bench']}: {r['name'].strip()}" for r in missed)
    lines += [f"Bars met: {len(met)}; missed: {len(missed)}" + (f" ({which})" if missed else "") + ".", ""]
    lines += kept_findings(Path(out))
    lines += ["## How each was measured, and how to reproduce it", ""]
    for b in ORDER:
        mod = importlib.import_module(f"bench.{MODULES[b]}")
        doc = (mod.__doc__ or "").strip()
        title, _, body = doc.partition("\n")
        rows = by_bench.get(b, [])
        load = f" Measured with a load average of {rows[0]['run_load']:.1f} at its run's start." \
            if rows else ""
        lines += [f"### {title.removeprefix('Benchmark ')}", "", body.strip(), "",
                  f"Reproduce: `python bench/run.py --only {b}` (add `--quick` for the small version).{load}",
                  ""]
        for r in by_bench.get(b, []):
            d = r.get("details") or {}
            keep = {k: (round(val, 4) if isinstance(val, float) else val) for k, val in d.items()
                    if (isinstance(val, (int, float, str)) and not k.endswith("_s")) or k in ("ef_sweep",)}
            if keep:
                lines += [f"- {r['name'].strip()}: `" + json.dumps(keep, default=str)[:1500] + "`"]
        lines.append("")
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    assert set(MODULES) == set(BENCHES)
    sys.exit(main(sys.argv[1:]))
