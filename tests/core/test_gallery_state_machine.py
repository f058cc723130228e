"""Random sequences of gallery operations (hypothesis stateful testing) against a plain in-memory model.

Enroll (id given or generated), add photos, add an already catalogued photo (refused), merge, rename (id,
name), move a photo, remove a photo, delete a whale, reopen the gallery. After every step the gallery agrees
with the model: the same whales with the same names and photos, the same counts, and searching each stored
photo's embedding returns its whale first. Real SQLite, hnswlib, ONNX Runtime (tiny model), real JPEGs.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.flukes import pattern_photo
from tests.models import make_tiny_model
from whalegui.core.embedder import Embedder
from whalegui.core.errors import DuplicatePhotoError, WhaleExistsError
from whalegui.core.gallery import Gallery
from whalegui.core.records import PhotoRecord

POOL = 24  # distinct photos available; each is in the gallery at most once at a time
_shared: dict[str, object] = {}


def _resources() -> tuple[Embedder, list[Path], dict[Path, str]]:
    """The tiny model and a pool of JPEGs, made once per test session."""
    if not _shared:
        root = Path(tempfile.mkdtemp(prefix="whalegui-sm-"))
        atexit.register(shutil.rmtree, root, True)
        _shared["root"] = root
        _shared["embedder"] = Embedder(make_tiny_model(root / "model"), device="cpu")
        photos = [pattern_photo(root / "pool" / f"p{k:02d}.jpg", k, k) for k in range(POOL)]
        _shared["photos"] = photos
        _shared["sha"] = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    return _shared["embedder"], _shared["photos"], _shared["sha"]  # type: ignore[return-value]


class GalleryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.embedder, self.pool, self.sha = _resources()
        self.root = Path(tempfile.mkdtemp(prefix="whalegui-sm-g-"))
        self.gallery = Gallery.open(self.root / "g", self.embedder)
        self.whales: dict[str, dict[str, object]] = {}  # id -> {"name": str, "photos": set of sha256}
        self.counter = 0

    def teardown(self) -> None:
        self.gallery.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ helpers

    def _in_gallery(self) -> set[str]:
        return {sha for w in self.whales.values() for sha in w["photos"]}  # type: ignore[attr-defined]

    def _free(self) -> list[Path]:
        taken = self._in_gallery()
        return [p for p in self.pool if self.sha[p] not in taken]

    def _photos_of(self, whale: str) -> set[str]:
        return self.whales[whale]["photos"]  # type: ignore[return-value]

    # ------------------------------------------------------------------ rules

    @precondition(lambda self: len(self._free()) >= 1)
    @rule(data=st.data(), given_id=st.booleans(), n=st.integers(1, 3))
    def enroll(self, data: st.DataObject, given_id: bool, n: int) -> None:
        photos = data.draw(st.lists(st.sampled_from(self._free()), min_size=1, max_size=n, unique=True))
        self.counter += 1
        whale_id = f"w{self.counter}" if given_id else None
        name = f"Whale {self.counter}"
        new_id = self.gallery.enroll(photos, whale_id=whale_id, name=name)
        assert whale_id is None or new_id == whale_id
        assert new_id not in self.whales
        self.whales[new_id] = {"name": name, "photos": {self.sha[p] for p in photos}}

    @precondition(lambda self: self.whales)
    @rule(data=st.data())
    def enroll_existing_id_is_refused(self, data: st.DataObject) -> None:
        whale = data.draw(st.sampled_from(list(self.whales)))
        free = self._free()
        if not free:
            return
        with pytest.raises(WhaleExistsError):
            self.gallery.enroll(free[:1], whale_id=whale)

    @precondition(lambda self: self.whales and self._free())
    @rule(data=st.data())
    def add_photos(self, data: st.DataObject) -> None:
        whale = data.draw(st.sampled_from(list(self.whales)))
        photos = data.draw(st.lists(st.sampled_from(self._free()), min_size=1, max_size=2, unique=True))
        records = self.gallery.add_photos(whale, photos)
        assert {r.sha256 for r in records} == {self.sha[p] for p in photos}
        self._photos_of(whale).update(self.sha[p] for p in photos)

    @precondition(lambda self: self._in_gallery())
    @rule(data=st.data())
    def add_a_catalogued_photo_is_refused(self, data: st.DataObject) -> None:
        taken = self._in_gallery()
        photo = data.draw(st.sampled_from([p for p in self.pool if self.sha[p] in taken]))
        whale = data.draw(st.sampled_from(list(self.whales)))
        with pytest.raises(DuplicatePhotoError) as info:
            self.gallery.add_photos(whale, [photo])
        owner = next(w for w in self.whales if self.sha[photo] in self._photos_of(w))
        existing = info.value.existing
        assert isinstance(existing, PhotoRecord) and existing.whale_id == owner

    @precondition(lambda self: len(self.whales) >= 2)
    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        source, target = data.draw(st.lists(st.sampled_from(list(self.whales)), min_size=2, max_size=2,
                                            unique=True))
        self.gallery.merge(source, target)
        self._photos_of(target).update(self._photos_of(source))
        del self.whales[source]

    @precondition(lambda self: self.whales)
    @rule(data=st.data(), change_id=st.booleans(), change_name=st.booleans())
    def rename(self, data: st.DataObject, change_id: bool, change_name: bool) -> None:
        whale = data.draw(st.sampled_from(list(self.whales)))
        self.counter += 1
        new_id = f"r{self.counter}" if change_id else None
        name = f"Renamed {self.counter}" if change_name else None
        self.gallery.rename(whale, new_id=new_id, name=name)
        entry = self.whales.pop(whale)
        if name is not None:
            entry["name"] = name
        self.whales[new_id or whale] = entry

    @precondition(lambda self: self.whales and self._in_gallery())
    @rule(data=st.data())
    def move_photo(self, data: st.DataObject) -> None:
        sha = data.draw(st.sampled_from(sorted(self._in_gallery())))
        target = data.draw(st.sampled_from(list(self.whales)))
        record = self.gallery.find_photo_by_sha(sha)
        assert record is not None
        self.gallery.move_photo(record.photo_id, target)
        for w in self.whales.values():
            w["photos"].discard(sha)  # type: ignore[attr-defined]
        self._photos_of(target).add(sha)

    @precondition(lambda self: self._in_gallery())
    @rule(data=st.data())
    def remove_photo(self, data: st.DataObject) -> None:
        sha = data.draw(st.sampled_from(sorted(self._in_gallery())))
        record = self.gallery.find_photo_by_sha(sha)
        assert record is not None
        self.gallery.remove_photo(record.photo_id)
        self._photos_of(record.whale_id).discard(sha)  # the whale stays, even with no photo left

    @precondition(lambda self: self.whales)
    @rule(data=st.data())
    def delete_whale(self, data: st.DataObject) -> None:
        whale = data.draw(st.sampled_from(list(self.whales)))
        self.gallery.delete_whale(whale)
        del self.whales[whale]

    @rule()
    def reopen(self) -> None:
        self.gallery.close()
        self.gallery = Gallery.open(self.root / "g", self.embedder)

    # ------------------------------------------------------------------ agreement

    @invariant()
    def agrees_with_the_model(self) -> None:
        g = self.gallery
        assert g.whale_count() == len(self.whales)
        assert g.photo_count() == len(self._in_gallery())
        listed = {w.whale_id: w for w in g.whales()}
        assert set(listed) == set(self.whales)
        for whale_id, entry in self.whales.items():
            assert listed[whale_id].name == entry["name"]
            assert listed[whale_id].photo_count == len(entry["photos"])  # type: ignore[arg-type]
            assert {p.sha256 for p in g.photos(whale_id)} == entry["photos"]
        for record in g.photos():  # searching a stored photo returns its whale first, the photo itself
            ident = g.identify_embedding(g.embedding(record.photo_id), top=3)
            assert ident.candidates[0].whale_id == record.whale_id
            assert ident.candidates[0].distance < 1e-4
            assert ident.photo_matches[0].photo.photo_id == record.photo_id


GalleryMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=15, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestGalleryStateMachine = GalleryMachine.TestCase
