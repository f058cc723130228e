"""The model card: the JSON file beside every ONNX model that says how to feed it and what it gives.

Training's export writes it; the app reads it. Preprocessing is defined here once (``Preprocessing``) and
applied by :func:`whalegui.core.images.to_model_input`, which training uses too, so a photo becomes the
same tensor in both.

Schema (version 1), all keys required unless marked optional::

    {
      "schema_version": 1,
      "name": "whale-vgg16",
      "backbone": "vgg16",
      "input": {"name": "image", "layout": "NHWC", "dtype": "float32", "height": 128, "width": 384},
      "output": {"name": "embedding"},
      "preprocessing": {"resize": "squash" | "letterbox" | "crop",
                        "channel_order": "RGB" | "BGR",
                        "mean": [r_or_b, g, b_or_r], "std": [..3 floats..]},   # applied to 0..255 values
      "embedding_dim": 128,
      "distance": "cosine",
      "sha256": "<hex digest of the .onnx file>",
      "new_whale_threshold": 0.45,        # cosine distance above which the best match is "likely new"
      "training": {...free-form summary: data, epochs, mining, margin...},
      "metrics": {...optional: MAP@5 and friends on a named test set...},
      "credits": ["VGG16 ImageNet weights by K. Simonyan and A. Zisserman, CC BY 4.0"],
      "created": "2026-11-29T12:00:00Z",  # optional
      "fluke_finder": {"model": "fluke-finder", "margin": 0.1, "crop_below": 0.5},   # optional: see below
      "verification": {"weight": 0.05, "candidates": 10}          # optional: see below
    }

``fluke_finder`` names the detector (``NAME.onnx`` with its card ``NAME.json``, beside this model) that finds
the fluke in a frame before embedding; the crop gets ``margin`` (a fraction of the box) on each side, and is
used only for a fluke whose box covers less than ``crop_below`` of the frame (default 1: every fluke found;
see :func:`whalegui.core.fluke.crops_for_embedding`); a fluke that fills its frame is embedded whole.
Without it the whole frame is embedded. ``verification`` re-ranks the ``candidates`` nearest whales by
local features, lowering each one's distance by ``weight`` times the log of its inliers
(:func:`whalegui.core.verify.fused_distance`); a weight of 0, or no ``verification``, is the embedding
alone. ``new_whale_threshold`` applies to that fused distance, which verification can take below 0.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whalegui.core.errors import ModelError

SCHEMA_VERSION = 1
RESIZE_POLICIES = ("squash", "letterbox", "crop")

#: Keras' "caffe" preprocessing for VGG16: BGR channels with the ImageNet mean subtracted, no scaling.
VGG16_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclass(frozen=True)
class Preprocessing:
    """How a photo becomes the model's input: ``(pixel[channel_order] - mean) / std`` on 0..255 values."""

    height: int
    width: int
    resize: str = "squash"
    channel_order: str = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_POLICIES:
            raise ValueError(f"resize must be one of {RESIZE_POLICIES}, not {self.resize!r}")
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel_order must be RGB or BGR, not {self.channel_order!r}")
        if self.height < 8 or self.width < 8:
            raise ValueError(f"input size {self.height}x{self.width} is too small")
        if any(s == 0 for s in self.std):
            raise ValueError("std must not contain zeros")

    @classmethod
    def vgg16(cls, height: int, width: int, resize: str = "squash") -> Preprocessing:
        return cls(height, width, resize, "BGR", VGG16_MEAN_BGR, (1.0, 1.0, 1.0))


@dataclass(frozen=True)
class FlukeFinderRef:
    """The card's ``fluke_finder``: the detector ``model`` (``NAME.onnx`` beside the embedder) and the
    margin, a fraction of the fluke's box added on each side of the crop that is embedded."""

    model: str
    margin: float = 0.1
    crop_below: float = 1.0

    def __post_init__(self) -> None:
        if not self.model or any(c in self.model for c in "/\\:") or self.model.startswith("."):
            raise ValueError(f"fluke_finder model must be a file name without a folder, not {self.model!r}")
        if not (math.isfinite(self.margin) and 0.0 <= self.margin <= 1.0):
            raise ValueError(f"fluke_finder margin must be in 0..1, not {self.margin}")
        if not (math.isfinite(self.crop_below) and 0.0 < self.crop_below <= 1.0):
            raise ValueError(f"fluke_finder crop_below must be in (0, 1], not {self.crop_below}")


@dataclass(frozen=True)
class VerificationSettings:
    """The card's ``verification``: how much inlier evidence lowers a candidate's distance (``weight``;
    0 is the embedding alone) and how many of the nearest whales are verified (``candidates``)."""

    weight: float = 0.0
    candidates: int = 5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight) and self.weight >= 0.0):
            raise ValueError(f"verification weight must be 0 or more, not {self.weight}")
        if self.candidates < 1:
            raise ValueError(f"verification candidates must be at least 1, not {self.candidates}")

    @property
    def enabled(self) -> bool:
        """Whether candidates are verified at all."""
        return self.weight > 0.0


@dataclass(frozen=True)
class ModelCard:
    """Everything the app needs to know about an ONNX embedding model."""

    name: str
    input_name: str
    output_name: str
    preprocessing: Preprocessing
    embedding_dim: int
    sha256: str
    new_whale_threshold: float
    backbone: str = "unknown"
    distance: str = "cosine"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    credits: tuple[str, ...] = ()
    created: str | None = None
    fluke_finder: FlukeFinderRef | None = None
    verification: VerificationSettings | None = None

    @property
    def fingerprint(self) -> str:
        """The model's identity for galleries: the sha256 of its ONNX file."""
        return self.sha256

    @property
    def verification_weight(self) -> float:
        """The fusion weight (0: candidates are ranked by the embedding alone)."""
        return self.verification.weight if self.verification is not None else 0.0

    def to_dict(self) -> dict[str, Any]:
        p = self.preprocessing
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "backbone": self.backbone,
            "input": {"name": self.input_name, "layout": "NHWC", "dtype": "float32",
                      "height": p.height, "width": p.width},
            "output": {"name": self.output_name},
            "preprocessing": {"resize": p.resize, "channel_order": p.channel_order,
                              "mean": list(p.mean), "std": list(p.std)},
            "embedding_dim": self.embedding_dim,
            "distance": self.distance,
            "sha256": self.sha256,
            "new_whale_threshold": self.new_whale_threshold,
            "training": self.training,
            "metrics": self.metrics,
            "credits": list(self.credits),
            "created": self.created,
        }
        if self.fluke_finder is not None:
            data["fluke_finder"] = {"model": self.fluke_finder.model, "margin": self.fluke_finder.margin,
                                    "crop_below": self.fluke_finder.crop_below}
        if self.verification is not None:
            data["verification"] = {"weight": self.verification.weight,
                                    "candidates": self.verification.candidates}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path = "<card>") -> ModelCard:
        """Build a card from its JSON object; raises :class:`ModelError` naming what is wrong."""
        if not isinstance(data, dict):
            raise ModelError(source, "model card is not a JSON object")
        try:
            if data.get("schema_version") != SCHEMA_VERSION:
                raise ModelError(source, f"unsupported card schema_version {data.get('schema_version')!r} "
                                         f"(this app reads version {SCHEMA_VERSION})")
            inp, out, pre = _obj(data, "input"), _obj(data, "output"), _obj(data, "preprocessing")
            if inp.get("layout", "NHWC") != "NHWC":
                raise ModelError(source, f"input layout {inp['layout']!r} is not supported (NHWC only)")
            if inp.get("dtype", "float32") != "float32":
                raise ModelError(source, f"input dtype {inp['dtype']!r} is not supported (float32 only)")
            if data.get("distance", "cosine") != "cosine":
                raise ModelError(source, f"distance {data['distance']!r} is not supported (cosine only)")
            prep = Preprocessing(
                height=_int(inp["height"], "input height"), width=_int(inp["width"], "input width"),
                resize=_str(pre["resize"], "resize"),
                channel_order=_str(pre["channel_order"], "channel_order"),
                mean=_triple(pre["mean"]), std=_triple(pre["std"]),
            )
            dim = _int(data["embedding_dim"], "embedding_dim")
            if dim < 1:
                raise ValueError(f"embedding_dim must be positive, not {dim}")
            sha = _str(data["sha256"], "sha256").lower()
            if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise ValueError(f"sha256 must be 64 hex digits, not {sha[:80]!r}")
            threshold = float(data["new_whale_threshold"])
            # A cosine distance lies in 0..2; verification's evidence can take a fused distance below 0.
            if not (math.isfinite(threshold) and -10.0 < threshold <= 2.0):
                raise ValueError(f"new_whale_threshold must be in (-10, 2], not {threshold}")
            credits = data.get("credits") or []
            if not isinstance(credits, list) or not all(isinstance(c, str) for c in credits):
                raise ValueError("credits must be a list of strings")
            for key in ("training", "metrics"):
                if not isinstance(data.get(key) or {}, dict):
                    raise ValueError(f"{key} must be a JSON object")
            created = data.get("created")
            if created is not None and not isinstance(created, str):
                raise ValueError("created must be a string or null")
            return cls(
                name=_str(data["name"], "name"), input_name=_str(inp["name"], "input name"),
                output_name=_str(out["name"], "output name"),
                preprocessing=prep, embedding_dim=dim, sha256=sha, new_whale_threshold=threshold,
                backbone=str(data.get("backbone", "unknown")), distance=str(data.get("distance", "cosine")),
                training=dict(data.get("training") or {}), metrics=dict(data.get("metrics") or {}),
                credits=tuple(credits), created=created,
                fluke_finder=_fluke_finder(data.get("fluke_finder")),
                verification=_verification(data.get("verification")),
            )
        except ModelError:
            raise
        except KeyError as exc:
            raise ModelError(source, f"malformed model card (missing key {exc})") from exc
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelError(source, f"malformed model card ({exc})") from exc

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ModelCard:
        path = Path(path)
        data = read_card_json(path, "model card",
                              "model card not found (every .onnx model needs its .json card beside it)")
        return cls.from_dict(data, path)


def read_card_json(path: Path, what: str, missing: str) -> Any:
    """The JSON of a card (``what``: "model card", "detector card"); :class:`ModelError` naming the file with
    ``missing`` when it is not there, or why it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(path, missing) from exc
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad UTF-8 or bad JSON
        raise ModelError(path, f"{what} is not readable JSON ({exc})") from exc


def card_path_for(model_path: str | Path) -> Path:
    """The card of ``MODEL.onnx`` is ``MODEL.json`` beside it."""
    return Path(model_path).with_suffix(".json")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fluke_finder(value: Any) -> FlukeFinderRef | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("fluke_finder must be a JSON object")
    numbers = {key: value.get(key, default) for key, default in (("margin", 0.1), ("crop_below", 1.0))}
    for key, number in numbers.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValueError(f"fluke_finder {key} must be a number, not {number!r}")
    return FlukeFinderRef(_str(value["model"], "fluke_finder model"), float(numbers["margin"]),
                          float(numbers["crop_below"]))


def _verification(value: Any) -> VerificationSettings | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("verification must be a JSON object")
    weight = value.get("weight", 0.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise ValueError(f"verification weight must be a number, not {weight!r}")
    return VerificationSettings(float(weight), _int(value.get("candidates", 5), "verification candidates"))


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data[key]
    if not isinstance(value, dict):
        raise ValueError(f"{key!r} must be a JSON object")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ValueError(f"{what} must be an integer, not {value!r}")
    return int(value)


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, not {value!r}")
    return value


def _triple(values: Any) -> tuple[float, float, float]:
    if not isinstance(values, list):
        raise ValueError(f"expected a list of 3 numbers, got {values!r}")
    vals = [float(v) for v in values]
    if len(vals) != 3:
        raise ValueError(f"expected 3 values, got {len(vals)}")
    return (vals[0], vals[1], vals[2])


__all__ = ["FlukeFinderRef", "ModelCard", "Preprocessing", "VerificationSettings", "card_path_for",
           "file_sha256"]
