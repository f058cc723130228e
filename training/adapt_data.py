"""What ``whale-train adapt`` learns from: a gallery's photos (each whale's photos are its positives), the
backbone features of the crops the app embeds (cached on disk), the kept review pairs as hard triplets,
and the by-whale held-out split.

Features are computed on exactly what the app embeds: each stored photo is decoded, its fluke found again
(a box the researcher drew is kept) and cropped by :meth:`whalegui.core.analysis.Analyser.embedding_crops`,
the same code a re-embedding runs, then preprocessed by the card (:func:`whalegui.core.images.to_model_input`)
and run through the base model's backbone (:class:`training.onnx_top.SplitEmbedder`). View 0 is the crop
itself; views 1.. are field augmentations of it (:class:`training.field_augment.FieldAugment`, seeded by the
photo's hash). Each photo's views are cached (float32) under ``CACHE/KEY/SHA256.npy``, the key a digest of
the base models' fingerprint (embedder, fluke finder, crop rule), the views and the cut, so a rerun on the
same gallery computes only its new photos.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from training.field_augment import FieldAugment
from training.onnx_top import SplitEmbedder
from whalegui.core.analysis import Analyser
from whalegui.core.errors import GalleryError
from whalegui.core.fluke import Fluke
from whalegui.core.images import load_photo, to_model_input
from whalegui.core.onnx_session import make_session
from whalegui.core.records import PhotoRecord
from whalegui.core.reviews import misranked as find_misranked

log = logging.getLogger(__name__)

_CACHE_VERSION = 2
BATCH = 16

Progress = Callable[[int, int], None]


def default_cache_dir() -> Path:
    """Where adapt keeps backbone features between runs: the platform's cache folder."""
    return Path(platformdirs.user_cache_dir("whalegui")) / "adapt-features"


@dataclass(frozen=True)
class GalleryData:
    """A gallery's photos as adapt sees them: ``photos`` (in the gallery's order) and their whale ids;
    ``pairs``, the kept review pairs as (query, candidate, same whale now) photo indices; ``misranked``,
    the kept misranked triplets (query, photo of its whale, photo of the other whale ranked above it)."""

    gallery_id: str
    photos: list[PhotoRecord]
    whales: list[str]
    pairs: list[tuple[int, int, bool]] = field(default_factory=list)
    misranked: list[tuple[int, int, int]] = field(default_factory=list)

    def by_whale(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        for i, w in enumerate(self.whales):
            groups.setdefault(w, []).append(i)
        return groups


def read_gallery(folder: Path) -> GalleryData:
    """The photos, whales and kept review pairs of the gallery in ``folder`` (opened read-only). Pairs are
    labelled by the photos' current whales (a later move or merge corrects the decision as stored)."""
    from whalegui.core.gallery import Gallery

    with Gallery.open(folder, readonly=True) as gallery:
        photos = gallery.photos()
        index = {p.sha256: i for i, p in enumerate(photos)}
        stored = gallery.review_pairs()
    pairs = []
    for pair in stored:
        q, c = index.get(pair.query_sha256), index.get(pair.candidate_sha256)
        if pair.keep and q is not None and c is not None and q != c:
            pairs.append((q, c, photos[q].whale_id == photos[c].whale_id))
    whale_of = {p.sha256: p.whale_id for p in photos}
    misranked = [(index[t.anchor_sha256], index[t.positive.candidate_sha256],
                  index[t.negative.candidate_sha256]) for t in find_misranked(stored, whale_of) if t.keep]
    return GalleryData(_gallery_id(folder), photos, [p.whale_id for p in photos], pairs, misranked)


def _gallery_id(folder: Path) -> str:
    """The random id the gallery was given when it was made (the adapted model's card records it)."""
    from whalegui.core.gallery.store import GalleryStore

    store = GalleryStore.open(folder, readonly=True)
    try:
        return store.gallery_id
    finally:
        store.close()


@dataclass(frozen=True)
class HeldOut:
    """The by-whale split: ``train`` photo indices (whales adapt learns from) and ``held_out`` ones (whales
    it never sees, each with 2+ photos, scored against the whole gallery)."""

    train: list[int]
    held_out: list[int]
    held_out_whales: list[str]


def split_held_out(data: GalleryData, fraction: float, seed: int) -> HeldOut:
    """Hold out ``fraction`` of the whales with 2+ photos (at least 2 whales), chosen with ``seed``; a whale
    with one photo is never held out (it has nothing to be found by): it stays as a distractor."""
    groups = data.by_whale()
    multi = sorted(w for w, idx in groups.items() if len(idx) >= 2)
    n = max(2, round(fraction * len(multi)))
    if len(multi) < n + 2:
        raise GalleryError(f"the gallery has {len(multi)} whales with 2 or more photos; adapting needs at "
                           f"least {n + 2} (2 to learn from, {n} held out to check the model on)")
    rng = np.random.default_rng(seed)
    held = sorted(multi[i] for i in rng.permutation(len(multi))[:n])
    held_set = set(held)
    train = [i for i, w in enumerate(data.whales) if w not in held_set]
    held_out = [i for i, w in enumerate(data.whales) if w in held_set]
    return HeldOut(train, held_out, held)


class FeatureCache:
    """The backbone features of gallery photos, computed with ``analyser``'s crops and ``split``'s
    backbone, kept under ``folder`` (a temporary folder when None)."""

    def __init__(self, split: SplitEmbedder, analyser: Analyser, folder: Path | None, *, views: int = 2,
                 augment: FieldAugment | None = None, device: str = "cpu") -> None:
        if views < 1:
            raise ValueError("views must be at least 1")
        self.split = split
        self.analyser = analyser
        self.views = views
        self.augment = augment or FieldAugment()
        spec = {"fingerprint": analyser.fingerprint, "cut": split.cut, "views": views,
                "augment": repr(self.augment) if views > 1 else None, "version": _CACHE_VERSION}
        self.key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="whalegui-adapt-")
            folder = Path(self._tmp.name)
        self.folder = folder / self.key
        self.folder.mkdir(parents=True, exist_ok=True)
        backbone = self.folder / "backbone.onnx"
        if not backbone.is_file():
            tmp = backbone.with_suffix(".tmp")
            tmp.write_bytes(split.backbone.SerializeToString())
            tmp.replace(backbone)
        self._session = make_session(backbone, device, None)
        self._input = self._session.get_inputs()[0].name

    def backbone(self, batch: np.ndarray) -> np.ndarray:
        """float32 features of a preprocessed NHWC batch."""
        return np.asarray(self._session.run([self.split.cut], {self._input: batch})[0], np.float32)

    def features(self, photos: Sequence[PhotoRecord], progress: Progress | None = None) -> np.ndarray:
        """float32 (photos, views, *cut) features; missing ones computed (in batches) and stored."""
        out: list[np.ndarray | None] = [None] * len(photos)
        todo = []
        for i, p in enumerate(photos):
            path = self._path(p)
            if path.is_file():
                try:
                    out[i] = np.load(path)
                    continue
                except (OSError, ValueError):
                    log.warning("recomputing the unreadable cached features %s", path)
            todo.append(i)
        if progress is not None:
            progress(len(photos) - len(todo), len(photos))
        for start in range(0, len(todo), BATCH):
            chunk = todo[start:start + BATCH]
            for i, feats in zip(chunk, self._compute([photos[i] for i in chunk]), strict=True):
                out[i] = feats
                tmp = self._path(photos[i]).with_suffix(".tmp.npy")
                np.save(tmp, feats)
                tmp.replace(self._path(photos[i]))
            if progress is not None:
                progress(len(photos) - len(todo) + start + len(chunk), len(photos))
        return np.stack([f for f in out if f is not None]) if photos else np.zeros((0, self.views))

    def inputs(self, photos: Sequence[PhotoRecord]) -> np.ndarray:
        """The model's inputs (view 0) of ``photos``, as the app makes them."""
        prep = self.analyser.embedder.card.preprocessing
        return np.stack([to_model_input(c, prep) for c in self._crops(photos)])

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def _compute(self, photos: Sequence[PhotoRecord]) -> list[np.ndarray]:
        prep = self.analyser.embedder.card.preprocessing
        crops = self._crops(photos)
        views = []
        for p, crop in zip(photos, crops, strict=True):
            seed = int(p.sha256[:12], 16)
            views.append([crop] + [self.augment(crop, np.random.default_rng((seed, v)))
                                   for v in range(1, self.views)])
        flat = np.stack([to_model_input(im, prep) for vs in views for im in vs])
        feats = self.backbone(flat)
        return list(feats.reshape(len(photos), self.views, *feats.shape[1:]))

    def _crops(self, photos: Sequence[PhotoRecord]) -> list[Any]:
        loaded = [load_photo(p.path, min_size=self.analyser.decode_size) for p in photos]
        return self.analyser.embedding_crops([ph.image for ph in loaded], [_drawn(p.fluke) for p in photos],
                                             [(ph.meta.width, ph.meta.height) for ph in loaded])

    def _path(self, p: PhotoRecord) -> Path:
        drawn = _drawn(p.fluke)
        suffix = "" if drawn is None else "-" + hashlib.sha256(repr(drawn.box).encode()).hexdigest()[:8]
        return self.folder / f"{p.sha256}{suffix}.npy"


def _drawn(fluke: Fluke | None) -> Fluke | None:
    """A box the researcher drew (a re-embedding keeps it); None for one the fluke finder found."""
    return fluke if fluke is not None and fluke.source == "researcher" else None
