"""Icons and styles for the Qt layer. Only :mod:`whalegui.resources` knows where ``resources/`` is."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from whalegui.resources import icon_path, resource_path


@cache
def icon(name: str) -> QIcon:
    """The icon ``resources/icons/NAME.svg``; an unknown name raises :class:`FileNotFoundError`."""
    return QIcon(str(icon_path(name)))


def stylesheet() -> str:
    """The application's Qt style sheet (``resources/styles/app.qss``)."""
    return resource_path("styles", "app.qss").read_text(encoding="utf-8")
