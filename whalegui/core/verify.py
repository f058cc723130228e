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
#: The region is resized so its longer side is this many pixels before detection: marks of about the same
#: size whatever the camera, and a bounded cost per photo. Measured on the real labelled thumbnails (100 px,
#: so doubled and more, as SIFT's own -1 octave does) together with the values below.
WORK_SIZE = 256
MAX_FEATURES = 400
RATIO = 0.8  # Lowe's ratio test
RANSAC_THRESHOLD = 8 / WORK_SIZE  # of the region's longer side
MIN_MATCHES = 3  # ratio-test matches below which no transform is fitted
#: Chance matches between different whales reach about this many inliers; only what lies beyond counts.
INLIER_FLOOR = 4

_HEADER = struct.Struct("<4sHIf")  # magic, version, count, scale
_MAGIC = b"WLF1"


@dataclass(frozen=True)
class LocalFeatures:
    """A photo's keypoints (``points``, photo pixels, float32 ``(n, 2)``) and SIFT descriptors (uint8
    ``(n, 128)``); ``scale`` is the longer side in photo pixels of the region they were found in."""

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
    longer = max(right - left, bottom - top)
    if right - left < 8 or bottom - top < 8:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), max(longer, 1.0))
    crop = image.crop((round(left), round(top), round(right), round(bottom))).convert("L")
    factor = WORK_SIZE / max(crop.size)
    size = (max(8, round(crop.width * factor)), max(8, round(crop.height * factor)))
    grey = np.asarray(crop.resize(size, Image.Resampling.BILINEAR if factor > 1 else Image.Resampling.BOX))
    import cv2  # here: OpenCV takes a fifth of a second to import, and only matching needs it

    sift = cv2.SIFT.create(nfeatures=max_features)
    keypoints, desc = sift.detectAndCompute(grey, None)
    if desc is None or not keypoints:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8), longer)
    offset = np.array([left, top], np.float32)
    points = np.array([k.pt for k in keypoints], dtype=np.float32) / factor + offset
    return LocalFeatures(points, np.clip(np.rint(desc), 0, 255).astype(np.uint8), longer)


def verify(query: LocalFeatures, candidate: LocalFeatures) -> Verification:
    """Match RootSIFT descriptors (ratio test), then keep the matches one RANSAC similarity explains."""
    if len(query) < MIN_MATCHES or len(candidate) < MIN_MATCHES:
        return Verification.none()
    import cv2

    matcher = cv2.BFMatcher(cv2.NORM_L2)
    pairs = matcher.knnMatch(_root_sift(query.descriptors), _root_sift(candidate.descriptors), k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    if len(good) < MIN_MATCHES:
        return Verification.none()
    q_idx = np.array([g.queryIdx for g in good])
    c_idx = np.array([g.trainIdx for g in good])
    src = (query.points[q_idx] / query.scale).astype(np.float32)
    dst = (candidate.points[c_idx] / candidate.scale).astype(np.float32)
    _, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_THRESHOLD,
                                          maxIters=500, confidence=0.99)
    if mask is None:
        return Verification.none()
    keep = mask.ravel().astype(bool)
    matched = np.hstack([query.points[q_idx[keep]], candidate.points[c_idx[keep]]]).astype(np.float32)
    return Verification(int(keep.sum()), matched)


def fused_distance(distance: float, inliers: int, weight: float) -> float:
    """The embedding's cosine distance lowered by the geometric evidence:
    ``distance - weight * log(1 + max(inliers - INLIER_FLOOR, 0))``. ``weight`` 0 is the embedding alone."""
    return float(distance) - float(weight) * math.log1p(max(0, inliers - INLIER_FLOOR))


def _root_sift(desc: np.ndarray) -> np.ndarray:
    """RootSIFT (Arandjelović and Zisserman): L1-normalise then square-root, so L2 compares like Hellinger."""
    d = desc.astype(np.float32)
    d /= d.sum(axis=1, keepdims=True) + 1e-7
    return np.sqrt(d)
