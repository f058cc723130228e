"""The model card: JSON round trip, schema errors, and the helpers beside it."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from whalegui.core.errors import ModelError
from whalegui.core.model_card import (
    SCHEMA_VERSION,
    VGG16_MEAN_BGR,
    FlukeFinderRef,
    ModelCard,
    Preprocessing,
    VerificationSettings,
    card_path_for,
    file_sha256,
)


def make_card(**overrides: Any) -> ModelCard:
    fields: dict[str, Any] = {
        "name": "whale-vgg16", "input_name": "image", "output_name": "embedding",
        "preprocessing": Preprocessing.vgg16(128, 384, "letterbox"), "embedding_dim": 128,
        "sha256": "ab" * 32, "new_whale_threshold": 0.45, "backbone": "vgg16",
        "training": {"data": "synthetic", "epochs": 3}, "metrics": {"map5": 0.61},
        "credits": ("VGG16 ImageNet weights by K. Simonyan and A. Zisserman, CC BY 4.0",),
        "created": "2026-11-29T12:00:00Z",
    }
    fields.update(overrides)
    return ModelCard(**fields)


def test_round_trip_through_dict_and_file(tmp_path: Path) -> None:
    card = make_card()
    assert ModelCard.from_dict(card.to_dict()) == card
    path = tmp_path / "m.json"
    card.save(path)
    assert ModelCard.load(path) == card
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["input"] == {"name": "image", "layout": "NHWC", "dtype": "float32",
                             "height": 128, "width": 384}
    assert data["preprocessing"] == {"resize": "letterbox", "channel_order": "BGR",
                                     "mean": list(VGG16_MEAN_BGR), "std": [1.0, 1.0, 1.0]}
    assert data["embedding_dim"] == 128 and data["distance"] == "cosine"
    assert card.fingerprint == "ab" * 32


def test_optional_keys_default(tmp_path: Path) -> None:
    data = make_card().to_dict()
    for key in ("backbone", "distance", "training", "metrics", "credits", "created"):
        del data[key]
    card = ModelCard.from_dict(data)
    assert card.backbone == "unknown" and card.distance == "cosine"
    assert card.training == {} and card.metrics == {} and card.credits == () and card.created is None


def test_fluke_finder_and_verification_round_trip_and_are_optional() -> None:
    card = make_card(fluke_finder=FlukeFinderRef("fluke-finder", 0.15, 0.5),
                     verification=VerificationSettings(0.05, 8), new_whale_threshold=-0.12)
    data = card.to_dict()
    assert data["fluke_finder"] == {"model": "fluke-finder", "margin": 0.15, "crop_below": 0.5}
    assert data["new_whale_threshold"] == -0.12  # a fused distance may be below 0
    assert data["verification"] == {"weight": 0.05, "candidates": 8}
    assert ModelCard.from_dict(data) == card and card.verification_weight == 0.05
    plain = make_card().to_dict()
    assert "fluke_finder" not in plain and "verification" not in plain  # a card as version 1 wrote them
    card = ModelCard.from_dict(plain)
    assert card.fluke_finder is None and card.verification is None and card.verification_weight == 0.0
    defaults = ModelCard.from_dict({**plain, "fluke_finder": {"model": "f"}, "verification": {"weight": 0}})
    assert defaults.fluke_finder == FlukeFinderRef("f", 0.1)
    assert defaults.verification is not None and not defaults.verification.enabled


@pytest.mark.parametrize(("key", "value", "words"), [
    ("fluke_finder", "finder", "fluke_finder must be a JSON object"),
    ("fluke_finder", {}, "missing key 'model'"),
    ("fluke_finder", {"model": "a/b"}, "without a folder"),
    ("fluke_finder", {"model": ".hidden"}, "without a folder"),
    ("fluke_finder", {"model": "f", "margin": 2}, "margin must be in 0..1"),
    ("fluke_finder", {"model": "f", "margin": "wide"}, "margin must be a number"),
    ("fluke_finder", {"model": "f", "crop_below": 0}, "crop_below must be in"),
    ("fluke_finder", {"model": "f", "crop_below": "half"}, "crop_below must be a number"),
    ("verification", [0.1], "verification must be a JSON object"),
    ("verification", {"weight": -1}, "weight must be 0 or more"),
    ("verification", {"weight": True}, "weight must be a number"),
    ("verification", {"weight": 0.1, "candidates": 0}, "candidates must be at least 1"),
    ("verification", {"weight": 0.1, "candidates": 2.5}, "candidates must be an integer"),
])
def test_bad_fluke_finder_or_verification(key: str, value: Any, words: str) -> None:
    with pytest.raises(ModelError, match=words):
        ModelCard.from_dict({**make_card().to_dict(), key: value})


def test_unicode_card_round_trip(tmp_path: Path) -> None:
    card = make_card(name="baleine à bosse 鯨", credits=("Zoë, Ψ",))
    path = tmp_path / "m.json"
    card.save(path)
    assert ModelCard.load(path) == card


def test_preprocessing_validation() -> None:
    assert Preprocessing.vgg16(224, 224).channel_order == "BGR"
    for bad in ({"resize": "stretch"}, {"channel_order": "GRB"}, {"height": 4}, {"width": 0},
                {"std": (1.0, 0.0, 1.0)}):
        kwargs: dict[str, Any] = {"height": 32, "width": 64, **bad}
        with pytest.raises(ValueError):
            Preprocessing(**kwargs)


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data[key]
    if value is _DELETE:
        del data[last]
    else:
        data[last] = value


_DELETE = object()


@pytest.mark.parametrize(("dotted", "value", "words"), [
    ("schema_version", 2, "schema_version"),
    ("schema_version", _DELETE, "schema_version"),
    ("name", _DELETE, "name"),
    ("name", "", "name"),
    ("input", _DELETE, "input"),
    ("input", [1, 2], "input"),
    ("input.name", 7, "input name"),
    ("input.height", _DELETE, "height"),
    ("input.height", "tall", "height"),
    ("input.height", 12.5, "height"),
    ("input.height", True, "height"),
    ("input.width", 4, "too small"),
    ("input.layout", "NCHW", "layout"),
    ("input.dtype", "float16", "dtype"),
    ("output", "embedding", "output"),
    ("output.name", _DELETE, "name"),
    ("preprocessing.resize", "stretch", "resize"),
    ("preprocessing.channel_order", "GBR", "channel_order"),
    ("preprocessing.mean", [1, 2], "3 values"),
    ("preprocessing.mean", "123", "3 numbers"),
    ("preprocessing.std", [1, 0, 1], "zeros"),
    ("preprocessing.std", [1, "x", 1], "could not convert"),
    ("embedding_dim", 0, "embedding_dim"),
    ("embedding_dim", "128", "embedding_dim"),
    ("sha256", "abc", "sha256"),
    ("sha256", "z" * 64, "sha256"),
    ("sha256", None, "sha256"),
    ("new_whale_threshold", -11, "new_whale_threshold"),
    ("new_whale_threshold", float("nan"), "new_whale_threshold"),
    ("new_whale_threshold", 2.5, "new_whale_threshold"),
    ("new_whale_threshold", "near", "could not convert"),
    ("new_whale_threshold", None, "float"),
    ("distance", "euclidean", "distance"),
    ("credits", "me", "credits"),
    ("created", 2026, "created"),
    ("training", 5, "training"),
])
def test_schema_errors(tmp_path: Path, dotted: str, value: Any, words: str) -> None:
    data = copy.deepcopy(make_card().to_dict())
    _set(data, dotted, value)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError) as info:
        ModelCard.load(path)
    assert info.value.path == path
    assert words.lower() in info.value.reason.lower(), info.value.reason
    with pytest.raises(ModelError):
        ModelCard.from_dict(data)


@pytest.mark.parametrize(("content", "words"), [
    (b"", "not readable json"),
    (b"{not json", "not readable json"),
    (b"\xff\xfe\x00garbage", "not readable json"),
    (b"[1, 2, 3]", "not a json object"),
    (b"null", "not a json object"),
    (b"[" * 100_000, "not readable json"),
])
def test_unreadable_cards(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(content)
    with pytest.raises(ModelError) as info:
        ModelCard.load(path)
    assert words in info.value.reason.lower()


def test_missing_card_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        ModelCard.load(tmp_path / "none.json")
    assert "not found" in info.value.reason
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ModelError):
        ModelCard.load(tmp_path / "dir.json")


def test_sha256_is_normalised_to_lower_case() -> None:
    data = make_card().to_dict()
    data["sha256"] = "AB" * 32
    assert ModelCard.from_dict(data).sha256 == "ab" * 32


def test_card_path_and_file_sha256(tmp_path: Path) -> None:
    assert card_path_for(tmp_path / "whale-vgg16.onnx") == tmp_path / "whale-vgg16.json"
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 10_000  # crosses the 1 MiB read chunk
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
