"""The embedder: an ONNX model that maps a fluke photo to an L2-normalised vector.

Runs on ONNX Runtime's CUDA provider when it really works on this machine, otherwise on the CPU, and says
which. The model's card (``MODEL.json`` beside ``MODEL.onnx``) says how to feed it, and may name a fluke
finder (a detector beside it) that crops the fluke out of the frame before embedding: the embedder then
loads it too, and its :attr:`~Embedder.fingerprint` covers both, since both make the stored embeddings.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from whalegui.core.errors import ModelError
from whalegui.core.fluke import FlukeFinder
from whalegui.core.images import to_model_input
from whalegui.core.model_card import ModelCard, card_path_for, file_sha256
from whalegui.core.onnx_session import CPU, CUDA, _quiet_native_stderr, make_session

__all__ = ["CPU", "CUDA", "DEVICES", "Embedder", "_quiet_native_stderr", "l2_normalise", "make_session"]

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


class Embedder:
    """An ONNX embedding model with its card, ready to embed batches of photos.

    ``device``: ``"auto"`` (CUDA if it works, else CPU), ``"cpu"``, or ``"cuda"`` (falls back to the CPU
    with a warning in the log when CUDA cannot run here; :attr:`device` tells what really runs).
    """

    def __init__(self, model_path: str | Path, card: ModelCard | None = None, *, device: str = "auto",
                 threads: int | None = None) -> None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
        self.path = Path(model_path)
        if not self.path.is_file():
            raise ModelError(self.path, "model file not found" if not self.path.exists() else "not a file")
        self.card = card if card is not None else ModelCard.load(card_path_for(self.path))
        try:
            digest = file_sha256(self.path)
        except OSError as exc:
            raise ModelError(self.path, f"cannot read the model file ({exc.strerror or exc})") from exc
        if digest != self.card.sha256:
            raise ModelError(self.path, f"the card does not match this model file (card sha256 "
                                        f"{self.card.sha256[:12]}, file {digest[:12]}); re-export the model")
        self._session = make_session(self.path, device, threads)
        self.provider: str = self._session.get_providers()[0]
        self._check_signature()
        self.finder: FlukeFinder | None = self._load_finder(device, threads)

    @property
    def fingerprint(self) -> str:
        """What a gallery records of the models that made its embeddings: the ONNX file's sha256 alone, or,
        with a fluke finder, a digest of it, the detector's and the crop's margin and rule."""
        if self.finder is None or self.card.fluke_finder is None:
            return self.card.fingerprint
        text = (f"whalegui-pipeline-1 embedder={self.card.sha256} detector={self.finder.card.sha256} "
                f"margin={self.card.fluke_finder.margin:.6g}")
        if self.card.fluke_finder.crop_below != 1.0:  # galleries made before the rule keep their fingerprint
            text += f" crop_below={self.card.fluke_finder.crop_below:.6g}"
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    @property
    def crop_below(self) -> float:
        """A found fluke is cropped for the embedding only when its box covers less than this of the frame."""
        return self.card.fluke_finder.crop_below if self.card.fluke_finder is not None else 1.0

    @property
    def margin(self) -> float:
        """The margin (a fraction of the fluke's box on each side) of the crop that is embedded."""
        return self.card.fluke_finder.margin if self.card.fluke_finder is not None else 0.0

    @property
    def dim(self) -> int:
        return self.card.embedding_dim

    @property
    def device(self) -> str:
        """What runs the model, in words for the status bar: ``"CUDA GPU"`` or ``"CPU"``."""
        return "CUDA GPU" if self.provider == CUDA else "CPU"

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """Embed a preprocessed NHWC float32 batch: float32 (n, dim), each row of unit length."""
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim == 3:
            batch = batch[None]
        p = self.card.preprocessing
        if batch.ndim != 4 or batch.shape[1:] != (p.height, p.width, 3):
            raise ValueError(f"expected a batch of shape (n, {p.height}, {p.width}, 3), got {batch.shape}")
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = self._session.run([self.card.output_name], {self.card.input_name: batch})[0]
        out = np.asarray(out, dtype=np.float32).reshape(len(batch), -1)
        if out.shape[1] != self.dim:  # a model with a symbolic output size is only checked here
            raise ModelError(self.path, f"the model gives {out.shape[1]}-dimensional embeddings, the card "
                                        f"says {self.dim}")
        return l2_normalise(out)

    def embed_images(self, images: Sequence[Image.Image], batch_size: int = 16) -> np.ndarray:
        """Embed RGB images (any size): they are resized and normalised as the card says."""
        prep = self.card.preprocessing
        parts = [self.embed(np.stack([to_model_input(im, prep) for im in chunk]))
                 for chunk in _chunks(images, batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)

    def describe(self) -> str:
        """One line for logs and the CLI: which model runs on which device."""
        finder = f" with fluke finder {self.finder.card.name}" if self.finder is not None else ""
        return f"model {self.card.name}{finder} ({self.fingerprint[:12]}) on {self.device}"

    def _load_finder(self, device: str, threads: int | None) -> FlukeFinder | None:
        ref = self.card.fluke_finder
        if ref is None:
            return None
        path = self.path.with_name(ref.model + ".onnx")
        if not path.is_file():
            raise ModelError(path, f"the card of {self.path.name} names the fluke finder {ref.model!r}, but "
                                   f"{path.name} is not beside it")
        return FlukeFinder(path, device=device, threads=threads)

    def _check_signature(self) -> None:
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name: o for o in self._session.get_outputs()}
        card, p = self.card, self.card.preprocessing
        if card.input_name not in inputs:
            raise ModelError(self.path, f"the card names input {card.input_name!r}, the model has "
                                        f"{sorted(inputs)}")
        if card.output_name not in outputs:
            raise ModelError(self.path, f"the card names output {card.output_name!r}, the model has "
                                        f"{sorted(outputs)}")
        shape = list(inputs[card.input_name].shape)
        if len(shape) != 4 or not _dims_match(shape[1:], [p.height, p.width, 3]):
            raise ModelError(self.path, f"the model's input shape {shape} does not match the card's "
                                        f"(batch, {p.height}, {p.width}, 3)")
        out_shape = list(outputs[card.output_name].shape)
        if not out_shape or not _dims_match(out_shape[-1:], [card.embedding_dim]):
            raise ModelError(self.path, f"the model's output shape {out_shape} does not match the card's "
                                        f"embedding size {card.embedding_dim}")


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: np.ndarray = (x / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
    return out


def _dims_match(actual: list[Any], expected: list[int]) -> bool:
    return all(not isinstance(a, int) or a == e for a, e in zip(actual, expected, strict=True))


def _chunks(items: Sequence[Image.Image], size: int) -> Iterator[Sequence[Image.Image]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
