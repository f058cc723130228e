"""The one photo loader used by the app, the CLI and training.

Field photos come in every shape: rotated by EXIF, CMYK from a publishing workflow, 16-bit scans, palette
GIFs, transparent PNGs, 24-megapixel JPEGs straight off the camera, half-written files off a card reader.
:func:`load_photo` returns an upright RGB image or raises :class:`PhotoError` naming the file and the reason.
:func:`to_model_input` turns it into the model's input tensor, as the model card says; training calls the
same function, so a photo becomes the same tensor in both.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

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


def load_photo(path: str | Path, *, min_size: tuple[int, int] | None = None) -> Photo:
    """Decode ``path`` into an upright RGB photo.

    ``min_size`` is (width, height) of the smallest image the caller needs, in upright orientation. A JPEG
    much larger than that is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling via Pillow's
    ``draft``), still at least ``min_size``. ``None`` keeps full resolution (the review view).
    """
    path = Path(path)
    im = _open(path)
    try:
        meta = _metadata(path, im)
        if min_size is not None and im.format == "JPEG":
            w, h = min_size
            if _orientation(im) in _ROTATED_ORIENTATIONS:
                w, h = h, w
            im.draft(im.mode if im.mode in ("RGB", "L") else None, (max(1, w), max(1, h)))
        try:
            im.load()
            upright = ImageOps.exif_transpose(im)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise PhotoError(path, f"truncated or corrupt image data ({exc})") from exc
        rgb = _to_rgb(upright)
    finally:
        im.close()
    return Photo(path, rgb, meta)


def read_metadata(path: str | Path) -> PhotoMeta:
    """The photo's size, format and EXIF sighting data, without decoding its pixels."""
    path = Path(path)
    with _open(path) as im:
        return _metadata(path, im)


def to_model_input(image: Image.Image, prep: Preprocessing) -> np.ndarray:
    """Resize an RGB image by the card's policy and normalise it: float32 array (height, width, 3)."""
    fitted = fit_image(image, prep)
    arr = np.asarray(fitted, dtype=np.float32)
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
    resample = Image.Resampling.BILINEAR
    if prep.resize == "squash" or (w, h) == (tw, th):
        return image.resize((tw, th), resample)
    if prep.resize == "letterbox":
        scale = min(tw / w, th / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        mean_rgb = prep.mean[::-1] if prep.channel_order == "BGR" else prep.mean
        canvas = Image.new("RGB", (tw, th), tuple(int(round(m)) for m in mean_rgb))
        canvas.paste(image.resize((nw, nh), resample), ((tw - nw) // 2, (th - nh) // 2))
        return canvas
    scale = max(tw / w, th / h)  # crop: cover the target, cut the centre
    nw, nh = max(tw, round(w * scale)), max(th, round(h * scale))
    left, top = (nw - tw) // 2, (nh - th) // 2
    return image.resize((nw, nh), resample).crop((left, top, left + tw, top + th))


def load_model_input(path: str | Path, prep: Preprocessing) -> np.ndarray:
    """Load a photo at reduced scale where possible and make it the model's input."""
    photo = load_photo(path, min_size=(prep.width, prep.height))
    return to_model_input(photo.image, prep)


def _open(path: Path) -> Image.Image:
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise PhotoError(path, "file not found") from exc
    except OSError as exc:
        raise PhotoError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    if path.is_dir():
        raise PhotoError(path, "is a folder, not a photo")
    if size == 0:
        raise PhotoError(path, "the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except UnidentifiedImageError as exc:
        raise PhotoError(path, "not an image, or an image format that is not supported") from exc
    except Image.DecompressionBombError as exc:
        raise PhotoError(path, f"refused: too many pixels, above the {MAX_PIXELS // 1_000_000}-megapixel "
                               "limit (a decompression bomb?)") from exc
    except PermissionError as exc:
        raise PhotoError(path, "permission denied") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise PhotoError(path, f"corrupt image header ({exc})") from exc
    w, h = im.size
    if w * h > MAX_PIXELS:
        im.close()
        raise PhotoError(path, f"refused: {w}x{h} is {w * h / 1e6:.0f} megapixels, above the "
                               f"{MAX_PIXELS // 1_000_000}-megapixel limit (a decompression bomb?)")
    if w < 1 or h < 1:
        im.close()
        raise PhotoError(path, f"image has no pixels ({w}x{h})")
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)  # animated GIF/WebP/multi-page TIFF: the first frame
    return im


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # a broken EXIF block must not cost the photo
        return 1


def _metadata(path: Path, im: Image.Image) -> PhotoMeta:
    w, h = im.size
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


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency composited over white."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im).astype(np.float64)
        if mode != "F" and (mode.startswith("I;16") or arr.max(initial=0) > 255):
            arr = arr / 257.0  # 16-bit samples to 8-bit
        elif mode == "F" and arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        gray = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
        return gray.convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


