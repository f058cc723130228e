"""Fixtures for the GUI tests: a real tiny ONNX model, real JPEGs of synthetic whales, a real gallery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from tests.models import make_tiny_model
from whalegui.core.embedder import Embedder
from whalegui.core.gallery import Gallery
from whalegui.gui.controller import Controller
from whalegui.gui.main_window import MainWindow
from whalegui.gui.review_model import Status
from whalegui.gui.settings import Settings

# What the app_window fixture yields: the shown main window and its controller.
AppWindow = tuple[MainWindow, Controller]

WHALES = {"w_alpha": 3, "w_beta": 2, "w_gamma": 1}  # whale id -> photos in the gallery


def whale_photo(path: Path, whale_seed: int, photo_seed: int, *, taken_at: datetime | None = None) -> Path:
    """A 128x64 JPEG: the whale's fixed 8x16 pattern (what the tiny model sees) plus a little noise."""
    pattern = np.random.default_rng(whale_seed).integers(0, 256, (16, 32, 3)).astype(np.float32)
    pixels = np.kron(pattern, np.ones((4, 4, 1), np.float32))
    pixels += np.random.default_rng(1000 + photo_seed).normal(0, 6, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    exif = Image.Exif()
    if taken_at is not None:
        exif[0x0132] = taken_at.strftime("%Y:%m:%d %H:%M:%S")  # DateTime
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=92, exif=exif.tobytes())
    return path


def seed_of(whale_id: str) -> int:
    return sum(map(ord, whale_id))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model"), threshold=0.3)


@pytest.fixture
def gallery_dir(tmp_path: Path, tiny_model: Path) -> Path:
    """A real gallery with three whales (3, 2 and 1 photos), closed again so the app can open it."""
    folder = tmp_path / "gallery"
    with Gallery.open(folder, Embedder(tiny_model, device="cpu")) as gallery:
        for whale_id, n in WHALES.items():
            paths = [
                whale_photo(
                    tmp_path / "catalogue" / f"{whale_id}_{i}.jpg",
                    seed_of(whale_id),
                    i,
                    taken_at=datetime(2023, 7, 1 + i, 9, 30),
                )
                for i in range(n)
            ]
            gallery.enroll(paths, whale_id=whale_id, name=whale_id.split("_")[1].title())
    return folder


@pytest.fixture
def queries(tmp_path: Path) -> dict[str, Path]:
    """Query photos: a new sighting of alpha and of beta, and a whale the gallery does not know."""
    folder = tmp_path / "queries"
    return {
        "alpha": whale_photo(
            folder / "alpha_new.jpg", seed_of("w_alpha"), 50, taken_at=datetime(2024, 8, 2, 14, 5)
        ),
        "beta": whale_photo(folder / "beta_new.jpg", seed_of("w_beta"), 51),
        "unknown": whale_photo(folder / "stranger.jpg", 987654, 52, taken_at=datetime(2024, 8, 3, 10, 0)),
    }


def make_window(qtbot: QtBot, tmp_path: Path) -> AppWindow:
    """A shown main window on a fresh controller (nothing loaded yet)."""
    controller = Controller(Settings.load(tmp_path / "settings.ini"))
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.show()
    return window, controller


@pytest.fixture
def app_window(
    qtbot: QtBot, tmp_path: Path, tiny_model: Path, gallery_dir: Path
) -> Iterator[AppWindow]:
    """The real main window on the real gallery, loaded (model + gallery) and shown."""
    window, controller = make_window(qtbot, tmp_path)
    window.resize(1366, 768)
    with qtbot.waitSignal(controller.gallery_changed, timeout=20000):  # the model is loaded, the gallery open
        controller.start(tiny_model, gallery_dir, device="cpu")
    yield window, controller
    controller.shutdown()


def wait_status(
    qtbot: QtBot, controller: Controller, row: int, *statuses: Status, timeout: int = 15000
) -> None:
    qtbot.waitUntil(
        lambda: len(controller.entries) > row and controller.entries[row].status in statuses, timeout=timeout
    )
