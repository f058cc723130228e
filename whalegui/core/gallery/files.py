"""The gallery's files: content-addressed photo and thumbnail storage, atomic writes, and the writer lock.

Each photo's original bytes are kept as ``photos/ab/<sha256>.<ext>`` and its 256 px thumbnail as
``thumbs/ab/<sha256>.jpg``. Every file is written to a temporary file, fsynced and renamed into place
(:func:`write_atomic`), so a stored file is whole or absent; the caller commits the SQLite row that refers to
it only after that. One process at a time writes a gallery: :class:`WriterLock` holds ``gallery.lock``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import secrets
import sys
from pathlib import Path
from typing import IO

from PIL import Image

from whalegui.core.errors import GalleryLockedError, PhotoError
from whalegui.core.images import PHOTO_SUFFIXES, read_metadata
from whalegui.core.model_card import file_sha256

log = logging.getLogger(__name__)

LOCK_NAME = "gallery.lock"
PHOTOS_DIR = "photos"
THUMBS_DIR = "thumbs"
THUMB_SIZE = 256

#: The temporary files of :func:`write_atomic` for photos and thumbnails (``<sha256><ext>.<8 hex>.tmp``):
#: the only files ``check --repair`` removes, so a user's own file is never mistaken for one.
_TEMP_FILE = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,5}\.[0-9a-f]{8}\.tmp$")
_SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")


class PhotoFiles:
    """The photo and thumbnail files of the gallery in ``folder``, addressed by the photo's sha256.

    Paths are stored in SQLite relative to the folder (``photos/ab/<sha256>.jpg``), so a copied gallery
    folder still works.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, rel: str) -> Path:
        """The file at ``rel``, a path relative to the gallery folder as SQLite stores it."""
        return self.folder / rel

    def write_photo(self, sha256: str, suffix: str, data: bytes) -> str:
        """Store a photo's original bytes (atomically); returns its path relative to the folder."""
        rel = f"{PHOTOS_DIR}/{sha256[:2]}/{sha256}{suffix}"
        target = self.folder / rel
        if target.is_file() and target.stat().st_size == len(data) and stored_sha256(target) == sha256:
            return rel  # already there (a removed photo added again, or an interrupted import)
        write_atomic(target, data)
        return rel

    def write_thumb(self, image: Image.Image, sha256: str) -> str:
        """Store a photo's thumbnail (JPEG, at most THUMB_SIZE px a side); returns its relative path."""
        rel = f"{THUMBS_DIR}/{sha256[:2]}/{sha256}.jpg"
        thumb = image.copy()
        thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        thumb.convert("RGB").save(buf, "JPEG", quality=85)
        write_atomic(self.folder / rel, buf.getvalue())
        return rel

    def stored_files(self) -> list[Path]:
        """Every file under the photo and thumbnail folders (catalogued or not)."""
        return [p for d in (PHOTOS_DIR, THUMBS_DIR) if (self.folder / d).is_dir()
                for p in (self.folder / d).rglob("*") if p.is_file()]

    def relative(self, path: Path) -> str:
        """``path`` (inside the folder) as SQLite stores it."""
        return path.relative_to(self.folder).as_posix()


def photo_suffix(path: Path, image_format: str) -> str:
    """The suffix a photo is stored under: its own when it is a photo suffix, else one for its format."""
    suffix = path.suffix.lower()
    if suffix not in PHOTO_SUFFIXES:
        suffix = "." + image_format.lower().replace("jpeg", "jpg")
    return suffix if _SUFFIX.fullmatch(suffix) else ".img"


def is_temp_file(path: Path) -> bool:
    """Whether ``path`` is a temporary file that :func:`write_atomic` left behind (an interrupted write)."""
    return _TEMP_FILE.match(path.name) is not None


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` whole or not at all: a temp file, fsynced, then renamed over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def stored_sha256(path: Path) -> str:
    """The sha256 of a stored file; the operating system's errors become a :class:`PhotoError`."""
    try:
        return file_sha256(path)
    except FileNotFoundError as exc:
        raise PhotoError(path, "file not found") from exc
    except IsADirectoryError as exc:
        raise PhotoError(path, "is a folder, not a photo") from exc
    except OSError as exc:
        raise PhotoError(path, f"cannot read the file ({exc.strerror or exc})") from exc


def readable_image(path: Path) -> bool:
    """Whether ``path`` opens as an image (its header reads)."""
    try:
        read_metadata(path)
        return True
    except PhotoError:
        return False


class WriterLock:
    """The lock (``flock``, or ``msvcrt`` on Windows) held by the one process that writes a gallery.

    The holder writes its process id into the lock file, so a refused second writer can say who holds it.
    """

    def __init__(self, file: IO[str]) -> None:
        self._file: IO[str] | None = file

    @classmethod
    def acquire(cls, folder: Path) -> WriterLock:
        """Take the lock of the gallery in ``folder``; :class:`GalleryLockedError` when another holds it."""
        path = folder / LOCK_NAME
        f = open(path, "a+")  # noqa: SIM115 - held open for the gallery's lifetime
        try:
            if sys.platform == "win32":
                import msvcrt

                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            f.seek(0)
            holder = f.read().strip()
            f.close()
            who = f" (process {holder})" if holder.isdigit() else ""
            raise GalleryLockedError(f"the gallery {folder} is open for writing in another window or "
                                     f"process{who}; close it there, or open this one read-only") from exc
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        return cls(f)

    def release(self) -> None:
        """Let go of the lock (idempotent)."""
        f, self._file = self._file, None
        if f is None:
            return
        with contextlib.suppress(OSError):
            f.seek(0)
            f.truncate()
            f.flush()
        with contextlib.suppress(OSError):
            f.close()  # closing the file releases the flock
