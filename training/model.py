"""The whale model: a frozen VGG16 backbone, new trainable top layers, an L2-normalised embedding; and the
triplet trainer ("whale model fuse") that owns ``train_step``/``test_step``.

The backbone is split at ``cfg.cache_layer`` (``block5_pool``, or ``block4_pool`` when block 5 is
unfrozen): ``extractor`` maps a photo to the features at that point, which never change while the backbone
is frozen, so the cached path computes them once per augmented view; ``top`` maps those features to the
embedding and is all that trains. ``embedder`` = ``top(extractor(image))`` is what is exported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from training.config import TrainConfig
from training.losses import batch_hard_triplet_loss, semi_hard_triplet_loss, triplet_loss

log = logging.getLogger(__name__)

INPUT_NAME = "image"
OUTPUT_NAME = "embedding"
_BLOCK5 = ("block5_conv1", "block5_conv2", "block5_conv3", "block5_pool")


@dataclass
class WhaleModel:
    extractor: keras.Model  # image -> cached features (frozen)
    top: keras.Model  # features -> embedding (trainable)
    embedder: keras.Model  # image -> embedding


def backbone_weights(weights: str) -> str | None:
    """``imagenet`` | ``none`` | a local weights file, as Keras' ``weights=`` wants it."""
    if weights.lower() == "none":
        return None
    if weights == "imagenet":
        return "imagenet"
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights file not found: {path}")
    return str(path)


def build_whale_model(cfg: TrainConfig) -> WhaleModel:
    """Build extractor, top and embedder (sharing layers) for ``cfg``."""
    keras.utils.set_random_seed(cfg.seed)
    image = keras.Input((cfg.height, cfg.width, 3), name=INPUT_NAME)
    backbone = keras.applications.VGG16(include_top=False, weights=backbone_weights(cfg.weights),
                                        input_tensor=image)
    backbone.trainable = False
    cut = backbone.get_layer(cfg.cache_layer).output
    extractor = keras.Model(image, cut, name="extractor")
    extractor.trainable = False

    feat_in = keras.Input(tuple(cut.shape[1:]), name="features")
    x = feat_in
    if cfg.unfreeze_block5:
        for name in _BLOCK5:
            layer = backbone.get_layer(name)
            layer.trainable = True
            x = layer(x)
    if cfg.head == "gap":
        x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
        x = keras.layers.Dense(512, activation="relu", name="head_dense")(x)
    else:
        x = keras.layers.Conv2D(cfg.head_channels, 1, activation="relu", name="head_reduce")(x)
        x = keras.layers.Flatten(name="head_flatten")(x)
    if cfg.dropout > 0:
        x = keras.layers.Dropout(cfg.dropout, name="head_dropout")(x)
    x = keras.layers.Dense(cfg.embedding_dim, name="head_embedding")(x)
    emb = keras.layers.UnitNormalization(axis=-1, name=OUTPUT_NAME)(x)
    top = keras.Model(feat_in, emb, name="top")
    embedder = keras.Model(image, top(extractor(image)), name="whale_embedder")
    return WhaleModel(extractor, top, embedder)


def build_embedder(cfg: TrainConfig) -> keras.Model:
    """The exported model: photo (NHWC, VGG16 preprocessing) -> L2-normalised embedding."""
    return build_whale_model(cfg).embedder


class NetTrainer(keras.Model):  # type: ignore[misc]
    """Trains ``net`` on the loss a subclass's ``_loss(data, training)`` computes; owns ``train_step`` and
    ``test_step`` and reports the running mean loss as ``loss``."""

    def __init__(self, net: keras.Model, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.net = net
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.net(inputs, training=training)

    def _loss(self, data: Any, training: bool) -> tf.Tensor:
        raise NotImplementedError

    def train_step(self, data: Any) -> dict[str, Any]:
        with tf.GradientTape() as tape:
            loss = self._loss(data, training=True)
        variables = self.net.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data: Any) -> dict[str, Any]:
        self.loss_tracker.update_state(self._loss(data, training=False))
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self) -> list[Any]:
        return [self.loss_tracker]


class TripletTrainer(NetTrainer):
    """Trains ``net`` with a triplet loss.

    ``mode="triplet"``: batches are ``((anchor, positive, negative), ignored)`` and the same ``net`` embeds
    all three (the original "whale model fuse"). ``mode="batch-hard"`` / ``"semi-hard"``: batches are
    ``(x, labels)`` of P whales x K photos, triplets mined inside the batch.
    """

    def __init__(self, net: keras.Model, margin: float, mode: str = "triplet", **kwargs: Any) -> None:
        super().__init__(net, **kwargs)
        if mode not in ("triplet", "batch-hard", "semi-hard"):
            raise ValueError(f"unknown triplet mode {mode!r}")
        self.margin = float(margin)
        self.mode = mode

    def _loss(self, data: Any, training: bool) -> tf.Tensor:
        x, y = data
        if self.mode == "triplet":
            a, p, n = x
            return triplet_loss(self.net(a, training=training), self.net(p, training=training),
                                self.net(n, training=training), self.margin)
        emb = self.net(x, training=training)
        if self.mode == "batch-hard":
            return batch_hard_triplet_loss(y, emb, self.margin)
        return semi_hard_triplet_loss(y, emb, self.margin)


def distribution_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over all GPUs when there are several; otherwise the default (one GPU or CPU)."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        log.info("training on %d GPUs (MirroredStrategy)", len(gpus))
        return tf.distribute.MirroredStrategy()
    log.info("training on %s", "the GPU" if gpus else "the CPU")
    return tf.distribute.get_strategy()
