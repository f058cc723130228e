"""Triplet losses over L2-normalised embeddings, with squared Euclidean distance (``2 - 2 cos``).

``triplet_loss`` is the original ``max(d(a,p) - d(a,n) + alpha, 0)`` on explicit triplets; the batch
losses mine triplets inside a batch of P whales x K photos: ``batch-hard`` takes each anchor's farthest
positive and nearest negative, ``semi-hard`` the nearest negative still farther than the positive
(FaceNet), falling back to the hardest negative.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

_BIG = 1e9


def squared_distances(a: Any, b: Any) -> tf.Tensor:
    """Row-wise squared Euclidean distance between two batches of vectors."""
    return tf.reduce_sum(tf.square(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)), axis=-1)


def pairwise_squared_distances(emb: Any) -> tf.Tensor:
    emb = tf.cast(emb, tf.float32)
    sq = tf.reduce_sum(tf.square(emb), axis=1)
    d = sq[:, None] - 2.0 * tf.matmul(emb, emb, transpose_b=True) + sq[None, :]
    return tf.maximum(d, 0.0)


def triplet_loss(anchor: Any, positive: Any, negative: Any, margin: float) -> tf.Tensor:
    """Mean of ``max(d(a,p) - d(a,n) + margin, 0)`` over the triplets."""
    dap = squared_distances(anchor, positive)
    dan = squared_distances(anchor, negative)
    return tf.reduce_mean(tf.maximum(dap - dan + margin, 0.0))


def _masks(labels: Any) -> tuple[tf.Tensor, tf.Tensor]:
    labels = tf.reshape(labels, [-1])
    same = tf.equal(labels[:, None], labels[None, :])
    eye = tf.eye(tf.shape(labels)[0], dtype=tf.bool)
    return tf.logical_and(same, tf.logical_not(eye)), tf.logical_not(same)


def batch_hard_triplet_loss(labels: Any, emb: Any, margin: float) -> tf.Tensor:
    """Batch-hard: for every anchor with a positive in the batch, its hardest positive and negative."""
    d = pairwise_squared_distances(emb)
    pos, neg = _masks(labels)
    hardest_pos = tf.reduce_max(tf.where(pos, d, -_BIG), axis=1)
    hardest_neg = tf.reduce_min(tf.where(neg, d, _BIG), axis=1)
    valid = tf.logical_and(tf.reduce_any(pos, axis=1), tf.reduce_any(neg, axis=1))
    losses = tf.maximum(hardest_pos - hardest_neg + margin, 0.0)
    return _masked_mean(losses, valid)


def semi_hard_triplet_loss(labels: Any, emb: Any, margin: float) -> tf.Tensor:
    """Semi-hard: every anchor-positive pair with the nearest negative farther than the positive."""
    d = pairwise_squared_distances(emb)
    pos, neg = _masks(labels)
    dap = d[:, :, None]  # [anchor, positive, 1]
    dan = d[:, None, :]  # [anchor, 1, negative]
    neg3 = neg[:, None, :]
    semi = tf.logical_and(neg3, dan > dap)
    nearest_semi = tf.reduce_min(tf.where(semi, dan, _BIG), axis=2)
    hardest = tf.reduce_min(tf.where(neg3, dan, _BIG), axis=2)
    chosen = tf.where(tf.reduce_any(semi, axis=2), nearest_semi, hardest)
    valid = tf.logical_and(pos, tf.reduce_any(neg, axis=1)[:, None])
    losses = tf.maximum(d - chosen + margin, 0.0)
    return _masked_mean(losses, valid)


def _masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    m = tf.cast(mask, tf.float32)
    return tf.reduce_sum(values * m) / tf.maximum(tf.reduce_sum(m), 1.0)


def batch_hard_pairs(labels: np.ndarray, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each anchor, the index of its hardest positive and hardest negative (-1 when there is none)."""
    d = pairwise_squared_distances(emb).numpy()
    pos, neg = (m.numpy() for m in _masks(np.asarray(labels)))
    hp = np.where(pos.any(1), np.argmax(np.where(pos, d, -_BIG), axis=1), -1)
    hn = np.where(neg.any(1), np.argmin(np.where(neg, d, _BIG), axis=1), -1)
    return hp, hn
