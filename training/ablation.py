"""``whale-train ablation``: what each stage of the identification pipeline is worth, in one table.

Rows: the floor (raw ImageNet VGG16, no training), the floor with verification, the model on the whole frame,
the model on the detector's crop, the model cropping only flukes small in their frame (the app's rule), and
each of those with verification. Columns, for each evaluation set:
known-whale top-1 and top-5, MAP@5 with ``new_whale``, the new-whale AUC and the query counts.

Evaluation sets:

- ``real``: the TEST whales of the by-whale split of the real labelled photos (:mod:`training.real_split`),
  never trained on; each pipeline's ``new_whale`` threshold and fusion weight are chosen on the VALIDATION
  whales and TEST is scored once with them.
- ``scenes``: wide synthetic frames the models never saw (``whale-train synth --scenes``): ``train.csv`` is
  the gallery, ``test/`` with ``test_labels.csv`` the queries. Nothing is tuned on them: the threshold and
  weight are the real split's VALIDATION choices. ``boxes.csv`` scores the detector's boxes (IoU).

Verification is the app's rule: the query is verified (:func:`whalegui.core.verify.verify`) against the
embedding's :data:`VERIFY_TOP` nearest gallery photos; a verified photo's distance becomes
:func:`~whalegui.core.verify.fused_distance`; a whale's distance is its best photo's
(:func:`~whalegui.core.identify.rank_by_whale`); ``new_whale`` is answered where the best whale is farther
than the threshold. The search is exact (numpy), the reference the app's HNSW index approximates.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.real_split import Ranking, Scores, choose_threshold, cosine_distances, score, standard
from training.stages import ImageEmbedder, ProgressFn, Stages
from whalegui.core.fluke import Fluke, FlukeFinder, box_iou, crops_for_embedding
from whalegui.core.identify import PhotoHit, rank_by_whale
from whalegui.core.images import read_metadata
from whalegui.core.records import NEW_WHALE
from whalegui.core.verify import INLIER_FLOOR, LocalFeatures, fused_distance, verify

log = logging.getLogger(__name__)

#: How many of the embedding's nearest gallery photos the app verifies.
VERIFY_TOP = 10
#: Fusion weights tried on VALIDATION (0 is the embedding alone, so verification is never chosen to hurt).
WEIGHTS = (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.12, 0.16, 0.24, 0.32, 0.48, 0.64, 1.0)
#: Whales per query kept in a ranking: enough for top-5 and MAP@5.
DEPTH = 20


@dataclass(frozen=True)
class Protocol:
    """One evaluation: gallery and query photos (positions in their source's photo list), the gallery
    photos' whales and each query's truth (its whale, or ``new_whale`` when it is not in the gallery)."""

    name: str
    gallery: np.ndarray
    queries: np.ndarray
    gallery_whales: tuple[str, ...]
    truth: tuple[str, ...]

    @property
    def known(self) -> np.ndarray:
        return np.array([t != NEW_WHALE for t in self.truth], bool)

    def counts(self) -> dict[str, int]:
        known = self.known
        return {"gallery_photos": len(self.gallery), "gallery_whales": len(set(self.gallery_whales)),
                "known_queries": int(known.sum()), "unknown_queries": int((~known).sum())}


@dataclass(frozen=True)
class Source:
    """Photos to run the stages over once, and the evaluations drawn from them."""

    name: str
    paths: list[Path]
    protocols: dict[str, Protocol]
    boxes: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)  # truth, by position


def real_source(root: Path, seed: int = 2018) -> Source:
    """The real labelled folder's VALIDATION and TEST evaluations (:func:`training.real_split.standard`);
    only their photos are run through the stages."""
    photos, _, val, test = standard(root, seed)
    used = np.unique(np.concatenate([val.gallery, val.queries, test.gallery, test.queries]))
    position = {int(i): p for p, i in enumerate(used)}
    protocols = {}
    for name, ev in (("val", val), ("test", test)):
        truth = tuple(photos.whales[int(q)] if k else NEW_WHALE for q, k in zip(ev.queries, ev.known,
                                                                                 strict=True))
        protocols[name] = Protocol(name, np.array([position[int(i)] for i in ev.gallery], np.int64),
                                   np.array([position[int(i)] for i in ev.queries], np.int64),
                                   tuple(photos.whales[int(i)] for i in ev.gallery), truth)
    return Source("real", [photos.paths[int(i)] for i in used], protocols)


def scenes_source(root: Path) -> Source:
    """A ``synth --scenes`` set: ``train.csv`` the gallery, ``test_labels.csv`` the queries, ``boxes.csv``
    the truth of every fluke's box."""
    from training.data import read_catalogue

    gallery = read_catalogue(root / "train.csv", root / "train")
    queries, truth = read_catalogue(root / "test_labels.csv", root / "test").queries()
    paths = gallery.paths + queries
    n = len(gallery.paths)
    protocol = Protocol("scenes", np.arange(n), np.arange(n, len(paths)), tuple(gallery.ids), tuple(truth))
    boxes: dict[int, tuple[float, float, float, float]] = {}
    boxes_csv = root / "boxes.csv"
    if boxes_csv.is_file():
        by_name = {p.name: i for i, p in enumerate(paths)}
        with boxes_csv.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["Image"] in by_name:
                    boxes[by_name[row["Image"]]] = (float(row["x0"]), float(row["y0"]), float(row["x1"]),
                                                    float(row["y1"]))
    return Source("scenes", paths, {"scenes": protocol}, boxes)


def rank(dist: np.ndarray, protocol: Protocol, depth: int = DEPTH) -> Ranking:
    """Per query, gallery whales by their best photo's distance (the app's :func:`rank_by_whale`)."""
    whales, dists = [], []
    for row in dist:
        hits = rank_by_whale((PhotoHit(j, w, float(d)) for j, (w, d) in
                              enumerate(zip(protocol.gallery_whales, row, strict=True))), top=depth)
        whales.append([h.whale_id for h in hits])
        dists.append(np.array([h.distance for h in hits]))
    return Ranking(whales, dists, list(protocol.truth), protocol.known)


@dataclass(frozen=True)
class Candidates:
    """Per query, the embedding's nearest gallery photos (columns of the distance matrix) and their
    inlier counts."""

    photos: np.ndarray  # int (queries, k)
    inliers: np.ndarray  # int (queries, k)


def verify_candidates(dist: np.ndarray, query_features: Sequence[LocalFeatures],
                      gallery_features: Sequence[LocalFeatures], k: int = VERIFY_TOP) -> Candidates:
    """Verify each query against its ``k`` nearest gallery photos."""
    k = min(k, dist.shape[1])
    photos = np.argsort(dist, axis=1, kind="stable")[:, :k]
    inliers = np.array([[verify(query_features[q], gallery_features[int(j)]).inliers for j in photos[q]]
                        for q in range(len(dist))], np.int64).reshape(len(dist), k)
    return Candidates(photos, inliers)


def fuse(dist: np.ndarray, candidates: Candidates, weight: float) -> np.ndarray:
    """The distance matrix with each verified photo's distance replaced by its fused distance."""
    out = dist.astype(np.float64)
    for q in range(len(dist)):
        for j, n in zip(candidates.photos[q], candidates.inliers[q], strict=True):
            out[q, j] = fused_distance(float(dist[q, j]), int(n), weight)
    return out


def choose_weight(dist: np.ndarray, candidates: Candidates, protocol: Protocol,
                  weights: Sequence[float] = WEIGHTS) -> tuple[float, float, Scores]:
    """The fusion weight, and the threshold at it, best on this (VALIDATION) set: highest known-whale
    top-1, then MAP@5, then the smaller weight. Returns (weight, threshold, scores)."""
    best: tuple[tuple[float, float], float, float, Scores] | None = None
    for w in weights:
        r = rank(fuse(dist, candidates, w), protocol)
        t = choose_threshold(r)
        s = score(r, t, len(protocol.gallery))
        if best is None or (s.top1, s.map5) > best[0]:
            best = ((s.top1, s.map5), float(w), t, s)
    assert best is not None
    return best[1], best[2], best[3]


#: The app's rule (:func:`whalegui.core.fluke.crops_for_embedding`, the card's ``crop_below``): a fluke is
#: cropped for the embedding only when its box covers less than this share of the frame. Fixed beforehand
#: ("clearly smaller than the frame"), not tuned on any evaluation set.
CROP_BELOW = 0.5


@dataclass(frozen=True)
class Pipeline:
    """One row: which embeddings (``floor`` or ``model``, ``frame`` or ``crop``) and whether verified."""

    name: str
    embedding: str
    view: str
    verified: bool


PIPELINES = (
    Pipeline("floor: raw ImageNet VGG16 (GAP block5), whole frame", "floor", "frame", False),
    Pipeline("floor + verification", "floor", "frame", True),
    Pipeline("model, whole frame", "model", "frame", False),
    Pipeline("model, detector crop", "model", "crop", False),
    Pipeline("model, whole frame + verification", "model", "frame", True),
    Pipeline("model, detector crop + verification", "model", "crop", True),
    Pipeline(f"model, crop only a fluke under {CROP_BELOW:.0%} of the frame", "model", "auto", False),
    Pipeline(f"model, crop only a fluke under {CROP_BELOW:.0%} of the frame + verification", "model", "auto",
             True),
)


@dataclass
class Row:
    """A pipeline's choices (made on VALIDATION) and its scores per evaluation set."""

    pipeline: Pipeline
    weight: float | None
    threshold: float
    scores: dict[str, Scores]


class Ablation:
    """Runs every pipeline the given models allow over the sources, through :class:`Stages`."""

    def __init__(self, model: ImageEmbedder, *, finder: FlukeFinder | None = None,
                 floor: ImageEmbedder | None = None, margin: float = 0.1, cache: Path | None = None,
                 progress: ProgressFn | None = None) -> None:
        self.model, self.finder, self.floor = model, finder, floor
        self.margin, self.cache, self.progress = margin, cache, progress
        self._stages: dict[str, Stages] = {}
        self._flukes: dict[str, list[Fluke]] = {}
        self._embeddings: dict[tuple[str, str, str], np.ndarray] = {}
        self._features: dict[tuple[str, str], list[LocalFeatures]] = {}
        self._small: dict[str, np.ndarray] = {}

    def pipelines(self) -> list[Pipeline]:
        return [p for p in PIPELINES if (p.embedding != "floor" or self.floor is not None)
                and (p.view == "frame" or self.finder is not None)]

    def small(self, source: Source) -> np.ndarray:
        """Per photo, whether the app would crop it for the embedding (its fluke is small in the frame)."""
        if source.name not in self._small:
            flukes = self.flukes(source)
            assert flukes is not None
            sizes = [(m.width, m.height) for m in map(read_metadata, source.paths)]
            self._small[source.name] = np.array(
                [crops_for_embedding(f, size, CROP_BELOW) for f, size in zip(flukes, sizes, strict=True)])
        return self._small[source.name]

    def stages(self, source: Source) -> Stages:
        if source.name not in self._stages:
            self._stages[source.name] = Stages(source.name, source.paths, cache=self.cache,
                                               progress=self.progress)
        return self._stages[source.name]

    def flukes(self, source: Source) -> list[Fluke] | None:
        if self.finder is None:
            return None
        if source.name not in self._flukes:
            self._flukes[source.name] = self.stages(source).flukes(self.finder)
        return self._flukes[source.name]

    def embeddings(self, source: Source, p: Pipeline) -> np.ndarray:
        if p.view == "auto":  # per photo, the crop's or the whole frame's, as the app chooses
            frame, crop = (self.embeddings(source, Pipeline("", p.embedding, v, False))
                           for v in ("frame", "crop"))
            return np.where(self.small(source)[:, None], crop, frame)
        key = (source.name, p.embedding, p.view)
        if key not in self._embeddings:
            st = self.stages(source)
            if p.embedding == "floor":
                assert self.floor is not None
                self._embeddings[key] = st.embeddings(self.floor, label="floor (raw VGG16)")
            else:
                flukes = self.flukes(source) if p.view == "crop" else None
                self._embeddings[key] = st.embeddings(self.model, flukes, margin=self.margin,
                                                      label=f"model, {p.view}")
        return self._embeddings[key]

    def features(self, source: Source, p: Pipeline) -> list[LocalFeatures]:
        if p.view == "auto":
            frame, crop = (self.features(source, Pipeline("", p.embedding, v, False))
                           for v in ("frame", "crop"))
            return [c if s else f for f, c, s in zip(frame, crop, self.small(source), strict=True)]
        key = (source.name, p.view)
        if key not in self._features:
            self._features[key] = self.stages(source).features(
                self.flukes(source) if p.view == "crop" else None, margin=self.margin)
        return self._features[key]

    def distances(self, source: Source, protocol: Protocol, p: Pipeline
                  ) -> tuple[np.ndarray, Candidates | None]:
        emb = self.embeddings(source, p)
        dist = cosine_distances(emb[protocol.queries], emb[protocol.gallery])
        if not p.verified:
            return dist, None
        feats = self.features(source, p)

        def compute() -> dict[str, np.ndarray]:
            c = verify_candidates(dist, [feats[int(i)] for i in protocol.queries],
                                  [feats[int(i)] for i in protocol.gallery])
            return {"photos": c.photos, "inliers": c.inliers}

        embedder = self.floor if p.embedding == "floor" else self.model
        assert embedder is not None
        detector = self.finder.fingerprint if self.finder is not None and p.view != "frame" else None
        key = [protocol.name, embedder.fingerprint, p.view, detector, self.margin, VERIFY_TOP]
        if p.view == "auto":
            key.append(CROP_BELOW)
        out = self.stages(source).cached("inliers", key, compute)
        return dist, Candidates(out["photos"], out["inliers"])

    def run(self, real: Source, others: Sequence[Source] = ()) -> list[Row]:
        """Each pipeline: choices on ``real``'s VALIDATION, scores on its TEST and on each other source."""
        rows = []
        for p in self.pipelines():
            t0 = time.monotonic()
            dist, cand = self.distances(real, real.protocols["val"], p)
            if cand is None:
                weight: float | None = None
                r = rank(dist, real.protocols["val"])
                threshold = choose_threshold(r)
                val = score(r, threshold, len(real.protocols["val"].gallery))
            else:
                weight, threshold, val = choose_weight(dist, cand, real.protocols["val"])
            scores = {"val": val}
            for source, name in [(real, "test"), *((s, s.name) for s in others)]:
                protocol = source.protocols[name]
                dist, cand = self.distances(source, protocol, p)
                if cand is not None:
                    dist = fuse(dist, cand, weight or 0.0)
                scores[source.name] = score(rank(dist, protocol), threshold, len(protocol.gallery))
            log.info("%s: done in %.0f s", p.name, time.monotonic() - t0)
            rows.append(Row(p, weight, threshold, scores))
        return rows

    def detector_report(self, source: Source) -> dict[str, Any]:
        """How often the detector found a fluke, and its boxes' IoU with the truth where there is one."""
        flukes = self.flukes(source)
        if flukes is None:
            return {}
        out: dict[str, Any] = {"photos": len(flukes), "found": float(np.mean([f.found for f in flukes]))}
        if source.boxes:
            iou = np.array([box_iou(flukes[i].box, b) for i, b in sorted(source.boxes.items())])
            out.update({"iou_photos": len(iou), "iou_mean": float(iou.mean()),
                        "iou_median": float(np.median(iou)), "iou_at_least_0.5": float((iou >= 0.5).mean()),
                        "iou_at_least_0.7": float((iou >= 0.7).mean())})
        return out


def all_new_whale_map5(protocol: Protocol) -> float:
    """MAP@5 of answering ``new_whale`` for every query: the score to beat."""
    return float(np.mean(~protocol.known))


def markdown_table(rows: Sequence[Row], sets: Sequence[str]) -> str:
    """The ablation as one Markdown table: a row per pipeline, the five figures per evaluation set."""
    head = ["pipeline", "weight (VAL)", "threshold (VAL)"]
    for s in sets:
        head += [f"{s} top-1", f"{s} top-5", f"{s} MAP@5", f"{s} AUC", f"{s} queries"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in rows:
        cells = [row.pipeline.name, "-" if row.weight is None else f"{row.weight:g}", f"{row.threshold:.3f}"]
        for s in sets:
            sc = row.scores[s]
            cells += [f"{sc.top1:.3f}", f"{sc.top5:.3f}", f"{sc.map5:.3f}", f"{sc.auc:.3f}",
                      f"{sc.queries_known}+{sc.queries_unknown}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def notes(rows: Sequence[Row], sources: Sequence[Source], detector: dict[str, dict[str, Any]]) -> list[str]:
    """The lines under the table: what the sets are, the all-new_whale baselines, the floor check and the
    detector's figures."""
    real = sources[0]
    out = ["real = TEST whales of the by-whale split (queries known+unknown); weight and threshold chosen on "
           f"VALIDATION; verification of the {VERIFY_TOP} nearest photos, fused distance = d - w * "
           f"log1p(max(inliers - {INLIER_FLOOR}, 0))"]
    for s in sources:
        for name, protocol in s.protocols.items():
            c = protocol.counts()
            label = "real VALIDATION" if name == "val" else s.name
            out.append(f"{label}: {c['gallery_photos']} gallery photos of {c['gallery_whales']} whales, "
                       f"{c['known_queries']} known + {c['unknown_queries']} unknown queries; all new_whale "
                       f"scores MAP@5 {all_new_whale_map5(protocol):.3f}")
    by = {r.pipeline.name: r for r in rows}
    floor = by.get(PIPELINES[0].name)
    if floor is not None:
        best = max(rows, key=lambda r: r.scores[real.name].top1)
        ratio = best.scores[real.name].top1 / floor.scores[real.name].top1 if floor.scores[real.name].top1 \
            else float("inf")
        out.append(f"best real top-1: {best.pipeline.name}, {best.scores[real.name].top1:.3f} = "
                   f"{ratio:.1f}x the floor's {floor.scores[real.name].top1:.3f}")
    for name, d in detector.items():
        if not d:
            continue
        line = f"detector on {name}: fluke found in {d['found']:.1%} of {d['photos']} photos"
        if "iou_mean" in d:
            line += (f"; box IoU with the truth mean {d['iou_mean']:.3f}, median {d['iou_median']:.3f}, "
                     f">= 0.5 in {d['iou_at_least_0.5']:.1%}, >= 0.7 in {d['iou_at_least_0.7']:.1%}")
        out.append(line)
    return out


def report_json(rows: Sequence[Row], sources: Sequence[Source], detector: dict[str, dict[str, Any]],
                about: dict[str, Any]) -> dict[str, Any]:
    return {
        "about": about,
        "verify_top": VERIFY_TOP, "inlier_floor": INLIER_FLOOR, "weights_tried": list(WEIGHTS),
        "sets": {f"{s.name}:{n}": {**p.counts(), "all_new_whale_map5": all_new_whale_map5(p)}
                 for s in sources for n, p in s.protocols.items()},
        "rows": [{"pipeline": r.pipeline.name, "embedding": r.pipeline.embedding, "view": r.pipeline.view,
                  "verified": r.pipeline.verified, "weight": r.weight, "threshold": r.threshold,
                  "scores": {k: asdict(v) for k, v in r.scores.items()}} for r in rows],
        "detector": detector,
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True, metavar="MODEL.onnx",
                   help="the embedding model; its card MODEL.json beside it")
    p.add_argument("--detector", type=Path, metavar="DET.onnx",
                   help="the fluke detector (card beside it): adds the crop rows and the box IoU")
    p.add_argument("--real", type=Path, required=True, metavar="DIR",
                   help="real labelled folder (labels.csv, images/): split by whale; choices on VALIDATION, "
                        "scores on TEST")
    p.add_argument("--scenes", type=Path, metavar="DIR",
                   help="a 'whale-train synth --scenes' set, scored with the real split's VALIDATION "
                        "choices")
    p.add_argument("--vgg16-weights", type=Path, metavar="FILE",
                   help="ImageNet VGG16 notop weights (.weights.h5): adds the floor rows (needs TensorFlow)")
    p.add_argument("--report", type=Path, metavar="DIR",
                   help="write ablation.json and ablation.md here, and keep embeddings and keypoints in "
                        "DIR/cache so a rerun is quick")
    p.add_argument("--split-seed", type=int, default=2018, help="seed of the by-whale split")
    p.add_argument("--cpu", action="store_true", help="run the models on the CPU even if a GPU works")


def _progress_printer() -> ProgressFn:
    interactive = sys.stdout.isatty()
    shown: dict[str, float] = {}

    def progress(what: str, done: int, total: int, seconds: float) -> None:
        line = f"{what}: {done}/{total} ({done / max(seconds, 1e-6):.1f} photos/s)"
        if interactive:
            print(f"\r{line}", end="\n" if done == total else "", flush=True)
        elif done == total or seconds - shown.get(what, -1e9) >= 30:  # a log line every 30 s
            shown[what] = seconds
            print(line, flush=True)

    return progress


def run(args: argparse.Namespace) -> int:
    from whalegui.core.embedder import Embedder

    device = "cpu" if args.cpu else "auto"
    model = Embedder(args.model, device=device)
    finder = FlukeFinder(args.detector, device=device) if args.detector else None
    floor = None
    if args.vgg16_weights is not None:
        from training.stages import VGG16Floor
        from training.tensorflow_setup import import_tensorflow

        import_tensorflow()
        floor = VGG16Floor(args.vgg16_weights)
    print(model.describe() + (f"; detector {finder.card.name} ({finder.fingerprint[:12]})" if finder else ""))
    sources = [real_source(args.real, args.split_seed)]
    if args.scenes is not None:
        sources.append(scenes_source(args.scenes))
    margin = finder.card.margin if finder is not None else 0.1
    cache = args.report / "cache" if args.report else None
    ablation = Ablation(model, finder=finder, floor=floor, margin=margin, cache=cache,
                        progress=_progress_printer())
    rows = ablation.run(sources[0], sources[1:])
    detector = {s.name: ablation.detector_report(s) for s in sources} if finder else {}
    sets = [s.name for s in sources]
    table = markdown_table(rows, sets)
    lines = notes(rows, sources, detector)
    print(table)
    for line in lines:
        print(line)
    if args.report:
        args.report.mkdir(parents=True, exist_ok=True)
        about = {"model": str(args.model), "model_sha256": model.fingerprint,
                 "detector": str(args.detector) if finder else None,
                 "detector_sha256": finder.fingerprint if finder else None, "margin": margin,
                 "floor": floor.fingerprint if floor else None, "real": str(args.real),
                 "scenes": str(args.scenes) if args.scenes else None, "split_seed": args.split_seed}
        (args.report / "ablation.json").write_text(
            json.dumps(report_json(rows, sources, detector, about), indent=2) + "\n", encoding="utf-8")
        (args.report / "ablation.md").write_text(table + "\n\n" + "\n".join(f"- {n}" for n in lines) + "\n",
                                                 encoding="utf-8")
        print(f"report written to {args.report}")
    return 0
