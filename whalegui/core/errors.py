"""The errors the core raises. Each carries the data a user needs to act on it.

The core raises; the GUI shows a dialog; the CLI prints one line and exits non-zero.
"""

from __future__ import annotations

from pathlib import Path


class WhaleguiError(Exception):
    """Base class of every error the project raises on purpose."""


class PhotoError(WhaleguiError):
    """A photo could not be read: names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelError(WhaleguiError):
    """A model file or its card is missing, malformed or inconsistent."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"model {self.path}: {reason}")


class GalleryError(WhaleguiError):
    """A gallery operation failed (the gallery itself is left unchanged)."""


class GalleryLockedError(GalleryError):
    """Another process holds the gallery for writing."""


class ModelMismatchError(GalleryError):
    """The gallery's embeddings were made by a different model than the one in use."""

    def __init__(self, gallery_model: str, model: str) -> None:
        self.gallery_model = gallery_model
        self.model = model
        super().__init__(
            f"the gallery was embedded with model {gallery_model[:12]}, but model {model[:12]} is loaded; "
            "re-embed the gallery with 'whalegui reembed' or load the gallery's model"
        )


class CatalogueError(WhaleguiError):
    """A catalogue file (CSV or folder) is malformed; names the file, and the row when one is at fault."""

    def __init__(self, path: str | Path, reason: str, row: int | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.row = row
        where = f"{self.path}" if row is None else f"{self.path}, row {row}"
        super().__init__(f"{where}: {reason}")


class WhaleNotFoundError(GalleryError):
    """No whale with this id is in the gallery."""

    def __init__(self, whale_id: str) -> None:
        self.whale_id = whale_id
        super().__init__(f"no whale {whale_id!r} in the gallery")


class WhaleExistsError(GalleryError):
    """A whale with this id is already in the gallery (ids are unique)."""

    def __init__(self, whale_id: str) -> None:
        self.whale_id = whale_id
        super().__init__(f"a whale {whale_id!r} is already in the gallery")


class PhotoNotFoundError(GalleryError):
    """No photo with this id is in the gallery."""

    def __init__(self, photo_id: int) -> None:
        self.photo_id = photo_id
        super().__init__(f"no photo {photo_id} in the gallery")


class DuplicatePhotoError(GalleryError):
    """The photo (same sha256) is already catalogued; ``existing`` is its gallery record."""

    def __init__(self, path: str | Path, existing: object) -> None:
        self.path = Path(path)
        self.existing = existing
        whale = getattr(existing, "whale_id", "?")
        super().__init__(f"{self.path}: already catalogued under whale {whale}")
