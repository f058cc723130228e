"""``pip install .`` needs no compiler on Linux, macOS and Windows with CPython 3.10-3.12: every platform
resolves the HNSW index to a chroma-hnswlib release that ships a wheel there."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]

#: chroma-hnswlib's releases, and where each has a wheel (``pip download --only-binary=:all: --platform ...
#: --python-version ...``): 0.7.6 has none for Windows on 3.12; neither has any for 3.13.
RELEASES = ("0.7.5", "0.7.6")
PLATFORMS = {"linux": "x86_64", "darwin": "arm64", "win32": "AMD64"}


def _has_wheel(version: str, sys_platform: str, python: str) -> bool:
    return python in ("3.10", "3.11", "3.12") and not (version == "0.7.6" and sys_platform == "win32"
                                                        and python == "3.12")


def _requirements(sys_platform: str, machine: str, python: str) -> list[Requirement]:
    # Every marker variable is a str; str() tells mypy so (the Environment TypedDict's items() are objects).
    env = {key: str(value) for key, value in default_environment().items()}
    env.update(sys_platform=sys_platform, platform_machine=machine, python_version=python,
               python_full_version=f"{python}.0")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    return [r for r in map(Requirement, deps) if r.marker is None or r.marker.evaluate(env)]


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12"])
@pytest.mark.parametrize("sys_platform", sorted(PLATFORMS))
def test_the_index_library_installs_from_a_wheel(sys_platform: str, python: str) -> None:
    reqs = _requirements(sys_platform, PLATFORMS[sys_platform], python)
    hnsw = [r for r in reqs if r.name in ("hnswlib", "chroma-hnswlib")]
    assert [r.name for r in hnsw] == ["chroma-hnswlib"]  # hnswlib itself ships no wheels
    allowed = [v for v in RELEASES if hnsw[0].specifier.contains(v)]
    chosen = max(allowed, key=lambda v: tuple(map(int, v.split("."))))  # pip takes the newest allowed
    assert _has_wheel(chosen, sys_platform, python), (sys_platform, python, chosen)
    assert len([r for r in reqs if r.name.startswith("onnxruntime")]) == 1
