"""Tiny real ONNX embedding models for tests, built with the ``onnx`` helper API (no TensorFlow).

The model pools the photo into 4x4-pixel cells and projects the cells with a fixed random matrix: a real
ONNX graph run by a real ONNX Runtime session, small enough for unit tests, and a weak but real image
descriptor (photos of the same synthetic whale land nearer each other than photos of different ones).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from whalegui.core.model_card import ModelCard, Preprocessing, card_path_for, file_sha256


def make_tiny_model(folder: str | Path, *, name: str = "tiny", height: int = 32, width: int = 64,
                    dim: int = 16, seed: int = 0, threshold: float = 0.3,
                    resize: str = "squash") -> Path:
    """Write ``folder/NAME.onnx`` and its card ``folder/NAME.json``; return the model path."""
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
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = folder / f"{name}.onnx"
    onnx.save(model, path)
    card = ModelCard(
        name=name, input_name="image", output_name="embedding",
        preprocessing=Preprocessing(height, width, resize, "RGB", (127.5, 127.5, 127.5), (64.0, 64.0, 64.0)),
        embedding_dim=dim, sha256=file_sha256(path), new_whale_threshold=threshold, backbone="tiny-test",
        training={"data": "none: a fixed random projection for tests"},
    )
    card.save(card_path_for(path))
    return path
