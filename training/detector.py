"""The fluke detector: a small CNN from the squashed frame to the fluke's box, its tips and a presence score;
its trainer, its training on composites (:mod:`training.composites`) and its export to ONNX with the card
:class:`whalegui.core.fluke.FlukeFinder` reads.

Input ``frame``: the whole photo squashed to ``SIZE x SIZE`` RGB, 0..255 float32, NHWC (the model scales by
1/255 itself). Outputs, as fractions of the frame: ``box`` (x0, y0, x1, y1), ``tips`` (xl, yl, xr, yr) and
``has`` (probability that a fluke is present). Fractions of the squashed input are fractions of the
original photo, so the box maps back to full resolution by its width and height.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from training.model import NetTrainer
from whalegui.core.fluke import DETECTOR_KIND, DetectorCard
from whalegui.core.model_card import card_path_for, file_sha256

log = logging.getLogger(__name__)

SIZE = 128
INPUT_NAME = "frame"
OUTPUTS = {"box": "box", "tips": "tips", "presence": "has"}  # the card's roles -> output names
TARGETS = ("box", "tips", "has")


def build_detector(size: int = SIZE, width: int = 16) -> keras.Model:
    """Five stride-2 conv blocks (``width`` to ``8 * width`` channels, BN), a 1x1 squeeze that keeps
    where things are, Dense 128, and the three heads. At 128 px and width 16: about 0.2 M parameters,
    under a millisecond per frame on ONNX Runtime."""
    x_in = keras.Input((size, size, 3), name=INPUT_NAME)
    x = keras.layers.Rescaling(1.0 / 255.0)(x_in)
    for i, ch in enumerate((width, 2 * width, 4 * width, 4 * width, 8 * width)):
        x = keras.layers.Conv2D(ch, 3, strides=2, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU()(x)
        if i == 0:  # a second conv at full resolution would cost more than all the rest
            continue
        x = keras.layers.Conv2D(ch, 3, padding="same", use_bias=False, name=f"conv{i}b")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}b")(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(32, 1, activation="relu", name="squeeze")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu", name="fc")(x)
    box = keras.layers.Dense(4, activation="sigmoid", name="box")(x)
    tips = keras.layers.Dense(4, activation="sigmoid", name="tips")(x)
    has = keras.layers.Dense(1, activation="sigmoid", name="has")(x)
    return keras.Model(x_in, {"box": box, "tips": tips, "has": has}, name="fluke_detector")


def giou_loss(truth: tf.Tensor, pred: tf.Tensor) -> tf.Tensor:
    """Per row, 1 - generalised IoU of (x0, y0, x1, y1) boxes (the predicted corners sorted first)."""
    px0, px1 = tf.minimum(pred[:, 0], pred[:, 2]), tf.maximum(pred[:, 0], pred[:, 2])
    py0, py1 = tf.minimum(pred[:, 1], pred[:, 3]), tf.maximum(pred[:, 1], pred[:, 3])
    iw = tf.maximum(0.0, tf.minimum(px1, truth[:, 2]) - tf.maximum(px0, truth[:, 0]))
    ih = tf.maximum(0.0, tf.minimum(py1, truth[:, 3]) - tf.maximum(py0, truth[:, 1]))
    inter = iw * ih
    union = (px1 - px0) * (py1 - py0) + (truth[:, 2] - truth[:, 0]) * (truth[:, 3] - truth[:, 1]) - inter
    iou = inter / tf.maximum(union, 1e-6)
    cw = tf.maximum(px1, truth[:, 2]) - tf.minimum(px0, truth[:, 0])
    ch = tf.maximum(py1, truth[:, 3]) - tf.minimum(py0, truth[:, 1])
    enclosing = tf.maximum(cw * ch, 1e-6)
    return 1.0 - iou + (enclosing - union) / enclosing


class DetectorTrainer(NetTrainer):
    """Trains ``net``: GIoU + 2 L1 on the box and 2 L1 on the tips, averaged over frames that hold a fluke,
    plus 0.3 binary cross-entropy on presence over all frames. Batches are ``(frames, {box, tips, has})``."""

    def _loss(self, data: tuple[tf.Tensor, dict[str, tf.Tensor]], training: bool) -> tf.Tensor:
        x, y = data
        out = self.net(x, training=training)
        has = tf.reshape(tf.cast(y["has"], tf.float32), [-1])
        weight = has / tf.maximum(tf.reduce_sum(has), 1.0)  # empty frames have no box to learn
        box_loss = giou_loss(y["box"], out["box"]) + 2.0 * tf.reduce_mean(tf.abs(y["box"] - out["box"]), 1)
        tip_loss = 2.0 * tf.reduce_mean(tf.abs(y["tips"] - out["tips"]), 1)
        bce = keras.losses.binary_crossentropy(tf.reshape(has, [-1, 1]), out["has"])
        return tf.reduce_sum(weight * (box_loss + tip_loss)) + 0.3 * tf.reduce_mean(bce)


@dataclass(frozen=True)
class DetectorTraining:
    """How the detector is trained; the defaults are the shipped detector's."""

    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 2e-3  # cosine decay to 5 % of it over all steps
    seed: int = 0


def train_detector(net: keras.Model, train: dict[str, np.ndarray], val: dict[str, np.ndarray] | None = None,
                   cfg: DetectorTraining | None = None, *, verbose: int = 2) -> dict[str, list[float]]:
    """Train ``net`` in place on composites (arrays image, box, tips, has); returns the loss history."""
    cfg = cfg or DetectorTraining()
    keras.utils.set_random_seed(cfg.seed)
    trainer = DetectorTrainer(net)
    steps = max(1, cfg.epochs * (len(train["image"]) // cfg.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps, alpha=0.05)
    trainer.compile(optimizer=keras.optimizers.Adam(schedule))
    val_data = None if val is None else (val["image"].astype(np.float32), {k: val[k] for k in TARGETS})
    history = trainer.fit(train["image"].astype(np.float32), {k: train[k] for k in TARGETS},
                          batch_size=cfg.batch_size, epochs=cfg.epochs, verbose=verbose,
                          validation_data=val_data)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of two (n, 4) arrays of (x0, y0, x1, y1) boxes."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    out: np.ndarray = inter / np.maximum(area_a + area_b - inter, 1e-9)
    return out


def detector_metrics(net: keras.Model, val: dict[str, np.ndarray]) -> dict[str, float]:
    """Box IoU (mean, median, share >= 0.5 and >= 0.7) over frames with a fluke, presence accuracy at
    0.5 over all frames, and the tips' mean L1 error (fractions of the frame)."""
    out = net.predict(val["image"].astype(np.float32), batch_size=128, verbose=0)
    has = np.asarray(val["has"]).reshape(-1) > 0.5
    pred = np.asarray(out["box"])
    pred = np.concatenate([np.minimum(pred[:, :2], pred[:, 2:]), np.maximum(pred[:, :2], pred[:, 2:])], 1)
    ious = box_iou(np.asarray(val["box"])[has], pred[has])
    pred_has = np.asarray(out["has"]).reshape(-1) > 0.5
    tip_l1 = np.abs(np.asarray(val["tips"])[has] - np.asarray(out["tips"])[has]).mean()
    return {"frames": len(has), "iou_mean": float(ious.mean()), "iou_median": float(np.median(ious)),
            "iou_ge_0.5": float((ious >= 0.5).mean()), "iou_ge_0.7": float((ious >= 0.7).mean()),
            "presence_accuracy": float((pred_has == has).mean()), "tips_l1": float(tip_l1)}


def export_detector(net: keras.Model, out: str | Path, *, name: str | None = None,
                    metrics: dict[str, Any] | None = None, training: dict[str, Any] | None = None,
                    min_presence: float = 0.5, margin: float = 0.1) -> DetectorCard:
    """Write ``out`` (NAME.onnx) and its detector card NAME.json; check parity with Keras on random
    frames (:class:`training.export.ParityError` above ``PARITY_TOLERANCE``); return the card as the app
    reads it."""
    import onnx
    import onnxruntime as ort
    import tf2onnx

    from training.export import OPSET, PARITY_TOLERANCE, ParityError

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    size = int(net.input_shape[1])
    spec = [tf.TensorSpec((None, size, size, 3), tf.float32, name=INPUT_NAME)]
    proto, _ = tf2onnx.convert.from_keras(net, input_signature=spec, opset=OPSET)
    onnx.save(proto, out)

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    missing = [n for n in OUTPUTS.values() if n not in names]
    if missing:
        raise ParityError(out, f"the exported detector has no output {missing[0]!r} (it has {names})")
    x = np.random.default_rng(0).uniform(0, 255, (4, size, size, 3)).astype(np.float32)
    ref = net.predict_on_batch(x)
    got = dict(zip(names, session.run(names, {INPUT_NAME: x}), strict=True))
    parity = {k: float(np.abs(np.asarray(ref[k]) - got[k]).max()) for k in TARGETS}
    worst = max(parity, key=lambda k: parity[k])
    if parity[worst] > PARITY_TOLERANCE:
        raise ParityError(out, f"ONNX differs from Keras by {parity[worst]:.2e} on {worst!r} "
                               f"(limit {PARITY_TOLERANCE:g})")
    log.info("detector parity (max abs diff per output): %s", parity)

    card = {
        "schema_version": 1, "kind": DETECTOR_KIND, "name": name or out.stem,
        "input": {"name": INPUT_NAME, "layout": "NHWC", "dtype": "float32", "height": size, "width": size},
        "outputs": dict(OUTPUTS),
        "preprocessing": "the whole photo squashed to the input size, RGB 0..255 (the model scales it)",
        "min_presence": min_presence, "margin": margin, "sha256": file_sha256(out),
        "metrics": dict(metrics or {}),
        "training": {**(training or {}), "export": {"opset": OPSET, "parity_max_abs_diff": parity}},
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    path = card_path_for(out)
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return DetectorCard.load(path)

