"""Fuzz the photo loader: mutated photos and random bytes load as RGB or raise PhotoError, nothing else.

Bounded to a few seconds here; ``bench/fuzz_loader.py`` (whose seed photos these are) runs the same for
as long as asked.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz_loader import seed_photos
from whalegui.core.errors import PhotoError
from whalegui.core.images import load_photo, read_metadata

SEEDS = seed_photos()
_counter = itertools.count()

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 64)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.sampled_from([0, 0xFF, 0x7F, 0x80])),
)


def mutate(data: bytes, steps: list[tuple[str, int, object]]) -> bytes:
    buf = bytearray(data)
    for kind, pos, arg in steps:
        if not buf:
            break
        i = pos % len(buf)
        if kind == "flip":
            buf[i] ^= int(arg)  # type: ignore[call-overload]
        elif kind == "set":
            buf[i] = int(arg)  # type: ignore[call-overload]
        elif kind == "truncate":
            del buf[i:]
        elif kind == "insert":
            buf[i:i] = bytes(arg)  # type: ignore[call-overload]
        else:
            del buf[i:i + int(arg)]  # type: ignore[call-overload]
    return bytes(buf)


def check_loader(path: Path, min_size: tuple[int, int] | None) -> str:
    """The fuzzing property: an RGB image or a PhotoError naming the path, from both entry points."""
    try:
        read_metadata(path)
    except PhotoError as exc:
        assert exc.path == path and exc.reason
    try:
        photo = load_photo(path, min_size=min_size)
    except PhotoError as exc:
        assert exc.path == path and exc.reason
        return "refused"
    assert photo.image.mode == "RGB"
    assert photo.image.width >= 1 and photo.image.height >= 1
    photo.image.getpixel((0, 0))  # the pixels are really there
    return "loaded"


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def test_seed_photos_all_load(fuzz_dir: Path) -> None:
    for name, data in SEEDS.items():
        path = fuzz_dir / name
        path.write_bytes(data)
        assert check_loader(path, None) == "loaded", name


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(name=st.sampled_from(sorted(SEEDS)), steps=st.lists(mutation, min_size=1, max_size=4),
       drafted=st.booleans())
def test_mutated_photos(fuzz_dir: Path, name: str, steps: list[tuple[str, int, object]],
                        drafted: bool) -> None:
    path = fuzz_dir / f"{next(_counter)}{Path(name).suffix}"
    path.write_bytes(mutate(SEEDS[name], steps))
    try:
        check_loader(path, (8, 8) if drafted else None)
    finally:
        path.unlink()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.binary(min_size=1, max_size=2048),
       magic=st.sampled_from([b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a",
                              b"RIFF\x00\x00\x00\x00WEBP", b"II*\x00", b"MM\x00*", b"BM"]))
def test_random_bytes(fuzz_dir: Path, data: bytes, magic: bytes) -> None:
    path = fuzz_dir / f"{next(_counter)}.jpg"
    path.write_bytes(magic + data)
    try:
        check_loader(path, None)
    finally:
        path.unlink()
