"""The photo loader on real files written by the tests: every mode, format, orientation and bad input."""

from __future__ import annotations

import os
import struct
import time
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, GifImagePlugin, Image, TiffImagePlugin

from whalegui.core.errors import PhotoError
from whalegui.core.images import (
    MAX_PIXELS,
    find_photos,
    fit_image,
    is_photo_file,
    load_model_input,
    load_photo,
    read_metadata,
    read_photo_bytes,
    to_model_input,
)
from whalegui.core.model_card import Preprocessing

PREP = Preprocessing(32, 64, "squash", "RGB", (127.5, 127.5, 127.5), (64.0, 64.0, 64.0))


def asymmetric(width: int = 48, height: int = 32, seed: int = 0) -> np.ndarray:
    """An RGB image that no flip or rotation maps onto itself."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    arr[:4, :4] = (255, 0, 0)  # a red top-left corner, to make failures easy to read
    return arr


def smooth(width: int, height: int) -> np.ndarray:
    """A smooth colour gradient: survives JPEG well, so lossy round trips can be compared."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    r = np.broadcast_to(x, (height, width))
    g = np.broadcast_to(y, (height, width))
    b = np.broadcast_to((x + y) / 2, (height, width))
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_file(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def rgb(photo_path: Path, **kwargs: object) -> np.ndarray:
    photo = load_photo(photo_path, **kwargs)  # type: ignore[arg-type]
    assert photo.image.mode == "RGB"
    return np.asarray(photo.image)


# ---------------------------------------------------------------- orientation

# The stored pixels for each EXIF orientation: the inverse of the transform a viewer applies.
STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,     # the viewer rotates 90 degrees clockwise (ROTATE_270) to undo it
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_loads_upright(tmp_path: Path, orientation: int) -> None:
    original = asymmetric(48, 32)
    method = STORE[orientation]
    stored = Image.fromarray(original) if method is None else Image.fromarray(original).transpose(method)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    path = tmp_path / f"o{orientation}.png"
    stored.save(path, exif=exif)

    photo = load_photo(path)
    np.testing.assert_array_equal(np.asarray(photo.image), original)
    assert (photo.meta.width, photo.meta.height) == (48, 32)
    assert read_metadata(path).width == 48


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_jpeg_orientation_with_draft(tmp_path: Path, orientation: int) -> None:
    original = smooth(1600, 800)
    stored = Image.fromarray(original).transpose(STORE[orientation])  # type: ignore[arg-type]
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    path = tmp_path / "o.jpg"
    stored.save(path, quality=95, exif=exif)

    photo = load_photo(path, min_size=(250, 120))
    assert photo.image.size[0] >= 250 and photo.image.size[1] >= 120
    # 1/4 scale: 1/8 would be below min_size; and min_size was turned with the photo (else 1/2 scale)
    assert photo.image.size == (400, 200)
    expected = np.asarray(Image.fromarray(original).resize(photo.image.size, Image.Resampling.BOX))
    assert np.abs(np.asarray(photo.image).astype(int) - expected).mean() < 4
    assert (photo.meta.width, photo.meta.height) == (1600, 800)


def test_broken_orientation_value_is_ignored(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 42
    path = tmp_path / "odd.png"
    Image.fromarray(asymmetric()).save(path, exif=exif)
    np.testing.assert_array_equal(rgb(path), asymmetric())


# ---------------------------------------------------------------- modes


def test_rgb_png_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "rgb.png"
    Image.fromarray(asymmetric()).save(path)
    np.testing.assert_array_equal(rgb(path), asymmetric())
    assert load_photo(path).meta.format == "PNG"


def test_grayscale_l(tmp_path: Path) -> None:
    gray = asymmetric()[..., 0]
    path = tmp_path / "l.png"
    Image.fromarray(gray, "L").save(path)
    out = rgb(path)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)
    assert load_photo(path).meta.mode == "L"


def test_la_composited_over_white(tmp_path: Path) -> None:
    arr = np.zeros((4, 4, 2), np.uint8)
    arr[..., 0] = 100
    arr[:2, :, 1] = 255  # opaque top half
    arr[2:, :, 1] = 0    # transparent bottom half
    path = tmp_path / "la.png"
    Image.fromarray(arr, "LA").save(path)
    out = rgb(path)
    assert (out[:2] == 100).all()
    assert (out[2:] == 255).all()


def test_rgba_composited_over_white(tmp_path: Path) -> None:
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., :3] = (0, 0, 200)
    arr[0, :, 3] = 255
    arr[1, :, 3] = 0
    arr[2:, :, 3] = 128
    path = tmp_path / "rgba.png"
    Image.fromarray(arr, "RGBA").save(path)
    out = rgb(path).astype(int)
    assert (out[0] == (0, 0, 200)).all()
    assert (out[1] == 255).all()
    np.testing.assert_allclose(out[2], np.tile([127, 127, 228], (4, 1)), atol=2)


def test_palette_without_transparency(tmp_path: Path) -> None:
    src = Image.fromarray(asymmetric()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    path = tmp_path / "p.png"
    src.save(path)
    np.testing.assert_array_equal(rgb(path), np.asarray(src.convert("RGB")))
    assert load_photo(path).meta.mode == "P"


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_with_transparency(tmp_path: Path, suffix: str) -> None:
    src = Image.new("P", (6, 4), 1)
    src.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    for x in range(3):
        for y in range(4):
            src.putpixel((x, y), 0)
    path = tmp_path / f"pt{suffix}"
    src.save(path, transparency=0)
    out = rgb(path)
    assert (out[:, :3] == 255).all()  # transparent index over white
    assert (out[:, 3:] == (10, 200, 30)).all()


def test_cmyk_jpeg(tmp_path: Path) -> None:
    src = Image.new("CMYK", (32, 16), (0, 255, 255, 0))  # pure red in CMYK
    src.paste((0, 0, 0, 255), (16, 0, 32, 16))            # black right half
    path = tmp_path / "cmyk.jpg"
    src.save(path, quality=95)
    photo = load_photo(path)
    assert photo.meta.mode == "CMYK"
    out = np.asarray(photo.image).astype(int)
    np.testing.assert_allclose(out[:, :12], np.broadcast_to([255, 0, 0], (16, 12, 3)), atol=12)
    assert (out[:, 20:] < 12).all()
    # with draft too: mode None keeps CMYK decoding right
    assert load_photo(path, min_size=(8, 8)).image.mode == "RGB"


def test_16bit_grayscale_png(tmp_path: Path) -> None:
    values = np.array([[65535, 32896, 0, 257]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(values).save(path)
    photo = load_photo(path)
    assert photo.meta.mode.startswith("I")
    np.testing.assert_array_equal(np.asarray(photo.image)[0, :, 0], [255, 128, 0, 1])
    np.testing.assert_array_equal(np.asarray(photo.image)[..., 0], np.asarray(photo.image)[..., 2])


def test_16bit_grayscale_tiff(tmp_path: Path) -> None:
    values = np.array([[65535, 32896], [0, 257]], dtype=np.uint16)
    path = tmp_path / "g16.tif"
    Image.fromarray(values).save(path)
    np.testing.assert_array_equal(rgb(path)[..., 1], [[255, 128], [0, 1]])


def test_16bit_rgb_png(tmp_path: Path) -> None:
    """Pillow cannot write 16-bit RGB PNGs, so this one is built by hand."""
    samples = np.array([[[65535, 32896, 0], [257, 65535, 32896]]], dtype=">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in samples)
    path = tmp_path / "rgb16.png"
    path.write_bytes(png_file(2, 1, 16, 2, zlib.compress(raw)))
    np.testing.assert_array_equal(rgb(path)[0], [[255, 128, 0], [1, 255, 128]])


def test_one_bit(tmp_path: Path) -> None:
    bits = asymmetric()[..., 0] > 127
    path = tmp_path / "bw.png"
    Image.fromarray(bits).save(path)
    assert Image.open(path).mode == "1"
    out = rgb(path)
    np.testing.assert_array_equal(out[..., 0], np.where(bits, 255, 0))


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize(("suffix", "options", "lossless"), [
    (".jpg", {"quality": 95}, False),
    (".jpeg", {"quality": 95, "progressive": True}, False),
    (".png", {}, True),
    (".tif", {}, True),
    (".tif", {"compression": "tiff_lzw"}, True),
    (".webp", {"lossless": True}, True),
    (".webp", {"quality": 90}, False),
    (".bmp", {}, True),
])
def test_formats(tmp_path: Path, suffix: str, options: dict[str, object], lossless: bool) -> None:
    original = smooth(64, 40)
    path = tmp_path / f"photo{suffix}"
    # format=None: the suffix gives the format, and it tells mypy that no option stands for it
    Image.fromarray(original).save(path, format=None, **options)
    out = rgb(path)
    if lossless:
        np.testing.assert_array_equal(out, original)
    else:
        assert np.abs(out.astype(int) - original).mean() < 3
    assert out.shape == (40, 64, 3)


def test_progressive_jpeg_is_progressive(tmp_path: Path) -> None:
    path = tmp_path / "prog.jpg"
    Image.fromarray(smooth(64, 40)).save(path, progressive=True)
    with Image.open(path) as im:
        assert im.info.get("progressive") or im.info.get("progression")
    assert load_photo(path, min_size=(8, 8)).image.size == (16, 10)  # drafted at 1/4


def test_animated_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 6), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as im:
        assert isinstance(im, GifImagePlugin.GifImageFile) and im.n_frames == 3
    out = rgb(path)
    assert (out == (255, 0, 0)).all()


def test_multipage_tiff_first_page(tmp_path: Path) -> None:
    pages = [Image.new("RGB", (8, 6), c) for c in ((0, 128, 0), (0, 0, 255))]
    path = tmp_path / "pages.tiff"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert (rgb(path) == (0, 128, 0)).all()


def test_format_is_sniffed_not_taken_from_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "really_a_png.jpg"
    Image.fromarray(asymmetric()).save(path, format="PNG")
    np.testing.assert_array_equal(rgb(path), asymmetric())


# ---------------------------------------------------------------- EXIF sighting data


def _exif_with_sighting() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2024:07:15 09:30:12"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "S"
    gps[ExifTags.GPS.GPSLatitude] = (TiffImagePlugin.IFDRational(64), TiffImagePlugin.IFDRational(30),
                                     TiffImagePlugin.IFDRational(36))
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (TiffImagePlugin.IFDRational(62), TiffImagePlugin.IFDRational(15),
                                      TiffImagePlugin.IFDRational(0))
    return exif


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_date_and_gps(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"sighting{suffix}"
    Image.fromarray(smooth(32, 16)).save(path, exif=_exif_with_sighting())
    for meta in (load_photo(path).meta, read_metadata(path)):
        assert meta.taken_at == datetime(2024, 7, 15, 9, 30, 12)
        assert meta.gps is not None
        assert meta.gps == pytest.approx((-(64 + 30 / 60 + 36 / 3600), -(62 + 15 / 60)))


def test_tiff_datetime(tmp_path: Path) -> None:
    """Pillow's TIFF writer drops the Exif and GPS sub-IFDs, so only the main IFD's DateTime is tested."""
    exif = Image.Exif()
    exif[ExifTags.Base.DateTime] = "2023:01:02 03:04:05"
    path = tmp_path / "dated.tif"
    Image.fromarray(smooth(32, 16)).save(path, exif=exif)
    assert load_photo(path).meta.taken_at == datetime(2023, 1, 2, 3, 4, 5)


def test_no_exif_gives_no_sighting_data(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    Image.fromarray(smooth(32, 16)).save(path)
    meta = load_photo(path).meta
    assert meta.taken_at is None and meta.gps is None
    assert (meta.width, meta.height, meta.format, meta.mode) == (32, 16, "JPEG", "RGB")


def test_garbage_exif_date_and_gps_are_ignored(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "not a date"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitude] = (TiffImagePlugin.IFDRational(500), TiffImagePlugin.IFDRational(0),
                                     TiffImagePlugin.IFDRational(0))
    gps[ExifTags.GPS.GPSLongitude] = (TiffImagePlugin.IFDRational(1), TiffImagePlugin.IFDRational(0),
                                      TiffImagePlugin.IFDRational(0))
    path = tmp_path / "garbage.jpg"
    Image.fromarray(smooth(32, 16)).save(path, exif=exif)
    meta = load_photo(path).meta
    assert meta.taken_at is None and meta.gps is None


# ---------------------------------------------------------------- size: draft, panorama, tiny


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "24mp.jpg"
    Image.fromarray(smooth(6000, 4000)).save(path, quality=85)
    return path


def test_large_jpeg_is_drafted_for_a_small_model(big_jpeg: Path) -> None:
    started = time.perf_counter()
    photo = load_photo(big_jpeg, min_size=(384, 128))
    drafted_s = time.perf_counter() - started
    w, h = photo.image.size
    assert w >= 384 and h >= 128
    assert (w, h) == (750, 500)  # 1/8 scale: 64 times fewer pixels than full
    assert (photo.meta.width, photo.meta.height) == (6000, 4000)  # the metadata keeps the full size

    started = time.perf_counter()
    full = load_photo(big_jpeg)
    full_s = time.perf_counter() - started
    assert full.image.size == (6000, 4000)
    assert drafted_s < full_s


def test_draft_never_goes_below_min_size(big_jpeg: Path) -> None:
    photo = load_photo(big_jpeg, min_size=(1000, 1000))
    assert photo.image.size == (1500, 1000)  # 1/4: 1/8 would be 750x500
    assert load_photo(big_jpeg, min_size=(5000, 10)).image.size == (6000, 4000)


def test_load_model_input_drafts_and_matches(big_jpeg: Path, tmp_path: Path) -> None:
    prep = Preprocessing(128, 384, "squash", "BGR", (103.939, 116.779, 123.68), (1.0, 1.0, 1.0))
    drafted = load_model_input(big_jpeg, prep)
    full = to_model_input(load_photo(big_jpeg).image, prep)
    assert drafted.shape == (128, 384, 3) and drafted.dtype == np.float32
    assert np.abs(drafted - full).mean() < 2.0  # the same picture, decoded at 1/8 scale


@pytest.mark.parametrize("resize", ["squash", "letterbox", "crop"])
def test_load_model_input_matches_to_model_input_for_small_photos(tmp_path: Path, resize: str) -> None:
    prep = Preprocessing(32, 64, resize, "RGB", (127.5, 127.5, 127.5), (64.0, 64.0, 64.0))
    for name, arr in (("a.jpg", smooth(100, 70)), ("b.png", asymmetric(90, 50))):
        path = tmp_path / name
        Image.fromarray(arr).save(path)
        np.testing.assert_allclose(load_model_input(path, prep), to_model_input(load_photo(path).image, prep),
                                   atol=1e-5)


def test_huge_panorama(tmp_path: Path) -> None:
    path = tmp_path / "panorama.jpg"
    Image.fromarray(smooth(30000, 800)).save(path, quality=80)
    photo = load_photo(path)
    assert photo.image.size == (30000, 800)
    drafted = load_photo(path, min_size=(64, 32))
    assert drafted.image.size == (3750, 100)
    for resize in ("squash", "letterbox", "crop"):
        prep = Preprocessing(32, 64, resize, "RGB", (127.5, 127.5, 127.5), (64.0, 64.0, 64.0))
        x = load_model_input(path, prep)
        assert x.shape == (32, 64, 3) and np.isfinite(x).all()


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 2), (1, 500)])
@pytest.mark.parametrize("resize", ["squash", "letterbox", "crop"])
def test_tiny_images(tmp_path: Path, size: tuple[int, int], resize: str) -> None:
    w, h = size
    path = tmp_path / "tiny.png"
    Image.fromarray(asymmetric(w, h)).save(path)
    photo = load_photo(path, min_size=(64, 32))
    assert photo.image.size == (w, h)
    prep = Preprocessing(32, 64, resize, "RGB", (127.5, 127.5, 127.5), (64.0, 64.0, 64.0))
    x = load_model_input(path, prep)
    assert x.shape == (32, 64, 3) and x.dtype == np.float32 and np.isfinite(x).all()


def test_tiny_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "tiny.jpg"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(path)
    assert load_photo(path, min_size=(224, 224)).image.size == (1, 1)


# ---------------------------------------------------------------- preprocessing


def test_squash() -> None:
    im = Image.fromarray(asymmetric(200, 50))
    x = to_model_input(im, PREP)
    assert x.shape == (32, 64, 3) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    expected = (np.asarray(im.resize((64, 32), Image.Resampling.BILINEAR), np.float32) - 127.5) / 64.0
    np.testing.assert_allclose(x, expected, atol=1e-6)


@pytest.mark.parametrize("order", ["RGB", "BGR"])
def test_letterbox_pads_with_the_mean(order: str) -> None:
    prep = Preprocessing(32, 64, "letterbox", order, (103.939, 116.779, 123.68), (1.0, 1.0, 1.0))
    tall = Image.new("RGB", (10, 40), (255, 255, 255))  # scaled to 8x32, centred: 28 columns each side
    x = to_model_input(tall, prep)
    np.testing.assert_allclose(x[:, :28], 0.0, atol=1e-5)
    np.testing.assert_allclose(x[:, 36:], 0.0, atol=1e-5)
    assert (x[:, 29:35] > 100).all()
    wide = Image.new("RGB", (640, 40), (0, 0, 0))  # scaled to 64x4: rows 14..17
    x = to_model_input(wide, prep)
    np.testing.assert_allclose(x[:14], 0.0, atol=1e-5)
    np.testing.assert_allclose(x[18:], 0.0, atol=1e-5)
    assert (x[15:17] < -100).all()
    fitted = np.asarray(fit_image(tall, prep)).astype(float)
    mean_rgb = prep.mean[::-1] if order == "BGR" else prep.mean
    np.testing.assert_allclose(fitted[0, 0], mean_rgb, atol=0.5)


def test_crop_cuts_the_centre() -> None:
    arr = np.zeros((32, 192, 3), np.uint8)
    arr[:, 64:128] = 255  # white centre third
    prep = Preprocessing(32, 64, "crop", "RGB", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    x = to_model_input(Image.fromarray(arr), prep)
    assert (x == 255).all()
    squash = to_model_input(Image.fromarray(arr), Preprocessing(32, 64, "squash"))
    assert (squash[:, 0] == 0).all()


def test_bgr_order() -> None:
    red = Image.new("RGB", (64, 32), (255, 0, 0))
    rgb_x = to_model_input(red, Preprocessing(32, 64, "squash", "RGB"))
    bgr_x = to_model_input(red, Preprocessing(32, 64, "squash", "BGR", (1.0, 2.0, 3.0), (1.0, 1.0, 2.0)))
    assert (rgb_x[..., 0] == 255).all() and (rgb_x[..., 2] == 0).all()
    assert (bgr_x[..., 2] == 126).all()  # red is the last channel in BGR: (255 - 3) / 2
    assert (bgr_x[..., 0] == -1).all()   # blue first: (0 - 1) / 1


def test_non_rgb_image_accepted_by_to_model_input() -> None:
    x = to_model_input(Image.new("L", (64, 32), 100), PREP)
    np.testing.assert_allclose(x, (100 - 127.5) / 64.0)


# ---------------------------------------------------------------- bad inputs


def _refused(path: Path, *words: str, min_size: tuple[int, int] | None = None) -> PhotoError:
    with pytest.raises(PhotoError) as info:
        load_photo(path, min_size=min_size)
    assert info.value.path == path
    assert str(path) in str(info.value)
    reason = info.value.reason.lower()
    assert any(w in reason for w in words), reason
    return info.value


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    _refused(path, "empty")
    with pytest.raises(PhotoError):
        read_metadata(path)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("Whale seen at 10:32, fluke up, no photo.\n" * 20)
    _refused(path, "not an image")
    with pytest.raises(PhotoError):
        read_metadata(path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(1).bytes(5000))
    _refused(path, "not an image")


def test_unsupported_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "icon.jpg"
    Image.new("RGB", (16, 16)).save(path, format="ICO")
    _refused(path, "not supported")


@pytest.mark.parametrize(("suffix", "options"), [
    (".jpg", {"quality": 90}), (".jpg", {"progressive": True}), (".png", {}), (".webp", {}),
    (".gif", {}), (".tif", {}), (".bmp", {}),
])
def test_truncated(tmp_path: Path, suffix: str, options: dict[str, object]) -> None:
    full = tmp_path / f"full{suffix}"
    Image.fromarray(asymmetric(120, 80)).save(full, format=None, **options)  # the suffix gives the format
    data = full.read_bytes()
    path = tmp_path / f"half{suffix}"
    path.write_bytes(data[: len(data) // 2])
    _refused(path, "truncated", "corrupt")
    _refused(path, "truncated", "corrupt", min_size=(8, 8))


def test_decompression_bomb_png_refused_quickly(tmp_path: Path) -> None:
    """A valid 20000x20000 1-bit PNG (400 megapixels) that compresses to a few tens of kilobytes."""
    side = 20000
    row = b"\x00" + bytes(side // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    path = tmp_path / "bomb.png"
    path.write_bytes(png_file(side, side, 1, 0, idat))
    assert path.stat().st_size < 200_000
    started = time.perf_counter()
    _refused(path, "too many pixels", "megapixel")
    with pytest.raises(PhotoError):
        read_metadata(path)
    assert time.perf_counter() - started < 2.0  # a decode of 400 megapixels would take far longer


def test_just_above_our_pixel_limit_is_refused(tmp_path: Path) -> None:
    """Above MAX_PIXELS but below Pillow's own bomb error: refused by our check, from the header alone."""
    side = int(MAX_PIXELS**0.5) + 100
    path = tmp_path / "big_header.png"
    path.write_bytes(png_file(side, side, 8, 2, zlib.compress(b"\x00" * 100)))
    error = _refused(path, "megapixel")
    assert f"{side}x{side}" in error.reason


def test_missing_file(tmp_path: Path) -> None:
    _refused(tmp_path / "nowhere.jpg", "not found")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    _refused(folder, "folder")


def test_nul_in_name(tmp_path: Path) -> None:
    with pytest.raises(PhotoError):
        load_photo(str(tmp_path / "bad\x00name.jpg"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.jpg"
    Image.new("RGB", (8, 8)).save(path)
    path.chmod(0)
    try:
        _refused(path, "permission")
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("name", ["baleine à bosse 鯨 🐋.jpg", "   spaced   out   .png",
                                  "Ünïcödé/déjà vu.webp", "with\ttab and 'quotes'.jpeg"])
def test_unicode_and_space_filled_names(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"lossless": True} if name.endswith(".webp") else {}
    Image.fromarray(smooth(40, 20)).save(path, format=None, **options)  # the suffix gives the format
    photo = load_photo(path)
    assert photo.path == path and photo.image.size == (40, 20)
    assert find_photos([tmp_path]) and path in find_photos([tmp_path])
    bad = path.with_name("bad " + path.name)
    bad.write_bytes(b"")
    _refused(bad, "empty")


def test_find_photos_and_suffixes(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.JPG", "a.png", "sub/c.tiff", "notes.txt", "sub/d.gif"):
        (tmp_path / name).write_bytes(b"x")
    found = find_photos([tmp_path, tmp_path / "single.jpg"])
    assert [p.name for p in found] == ["a.png", "b.JPG", "c.tiff", "d.gif", "single.jpg"]
    assert is_photo_file("X.JPEG") and is_photo_file("y.webp") and not is_photo_file("z.txt")


def test_animated_gif_cut_anywhere(tmp_path: Path) -> None:
    """Cut anywhere after the first frame: damaged later frames still load or are refused, never crash.

    (Counting frames reads every frame header, and Pillow raises IndexError on a cut one: found by fuzzing.)
    """
    frames = [Image.fromarray(asymmetric(12, 8, seed)).convert("P") for seed in range(3)]
    full = tmp_path / "anim.gif"
    frames[0].save(full, save_all=True, append_images=frames[1:], duration=50)
    data = full.read_bytes()
    path = tmp_path / "cut.gif"
    loaded = 0
    for cut in range(len(data) // 3, len(data), 4):
        path.write_bytes(data[:cut])
        for call in (load_photo, read_metadata):
            try:
                call(path)
                loaded += call is load_photo
            except PhotoError as exc:
                assert exc.path == path
    assert loaded > 0  # cuts after the first frame still give the first frame


def test_bytes_read_once_decode_as_the_file_does(tmp_path: Path) -> None:
    path = tmp_path / "fluke.jpg"
    Image.fromarray(asymmetric(160, 90)).save(path, quality=92)
    data = read_photo_bytes(path)
    assert data == path.read_bytes()
    from_file = load_photo(path, min_size=(40, 20))
    from_bytes = load_photo(path, min_size=(40, 20), data=data)
    assert from_bytes.meta == from_file.meta and from_bytes.path == path
    np.testing.assert_array_equal(np.asarray(from_bytes.image), np.asarray(from_file.image))
    with pytest.raises(PhotoError, match="empty"):
        load_photo(path, data=b"")
    with pytest.raises(PhotoError, match="not an image") as info:
        load_photo(path, data=b"not a photo at all")
    assert info.value.path == path


def test_read_photo_bytes_refuses_what_is_not_a_photo_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "folder.jpg").mkdir()
    cases = {"nowhere.jpg": "not found", "empty.jpg": "empty", "folder.jpg": "folder"}
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.jpg")  # reading it would block: refused before any read
        cases["pipe.jpg"] = "not a regular file"
    for name, words in cases.items():
        with pytest.raises(PhotoError, match=words) as info:
            read_photo_bytes(tmp_path / name)
        assert info.value.path == tmp_path / name
