"""The one photo loader used by the app, the CLI and training.

Field photos come in every shape: rotated by EXIF, CMYK from a publishing workflow, 16-bit scans, palette
GIFs, transparent PNGs, 24-megapixel JPEGs straight off the camera, half-written files off a card reader.
:func:`load_photo` returns an upright RGB image or raises :class:`PhotoError` naming the file and the reason.
:func:`to_model_input` turns it into the model's input tensor, as the model card says; training calls the
same function, so a photo becomes the same tensor in both.
"""

from __future__ import annotations

import contextlib
import io
import logging
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, JpegImagePlugin, UnidentifiedImageError

from whalegui.core.errors import PhotoError
from whalegui.core.model_card import Preprocessing

log = logging.getLogger(__name__)

#: Photos above this many pixels are refused (a decompression bomb, or nothing a camera makes).
MAX_PIXELS = 150_000_000
#: Suffixes offered by file dialogs and folder scans (case-insensitive).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".gif", ".bmp")

_ROTATED_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height
_EXIF_DATETIME_FORMAT = "%Y:%m:%d %H:%M:%S"


@dataclass(frozen=True)
class PhotoMeta:
    """What a photo says about itself: its upright full size, format, and the EXIF sighting data."""

    width: int
    height: int
    format: str
    mode: str
    taken_at: datetime | None = None
    gps: tuple[float, float] | None = None  # (latitude, longitude) in decimal degrees


@dataclass
class Photo:
    """A decoded, upright RGB photo. ``image`` may be smaller than ``meta`` says if it was drafted."""

    path: Path
    image: Image.Image
    meta: PhotoMeta


def is_photo_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in PHOTO_SUFFIXES


def find_photos(paths: list[str | Path] | tuple[str | Path, ...]) -> list[Path]:
    """Expand files and folders (recursively) into photo files, sorted within each folder."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and is_photo_file(f)))
        else:
            found.append(p)
    return found


def read_photo_bytes(path: str | Path) -> bytes:
    """The bytes of a photo file, read once (to hash and then decode them with :func:`load_photo`).

    Raises :class:`PhotoError` for a missing, unreadable, empty or not regular file (a folder, a pipe: never
    read, so a named pipe cannot block), with the same reasons as :func:`load_photo`.
    """
    path = Path(path)
    _check_file(path)
    try:
        data = path.read_bytes()
    except PermissionError as exc:
        raise PhotoError(path, "permission denied") from exc
    except OSError as exc:
        raise PhotoError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    if not data:
        raise PhotoError(path, "the file is empty (0 bytes)")
    return data


def load_photo(path: str | Path, *, min_size: tuple[int, int] | None = None,
               data: bytes | None = None) -> Photo:
    """Decode ``path`` into an upright RGB photo.

    ``min_size`` is (width, height) of the smallest image the caller needs, in upright orientation. A JPEG
    much larger than that is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling via Pillow's
    ``draft``), still at least ``min_size``. ``None`` keeps full resolution (the review view).
    ``data`` is the file's bytes when the caller already read them (:func:`read_photo_bytes`): they are
    decoded and the file is not opened again; ``path`` then only names the photo in errors.

    Raises :class:`PhotoError` (and nothing else) for any file that is not a readable photo.
    """
    path = Path(path)
    with _quiet_pillow():
        im = _open(path, data)
        try:
            return _decode(path, im, min_size)
        finally:
            im.close()


def _decode(path: Path, im: Image.Image, min_size: tuple[int, int] | None) -> Photo:
    full_size, source_format = im.size, im.format
    try:
        if min_size is not None and isinstance(im, JpegImagePlugin.JpegImageFile):
            # A JPEG's EXIF comes from its header, so reading the orientation does not decode pixels.
            w, h = min_size
            if _orientation(im) in _ROTATED_ORIENTATIONS:
                w, h = h, w
            im.draft(im.mode if im.mode in ("RGB", "L") else None, (max(1, w), max(1, h)))
        im.load()
    except MemoryError as exc:
        raise PhotoError(path, "not enough memory to decode this image") from exc
    except Exception as exc:  # Pillow's decoders raise many types on bad data; all mean the same here
        raise PhotoError(path, f"truncated or corrupt image data ({_describe(exc)})") from exc
    # Metadata after load(): a PNG's EXIF may follow its pixels, and reading it first would decode them.
    meta = _metadata(path, im, full_size)
    try:
        rgb = _to_rgb(_upright(im, _orientation(im)), source_format)
        if rgb is im:  # the caller closes ``im``, which would free the pixels we return
            rgb = im.copy()
    except MemoryError as exc:
        raise PhotoError(path, "not enough memory to convert this image") from exc
    except Exception as exc:
        raise PhotoError(path, f"cannot convert its {im.mode} pixels to RGB ({_describe(exc)})") from exc
    return Photo(path, rgb, meta)


def read_metadata(path: str | Path) -> PhotoMeta:
    """The photo's size, format and EXIF sighting data, without decoding its pixels where the format allows.

    Raises :class:`PhotoError` when the file is not a photo; a broken EXIF block only loses the metadata.
    """
    path = Path(path)
    with _quiet_pillow():
        im = _open(path)
        try:
            return _metadata(path, im, im.size)
        finally:
            im.close()


def to_model_input(image: Image.Image, prep: Preprocessing) -> np.ndarray:
    """Resize an RGB image by the card's policy and normalise it: float32 array (height, width, 3).

    Letterbox padding is the card's mean exactly, so it normalises to zero.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    if prep.resize == "letterbox" and image.size != (prep.width, prep.height):
        nw, nh, left, top = _letterbox_box(image.size, prep)
        arr = np.empty((prep.height, prep.width, 3), dtype=np.float32)
        arr[...] = np.asarray(_mean_rgb(prep), dtype=np.float32)
        arr[top:top + nh, left:left + nw] = np.asarray(image.resize((nw, nh), _RESAMPLE), dtype=np.float32)
    else:
        arr = np.asarray(fit_image(image, prep), dtype=np.float32)
    if prep.channel_order == "BGR":
        arr = arr[..., ::-1]
    mean = np.asarray(prep.mean, dtype=np.float32)
    std = np.asarray(prep.std, dtype=np.float32)
    return np.ascontiguousarray((arr - mean) / std, dtype=np.float32)


def fit_image(image: Image.Image, prep: Preprocessing) -> Image.Image:
    """Resize to the model's (width, height): squash, letterbox (padded with the mean colour) or crop."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    tw, th = prep.width, prep.height
    w, h = image.size
    if prep.resize == "squash" or (w, h) == (tw, th):
        return image.resize((tw, th), _RESAMPLE)
    if prep.resize == "letterbox":
        nw, nh, left, top = _letterbox_box((w, h), prep)
        canvas = Image.new("RGB", (tw, th), tuple(round(m) for m in _mean_rgb(prep)))
        canvas.paste(image.resize((nw, nh), _RESAMPLE), (left, top))
        return canvas
    scale = max(tw / w, th / h)  # crop: cover the target, cut the centre
    nw, nh = max(tw, round(w * scale)), max(th, round(h * scale))
    left, top = (nw - tw) // 2, (nh - th) // 2
    return image.resize((nw, nh), _RESAMPLE).crop((left, top, left + tw, top + th))


def model_decode_size(prep: Preprocessing) -> tuple[int, int]:
    """The (width, height) photos are decoded at on their way to the model: twice its input.

    Large JPEGs are drafted down to about this size (fast), leaving room for the resize's anti-aliasing and
    training's zoom augmentation. Training, evaluation, the gallery and the CLI all decode at this size, so
    a photo becomes the same tensor everywhere.
    """
    return (2 * prep.width, 2 * prep.height)


def load_model_input(path: str | Path, prep: Preprocessing) -> np.ndarray:
    """Load a photo at reduced scale where possible and make it the model's input."""
    photo = load_photo(path, min_size=model_decode_size(prep))
    return to_model_input(photo.image, prep)


_RESAMPLE = Image.Resampling.BILINEAR
#: What Pillow may open. ("JPEG" covers MPO: many camera JPEGs carry a preview image and open as MPO.)
_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "GIF", "BMP")
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _letterbox_box(size: tuple[int, int], prep: Preprocessing) -> tuple[int, int, int, int]:
    """(new width, new height, left, top) of the image scaled to fit inside the model's input."""
    w, h = size
    tw, th = prep.width, prep.height
    scale = min(tw / w, th / h)
    nw, nh = min(tw, max(1, round(w * scale))), min(th, max(1, round(h * scale)))
    return nw, nh, (tw - nw) // 2, (th - nh) // 2


def _mean_rgb(prep: Preprocessing) -> tuple[float, float, float]:
    m = prep.mean
    return (m[2], m[1], m[0]) if prep.channel_order == "BGR" else m


@contextlib.contextmanager
def _quiet_pillow() -> Iterator[None]:
    """Keep Pillow's warnings about damaged files (corrupt EXIF, possible bombs) off the user's console.

    The loader's own checks and :class:`PhotoError` report what matters. (``catch_warnings`` is not
    thread-safe; at worst a race leaves these same Pillow warnings ignored, which is harmless.)
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"PIL\.")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _check_file(path: Path) -> int:
    """The size of ``path`` if it is a regular file; else raise :class:`PhotoError` saying what it is."""
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise PhotoError(path, "file not found") from exc
    except PermissionError as exc:
        raise PhotoError(path, "permission denied") from exc
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise PhotoError(path, f"cannot read the file ({getattr(exc, 'strerror', None) or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise PhotoError(path, "is a folder, not a photo")
    if not stat.S_ISREG(st.st_mode):
        raise PhotoError(path, "is not a regular file")
    return st.st_size


def _open(path: Path, data: bytes | None = None) -> Image.Image:
    size = _check_file(path) if data is None else len(data)
    if size == 0:
        raise PhotoError(path, "the file is empty (0 bytes)")
    try:
        im = Image.open(path if data is None else io.BytesIO(data), formats=_FORMATS)
    except UnidentifiedImageError as exc:
        raise PhotoError(path, "not an image, or an image format that is not supported (supported: "
                               "JPEG, PNG, TIFF, WebP, GIF, BMP)") from exc
    except Image.DecompressionBombError as exc:
        raise PhotoError(path, f"refused: too many pixels, above the {MAX_PIXELS // 1_000_000}-megapixel "
                               f"limit (a decompression bomb?) ({exc})") from exc
    except PermissionError as exc:
        raise PhotoError(path, "permission denied") from exc
    except MemoryError as exc:
        raise PhotoError(path, "corrupt image header (not enough memory to read it)") from exc
    except Exception as exc:  # Pillow's header parsers raise many types on bad data
        raise PhotoError(path, f"corrupt image header ({_describe(exc)})") from exc
    w, h = im.size
    if w * h > MAX_PIXELS:
        im.close()
        raise PhotoError(path, f"refused: {w}x{h} is {w * h / 1e6:.0f} megapixels, above the "
                               f"{MAX_PIXELS // 1_000_000}-megapixel limit (a decompression bomb?)")
    if w < 1 or h < 1:
        im.close()
        raise PhotoError(path, f"image has no pixels ({w}x{h})")
    # Image.open is already at the first frame of an animated GIF/WebP or a multi-page TIFF.
    return im


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # a broken EXIF block must not cost the photo
        return 1
    return value if value in _TRANSPOSE else 1


def _upright(im: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return im if method is None else im.transpose(method)


def _metadata(path: Path, im: Image.Image, full_size: tuple[int, int]) -> PhotoMeta:
    w, h = full_size
    if _orientation(im) in _ROTATED_ORIENTATIONS:
        w, h = h, w
    taken_at, gps = None, None
    try:
        exif = im.getexif()
        taken_at = _exif_datetime(exif)
        gps = _exif_gps(exif)
    except Exception as exc:  # EXIF is optional: a broken block loses the metadata, not the photo
        log.debug("%s: unreadable EXIF (%s)", path, exc)
    return PhotoMeta(w, h, im.format or "unknown", im.mode, taken_at, gps)


def _exif_datetime(exif: Image.Exif) -> datetime | None:
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    for value in (sub.get(ExifTags.Base.DateTimeOriginal), sub.get(ExifTags.Base.DateTimeDigitized),
                  exif.get(ExifTags.Base.DateTime)):
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str):
            try:
                return datetime.strptime(value.strip("\x00 ").strip(), _EXIF_DATETIME_FORMAT)
            except ValueError:
                continue
    return None


def _exif_gps(exif: Image.Exif) -> tuple[float, float] | None:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if not gps:
        return None
    lat = _dms(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
    lon = _dms(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return (lat, lon)


def _dms(value: Any, ref: Any, negative: str) -> float | None:
    if value is None or len(value) != 3:
        return None
    deg, minutes, seconds = (float(v) for v in value)
    result = deg + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -result if str(ref).strip("\x00 ").upper() == negative else result


def _to_rgb(im: Image.Image, source_format: str | None = None) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency composited over white; 16-bit samples scaled to 8 bits."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im).astype(np.float64)
        top = float(np.nanmax(arr)) if arr.size else 0.0
        if mode == "F":
            if top <= 1.0:
                arr = arr * 255.0  # floats in 0..1
        elif mode.startswith("I;16") or source_format == "PNG" or 255 < top <= 65535:
            arr = arr / 257.0  # 16-bit samples: 65535 -> 255, 32896 -> 128
        elif top > 65535:
            arr = arr * (255.0 / top)  # 32-bit integers: stretch to the image's own range
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
        gray = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
        return gray.convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
