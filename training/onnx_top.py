"""An ONNX embedder split at its backbone's output, its trainable top run (and trained) in TensorFlow, and
the trained weights written back into a copy of the original graph.

The field embedder's ONNX (:mod:`training.field_embedder`, exported by tf2onnx) is a frozen VGG16 to
``block4_pool`` followed by a small top: GeM -> BatchNorm (folded by tf2onnx into a multiply and an add)
-> Dense 512 ReLU -> Dense 128 -> L2. Rather than rebuilding the top as a Keras model and exporting it again,
the top's own ONNX nodes are interpreted with TensorFlow ops (:class:`OnnxTop`), so its output is the
ONNX graph's by construction; its weight initializers (every float initializer with more than one value:
the folded BatchNorm's scale and shift, the Dense kernels and biases) become variables, and after training
the adapted model is the base's graph with those initializers replaced (:func:`write_adapted`): same
inputs, outputs, backbone and opset. Scalars (GeM's exponent, epsilons) stay as they are.

The cut (:func:`split_embedder`): the top is the run of nodes at the end of the graph whose operators
:class:`OnnxTop` knows (``TOP_OPS``), fed by exactly one tensor the rest of the graph computes; the nodes
of it before its first weight (the pooling) join the backbone when one tensor then feeds the rest. The
backbone's output there (the pooled vector, for the field embedder) is what :mod:`training.adapt` caches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from whalegui.core.errors import ModelError

log = logging.getLogger(__name__)

#: The operators a top may have (those tf2onnx writes for the field embedder's top, GeM or average pooled).
TOP_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Sqrt", "Reciprocal", "Relu",
                     "MatMul", "Transpose", "ReduceMean", "ReduceSum", "Identity", "Flatten", "Squeeze"})


@dataclass(frozen=True)
class SplitEmbedder:
    """An embedder's ONNX graph cut at ``cut`` (the backbone's output): ``backbone`` computes it from the
    model's input, ``top`` (the graph's last nodes) the embedding from it; ``trainable`` names the top's
    weight initializers."""

    model: onnx.ModelProto
    cut: str
    backbone: onnx.ModelProto
    top: tuple[onnx.NodeProto, ...]
    trainable: tuple[str, ...]

    @property
    def output(self) -> str:
        return str(self.model.graph.output[0].name)

    def initial_weights(self) -> dict[str, np.ndarray]:
        inits = {i.name: i for i in self.model.graph.initializer}
        return {name: numpy_helper.to_array(inits[name]).copy() for name in self.trainable}


def split_embedder(path: str | Path) -> SplitEmbedder:
    """Cut the embedder at ``path`` before its top; :class:`ModelError` when it has no top to adapt."""
    path = Path(path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, OSError...
        raise ModelError(path, f"cannot read the ONNX model ({exc})") from exc
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ModelError(path, "an embedder to adapt has one input and one output")
    nodes = list(graph.node)
    start = len(nodes)
    while start > 0 and nodes[start - 1].op_type in TOP_OPS:
        start -= 1
    top = nodes[start:]
    inits = {i.name: i for i in graph.initializer}
    produced = {o for n in top for o in n.output}
    fed = {i for n in top for i in n.input if i and i not in produced and i not in inits}
    if not top or len(fed) != 1:
        raise ModelError(path, "no trainable top found: the model's last layers must be a pooling, dense "
                               f"layers and a normalisation fed by one backbone tensor (found {sorted(fed)})")
    cut = fed.pop()
    if cut == graph.input[0].name:
        raise ModelError(path, "no backbone found: the top starts at the model's input")
    trainable = tuple(name for name in dict.fromkeys(i for n in top for i in n.input)
                      if name in inits and inits[name].data_type == onnx.TensorProto.FLOAT
                      and int(np.prod(inits[name].dims)) > 1)
    if not any(n.op_type == "MatMul" for n in top) or not trainable:
        raise ModelError(path, "the model's top has no dense layer to adapt")
    # The top's nodes before its first weight (GeM pooling, its exponent fixed) go with the backbone, so
    # the cached features are the pooled vectors: 64 times smaller, and a training step is only the dense
    # layers.
    first = next(k for k, n in enumerate(top) if any(i in trainable for i in n.input))
    rest = top[first:]
    inside = {o for n in rest for o in n.output}
    fed = {i for n in rest for i in n.input if i and i not in inside and i not in inits}
    if first and len(fed) == 1:
        start, top, cut = start + first, rest, fed.pop()
    return SplitEmbedder(model, cut, _backbone(model, nodes[:start], cut), tuple(top), trainable)


def _backbone(model: onnx.ModelProto, nodes: list[onnx.NodeProto], cut: str) -> onnx.ModelProto:
    """The model's input -> ``cut`` (the nodes before the top, with the initializers they use)."""
    used = {i for n in nodes for i in n.input}
    graph = onnx.helper.make_graph(
        nodes, "backbone", list(model.graph.input),
        [onnx.helper.make_tensor_value_info(cut, onnx.TensorProto.FLOAT, None)],
        initializer=[i for i in model.graph.initializer if i.name in used])
    backbone = onnx.helper.make_model(graph, opset_imports=list(model.opset_import))
    backbone.ir_version = model.ir_version
    return backbone


class OnnxTop:
    """The top of ``split`` as a TensorFlow function of the cut's features, with its weights as variables
    (initialised from ``weights``, default the model's own). ``dropout`` after each ReLU while training."""

    def __init__(self, split: SplitEmbedder, weights: dict[str, np.ndarray] | None = None, *,
                 dropout: float = 0.0) -> None:
        import tensorflow as tf

        self.split = split
        self.dropout = dropout
        start = weights if weights is not None else split.initial_weights()
        self.variables = {name: tf.Variable(np.asarray(start[name], np.float32), name=_var_name(name))
                          for name in split.trainable}
        self._consts = {i.name: tf.constant(numpy_helper.to_array(i)) for i in split.model.graph.initializer
                        if i.name not in self.variables}

    @property
    def trainable_variables(self) -> list[Any]:
        return list(self.variables.values())

    def weights(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(v.numpy(), np.float32) for name, v in self.variables.items()}

    def anchor_distance(self, start: dict[str, np.ndarray]) -> Any:
        """Sum of squared differences of the weights from ``start`` (for an L2-SP penalty)."""
        import tensorflow as tf

        return tf.add_n([tf.reduce_sum(tf.square(v - start[name])) for name, v in self.variables.items()])

    def __call__(self, feats: Any, training: bool = False) -> Any:
        """Unit-length embeddings of the cut's ``feats``."""
        import tensorflow as tf

        values: dict[str, Any] = {self.split.cut: tf.convert_to_tensor(feats, tf.float32)}

        def get(name: str) -> Any:
            if name in values:
                return values[name]
            if name in self.variables:
                return self.variables[name]
            return self._consts[name]

        for node in self.split.top:
            out = _run_node(node, [get(i) if i else None for i in node.input], tf)
            if node.op_type == "Relu" and training and self.dropout:
                out = tf.nn.dropout(out, self.dropout)
            values[node.output[0]] = out
        emb = values[self.split.output]
        return tf.math.l2_normalize(tf.reshape(emb, [tf.shape(emb)[0], -1]), axis=1)

    def embed(self, feats: np.ndarray, batch: int = 256) -> np.ndarray:
        """float32 (n, dim) embeddings of cached features, in batches."""
        parts = [np.asarray(self(feats[s:s + batch].astype(np.float32))) for s in range(0, len(feats), batch)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def write_adapted(split: SplitEmbedder, weights: dict[str, np.ndarray], out: str | Path) -> None:
    """Write the base graph with the top's initializers replaced by ``weights`` to ``out``."""
    model = onnx.ModelProto()
    model.CopyFrom(split.model)
    for i, init in enumerate(model.graph.initializer):
        if init.name in weights:
            value = np.asarray(weights[init.name], np.float32)
            if tuple(value.shape) != tuple(init.dims):
                raise ValueError(f"weight {init.name}: shape {value.shape}, the graph's {tuple(init.dims)}")
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(value, init.name))
    onnx.save(model, str(out))


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _axes(node: onnx.NodeProto, inputs: list[Any]) -> list[int] | None:
    if len(inputs) > 1 and inputs[1] is not None:
        return [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
    axes = _attr(node, "axes")
    return None if axes is None else [int(v) for v in axes]


def _run_node(node: onnx.NodeProto, inputs: list[Any], tf: Any) -> Any:
    """One ONNX node with TensorFlow ops (``TOP_OPS``; numpy broadcasting as ONNX's)."""
    op = node.op_type
    binary = {"Add": tf.add, "Sub": tf.subtract, "Mul": tf.multiply, "Div": tf.divide, "Max": tf.maximum,
              "Min": tf.minimum, "Pow": tf.pow}
    if op in binary:
        return binary[op](inputs[0], tf.cast(inputs[1], inputs[0].dtype))
    unary = {"Sqrt": tf.sqrt, "Reciprocal": tf.math.reciprocal, "Relu": tf.nn.relu, "Identity": tf.identity}
    if op in unary:
        return unary[op](inputs[0])
    if op == "MatMul":
        return tf.matmul(inputs[0], inputs[1])
    if op == "Transpose":
        return tf.transpose(inputs[0], perm=list(_attr(node, "perm")))
    if op in ("ReduceMean", "ReduceSum"):
        axes = _axes(node, inputs)
        keep = bool(_attr(node, "keepdims", 1))
        if axes is None and _attr(node, "noop_with_empty_axes", 0):
            return inputs[0]
        reduce = tf.reduce_mean if op == "ReduceMean" else tf.reduce_sum
        return reduce(inputs[0], axis=axes, keepdims=keep)
    if op == "Flatten":
        axis = int(_attr(node, "axis", 1))
        shape = tf.shape(inputs[0])
        return tf.reshape(inputs[0], [tf.reduce_prod(shape[:axis]), -1])
    if op == "Squeeze":
        return tf.squeeze(inputs[0], axis=_axes(node, inputs))
    raise ValueError(f"operator {op} is not supported in a top")


def _var_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[-60:] or "w"
