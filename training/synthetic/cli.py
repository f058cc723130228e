"""``whale-train synth``: write a synthetic fluke data set in the Kaggle format."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from training.synthetic.dataset import WIDTH_RANGE, generate_dataset


def _int_range(text: str) -> tuple[int, int]:
    try:
        parts = [int(p) for p in text.split("-")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A-B or N, got {text!r}") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or parts[0] > parts[1]:
        raise argparse.ArgumentTypeError(f"expected A-B with A <= B, got {text!r}")
    return parts[0], parts[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="folder to write train/, test/ and the CSVs")
    parser.add_argument("--whales", required=True, type=int, help="number of known individuals (in train)")
    parser.add_argument("--train-per-whale", type=_int_range, default=(1, 6), metavar="A-B",
                        help="train photos per whale, long-tailed within A-B (default 1-6)")
    parser.add_argument("--test-per-whale", type=int, default=1, metavar="C",
                        help="test photos per known and per unknown whale (default 1)")
    parser.add_argument("--unknown-whales", type=int, default=0, metavar="U",
                        help="individuals only in test, labelled new_whale (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)")
    parser.add_argument("--width", type=_int_range, default=WIDTH_RANGE, metavar="A-B",
                        help=f"photo width range in pixels (default {WIDTH_RANGE[0]}-{WIDTH_RANGE[1]}); "
                             "heights follow from a 2.5-4:1 aspect")


def run(args: argparse.Namespace) -> int:
    start = time.monotonic()
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if done == total or (interactive and done % 10 == 0) or (not interactive and done % 500 == 0):
            rate = done / max(time.monotonic() - start, 1e-6)
            end = "\n" if done == total or not interactive else ""
            print(f"\rsynth: {done}/{total} photos ({rate:.0f}/s)", end=end, file=sys.stderr, flush=True)

    try:
        result = generate_dataset(args.out, whales=args.whales, train_per_whale=args.train_per_whale,
                                  test_per_whale=args.test_per_whale, unknown_whales=args.unknown_whales,
                                  seed=args.seed, width_range=args.width, progress=progress)
    except ValueError as exc:
        print(f"whale-train synth: error: {exc}", file=sys.stderr)
        return 2
    c = result.counts
    print(f"{result.out}: {c['train_photos']} train photos of {c['whales']} whales, {c['test_photos']} test "
          f"photos ({c['test_new_whale']} new_whale)")
    return 0
