"""Fuzz the photo loader for a fixed time: mutated photos and random bytes must load or raise PhotoError.

Seeds are small valid photos in every format the loader reads (JPEG baseline, progressive and CMYK, PNG
RGB/RGBA/palette/16-bit, animated GIF, WebP lossy and lossless, TIFF, BMP), with EXIF where the format
carries it. Each iteration takes a seed, applies 1-4 random mutations (flip bits, set a byte, truncate,
insert or delete bytes) or writes plain random bytes, and calls ``read_metadata`` and ``load_photo`` (half
of the time with a small ``min_size``, which takes the JPEG draft path). Anything other than an RGB image
or a :class:`PhotoError` is a crash: counted, its file kept under ``--keep`` and its traceback printed.

    python -m bench.fuzz_loader --seconds 60 [--seed 0] [--keep DIR]

Exit status 0 when nothing crashed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image

from whalegui.core.errors import PhotoError
from whalegui.core.images import load_photo, read_metadata

#: PhotoError reasons grouped by how they start, for the summary.
REASON_KINDS = (
    ("not an image", "not an image / unsupported format"),
    ("corrupt image header", "corrupt header"),
    ("truncated or corrupt image data", "truncated or corrupt data"),
    ("refused", "pixel limit (bomb)"),
    ("image has no pixels", "no pixels"),
    ("cannot convert", "cannot convert to RGB"),
    ("not enough memory", "out of memory"),
    ("the file is empty", "empty file"),
)


def seed_photos() -> dict[str, bytes]:
    """Small valid photos in every format the loader reads, with EXIF where the format carries it."""
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    im = Image.fromarray(arr)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2024:07:15 09:30:12"
    seeds: dict[str, bytes] = {}

    def save(name: str, image: Image.Image, **options: Any) -> None:
        buf = io.BytesIO()
        image.save(buf, **options)
        seeds[name] = buf.getvalue()

    save("baseline.jpg", im, format="JPEG", quality=80, exif=exif)
    save("progressive.jpg", im, format="JPEG", progressive=True)
    save("cmyk.jpg", im.convert("CMYK"), format="JPEG")
    save("rgb.png", im, format="PNG", exif=exif)
    save("rgba.png", im.convert("RGBA"), format="PNG")
    save("palette.png", im.convert("P"), format="PNG", transparency=0)
    save("gray16.png", Image.fromarray(arr[..., 0].astype(np.uint16) * 257), format="PNG")
    frames = [im.convert("P"), Image.fromarray(arr[::-1]).convert("P")]
    save("anim.gif", frames[0], format="GIF", save_all=True, append_images=frames[1:], duration=50)
    save("lossy.webp", im, format="WEBP", quality=70)
    save("lossless.webp", im, format="WEBP", lossless=True)
    save("photo.tif", im, format="TIFF", compression="tiff_lzw")
    save("photo.bmp", im, format="BMP")
    return seeds


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            break
        i = rng.randrange(len(buf))
        kind = rng.choice(("flip", "flip", "set", "truncate", "insert", "delete"))
        if kind == "flip":
            buf[i] ^= 1 << rng.randrange(8)
        elif kind == "set":
            buf[i] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        elif kind == "truncate":
            del buf[i:]
        elif kind == "insert":
            buf[i:i] = rng.randbytes(rng.randint(1, 16))
        else:
            del buf[i:i + rng.randint(1, 64)]
    return bytes(buf)


def classify(reason: str) -> str:
    for prefix, kind in REASON_KINDS:
        if reason.startswith(prefix):
            return kind
    return "other: " + reason[:60]


def one(path: Path, min_size: tuple[int, int] | None) -> str:
    """Run both entry points on ``path``; return the outcome, raise on anything but PhotoError."""
    with contextlib.suppress(PhotoError):
        read_metadata(path)
    try:
        photo = load_photo(path, min_size=min_size)
    except PhotoError as exc:
        if exc.path != path or not exc.reason:
            raise AssertionError(f"PhotoError without path or reason: {exc!r}") from exc
        return "refused: " + classify(exc.reason)
    if photo.image.mode != "RGB" or photo.image.width < 1 or photo.image.height < 1:
        raise AssertionError(f"loaded a {photo.image.mode} {photo.image.size} image")
    photo.image.getpixel((0, 0))
    return "loaded"


def run(seconds: float, seed: int, keep: Path | None) -> int:
    rng = random.Random(seed)
    seeds = seed_photos()
    names = sorted(seeds)
    outcomes: Counter[str] = Counter()
    per_seed: Counter[tuple[str, str]] = Counter()
    crashes = 0
    work = Path(tempfile.mkdtemp(prefix="fuzz-loader-"))
    iterations = 0
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            if rng.random() < 0.08:
                name, data = "random.bin", rng.randbytes(rng.randint(1, 4096))
            else:
                name = rng.choice(names)
                data = mutate(seeds[name], rng)
            path = work / f"case{Path(name).suffix}"
            path.write_bytes(data)
            min_size = (8, 8) if rng.random() < 0.5 else None
            iterations += 1
            try:
                outcome = one(path, min_size)
            except Exception:
                crashes += 1
                outcome = "CRASH"
                print(f"--- crash #{crashes} on a mutated {name} (min_size={min_size}):", file=sys.stderr)
                traceback.print_exc()
                if keep is not None:
                    keep.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, keep / f"crash{crashes:04d}-{name}")
            outcomes[outcome] += 1
            kind = "loaded" if outcome == "loaded" else "crash" if outcome == "CRASH" else "refused"
            per_seed[(name, kind)] += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    print(f"fuzz_loader: {iterations} iterations in {elapsed:.1f} s ({iterations / elapsed:.0f}/s), "
          f"seed {seed}, {len(names)} seed photos + random bytes")
    print(f"crashes (anything but an RGB image or PhotoError): {crashes}")
    print("outcomes:")
    for outcome, count in outcomes.most_common():
        print(f"  {count:7d}  {outcome}")
    print("by seed (loaded / refused / crash):")
    for name in [*names, "random.bin"]:
        row = [per_seed[(name, k)] for k in ("loaded", "refused", "crash")]
        print(f"  {name:16s} {row[0]:6d} {row[1]:6d} {row[2]:6d}")
    return 1 if crashes else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep crashing files in")
    args = parser.parse_args(argv)
    return run(args.seconds, args.seed, args.keep)


if __name__ == "__main__":
    sys.exit(main())
