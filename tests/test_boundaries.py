"""The architecture's import boundaries, checked in fresh interpreters.

The app stays light and starts fast: ``whalegui`` never imports TensorFlow or ``training``; the core never
imports Qt; ``training`` never imports the GUI.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def _modules_after_import(*modules: str) -> set[str]:
    code = ";".join(f"import {m}" for m in modules) + ";import sys;print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def _top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("module", ["whalegui.core.gallery", "whalegui.core.embedder", "whalegui.cli"])
def test_core_and_cli_import_neither_qt_nor_tensorflow(module: str) -> None:
    top = _top_level(_modules_after_import(module))
    assert "PySide6" not in top
    assert "tensorflow" not in top
    assert "training" not in top


def test_the_app_never_imports_tensorflow_or_training() -> None:
    modules = _modules_after_import("whalegui.__main__", "whalegui.gui.app", "whalegui.gui.main_window")
    top = _top_level(modules)
    assert "PySide6" in top  # the check is real: the GUI modules did load
    assert "tensorflow" not in top
    assert "keras" not in top
    assert "training" not in top


def test_training_never_imports_the_gui() -> None:
    modules = _modules_after_import("training.synthetic", "training.__main__")
    assert not any(m.startswith("whalegui.gui") for m in modules)
    assert "PySide6" not in _top_level(modules)
