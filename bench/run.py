"""Run the benchmarks and print one table: figure, bar, met or not.

    python bench/run.py [--quick] [--json OUT] [--only NAME ...]

``--quick``: small sizes (under 5 minutes on 2 cores), no ../shared needed (synthetic data is made on the
fly; parts that need shared material say so and are skipped). Without it: the full sizes reported in
BENCHMARKS.md (1,000,000 vectors, a 100,000-photo gallery, ...; about an hour on 2 cores).
Every comparison is a ratio measured in the same run, A and B alternated: median (min..max).
A missed bar is a finding, not an error: the exit status is non-zero only when a benchmark failed to run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, cuda_available, dump_json, machine

BENCHES = ("decode", "search", "identify", "import", "app", "embedding", "training")


def _run_one(name: str, quick: bool, cuda: bool, log: list[str]) -> list[Result]:
    if name == "decode":
        from bench import decode

        return decode.run(quick)
    if name == "search":
        from bench import search_scale

        return search_scale.run(quick, log)
    if name == "identify":
        from bench import identify

        return identify.run(quick, cuda)
    if name == "import":
        from bench import bulk_import

        return bulk_import.run(quick)
    if name == "app":
        from bench import app_start

        return app_start.run(quick)
    if name == "embedding":
        from bench import embedding

        return embedding.run(quick, cuda)
    if name == "training":
        from bench import training

        return training.run(quick)
    raise ValueError(name)


def format_table(results: list[Result]) -> str:
    rows = [("benchmark", "what", "figure", "bar", "met")]
    for r in results:
        figure = r.figure if not r.skipped else f"skipped: {r.skipped}"
        rows.append((r.bench, r.name, figure, r.bar, r.verdict if r.bar or r.skipped else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for i, row in enumerate(rows):
        lines.append(" | ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + " | " + row[4])
        if i == 0:
            lines.append("-+-".join("-" * w for w in widths) + "-+-----")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: under 5 minutes, no ../shared")
    parser.add_argument("--json", metavar="OUT", help="also write every figure and sample as JSON")
    parser.add_argument("--only", nargs="+", choices=BENCHES, help="run only these benchmarks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

    info = machine()
    cuda = cuda_available()
    mode = "quick" if args.quick else "full"
    print(f"whalegui benchmarks ({mode}) on {info['cpu']}, {info['usable_cores']} cores, "
          f"{info['ram_gib']} GiB RAM, load {info['load_avg'][0]:.1f}; "
          f"GPU via ONNX Runtime CUDA: {'yes' if cuda else 'no'}", flush=True)
    results: list[Result] = []
    failures: list[str] = []
    log: list[str] = []
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    for name in args.only or BENCHES:
        t0 = time.perf_counter()
        print(f"... {name}", flush=True)
        try:
            got = _run_one(name, args.quick, cuda, log)
        except Exception as exc:
            traceback.print_exc()
            failures.append(name)
            got = [Result(name, "failed", "-", "", False, f"error: {type(exc).__name__}: {exc}"[:200])]
        timings[name] = time.perf_counter() - t0
        for r in got:
            print(f"    {r.name}: {r.figure if not r.skipped else 'skipped: ' + r.skipped}"
                  f"{'  [' + r.bar + ': ' + r.verdict + ']' if r.bar else ''}", flush=True)
        results.extend(got)
    total = time.perf_counter() - t_all
    print()
    print(format_table(results))
    met = sum(r.met is True for r in results)
    missed = sum(r.met is False and not r.skipped for r in results)
    print(f"\n{len(results)} rows in {total:.0f} s; bars met: {met}, missed: {missed}"
          + (f"; FAILED: {', '.join(failures)}" if failures else ""))
    for line in log:
        print(line)
    if args.json:
        dump_json(args.json, {"mode": "quick" if args.quick else "full", "machine": info, "cuda": cuda,
                              "seconds": total, "bench_seconds": timings, "failures": failures,
                              "results": [r.to_dict() for r in results]})
        print(f"wrote {args.json}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
