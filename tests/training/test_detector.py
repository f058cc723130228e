"""The fluke detector: its losses, training on tiny composites of synthetic flukes, ONNX export with parity,
and the card read by the app's FlukeFinder with the box mapped back to the photo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")

from training.composites import make_set_from  # noqa: E402
from training.detector import (  # noqa: E402
    DetectorTraining,
    box_iou,
    build_detector,
    detector_metrics,
    export_detector,
    giou_loss,
    train_detector,
)
from whalegui.core.fluke import FlukeFinder  # noqa: E402
from whalegui.core.model_card import file_sha256  # noqa: E402

SIZE = 32


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _fixed_head(net: Any, layer: str, values: list[float]) -> None:
    """Make a head output ``values`` whatever the frame: zero kernel, bias the logits of the values."""
    dense = net.get_layer(layer)
    kernel, _ = dense.get_weights()
    dense.set_weights([np.zeros_like(kernel), np.asarray([_logit(v) for v in values], np.float32)])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    tf.keras.utils.set_random_seed(0)
    net = build_detector(SIZE, width=4)
    _fixed_head(net, "box", [0.2, 0.3, 0.7, 0.8])
    _fixed_head(net, "tips", [0.2, 0.6, 0.7, 0.5])
    _fixed_head(net, "has", [0.9])
    out = tmp_path_factory.mktemp("det") / "fluke-finder.onnx"
    export_detector(net, out, metrics={"iou_mean": 0.5}, training={"data": "none"})
    return net, out


def test_box_iou_and_giou_loss_on_known_boxes() -> None:
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1], [0, 0, 2, 1]], np.float32)
    b = np.array([[0, 0, 2, 2], [2, 2, 3, 3], [1, 0, 3, 1]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [1.0, 0.0, 1 / 3], atol=1e-6)
    loss = np.asarray(giou_loss(tf.constant(a), tf.constant(b)))
    assert loss[0] == pytest.approx(0.0, abs=1e-6)
    assert loss[1] == pytest.approx(1.0 + (9 - 2) / 9, abs=1e-5)  # disjoint: 1 - 0 + empty share of hull
    # swapped predicted corners are sorted before the loss
    swapped = np.asarray(giou_loss(tf.constant(a[:1]), tf.constant(a[:1, [2, 3, 0, 1]])))
    assert swapped[0] == pytest.approx(0.0, abs=1e-6)


def test_onnx_matches_keras_and_the_card_is_the_apps(exported: tuple[Any, Path]) -> None:
    import onnxruntime as ort

    net, path = exported
    x = np.random.default_rng(1).uniform(0, 255, (3, SIZE, SIZE, 3)).astype(np.float32)
    x[0] = 0.0
    ref = net.predict_on_batch(x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"frame": x}), strict=True))
    for name in ("box", "tips", "has"):
        np.testing.assert_allclose(got[name], np.asarray(ref[name]), atol=1e-5)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["kind"] == "fluke-detector" and card["schema_version"] == 1
    assert card["input"] == {"name": "frame", "layout": "NHWC", "dtype": "float32", "height": SIZE,
                             "width": SIZE}
    assert card["outputs"] == {"box": "box", "tips": "tips", "presence": "has"}
    assert card["sha256"] == file_sha256(path) and card["metrics"] == {"iou_mean": 0.5}
    assert max(card["training"]["export"]["parity_max_abs_diff"].values()) < 1e-4


def test_flukefinder_maps_the_box_and_tips_back_to_the_photo(exported: tuple[Any, Path]) -> None:
    _, path = exported
    finder = FlukeFinder(path, device="cpu")
    photo = Image.new("RGB", (400, 200), (40, 80, 120))
    fluke = finder.find(photo)
    assert fluke.found and fluke.score == pytest.approx(0.9, abs=1e-5)
    np.testing.assert_allclose(fluke.box, (80, 60, 280, 160), atol=1e-3)
    assert fluke.tips is not None
    np.testing.assert_allclose(fluke.tips, (80, 120, 280, 100), atol=1e-3)
    # the tilt is measured in the photo's pixels: the right tip 20 px higher over 200 px
    assert fluke.angle == pytest.approx(np.degrees(np.arctan2(20, 200)), abs=1e-3)


def test_a_detector_that_sees_no_fluke_gives_the_whole_frame(tmp_path: Path) -> None:
    net = build_detector(SIZE, width=4)
    _fixed_head(net, "has", [0.1])
    path = tmp_path / "none.onnx"
    export_detector(net, path)
    fluke = FlukeFinder(path, device="cpu").find(Image.new("RGB", (90, 60)))
    assert not fluke.found and fluke.box == (0.0, 0.0, 90.0, 60.0)


@pytest.mark.slow
def test_training_on_composites_of_synthetic_flukes_lowers_the_loss() -> None:
    from training.synthetic import make_whale, render_photo

    flukes = [render_photo(make_whale(i), np.random.default_rng(i), width=96, nuisance=0.3) for i in range(4)]
    data = make_set_from(flukes, 48, seed=0, size=SIZE)
    tf.keras.utils.set_random_seed(0)
    net = build_detector(SIZE, width=8)
    history = train_detector(net, data, None, DetectorTraining(epochs=6, batch_size=16, learning_rate=3e-3),
                             verbose=0)
    assert len(history["loss"]) == 6
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    metrics = detector_metrics(net, data)
    assert metrics["frames"] == 48 and 0.0 <= metrics["iou_mean"] <= 1.0
