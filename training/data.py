"""Training data: a Kaggle catalogue (``Image,Id`` CSV + image folder), one folder per whale, or unlabelled
photos; validation split by individual; the photos-per-whale histogram.

The catalogue is read by the app's reader (:mod:`whalegui.core.catalogue`), so training and the app accept
the same CSVs by the same rules (encodings, delimiters, whale ids, no path leaving the images folder). Where
the app skips a bad row and reports it, training refuses the whole catalogue: a model should not be trained
on a catalogue that is partly wrong without anyone noticing.

``new_whale`` rows are not identities: they are kept apart (evaluation uses them as queries whose truth is
``new_whale``) and never used as training labels.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from whalegui.core import catalogue as core_catalogue
from whalegui.core.errors import CatalogueError
from whalegui.core.images import find_photos
from whalegui.core.records import NEW_WHALE

log = logging.getLogger(__name__)

#: Label prefix of unlabelled photos: each is its own individual, its positive an augmented copy of itself.
UNLABELLED_PREFIX = "unlabelled:"
#: How many of a catalogue's unusable rows an error message lists.
_SHOWN_ERRORS = 5


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
        """The distinct whale ids, sorted."""
        return sorted(set(self.ids))

    def counts(self) -> Counter[str]:
        """Photos per whale id."""
        return Counter(self.ids)

    def subset(self, keep: list[int] | np.ndarray) -> Catalogue:
        """The labelled photos at the indices ``keep`` (no unknown photos)."""
        return Catalogue([self.paths[i] for i in keep], [self.ids[i] for i in keep], [], self.source)

    def extended(self, paths: list[Path], ids: list[str]) -> Catalogue:
        """This catalogue with more labelled photos appended."""
        return Catalogue(self.paths + list(paths), self.ids + list(ids), list(self.unknown), self.source)

    def queries(self) -> tuple[list[Path], list[str]]:
        """Every photo as an evaluation query with its truth: the known whales', then the unknown ones'
        (truth ``new_whale``)."""
        return self.paths + self.unknown, self.ids + [NEW_WHALE] * len(self.unknown)


def read_catalogue(csv_path: str | Path, images_dir: str | Path) -> Catalogue:
    """Read a Kaggle ``Image,Id`` CSV with the app's reader; raise :class:`CatalogueError` naming the file
    and the rows at fault if any row is unusable (a missing photo, a path leaving ``images_dir``, a bad
    whale id, a duplicate row)."""
    csv_path, images_dir = Path(csv_path), Path(images_dir)
    read = core_catalogue.read_catalogue(csv_path, images_dir)
    errors = list(read.errors)
    cat = Catalogue(paths=[e.path for e in read.entries], ids=[e.whale_id for e in read.entries],
                    source=str(csv_path))
    for row, name in read.new_whale_rows:
        try:
            path = core_catalogue.safe_join(images_dir, name)
            found = path.is_file()
        except (ValueError, OSError) as exc:
            errors.append((name, f"row {row}: {exc}"))
            continue
        if not found:
            errors.append((name, f"row {row}: file not found in {images_dir}"))
            continue
        cat.unknown.append(path)
    if errors:
        raise CatalogueError(csv_path, _problems(errors))
    if not cat.paths and not cat.unknown:
        raise CatalogueError(csv_path, "the catalogue has no rows")
    return cat


def read_folders(root: str | Path) -> Catalogue:
    """One sub-folder per whale, named by its whale id (``new_whale/`` holds unknown photos), read with the
    app's reader; raise :class:`CatalogueError` if a photo lies outside a whale's folder or a folder's
    name is not a valid whale id."""
    root = Path(root)
    read = core_catalogue.read_folder_catalogue(root)
    if read.errors:
        raise CatalogueError(root, _problems(read.errors))
    cat = Catalogue(paths=[e.path for e in read.entries], ids=[e.whale_id for e in read.entries],
                    source=str(root))
    unknown_dir = root / NEW_WHALE
    if unknown_dir.is_dir():
        cat.unknown = find_photos([unknown_dir])
    if not cat.paths:
        raise CatalogueError(root, "no photos in per-whale sub-folders")
    return cat


def _problems(errors: list[tuple[str, str]]) -> str:
    """One line for a catalogue's (file name, reason) errors: how many, and the first few."""
    # The core's reasons already start "row N: ..."; a row without a file name is labelled by its row.
    lines = [reason if name in reason else f"{name}: {reason}" for name, reason in errors]
    shown = "; ".join(lines[:_SHOWN_ERRORS])
    more = f"; and {len(lines) - _SHOWN_ERRORS} more" if len(lines) > _SHOWN_ERRORS else ""
    return f"{len(lines)} problem(s), fix them before training: {shown}{more}"


def unlabelled_photos(folder: str | Path, limit: int = 0, seed: int = 0) -> list[Path]:
    """Photos under ``folder`` (recursively); a seeded random ``limit`` of them when ``limit`` > 0."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CatalogueError(folder, "unlabelled photo folder not found")
    photos = find_photos([folder])
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
