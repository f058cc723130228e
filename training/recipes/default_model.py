"""The recipe of the earlier default model (trained on synthetic whales; shipped until issue 10), kept for
comparison. The bundled models now come from :mod:`training.recipes.field_models`; this recipe writes
``WORK/whale-synthetic.onnx`` (+ its ``.json`` card) unless ``--out`` says otherwise.

    nice python -m training.recipes.default_model --work /tmp/whale-default

Reproducible from the repository plus ``../shared`` (the ImageNet VGG16 weights file and the real
unlabelled fluke photos; neither is copied into the repo):

1. synthetic flukes for training (seed 1001) and a separate synthetic test set never seen in training
   (seed 2002: other individuals; gallery photos, held-out photos of known whales, unknown whales);
2. real unlabelled photos from ``../shared/data/real-flukes`` as extra individuals whose positive is an
   augmented copy of themselves;
3. VGG16 (ImageNet, frozen) features computed once per photo and view, cached; the top trained on the
   same features and budget with ``random`` triplets (the original), ``batch-hard`` and ``semi-hard``
   mining; the one with the best validation MAP@5 is shipped (the test set never chooses);
4. all scored on the synthetic test set (MAP@5 with new_whale at the validation-tuned threshold); the
   chosen one exported with float16 weights, evaluated again through ONNX Runtime and the app's
   loader, and its card filled with what it was trained on, its figures, and the VGG16 credit.

The shipped model was made with ``--study`` (input_size_study's JSON) and ``--ablation``
(ablation's JSON) given, so the card quotes them.

Every figure lands in WORK/report.json and the card.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from training.recipes.figures import round_figures

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"
WEIGHTS = SHARED / "weights" / "vgg16_imagenet_notop.weights.h5"
REAL = SHARED / "data" / "real-flukes"

TRAIN_SEED, TEST_SEED = 1001, 2002
#: ONNX Runtime CPU latency (ms, p50 of 15, batch 1, 2 threads) of VGG16 conv + pooling + Dense(128) by
#: input size, measured while the 2-core machine was otherwise quiet (the study's own figures were not).
IDLE_LATENCY_MS = {"96x288": 119, "112x336": 151, "128x384": 220, "160x480": 349}

log = logging.getLogger("default_model")


def read_test_set(test_dir: Path) -> tuple[Any, Any, list[Path], list[str]]:
    """The synthetic test set: (gallery catalogue, query catalogue, query paths, query truths), the
    photos of unknown whales last with the truth ``new_whale``."""
    from training.data import read_catalogue

    gal = read_catalogue(test_dir / "train.csv", test_dir / "train")
    qry = read_catalogue(test_dir / "test_labels.csv", test_dir / "test")
    return (gal, qry, *qry.queries())


def backbone_features(wm: Any, cfg: Any, paths: list[Path], cache: Path) -> np.ndarray:
    """The frozen backbone's features of ``paths`` (one unaugmented view each), through the cache."""
    from training.features import ViewLoader, cached_features

    feats = cached_features(wm.extractor, ViewLoader(paths, cfg.preprocessing()), 1, weights=cfg.weights,
                            layer=cfg.cache_layer, cache_dir=cache)
    return np.asarray(feats[:, 0], dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, required=True, help="scratch folder (data, feature cache, runs)")
    p.add_argument("--out", type=Path, default=None,
                   help="the model to write (default: WORK/whale-synthetic.onnx)")
    p.add_argument("--size", default="96x288", help="input HxW (see input_size_study)")
    p.add_argument("--resize", default="squash")
    p.add_argument("--whales", type=int, default=400, help="synthetic training individuals")
    p.add_argument("--test-whales", type=int, default=120, help="synthetic test individuals (known)")
    p.add_argument("--test-unknown", type=int, default=40, help="synthetic test individuals not in gallery")
    p.add_argument("--unlabelled", type=int, default=600, help="real unlabelled photos used")
    p.add_argument("--views", type=int, default=2)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--margin", type=float, default=0.5)
    p.add_argument("--width-range", default="500-900", help="synthetic photo widths")
    p.add_argument("--study", type=Path, help="study.json from input_size_study, quoted in the card")
    p.add_argument("--ablation", type=Path, help="ablation.json from training.recipes.ablation, quoted")
    p.add_argument("--skip-fp32-eval", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t_start = time.perf_counter()

    from training.config import TrainConfig
    from training.evaluate import evaluate, rank_whales, score
    from training.export import VGG16_CREDIT, export_run
    from training.model import build_whale_model
    from training.synthetic import generate_dataset
    from training.train import data_summary, fit, load_training_data
    from whalegui.core.model_card import ModelCard, card_path_for

    if not WEIGHTS.is_file() or not REAL.is_dir():
        raise SystemExit(f"needs {WEIGHTS} and {REAL} (the shared folder beside the repo)")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    if args.out is None:
        args.out = work / "whale-synthetic.onnx"
    cache = work / "feature-cache"
    h, w = (int(v) for v in args.size.split("x"))
    low, high = (int(v) for v in args.width_range.split("-"))
    wr = (low, high)

    # 1. data
    train_dir, test_dir = work / "synth-train", work / "synth-test"
    if not (train_dir / "train.csv").is_file():
        log.info("generating %d synthetic training whales", args.whales)
        generate_dataset(train_dir, whales=args.whales, train_per_whale=(1, 6), test_per_whale=0,
                         seed=TRAIN_SEED, width_range=wr)
    if not (test_dir / "test_labels.csv").is_file():
        log.info("generating the synthetic test set")
        generate_dataset(test_dir, whales=args.test_whales, train_per_whale=(1, 4), test_per_whale=1,
                         unknown_whales=args.test_unknown, seed=TEST_SEED, width_range=wr)
    base = TrainConfig(height=h, width=w, resize=args.resize, weights=str(WEIGHTS), views=args.views,
                       epochs=args.epochs, margin=args.margin, min_photos=1, val_fraction=0.15,
                       max_unlabelled=args.unlabelled, seed=0)
    train, val = load_training_data(base, train_dir / "train.csv", train_dir / "train", REAL)
    summary = data_summary(train, val)
    log.info("data: %s", summary)

    # 2. features once, 3. the top twice (same features, same budget)
    runs: dict[str, Any] = {}
    for mining in ("batch-hard", "random", "semi-hard"):
        cfg = replace(base, mining=mining)
        t0 = time.perf_counter()
        res = fit(cfg, train, val, work / f"run-{mining}", cache_dir=cache, verbose=2)
        runs[mining] = {"cfg": cfg, "result": res, "wall_seconds": time.perf_counter() - t0}
        (work / f"run-{mining}" / "data.json").write_text(json.dumps(summary, indent=2) + "\n")
        log.info("%s: %.1f s/epoch (median), features %.0f s, validation %s", mining,
                 float(np.median(res.seconds_per_epoch)), res.feature_seconds, res.validation)

    # 4. score both on the unseen synthetic test set (cached Keras features of its photos)
    gal, qry, q_paths, q_truth = read_test_set(test_dir)
    wm = build_whale_model(base)
    gf, qf = (backbone_features(wm, base, paths, cache) for paths in (gal.paths, q_paths))
    comparison: dict[str, Any] = {}
    for mining, r in runs.items():
        wm.embedder.load_weights(str(work / f"run-{mining}" / "embedder.weights.h5"))
        ge = np.asarray(wm.top.predict(gf, verbose=0))
        qe = np.asarray(wm.top.predict(qf, verbose=0))
        thr = float(r["result"].validation.get("new_whale_threshold", 0.5))
        s, _, _, _ = evaluate(qe, ge, q_truth, gal.ids, thr)
        comparison[mining] = {"map5": s["map5"], "threshold": thr, "top1_known": s["top1_known"],
                              "top5_known": s["top5_known"],
                              "map5_at_best_threshold": s["map5_at_best_threshold"],
                              "distances": s["distances"],
                              "seconds_per_epoch_cached": float(np.median(r["result"].seconds_per_epoch)),
                              "final_loss": r["result"].history["loss"][-1]}
        log.info("test set, %s mining: %s", mining, comparison[mining])
    untrained = score(rank_whales(qf.reshape(len(qf), -1) / np.linalg.norm(qf.reshape(len(qf), -1), axis=1,
                                                                         keepdims=True),
                                  gf.reshape(len(gf), -1) / np.linalg.norm(gf.reshape(len(gf), -1), axis=1,
                                                                         keepdims=True), gal.ids),
                      q_truth, 0.5)
    # chosen on validation whales, never on the test set
    best = max(runs, key=lambda k: float(runs[k]["result"].validation.get("map5", 0.0)))
    log.info("shipping the %s model (best validation MAP@5)", best)

    # 5. export (fp32 for reference, fp16 shipped), evaluate through ONNX Runtime and the app's loader
    real_parity = sorted(REAL.glob("*.jpg"))[-8:]
    from training.evaluate import embed_paths
    from whalegui.core.embedder import Embedder

    onnx_eval: dict[str, Any] = {}
    targets = {"fp16": args.out} if args.skip_fp32_eval else {"fp32": work / "whale-vgg16-fp32.onnx",
                                                              "fp16": args.out}
    for kind, path in targets.items():
        export_run(work / f"run-{best}", path, name="whale-vgg16",
                   compress="fp16" if kind == "fp16" else "none", real_photos=real_parity)
        emb = Embedder(path, device="cpu")
        ge = embed_paths(emb, gal.paths, label=f"{kind} gallery")
        qe = embed_paths(emb, q_paths, label=f"{kind} queries")
        s, listing, _, _ = evaluate(qe, ge, q_truth, gal.ids, emb.card.new_whale_threshold)
        onnx_eval[kind] = s
        (work / f"queries-{kind}.txt").write_text("\n".join(listing) + "\n")
        log.info("ONNX %s on the test set: MAP@5 %.4f", kind, s["map5"])

    card_path = card_path_for(args.out)
    card = ModelCard.load(card_path)
    study = json.loads(args.study.read_text()) if args.study and args.study.is_file() else None
    fin = onnx_eval["fp16"]
    training = dict(card.training)
    training.update({
        "recipe": "python -m training.recipes.default_model --work WORK "
                  + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in (
                      ("size", args.size), ("whales", args.whales), ("unlabelled", args.unlabelled),
                      ("views", args.views), ("epochs", args.epochs), ("margin", args.margin))),
        "trained_on": (
            f"{summary['train_photos']} synthetic fluke photos of {summary['train_whales']} synthetic "
            f"individuals (training/synthetic/, seed {TRAIN_SEED}) plus {summary['unlabelled_photos']} "
            "real unlabelled fluke photos (Kaggle Humpback Whale Identification 'new_whale' images), "
            "each paired with an augmented copy of itself; validation on "
            f"{summary['val_whales']} held-out synthetic individuals. No labelled real photos: "
            "accuracy on real whales is unmeasured."),
        "backbone_weights": "ImageNet VGG16 (frozen), features cached per photo and view",
        "mining": best,
        "mining_comparison_on_synthetic_test": round_figures(comparison),
    })
    metrics = {
        "test_set": (f"synthetic, seed {TEST_SEED}, never seen in training: {len(gal)} gallery photos "
                     f"of {len(set(gal.ids))} whales; {len(q_paths)} queries of which {len(qry.unknown)} "
                     "unknown (new_whale)"),
        "map5": fin["map5"], "map5_all_new_whale_baseline": fin["map5_all_new_whale"],
        "top1_known": fin["top1_known"], "top5_known": fin["top5_known"],
        "new_whale_threshold": card.new_whale_threshold,
        "distances": fin["distances"],
        "map5_fp32_weights": onnx_eval.get("fp32", {}).get("map5"),
        "map5_untrained_imagenet_features": untrained["map5"],
        "input_size": f"{h}x{w} {args.resize}",
    }
    if study:
        metrics["input_size_study"] = study
        metrics["input_size_note"] = (
            "MAP@5 at the best threshold of a 30-whale synthetic study (python -m "
            "training.recipes.input_size_study); its ORT latencies were taken on a heavily shared machine. "
            f"On a quiet moment, VGG16 conv + pooling + Dense, batch 1, ONNX Runtime, 2 threads: "
            f"{IDLE_LATENCY_MS}. 96x288 squash is the largest tested input under the app's 150 ms "
            "identify budget on 2 cores; 128x384 scored higher but costs ~220 ms.")
    if args.ablation and args.ablation.is_file():
        training["ablation_on_cached_features"] = json.loads(args.ablation.read_text())
    card = replace(card, training=round_figures(training), metrics=round_figures(metrics),
                   credits=(VGG16_CREDIT,))
    card.save(card_path)
    report = {"data": summary, "comparison": comparison, "onnx": onnx_eval, "untrained": untrained,
              "wall_seconds": time.perf_counter() - t_start}
    (work / "report.json").write_text(json.dumps(round_figures(report), indent=2, default=str) + "\n")
    log.info("done in %.0f s: %s MAP@5 %.4f (baseline %.4f); card %s", report["wall_seconds"], args.out,
             fin["map5"], fin["map5_all_new_whale"], card_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
