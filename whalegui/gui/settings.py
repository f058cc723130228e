"""The app's settings: one typed object saved as an INI file under the platform's config folder."""

from __future__ import annotations

import logging
from dataclasses import Field, dataclass, field, fields
from pathlib import Path

from PySide6.QtCore import QSettings

from whalegui.paths import default_gallery_dir, settings_path

log = logging.getLogger(__name__)


@dataclass
class Settings:
    """Everything the app remembers between runs."""

    top_k: int = 5  # candidates shown in the strip
    device: str = "auto"  # auto | cpu | cuda
    gallery_dir: str = ""  # empty: the platform default
    model_path: str = ""  # empty: the bundled model
    last_folder: str = ""  # where the last file dialog was
    thumbnail_size: int = 96
    observer: str = ""  # who records sightings (typed once a day, kept for the next enrolls)
    vessel: str = ""  # the boat they are recorded from
    path: Path | None = field(default=None, compare=False, repr=False)  # the file it was loaded from

    @classmethod
    def _stored(cls) -> list[Field[object]]:
        """The fields written to the file (not where the file is)."""
        return [f for f in fields(cls) if f.name != "path"]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Settings:
        """Read settings; unknown or malformed values fall back to the defaults."""
        path = Path(path) if path is not None else settings_path()
        store = QSettings(str(path), QSettings.Format.IniFormat)
        settings = cls()
        for f in cls._stored():
            if not store.contains(f.name):
                continue
            default = getattr(settings, f.name)
            raw = store.value(f.name)
            try:
                value = type(default)(raw)
            except (TypeError, ValueError):
                log.warning("settings %s: ignoring malformed %s=%r", path, f.name, raw)
                continue
            setattr(settings, f.name, value)
        settings.top_k = min(max(settings.top_k, 1), 20)
        if settings.device not in ("auto", "cpu", "cuda"):
            settings.device = "auto"
        settings.path = path
        return settings

    def save(self, path: str | Path | None = None) -> None:
        """Write the settings to ``path`` (default: the file they were loaded from, else the platform's)."""
        path = Path(path) if path is not None else (self.path or settings_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        store = QSettings(str(path), QSettings.Format.IniFormat)
        for f in self._stored():
            store.setValue(f.name, getattr(self, f.name))
        store.sync()

    def gallery_path(self) -> Path:
        return Path(self.gallery_dir) if self.gallery_dir else default_gallery_dir()
