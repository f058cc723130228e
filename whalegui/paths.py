"""The one home of the app's default folders and of the bundled model, used by the CLI and the GUI alike.

Qt-free: the command line and the desktop app agree on where a user's gallery, settings and log live because
both ask this module. Where the shipped files are (``resources/``) is :mod:`whalegui.resources`' business.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from whalegui.core.errors import ModelError
from whalegui.resources import DEFAULT_MODEL_NAME, resource_root

APP_NAME = "whalegui"


def default_gallery_dir() -> Path:
    """The user's gallery, under the platform's data folder (never the current directory)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "gallery"


def adapted_models_dir() -> Path:
    """Where the app offers to write models adapted to a gallery, under the platform's data folder."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "models"


def settings_path() -> Path:
    """The GUI's settings file, under the platform's config folder."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.ini"


def log_dir() -> Path:
    """Where the app writes its log file."""
    return Path(platformdirs.user_log_dir(APP_NAME))


def bundled_model_path() -> Path:
    """The bundled default model (its card is the ``.json`` beside it); :class:`ModelError` when missing."""
    path = resource_root() / "models" / f"{DEFAULT_MODEL_NAME}.onnx"
    if not path.is_file():
        raise ModelError(path, "the bundled model is not installed; pass --model MODEL.onnx")
    return path
