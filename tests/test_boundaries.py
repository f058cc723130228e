"""The architecture's import boundaries.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``): the core never imports Qt; the app
never imports TensorFlow, Keras, tf2onnx or ``training``; ``training`` never imports the GUI. import-linter
reads every import statement, those inside functions included, and follows chains through other modules.
One fresh interpreter also checks what actually loads when every module of the app is imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = ("The core never imports Qt", "The app never imports TensorFlow, Keras, tf2onnx or training",
             "Training never imports the GUI or Qt")


def _env() -> dict[str, str]:
    # The checkout's own packages, whatever an editable install elsewhere points at.
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _lint_imports() -> str | None:
    beside = Path(sys.executable).with_name("lint-imports")
    return str(beside) if beside.is_file() else shutil.which("lint-imports")


def test_the_import_contracts_hold() -> None:
    exe = _lint_imports()
    if exe is None:
        pytest.skip("lint-imports is not installed (it comes with the test extra: pip install -e '.[test]')")
    done = subprocess.run([exe, "--no-cache"], cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=300, check=False)
    report = " ".join(done.stdout.split())  # contract names may be wrapped
    assert done.returncode == 0, done.stdout + done.stderr
    for name in CONTRACTS:  # the contracts are there and were checked, not just absent
        assert name in report and "KEPT" in report.split(name, 1)[1][:120], report
    assert "0 broken" in report


def test_the_app_loads_no_tensorflow_keras_or_training() -> None:
    # Everything the entry point could reach: whalegui.__main__ and every module of the app, GUI included.
    code = ("import pkgutil, sys, whalegui, whalegui.__main__\n"
            "for m in pkgutil.walk_packages(whalegui.__path__, 'whalegui.'):\n"
            "    __import__(m.name)\n"
            "print('\\n'.join(sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=300, check=True)
    loaded = {name.split(".")[0] for name in done.stdout.split()}
    assert {"whalegui", "PySide6"} <= loaded  # the check is real: the app and its GUI did load
    assert not loaded & {"tensorflow", "keras", "tf2onnx", "training"}
