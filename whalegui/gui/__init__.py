"""The Qt layer: the desktop app over :mod:`whalegui.core`."""

from whalegui.gui import qtfix as _qtfix

_qtfix.apply()
