"""The headless CLI end to end: real photos, real tiny ONNX model, real gallery; formats and exit codes."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

from tests.flukes import pattern_photo, synthetic_kaggle_set
from tests.models import make_detector, make_tiny_model
from whalegui.cli import main
from whalegui.core.gallery import INDEX_NAME, Gallery
from whalegui.core.identify import NEW_WHALE, map_at_5
from whalegui.core.model_card import FlukeFinderRef, VerificationSettings


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model"))


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def gallery(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    folder = tmp_path / "gallery"
    for w in range(3):
        shots = [pattern_photo(tmp_path / "in" / f"w{w}_{j}.jpg", w, j) for j in range(2)]
        code, out, _ = run(capsys, "enroll", "--gallery", folder, "--model", model, "--cpu", "--new",
                           "--whale", f"whale{w}", *shots)
        assert code == 0 and f"enrolled whale whale{w} with 2 photos" in out
    return folder


@pytest.mark.slow
def test_import_then_identify_kaggle_beats_the_new_whale_baseline(
        tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train_csv, test_dir, truth = synthetic_kaggle_set(tmp_path / "set", whales=10, train_per_whale=3,
                                                      unknown=3)
    folder = tmp_path / "gallery"
    code, out, _ = run(capsys, "import", "--gallery", folder, "--csv", train_csv, "--images",
                       train_csv.parent / "train", "--model", model, "--cpu")
    assert code == 0 and "imported 30 photos (10 new whales)" in out
    started = time.perf_counter()
    code, out, _ = run(capsys, "identify", "--gallery", folder, "--model", model, "--cpu", "--format",
                       "kaggle", test_dir)
    per_photo = (time.perf_counter() - started) / len(truth)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["Image", "Id"] and len(rows) == 1 + len(truth)
    predictions = {name: ids.split() for name, ids in rows[1:]}
    assert all(1 <= len(p) <= 5 and len(set(p)) == len(p) for p in predictions.values())
    score = map_at_5(truth, predictions)
    baseline = map_at_5(truth, {name: [NEW_WHALE] for name in truth})
    with capsys.disabled():
        print(f"\nMAP@5 {score:.3f} (all-new_whale baseline {baseline:.3f}); "
              f"identify {1000 * per_photo:.1f} ms per photo (CLI, tiny model)")
    assert score >= baseline + 0.3
    # resumable: importing again adds nothing
    code, out, _ = run(capsys, "import", "--gallery", folder, "--csv", train_csv, "--images",
                       train_csv.parent / "train", "--model", model, "--cpu")
    assert code == 0 and "imported 0 photos" in out and "skipped 30 already catalogued" in out


def test_identify_formats_and_a_bad_photo(tmp_path: Path, gallery: Path, model: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    query = pattern_photo(tmp_path / "q" / "query one.jpg", 1, 50)
    bad = tmp_path / "q" / "bad.jpg"
    bad.write_text("not a jpeg")
    code, out, _ = run(capsys, "identify", "--gallery", gallery, "--model", model, "--format", "json",
                       "--top", "2", query, bad)
    assert code == 1
    good, failed = (json.loads(line) for line in out.splitlines())
    assert good["photo"] == str(query) and good["error"] is None and good["new_whale"] is False
    assert good["candidates"][0]["whale_id"] == "whale1" and len(good["candidates"]) == 2
    assert set(good["candidates"][0]) >= {"whale_id", "distance", "photo"}
    assert Path(good["candidates"][0]["photo"]).is_file()
    assert failed["photo"] == str(bad) and failed["error"] and failed["candidates"] == []

    code, out, err = run(capsys, "identify", "--gallery", gallery, "--model", model, "--format", "kaggle",
                         tmp_path / "q")
    assert code == 1 and "bad.jpg" in err
    assert out.splitlines()[0] == "Image,Id"
    assert out.splitlines()[1].startswith("query one.jpg,whale1")

    code, out, _ = run(capsys, "identify", "--gallery", gallery, "--model", model, query)
    assert code == 0 and "1. whale1" in out and "likely whale1" in out
    code, out, _ = run(capsys, "identify", "--gallery", gallery, "--model", model, "--threshold", "0",
                       query)
    assert code == 0 and "NEW whale" in out


def test_identify_json_gives_the_fluke_and_the_verification(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "pipeline"
    make_detector(folder, [0.25, 0.125, 0.75, 0.875], [0.25, 0.5, 0.75, 0.5], 0.8, name="finder")
    model = make_tiny_model(folder, fluke_finder=FlukeFinderRef("finder", 0.1),
                            verification=VerificationSettings(0.05, 2))
    gallery = tmp_path / "gallery"
    for w in range(3):
        shots = [pattern_photo(tmp_path / "in" / f"w{w}_{j}.jpg", w, j, size=(256, 128)) for j in range(2)]
        assert run(capsys, "enroll", "--gallery", gallery, "--model", model, "--new", "--whale", f"whale{w}",
                   *shots)[0] == 0
    query = pattern_photo(tmp_path / "q.jpg", 1, 50, size=(256, 128))
    code, out, _ = run(capsys, "identify", "--gallery", gallery, "--model", model, "--format", "json",
                       "--top", "3", query)
    assert code == 0
    result = json.loads(out)
    assert result["fluke"] == {"box": [64.0, 16.0, 192.0, 112.0], "source": "detector", "score": 0.8}
    first, second, third = result["candidates"]
    assert first["whale_id"] == "whale1"
    assert isinstance(first["inliers"], int) and isinstance(second["inliers"], int)
    assert third["inliers"] is None  # only the card's 2 candidates are verified
    assert third["distance"] == third["embedding_distance"]
    assert first["distance"] <= first["embedding_distance"]


def test_enroll_add_info_export(tmp_path: Path, gallery: Path, model: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    extra = pattern_photo(tmp_path / "in" / "extra.jpg", 2, 9)
    code, out, _ = run(capsys, "enroll", "--gallery", gallery, "--model", model, "--whale", "whale2", extra)
    assert code == 0 and "added 1 photo to whale whale2 (now 3 photos)" in out
    code, _, err = run(capsys, "enroll", "--gallery", gallery, "--model", model, "--whale", "whale0", extra)
    assert code == 1 and "already catalogued under whale whale2" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, "enroll", "--gallery", gallery, "--model", model, "--whale", "nobody", extra)
    assert code == 1 and "no whale 'nobody'" in err
    code, out, _ = run(capsys, "enroll", "--gallery", gallery, "--model", model, "--new",
                       pattern_photo(tmp_path / "in" / "n.jpg", 7))
    assert code == 0 and "enrolled whale w_" in out

    code, out, _ = run(capsys, "info", "--gallery", gallery, "--json")
    info = json.loads(out)
    assert code == 0 and info["whales"] == 4 and info["photos"] == 8 and info["model"] == "tiny"
    code, out, _ = run(capsys, "info", "--gallery", gallery)
    assert code == 0 and "whales    4" in out

    code, out, _ = run(capsys, "export", "--gallery", gallery)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 8 and list(rows[0])[:2] == ["Image", "Id"]
    assert all((gallery / r["Image"]).is_file() for r in rows)
    target = tmp_path / "export.csv"
    assert run(capsys, "export", "--gallery", gallery, "--output", target)[0] == 0
    # the export re-imports into a new gallery with the gallery folder as the images folder
    code, out, _ = run(capsys, "import", "--gallery", tmp_path / "copy", "--csv", target, "--images", gallery,
                       "--model", model)
    assert code == 0 and "imported 8 photos" in out


def test_usage_errors_exit_2(tmp_path: Path, gallery: Path, model: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "identify")[0] == 2
    assert run(capsys, "identify", "--gallery", gallery, "--format", "xml", "a.jpg")[0] == 2
    code, _, err = run(capsys, "enroll", "--gallery", gallery, "--model", model, "a.jpg")
    assert code == 2 and "--new" in err
    code, _, err = run(capsys, "identify", "--gallery", gallery, "--model", model, "--top", "0", "a.jpg")
    assert code == 2 and "--top" in err and "whalegui identify --help" in err and len(err.splitlines()) == 1


def test_user_errors_are_one_line(tmp_path: Path, gallery: Path, model: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "identify", "--gallery", tmp_path / "none", "--model", model, "a.jpg")
    assert code == 1 and "no gallery" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, "identify", "--gallery", gallery, "--model", tmp_path / "nope.onnx", "a.jpg")
    assert code == 1 and "model file not found" in err
    with Gallery.open(gallery):  # another window holds the gallery for writing
        code, _, err = run(capsys, "enroll", "--gallery", gallery, "--model", model, "--whale", "whale0",
                           tmp_path / "in" / "w0_0.jpg")
        assert code == 1 and "open for writing" in err and len(err.splitlines()) == 1
        code, out, _ = run(capsys, "identify", "--gallery", gallery, "--model", model,  # readers are fine
                           tmp_path / "in" / "w0_0.jpg")
        assert code == 0 and "already catalogued" in out
    code, _, err = run(capsys, "import", "--gallery", gallery, "--model", model, "--csv", tmp_path / "x.csv",
                       "--images", tmp_path)
    assert code == 1 and "x.csv" in err


def test_check_and_repair(tmp_path: Path, gallery: Path, model: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--gallery", gallery, "--model", model)
    assert code == 0 and "healthy: 3 whales, 6 photos" in out
    (gallery / INDEX_NAME).write_bytes(b"garbage")
    code, out, _ = run(capsys, "check", "--gallery", gallery, "--model", model)
    assert code == 1 and "problem: index" in out
    code, out, _ = run(capsys, "check", "--gallery", gallery, "--model", model, "--repair")
    assert code == 0 and "repaired: index" in out
    assert run(capsys, "check", "--gallery", gallery)[0] == 0  # without a model too
    code, _, err = run(capsys, "check", "--gallery", tmp_path / "none")
    assert code == 1 and "no gallery" in err


def test_reembed_defaults_to_the_bundled_model(tmp_path: Path, gallery: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "reembed", "--help")
    assert code == 0 and "default: the bundled model" in " ".join(out.split())
    code, out, _ = run(capsys, "reembed", "--gallery", gallery, "--cpu")
    assert code == 0 and "re-embedded 6 photos with" in out
    code, out, _ = run(capsys, "info", "--gallery", gallery, "--json")
    assert json.loads(out)["model"] == "whale-vgg16 + fluke-finder" and json.loads(out)["photos"] == 6
    code, out, _ = run(capsys, "identify", "--gallery", gallery, "--format", "json", "--cpu",  # no --model
                       tmp_path / "in" / "w1_0.jpg")
    assert code == 0 and json.loads(out)["duplicate_of"] == "whale1"
    code, _, err = run(capsys, "reembed", "--gallery", tmp_path / "none")
    assert code == 1 and "no gallery" in err and len(err.splitlines()) == 1


def test_identify_against_an_empty_gallery_warns_and_exits_1(tmp_path: Path, model: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    Gallery.open(tmp_path / "empty").close()
    query = pattern_photo(tmp_path / "q" / "query.jpg", 1)
    warning = "holds no whales, so every photo is reported as new_whale"
    code, out, err = run(capsys, "identify", "--gallery", tmp_path / "empty", "--model", model, "--format",
                         "kaggle", query)
    assert code == 1 and out.splitlines() == ["Image,Id", "query.jpg,new_whale"]
    assert warning in err and str(tmp_path / "empty") in err and len(err.splitlines()) == 1
    code, out, err = run(capsys, "identify", "--gallery", tmp_path / "empty", "--model", model, "--format",
                         "json", query)
    assert code == 1 and warning in err
    assert json.loads(out)["new_whale"] is True and json.loads(out)["candidates"] == []
    code, out, err = run(capsys, "identify", "--gallery", tmp_path / "empty", "--model", model, query)
    assert code == 1 and warning in err and "likely a NEW whale" in out


def test_import_messages_say_each_thing_once(tmp_path: Path, model: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    flat = tmp_path / "flat"
    for w in range(4):
        pattern_photo(flat / f"p{w}.jpg", w)
    code, out, err = run(capsys, "import", "--gallery", tmp_path / "g", "--model", model, "--images", flat)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert f"{flat} holds photos but no sub-folders: give --csv FILE, or put each whale's photos in a " \
           "sub-folder named by its id" in err
    assert not (tmp_path / "g").exists()  # refused before the gallery is created

    overlong = "x" * 200_000  # over the csv module's field limit: the row is malformed
    (tmp_path / "rows.csv").write_text(f"Image,Id\np0.jpg,w_1\n,w_2\np1.jpg,\n{overlong},w_3\np3.jpg,w_4\n",
                                       encoding="utf-8")
    code, out, err = run(capsys, "import", "--gallery", tmp_path / "g", "--model", model, "--csv",
                         tmp_path / "rows.csv", "--images", flat)
    assert code == 1 and "imported 2 photos" in out
    skipped = [line for line in err.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 3
    assert "skipped row 3: no image file name" in skipped
    assert "skipped p1.jpg: row 4: no whale id" in skipped
    assert skipped[2].startswith("skipped row 5: malformed (")
    assert all(line.count("row ") == 1 for line in skipped), skipped


def test_help_texts_name_things_the_same_way(capsys: pytest.CaptureFixture[str]) -> None:
    from whalegui.cli import CLI_COMMANDS

    expected = {"import": ["--csv FILE", "--images DIR"], "enroll": ["--whale ID", "PHOTO"],
                "identify": ["PHOTO", "--top N"], "export": ["--output FILE"]}
    for name in CLI_COMMANDS:
        code, out, _ = run(capsys, name, "--help")
        assert code == 0 and "--gallery GALLERY" in out, name
        gallery_help = " ".join(out.split("\n  --gallery GALLERY", 1)[1].split("\n  -")[0].split())
        assert gallery_help.startswith("the gallery folder (default:"), (name, gallery_help)
        if "--model" in out:
            assert "--model MODEL.onnx" in out and "(default: the bundled model)" in " ".join(out.split())
        for metavar in expected.get(name, []):
            assert metavar in out, (name, metavar)
        assert not any(bad in out for bad in ("--gallery DIR", "--model MODEL ", "PATH")), name


def test_reembed(tmp_path: Path, gallery: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = make_tiny_model(tmp_path / "m2", name="other", seed=3, dim=8)
    code, _, err = run(capsys, "identify", "--gallery", gallery, "--model", other,
                       tmp_path / "in" / "w0_0.jpg")
    assert code == 1 and "reembed" in err
    code, out, _ = run(capsys, "reembed", "--gallery", gallery, "--model", other, "--cpu")
    assert code == 0 and "re-embedded 6 photos" in out
    code, out, _ = run(capsys, "identify", "--gallery", gallery, "--model", other, "--format", "json",
                       tmp_path / "in" / "w0_1.jpg")
    assert code == 0 and json.loads(out)["candidates"][0]["whale_id"] == "whale0"
