"""Verification by local features: do the query's and a candidate's flukes show the same marks, in the same
arrangement?

An embedding says "these two flukes look alike"; a geometric check says "these twenty marks line up under
one rotation and scale", which a different whale almost never does. Each photo's SIFT keypoints and
descriptors are computed once, on the fluke crop, when the photo enters the gallery
(:func:`extract_features`), stored as derived data (:meth:`LocalFeatures.to_blob`), and matched against a
query's with RootSIFT, Lowe's ratio test and a RANSAC similarity fit (:func:`verify`). The inlier count
re-ranks the embedding's candidates (:func:`fused_distance`), with a weight calibrated on validation whales
and stored in the model card.

Keypoints are kept in the original photo's pixel coordinates, so the review view can draw the matched pairs
on the photos it shows; the matcher normalises them by the fluke's width, so scale differs freely between
photos.
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

#: Bumped whenever extraction changes, so stored features made the old way are found stale and rebuilt.
FEATURES_VERSION = 1
#: The fluke crop is resized to this width before detection: marks of the same size in pixels whatever the
#: camera, and a bounded cost per photo.
WORK_WIDTH = 384
MAX_FEATURES = 256
RATIO = 0.8  # Lowe's ratio test
RANSAC_THRESHOLD = 0.02  # of the fluke's width
MIN_INLIERS = 4  # fewer cannot fix a similarity transform and say nothing

_HEADER = struct.Struct("<4sHIf")  # magic, version, count, scale
_MAGIC = b"WLF1"


@dataclass(frozen=True)
class LocalFeatures:
    """A photo's keypoints (``points``, photo pixels, float32 ``(n, 2)``) and SIFT descriptors (uint8
    ``(n, 128)``); ``scale`` is the width in photo pixels of the region they were found in."""

    points: np.ndarray
    descriptors: np.ndarray
    scale: float

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def to_blob(self) -> bytes:
        """Compact bytes for the gallery (about 130 bytes a keypoint)."""
        n = len(self)
        return (_HEADER.pack(_MAGIC, FEATURES_VERSION, n, float(self.scale))
                + np.ascontiguousarray(self.points, dtype="<f4").tobytes()
                + np.ascontiguousarray(self.descriptors, dtype=np.uint8).tobytes())

    @classmethod
    def from_blob(cls, blob: bytes) -> LocalFeatures:
        """Read :meth:`to_blob`'s bytes; :class:`ValueError` for damaged or foreign bytes."""
        if len(blob) < _HEADER.size:
            raise ValueError("local features: too short")
        magic, version, n, scale = _HEADER.unpack_from(blob)
        if magic != _MAGIC or version != FEATURES_VERSION:
            raise ValueError(f"local features: unknown format {magic!r} v{version}")
        want = _HEADER.size + n * 8 + n * 128
        if len(blob) != want or not math.isfinite(scale) or scale <= 0:
            raise ValueError("local features: damaged")
        off = _HEADER.size
        points = np.frombuffer(blob, dtype="<f4", count=n * 2, offset=off).reshape(n, 2).astype(np.float32)
        desc = np.frombuffer(blob, dtype=np.uint8, count=n * 128, offset=off + n * 8).reshape(n, 128)
        return cls(points, desc.copy(), float(scale))


@dataclass(frozen=True)
class Verification:
    """The geometric check of one query against one candidate photo: how many matched keypoints agree with
    one similarity transform, and those pairs (query x, y, candidate x, y in each photo's pixels)."""

    inliers: int
    pairs: np.ndarray  # float32 (inliers, 4)

    @classmethod
    def none(cls) -> Verification:
        return cls(0, np.zeros((0, 4), np.float32))


#: Box as (left, top, right, bottom) in photo pixels.
Box = tuple[float, float, float, float]


def extract_features(image: Image.Image, box: Box | None = None, *, max_features: int = MAX_FEATURES
                     ) -> LocalFeatures:
    """SIFT keypoints and descriptors inside ``box`` (the fluke; the whole photo when None)."""
    left, top, right, bottom = box if box is not None else (0.0, 0.0, float(image.width), float(image.height))
    left, top = max(0.0, left), max(0.0, top)
    right, bottom = min(float(image.width), right), min(float(image.height), bottom)
    width = right - left
    if width < 8 or bottom - top < 8:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), max(width, 1.0))
    crop = image.crop((round(left), round(top), round(right), round(bottom))).convert("L")
    factor = WORK_WIDTH / crop.width
    size = (WORK_WIDTH, max(8, round(crop.height * factor)))
    grey = np.asarray(crop.resize(size, Image.Resampling.BILINEAR if factor > 1 else Image.Resampling.BOX))
    import cv2  # here: OpenCV takes a fifth of a second to import, and only matching needs it

    sift = cv2.SIFT.create(nfeatures=max_features)
    keypoints, desc = sift.detectAndCompute(grey, None)
    if desc is None or not keypoints:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), width)
    offset = np.array([left, top], np.float32)
    points = np.array([k.pt for k in keypoints], dtype=np.float32) / factor + offset
    return LocalFeatures(points, np.clip(np.rint(desc), 0, 255).astype(np.uint8), width)


def verify(query: LocalFeatures, candidate: LocalFeatures) -> Verification:
    """Match RootSIFT descriptors (ratio test), then keep the matches one RANSAC similarity explains."""
    if len(query) < MIN_INLIERS or len(candidate) < MIN_INLIERS:
        return Verification.none()
    import cv2

    matcher = cv2.BFMatcher(cv2.NORM_L2)
    pairs = matcher.knnMatch(_root_sift(query.descriptors), _root_sift(candidate.descriptors), k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    if len(good) < MIN_INLIERS:
        return Verification.none()
    q_idx = np.array([g.queryIdx for g in good])
    c_idx = np.array([g.trainIdx for g in good])
    src = (query.points[q_idx] / query.scale).astype(np.float32)
    dst = (candidate.points[c_idx] / candidate.scale).astype(np.float32)
    _, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_THRESHOLD)
    if mask is None:
        return Verification.none()
    keep = mask.ravel().astype(bool)
    if int(keep.sum()) < MIN_INLIERS:
        return Verification.none()
    matched = np.hstack([query.points[q_idx[keep]], candidate.points[c_idx[keep]]]).astype(np.float32)
    return Verification(int(keep.sum()), matched)


def fused_distance(distance: float, inliers: int, weight: float) -> float:
    """The embedding's cosine distance lowered by the geometric evidence: ``weight * log(1 + inliers)`` beyond
    the chance level. ``weight`` 0 is the embedding alone."""
    evidence = math.log1p(max(0, inliers - MIN_INLIERS + 1)) if inliers >= MIN_INLIERS else 0.0
    return float(distance) - float(weight) * evidence


def _root_sift(desc: np.ndarray) -> np.ndarray:
    """RootSIFT (Arandjelović and Zisserman): L1-normalise then square-root, so L2 compares like Hellinger."""
    d = desc.astype(np.float32)
    d /= d.sum(axis=1, keepdims=True) + 1e-7
    return np.sqrt(d)
