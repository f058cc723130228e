"""Training data: a Kaggle catalogue (``Image,Id`` CSV + image folder), one folder per whale, or unlabelled
photos; validation split by individual; the photos-per-whale histogram.

``new_whale`` rows are not identities: they are kept apart (evaluation uses them as queries whose truth is
``new_whale``) and never used as training labels.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whalegui.core.errors import CatalogueError
from whalegui.core.images import find_photos, is_photo_file

log = logging.getLogger(__name__)

NEW_WHALE = "new_whale"
#: Label prefix of unlabelled photos: each is its own individual, its positive an augmented copy of itself.
UNLABELLED_PREFIX = "unlabelled:"


@dataclass
class Catalogue:
    """Photos with their whale ids, in file order. ``new_whale`` photos are in ``unknown``."""

    paths: list[Path] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    unknown: list[Path] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.paths)

    def whales(self) -> list[str]:
        return sorted(set(self.ids))

    def counts(self) -> Counter[str]:
        return Counter(self.ids)

    def subset(self, keep: list[int] | np.ndarray) -> Catalogue:
        return Catalogue([self.paths[i] for i in keep], [self.ids[i] for i in keep], [], self.source)

    def extended(self, paths: list[Path], ids: list[str]) -> Catalogue:
        return Catalogue(self.paths + list(paths), self.ids + list(ids), list(self.unknown), self.source)


def read_catalogue(csv_path: str | Path, images_dir: str | Path, *, check_files: bool = True) -> Catalogue:
    """Read a Kaggle ``Image,Id`` CSV; raise :class:`CatalogueError` naming the file and row at fault."""
    csv_path, images_dir = Path(csv_path), Path(images_dir)
    if not csv_path.is_file():
        raise CatalogueError(csv_path, "catalogue file not found")
    if not images_dir.is_dir():
        raise CatalogueError(images_dir, "image folder not found")
    cat = Catalogue(source=str(csv_path))
    missing: list[tuple[int, str]] = []
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            if "Image" not in header or "Id" not in header:
                raise CatalogueError(csv_path, f"expected the columns Image,Id; found {header or 'nothing'}",
                                     1)
            reader.fieldnames = header
            for row_no, row in enumerate(reader, start=2):
                name, whale = (row.get("Image") or "").strip(), (row.get("Id") or "").strip()
                if not name or not whale:
                    raise CatalogueError(csv_path, "empty Image or Id", row_no)
                path = images_dir / name
                if check_files and not path.is_file():
                    missing.append((row_no, name))
                    continue
                if whale == NEW_WHALE:
                    cat.unknown.append(path)
                else:
                    cat.paths.append(path)
                    cat.ids.append(whale)
    except UnicodeDecodeError as exc:
        raise CatalogueError(csv_path, f"not a UTF-8 text file ({exc.reason})") from exc
    except csv.Error as exc:
        raise CatalogueError(csv_path, f"malformed CSV ({exc})") from exc
    if missing:
        shown = ", ".join(f"{n} (row {r})" for r, n in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CatalogueError(csv_path, f"{len(missing)} image(s) missing from {images_dir}: {shown}{more}",
                             missing[0][0])
    if not cat.paths and not cat.unknown:
        raise CatalogueError(csv_path, "the catalogue has no rows")
    return cat


def read_folders(root: str | Path) -> Catalogue:
    """One sub-folder per whale, named by its whale id (``new_whale/`` holds unknown photos)."""
    root = Path(root)
    if not root.is_dir():
        raise CatalogueError(root, "folder not found")
    cat = Catalogue(source=str(root))
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in find_photos([sub]):
            if sub.name == NEW_WHALE:
                cat.unknown.append(path)
            else:
                cat.paths.append(path)
                cat.ids.append(sub.name)
    if not cat.paths:
        raise CatalogueError(root, "no photos in per-whale sub-folders")
    return cat


def unlabelled_photos(folder: str | Path, limit: int = 0, seed: int = 0) -> list[Path]:
    """Photos under ``folder`` (recursively); a seeded random ``limit`` of them when ``limit`` > 0."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CatalogueError(folder, "unlabelled photo folder not found")
    photos = [p for p in find_photos([folder]) if is_photo_file(p)]
    if not photos:
        raise CatalogueError(folder, "no photos found")
    if 0 < limit < len(photos):
        rng = np.random.default_rng(seed)
        photos = [photos[i] for i in sorted(rng.choice(len(photos), limit, replace=False))]
    return photos


def with_unlabelled(cat: Catalogue, photos: list[Path]) -> Catalogue:
    """Add unlabelled photos, each its own individual (its positive is an augmented copy of itself)."""
    return cat.extended(photos, [f"{UNLABELLED_PREFIX}{p.name}" for p in photos])


def keep_min_photos(cat: Catalogue, min_photos: int) -> Catalogue:
    """Keep whales with at least ``min_photos`` photos (1 keeps all: single-photo whales get augmented
    positives)."""
    counts = cat.counts()
    keep = [i for i, w in enumerate(cat.ids) if counts[w] >= min_photos]
    return cat.subset(keep)


def split_by_whale(cat: Catalogue, val_fraction: float, seed: int = 0) -> tuple[Catalogue, Catalogue]:
    """Split into (train, validation) by individual: no whale has photos on both sides."""
    whales = cat.whales()
    rng = np.random.default_rng(seed)
    n_val = round(len(whales) * val_fraction) if val_fraction > 0 else 0
    val_whales = set(rng.permutation(whales)[:n_val].tolist()) if n_val else set()
    train = [i for i, w in enumerate(cat.ids) if w not in val_whales]
    val = [i for i, w in enumerate(cat.ids) if w in val_whales]
    return cat.subset(train), cat.subset(val)


def photos_per_whale_histogram(cat: Catalogue, width: int = 40) -> str:
    """A text histogram: how many whales have 1, 2, 3, ... photos."""
    per = Counter(cat.counts().values())
    if not per:
        return "(no photos)"
    top = max(per.values())
    lines = ["photos/whale  whales"]
    for n in sorted(per):
        bar = "#" * max(1, round(width * per[n] / top))
        lines.append(f"{n:>12}  {per[n]:>6}  {bar}")
    return "\n".join(lines)


def encode_labels(ids: list[str]) -> tuple[np.ndarray, list[str]]:
    """Whale ids to integer labels 0..n-1 (sorted order) and the names back."""
    names = sorted(set(ids))
    index = {n: i for i, n in enumerate(names)}
    return np.asarray([index[w] for w in ids], dtype=np.int64), names
