"""``whale-train export``: a trained run -> ``MODEL.onnx`` + its card ``MODEL.json``.

tf2onnx with an explicit input signature (``image``, NHWC float32, dynamic batch) and a pinned opset; the
output is renamed ``embedding``. Parity is checked on random and real inputs (ONNX Runtime vs Keras, max
abs diff printed, failure above 1e-4). ``--compress fp16`` stores the large weights as float16 with Cast
nodes (ONNX Runtime folds them back to float32 when it loads the model: half the file, same speed); its
parity against the float32 Keras model is reported separately (cosine similarity of the embeddings).
:func:`export_model` does the same for any Keras embedder (:mod:`training.field_embedder` uses it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from training.config import TrainConfig
from whalegui.core.errors import ModelError
from whalegui.core.model_card import ModelCard, Preprocessing, card_path_for, file_sha256

log = logging.getLogger(__name__)

OPSET = 17
PARITY_TOLERANCE = 1e-4
FP16_MIN_COSINE = 0.999
VGG16_CREDIT = "VGG16 ImageNet weights by K. Simonyan and A. Zisserman, CC BY 4.0"


class ParityError(ModelError):
    """The exported ONNX model does not compute what the Keras model computes."""


def load_run(run_dir: str | Path) -> tuple[TrainConfig, Any]:
    """The run's config and its trained embedder (Keras)."""
    from training.model import build_embedder

    run = Path(run_dir)
    weights = run / "embedder.weights.h5"
    if not weights.is_file() or not (run / "config.json").is_file():
        raise ModelError(run, "not a training run folder (config.json and embedder.weights.h5 expected)")
    cfg = TrainConfig.load(run / "config.json")
    embedder = build_embedder(replace(cfg, weights="none"))  # every weight comes from the run's file
    embedder.load_weights(str(weights))
    return cfg, embedder


def to_onnx(embedder: Any, prep: Preprocessing) -> Any:
    """The Keras embedder as an ONNX ModelProto with input ``image`` and output ``embedding``."""
    import tensorflow as tf
    import tf2onnx

    from training.model import INPUT_NAME, OUTPUT_NAME

    spec = [tf.TensorSpec((None, prep.height, prep.width, 3), tf.float32, name=INPUT_NAME)]
    proto, _ = tf2onnx.convert.from_keras(embedder, input_signature=spec, opset=OPSET)
    old = proto.graph.output[0].name
    if old != OUTPUT_NAME:
        for node in proto.graph.node:
            node.output[:] = [OUTPUT_NAME if o == old else o for o in node.output]
            node.input[:] = [OUTPUT_NAME if i == old else i for i in node.input]
        proto.graph.output[0].name = OUTPUT_NAME
    return proto


def compress_fp16(proto: Any, min_elements: int = 1024) -> Any:
    """Store float32 initializers of ``min_elements`` or more as float16, each behind a Cast to float32."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < min_elements:
            continue
        half = numpy_helper.from_array(arr.astype(np.float16), init.name + "__fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                      name=init.name + "__cast"))
    for i, node in enumerate(casts):
        graph.node.insert(i, node)
    onnx.checker.check_model(proto)
    return proto


def onnx_embed(path: Path, batch: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    from training.model import INPUT_NAME, OUTPUT_NAME

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run([OUTPUT_NAME], {INPUT_NAME: batch.astype(np.float32)})[0])


def parity_inputs(prep: Preprocessing, real_photos: Sequence[Path] = (), n_random: int = 4,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs in the VGG16-preprocessed range and real photos through the project's loader."""
    from whalegui.core.images import load_model_input

    rng = np.random.default_rng(seed)
    rand = rng.uniform(-125, 150, (n_random, prep.height, prep.width, 3)).astype(np.float32)
    out = {"random": rand}
    real = [p for p in real_photos if Path(p).is_file()][:8]
    if real:
        out["real"] = np.stack([load_model_input(p, prep) for p in real])
    return out


def check_parity(embedder: Any, path: Path, inputs: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Max abs diff and min cosine similarity, ONNX Runtime vs Keras, per input kind."""
    report = {}
    for kind, batch in inputs.items():
        ref = np.asarray(embedder(batch, training=False))
        got = onnx_embed(path, batch)
        cos = np.sum(ref * got, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
        report[kind] = {"max_abs_diff": float(np.max(np.abs(ref - got))), "min_cosine": float(cos.min()),
                        "n": len(batch)}
    return report


def export_onnx(embedder: Any, cfg: TrainConfig, out: str | Path, *, name: str | None = None,
                new_whale_threshold: float = 0.5, training: dict[str, Any] | None = None,
                metrics: dict[str, Any] | None = None, compress: str = "none",
                real_photos: Sequence[Path] = ()) -> ModelCard:
    """Write ``out`` (.onnx) and its card for a model trained from ``cfg``; check parity; return the card."""
    train_info = dict(training or {})
    train_info.setdefault("config", cfg.to_dict())
    credits = (VGG16_CREDIT,) if cfg.weights.lower() != "none" else ()
    return export_model(embedder, out, cfg.preprocessing(), name=name, embedding_dim=cfg.embedding_dim,
                        backbone=cfg.backbone, new_whale_threshold=new_whale_threshold, training=train_info,
                        metrics=metrics, credits=credits, compress=compress, real_photos=real_photos,
                        seed=cfg.seed)


def export_model(embedder: Any, out: str | Path, prep: Preprocessing, *, embedding_dim: int,
                 backbone: str, name: str | None = None, new_whale_threshold: float = 0.5,
                 training: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
                 credits: Sequence[str] = (), compress: str = "none", real_photos: Sequence[Path] = (),
                 seed: int = 0) -> ModelCard:
    """Write ``out`` (.onnx) and its card for any Keras embedder fed as ``prep`` says; check parity
    (:class:`ParityError` above ``PARITY_TOLERANCE``); return the card."""
    import onnx

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    proto = to_onnx(embedder, prep)
    inputs = parity_inputs(prep, real_photos, seed=seed)
    tmp32 = out.with_name(out.stem + ".fp32.tmp.onnx")
    onnx.save(proto, tmp32)
    try:
        parity = check_parity(embedder, tmp32, inputs)
    finally:
        if compress != "none":
            tmp32.unlink(missing_ok=True)
    for kind, r in parity.items():
        print(f"parity fp32 ({kind}, n={r['n']}): max abs diff {r['max_abs_diff']:.2e}, "
              f"min cosine {r['min_cosine']:.7f}")
        if r["max_abs_diff"] > PARITY_TOLERANCE:
            raise ParityError(out, f"ONNX differs from Keras by {r['max_abs_diff']:.2e} on {kind} inputs "
                                   f"(limit {PARITY_TOLERANCE:g})")
    parity_report: dict[str, Any] = {"fp32": parity}
    if compress == "fp16":
        proto = compress_fp16(proto)
        onnx.save(proto, out)
        p16 = check_parity(embedder, out, inputs)
        for kind, r in p16.items():
            print(f"parity fp16 weights ({kind}, n={r['n']}): max abs diff {r['max_abs_diff']:.2e}, "
                  f"min cosine {r['min_cosine']:.7f}")
            if r["min_cosine"] < FP16_MIN_COSINE:
                raise ParityError(out, f"float16 weights change embeddings too much (cosine "
                                       f"{r['min_cosine']:.5f} < {FP16_MIN_COSINE})")
        parity_report["fp16_weights"] = p16
    elif compress == "none":
        tmp32.replace(out)
    else:
        raise ValueError(f"compress must be none or fp16, not {compress!r}")

    train_info = dict(training or {})
    train_info["export"] = {"opset": OPSET, "weights_storage": "float16" if compress == "fp16" else "float32",
                            "parity": parity_report}
    card = ModelCard(
        name=name or out.stem, input_name="image", output_name="embedding", preprocessing=prep,
        embedding_dim=embedding_dim, sha256=file_sha256(out), new_whale_threshold=new_whale_threshold,
        backbone=backbone, training=train_info, metrics=dict(metrics or {}), credits=tuple(credits),
        created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    )
    card.save(card_path_for(out))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {card_path_for(out).name}")
    return card


def export_run(run_dir: str | Path, out: str | Path, *, name: str | None = None, compress: str = "none",
               real_photos: Sequence[Path] = (), metrics: dict[str, Any] | None = None) -> ModelCard:
    run = Path(run_dir)
    cfg, embedder = load_run(run)
    threshold = 0.5
    training: dict[str, Any] = {}
    if (run / "validation.json").is_file():
        val = json.loads((run / "validation.json").read_text())
        threshold = float(val.get("new_whale_threshold", threshold))
        training["validation"] = val
    if (run / "data.json").is_file():
        training["data"] = json.loads((run / "data.json").read_text())
    if (run / "history.json").is_file():
        hist = json.loads((run / "history.json").read_text())
        training["loss_by_epoch"] = [round(v, 5) for v in hist["history"].get("loss", [])]
        training["seconds_per_epoch"] = [round(v, 2) for v in hist.get("seconds_per_epoch", [])]
        training["feature_seconds"] = round(float(hist.get("feature_seconds", 0.0)), 1)
    if not real_photos and (run / "val_photos.txt").is_file():
        real_photos = [Path(line) for line in (run / "val_photos.txt").read_text().splitlines() if line]
    return export_onnx(embedder, cfg, out, name=name, new_whale_threshold=threshold, training=training,
                       metrics=metrics, compress=compress, real_photos=real_photos)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", type=Path, required=True, metavar="DIR",
                   help="the run folder written by 'whale-train fit'")
    p.add_argument("--out", type=Path, required=True, metavar="MODEL.onnx",
                   help="the model to write; its card MODEL.json is written beside it")
    p.add_argument("--name", help="model name in the card (default: the file name)")
    p.add_argument("--compress", choices=["none", "fp16"], default="none",
                   help="fp16: store weights as float16 (half the file; parity reported separately)")
    p.add_argument("--real", type=Path, nargs="*", default=[], metavar="PHOTO",
                   help="real photos for the parity check (default: the run's validation photos)")


def run(args: argparse.Namespace) -> int:
    from whalegui.core.images import find_photos

    real = find_photos(args.real) if args.real else []
    export_run(args.run, args.out, name=args.name, compress=args.compress, real_photos=real)
    return 0
