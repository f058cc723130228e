"""The analysis pipeline with a known-answer fluke detector (real ONNX Runtime sessions, real JPEGs): the
fluke is found and cropped before embedding, its box and keypoints are in the stored photo's full-resolution
pixels, a researcher's box overrides the detector, and the gallery stores what the analysis found (a drawn
box survives enrolling and re-embedding)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.core.marks import marks
from tests.flukes import pattern_photo
from tests.models import make_detector, make_tiny_model
from whalegui.core.analysis import Analyser
from whalegui.core.embedder import Embedder
from whalegui.core.errors import ModelError, ModelMismatchError, PhotoError
from whalegui.core.fluke import Fluke, crop_fluke
from whalegui.core.gallery import Gallery, reembed
from whalegui.core.images import load_photo
from whalegui.core.model_card import FlukeFinderRef, ModelCard, card_path_for

BOX = [0.25, 0.2, 0.75, 0.8]  # the detector's answer, fractions of the frame
FULL = (2000, 1000)  # a frame large enough to be decoded at half its size


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    folder = tmp_path_factory.mktemp("pipeline")
    make_detector(folder, BOX, [0.25, 0.5, 0.75, 0.5], 0.9, name="finder")
    return Embedder(make_tiny_model(folder, fluke_finder=FlukeFinderRef("finder", 0.1)), device="cpu")


def frame(path: Path, seed: int) -> Path:
    """A sea-coloured frame with a fluke's marks where the detector says the fluke is."""
    image = Image.new("RGB", FULL, (30, 60, 90))
    w, h = FULL
    fluke = marks(seed, (int(0.5 * w), int(0.6 * h)))
    image.paste(fluke, (int(BOX[0] * w), int(BOX[1] * h)))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=90)
    return path


def detector_box() -> tuple[float, float, float, float]:
    w, h = FULL
    return (BOX[0] * w, BOX[1] * h, BOX[2] * w, BOX[3] * h)


def test_the_fluke_is_cropped_before_embedding(pipeline: Embedder, tmp_path: Path) -> None:
    analyser = Analyser(pipeline)
    photo = load_photo(frame(tmp_path / "f.jpg", 1), min_size=analyser.decode_size)
    assert photo.image.size == (1000, 500)  # drafted: the analysis scales back to full resolution
    analysis = analyser.analyse(photo.image, full_size=FULL)
    assert analysis.fluke.source == "detector" and analysis.fluke.score == pytest.approx(0.9)
    assert analysis.fluke.box == pytest.approx(detector_box(), abs=1e-3)

    # The embedding is the crop's (margin 0.1, from the card), not the whole frame's.
    crop = crop_fluke(photo.image, analysis.fluke.scaled(0.5), margin=0.1)
    assert crop.size == pytest.approx((600, 360), abs=2)
    np.testing.assert_allclose(analysis.embedding, pipeline.embed_images([crop])[0], atol=1e-6)
    whole = pipeline.embed_images([photo.image])[0]
    assert float(analysis.embedding @ whole) < 0.999

    # Keypoints lie on the fluke, in full-resolution pixels.
    points = analysis.features.points
    left, top, right, bottom = detector_box()
    assert len(points) > 20
    assert points[:, 0].min() >= left - 1 and points[:, 0].max() <= right + 1
    assert points[:, 1].min() >= top - 1 and points[:, 1].max() <= bottom + 1


def test_a_fluke_that_fills_its_frame_is_embedded_whole(tmp_path: Path) -> None:
    # The detector's box covers 30% of the frame: cropped under crop_below 0.5, embedded whole under 0.2,
    # and kept as the photo's fluke either way.
    image = load_photo(frame(tmp_path / "f.jpg", 4)).image
    for crop_below, cropped in ((0.5, True), (0.2, False)):
        folder = tmp_path / str(crop_below)
        make_detector(folder, BOX, [0.25, 0.5, 0.75, 0.5], 0.9, name="finder")
        ref = FlukeFinderRef("finder", 0.1, crop_below)
        model = Embedder(make_tiny_model(folder, fluke_finder=ref), device="cpu")
        analysis = Analyser(model).analyse(image)
        assert analysis.fluke.source == "detector"
        assert analysis.fluke.box == pytest.approx(detector_box(), abs=1e-3)
        region = analysis.fluke if cropped else Fluke.whole(image.size)
        expected = model.embed_images([crop_fluke(image, region, margin=0.1)])[0]
        np.testing.assert_allclose(analysis.embedding, expected, atol=1e-6)
        # The keypoints were sought in the embedded region: the box (1000 px wide) or the whole frame.
        assert analysis.features.scale == pytest.approx(1000 if cropped else 2000, rel=0.01)


def test_a_drawn_box_overrides_the_detector(pipeline: Embedder, tmp_path: Path) -> None:
    analyser = Analyser(pipeline)
    photo = load_photo(frame(tmp_path / "f.jpg", 2), min_size=analyser.decode_size)
    drawn = Fluke.drawn((600, 300, 1400, 700), FULL)
    analysis = analyser.analyse(photo.image, drawn, full_size=FULL)
    assert analysis.fluke == drawn
    crop = crop_fluke(photo.image, Fluke.drawn((300, 150, 700, 350), photo.image.size), margin=0.1)
    np.testing.assert_allclose(analysis.embedding, pipeline.embed_images([crop])[0], atol=1e-6)
    assert analysis.features.points[:, 0].min() >= 599
    with pytest.raises(ValueError, match="too small"):
        analyser.analyse(photo.image, Fluke.drawn((10, 10, 12, 12), FULL), full_size=FULL)


def test_without_a_fluke_finder_the_whole_frame_is_embedded(embedder: Embedder, tmp_path: Path) -> None:
    image = load_photo(frame(tmp_path / "f.jpg", 3)).image
    analysis = Analyser(embedder).analyse(image)
    assert analysis.fluke == Fluke.whole(FULL) and not analysis.fluke.found
    np.testing.assert_allclose(analysis.embedding, embedder.embed_images([image])[0], atol=1e-6)


def test_the_gallery_stores_the_detector_s_box(pipeline: Embedder, tmp_path: Path) -> None:
    photos = [frame(tmp_path / f"w{w}.jpg", 10 + w) for w in range(3)]
    with Gallery.open(tmp_path / "g", pipeline) as g:
        for w, path in enumerate(photos):
            g.enroll([path], whale_id=f"w{w}")
        for record in g.photos():
            assert record.fluke is not None and record.fluke.source == "detector"
            assert record.fluke.box == pytest.approx(detector_box(), abs=1e-3)
        ident = g.identify(photos[1])
        assert ident.fluke is not None and ident.fluke.box == pytest.approx(detector_box(), abs=1e-3)
        assert ident.candidates[0].whale_id == "w1" and ident.candidates[0].photo.fluke is not None
        stored = g.embedding(ident.candidates[0].photo.photo_id)
        np.testing.assert_allclose(ident.embedding, stored, atol=1e-6)  # analysed the same way both times
        assert set(ident.timings) >= {"read", "detect", "embed", "features", "search"}
        assert g.model_fingerprint == pipeline.fingerprint != pipeline.card.sha256
        assert g.model_name == "tiny + finder"
        assert g.check().healthy


def test_a_drawn_box_survives_enrolling_and_reembedding(pipeline: Embedder, tmp_path: Path) -> None:
    query, other = frame(tmp_path / "q.jpg", 20), frame(tmp_path / "o.jpg", 21)
    drawn = Fluke.drawn((520, 210, 1480, 790), FULL)
    with Gallery.open(tmp_path / "g", pipeline) as g:
        g.enroll([other], whale_id="other")
        ident = g.identify(query, fluke=drawn)
        assert ident.fluke == drawn
        new_id = g.enroll([query], identified=[ident])
        record = g.photos(new_id)[0]
        assert record.fluke is not None and record.fluke.source == "researcher"
        assert record.fluke.box == pytest.approx(drawn.box)
        np.testing.assert_array_equal(g.embedding(record.photo_id), ident.embedding)
        assert g.match_points(ident, record.photo_id).inliers > 20  # its features are the query's own
    assert reembed(tmp_path / "g", pipeline) == 2
    with Gallery.open(tmp_path / "g", pipeline) as g:
        kept = g.photos(new_id)[0].fluke
        redetected = g.photos("other")[0].fluke
        assert kept is not None and kept.source == "researcher" and kept.box == pytest.approx(drawn.box)
        assert redetected is not None and redetected.source == "detector"
        np.testing.assert_allclose(g.embedding(record.photo_id), ident.embedding, atol=1e-6)


def test_a_gallery_embedded_without_the_finder_is_refused(pipeline: Embedder, tmp_path: Path) -> None:
    plain = Embedder(pipeline.path, ModelCard.from_dict(
        {k: v for k, v in pipeline.card.to_dict().items() if k != "fluke_finder"}), device="cpu")
    assert plain.fingerprint == pipeline.card.sha256
    with Gallery.open(tmp_path / "g", plain) as g:
        g.enroll([frame(tmp_path / "a.jpg", 30)], whale_id="a")
        assert g.photos()[0].fluke == Fluke.whole(FULL)
    with pytest.raises(ModelMismatchError, match="whalegui reembed"):
        Gallery.open(tmp_path / "g", pipeline)
    assert reembed(tmp_path / "g", pipeline) == 1
    with Gallery.open(tmp_path / "g", pipeline) as g:
        fluke = g.photos()[0].fluke
        assert fluke is not None and fluke.box == pytest.approx(detector_box(), abs=1e-3)


def test_a_card_naming_a_missing_finder_is_a_model_error(tmp_path: Path) -> None:
    model = make_tiny_model(tmp_path, fluke_finder=FlukeFinderRef("nowhere"))
    with pytest.raises(ModelError, match=r"names the fluke finder 'nowhere'.*nowhere\.onnx is not beside it"):
        Embedder(model, device="cpu")
    card = json.loads(card_path_for(model).read_text())
    card["fluke_finder"] = {"model": "../elsewhere"}
    card_path_for(model).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="without a folder"):
        Embedder(model, device="cpu")


def test_a_reembedding_that_fails_half_way_changes_nothing(pipeline: Embedder, embedder: Embedder,
                                                           tmp_path: Path) -> None:
    folder = tmp_path / "g"
    with Gallery.open(folder, embedder) as g:  # more photos than one re-embedding batch
        for w in range(10):
            g.enroll([pattern_photo(tmp_path / f"w{w}_{j}.jpg", w, j) for j in range(3)], whale_id=f"w{w}")
        before = {p.photo_id: (p.fluke, g.embedding(p.photo_id).tobytes()) for p in g.photos()}
        victim = g.photos()[-1].path
    saved = victim.read_bytes()
    victim.write_bytes(saved[:200])
    with pytest.raises(PhotoError):
        reembed(folder, pipeline)
    with Gallery.open(folder, embedder) as g:
        assert g.model_fingerprint == embedder.fingerprint
        assert {p.photo_id: (p.fluke, g.embedding(p.photo_id).tobytes()) for p in g.photos()} == before
        assert g.audit_log(1)[0]["action"] != "reembed"
    victim.write_bytes(saved)
    assert reembed(folder, pipeline) == 30
    with Gallery.open(folder, pipeline) as g:
        assert all(p.fluke is not None and p.fluke.source == "detector" for p in g.photos())
        assert g.check().healthy


def test_embedding_crops_are_what_the_analysis_embeds(pipeline: Embedder, tmp_path: Path) -> None:
    analyser = Analyser(pipeline)
    photos = [load_photo(frame(tmp_path / f"f{i}.jpg", i), min_size=analyser.decode_size) for i in range(2)]
    images, sizes = [p.image for p in photos], [FULL, FULL]
    drawn = [None, Fluke.drawn((100.0, 100.0, 900.0, 600.0), FULL)]  # found by the finder; drawn by hand
    crops = analyser.embedding_crops(images, drawn, sizes)
    assert crops[0].size != crops[1].size  # the detector's box and the researcher's
    np.testing.assert_allclose(pipeline.embed_images(crops),
                               np.stack([a.embedding for a in analyser.analyse_many(images, drawn, sizes)]),
                               atol=1e-6)
