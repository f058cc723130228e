"""One frozen configuration for a training run, saved as ``config.json`` in the run folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from whalegui.core.model_card import Preprocessing

MINING = ("random", "batch-hard", "semi-hard")
HEADS = ("conv-flatten", "gap")
BACKBONES = ("vgg16",)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a run trains; the defaults are those of the shipped model.

    ``weights``: ``"imagenet"`` (Keras' download), ``"none"`` (random, for tests) or a local ``.h5`` path.
    ``views``: stored views per photo for the cached-feature path (view 0 is the photo itself, the rest are
    augmented copies). ``unfreeze_block5`` makes VGG16's last block trainable; the cache then sits at
    ``block4_pool`` instead of ``block5_pool``.
    """

    height: int = 96
    width: int = 288
    resize: str = "squash"
    backbone: str = "vgg16"
    weights: str = "imagenet"
    embedding_dim: int = 128
    head: str = "conv-flatten"
    head_channels: int = 64
    dropout: float = 0.2
    margin: float = 0.5
    mining: str = "batch-hard"
    epochs: int = 20
    batch_size: int = 32
    whales_per_batch: int = 8
    learning_rate: float = 1e-3
    seed: int = 0
    views: int = 4
    cached: bool = True
    unfreeze_block5: bool = False
    min_photos: int = 2
    val_fraction: float = 0.15
    max_unlabelled: int = 0

    def __post_init__(self) -> None:
        if self.mining not in MINING:
            raise ValueError(f"mining must be one of {MINING}, not {self.mining!r}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, not {self.head!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, not {self.backbone!r}")
        if self.views < 1:
            raise ValueError("views must be at least 1")
        if self.batch_size < 2 or self.embedding_dim < 2:
            raise ValueError("batch_size and embedding_dim must be at least 2")
        if self.height % 32 or self.width % 32:
            raise ValueError(f"input size {self.height}x{self.width}: both sides must be multiples of 32 "
                             "(VGG16 pools five times)")
        self.preprocessing()  # validates the resize policy

    @property
    def photos_per_whale(self) -> int:
        """K of batch-hard mining's P whales x K photos."""
        return max(2, self.batch_size // self.whales_per_batch)

    @property
    def cache_layer(self) -> str:
        return "block4_pool" if self.unfreeze_block5 else "block5_pool"

    def preprocessing(self) -> Preprocessing:
        return Preprocessing.vgg16(self.height, self.width, self.resize)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)
