"""Input size and resize policy, chosen by measurement: ORT CPU latency of the exported embedder and MAP@5
of a small cached-feature model on a synthetic test split, for each candidate.

    python -m training.recipes.input_size_study --work /tmp/whale-size-study [--sizes 64x192 96x288 ...]

Prints one table and writes WORK/study.json. Needs ../shared/weights (the ImageNet VGG16 file).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
WEIGHTS = SHARED / "weights" / "vgg16_imagenet_notop.weights.h5"


def latency_ms(models: dict[str, Path], threads: int = 2, reps: int = 15) -> dict[str, dict[str, float]]:
    """Batch-1 latency per model, alternating the models every repetition (fair on a shared machine)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sessions = {k: ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
                for k, p in models.items()}
    inputs = {k: np.random.default_rng(0).uniform(-100, 100, (1, *s.get_inputs()[0].shape[1:])).astype(
        np.float32) for k, s in sessions.items()}
    times: dict[str, list[float]] = {k: [] for k in models}
    for k, s in sessions.items():
        s.run(None, {"image": inputs[k]})
    for _ in range(reps):
        for k, s in sessions.items():
            t = time.perf_counter()
            s.run(None, {"image": inputs[k]})
            times[k].append(1000 * (time.perf_counter() - t))
    return {k: {"p50": float(np.median(v)), "min": float(np.min(v)), "p90": float(np.percentile(v, 90))}
            for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--sizes", nargs="+", default=["64x192", "64x256", "96x288", "128x384"])
    p.add_argument("--resizes", nargs="+", default=["squash"])
    p.add_argument("--whales", type=int, default=30)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--views", type=int, default=2)
    p.add_argument("--skip-accuracy", action="store_true")
    args = p.parse_args(argv)

    from training.config import TrainConfig
    from training.data import read_catalogue
    from training.evaluate import evaluate
    from training.export import to_onnx
    from training.features import ViewLoader, extract_features
    from training.synthetic import generate_dataset
    from training.train import fit

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    train_dir, test_dir = work / "synth-train", work / "synth-test"
    if not (train_dir / "train.csv").is_file():
        generate_dataset(train_dir, whales=args.whales, train_per_whale=(2, 5), test_per_whale=0, seed=301)
    if not (test_dir / "train.csv").is_file():
        generate_dataset(test_dir, whales=args.whales, train_per_whale=(1, 3), test_per_whale=1,
                         unknown_whales=args.whales // 4, seed=302)
    train = read_catalogue(train_dir / "train.csv", train_dir / "train")
    gal = read_catalogue(test_dir / "train.csv", test_dir / "train")
    qry = read_catalogue(test_dir / "test_labels.csv", test_dir / "test")
    q_paths, q_truth = qry.queries()
    empty = train.subset([])
    results: dict[str, dict[str, float]] = {}
    models: dict[str, Path] = {}
    import onnx

    for size in args.sizes:
        h, w = (int(v) for v in size.split("x"))
        for resize in args.resizes:
            key = f"{h}x{w} {resize}"
            cfg = TrainConfig(height=h, width=w, resize=resize, weights=str(WEIGHTS), epochs=args.epochs,
                              views=args.views, val_fraction=0.0, mining="batch-hard", seed=0)
            run = work / f"run-{h}x{w}-{resize}"
            t0 = time.perf_counter()
            if args.skip_accuracy:
                from training.model import build_whale_model

                wm = build_whale_model(cfg)
                res: dict[str, float] = {}
            else:
                fitres = fit(cfg, train, empty, run, verbose=0, tensorboard=False)
                from training.export import load_run

                _, emb_model = load_run(run)
                from training.model import build_whale_model

                wm = build_whale_model(replace(cfg, weights="none"))
                wm.embedder.set_weights(emb_model.get_weights())
                prep = cfg.preprocessing()
                gf = extract_features(wm.extractor, ViewLoader(gal.paths, prep), 1)[:, 0]
                qf = extract_features(wm.extractor, ViewLoader(q_paths, prep), 1)[:, 0]
                ge = np.asarray(wm.top.predict(gf.astype(np.float32), verbose=0))
                qe = np.asarray(wm.top.predict(qf.astype(np.float32), verbose=0))
                summary, _, _, _ = evaluate(qe, ge, q_truth, gal.ids, threshold=0.5)
                res = {"map5_best_threshold": summary["map5_at_best_threshold"],
                       "top1_known": summary["top1_known"], "top5_known": summary["top5_known"],
                       "roc_auc": summary["distances"]["roc_auc"],
                       "feature_seconds": fitres.feature_seconds}
            res["study_seconds"] = time.perf_counter() - t0
            results[key] = res
            if resize == args.resizes[0]:
                path = work / f"embedder-{h}x{w}.onnx"
                onnx.save(to_onnx(wm.embedder, cfg.preprocessing()), path)
                models[f"{h}x{w}"] = path
            print(key, json.dumps(res), flush=True)
    lat = latency_ms(models)
    for key, res in results.items():
        res.update({f"ort_cpu2_ms_{k}": v for k, v in lat[key.split()[0]].items()})
    (work / "study.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'input':>18} {'MAP@5':>7} {'top-1':>6} {'AUC':>6} {'ORT p50 ms':>10} {'ORT min ms':>10}")
    for key, r in results.items():
        print(f"{key:>18} {r.get('map5_best_threshold', float('nan')):7.3f} "
              f"{r.get('top1_known', float('nan')):6.3f} {r.get('roc_auc', float('nan')) or 0:6.3f} "
              f"{r['ort_cpu2_ms_p50']:10.1f} {r['ort_cpu2_ms_min']:10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
