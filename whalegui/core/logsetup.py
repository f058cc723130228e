"""Logging for the command-line entry points."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def console_logging(level: int, fmt: str) -> Iterator[None]:
    """Log to this call's stderr at ``level`` while the block runs, then leave logging as it was.

    The CLIs' ``main()`` is also called in-process (tests, scripts), so it must not leave a handler behind
    that points at a stream somebody later closes.
    """
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
