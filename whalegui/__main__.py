"""``whalegui``: with no command, the desktop app; with a command, the headless CLI.

The command line is checked here before anything opens: ``--help`` lists the app's options *and* the
commands, ``--version`` prints the version, and a word that looks like a mistyped command (``whalegui
identfy x.jpg``, ``whalegui help``) or a command after an app option (``whalegui --gallery G identify``) is a
usage error (exit 2, with a hint), never a window. Only a command line meant for the app imports Qt.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
import sys
from importlib import metadata
from pathlib import Path

from whalegui import __version__
from whalegui.cli import CLI_COMMANDS, COMMANDS, MODEL_HELP
from whalegui.paths import default_gallery_dir

#: The app's hidden options (tests, screenshots) that take a value; kept so they parse here as in the app.
_HIDDEN_WITH_VALUE = ("--settings", "--screenshot-state")


def version() -> str:
    """The installed package's version (the source tree's when it is not installed)."""
    try:
        return metadata.version("whalegui")
    except metadata.PackageNotFoundError:
        return __version__


def app_parser() -> argparse.ArgumentParser:
    """The top-level parser: the desktop app's options, with the headless commands listed in the help."""
    listing = "\n".join(f"  {name:<10}{text}" for name, text in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="whalegui",
        usage="whalegui [--gallery GALLERY] [--model MODEL.onnx] [--cpu] [--demo] [--top N] [PHOTO ...]\n"
              "       whalegui COMMAND [options]   (whalegui COMMAND --help for its options)",
        description="Identify humpback whales by their flukes. With no command, open the desktop app\n"
                    "(queueing any PHOTO given); with a COMMAND, run it headless.",
        epilog=f"commands:\n{listing}\n\nexit codes of the commands: 0 success, 1 a failure, 2 a usage error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"whalegui {version()}")
    parser.add_argument("photos", nargs="*", metavar="PHOTO",
                        help="photos or folders of photos to queue when the app opens")
    parser.add_argument("--gallery", metavar="GALLERY",
                        help=f"the gallery folder (default: the one in the app's settings, at first "
                             f"{default_gallery_dir()})")
    parser.add_argument("--model", metavar="MODEL.onnx", help=MODEL_HELP)
    parser.add_argument("--cpu", action="store_true", help="run the model on the CPU even if a GPU works")
    parser.add_argument("--demo", action="store_true",
                        help="open a throwaway gallery of synthetic demo whales with query photos")
    parser.add_argument("--top", type=int, metavar="N", help="candidates to show (default 5)")
    for option in _HIDDEN_WITH_VALUE:
        parser.add_argument(option, help=argparse.SUPPRESS)
    return parser


def check_app_args(args: list[str]) -> None:
    """Refuse (``SystemExit(2)``, after a one-line hint) a command line that is not meant for the app;
    ``--help`` and ``--version`` exit 0 here. Options the app knows and this parser does not pass through."""
    parser = app_parser()
    known, _ = parser.parse_known_args(args)
    for word in known.photos:
        if word in CLI_COMMANDS:
            rest = [a for a in args if a != word]
            parser.error(f"'{word}' is a command: give it first, its options after it: "
                         f"{shlex.join(['whalegui', word, *rest])}")
        if not Path(word).exists() and not Path(word).suffix and "/" not in word and "\\" not in word:
            close = difflib.get_close_matches(word, CLI_COMMANDS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "whalegui --help lists the commands"
            parser.error(f"unknown command '{word}' (and no such photo or folder); {hint}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in CLI_COMMANDS:
        from whalegui import cli

        return cli.main(args)
    try:
        check_app_args(args)
    except SystemExit as exc:  # argparse printed the help, the version or the usage error
        return exc.code if isinstance(exc.code, int) else 2
    from whalegui.gui import app

    return app.main(args)


if __name__ == "__main__":
    sys.exit(main())
