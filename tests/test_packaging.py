"""A plain ``pip install .`` ships every package: each folder with an ``__init__.py`` under ``whalegui`` and
``training`` is listed in pyproject.toml (setuptools installs only the packages it is told of)."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for top in ("whalegui", "training") for init in (ROOT / top).rglob("__init__.py")}
    assert found, "no packages found: the test looks in the wrong place"
    assert found - listed == set()
    assert "whalegui._resources" in listed
