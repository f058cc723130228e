"""Deterministic procedural photographs of humpback whale flukes, in the Kaggle whale format.

No labelled real fluke photos can be downloaded where this project is built, so it makes its own: a set of
synthetic individuals, each photographed several times. An individual (:class:`WhaleIdentity`, in
:mod:`~training.synthetic.identity`) is its fluke's silhouette, trailing edge, pigmentation and scars,
rendered once as a canonical texture (:mod:`~training.synthetic.texture`); every photo of it
(:func:`render_photo`, in :mod:`~training.synthetic.photo`) varies in pose, light, sea and degradations.
:func:`render_scene` (:mod:`~training.synthetic.scene`, over :mod:`~training.synthetic.seascape`) makes a
wide camera frame of it instead, in another style, with the truth of where its fluke is.
:func:`generate_dataset` (:mod:`~training.synthetic.dataset`) writes a whole set of either, and
:mod:`~training.synthetic.cli` is ``whale-train synth``.

Pure numpy + Pillow, so the app's demo and the tests can use it without TensorFlow. The same seed gives
byte-identical output.

Python API::

    generate_dataset(out, whales=50, train_per_whale=(1, 6), test_per_whale=1, unknown_whales=10, seed=0)
    whale = make_whale(7)
    image = render_photo(whale, np.random.default_rng(1), width=900)
    scene = render_scene(whale, np.random.default_rng(1), width=1200)  # .image, .box, .tips, .tilt_degrees
    generate_dataset(out, whales=150, unknown_whales=40, scenes=True)  # + boxes.csv
"""

from __future__ import annotations

from training.synthetic.dataset import (
           BOXES_HEADER,
           SCENE_WIDTH_RANGE,
           WIDTH_RANGE,
           ProgressFn,
           SyntheticSet,
           generate_dataset,
           long_tail_counts,
)
from training.synthetic.identity import WhaleIdentity, make_whale
from training.synthetic.photo import ASPECT_RANGE, render_photo
from training.synthetic.scene import Scene, SceneStyle, render_scene

__all__ = ["ASPECT_RANGE", "BOXES_HEADER", "SCENE_WIDTH_RANGE", "WIDTH_RANGE", "ProgressFn", "Scene",
           "SceneStyle", "SyntheticSet", "WhaleIdentity", "generate_dataset", "long_tail_counts",
           "make_whale", "render_photo", "render_scene"]
