"""A synthetic data set in the Kaggle whale format: ``train.csv`` and ``train/``, ``test_labels.csv`` and
``test/``, written deterministically from a seed; for wide scenes also ``boxes.csv``, where each fluke is."""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.synthetic.identity import WhaleIdentity, make_whale
from training.synthetic.photo import render_photo
from training.synthetic.scene import render_scene
from whalegui.core.errors import CatalogueError
from whalegui.core.records import NEW_WHALE

log = logging.getLogger(__name__)

#: Default width range of dataset photos (real cropped flukes have a median of about 940x250).
WIDTH_RANGE = (600, 1000)
#: Default width range of wide scenes (whole camera frames, scaled down).
SCENE_WIDTH_RANGE = (960, 1600)
#: The header of ``boxes.csv``: the visible fluke's box (right and bottom exclusive) and its two tips, in
#: pixels of the photo.
BOXES_HEADER = ("Image", "x0", "y0", "x1", "y1", "xl", "yl", "xr", "yr")

ProgressFn = Callable[[int, int], None]

_SPLITS = ("train", "test")
_CSV_NAMES = ("train.csv", "test_labels.csv", "boxes.csv")
#: The names :func:`generate_dataset` gives its photos: nine hex digits.
_PHOTO_NAME = re.compile(r"[0-9a-f]{9}\.jpg")


@dataclass(frozen=True)
class SyntheticSet:
    """Where :func:`generate_dataset` wrote its set, and how many of what; ``boxes_csv`` only for scenes."""

    out: Path
    train_csv: Path
    test_labels_csv: Path
    counts: dict[str, int]
    boxes_csv: Path | None = None


def long_tail_counts(rng: np.random.Generator, n: int, low: int, high: int, power: float = 1.4) -> np.ndarray:
    """``n`` photo counts in ``low..high`` with P(k) proportional to (k - low + 1) ** -power.

    Like the real catalogue: many individuals seen once or twice, a few seen often.
    """
    ks = np.arange(low, high + 1)
    p = (ks - low + 1.0) ** -power
    return rng.choice(ks, size=n, p=p / p.sum())


def _photo_rng(seed: int, stream: int, whale_index: int, photo_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream + 2, whale_index, photo_index])


def generate_dataset(out: str | Path, *, whales: int, train_per_whale: tuple[int, int] = (1, 6),
                     test_per_whale: int = 1, unknown_whales: int = 0, seed: int = 0,
                     width_range: tuple[int, int] | None = None, overwrite: bool = False,
                     progress: ProgressFn | None = None, scenes: bool = False) -> SyntheticSet:
    """Write a Kaggle-format synthetic set into ``out``.

    ``out/train.csv`` (``Image,Id``) and ``out/train/*.jpg`` hold ``whales`` individuals with a long-tailed
    number of photos each in ``train_per_whale`` (inclusive). ``out/test/*.jpg`` and ``out/test_labels.csv``
    hold ``test_per_whale`` further photos of each of them plus ``test_per_whale`` photos of each of
    ``unknown_whales`` individuals absent from train, labelled ``new_whale``. ``progress(done, total)`` is
    called after each photo. The same arguments give byte-identical files.

    The photos are cropped flukes (:func:`render_photo`, widths in :data:`WIDTH_RANGE` by default), or with
    ``scenes`` wide camera frames (:func:`render_scene`, widths in :data:`SCENE_WIDTH_RANGE`) and
    ``out/boxes.csv`` (:data:`BOXES_HEADER`) giving every photo's fluke box and tips. Scenes draw their
    individuals from another stream than photos, so a model trained on a photo set of some seed has never
    seen the whales of a scene set of the same seed.

    A folder already holding a set is refused with :class:`CatalogueError`, unless ``overwrite``, which
    first removes that set's files, so no old photo is left among the new; a ``train/`` or ``test/``
    folder holding files this function does not write is always refused.
    """
    lo, hi = int(train_per_whale[0]), int(train_per_whale[1])
    if whales < 1 or unknown_whales < 0 or test_per_whale < 0 or not 1 <= lo <= hi:
        raise ValueError("need whales >= 1, unknown_whales >= 0, test_per_whale >= 0 and 1 <= A <= B")
    if width_range is None:
        width_range = SCENE_WIDTH_RANGE if scenes else WIDTH_RANGE
    wmin, wmax = int(width_range[0]), int(width_range[1])
    if not (64 if scenes else 16) <= wmin <= wmax:
        raise ValueError(f"bad width range {width_range}" + (" (scenes need at least 64)" if scenes else ""))
    out = Path(out)
    _clear_earlier_set(out, overwrite)
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "test").mkdir(parents=True, exist_ok=True)

    stream = 10 if scenes else 0
    plan_rng = np.random.default_rng([seed, stream])
    train_counts = long_tail_counts(plan_rng, whales, lo, hi)
    identities: list[WhaleIdentity] = []
    seen: set[str] = set()
    for i in range(whales + unknown_whales):
        w = make_whale(np.random.default_rng([seed, stream + 1, i]))
        while w.whale_id in seen:  # 16**7 ids: a clash is rare but must not merge two individuals
            w.whale_id = f"w_{int(plan_rng.integers(0, 16**7)):07x}"
        seen.add(w.whale_id)
        identities.append(w)

    names: set[str] = set()

    def new_name() -> str:
        while True:
            name = f"{int(plan_rng.integers(0, 16**9)):09x}.jpg"
            if name not in names:
                names.add(name)
                return name

    # (split, whale index, photo index) for every photo, grouped by whale; the random names scatter them.
    jobs: list[tuple[str, int, int]] = []
    for i in range(whales):
        jobs += [("train", i, j) for j in range(int(train_counts[i]))]
        jobs += [("test", i, int(train_counts[i]) + j) for j in range(test_per_whale)]
    for i in range(whales, whales + unknown_whales):
        jobs += [("test", i, j) for j in range(test_per_whale)]
    named = [(new_name(), *job) for job in jobs]

    rows: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
    boxes: list[tuple[object, ...]] = []
    total = len(named)
    for done, (name, split, i, j) in enumerate(named, start=1):
        rng = _photo_rng(seed, stream, i, j)
        width = int(rng.integers(wmin, wmax + 1))
        if scenes:
            scene = render_scene(identities[i], rng, width=width)
            scene.image.save(out / split / name, format="JPEG", quality=int(rng.integers(55, 93)))
            boxes.append((name, *scene.box, *(f"{v:.2f}" for v in scene.tips)))
        else:
            photo = render_photo(identities[i], rng, width=width)
            photo.save(out / split / name, format="JPEG", quality=int(rng.integers(60, 96)))
        label = identities[i].whale_id if i < whales else NEW_WHALE
        rows[split].append((name, label))
        if progress is not None:
            progress(done, total)
        if done == total or named[done][2] != i:  # jobs come grouped by whale: keep memory flat
            identities[i].release()

    train_csv = out / "train.csv"
    test_csv = out / "test_labels.csv"
    tables: list[tuple[Path, tuple[str, ...], list[tuple[object, ...]]]] = [
        (train_csv, ("Image", "Id"), sorted(rows["train"])),
        (test_csv, ("Image", "Id"), sorted(rows["test"])),
    ]
    boxes_csv = out / "boxes.csv" if scenes else None
    if boxes_csv is not None:
        tables.append((boxes_csv, BOXES_HEADER, sorted(boxes, key=lambda row: str(row[0]))))
    for path, header, table in tables:
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(table)
    counts = {
        "whales": whales,
        "unknown_whales": unknown_whales,
        "train_photos": len(rows["train"]),
        "test_photos": len(rows["test"]),
        "test_new_whale": sum(1 for _, label in rows["test"] if label == NEW_WHALE),
    }
    log.debug("wrote %d train and %d test %s of %d whales (+%d unknown) to %s", counts["train_photos"],
              counts["test_photos"], "scenes" if scenes else "photos", whales, unknown_whales, out)
    return SyntheticSet(out=out, train_csv=train_csv, test_labels_csv=test_csv, counts=counts,
                        boxes_csv=boxes_csv)


def _clear_earlier_set(out: Path, overwrite: bool) -> None:
    """Refuse ``out`` if it holds a set, unless ``overwrite``; then remove only the files a set is made of:
    the two CSVs and the photos named as this module names them."""
    ours = [out / name for name in _CSV_NAMES if (out / name).is_file()]
    foreign: list[Path] = []
    for split in _SPLITS:
        folder = out / split
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                (ours if path.is_file() and _PHOTO_NAME.fullmatch(path.name) else foreign).append(path)
    if foreign:
        raise CatalogueError(foreign[0].parent, f"holds {len(foreign)} file(s) that 'whale-train synth' "
                                                f"did not write (such as {foreign[0].name}); choose another "
                                                "folder")
    if not ours:
        return
    if not overwrite:
        raise CatalogueError(out, "already holds a synthetic set; choose an empty folder, or replace it "
                                  "(--overwrite)")
    for path in ours:
        path.unlink()
    log.info("removed the earlier set in %s (%d files)", out, len(ours))
