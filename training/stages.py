"""The shipped pipeline's stages run over a list of evaluation photos, each stage's output cached on disk.

Every figure of ``whale-train ablation`` comes from the app's own code: :class:`~whalegui.core.fluke.
FlukeFinder` finds the fluke, :func:`~whalegui.core.fluke.crop_fluke` cuts it out,
:meth:`~whalegui.core.embedder.Embedder.embed_images` embeds, :func:`~whalegui.core.verify.extract_features`
takes the keypoints. The one exception is the floor, raw ImageNet VGG16 (:class:`VGG16Floor`), which the app
never ships; it runs in Keras from the weights file.

A stage's output is saved under the cache folder, named by a digest of everything it depends on (the
photos' paths, sizes and times, the model's fingerprint, the flukes it cropped, the feature format), so a
rerun with the same inputs reads it back and anything changed is computed afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from whalegui.core.embedder import l2_normalise
from whalegui.core.fluke import Fluke, FlukeFinder, crop_fluke, crop_region
from whalegui.core.images import load_photo, to_model_input
from whalegui.core.model_card import Preprocessing, file_sha256
from whalegui.core.verify import FEATURES_VERSION, LocalFeatures, extract_features

log = logging.getLogger(__name__)

#: The floor's input: the whole frame squashed to this square, as the research measured it.
FLOOR_SIZE = 128
#: The floor's descriptor: block 5's last convolution (before its pooling), global average pooled.
FLOOR_LAYER = "block5_conv3"

#: ``progress(stage, done, total, seconds)`` after each batch of photos.
ProgressFn = Callable[[str, int, int, float], None]
Arrays = dict[str, np.ndarray]


class ImageEmbedder(Protocol):
    """What :meth:`Stages.embeddings` needs of a model: the app's :class:`Embedder` or the floor."""

    @property
    def fingerprint(self) -> str: ...

    def embed_images(self, images: Sequence[Image.Image], batch_size: int = 16) -> np.ndarray: ...


class VGG16Floor:
    """Raw ImageNet VGG16 with no training, the floor every trained pipeline must beat: block 5's last
    convolution, global average pooled, on the whole frame squashed to 128x128 (BGR, ImageNet mean).

    Needs TensorFlow (the ``train`` extra) and the notop weights file (``vgg16_imagenet_notop.weights.h5``).
    """

    def __init__(self, weights: str | Path) -> None:
        import keras

        weights = Path(weights)
        self._fingerprint = f"vgg16-{FLOOR_LAYER}-gap-{FLOOR_SIZE}-{file_sha256(weights)}"
        self.preprocessing = Preprocessing.vgg16(FLOOR_SIZE, FLOOR_SIZE)
        base = keras.applications.VGG16(include_top=False, weights=str(weights),
                                        input_shape=(FLOOR_SIZE, FLOOR_SIZE, 3))
        pooled = keras.layers.GlobalAveragePooling2D()(base.get_layer(FLOOR_LAYER).output)
        self._net = keras.Model(base.input, pooled, name="vgg16_floor")

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def embed_images(self, images: Sequence[Image.Image], batch_size: int = 16) -> np.ndarray:
        """Unit-length descriptors, float32 (n, 512)."""
        parts = []
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            batch = np.stack([to_model_input(im, self.preprocessing) for im in chunk])
            parts.append(l2_normalise(np.asarray(self._net.predict_on_batch(batch))))
        return np.concatenate(parts) if parts else np.zeros((0, 512), np.float32)


class Stages:
    """The pipeline's stages over the photos ``paths`` of one evaluation source (``name``, e.g. ``real``).

    ``cache``: the folder to keep each stage's output in (None: nothing kept). ``progress`` is told how far
    each stage has come.
    """

    def __init__(self, name: str, paths: Sequence[Path], *, cache: Path | None = None,
                 progress: ProgressFn | None = None, batch: int = 16) -> None:
        self.name = name
        self.paths = list(paths)
        self.cache = cache
        self.progress = progress
        self.batch = batch
        self._photos_key = _digest([[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in self.paths])

    def flukes(self, finder: FlukeFinder) -> list[Fluke]:
        """The detector's fluke in every photo (the whole frame where it sees none)."""

        def compute() -> Arrays:
            found: list[Fluke] = []
            for images in self._images(f"finding flukes in {self.name} photos"):
                found.extend(finder.find_many(images))
            return _flukes_to_arrays(found)

        return _flukes_from_arrays(self.cached("flukes", [finder.fingerprint], compute))

    def embeddings(self, model: ImageEmbedder, flukes: Sequence[Fluke] | None = None, *,
                   margin: float = 0.1, label: str = "") -> np.ndarray:
        """Each photo's embedding: of the whole frame, or with ``flukes`` of its crop (:func:`crop_fluke`)."""
        what = f"embedding {self.name} photos{', ' + label if label else ''}"

        def compute() -> Arrays:
            parts = []
            for start, images in enumerate(self._images(what)):
                if flukes is not None:
                    first = start * self.batch
                    images = [crop_fluke(im, flukes[first + i], margin=margin) for i, im in enumerate(images)]
                parts.append(model.embed_images(images, batch_size=self.batch))
            return {"embeddings": np.concatenate(parts).astype(np.float32)}

        key = [model.fingerprint, _flukes_key(flukes), margin]
        return self.cached("embeddings", key, compute)["embeddings"]

    def features(self, flukes: Sequence[Fluke] | None = None, *, margin: float = 0.1) -> list[LocalFeatures]:
        """Each photo's keypoints: in the whole frame, or with ``flukes`` in the region its crop covers."""
        what = f"keypoints of {self.name} photos{', fluke crop' if flukes is not None else ', whole frame'}"

        def compute() -> Arrays:
            blobs: list[bytes] = []
            for start, images in enumerate(self._images(what)):
                for i, im in enumerate(images):
                    box = None if flukes is None else crop_region(flukes[start * self.batch + i], im.size,
                                                                   margin)
                    blobs.append(extract_features(im, box).to_blob())
            sizes = np.array([len(b) for b in blobs], np.int64)
            return {"sizes": sizes, "data": np.frombuffer(b"".join(blobs), np.uint8)}

        out = self.cached("features", [FEATURES_VERSION, _flukes_key(flukes), margin], compute)
        ends = np.cumsum(out["sizes"])
        data = out["data"].tobytes()
        return [LocalFeatures.from_blob(data[int(e - s):int(e)]) for s, e in zip(out["sizes"], ends,
                                                                                   strict=True)]

    def cached(self, kind: str, key: Sequence[object], compute: Callable[[], Arrays]) -> Arrays:
        """``compute()``'s arrays, read back from the cache when the same ``kind`` and ``key`` (with these
        photos) were computed before."""
        if self.cache is None:
            return compute()
        path = self.cache / f"{self.name}-{kind}-{_digest([self._photos_key, *key])[:20]}.npz"
        if path.is_file():
            log.info("%s: %s read from the cache (%s)", self.name, kind, path.name)
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        arrays = compute()
        self.cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
        return arrays

    def _images(self, what: str) -> Iterator[list[Image.Image]]:
        """The photos in batches, decoded by the app's loader at full resolution."""
        total = len(self.paths)
        start_time = time.monotonic()
        for start in range(0, total, self.batch):
            yield [load_photo(p).image for p in self.paths[start:start + self.batch]]
            if self.progress is not None:
                self.progress(what, min(total, start + self.batch), total, time.monotonic() - start_time)


def _digest(parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _flukes_key(flukes: Sequence[Fluke] | None) -> str:
    return "frame" if flukes is None else _digest([[f.box, f.source, f.angle] for f in flukes])


def _flukes_to_arrays(flukes: Sequence[Fluke]) -> Arrays:
    nan4 = (math.nan,) * 4
    return {"box": np.array([f.box for f in flukes], np.float64).reshape(-1, 4),
            "found": np.array([f.found for f in flukes], bool),
            "score": np.array([f.score for f in flukes], np.float64),
            "tips": np.array([f.tips or nan4 for f in flukes], np.float64).reshape(-1, 4),
            "angle": np.array([f.angle for f in flukes], np.float64)}


def _flukes_from_arrays(a: Arrays) -> list[Fluke]:
    out = []
    for box, found, score, tips, angle in zip(a["box"], a["found"], a["score"], a["tips"], a["angle"],
                                              strict=True):
        b = tuple(float(v) for v in box)
        t = None if np.isnan(tips).any() else tuple(float(v) for v in tips)
        out.append(Fluke(b, "detector" if found else "frame", float(score), t,  # type: ignore[arg-type]
                         float(angle)))
    return out
