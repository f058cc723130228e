"""Benchmark 1: embedding with ONNX Runtime vs Keras ``predict``, the same model, batch 1 and batch 32.

Models:
- "VGG16 embedder": training's ``build_embedder`` at the default configuration (VGG16 without its top,
  frozen, plus the trainable head, L2-normalised), exported here with tf2onnx (explicit input signature,
  opset 17). ImageNet weights from ../shared when present (full runs), else random: the speed does not
  depend on them.
- "default model": the shipped ``resources/models/whale-vgg16.onnx`` on ONNX Runtime vs the same architecture
  rebuilt in Keras from its card (speed depends on the architecture, not on the trained values).

``--quick`` uses batch 8 instead of 32. Both sides use the machine's default thread pools; calls are
alternated (ORT, Keras, Keras, ORT, ...).
Bar: ONNX Runtime at least 2x faster than Keras ``predict`` at batch 1.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import REPO, Result, default_card, default_model, paired, shared_path, skipped

BAR = 2.0
log = logging.getLogger(__name__)


def _train_config(card: Any | None, quick: bool) -> Any:
    """The training configuration of the default model (from its card when it says), else the defaults."""
    from training.config import TrainConfig

    cfg = TrainConfig()
    if card is not None:
        known = set(cfg.to_dict())
        stated = card.training.get("config", card.training) if isinstance(card.training, dict) else {}
        changes = {k: v for k, v in stated.items() if k in known}
        with contextlib.suppress(TypeError, ValueError):
            cfg = cfg.with_(**changes)
        cfg = cfg.with_(height=card.preprocessing.height, width=card.preprocessing.width,
                        embedding_dim=card.embedding_dim)
    weights = None if quick else shared_path("weights", "vgg16_imagenet_notop.weights.h5")
    return cfg.with_(weights=str(weights) if weights else "none")


def _export(model: Any, height: int, width: int, out: Path) -> Path:
    """tf2onnx export with an explicit NHWC input signature and a pinned opset."""
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, height, width, 3), tf.float32, name="image"),)

    def embed(image: Any) -> Any:
        return {"embedding": model(image, training=False)}

    serve = tf.function(embed, input_signature=spec)
    tf2onnx.convert.from_function(serve, input_signature=spec, opset=17, output_path=str(out))
    return out


def _session(path: Path, cuda: bool = False) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    return ort.InferenceSession(str(path), opts, providers=providers)


def _compare(label: str, model: Any, onnx_path: Path, h: int, w: int, quick: bool,
             cuda: bool, same_weights: bool = True) -> list[Result]:
    sess = _session(onnx_path)
    input_name = sess.get_inputs()[0].name
    rng = np.random.default_rng(0)
    results: list[Result] = []
    for batch, reps in ((1, 5 if quick else 15), (8 if quick else 32, 2 if quick else 5)):
        x = (rng.random((batch, h, w, 3), dtype=np.float32) * 255.0 - 120.0).astype(np.float32)
        ort_out = sess.run(None, {input_name: x})[0]
        keras_out = np.asarray(model.predict(x, batch_size=batch, verbose=0))
        diff = float(np.abs(ort_out.reshape(batch, -1) - keras_out.reshape(batch, -1)).max())
        max_diff = diff if same_weights else "n/a (the Keras side has the architecture, not the weights)"
        p = paired(partial(model.predict, x, batch_size=batch, verbose=0),
                   partial(sess.run, None, {input_name: x}), reps, warmup=0)
        per_a, per_b = p.a.median / batch * 1e3, p.b.median / batch * 1e3
        bar = f">= {BAR:.0f}x" if batch == 1 else ""
        met = (p.ratio >= BAR) if batch == 1 else None
        results.append(Result(
            "1 embedding", f"{label}, batch {batch}: Keras predict vs ORT (ms/photo)",
            f"{per_a:.0f} vs {per_b:.0f} ms = {p.ratio_text()}", bar, met,
            details={"batch": batch, "reps": reps, "input": f"{h}x{w}", "max_abs_diff": max_diff,
                     "keras_ms_per_photo": per_a, "ort_ms_per_photo": per_b, **p.to_dict()}))
        if batch == 1:
            # Keras without predict()'s per-call set-up, for context (not the bar).
            direct = paired(partial(model, x, training=False),
                            partial(sess.run, None, {input_name: x}), reps, warmup=1)
            results.append(Result(
                "1 embedding", f"{label}, batch 1: Keras model(x) vs ORT (context)",
                f"{direct.a.median * 1e3:.0f} vs {direct.b.median * 1e3:.0f} ms = {direct.ratio_text()}",
                details=direct.to_dict()))
    if cuda:
        gpu = _session(onnx_path, cuda=True)
        if gpu.get_providers()[0] == "CUDAExecutionProvider":
            for batch in (1, 32):
                x = rng.random((batch, h, w, 3), dtype=np.float32) * 255.0
                from bench.common import time_many

                t = time_many(partial(gpu.run, None, {input_name: x}), 20 if batch == 1 else 10, warmup=3)
                results.append(Result("1 embedding", f"{label}, batch {batch}: ORT CUDA GPU (ms/photo)",
                                      f"{t.median / batch * 1e3:.2f} ms ({t.low / batch * 1e3:.2f}.."
                                      f"{t.high / batch * 1e3:.2f})", details={"samples": t.samples}))
    return results


def run(quick: bool, cuda: bool = False) -> list[Result]:
    try:
        import tensorflow as tf  # noqa: F401
        import tf2onnx  # noqa: F401

        from training.model import build_embedder
    except ImportError as exc:
        return [skipped("1 embedding", "ORT vs Keras", f"needs the [train] extra ({exc})", f">= {BAR:.0f}x")]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    card = default_card()
    cfg = _train_config(card, quick)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        model = build_embedder(cfg)
        onnx_path = _export(model, cfg.height, cfg.width, Path(tmp) / "vgg16-embedder.onnx")
        results += _compare(f"VGG16 embedder {cfg.height}x{cfg.width}", model, onnx_path, cfg.height,
                            cfg.width, quick, cuda)
        shipped = default_model()
        if shipped is None:
            results.append(skipped("1 embedding", "default model", "resources/models/whale-vgg16.onnx is not "
                                   "there yet", f">= {BAR:.0f}x"))
        elif quick:
            results.append(skipped("1 embedding", "default model", "full run only (it repeats the VGG16 "
                                   "figures with the shipped file)"))
        else:
            results += _compare(f"default model ({shipped.relative_to(REPO)})", model, shipped,
                                cfg.height, cfg.width, quick, cuda, same_weights=False)
    return results
