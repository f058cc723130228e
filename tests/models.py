"""Tiny real ONNX models for tests, built with the ``onnx`` helper API (no TensorFlow).

:func:`make_tiny_model` pools the photo into 4x4-pixel cells and projects the cells with a fixed random
matrix: a real ONNX graph run by a real ONNX Runtime session, small enough for unit tests, and a weak but real
image descriptor (photos of the same synthetic whale land nearer each other than photos of different ones).
:func:`make_tint_model` sees only a photo's colour cast, so it confuses whales that only their marks tell
apart. :func:`make_detector` is a fluke detector whose answer is known: the same box, tips and presence for
any frame.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from whalegui.core.model_card import (
    FlukeFinderRef,
    ModelCard,
    Preprocessing,
    VerificationSettings,
    card_path_for,
    file_sha256,
)


def make_tiny_model(folder: str | Path, *, name: str = "tiny", height: int = 32, width: int = 64,
                    dim: int = 16, seed: int = 0, threshold: float = 0.3,
                    resize: str = "squash", fluke_finder: FlukeFinderRef | None = None,
                    verification: VerificationSettings | None = None) -> Path:
    """Write ``folder/NAME.onnx`` and its card ``folder/NAME.json``; return the model path. ``fluke_finder``
    and ``verification`` go into the card as they are (the detector itself is :func:`make_detector`'s)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cells = 3 * (height // 4) * (width // 4)
    rng = np.random.default_rng(seed)
    weights = (rng.standard_normal((cells, dim)) / np.sqrt(cells)).astype(np.float32)
    nodes = [
        helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("AveragePool", ["nchw"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Sub", ["flat", "mean"], ["centred"]),
        helper.make_node("MatMul", ["centred", "proj"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", height, width, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        initializer=[numpy_helper.from_array(weights, "proj"),
                     numpy_helper.from_array(np.zeros(cells, np.float32), "mean")],
    )
    return _save_embedder(folder, name, graph, height, width, dim, threshold, resize, fluke_finder,
                          verification, "none: a fixed random projection for tests")


def make_tint_model(folder: str | Path, *, name: str = "tint", height: int = 32, width: int = 96,
                    threshold: float = 0.3, fluke_finder: FlukeFinderRef | None = None,
                    verification: VerificationSettings | None = None) -> Path:
    """An embedder that sees only a photo's colour cast: the mean of each channel, less the grey mean, so
    photos under the same light embed alike whatever whale they show (3 values)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["colour"], axes=[1, 2], keepdims=0),
        helper.make_node("ReduceMean", ["colour"], ["grey"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["colour", "grey"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", height, width, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 3])])
    return _save_embedder(folder, name, graph, height, width, 3, threshold, "squash", fluke_finder,
                          verification, "none: the colour cast, for tests")


def make_detector(folder: str | Path, box: list[float], tips: list[float], presence: float, *,
                  size: int = 32, name: str = "detector") -> Path:
    """A detector that answers ``box``/``tips`` (fractions of the frame) with ``presence`` for any frame;
    ``folder/NAME.onnx`` with its card beside it."""

    def const(key: str, values: list[float]) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [key], value=helper.make_tensor(
            key + "_v", TensorProto.FLOAT, [1, len(values)], values))

    zero = helper.make_tensor("zero_v", TensorProto.FLOAT, [], [0.0])
    nodes = [
        # z = mean(frame) * 0, shaped (n, 1): every output depends on the input's batch
        helper.make_node("Constant", [], ["zero"], value=zero),
        helper.make_node("ReduceMean", ["frame"], ["m"], axes=[1, 2], keepdims=0),
        helper.make_node("ReduceMean", ["m"], ["m1"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["m1", "zero"], ["z"]),
        const("b", box), const("t", tips), const("p", [presence]),
        helper.make_node("Add", ["z", "b"], ["box"]),
        helper.make_node("Add", ["z", "t"], ["tips"]),
        helper.make_node("Add", ["z", "p"], ["has"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny-detector",
        [helper.make_tensor_value_info("frame", TensorProto.FLOAT, ["n", size, size, 3])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", k]) for n, k in
         (("box", 4), ("tips", 4), ("has", 1))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    card = {"schema_version": 1, "kind": "fluke-detector", "name": name,
            "input": {"name": "frame", "layout": "NHWC", "dtype": "float32", "height": size, "width": size},
            "outputs": {"box": "box", "tips": "tips", "presence": "has"},
            "min_presence": 0.5, "margin": 0.1, "sha256": file_sha256(path)}
    path.with_suffix(".json").write_text(json.dumps(card), encoding="utf-8")
    return path


def _save_embedder(folder: Path, name: str, graph: Any, height: int, width: int, dim: int, threshold: float,
                   resize: str, fluke_finder: FlukeFinderRef | None,
                   verification: VerificationSettings | None, data: str) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    card = ModelCard(
        name=name, input_name="image", output_name="embedding",
        preprocessing=Preprocessing(height, width, resize, "RGB", (127.5, 127.5, 127.5), (64.0, 64.0, 64.0)),
        embedding_dim=dim, sha256=file_sha256(path), new_whale_threshold=threshold, backbone="tiny-test",
        training={"data": data}, fluke_finder=fluke_finder, verification=verification,
    )
    card.save(card_path_for(path))
    return path
