"""Frozen ImageNet VGG16 features at ``block4_pool`` of real photos and their field views, computed once.

Everything the field embedder trains on starts from ``block4_pool``: the expensive blocks 1-4 run once per
photo and view (float16, cached in a work folder under a key of everything that decides them), and the
trainable top (:mod:`training.field_embedder`) trains on the stored maps in seconds per hundred steps.

Views, as the shipped embedder was trained:

- a labelled frame: the photo itself (:func:`frame_views`), and one field augmentation of it seeded by
  its file name (``FRAME_AUG_SEED``);
- an unlabelled cropped fluke: squashed to a 100x100 JPEG thumbnail like the labelled photos (view 0),
  then field augmentations of that thumbnail (views 1.., ``FLUKE_AUG_SEED``), each fluke its own class.

:func:`floor_descriptors` gives the raw-VGG16 floor from the same cache: ImageNet block 5 applied to the
cached maps, global average pooled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from training.composites import load_fluke
from training.features import extract_features
from training.field_augment import FieldAugment, jpeg
from whalegui.core.images import to_model_input
from whalegui.core.model_card import Preprocessing

log = logging.getLogger(__name__)

LAYER = "block4_pool"
FRAME_AUG_SEED = 11
FLUKE_AUG_SEED = 12
THUMBNAIL = 100  # the labelled photos' side; unlabelled flukes are brought to it
_BLOCK5 = ("block5_conv1", "block5_conv2", "block5_conv3")
_CACHE_VERSION = 1

#: (image, photo index, view index) -> the image of that view
ViewFn = Callable[[Image.Image, int, int], Image.Image]


def load_rgb(path: Path) -> Image.Image:
    """The photo as stored, in RGB."""
    with Image.open(path) as im:
        return im.convert("RGB")


def fluke_thumbnail(path: Path) -> Image.Image:
    """A cropped fluke as the labelled set stores photos: squashed to a 100x100 JPEG (quality 75)."""
    return jpeg(load_fluke(path).resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR), 75)


class FieldViews:
    """Photo ``i``, views ``vs`` -> the model's inputs: ``load(path)``, then ``view(image, i, v)`` for each
    view (the image itself when ``view`` is None), then the card's preprocessing."""

    def __init__(self, paths: Sequence[Path], prep: Preprocessing, *,
                 load: Callable[[Path], Image.Image] = load_rgb, view: ViewFn | None = None,
                 tag: str = "plain") -> None:
        self.paths = list(paths)
        self.prep = prep
        self.load = load
        self.view = view
        self.tag = tag  # names the views in the cache key

    def views(self, i: int, views: Sequence[int]) -> list[np.ndarray]:
        image = self.load(self.paths[i])
        return [to_model_input(image if self.view is None else self.view(image, i, v), self.prep)
                for v in views]


def frame_views(paths: Sequence[Path], prep: Preprocessing, augment: FieldAugment | None = None,
                ) -> FieldViews:
    """One view per labelled frame: the frame, or (``augment`` given) one field augmentation of it
    seeded by the file name, so the same photo gets the same augmentation in every run."""
    if augment is None:
        return FieldViews(paths, prep)
    names = [zlib.crc32(Path(p).name.encode()) for p in paths]

    def view(image: Image.Image, i: int, v: int) -> Image.Image:
        return augment(image, np.random.default_rng((FRAME_AUG_SEED, names[i], 1)))

    return FieldViews(paths, prep, view=view, tag=f"frame-aug {augment!r}")


def fluke_views(paths: Sequence[Path], prep: Preprocessing, augment: FieldAugment) -> FieldViews:
    """Unlabelled cropped flukes: view 0 the 100x100 thumbnail, views 1.. its field augmentations."""

    def view(image: Image.Image, i: int, v: int) -> Image.Image:
        return image if v == 0 else augment(image, np.random.default_rng((FLUKE_AUG_SEED, i, v)))

    return FieldViews(paths, prep, load=fluke_thumbnail, view=view, tag=f"fluke-thumb {augment!r}")


def block4_extractor(size: int, weights: str) -> Any:
    """VGG16 (frozen) from a ``size x size`` VGG16-preprocessed image to ``block4_pool``.

    ``weights``: a local weights file, ``imagenet`` or ``none`` (random, for tests)."""
    import keras

    from training.model import backbone_weights

    vgg = keras.applications.VGG16(include_top=False, weights=backbone_weights(weights),
                                   input_shape=(size, size, 3))
    extractor = keras.Model(vgg.input, vgg.get_layer(LAYER).output, name="block4")
    extractor.trainable = False
    return extractor


def block4_features(extractor: Any, views: FieldViews, n_views: int, *, weights: str,
                    work: Path | None = None, label: str = "features") -> np.ndarray:
    """float16 ``(photos, n_views, h, w, 512)`` features; reused from ``work/LABEL-KEY.npy`` when the same
    photos, views, preprocessing and weights made them before (never with random weights)."""
    if work is None or weights.lower() == "none":
        return extract_features(extractor, views, n_views)
    path = cache_path(work, label, views, n_views, weights)
    if path.is_file():
        log.info("reusing %s", path)
        return np.asarray(np.load(path))
    log.info("computing %s: %d photos x %d views", label, len(views.paths), n_views)
    logged = [-1]  # the last tenth reported

    def progress(done: int, total: int) -> None:
        if done * 10 // total != logged[0]:
            logged[0] = done * 10 // total
            log.info("%s: %d/%d photos", label, done, total)

    feats = extract_features(extractor, views, n_views, progress=progress)
    work.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, feats)
    tmp.replace(path)
    return feats


def cache_path(work: Path, label: str, views: FieldViews, n_views: int, weights: str) -> Path:
    """Where :func:`block4_features` keeps these features: ``work/LABEL-KEY.npy``, the key a digest of
    the photos, views, preprocessing, weights and layer."""
    spec = {"paths": [str(p) for p in views.paths], "prep": repr(views.prep), "views": n_views,
            "tag": views.tag, "weights": weights, "layer": LAYER, "version": _CACHE_VERSION}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return work / f"{label}-{key}.npy"


def floor_descriptors(feats4: np.ndarray, weights: str, batch: int = 256) -> np.ndarray:
    """The raw-VGG16 floor: ImageNet block 5 (three convs) on cached ``(n, h, w, 512)`` maps, global
    average pooled; float32 ``(n, 512)``."""
    import keras

    from training.model import backbone_weights

    ref = keras.applications.VGG16(include_top=False, weights=backbone_weights(weights),
                                   input_shape=(32, 32, 3))
    x_in = keras.Input(tuple(int(s) for s in feats4.shape[1:]))
    x = x_in
    convs = []
    for name in _BLOCK5:
        src = ref.get_layer(name)
        layer = keras.layers.Conv2D(src.filters, 3, padding="same", activation="relu", name=name)
        x = layer(x)
        convs.append((layer, src))
    x = keras.layers.GlobalAveragePooling2D()(x)
    head = keras.Model(x_in, x, name="block5_gap")
    for layer, src in convs:
        layer.set_weights(src.get_weights())
    return np.concatenate([np.asarray(head.predict_on_batch(feats4[s:s + batch].astype(np.float32)))
                           for s in range(0, len(feats4), batch)])
