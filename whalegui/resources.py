"""Where the files that ship with the app live (``resources/`` in the source tree).

Only this module knows the location. Asking for a resource that does not exist raises, so a typo in an
icon name fails in the tests, not in a user's hands.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL_NAME = "whale-vgg16"


def resource_root() -> Path:
    """The ``resources`` folder: in a source checkout beside the package, else ``whalegui/_resources``."""
    package = Path(__file__).resolve().parent
    source_tree = package.parent / "resources"
    if source_tree.is_dir() and (package.parent / "pyproject.toml").is_file():
        return source_tree
    return package / "_resources"


def resource_path(*parts: str) -> Path:
    path = resource_root().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"resource {'/'.join(parts)} is not in {resource_root()}")
    return path


def icon_path(name: str) -> Path:
    return resource_path("icons", f"{name}.svg")


def demo_folder() -> Path:
    """Synthetic demo whales: ``catalogue.csv`` + ``photos/`` and ``queries/``."""
    return resource_path("demo")
