"""``whale-train synth``: write a synthetic fluke data set in the Kaggle format (``--scenes``: wide camera
frames, with ``boxes.csv``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from training.synthetic.dataset import SCENE_WIDTH_RANGE, WIDTH_RANGE, generate_dataset


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


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="folder to write train/, test/ and the CSVs into (empty; see --overwrite)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a set written earlier in DIR (only its CSVs and photos are removed)")
    parser.add_argument("--whales", required=True, type=_count(1), metavar="N",
                        help="number of known individuals (in train)")
    parser.add_argument("--train-per-whale", type=_int_range, default=(1, 6), metavar="A-B",
                        help="train photos per whale, long-tailed within A-B (default: 1-6)")
    parser.add_argument("--test-per-whale", type=_count(0), default=1, metavar="C",
                        help="test photos per known and per unknown whale")
    parser.add_argument("--unknown-whales", type=_count(0), default=0, metavar="U",
                        help="individuals only in test, labelled new_whale")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes")
    parser.add_argument("--scenes", action="store_true",
                        help="wide camera frames of the fluke at sea (3:2, 4:3 or 16:9; fluke 30-90%% of the "
                             "width, tilted, under a water line) instead of cropped flukes, and boxes.csv "
                             "(Image,x0,y0,x1,y1,xl,yl,xr,yr: each fluke's box and tips in pixels); other "
                             "whales than a cropped set of the same seed")
    parser.add_argument("--width", type=_int_range, default=None, metavar="A-B",
                        help=f"photo width range in pixels (default: {WIDTH_RANGE[0]}-{WIDTH_RANGE[1]}, "
                             f"heights from a 2.5-4:1 aspect; with --scenes {SCENE_WIDTH_RANGE[0]}-"
                             f"{SCENE_WIDTH_RANGE[1]}, at least 64)")


def run(args: argparse.Namespace) -> int:
    start = time.monotonic()
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        # On a terminal one line counts up in place; in a log, a line every 500 photos and at the end.
        if done == total or (interactive and done % 10 == 0) or (not interactive and done % 500 == 0):
            rate = done / max(time.monotonic() - start, 1e-6)
            line = f"synth: {done}/{total} photos ({rate:.0f}/s)"
            if interactive:
                print(f"\r{line}", end="\n" if done == total else "", file=sys.stderr, flush=True)
            else:
                print(line, file=sys.stderr, flush=True)

    try:
        result = generate_dataset(args.out, whales=args.whales, train_per_whale=args.train_per_whale,
                                  test_per_whale=args.test_per_whale, unknown_whales=args.unknown_whales,
                                  seed=args.seed, width_range=args.width, overwrite=args.overwrite,
                                  progress=progress, scenes=args.scenes)
    except ValueError as exc:
        print(f"whale-train synth: error: {exc}", file=sys.stderr)
        return 2
    c = result.counts
    boxes = ", boxes.csv" if result.boxes_csv is not None else ""
    print(f"{result.out}: {c['train_photos']} train photos of {c['whales']} whales, {c['test_photos']} test "
          f"photos ({c['test_new_whale']} new_whale){boxes}")
    return 0
