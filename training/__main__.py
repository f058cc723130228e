"""``whale-train``: make synthetic data, fit, export and evaluate the fluke embedding model."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# Each subcommand lives in its module, which defines ``add_arguments(parser)`` and ``run(args) -> int``.
# Modules are imported only when needed, so ``whale-train synth --help`` does not load TensorFlow.
COMMANDS = {
    "synth": ("training.synthetic.cli", "generate a synthetic fluke data set in the Kaggle format"),
    "fit": ("training.train", "train the triplet embedding model"),
    "export": ("training.export", "export a trained run to ONNX with its model card"),
    "evaluate": ("training.evaluate", "MAP@5 and distance report of an ONNX model on a labelled set"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whale-train", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:  # only the chosen command's module is imported, for its options
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser(argv).parse_args(argv)
    from whalegui.core.errors import WhaleguiError
    from whalegui.core.logsetup import console_logging

    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        with console_logging(logging.DEBUG if args.verbose else logging.INFO, "%(message)s"):
            return int(module.run(args))
    except WhaleguiError as exc:
        print(f"whale-train {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("whale-train: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
