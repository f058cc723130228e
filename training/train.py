"""``whale-train fit``: train the triplet embedding model, on cached backbone features or end to end.

A run folder gets ``config.json``, ``embedder.weights.h5`` (the whole embedder, for export),
``history.json`` (loss and seconds per epoch), ``validation.json`` (MAP@5 on validation whales and the
tuned ``new_whale`` threshold), ``data.json`` (what it was trained on) and ``logs/`` for TensorBoard.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.config import MINING, TrainConfig
from training.data import (
    UNLABELLED_PREFIX,
    Catalogue,
    encode_labels,
    keep_min_photos,
    photos_per_whale_histogram,
    read_catalogue,
    read_folders,
    split_by_whale,
    unlabelled_photos,
    with_unlabelled,
)

log = logging.getLogger(__name__)

Fetch = Callable[[Sequence[tuple[int, int]]], np.ndarray]


@dataclass
class FitResult:
    run_dir: Path
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds_per_epoch: list[float] = field(default_factory=list)
    feature_seconds: float = 0.0
    validation: dict[str, Any] = field(default_factory=dict)


def parse_image_size(text: str) -> tuple[int, int]:
    """``HxW`` (e.g. ``96x288``) or a single height ``S`` for a wide ``S x 3S`` input."""
    try:
        if "x" in text.lower():
            h, w = (int(v) for v in text.lower().split("x"))
        else:
            h = int(text)
            w = 3 * h
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"image size must be HxW or S, not {text!r}") from exc
    return h, w


def make_sequence(sampler_kind: str, labels: np.ndarray, fetch: Fetch, cfg: TrainConfig, views: int,
                  seed: int, steps: int | None = None) -> Any:
    """A Keras PyDataset of triplets (random) or P x K batches (batch-hard, semi-hard), resampled every
    epoch."""
    import keras

    from training.mining import PKBatches, RandomTriplets

    class TripletBatches(keras.utils.PyDataset):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.n_steps = steps or max(1, math.ceil(len(labels) / cfg.batch_size))
            if sampler_kind == "random":
                self.sampler: Any = RandomTriplets(labels, views, seed)
            else:
                self.sampler = PKBatches(labels, views, seed, cfg.whales_per_batch, cfg.photos_per_whale)
            self._draw()

        def _draw(self) -> None:
            if sampler_kind == "random":
                triplets = self.sampler.epoch()
                order = self.sampler.rng.permutation(len(triplets))
                triplets = [triplets[i] for i in order]
                b = cfg.batch_size
                self.batches = [triplets[i * b:(i + 1) * b] for i in range(self.n_steps)]
                self.batches = [t for t in self.batches if t] or [triplets[:b]]
            else:
                self.batches = self.sampler.epoch(self.n_steps)

        def __len__(self) -> int:
            return len(self.batches)

        def __getitem__(self, idx: int) -> Any:
            batch = self.batches[idx]
            if sampler_kind == "random":
                a, p, n = (fetch([t[k] for t in batch]) for k in range(3))
                return (a, p, n), np.zeros(len(batch), np.float32)
            samples, labs = batch
            return fetch(samples), np.asarray(labs, np.int32)

        def on_epoch_end(self) -> None:
            self._draw()

    return TripletBatches()


class _EpochTimer:
    def __init__(self) -> None:
        import keras

        outer = self
        self.seconds: list[float] = []

        class Timer(keras.callbacks.Callback):  # type: ignore[misc]
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self._t = time.perf_counter()

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                outer.seconds.append(time.perf_counter() - self._t)

        self.callback = Timer()


def fit(cfg: TrainConfig, train: Catalogue, val: Catalogue, run_dir: str | Path, *,
        cache_dir: str | Path | None = None, verbose: int = 1, steps_per_epoch: int | None = None,
        tensorboard: bool = True) -> FitResult:
    """Train on ``train`` (validation by individual on ``val``) and save the run in ``run_dir``."""
    import keras

    from training.evaluate import validation_report
    from training.features import ViewLoader, cached_features
    from training.model import TripletTrainer, build_whale_model, distribution_strategy

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    cfg.save(run / "config.json")
    prep = cfg.preprocessing()
    labels, _ = encode_labels(train.ids)
    val_labels, _ = encode_labels(val.ids) if len(val) else (np.zeros(0, np.int64), [])
    strategy = distribution_strategy()
    with strategy.scope():
        wm = build_whale_model(cfg)
    result = FitResult(run)

    train_loader = ViewLoader(train.paths, prep, cfg.seed)
    val_loader = ViewLoader(val.paths, prep, cfg.seed + 1)
    if cfg.cached:
        t0 = time.perf_counter()
        log.info("computing %s features of %d photos x %d views (once)", cfg.cache_layer, len(train),
                 cfg.views)
        feats = cached_features(wm.extractor, train_loader, cfg.views, weights=cfg.weights,
                                layer=cfg.cache_layer, cache_dir=Path(cache_dir) if cache_dir else None,
                                progress=_progbar(len(train), verbose))
        val_views = min(cfg.views, 2)
        val_feats = (cached_features(wm.extractor, val_loader, val_views, weights=cfg.weights,
                                     layer=cfg.cache_layer, cache_dir=Path(cache_dir) if cache_dir else None,
                                     progress=_progbar(len(val), verbose)) if len(val) else None)
        result.feature_seconds = time.perf_counter() - t0
        net = wm.top
        views = cfg.views

        def fetch(samples: Sequence[tuple[int, int]]) -> np.ndarray:
            idx = np.asarray(samples)
            return np.asarray(feats[idx[:, 0], idx[:, 1]], dtype=np.float32)

        def val_fetch(samples: Sequence[tuple[int, int]]) -> np.ndarray:
            assert val_feats is not None
            idx = np.asarray(samples)
            return np.asarray(val_feats[idx[:, 0], idx[:, 1]], dtype=np.float32)
    else:
        net = wm.embedder
        views = max(cfg.views, 2)  # view 0 = the photo, others = fresh augmentations
        fresh = ViewLoader(train.paths, prep, cfg.seed, fresh=True)
        val_views = 2
        fetch = fresh.batch
        val_fetch = val_loader.batch

    with strategy.scope():
        trainer = TripletTrainer(net, cfg.margin, "triplet" if cfg.mining == "random" else cfg.mining)
        trainer.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
    train_seq = make_sequence(cfg.mining, labels, fetch, cfg, views, cfg.seed, steps_per_epoch)
    val_seq = None
    if len(val) and len(set(val.ids)) >= 2:
        val_seq = make_sequence(cfg.mining, val_labels, val_fetch, cfg, val_views, cfg.seed + 7)
    timer = _EpochTimer()
    callbacks: list[Any] = [timer.callback, keras.callbacks.CSVLogger(str(run / "history.csv"))]
    if tensorboard and _has_tensorboard():
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run / "logs"), write_graph=False))
    hist = trainer.fit(train_seq, validation_data=val_seq, epochs=cfg.epochs, callbacks=callbacks,
                       verbose=verbose)
    result.history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    result.seconds_per_epoch = timer.seconds
    wm.embedder.save_weights(str(run / "embedder.weights.h5"))

    if len(val):
        if cfg.cached and val_feats is not None:
            val_emb = np.asarray(wm.top.predict(val_feats[:, 0].astype(np.float32), verbose=0))
        else:
            val_emb = np.asarray(wm.embedder.predict(
                np.stack([val_loader.views(i, [0])[0] for i in range(len(val))]), verbose=0))
        result.validation = validation_report(val_emb, val.ids, seed=cfg.seed)
    (run / "validation.json").write_text(json.dumps(result.validation, indent=2) + "\n")
    (run / "history.json").write_text(json.dumps(
        {"history": result.history, "seconds_per_epoch": result.seconds_per_epoch,
         "feature_seconds": result.feature_seconds}, indent=2) + "\n")
    (run / "val_photos.txt").write_text("".join(f"{p}\n" for p in val.paths[:64]))
    return result


def _has_tensorboard() -> bool:
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        log.warning("TensorBoard is not installed: no training logs for it (pip install tensorboard)")
        return False
    return True


def data_summary(train: Catalogue, val: Catalogue) -> dict[str, Any]:
    unl = sum(1 for w in train.ids if w.startswith(UNLABELLED_PREFIX))
    labelled = [w for w in train.ids if not w.startswith(UNLABELLED_PREFIX)]
    return {"source": train.source, "train_photos": len(train) - unl, "train_whales": len(set(labelled)),
            "unlabelled_photos": unl, "val_photos": len(val), "val_whales": len(set(val.ids))}


def _progbar(total: int, verbose: int) -> Callable[[int, int], None] | None:
    if not verbose or total == 0:
        return None
    import keras

    bar = keras.utils.Progbar(total, unit_name="photo", verbose=verbose)
    return lambda done, _total: bar.update(done)


def load_training_data(cfg: TrainConfig, csv: Path | None, images: Path,
                       unlabelled: Path | None) -> tuple[Catalogue, Catalogue]:
    cat = read_catalogue(csv, images) if csv else read_folders(images)
    cat = keep_min_photos(cat, cfg.min_photos)
    if len(set(cat.ids)) < 2:
        from whalegui.core.errors import CatalogueError

        raise CatalogueError(csv or images, f"fewer than two whales with at least {cfg.min_photos} photos")
    train, val = split_by_whale(cat, cfg.val_fraction, cfg.seed)
    if unlabelled:
        train = with_unlabelled(train, unlabelled_photos(unlabelled, cfg.max_unlabelled, cfg.seed))
    return train, val


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--csv", type=Path, metavar="CSV",
                   help="Kaggle catalogue (Image,Id); omit to read one folder per whale from --images")
    p.add_argument("--images", type=Path, required=True, metavar="DIR",
                   help="folder of the catalogue's photos")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="run folder to write (config, weights, logs, reports)")
    p.add_argument("--backbone", default=d.backbone, choices=["vgg16"], help="convolutional backbone")
    p.add_argument("--weights", default=d.weights,
                   help="backbone weights: imagenet (Keras download), none (random), or a local .h5 file")
    p.add_argument("--image-size", type=parse_image_size, default=(d.height, d.width), metavar="HxW",
                   help=f"model input, HxW or S for Sx3S, multiples of 32 (default: {d.height}x{d.width})")
    p.add_argument("--resize", default=d.resize, choices=["squash", "letterbox", "crop"],
                   help="how a photo is fitted to the input")
    p.add_argument("--embedding-dim", type=int, default=d.embedding_dim, help="embedding size")
    p.add_argument("--margin", type=float, default=d.margin,
                   help="triplet margin alpha on squared distances")
    p.add_argument("--mining", default=d.mining, choices=MINING,
                   help="random: the original triplets; batch-hard / semi-hard: mined in P x K batches")
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="triplets or photos per batch")
    p.add_argument("--whales-per-batch", type=int, default=d.whales_per_batch,
                   help="P of batch-hard's P whales x K photos (K = batch size / P)")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="Adam learning rate")
    p.add_argument("--unlabelled", type=Path, metavar="DIR",
                   help="folder of unlabelled photos: each trains against an augmented copy of itself")
    p.add_argument("--max-unlabelled", type=int, default=0,
                   help="use at most this many unlabelled photos; 0 uses all")
    p.add_argument("--views", type=int, default=d.views,
                   help="cached views per photo: the photo plus VIEWS-1 augmented copies")
    p.add_argument("--no-cache", action="store_true",
                   help="train end to end through the backbone every step (slow; the original scheme)")
    p.add_argument("--unfreeze-block5", action="store_true",
                   help="fine-tune VGG16's last block too (features cached at block4_pool)")
    p.add_argument("--head", default=d.head, choices=["conv-flatten", "gap"],
                   help="top layers: 1x1 conv + flatten (keeps where the marks are) or global average pool")
    p.add_argument("--min-photos", type=int, default=d.min_photos,
                   help="train on whales with at least this many photos (1: all, with augmented positives)")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="fraction of whales held out for validation and the new_whale threshold")
    p.add_argument("--cache-dir", type=Path, metavar="DIR",
                   help="keep computed backbone features here to reuse them")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    h, w = args.image_size
    return TrainConfig(
        height=h, width=w, resize=args.resize, backbone=args.backbone, weights=args.weights,
        embedding_dim=args.embedding_dim, margin=args.margin, mining=args.mining, epochs=args.epochs,
        batch_size=args.batch_size, whales_per_batch=args.whales_per_batch,
        learning_rate=args.learning_rate, seed=args.seed, views=args.views, cached=not args.no_cache,
        unfreeze_block5=args.unfreeze_block5, head=args.head, min_photos=args.min_photos,
        val_fraction=args.val_fraction, max_unlabelled=args.max_unlabelled,
    )


def run(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        raise SystemExit(f"whale-train fit: error: {exc}") from exc
    train, val = load_training_data(cfg, args.csv, args.images, args.unlabelled)
    print(photos_per_whale_histogram(train))
    summary = data_summary(train, val)
    print(json.dumps(summary))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data.json").write_text(json.dumps(summary, indent=2) + "\n")
    # Keras draws progress bars with ANSI codes; off a terminal (a log file, a pipe) one line per epoch.
    result = fit(cfg, train, val, out, cache_dir=args.cache_dir, verbose=1 if sys.stdout.isatty() else 2)
    secs = result.seconds_per_epoch
    print(f"trained {len(secs)} epochs, {np.median(secs) if secs else 0:.2f} s/epoch "
          f"(+{result.feature_seconds:.1f} s computing features); validation {result.validation}")
    print(f"run saved in {out}")
    return 0
