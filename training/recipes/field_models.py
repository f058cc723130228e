"""The recipe of the two bundled field models: the fluke detector and the field embedder.

    nice python -m training.recipes.field_models --work /tmp/field-models [--shared ../shared] [--out DIR]
    nice python -m training.recipes.field_models --work /tmp/field-smoke --smoke  # proves it runs

Reads (from ``../shared`` beside the repository, or ``--shared``; nothing of it is copied into the repo):

- ``data/real-labelled/`` (``labels.csv`` + ``images/``): real field frames with whale ids. Whales are split
  by :func:`training.real_split.split_whales` (seed 2018): only TRAIN whales are trained on; VALIDATION
  whales choose the new-whale threshold; TEST whales are scored once, with that threshold.
- ``data/real-flukes/``: real cropped fluke photos, unlabelled. Flukes 0-1799 (by name) are pasted into the
  detector's training composites, 1800- into its held-out ones; flukes 0-799 are the embedder's unlabelled
  classes (a thumbnail and two field augmentations each).
- ``weights/vgg16_imagenet_notop.weights.h5``: the ImageNet VGG16 weights (frozen).

Does, with every seed fixed:

1. detector: 6,000 composites (seed 1) and 600 held-out ones (seed 2) at 128x128, 5 epochs, batch 64,
   Adam 2e-3 with cosine decay; held-out box IoU, presence accuracy and tip error go in its card;
2. embedder: ``block4_pool`` features of every labelled frame (128x128 squash), of one field augmentation
   of every TRAIN frame and of the 800 fluke thumbnails x 3 views, cached in ``--work``; the GeM top trained
   800 steps of 24 whales x 4 samples (semi-hard, margin 0.2, Adam 1e-3 cosine) on TRAIN photos (views:
   frame, augmented frame, frame) and the flukes; embedding alone and the raw-VGG16 floor scored on
   VALIDATION (threshold chosen there) and TEST (that threshold).

Writes ``OUT/fluke-finder.onnx`` + ``.json`` (detector card) and ``OUT/whale-vgg16.onnx`` + ``.json``
(model card, naming the fluke finder and the crop rule), ready for ``resources/models/`` (the default
``--out``; with ``--smoke``, ``WORK/models``), and ``WORK/report.json`` with every figure and the time of
each stage. Its card's new-whale threshold is the embedding alone's; the verification weight and the fused
threshold are then chosen on VALIDATION by ``whale-train ablation`` (the row "crop only a fluke under 50%
of the frame + verification") and written into the card's ``verification`` and ``new_whale_threshold``, as
the bundled card's are (0.24 and -0.1241, with the ablation's figures in its ``metrics``).

Takes about 50 minutes on 2 shared CPU cores (stage by stage as timed): ~3 min making composites, 6-12 min of
detector epochs, ~30 min of VGG16 features (4,658 frames, 2,695 augmented TRAIN frames, 800 flukes x 3
views), ~4 min of top training, a minute of scoring and export. A second run with the same ``--work``
reuses the composites and the features. ``--smoke`` (40 whales, 30 + 10 flukes for composites, 40 for the
embedder, 1 detector epoch, 20 top steps) runs the whole path in under 2 minutes; its models are
meaningless. ``--only detector|embedder`` rebuilds one model.

What a full run gives (checked against the research run the design comes from): the embedder is the same
to the bit (VALIDATION top-1 0.270, TEST top-1 0.208, top-5 0.391, MAP@5 0.659, threshold 0.1822; the
floor's TEST top-1 0.120); the detector, seeded here, reaches a held-out box IoU of 0.70 (mean) and a
presence accuracy of 0.98.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from training.recipes.figures import round_figures
from whalegui.core.model_card import FlukeFinderRef, card_path_for

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SHARED = REPO.parent / "shared"
DEFAULT_OUT = REPO / "resources" / "models"
DETECTOR_NAME = "fluke-finder"
EMBEDDER_NAME = "whale-vgg16"  # the app's bundled default model (whalegui.resources.DEFAULT_MODEL_NAME)
#: The app's crop rule in the embedder's card (:func:`whalegui.core.fluke.crops_for_embedding`), fixed
#: beforehand and measured by ``whale-train ablation``.
CROP_BELOW = 0.5
SPLIT_SEED = 2018
FLOOR = "floor: raw VGG16 (block 5 GAP), whole frame"

log = logging.getLogger("field_models")


@dataclass(frozen=True)
class Budget:
    """How much data and training each stage gets; the defaults are the shipped models'."""

    whales: int = 0  # labelled whales used (0: all)
    detector_flukes: int = 1800  # flukes for training composites; the next ones make the held-out ones
    detector_val_flukes: int = 0  # how many of those next ones (0: all the rest)
    train_composites: int = 6000
    val_composites: int = 600
    detector_epochs: int = 5
    detector_batch: int = 64
    embed_flukes: int = 800
    fluke_views: int = 3
    steps: int = 800
    whales_per_batch: int = 24


SMOKE = Budget(whales=40, detector_flukes=30, detector_val_flukes=10, train_composites=200, val_composites=40,
               detector_epochs=1, detector_batch=32, embed_flukes=40, steps=20, whales_per_batch=8)


def subset_whales(photos: Any, n: int) -> Any:
    """The photos of the first ``n`` multi-photo and ``n // 4`` single-photo whales (by id): a small set
    with the same structure, for ``--smoke``."""
    from training.real_split import Photos

    groups = photos.by_whale()
    multi = sorted(w for w, idx in groups.items() if len(idx) >= 2)[:n]
    single = sorted(w for w, idx in groups.items() if len(idx) == 1)[:n // 4]
    keep = set(multi) | set(single)
    idx = [i for i, w in enumerate(photos.whales) if w in keep]
    return Photos([photos.paths[i] for i in idx], [photos.whales[i] for i in idx])


def build_detector_model(flukes: list[Path], out: Path, work: Path, budget: Budget) -> dict[str, Any]:
    """Stage 1: composites, training, held-out metrics, export. Returns the detector's figures."""
    import keras

    from training import composites
    from training.detector import (
        DetectorTraining,
        build_detector,
        detector_metrics,
        export_detector,
        train_detector,
    )

    path = work / (f"composites-{budget.detector_flukes}-{budget.detector_val_flukes}-"
                   f"{budget.train_composites}-{budget.val_composites}.npz")
    if path.is_file():
        z = np.load(path)
        train = {k[3:]: z[k] for k in z.files if k.startswith("tr_")}
        val = {k[3:]: z[k] for k in z.files if k.startswith("va_")}
    else:
        log.info("making %d + %d composites", budget.train_composites, budget.val_composites)
        train = composites.make_set(flukes[:budget.detector_flukes], budget.train_composites, seed=1)
        held_out = flukes[budget.detector_flukes:]
        if budget.detector_val_flukes:
            held_out = held_out[:budget.detector_val_flukes]
        val = composites.make_set(held_out, budget.val_composites, seed=2)
        arrays: dict[str, Any] = {**{f"tr_{k}": v for k, v in train.items()},
                                  **{f"va_{k}": v for k, v in val.items()}}
        np.savez(path, **arrays)
    cfg = DetectorTraining(epochs=budget.detector_epochs, batch_size=budget.detector_batch)
    keras.utils.set_random_seed(cfg.seed)
    net = build_detector(composites.SIZE)
    history = train_detector(net, train, val, cfg)
    metrics = detector_metrics(net, val)
    log.info("detector on held-out composites: %s", metrics)
    net.save(work / "detector.keras")
    metrics_card = {"held_out_composites": round_figures(metrics),
                    "held_out": (f"{budget.val_composites} composites of real cropped flukes "
                                 f"{budget.detector_flukes}- never pasted into a training composite")}
    training = {"data": (f"{budget.train_composites} composites (training/composites.py, seed 1): real "
                         f"cropped flukes 0-{budget.detector_flukes - 1} of the Kaggle humpback "
                         "competition's unlabelled images pasted on synthetic sea and sky; a tenth without "
                         "a fluke"),
                "config": asdict(cfg),
                "loss": "GIoU + 2 L1 (box) + 2 L1 (tips) over frames with a fluke, + 0.3 BCE (presence)",
                "loss_by_epoch": round_figures(history.get("loss", [])),
                "val_loss_by_epoch": round_figures(history.get("val_loss", [])),
                "recipe": "python -m training.recipes.field_models"}
    card = export_detector(net, out / f"{DETECTOR_NAME}.onnx", name=DETECTOR_NAME, metrics=metrics_card,
                           training=training)
    return {"metrics": metrics, "history": history, "sha256": card.sha256}


def build_embedder_model(photos: Any, split: Any, flukes: list[Path], weights: Path, out: Path, work: Path,
                         budget: Budget) -> dict[str, Any]:
    """Stage 2: features, top training, VALIDATION/TEST scores with the floor, export."""
    from training.field_augment import FieldAugment
    from training.field_embedder import (
        FieldEmbedderConfig,
        build_field_embedder,
        embed_features,
        export_field_embedder,
        train_top,
    )
    from training.field_features import (
        block4_extractor,
        block4_features,
        floor_descriptors,
        fluke_views,
        frame_views,
    )
    from training.real_split import evaluate_embeddings, make_eval_set

    cfg = replace(FieldEmbedderConfig(), steps=budget.steps, whales_per_batch=budget.whales_per_batch)
    prep, w = cfg.preprocessing(), str(weights)
    augment = FieldAugment()
    val_set, test_set = make_eval_set(photos, split.val), make_eval_set(photos, split.test)
    times: dict[str, float] = {}

    t0 = time.perf_counter()
    extractor = block4_extractor(cfg.size, w)
    tidx = np.asarray([i for i, wid in enumerate(photos.whales) if wid in split.train])
    frames = block4_features(extractor, frame_views(photos.paths, prep), 1, weights=w, work=work,
                             label="frames")
    aug = block4_features(extractor, frame_views([photos.paths[i] for i in tidx], prep, augment), 1,
                          weights=w, work=work, label="frames-aug")
    fl = block4_features(extractor, fluke_views(flukes[:budget.embed_flukes], prep, augment),
                         budget.fluke_views, weights=w, work=work, label="flukes")
    times["features_s"] = time.perf_counter() - t0

    # Class ids over all whales' sorted ids, as the research run numbered them (the sampler's order).
    whale_ids = {wid: k for k, wid in enumerate(sorted(set(photos.whales)))}
    labels = np.asarray([whale_ids[photos.whales[i]] for i in tidx])
    views = [frames[tidx, 0], aug[:, 0]]
    items = np.stack([views[k % len(views)] for k in range(budget.fluke_views)], axis=1)
    items = np.concatenate([items, fl])
    labels = np.concatenate([labels, labels.max() + 1 + np.arange(len(fl))])
    log.info("training items %s, classes %d", items.shape, len(np.unique(labels)))

    t0 = time.perf_counter()
    top, losses = train_top(items, labels, cfg)
    times["top_training_s"] = time.perf_counter() - t0
    top.save(work / "top.keras")

    t0 = time.perf_counter()
    scores: dict[str, Any] = {}
    floor = floor_descriptors(frames[:, 0], w)
    for name, emb in (("embedding, whole frame", embed_features(top, frames[:, 0])),
                      (FLOOR, floor)):
        sv, _ = evaluate_embeddings(emb, photos, val_set)
        st, _ = evaluate_embeddings(emb, photos, test_set, threshold=sv.threshold)
        scores[name] = {"val": asdict(sv), "test": asdict(st)}
        log.info("%s: VAL %s; TEST %s", name, sv, st)
    times["scoring_s"] = time.perf_counter() - t0
    chosen = scores["embedding, whole frame"]
    # MAP@5 may peak at a threshold of 0 on a tiny set; the card needs a cosine distance in (0, 2].
    threshold = float(np.clip(chosen["val"]["threshold"], 1e-3, 2.0))

    n_train_photos, n_train_whales = len(tidx), len(split.train)
    training = {
        "recipe": "python -m training.recipes.field_models --work WORK",
        "trained_on": (f"{n_train_photos} real field photos of {n_train_whales} TRAIN whales (views: the "
                       f"frame, a field augmentation, the frame) and {len(fl)} real unlabelled cropped "
                       f"flukes, each its own class (views: a 100x100 thumbnail and "
                       f"{budget.fluke_views - 1} field augmentations); no mirroring"),
        "split": (f"by whale, training.real_split.split_whales seed {SPLIT_SEED}: "
                  f"{len(split.train)} TRAIN, {len(split.val)} VALIDATION, {len(split.test)} TEST whales"),
        "field_augmentation": repr(augment),
        "loss_every_100_steps": round_figures([float(np.mean(losses[s:s + 100]))
                                        for s in range(0, len(losses), 100)]),
        "new_whale_threshold": "cosine distance, embedding alone, chosen on VALIDATION (MAP@5)",
    }
    metrics = {
        "evaluation": ("held-out whales only; known whales give one query and the rest to the gallery, 25 % "
                       "of multi-photo whales are unknown (all queries), single-photo whales are "
                       "distractors; top-1/top-5 over known queries, MAP@5 with new_whale over all"),
        "validation": round_figures(chosen["val"]), "test": round_figures(chosen["test"]),
        "floor_raw_vgg16": {"validation": round_figures(scores[FLOOR]["val"]),
                            "test": round_figures(scores[FLOOR]["test"])},
        "input": "the whole frame (the detector crop measured worse on the 100x100 labelled frames)",
    }
    t0 = time.perf_counter()
    embedder = build_field_embedder(top, cfg, w)
    val_photos = tuple(photos.paths[int(i)] for i in val_set.queries[:8])
    card = export_field_embedder(embedder, out / f"{EMBEDDER_NAME}.onnx", cfg, name=EMBEDDER_NAME,
                                 new_whale_threshold=threshold, training=training, metrics=metrics,
                                 real_photos=val_photos)
    # The card names the fluke finder beside it, so the app finds the fluke before embedding. The card is
    # not part of the model's sha256: the ablation's fusion weight and threshold can be written in later.
    card = replace(card, fluke_finder=FlukeFinderRef(DETECTOR_NAME, 0.1, CROP_BELOW))
    card.save(card_path_for(out / f"{EMBEDDER_NAME}.onnx"))
    times["export_s"] = time.perf_counter() - t0
    return {"scores": scores, "threshold": threshold, "sha256": card.sha256, "times": times,
            "items": list(items.shape), "classes": len(np.unique(labels))}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, required=True, help="scratch folder (composites, feature cache)")
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                   help="the shared folder (default ../shared beside the repo)")
    p.add_argument("--out", type=Path, default=None,
                   help=f"where the models go (default {DEFAULT_OUT}; with --smoke WORK/models)")
    p.add_argument("--only", choices=["detector", "embedder"], help="rebuild one model only")
    p.add_argument("--smoke", action="store_true", help="a tiny budget that checks the recipe runs")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    from training.composites import fluke_paths
    from training.real_split import Photos, split_whales
    from training.tensorflow_setup import import_tensorflow

    labelled = args.shared / "data" / "real-labelled"
    flukes_dir = args.shared / "data" / "real-flukes"
    weights = args.shared / "weights" / "vgg16_imagenet_notop.weights.h5"
    missing = [q for q in (labelled / "labels.csv", flukes_dir, weights) if not q.exists()]
    if missing:
        raise SystemExit(f"field_models: {missing[0]} not found (pass --shared, the folder beside the repo)")
    budget = SMOKE if args.smoke else Budget()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    out: Path = args.out or (work / "models" if args.smoke else DEFAULT_OUT)
    out.mkdir(parents=True, exist_ok=True)
    import_tensorflow()

    t_start = time.perf_counter()
    photos = Photos.load(labelled)
    if budget.whales:
        photos = subset_whales(photos, budget.whales)
    split = split_whales(photos, seed=SPLIT_SEED)
    flukes = fluke_paths(flukes_dir)
    log.info("%d labelled photos of %d whales (%d TRAIN), %d flukes", len(photos.paths),
             len(set(photos.whales)), len(split.train), len(flukes))
    report_path = work / "report.json"
    # a run with --only keeps the other model's figures from an earlier run
    report: dict[str, Any] = {}
    if args.only and report_path.is_file():
        report = json.loads(report_path.read_text())
    report.update({"budget": asdict(budget), "out": str(out)})
    if args.only in (None, "detector"):
        t0 = time.perf_counter()
        report["detector"] = build_detector_model(flukes, out, work, budget)
        report["detector"]["seconds"] = time.perf_counter() - t0
    if args.only in (None, "embedder"):
        t0 = time.perf_counter()
        report["embedder"] = build_embedder_model(photos, split, flukes, weights, out, work, budget)
        report["embedder"]["seconds"] = time.perf_counter() - t0
    report["wall_seconds"] = time.perf_counter() - t_start
    report_path.write_text(json.dumps(round_figures(report), indent=2) + "\n")
    log.info("done in %.0f s; models in %s; figures in %s", report["wall_seconds"], out, report_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
