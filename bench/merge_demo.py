"""Merging two galleries built from halves of one synthetic catalogue, with the truth known.

A catalogue of ``--whales`` synthetic individuals (:mod:`training.synthetic`, 4 photos each) is split
between two research groups' galleries, MINE and OTHER, the way real catalogues overlap:

* ``mine-only`` / ``other-only``: a fifth of the whales each, all their photos in one gallery;
* ``shared``: the same id on both sides and overlapping photos (photos 0-1 in MINE, 1-3 in OTHER): the
  merge must see one whale and add only photos 2-3;
* ``renamed``: the same individual, disjoint photos (0-1 in MINE, 2-3 in OTHER) and another id in OTHER:
  only the pipeline can tell: these should come back as "possibly the same whale";
* ``joined``: OTHER has one of MINE's photos of it (the same file) under another id, and a new one: it joins
  MINE's whale by the shared photo;
* one planted id conflict: OTHER uses one of MINE's ids for an other-only whale.

Then OTHER is merged into MINE (a dry run first, then the merge, then a rerun that must add nothing), and
the figures printed: counts before and after, conflicts, and the likely-same whales found, checked
against the truth.

Usage::

    python bench/merge_demo.py [--whales 30] [--tiny] [--keep DIR] [--json FILE]

``--tiny`` uses the tests' tiny model (fast, a weak descriptor) instead of the bundled models.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The repository first: bench/train_speed.py and friends must not shadow the training package.
sys.path.insert(0, str(REPO))

PHOTOS_PER_WHALE = 4


def groups(whales: int) -> dict[str, list[int]]:
    """The catalogue's whales by how they are split (see the module's docstring)."""
    fifth = max(1, whales // 5)
    order = list(range(whales))
    return {"mine-only": order[:fifth], "other-only": order[fifth:2 * fifth],
            "shared": order[2 * fifth:3 * fifth], "renamed": order[3 * fifth:4 * fifth],
            "joined": order[4 * fifth:]}


def build(root: Path, whales: int, model: Path) -> dict[str, Any]:
    """Render the catalogue and make the two galleries; returns the truth (their ids -> individual)."""
    import numpy as np

    from training.synthetic import make_whale, render_photo
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import Gallery
    from whalegui.core.sightings import Sighting

    shots = root / "catalogue"
    shots.mkdir(parents=True, exist_ok=True)

    def photo(i: int, j: int) -> Path:
        path = shots / f"whale{i:03d}_{j}.jpg"
        if not path.exists():
            render_photo(make_whale(i), np.random.default_rng([i, j]), width=480, aspect=3.0, grayscale=False,
                         caption=False, nuisance=0.3).save(path, quality=90)
        return path

    def ident(i: int) -> str:
        return f"w{i:03d}"

    g = groups(whales)
    embedder = Embedder(model, device="cpu")
    truth_other: dict[str, int] = {}
    truth_mine: dict[str, int] = {}
    north = Sighting(when="2025-07-02", place="Andfjorden", observer="Team North")
    south = Sighting(when="2025-08-14", place="Skjálfandi", observer="Team South")
    with Gallery.open(root / "mine", embedder) as mine:
        for i in g["mine-only"]:
            mine.enroll([photo(i, j) for j in range(PHOTOS_PER_WHALE)], whale_id=ident(i), sighting=north)
            truth_mine[ident(i)] = i
        for i in g["shared"] + g["renamed"] + g["joined"]:
            mine.enroll([photo(i, 0), photo(i, 1)], whale_id=ident(i), sighting=north)
            truth_mine[ident(i)] = i
    conflict_id = ident(g["mine-only"][0])
    with Gallery.open(root / "other", embedder) as other:
        for k, i in enumerate(g["other-only"]):
            # The planted conflict: the first other-only whale goes by one of MINE's ids.
            whale_id = conflict_id if k == 0 else ident(i)
            other.enroll([photo(i, j) for j in range(PHOTOS_PER_WHALE)], whale_id=whale_id, sighting=south)
            truth_other[whale_id] = i
        for i in g["shared"]:
            other.enroll([photo(i, j) for j in (1, 2, 3)], whale_id=ident(i), sighting=south)
            truth_other[ident(i)] = i
        for i in g["renamed"]:
            other.enroll([photo(i, 2), photo(i, 3)], whale_id=f"south-{i:03d}", sighting=south)
            truth_other[f"south-{i:03d}"] = i
        for i in g["joined"]:
            other.enroll([photo(i, 0), photo(i, 3)], whale_id=f"south-{i:03d}", sighting=south)
            truth_other[f"south-{i:03d}"] = i
    return {"mine": truth_mine, "other": truth_other, "conflict_id": conflict_id, "groups": g}


def run(root: Path, whales: int, tiny: bool) -> dict[str, Any]:
    from whalegui.core.embedder import Embedder
    from whalegui.core.gallery import Gallery
    from whalegui.core.gallery.merge import merge_gallery

    if tiny:
        from tests.models import make_tiny_model

        model = make_tiny_model(root / "model", height=32, width=96, dim=32)
    else:
        model = REPO / "resources" / "models" / "whale-vgg16.onnx"
    t0 = time.perf_counter()
    truth = build(root, whales, model)
    build_s = time.perf_counter() - t0
    embedder = Embedder(model, device="cpu")
    sizes: dict[str, tuple[int, int]] = {}
    for name in ("mine", "other"):
        with Gallery.open(root / name, embedder, readonly=True) as g:
            sizes[name] = (g.whale_count(), g.photo_count())
    with Gallery.open(root / "mine", embedder, readonly=True) as g:
        t0 = time.perf_counter()
        dry = merge_gallery(g, root / "other", dry_run=True)
        dry_s = time.perf_counter() - t0
    with Gallery.open(root / "mine", embedder) as g:
        t0 = time.perf_counter()
        report = merge_gallery(g, root / "other")
        merge_s = time.perf_counter() - t0
        again = merge_gallery(g, root / "other")
        healthy = g.check().healthy
        after = (g.whale_count(), g.photo_count())
    # Against the truth: which listed pairs are one individual, and which true pairs were missed.
    listed = [(s.their_id, s.mine, truth["other"][s.their_id] == truth["mine"].get(s.mine))
              for s in report.likely_same]
    should = {f"south-{i:03d}" for i in truth["groups"]["renamed"]}
    found = {their for their, _, right in listed if right}
    return {
        "model": "tiny test model" if tiny else "bundled whale-vgg16 + fluke-finder",
        "whales": whales, "photos_per_whale": PHOTOS_PER_WHALE, "groups": {k: len(v) for k, v in
                                                                          truth["groups"].items()},
        "mine_before": sizes["mine"], "other": sizes["other"], "mine_after": after,
        "dry_run": {"photos_new": dry.photos_new, "likely_same": len(dry.likely_same), "seconds": dry_s,
                    "agrees": (dry.photos_new, [w.how for w in dry.whales]) ==
                              (report.photos_new, [w.how for w in report.whales])},
        "photos_new": report.photos_new, "photos_there": report.photos_there,
        "reembedded": report.reembedded, "sightings_new": report.sightings_new,
        "whales_by_how": {h: len(report.of_kind(h)) for h in ("new", "same", "joined", "conflict")},
        "conflicts": [(w.their_id, w.whale_id) for w in report.conflicts],
        "likely_same": [{"their": t, "mine": m, "truly_same": right} for t, m, right in listed],
        "likely_same_truly_same": sum(right for *_, right in listed),
        "renamed_planted": len(should), "renamed_found": len(found & should),
        "rerun_photos_new": again.photos_new, "healthy": healthy,
        "seconds": {"build": round(build_s, 1), "merge": round(merge_s, 2), "dry_run": round(dry_s, 2)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--whales", type=int, default=30)
    parser.add_argument("--tiny", action="store_true",
                        help="the tests' tiny model instead of the bundled one")
    parser.add_argument("--keep", type=Path, default=None, help="build in this folder and keep it")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        root = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="whalegui-merge-")))
        r = run(root, args.whales, args.tiny)
    print(f"model: {r['model']}; catalogue: {r['whales']} whales x {r['photos_per_whale']} photos, split "
          f"{r['groups']}")
    print(f"MINE before: {r['mine_before'][0]} whales, {r['mine_before'][1]} photos; OTHER: {r['other'][0]} "
          f"whales, {r['other'][1]} photos")
    print(f"merge: {r['photos_new']} photos added, {r['photos_there']} already there, {r['reembedded']} "
          f"re-embedded, {r['sightings_new']} sightings new; whales {r['whales_by_how']}")
    print(f"conflicts (their id -> new id): {r['conflicts']}")
    print(f"MINE after: {r['mine_after'][0]} whales, {r['mine_after'][1]} photos; healthy: {r['healthy']}; "
          f"a rerun added {r['rerun_photos_new']}")
    print(f"possibly the same whale: {len(r['likely_same'])} listed, {r['likely_same_truly_same']} truly the "
          f"same; of the {r['renamed_planted']} renamed whales, {r['renamed_found']} found")
    for s in r["likely_same"]:
        print(f"  {s['their']} ~ {s['mine']}: {'truly the same' if s['truly_same'] else 'NOT the same'}")
    print(f"dry run: {r['dry_run']['photos_new']} photos, {r['dry_run']['likely_same']} possibly-same, "
          f"agrees with the merge: {r['dry_run']['agrees']}; seconds {r['seconds']}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1), encoding="utf-8")
    return 0 if r["healthy"] and r["rerun_photos_new"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
