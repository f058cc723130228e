"""Find the fluke in a frame, then cut it out and level it for the embedder.

Photos come off the camera uncropped: the fluke may fill a tenth of the frame, tilted, with sea, sky, boats
and a wake around it. A small detector (an ONNX model with its JSON card beside it, trained in
``training/detector.py``) looks at the whole frame squashed to its input size and says where the fluke is
(a box), where its two tips are (to level it) and how sure it is. Fractions of the squashed input are
fractions of the original photo, so the box maps back to full resolution by its width and height.

When no fluke is found (low presence score, a degenerate box) the whole frame is used and
:class:`Fluke` says so (``found`` False), so the app can tell the researcher.

Detector card (``MODEL.json``), schema version 1::

    {"schema_version": 1, "kind": "fluke-detector", "name": "fluke-finder",
     "input": {"name": "frame", "layout": "NHWC", "dtype": "float32", "height": 128, "width": 128},
     "outputs": {"box": "box", "tips": "tips", "presence": "has"},
     "min_presence": 0.5, "margin": 0.1, "sha256": "<hex of the .onnx>", "metrics": {...}}

Its input is RGB 0..255 float32, squashed to the input size; the model scales it itself.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from whalegui.core.errors import ModelError
from whalegui.core.model_card import card_path_for, file_sha256, read_card_json
from whalegui.core.onnx_session import make_session

log = logging.getLogger(__name__)

DETECTOR_KIND = "fluke-detector"
#: Tilts beyond this are more likely a bad tip estimate than a fluke that tilted.
MAX_LEVEL_DEGREES = 25.0

#: A box as (left, top, right, bottom) in photo pixels.
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Fluke:
    """Where the fluke is in a photo, in that photo's pixels.

    ``source`` is ``"detector"``, ``"researcher"`` (a box drawn by hand; no tips, so no levelling) or
    ``"frame"`` (nothing found: the whole photo). ``angle`` is the tilt of the tips' line in degrees
    (positive: the right tip is higher); rotating the crop by ``-angle`` levels it.
    """

    box: Box
    source: str = "detector"
    score: float = 1.0
    tips: tuple[float, float, float, float] | None = None  # left x, y, right x, y
    angle: float = 0.0

    @property
    def found(self) -> bool:
        return self.source != "frame"

    @classmethod
    def whole(cls, size: tuple[int, int]) -> Fluke:
        return cls((0.0, 0.0, float(size[0]), float(size[1])), "frame", 0.0)

    @classmethod
    def drawn(cls, box: Box, size: tuple[int, int]) -> Fluke:
        """A box the researcher drew, clamped to the photo."""
        return cls(clamp_box(box, size), "researcher", 1.0)

    def scaled(self, factor: float) -> Fluke:
        """The same fluke in a photo ``factor`` times as large (a thumbnail, a full-resolution decode)."""
        tips = None if self.tips is None else tuple(v * factor for v in self.tips)
        return Fluke(tuple(v * factor for v in self.box), self.source, self.score,  # type: ignore[arg-type]
                     tips, self.angle)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DetectorCard:
    """What the app needs to know about a fluke detector."""

    name: str
    input_name: str
    height: int
    width: int
    box_output: str
    tips_output: str | None
    presence_output: str | None
    sha256: str
    min_presence: float = 0.5
    margin: float = 0.1
    metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> DetectorCard:
        path = Path(path)
        data = read_card_json(path, "detector card", "detector card not found (the .json beside the .onnx)")
        try:
            if data.get("kind") != DETECTOR_KIND or data.get("schema_version") != 1:
                raise ValueError(f"not a version-1 {DETECTOR_KIND} card")
            inp, out = data["input"], data["outputs"]
            card = cls(name=str(data["name"]), input_name=str(inp["name"]), height=int(inp["height"]),
                       width=int(inp["width"]), box_output=str(out["box"]),
                       tips_output=out.get("tips"), presence_output=out.get("presence"),
                       sha256=str(data["sha256"]).lower(), min_presence=float(data.get("min_presence", 0.5)),
                       margin=float(data.get("margin", 0.1)), metrics=dict(data.get("metrics") or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(path, f"malformed detector card ({exc})") from exc
        if card.height < 8 or card.width < 8 or not 0.0 <= card.margin <= 1.0:
            raise ModelError(path, "malformed detector card (input size or margin out of range)")
        return card


class FlukeFinder:
    """The fluke detector, ready to look at photos (CUDA when it really runs here, else the CPU)."""

    def __init__(self, model_path: str | Path, *, device: str = "auto", threads: int | None = None) -> None:
        self.path = Path(model_path)
        if not self.path.is_file():
            raise ModelError(self.path, "detector model file not found")
        self.card = DetectorCard.load(card_path_for(self.path))
        if file_sha256(self.path) != self.card.sha256:
            raise ModelError(self.path, "the detector card does not match this model file")
        self._session = make_session(self.path, device, threads)
        self.provider: str = self._session.get_providers()[0]
        names = {o.name for o in self._session.get_outputs()}
        wanted = [n for n in (self.card.box_output, self.card.tips_output, self.card.presence_output) if n]
        missing = [n for n in wanted if n not in names]
        if missing:
            raise ModelError(self.path, f"the detector has no output {missing[0]!r} (it has {sorted(names)})")
        self._outputs = wanted

    @property
    def fingerprint(self) -> str:
        return self.card.sha256

    def find(self, image: Image.Image) -> Fluke:
        """Where the fluke is in ``image``; the whole frame (``found`` False) when the detector sees none."""
        return self.find_many([image])[0]

    def find_many(self, images: list[Image.Image]) -> list[Fluke]:
        if not images:
            return []
        size = (self.card.width, self.card.height)
        batch = np.stack([np.asarray(im.convert("RGB").resize(size, Image.Resampling.BILINEAR),
                                     dtype=np.float32) for im in images])
        raw = self._session.run(self._outputs, {self.card.input_name: batch})
        out = dict(zip(self._outputs, (np.asarray(r, dtype=np.float32) for r in raw), strict=True))
        flukes = []
        for i, im in enumerate(images):
            box = out[self.card.box_output][i].reshape(4)
            tips = out[self.card.tips_output][i].reshape(4) if self.card.tips_output else None
            presence = out[self.card.presence_output][i] if self.card.presence_output else np.ones(1)
            score = float(presence.reshape(-1)[0])
            flukes.append(self._to_fluke(box, tips, score, im.size))
        return flukes

    def _to_fluke(self, box: np.ndarray, tips: np.ndarray | None, score: float,
                  size: tuple[int, int]) -> Fluke:
        w, h = size
        x0, x1 = sorted((float(box[0]) * w, float(box[2]) * w))
        y0, y1 = sorted((float(box[1]) * h, float(box[3]) * h))
        if score < self.card.min_presence or x1 - x0 < 4 or y1 - y0 < 4 or not np.isfinite(box).all():
            return Fluke.whole(size)
        if tips is None or not np.isfinite(tips).all():
            return Fluke(clamp_box((x0, y0, x1, y1), size), "detector", score)
        pts = (float(tips[0]) * w, float(tips[1]) * h, float(tips[2]) * w, float(tips[3]) * h)
        angle = math.degrees(math.atan2(pts[1] - pts[3], max(pts[2] - pts[0], 1e-6)))
        if abs(angle) > MAX_LEVEL_DEGREES:
            angle = 0.0
        return Fluke(clamp_box((x0, y0, x1, y1), size), "detector", score, pts, angle)


def crop_fluke(image: Image.Image, fluke: Fluke, *, margin: float = 0.1) -> Image.Image:
    """The fluke cut out with ``margin`` (a fraction of its size) on each side, levelled by its tips.

    The whole frame, untouched, when nothing was found.
    """
    if not fluke.found:
        return image
    box = crop_region(fluke, image.size, margin)
    source = image
    if fluke.angle:
        # Rotating about the box centre keeps the fluke inside a box of about the same size.
        left, top, right, bottom = fluke.box
        source = image.rotate(-fluke.angle, resample=Image.Resampling.BILINEAR,
                              center=((left + right) / 2, (top + bottom) / 2))
    return source.crop((math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3])))


def crop_region(fluke: Fluke, size: tuple[int, int], margin: float) -> Box:
    """The box :func:`crop_fluke` cuts (before levelling): the fluke grown by ``margin`` on each side, inside
    a photo of ``size``; the whole photo when nothing was found."""
    if not fluke.found:
        return (0.0, 0.0, float(size[0]), float(size[1]))
    left, top, right, bottom = fluke.box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    bw, bh = (right - left) * (1 + 2 * margin), (bottom - top) * (1 + 2 * margin)
    return clamp_box((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2), size)


def crops_for_embedding(fluke: Fluke, size: tuple[int, int], crop_below: float) -> bool:
    """Whether the embedding (and the keypoints) should see the fluke's crop rather than the whole frame:
    only when a fluke was found and its box covers less than ``crop_below`` of the frame's area.

    Measured (``whale-train ablation``): on frames the fluke already fills, cutting it out lost resolution and
    marks and lowered top-1; on wide frames where it is small, the crop doubled it.
    """
    if not fluke.found:
        return False
    left, top, right, bottom = fluke.box
    area = max(0.0, right - left) * max(0.0, bottom - top)
    return area < crop_below * size[0] * size[1]


def clamp_box(box: Box, size: tuple[int, int]) -> Box:
    """``box`` with its corners sorted and inside a photo of ``size`` (width, height)."""
    w, h = size
    x0, x1 = sorted((box[0], box[2]))
    y0, y1 = sorted((box[1], box[3]))
    return (min(max(0.0, x0), w), min(max(0.0, y0), h), min(max(0.0, x1), w), min(max(0.0, y1), h))


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
