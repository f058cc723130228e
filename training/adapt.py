"""``whale-train adapt``: adapt the embedding's trainable top to a gallery's whales, on the laptop.

Starting from the base model (the bundled one, or ``--base``), the top (:mod:`training.onnx_top`) trains on
the backbone features of the gallery's photos (:mod:`training.adapt_data`, cached, so only the top runs per
step) with the field embedder's semi-hard triplet loss over batches of P whales x K photos, plus the hard
triplets that review decisions kept (a query and the candidate of another whale it was shown, with another
photo of the query's whale), and a pull towards the base's weights (L2-SP) so the model keeps what it knew
for whales the gallery does not hold.

A part of the gallery's whales (seeded) is held out: never trained on, each of their photos queried against
all the gallery's other photos, ranked by whale with the app's rule
(:func:`whalegui.core.identify.rank_by_whale`), scored by top-1 and MAP@5. The adapted model is written only
when its MAP@5 there beats the base's (by ``--min-gain``); otherwise :class:`AdaptRefused` says both
figures and nothing is written. The written model is the base's graph with the top's weights replaced (same
input, output, backbone, fluke finder, verification and new-whale threshold), with its card: the base's, a
new name and sha256, and ``training.adapted``, a record of the base, the gallery, what was used and the
held-out figures. ``whalegui reembed --gallery DIR --model MODEL.onnx`` then applies it.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from training.adapt_data import (
    FeatureCache,
    GalleryData,
    HeldOut,
    default_cache_dir,
    read_gallery,
    split_held_out,
)
from training.onnx_top import OnnxTop, SplitEmbedder, split_embedder, write_adapted
from whalegui.core.errors import GalleryError, ModelError
from whalegui.core.identify import PhotoHit, average_precision_at_5, rank_by_whale
from whalegui.core.model_card import ModelCard, card_path_for, file_sha256

log = logging.getLogger(__name__)

#: Largest difference allowed between the ONNX model and the top run by TensorFlow (base and adapted).
PARITY_TOLERANCE = 1e-4


class AdaptRefused(GalleryError):
    """The adapted model is not better than the base on the held-out whales: nothing was written."""

    def __init__(self, base: dict[str, float], adapted: dict[str, float], min_gain: float) -> None:
        self.base, self.adapted = base, adapted
        need = f" by at least {min_gain:g}" if min_gain > 0 else ""
        super().__init__(
            f"the adapted model is not better than the base on the held-out whales (MAP@5 "
            f"{adapted['map5']:.3f} vs the base's {base['map5']:.3f}, top-1 {adapted['top1']:.3f} vs "
            f"{base['top1']:.3f}; it must beat the base's MAP@5{need}); no model written")


@dataclass(frozen=True)
class AdaptConfig:
    """How the top is adapted; the defaults are for a gallery of hundreds to thousands of photos."""

    epochs: int = 30  # one epoch: every training whale once, in batches of ``whales_per_batch``
    learning_rate: float = 5e-5  # cosine decay to 5 % of it
    whales_per_batch: int = 24
    per_whale: int = 4
    margin: float = 0.2  # on squared distances, as the field embedder's
    dropout: float = 0.0  # after each ReLU while training (0.3 was no better on a season gallery)
    hard_weight: float = 1.0  # the kept review triplets' loss, relative to the batch's
    hard_per_step: int = 32
    anchor: float = 1e-3  # L2-SP: the pull of each weight towards the base's
    holdout: float = 0.2  # fraction of the whales with 2+ photos held out
    views: int = 2  # the crop and one field augmentation of it
    min_gain: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.views < 1 or not 0 < self.holdout < 1:
            raise ValueError("epochs must be 0 or more, views 1 or more, holdout between 0 and 1")


@dataclass(frozen=True)
class AdaptResult:
    """What :func:`adapt` did: the held-out figures of both models, the card written, the losses."""

    base: dict[str, float]
    adapted: dict[str, float]
    card: ModelCard
    losses: list[float]
    record: dict[str, Any]


def ranking_scores(emb: np.ndarray, whales: list[str], queries: list[int]) -> dict[str, float]:
    """Top-1 and MAP@5 of each query photo against all the other photos (leave one out), whales ranked
    by their nearest photo with the app's rule."""
    if not queries:
        return {"top1": 0.0, "map5": 0.0, "queries": 0}
    ids = np.asarray(whales)
    names, inverse = np.unique(ids, return_inverse=True)
    dist = 1.0 - emb[queries] @ emb.T
    dist[np.arange(len(queries)), queries] = np.inf
    top1 = []
    ap = []
    for q, row in zip(queries, dist, strict=True):
        nearest = np.full(len(names), np.inf)
        np.minimum.at(nearest, inverse, row)
        best = {}
        for j in np.flatnonzero(np.isfinite(row)):
            w = int(inverse[j])
            if row[j] == nearest[w] and w not in best:
                best[w] = int(j)
        hits = [PhotoHit(best[w], str(names[w]), float(nearest[w])) for w in best]
        ranked = [h.whale_id for h in rank_by_whale(hits, top=5)]
        top1.append(bool(ranked) and ranked[0] == whales[q])
        ap.append(average_precision_at_5(whales[q], ranked))
    return {"top1": float(np.mean(top1)), "map5": float(np.mean(ap)), "queries": len(queries)}


def distance_summary(emb: np.ndarray, whales: list[str], queries: list[int]) -> dict[str, float]:
    """The mean cosine distance from each held-out query to its nearest photo of its own whale and to its
    nearest photo of another whale (how far the new-whale threshold's scale moved)."""
    ids = np.asarray(whales)
    dist = 1.0 - emb[queries] @ emb.T
    dist[np.arange(len(queries)), queries] = np.inf
    same = ids[None, :] == ids[queries][:, None]
    return {"nearest_same": float(np.where(same, dist, np.inf).min(axis=1).mean()),
            "nearest_other": float(np.where(same, np.inf, dist).min(axis=1).mean())}


def train(top: OnnxTop, feats: np.ndarray, labels: np.ndarray, hard: list[tuple[int, int, int]],
          cfg: AdaptConfig, *, report: Any = None) -> list[float]:
    """Train ``top`` on ``feats`` (items, views, ...) of photos with ``labels``, plus ``hard`` triplets
    (anchor, positive, negative item indices); returns each step's loss. ``report(epoch, epochs, loss)``
    is told at the end of each epoch."""
    import keras
    import tensorflow as tf

    from training.losses import semi_hard_triplet_loss, triplet_loss
    from training.mining import PKBatches

    n_whales = len(set(labels.tolist()))
    per_epoch = max(1, -(-n_whales // cfg.whales_per_batch))
    steps = cfg.epochs * per_epoch
    if steps == 0:
        return []
    keras.utils.set_random_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    start = top.weights()
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps, alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)
    sampler = PKBatches(labels, int(feats.shape[1]), cfg.seed, cfg.whales_per_batch, cfg.per_whale)
    hard_arr = np.asarray(hard, np.int64).reshape(-1, 3)
    n_views = int(feats.shape[1])

    @tf.function(reduce_retracing=True)  # type: ignore[untyped-decorator]
    def step(x: Any, y: Any, triplets: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = semi_hard_triplet_loss(y, top(x, training=True), cfg.margin)
            if triplets is not None:
                emb = top(triplets, training=True)
                k = tf.shape(emb)[0] // 3
                loss += cfg.hard_weight * triplet_loss(emb[:k], emb[k:2 * k], emb[2 * k:], cfg.margin)
            if cfg.anchor:
                loss += cfg.anchor * top.anchor_distance(start)
        grads = tape.gradient(loss, top.trainable_variables)
        optimizer.apply_gradients(zip(grads, top.trainable_variables, strict=True))
        return loss

    losses: list[float] = []
    for epoch in range(cfg.epochs):
        for samples, batch_labels in sampler.epoch(per_epoch):
            items = np.asarray([s[0] for s in samples])
            views = np.asarray([s[1] for s in samples])
            x = tf.constant(feats[items, views].astype(np.float32))
            triplets = None
            if len(hard_arr):
                pick = hard_arr[rng.integers(len(hard_arr), size=min(cfg.hard_per_step, len(hard_arr)))]
                v = rng.integers(n_views, size=pick.shape)
                triplets = tf.constant(np.concatenate([feats[pick[:, j], v[:, j]] for j in range(3)])
                                       .astype(np.float32))
            losses.append(float(step(x, tf.constant(np.asarray(batch_labels)), triplets)))
        if report is not None:
            report(epoch + 1, cfg.epochs, float(np.mean(losses[-per_epoch:])))
    return losses


def hard_triplets(data: GalleryData, train_set: set[int], seed: int) -> list[tuple[int, int, int]]:
    """(anchor, positive, negative) photo indices, all among ``train_set``: the kept misranked triplets,
    then a triplet for every other kept pair of two different whales (a query and a wrong candidate the
    review showed it, the nearest whales: hard negatives) with another photo of the query's whale as the
    positive (the query itself, in another view, when its whale has no other photo)."""
    rng = np.random.default_rng(seed)
    groups = data.by_whale()
    out = [t for t in data.misranked if set(t) <= train_set]
    seen = {(a, n) for a, _, n in out}
    for q, c, same in data.pairs:
        if same or q not in train_set or c not in train_set or (q, c) in seen:
            continue
        seen.add((q, c))
        mates = [i for i in groups[data.whales[q]] if i != q]
        out.append((q, int(rng.choice(mates)) if mates else q, c))
    return out


def adapt(gallery: Path, out: Path, base: Path, cfg: AdaptConfig, *, cache: Path | None = None,
          name: str | None = None, device: str = "cpu", progress: Any = None,
          report: Any = None) -> AdaptResult:
    """Adapt ``base`` to the gallery in ``gallery`` and write ``out`` (and its card, and the fluke finder
    beside it when it is not there yet); :class:`AdaptRefused` (nothing written) when it is not better on
    the held-out whales. ``progress(done, total)`` follows the features, ``report(epoch, epochs, loss)``
    the training."""
    from whalegui.core.analysis import Analyser
    from whalegui.core.embedder import Embedder

    out = Path(out)
    if out.suffix != ".onnx":
        raise ModelError(out, "the adapted model's file name must end in .onnx")
    if out.resolve() == Path(base).resolve():
        raise ModelError(out, "the adapted model cannot overwrite its base")
    embedder = Embedder(base, device=device)
    split = split_embedder(base)
    data = read_gallery(gallery)
    held = split_held_out(data, cfg.holdout, cfg.seed)
    started = time.monotonic()
    features = FeatureCache(split, Analyser(embedder), cache, views=cfg.views, device=device)
    try:
        feats = features.features(data.photos, progress)
        base_top = OnnxTop(split)
        parity_base = _parity(embedder, base_top, features, data, held)
    finally:
        features.close()
    feature_seconds = time.monotonic() - started
    view0 = feats[:, 0].astype(np.float32)
    base_emb = base_top.embed(view0)
    base_scores = ranking_scores(base_emb, data.whales, held.held_out)

    train_set = set(held.train)
    labels = np.asarray(np.unique(np.asarray(data.whales)[held.train], return_inverse=True)[1])
    hard = hard_triplets(data, train_set, cfg.seed)
    top = OnnxTop(split, dropout=cfg.dropout)
    started = time.monotonic()
    losses = train(top, feats[held.train], labels, [_local(t, held.train) for t in hard], cfg, report=report)
    train_seconds = time.monotonic() - started
    adapted_emb = top.embed(view0)
    adapted_scores = ranking_scores(adapted_emb, data.whales, held.held_out)
    if not adapted_scores["map5"] > base_scores["map5"] + cfg.min_gain:
        raise AdaptRefused(base_scores, adapted_scores, cfg.min_gain)

    record = {
        "base": {"name": embedder.card.name, "sha256": embedder.card.sha256},
        "gallery": {"id": data.gallery_id, "folder": str(gallery)},
        "used": {"whales": len(set(np.asarray(data.whales)[held.train].tolist())), "photos": len(held.train),
                 "review_pairs_kept": len(data.pairs), "misranked_kept": len(data.misranked),
                 "hard_triplets": len(hard), "views": cfg.views},
        "held_out": {"whales": len(held.held_out_whales), "photos": len(held.held_out),
                     "seed": cfg.seed, "whale_ids": held.held_out_whales,
                     "base": base_scores | distance_summary(base_emb, data.whales, held.held_out),
                     "adapted": adapted_scores | distance_summary(adapted_emb, data.whales, held.held_out)},
        "config": dataclasses.asdict(cfg), "steps": len(losses),
        "loss_first_last": [round(losses[0], 5), round(losses[-1], 5)] if losses else [],
        "seconds": {"features": round(feature_seconds, 1), "training": round(train_seconds, 1)},
        "threshold": "the base's new-whale threshold and verification, unchanged",
        "parity_base_max_abs_diff": parity_base,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    card = _write(split, top, embedder, out, name or out.stem, record, data, held)
    return AdaptResult(base_scores, adapted_scores, card, losses, record)


def _local(triplet: tuple[int, int, int], train: list[int]) -> tuple[int, int, int]:
    where = {g: i for i, g in enumerate(train)}
    return (where[triplet[0]], where[triplet[1]], where[triplet[2]])


def _parity(embedder: Any, top: OnnxTop, features: FeatureCache, data: GalleryData, held: HeldOut,
            n: int = 8) -> float:
    """The largest difference between the base ONNX model and its top in TensorFlow on a few gallery
    photos (fresh float32 features); :class:`ModelError` above :data:`PARITY_TOLERANCE`."""
    photos = [data.photos[i] for i in (held.train + held.held_out)[:n]]
    x = features.inputs(photos)
    diff = float(np.abs(embedder.embed(x) - top.embed(features.backbone(x))).max())
    if diff > PARITY_TOLERANCE:
        raise ModelError(embedder.path, f"the top run by TensorFlow differs from the model by {diff:.2e} "
                                        f"(limit {PARITY_TOLERANCE:g}); this model cannot be adapted")
    return diff


def _write(split: SplitEmbedder, top: OnnxTop, embedder: Any, out: Path, name: str, record: dict[str, Any],
           data: GalleryData, held: HeldOut) -> ModelCard:
    """Write ``out`` and its card, with the fluke finder beside them; the model is checked against the
    trained top before it takes its name (nothing is left behind when that fails)."""
    from whalegui.core.analysis import Analyser
    from whalegui.core.embedder import Embedder

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".adapting.tmp.onnx")
    tmp_card = card_path_for(tmp)
    try:
        write_adapted(split, top.weights(), tmp)
        base_card: ModelCard = embedder.card
        card = dataclasses.replace(base_card, name=name, sha256=file_sha256(tmp),
                                   created=record["date"], training=base_card.training | {"adapted": record})
        card.save(tmp_card)
        if base_card.fluke_finder is not None:
            _copy_finder(Path(embedder.path), out.parent, base_card.fluke_finder.model)
        photos = [data.photos[i] for i in (held.held_out + held.train)[:8]]
        features = FeatureCache(split, Analyser(embedder), None, views=1)
        try:
            x = features.inputs(photos)
            diff = float(np.abs(Embedder(tmp, device="cpu").embed(x) - top.embed(features.backbone(x))).max())
        finally:
            features.close()
        if diff > PARITY_TOLERANCE:
            raise ModelError(out, f"the written model differs from the trained top by {diff:.2e} "
                                  f"(limit {PARITY_TOLERANCE:g}); nothing written")
        record["parity_adapted_max_abs_diff"] = diff
        card = dataclasses.replace(card, training=base_card.training | {"adapted": record})
        card.save(tmp_card)
        tmp.replace(out)
        tmp_card.replace(card_path_for(out))
    finally:
        tmp.unlink(missing_ok=True)
        tmp_card.unlink(missing_ok=True)
    return card


def _copy_finder(base: Path, folder: Path, finder: str) -> None:
    """The fluke finder the card names, beside the adapted model (unless the same file is already there)."""
    for suffix in (".onnx", ".json"):
        src, dst = base.with_name(finder + suffix), folder / (finder + suffix)
        if src.resolve() == dst.resolve():
            continue
        if dst.exists() and dst.read_bytes() == src.read_bytes():
            continue
        if dst.exists():
            raise ModelError(dst, f"a different fluke finder {dst.name} is already there; write the adapted "
                                  "model into another folder")
        shutil.copyfile(src, dst)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gallery", type=Path, required=True, help="the gallery folder to adapt the model to")
    p.add_argument("--out", type=Path, required=True, help="the adapted MODEL.onnx (its card beside it)")
    p.add_argument("--base", type=Path, default=None,
                   help="the model to start from (default: the bundled one)")
    p.add_argument("--epochs", type=int, default=AdaptConfig.epochs, help="passes over the gallery's whales")
    p.add_argument("--holdout", type=float, default=AdaptConfig.holdout,
                   help="fraction of the whales with 2+ photos held out to check the model on")
    p.add_argument("--views", type=int, default=AdaptConfig.views,
                   help="views per photo: the crop and field augmentations of it")
    p.add_argument("--learning-rate", type=float, default=AdaptConfig.learning_rate)
    p.add_argument("--min-gain", type=float, default=AdaptConfig.min_gain,
                   help="how much the held-out MAP@5 must improve for the model to be written")
    p.add_argument("--seed", type=int, default=AdaptConfig.seed,
                   help="seed of the held-out whales and training")
    p.add_argument("--name", default=None, help="the adapted model's name (default: the file's stem)")
    p.add_argument("--cache", type=Path, default=None,
                   help=f"where to keep the backbone features between runs (default: {default_cache_dir()})")
    p.add_argument("--cpu", action="store_true", help="run the backbone on the CPU even if a GPU works")


def run(args: argparse.Namespace) -> int:
    from whalegui.cli import ProgressBar
    from whalegui.paths import bundled_model_path

    try:
        cfg = AdaptConfig(epochs=args.epochs, holdout=args.holdout, views=args.views,
                          learning_rate=args.learning_rate, min_gain=args.min_gain, seed=args.seed)
    except ValueError as exc:
        raise SystemExit(f"whale-train adapt: error: {exc}") from exc
    if not (args.gallery / "gallery.sqlite").is_file():
        raise GalleryError(f"no gallery at {args.gallery} (no gallery.sqlite there)")
    base = args.base if args.base is not None else bundled_model_path()
    bar = ProgressBar("features")

    def report(epoch: int, epochs: int, loss: float) -> None:
        bar.finish()
        print(f"adapt: epoch {epoch}/{epochs}, loss {loss:.4f}", file=sys.stderr, flush=True)

    try:
        result = adapt(args.gallery, args.out, base, cfg, cache=args.cache or default_cache_dir(),
                       name=args.name, device="cpu" if args.cpu else "auto", progress=bar, report=report)
    finally:
        bar.finish()
    b, a = result.base, result.adapted
    held = result.record["held_out"]
    print(f"held-out whales ({held['whales']} whales, {held['photos']} photos): top-1 {b['top1']:.3f} -> "
          f"{a['top1']:.3f}, MAP@5 {b['map5']:.3f} -> {a['map5']:.3f}")
    print(f"wrote {args.out} ({result.card.name}, {result.card.sha256[:12]}); apply it with: "
          f"whalegui reembed --gallery {args.gallery} --model {args.out}")
    return 0
