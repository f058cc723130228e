"""The field embedder: frozen ImageNet VGG16 cut at ``block4_pool`` + a trainable top, trained with a
triplet loss on real whales; its training on cached features and its export with the app's model card.

The top: GeM pooling (learned exponent) -> BatchNorm -> Dense 512 ReLU -> Dropout 0.3 -> Dense 128 -> L2,
so a dot product of two embeddings is their cosine similarity. It trains on ``block4_pool`` maps cached by
:mod:`training.field_features` with semi-hard triplet mining (margin 0.2 on squared distances,
:func:`training.losses.semi_hard_triplet_loss`) in batches of P whales x K samples
(:class:`training.mining.PKBatches`). The exported model is the whole path, photo -> embedding:
``image`` (128x128 squash, BGR, VGG16 mean) -> ``embedding`` (128 floats, unit length).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from training.losses import batch_hard_triplet_loss, semi_hard_triplet_loss
from training.mining import PKBatches
from training.model import INPUT_NAME, OUTPUT_NAME, backbone_weights
from whalegui.core.model_card import ModelCard, Preprocessing

log = logging.getLogger(__name__)

POOLS = ("gem", "gap")
LOSSES = ("semi-hard", "batch-hard")
FIELD_CREDITS = ("VGG16 ImageNet weights by K. Simonyan and A. Zisserman, CC BY 4.0",
                 "Training photos: Happywhale via the Kaggle humpback whale competitions")


@dataclass(frozen=True)
class FieldEmbedderConfig:
    """The field embedder's design and training budget; the defaults are the shipped model's."""

    size: int = 128  # square input, squashed
    layer: str = "block4_pool"
    pool: str = "gem"
    hidden: int = 512
    dim: int = 128
    dropout: float = 0.3
    margin: float = 0.2
    loss: str = "semi-hard"
    learning_rate: float = 1e-3  # cosine decay to 5 % of it over ``steps``
    steps: int = 800
    whales_per_batch: int = 24
    per_whale: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, not {self.pool!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {self.loss!r}")
        if self.size % 16 or self.size < 32:
            raise ValueError(f"size {self.size} must be a multiple of 16 and at least 32 "
                             "(block4_pool halves it four times)")
        if self.steps < 1 or self.whales_per_batch < 2 or self.per_whale < 2:
            raise ValueError("steps must be positive, and a batch needs 2+ whales of 2+ samples each")

    def preprocessing(self) -> Preprocessing:
        return Preprocessing.vgg16(self.size, self.size)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@keras.saving.register_keras_serializable(package="whalegui")
class GeM(keras.layers.Layer):  # type: ignore[misc]
    """Generalised mean pooling over height and width with a learned exponent p (1: average, large: max)."""

    def __init__(self, p: float = 3.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.p0 = p

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.p = self.add_weight(name="p", shape=(), initializer=keras.initializers.Constant(self.p0))

    def call(self, x: tf.Tensor) -> tf.Tensor:
        p = tf.maximum(self.p, 1.0)
        return tf.pow(tf.reduce_mean(tf.pow(tf.maximum(x, 1e-6), p), axis=[1, 2]), 1.0 / p)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        return {**config, "p": self.p0}


def build_top(shape: tuple[int, int, int], cfg: FieldEmbedderConfig) -> keras.Model:
    """The trainable top: cached ``(h, w, c)`` feature maps -> L2-normalised ``cfg.dim`` embedding."""
    x_in = keras.Input(shape, name="features")
    x = GeM(name="gem")(x_in) if cfg.pool == "gem" else keras.layers.GlobalAveragePooling2D(name="gap")(x_in)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="dense")(x)
    if cfg.dropout:
        x = keras.layers.Dropout(cfg.dropout)(x)
    x = keras.layers.Dense(cfg.dim, name="proj")(x)
    out = keras.layers.UnitNormalization(axis=-1, name=OUTPUT_NAME)(x)
    return keras.Model(x_in, out, name="top")


def build_field_embedder(top: keras.Model, cfg: FieldEmbedderConfig, weights: str) -> keras.Model:
    """The exported model: ``image`` (``cfg.preprocessing()``) -> VGG16 to ``cfg.layer`` -> ``top``.

    ``weights``: the VGG16 weights file the top was trained on, ``imagenet``, or ``none`` (tests)."""
    image = keras.Input((cfg.size, cfg.size, 3), name=INPUT_NAME)
    vgg = keras.applications.VGG16(include_top=False, weights=backbone_weights(weights), input_tensor=image)
    return keras.Model(image, top(vgg.get_layer(cfg.layer).output), name="whale_embedder")


def train_top(feats: np.ndarray, labels: np.ndarray, cfg: FieldEmbedderConfig,
              ) -> tuple[keras.Model, list[float]]:
    """Train a new top on ``feats`` (items, views, h, w, c) with ``labels`` (items,) one class per item;
    a batch draws P classes x K (item, view) samples. Returns the top and the loss of every step."""
    keras.utils.set_random_seed(cfg.seed)
    top = build_top((int(feats.shape[2]), int(feats.shape[3]), int(feats.shape[4])), cfg)
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, cfg.steps, alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)
    sampler = PKBatches(labels, int(feats.shape[1]), cfg.seed, cfg.whales_per_batch, cfg.per_whale)
    loss_fn = semi_hard_triplet_loss if cfg.loss == "semi-hard" else batch_hard_triplet_loss

    @tf.function(reduce_retracing=True)  # type: ignore[untyped-decorator]
    def step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, top(x, training=True), cfg.margin)
        grads = tape.gradient(loss, top.trainable_variables)
        optimizer.apply_gradients(zip(grads, top.trainable_variables, strict=True))
        return loss

    losses: list[float] = []
    while len(losses) < cfg.steps:
        # batches are drawn 200 at a time (the sampler reshuffles the whales when it runs out)
        for samples, batch_labels in sampler.epoch(min(200, cfg.steps - len(losses))):
            items = np.asarray([s[0] for s in samples])
            views = np.asarray([s[1] for s in samples])
            x = tf.constant(feats[items, views].astype(np.float32))
            losses.append(float(step(x, tf.constant(np.asarray(batch_labels)))))
        log.info("step %d: loss %.4f (mean of the last 200)", len(losses), float(np.mean(losses[-200:])))
    return top, losses


def embed_features(top: keras.Model, feats: np.ndarray, batch: int = 512) -> np.ndarray:
    """Embeddings (n, dim) of cached ``(n, h, w, c)`` feature maps."""
    return np.concatenate([np.asarray(top(feats[s:s + batch].astype(np.float32), training=False))
                           for s in range(0, len(feats), batch)])


def export_field_embedder(embedder: keras.Model, out: str | Path, cfg: FieldEmbedderConfig, *,
                          new_whale_threshold: float, name: str | None = None,
                          training: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
                          credits: tuple[str, ...] = FIELD_CREDITS, real_photos: tuple[Path, ...] = (),
                          compress: str = "none") -> ModelCard:
    """Write ``out`` (.onnx) and its model card; parity with Keras is checked (fails above 1e-4)."""
    from training.export import export_model

    info = {"design": cfg.to_dict(), **(training or {})}
    return export_model(embedder, out, cfg.preprocessing(), embedding_dim=cfg.dim,
                        backbone=f"vgg16 (ImageNet, frozen) to {cfg.layer} + {cfg.pool} top",
                        name=name, new_whale_threshold=new_whale_threshold, training=info, metrics=metrics,
                        credits=credits, compress=compress, real_photos=real_photos, seed=cfg.seed)
