"""A workaround for a reference-counting bug in PySide6 6.12.0's ``SignalInstance.emit``.

That ``emit`` returns ``True`` without taking a reference to it, so every ``emit()`` from Python drops
one reference to ``True`` that was never taken; after a few thousand signals CPython aborts with
"Fatal Python error: bool_dealloc: deallocating True or False". :func:`apply` measures whether the
installed PySide6 has the bug (so a fixed release is left alone) and, if so, wraps ``emit`` to give the
reference back.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

log = logging.getLogger(__name__)
_PROBES = 64
_applied = False


class _Probe(QObject):
    probed = Signal()


def emit_leaks_true() -> bool:
    """Whether ``emit()`` drops a reference to ``True`` (measured, not guessed from the version)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.probed.emit()
    lost = before - sys.getrefcount(True)
    if lost > 0:  # give back what the probe itself took
        for _ in range(lost):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return lost >= _PROBES // 2


def apply() -> bool:
    """Install the workaround when this PySide6 needs it; returns whether it did."""
    global _applied
    if _applied:
        return True
    if not hasattr(ctypes, "pythonapi") or not emit_leaks_true():
        return False
    original = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    true = ctypes.py_object(True)

    def emit(self: SignalInstance, *args: Any) -> Any:
        result = original(self, *args)
        if result is True:
            incref(true)
        return result

    SignalInstance.emit = emit  # type: ignore[method-assign]
    _applied = True
    log.info("PySide6 %s: working around its Signal.emit reference leak", _version())
    return True


def _version() -> str:
    import PySide6

    return str(getattr(PySide6, "__version__", "?"))
