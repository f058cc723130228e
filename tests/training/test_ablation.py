"""``whale-train ablation``: ranking by whale, verification of the nearest photos, the fusion weight chosen on
validation, and the whole command on a tiny labelled folder and a tiny scenes set with tiny real models."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.flukes import pattern_photo
from tests.models import make_detector, make_tiny_model
from training.__main__ import main
from training.ablation import (
    PIPELINES,
    Candidates,
    Protocol,
    choose_weight,
    fuse,
    rank,
    verify_candidates,
)
from training.real_split import score
from training.synthetic import generate_dataset
from whalegui.core.fluke import box_iou
from whalegui.core.records import NEW_WHALE
from whalegui.core.verify import INLIER_FLOOR, extract_features


def protocol(gallery_whales: list[str], truth: list[str]) -> Protocol:
    return Protocol("toy", np.arange(len(gallery_whales)), np.arange(len(truth)), tuple(gallery_whales),
                    tuple(truth))


def test_whales_are_ranked_by_their_best_photo() -> None:
    p = protocol(["w_a", "w_b", "w_a", "w_c"], ["w_a", NEW_WHALE])
    dist = np.array([[0.5, 0.3, 0.1, 0.9], [0.4, 0.4, 0.8, 0.2]])
    r = rank(dist, p)
    assert r.whales == [["w_a", "w_b", "w_c"], ["w_c", "w_a", "w_b"]]  # ties broken by whale id
    np.testing.assert_allclose(r.dists[0], [0.1, 0.3, 0.9])
    assert r.known.tolist() == [True, False] and r.truth == ["w_a", NEW_WHALE]


def textured(seed: int, size: int = 160) -> Image.Image:
    """Blobs of random grey on a random background: plenty of SIFT keypoints, different for each seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size // 8, size // 8), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC).convert("RGB")


def test_verification_promotes_the_candidate_whose_marks_line_up() -> None:
    gallery = [textured(1), textured(2), textured(3)]  # whales a, b, c
    query = gallery[0].rotate(8, resample=Image.Resampling.BILINEAR).resize((200, 200))  # whale a again
    g_feats = [extract_features(im) for im in gallery]
    q_feats = [extract_features(query)]
    p = protocol(["w_a", "w_b", "w_c"], ["w_a"])
    dist = np.array([[0.30, 0.10, 0.20]])  # the embedding prefers b, then c, then the right whale
    cand = verify_candidates(dist, q_feats, g_feats, k=3)
    assert cand.photos.tolist() == [[1, 2, 0]]
    right, wrong = cand.inliers[0, 2], cand.inliers[0, :2]
    assert right > INLIER_FLOOR + 10 and (wrong <= INLIER_FLOOR).all()
    assert rank(fuse(dist, cand, 0.0), p).whales[0][0] == "w_b"
    assert rank(fuse(dist, cand, 0.1), p).whales[0][0] == "w_a"
    only_nearest = verify_candidates(dist, q_feats, g_feats, k=2)  # the right photo is not verified
    assert only_nearest.photos.tolist() == [[1, 2]]
    assert rank(fuse(dist, only_nearest, 0.1), p).whales[0][0] == "w_b"


def test_the_fusion_weight_is_the_one_best_on_validation() -> None:
    # Two known queries whose embedding ranks the wrong whale first, the right one with strong geometry;
    # one unknown query whose nearest photo has no geometry.
    p = protocol(["w_a", "w_b", "w_c"], ["w_a", "w_b", NEW_WHALE])
    dist = np.array([[0.30, 0.20, 0.25], [0.20, 0.30, 0.25], [0.40, 0.50, 0.45]])
    helpful = Candidates(np.array([[1, 2, 0], [0, 2, 1], [0, 2, 1]]),
                         np.array([[0, 0, 30], [0, 0, 30], [2, 0, 0]]))
    weight, threshold, s = choose_weight(dist, helpful, p)
    assert weight > 0 and s.top1 == 1.0 and s.map5 == 1.0
    assert s == score(rank(fuse(dist, helpful, weight), p), threshold, 3)
    assert choose_weight(dist, helpful, p, weights=(0.0,))[2].top1 == 0.0
    misleading = Candidates(helpful.photos, np.array([[30, 0, 0], [30, 0, 0], [0, 0, 0]]))  # wrong whales
    assert choose_weight(dist, misleading, p)[0] == 0.0


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A labelled folder like the real one (48 whales, 100x100 pattern photos, 12 of them seen once), a
    tiny scenes set, a tiny embedder and a detector that always answers the same box."""
    root = tmp_path_factory.mktemp("ablation")
    real = root / "real"
    rows, n = [], 0
    for w in range(48):
        for shot in range(1 if w >= 36 else 2 + w % 3):
            name = f"p{n:04d}.jpg"
            n += 1
            pattern_photo(real / "images" / name, w, shot, size=(100, 100))
            rows.append((name, f"w_{w:07x}"))
    with (real / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Image", "Id"])
        writer.writerows(rows)
    generate_dataset(root / "scenes", whales=4, unknown_whales=2, train_per_whale=(1, 3), seed=3, scenes=True,
                     width_range=(96, 128))
    return {"real": real, "scenes": root / "scenes",
            "model": make_tiny_model(root / "model", height=32, width=32),
            "detector": make_detector(root / "detector", [0.2, 0.25, 0.8, 0.75], [0.2, 0.5, 0.8, 0.5], 0.9)}


@pytest.fixture(scope="module")
def vgg16_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A notop VGG16 weights file with random weights: the floor's code path without the download."""
    keras = pytest.importorskip("keras")
    path = tmp_path_factory.mktemp("vgg16") / "vgg16_random_notop.weights.h5"
    keras.applications.VGG16(include_top=False, weights=None, input_shape=(128, 128, 3)).save_weights(path)
    return path


@pytest.mark.slow
def test_the_command_prints_one_table_and_writes_json_and_markdown_then_reruns_from_its_cache(
        sets: dict[str, Path], vgg16_weights: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report"
    argv = ["ablation", "--model", str(sets["model"]), "--detector", str(sets["detector"]), "--real",
            str(sets["real"]), "--scenes", str(sets["scenes"]), "--vgg16-weights", str(vgg16_weights),
            "--report", str(report), "--cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "photos/s" in out
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(PIPELINES)
    assert "real top-1" in table[0] and "scenes MAP@5" in table[0] and "scenes queries" in table[0]
    assert [line.split("|")[1].strip() for line in table[2:]] == [p.name for p in PIPELINES]

    result = json.loads((report / "ablation.json").read_text())
    rows = {r["pipeline"]: r for r in result["rows"]}
    assert list(rows) == [p.name for p in PIPELINES]
    for r in rows.values():
        assert set(r["scores"]) == {"val", "real", "scenes"}
        for s in r["scores"].values():  # one threshold, chosen on VALIDATION, for every set
            assert s["threshold"] == r["threshold"]
            assert 0 <= s["top1"] <= s["top5"] <= 1 and 0 <= s["map5"] <= 1
        assert (r["weight"] is None) == (not r["verified"])
    # The weight grid holds 0 (the embedding alone), so verification never scores worse on VALIDATION.
    for base, verified in ((0, 1), (2, 4), (3, 5)):
        b, v = rows[PIPELINES[base].name]["scores"]["val"], rows[PIPELINES[verified].name]["scores"]["val"]
        assert (v["top1"], v["map5"]) >= (b["top1"], b["map5"])
    counts = result["sets"]["scenes:scenes"]
    assert (counts["known_queries"], counts["unknown_queries"]) == (4, 2)
    assert rows[PIPELINES[2].name]["scores"]["scenes"]["queries_known"] == 4

    # The detector always answers the same fractions of the frame: its IoU is known from boxes.csv.
    with (sets["scenes"] / "boxes.csv").open(newline="") as f:
        truth = list(csv.DictReader(f))
    ious = []
    for row in truth:
        folder = "train" if (sets["scenes"] / "train" / row["Image"]).is_file() else "test"
        with Image.open(sets["scenes"] / folder / row["Image"]) as im:
            w, h = im.size
        ious.append(box_iou((0.2 * w, 0.25 * h, 0.8 * w, 0.75 * h),
                            tuple(float(row[k]) for k in ("x0", "y0", "x1", "y1"))))  # type: ignore[arg-type]
    assert result["detector"]["scenes"]["iou_mean"] == pytest.approx(np.mean(ious), abs=1e-4)
    assert result["detector"]["scenes"]["iou_photos"] == len(truth) == 12
    assert result["detector"]["real"]["found"] == 1.0

    markdown = (report / "ablation.md").read_text()
    assert [line for line in markdown.splitlines() if line.startswith("|")] == table

    cached = {p: p.stat().st_mtime_ns for p in (report / "cache").iterdir()}
    assert len(cached) >= 8  # flukes, embeddings, keypoints, inliers
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert [line for line in again.splitlines() if line.startswith("|")] == table
    assert "photos/s" not in again  # nothing embedded twice
    assert {p: p.stat().st_mtime_ns for p in (report / "cache").iterdir()} == cached


def test_the_real_folder_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["ablation", "--model", "m.onnx"])
    assert exc.value.code == 2 and "--real" in capsys.readouterr().err
