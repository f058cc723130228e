"""Wording shared by the command line and the desktop app (Qt-free, so the CLI can use it)."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 photo``, ``2 photos``, ``0 photos``; irregular plurals as ``plural_form``."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {word}"
