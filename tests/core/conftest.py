"""Fixtures shared by the core tests: the tiny test model (a real ONNX file and its card), its embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.models import make_tiny_model
from whalegui.core.embedder import Embedder


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def embedder(model: Path) -> Embedder:
    return Embedder(model, device="cpu")
