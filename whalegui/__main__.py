"""``whalegui``: with no command, the desktop app; with a command, the headless CLI."""

from __future__ import annotations

import sys

#: Headless commands, handled by :mod:`whalegui.cli`; anything else opens the app.
CLI_COMMANDS = ("import", "enroll", "identify", "info", "reembed", "check", "export")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in CLI_COMMANDS:
        from whalegui import cli

        return cli.main(args)
    from whalegui.gui import app

    return app.main(args)


if __name__ == "__main__":
    sys.exit(main())
