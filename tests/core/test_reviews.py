"""Review decisions kept as labelled pairs: stored with the photo they file, in its transaction; gone when
the photo goes (an undo); a planted misranking listed as a triplet; pairs a researcher drops stay dropped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flukes import pattern_photo
from whalegui.core.embedder import Embedder
from whalegui.core.errors import DuplicatePhotoError
from whalegui.core.gallery import Gallery
from whalegui.core.reviews import Review


@pytest.fixture
def gallery(tmp_path: Path, embedder: Embedder) -> Iterator[Gallery]:
    g = Gallery.open(tmp_path / "g", embedder)
    for w in range(4):
        g.enroll([pattern_photo(tmp_path / "src" / f"w{w}_0.jpg", w, 0)], f"w{w}")
    yield g
    g.close()


def test_a_confirmation_stores_one_same_pair_and_a_different_pair_per_other_candidate(
        tmp_path: Path, gallery: Gallery) -> None:
    query = pattern_photo(tmp_path / "q.jpg", 1, 1)
    ident = gallery.identify(query, top=4)
    assert ident.candidates[0].whale_id == "w1"
    gallery.add_photos("w1", [query], identified=[ident], reviews=[Review(ident, frozenset({"w3"}))])
    pairs = gallery.review_pairs()
    sha = gallery.photos("w1")[-1].sha256
    assert len(pairs) == 4 and {p.query_sha256 for p in pairs} == {sha}
    assert [(p.candidate_whale, p.same, p.explicit, p.rank) for p in pairs] == [
        (c.whale_id, c.whale_id == "w1", c.whale_id == "w3", i) for i, c in enumerate(ident.candidates, 1)]
    assert all(p.chosen_whale == "w1" and p.keep for p in pairs)
    assert [p.distance for p in pairs] == pytest.approx([c.distance for c in ident.candidates])
    assert gallery.misranked() == []  # the right whale was first


def test_a_planted_misranking_is_a_triplet_and_goes_with_its_photo(tmp_path: Path, gallery: Gallery) -> None:
    # The researcher knows (from the trailing edge) that this photo, which the model ranks as w1, is w2.
    query = pattern_photo(tmp_path / "q.jpg", 1, 1)
    ident = gallery.identify(query, top=4)
    ranks = {c.whale_id: i for i, c in enumerate(ident.candidates, 1)}
    assert ranks["w1"] < ranks["w2"]
    gallery.add_photos("w2", [query], identified=[ident], reviews=[Review(ident)])
    triplets = gallery.misranked()
    above = [w for w, r in ranks.items() if r < ranks["w2"]]
    assert sorted(t.negative.candidate_whale for t in triplets) == sorted(above)
    worst = triplets[0]
    assert worst.positive.candidate_whale == "w2" and worst.positive.same
    assert worst.anchor_sha256 == gallery.photos("w2")[-1].sha256
    assert worst.positive.distance - worst.negative.distance == max(
        t.positive.distance - t.negative.distance for t in triplets)
    # Dropped from training, and it stays dropped.
    gallery.set_pair_keep(worst.negative.pair_id, False)
    assert not next(t for t in gallery.misranked() if t.negative.pair_id == worst.negative.pair_id).keep
    # Undoing the confirmation takes the photo out, and its pairs with it, in the same transaction.
    gallery.remove_photo(gallery.photos("w2")[-1].photo_id)
    assert gallery.review_pairs() == [] and gallery.misranked() == []
    assert gallery.audit_log(1)[0]["details"]["review_pairs"] == 4


def test_a_whale_the_review_did_not_show_gets_its_nearest_photo_as_the_same_pair(
        tmp_path: Path, gallery: Gallery) -> None:
    query = pattern_photo(tmp_path / "q.jpg", 1, 1)
    ident = gallery.identify(query, top=1)
    assert [c.whale_id for c in ident.candidates] == ["w1"]
    gallery.add_photos("w3", [query], identified=[ident], reviews=[Review(ident)])
    pairs = gallery.review_pairs()
    assert [(p.candidate_whale, p.same, p.rank) for p in pairs] == [("w1", False, 1), ("w3", True, 2)]
    assert pairs[1].candidate_sha256 == gallery.photos("w3")[0].sha256
    assert [t.negative.candidate_whale for t in gallery.misranked()] == ["w1"]


def test_a_new_whale_makes_every_candidate_a_different_pair_and_a_failed_decision_stores_none(
        tmp_path: Path, gallery: Gallery) -> None:
    query = pattern_photo(tmp_path / "q.jpg", 9, 0)
    ident = gallery.identify(query, top=3)
    new_id = gallery.enroll([query], identified=[ident], reviews=[Review(ident)])
    pairs = gallery.review_pairs()
    assert len(pairs) == 3 and not any(p.same for p in pairs) and {p.chosen_whale for p in pairs} == {new_id}
    # Deleting the whale (undoing the enroll) removes them.
    gallery.delete_whale(new_id)
    assert gallery.review_pairs() == []
    # A decision that fails (the photo is already catalogued) stores nothing.
    dup = pattern_photo(tmp_path / "dup.jpg", 2, 0)
    ident = gallery.identify(dup)
    with pytest.raises(DuplicatePhotoError):
        gallery.add_photos("w2", [dup], identified=[ident], reviews=[Review(ident)])
    assert gallery.review_pairs() == []
