"""From a photo to what the gallery stores and searches: where its fluke is, the fluke's embedding and its
local features (:class:`Analyser`).

The one way a photo is analysed, used by the gallery (import, enroll, identify, check, re-embed), so the CLI
and the GUI, which go through the gallery, see a photo the same way everywhere:

1. **find the fluke**: the embedder's fluke finder (when its card names one) looks at the frame; a box the
   researcher drew overrides it; without a finder, or when none is found, the whole frame is the fluke;
2. **crop and level** it with the card's margin (:func:`~whalegui.core.fluke.crop_fluke`), and **embed** the
   crop — a found fluke only when it is small in its frame (the card's ``crop_below``,
   :func:`~whalegui.core.fluke.crops_for_embedding`): one that fills the frame is embedded whole, which
   measured better; a box the researcher drew is always cropped;
3. **extract local features** inside the region that was embedded
   (:func:`~whalegui.core.verify.extract_features`).

The fluke kept for the photo (stored, drawn in the review view) is the one found or drawn, whichever region
was embedded.

Photos are decoded at :meth:`Analyser.decode_size` (large JPEGs drafted down, fast); the fluke's box and the
features' keypoints are then scaled to the photo's full resolution, the pixels of the stored copy that the
review view shows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from whalegui.core.embedder import Embedder
from whalegui.core.fluke import Fluke, clamp_box, crop_fluke, crops_for_embedding
from whalegui.core.images import model_decode_size
from whalegui.core.verify import WORK_SIZE, LocalFeatures, extract_features

log = logging.getLogger(__name__)

#: With a fluke finder the frame is decoded at least this wide: the fluke may be a third of it, and its crop
#: should still be sharper than the embedder's input and the features' working size. Without one the
#: whole frame is the fluke, decoded at least as wide as the features' working size.
FINDER_DECODE_WIDTH = 960
#: A box narrower or lower than this (in decoded pixels) cannot be cropped and embedded.
MIN_BOX_PIXELS = 4


@dataclass(frozen=True)
class Analysis:
    """One photo analysed: its ``fluke`` (in the photo's full-resolution pixels), the ``embedding`` of the
    fluke's crop, and the ``features`` inside the fluke (keypoints in full-resolution pixels)."""

    fluke: Fluke
    embedding: np.ndarray
    features: LocalFeatures


class Analyser:
    """Analyses photos with ``embedder`` and the fluke finder it loaded (if its card names one)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the models that make an :class:`Analysis` (the gallery records it)."""
        return self.embedder.fingerprint

    @property
    def name(self) -> str:
        """The models' names for people: the embedder's, with its fluke finder's."""
        finder = self.embedder.finder
        return self.embedder.card.name + (f" + {finder.card.name}" if finder is not None else "")

    @property
    def decode_size(self) -> tuple[int, int]:
        """The (width, height) photos are decoded at for analysis (JPEGs are drafted to at least this)."""
        width, height = model_decode_size(self.embedder.card.preprocessing)
        return (max(width, FINDER_DECODE_WIDTH if self.embedder.finder is not None else WORK_SIZE), height)

    def analyse(self, image: Image.Image, fluke: Fluke | None = None, *,
                full_size: tuple[int, int] | None = None) -> Analysis:
        """Analyse one decoded photo. ``full_size`` is the photo's full-resolution (width, height) when
        ``image`` was decoded smaller (default: ``image.size``); ``fluke``, in those pixels, is a box the
        researcher drew, used instead of the fluke finder's. Raises :class:`ValueError` for a box too
        small to crop."""
        return self.analyse_many([image], [fluke], [full_size or image.size])[0]

    def analyse_many(self, images: Sequence[Image.Image], flukes: Sequence[Fluke | None] | None = None,
                     full_sizes: Sequence[tuple[int, int]] | None = None, *, batch_size: int = 16,
                     timings: dict[str, float] | None = None) -> list[Analysis]:
        """Analyse decoded photos in batches (see :meth:`analyse`); ``timings`` gathers the milliseconds
        spent per stage (``detect``, ``embed``, ``features``)."""
        n = len(images)
        given = list(flukes) if flukes is not None else [None] * n
        sizes = list(full_sizes) if full_sizes is not None else [im.size for im in images]
        if len(given) != n or len(sizes) != n:
            raise ValueError("one fluke (or None) and one full size per image")
        clock = _Clock(timings)
        local = self._locate(images, given, sizes)
        clock.lap("detect")
        regions = self._regions(images, local, given)
        crops = self._crops(images, regions)
        vectors = self.embedder.embed_images(crops, batch_size=batch_size)
        clock.lap("embed")
        out = []
        for im, f, region, size, vec, drawn in zip(images, local, regions, sizes, vectors, given,
                                                   strict=True):
            factor = size[0] / im.width
            features = _scaled(extract_features(im, region.box), factor)
            # A drawn box is kept exactly as the researcher gave it; a found one is scaled back up.
            found = _to_full(f, factor, size) if f.found else Fluke.whole(size)
            out.append(Analysis(drawn if drawn is not None else found, vec, features))
        clock.lap("features")
        return out

    def embedding_crops(self, images: Sequence[Image.Image], flukes: Sequence[Fluke | None] | None = None,
                        full_sizes: Sequence[tuple[int, int]] | None = None) -> list[Image.Image]:
        """The crops :meth:`analyse_many` embeds for these photos (same arguments), before the card's
        preprocessing: what a model trained on the gallery's photos must see (``whale-train adapt``)."""
        n = len(images)
        given = list(flukes) if flukes is not None else [None] * n
        sizes = list(full_sizes) if full_sizes is not None else [im.size for im in images]
        if len(given) != n or len(sizes) != n:
            raise ValueError("one fluke (or None) and one full size per image")
        return self._crops(images, self._regions(images, self._locate(images, given, sizes), given))

    def _regions(self, images: Sequence[Image.Image], local: Sequence[Fluke],
                 given: Sequence[Fluke | None]) -> list[Fluke]:
        """The region of each photo that is embedded: a drawn box, a found fluke small in its frame, else
        the whole frame."""
        return [f if drawn is not None or crops_for_embedding(f, im.size, self.embedder.crop_below)
                else Fluke.whole(im.size) for im, f, drawn in zip(images, local, given, strict=True)]

    def _crops(self, images: Sequence[Image.Image], regions: Sequence[Fluke]) -> list[Image.Image]:
        margin = self.embedder.margin
        return [crop_fluke(im, r, margin=margin) for im, r in zip(images, regions, strict=True)]

    def _locate(self, images: Sequence[Image.Image], given: Sequence[Fluke | None],
                sizes: Sequence[tuple[int, int]]) -> list[Fluke]:
        """Each photo's fluke in its decoded pixels: the given one scaled down, else the finder's."""
        finder = self.embedder.finder
        todo = [i for i, f in enumerate(given) if f is None]
        found = finder.find_many([images[i] for i in todo]) if finder is not None and todo else []
        detected = dict(zip(todo, found, strict=False))  # nothing found without a finder
        local: list[Fluke] = []
        for i, (im, drawn, size) in enumerate(zip(images, given, sizes, strict=True)):
            if drawn is None:
                local.append(detected[i] if i in detected else Fluke.whole(im.size))
                continue
            f = drawn.scaled(im.width / size[0])
            box = clamp_box(f.box, im.size)
            if box[2] - box[0] < MIN_BOX_PIXELS or box[3] - box[1] < MIN_BOX_PIXELS:
                raise ValueError(f"the fluke's box {tuple(round(v) for v in drawn.box)} is too small to crop")
            local.append(Fluke(box, f.source, f.score, f.tips, f.angle))
        return local


def fluke_features(image: Image.Image, fluke: Fluke, *, full_size: tuple[int, int] | None = None
                   ) -> LocalFeatures:
    """The local features inside a known ``fluke`` (in the photo's full-resolution pixels, ``full_size``;
    default ``image.size``), as :meth:`Analyser.analyse` finds them; no model runs."""
    factor = (full_size or image.size)[0] / image.width
    return _scaled(extract_features(image, clamp_box(fluke.scaled(1 / factor).box, image.size)), factor)


def _to_full(fluke: Fluke, factor: float, size: tuple[int, int]) -> Fluke:
    full = fluke.scaled(factor)
    return Fluke(clamp_box(full.box, size), full.source, full.score, full.tips, full.angle)


def _scaled(features: LocalFeatures, factor: float) -> LocalFeatures:
    if factor == 1.0:
        return features
    return LocalFeatures((features.points * np.float32(factor)).astype(np.float32), features.descriptors,
                         features.scale * factor)


class _Clock:
    """Adds the milliseconds between laps to ``timings`` (when given)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self._timings = timings
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self._timings is not None:
            self._timings[stage] = self._timings.get(stage, 0.0) + 1000 * (now - self._last)
        self._last = now
