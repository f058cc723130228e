"""``whale-train``: make synthetic data, fit, export and evaluate the fluke embedding model."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from training.tensorflow_setup import (
    INSTALL_TRAIN_EXTRA,
    import_tensorflow,
    is_train_extra_missing,
    missing_modules,
)

DESCRIPTION = ("whale-train: make a synthetic fluke data set, train the fluke embedding model, export it to "
               "ONNX with its model card, and evaluate a model on a labelled set. 'fit' and 'export' need "
               f'TensorFlow, the "train" extra: {INSTALL_TRAIN_EXTRA}.')


@dataclass(frozen=True)
class Command:
    """A subcommand: its module (which defines ``add_arguments(parser)`` and ``run(args) -> int``), its
    one-line help, and whether it needs TensorFlow."""

    module: str
    help: str
    needs_tensorflow: bool = False


# Modules are imported only when needed, so ``whale-train synth --help`` does not load TensorFlow, and
# ``fit --help`` works without it.
COMMANDS = {
    "synth": Command("training.synthetic.cli", "generate a synthetic fluke data set in the Kaggle format"),
    "fit": Command("training.train", "train the triplet embedding model (needs TensorFlow)", True),
    "export": Command("training.export", "export a trained run to MODEL.onnx with its card MODEL.json "
                                         "(needs TensorFlow)", True),
    "evaluate": Command("training.evaluate", "MAP@5 and distance report of an ONNX model on a labelled set"),
    "adapt": Command("training.adapt", "adapt the model's top to a gallery's whales, checked on held-out "
                                       "whales (needs TensorFlow)", True),
    "ablation": Command("training.ablation", "what each pipeline stage is worth: floor, whole frame vs crop, "
                                             "with and without verification, on real and synthetic whales"),
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless there is none worth showing (no default, a flag, a required
    option) or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default in (None, argparse.SUPPRESS, []) or action.required or action.nargs == 0
                or "default" in text):
            return text
        return super()._get_help_string(action) or text


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser; only the chosen command's module is imported, for its options."""
    parser = argparse.ArgumentParser(prog="whale-train", description=DESCRIPTION,
                                     formatter_class=HelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail, TensorFlow's included")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help, formatter_class=HelpFormatter)
        if name == chosen:
            importlib.import_module(command.module).add_arguments(p)
    return parser


def _say_install_train_extra(command: str, what: str) -> int:
    print(f"whale-train {command}: needs {what}, which the plain install leaves out; install it with "
          f"{INSTALL_TRAIN_EXTRA}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Before anything imports TensorFlow: its C++ logging reads this once, at import.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args = build_parser(argv).parse_args(argv)
    except ImportError as exc:
        if not is_train_extra_missing(exc):
            raise
        chosen = next((a for a in argv if a in COMMANDS), "whale-train")
        return _say_install_train_extra(chosen, exc.name or "TensorFlow")
    from whalegui.core.errors import WhaleguiError
    from whalegui.core.logsetup import console_logging

    command: Command = COMMANDS[args.command]
    if command.needs_tensorflow:
        missing = missing_modules()
        if missing:
            return _say_install_train_extra(args.command, "TensorFlow" if "tensorflow" in missing
                                            else ", ".join(missing))
    try:
        with console_logging(logging.DEBUG if args.verbose else logging.INFO, "%(message)s"):
            if command.needs_tensorflow:
                import_tensorflow(verbose=args.verbose)
            module: Any = importlib.import_module(command.module)
            return int(module.run(args))
    except ImportError as exc:
        if not is_train_extra_missing(exc):
            raise
        return _say_install_train_extra(args.command, exc.name or "TensorFlow")
    except WhaleguiError as exc:
        print(f"whale-train {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("whale-train: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
