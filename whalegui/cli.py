"""The headless command line: ``whalegui import|enroll|identify|info|reembed|check|export|sightings ...``.

Exit codes: 0 success, 1 a failure (a bad photo, a locked gallery, an unhealthy gallery...), 2 a usage
error. A user's mistake gets one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from whalegui.cli_sightings import (
    add_sighting_arguments,
    add_sightings_command,
    cmd_sightings,
    sighting_from_args,
)
from whalegui.core.errors import CatalogueError, ModelError, WhaleguiError
from whalegui.core.gallery.exports import FORMATS as EXPORT_FORMATS
from whalegui.core.logsetup import console_logging
from whalegui.paths import bundled_model_path, default_gallery_dir
from whalegui.wording import plural

if TYPE_CHECKING:
    from whalegui.core.gallery import Gallery

log = logging.getLogger(__name__)

FORMATS = ("table", "json", "kaggle")

#: The headless commands and what each does (their --help, and the listing in ``whalegui --help``).
COMMANDS = {
    "import": "Import a labelled catalogue: a Kaggle CSV (Image,Id) and its photos, or one sub-folder "
              "per whale.",
    "enroll": "Enroll a new whale, or add photos to a catalogued one.",
    "identify": "Rank the catalogued whales for each photo.",
    "info": "Describe the gallery.",
    "reembed": "Re-embed every photo of the gallery with a model (by default the bundled one).",
    "check": "Verify the gallery (database, photo files, thumbnails, index, embeddings).",
    "export": "Write the catalogue as CSV: the gallery's own (Image,Id,...), Darwin Core, Wildbook, or the "
              "review pairs.",
    "sightings": "List when and where whales were seen.",
    "merge": "Merge another gallery into this one (photos matched by content; the other is only read).",
}
CLI_COMMANDS = tuple(COMMANDS)

#: One wording for the options every command shares (the app's ``--help`` uses them too).
GALLERY_HELP = f"the gallery folder (default: {default_gallery_dir()})"
MODEL_HELP = "the ONNX embedding model, its .json card beside it (default: the bundled model)"


class UsageError(Exception):
    """A command line that cannot be run as given (exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whalegui", description="Identify humpback whales by their flukes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, *, model: bool) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])
        p.add_argument("--gallery", type=Path, default=None, metavar="GALLERY", help=GALLERY_HELP)
        if model:
            p.add_argument("--model", type=Path, default=None, metavar="MODEL.onnx", help=MODEL_HELP)
            p.add_argument("--cpu", action="store_true", help="run the model on the CPU even if a GPU works")
        p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
        return p

    p = command("import", model=True)
    p.add_argument("--csv", type=Path, default=None, metavar="FILE",
                   help="the catalogue CSV, with Image and Id columns")
    p.add_argument("--images", type=Path, required=True, metavar="DIR",
                   help="the folder of photos (the CSV's file names are relative to it)")

    p = command("enroll", model=True)
    p.add_argument("--whale", default=None, metavar="ID",
                   help="the whale's id (with --new: the new whale's id, generated if not given)")
    p.add_argument("--new", action="store_true", help="enroll a new whale")
    p.add_argument("--name", default="", metavar="NAME", help="the new whale's name")
    p.add_argument("--notes", default="", metavar="TEXT", help="notes on the new whale")
    p.add_argument("photos", nargs="+", type=Path, metavar="PHOTO", help="photos of the whale")
    add_sighting_arguments(p)

    p = command("identify", model=True)
    p.add_argument("--top", type=int, default=5, metavar="N", help="candidates per photo (default 5)")
    p.add_argument("--threshold", type=float, default=None, metavar="DISTANCE",
                   help="the new-whale distance threshold (default: the model card's)")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PHOTO", help="photos, or folders of photos")

    p = command("info", model=False)
    p.add_argument("--json", action="store_true", help="print JSON")

    command("reembed", model=True)

    p = command("check", model=True)
    p.add_argument("--repair", action="store_true", help="rebuild what can be rebuilt (never deletes photos)")

    p = command("export", model=False)
    p.add_argument("--output", "-o", default="-", metavar="FILE",
                   help="the CSV file to write (default: standard output)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="csv",
                   help="csv: the gallery's own catalogue, which imports back; dwc: a Darwin Core occurrence "
                        "table (GBIF, OBIS); wildbook: a Wildbook bulk-import sheet; pairs: the review "
                        "decisions as labelled pairs (default csv)")

    add_sightings_command(command("sightings", model=False))

    from whalegui.cli_merge import add_arguments as merge_arguments

    merge_arguments(command("merge", model=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse has printed the usage error (or the help)
        return int(exc.code) if isinstance(exc.code, int) else 2
    with console_logging(logging.INFO if args.verbose else logging.WARNING, "whalegui: %(message)s"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.gallery is None:
        args.gallery = default_gallery_dir()
    handler = _COMMANDS[args.command]
    try:
        return handler(args)
    except UsageError as exc:
        _error(f"{exc} (see whalegui {args.command} --help)")
        return 2
    except WhaleguiError as exc:
        _error(str(exc))
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:
        _error(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
        return 1


# ---------------------------------------------------------------------------------------------- commands

def _cmd_import(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import Gallery

    if args.csv is not None and not args.csv.is_file():
        raise CatalogueError(args.csv, "file not found")
    if not args.images.is_dir():
        raise CatalogueError(args.images, "the images folder does not exist")
    if args.csv is None and _holds_only_loose_photos(args.images):
        raise UsageError(f"{args.images} holds photos but no sub-folders: give --csv FILE, or put each "
                         "whale's photos in a sub-folder named by its id")
    embedder = _load_embedder(args)
    cancel = threading.Event()
    with Gallery.open(args.gallery, embedder) as gallery:
        before = gallery.photo_count()
        bar = ProgressBar("import")
        try:
            with _stop_on_ctrl_c(cancel):
                report = gallery.import_catalogue(args.csv, args.images, progress=bar, cancel=cancel)
        except KeyboardInterrupt:  # a second Ctrl-C: stopped at once, the batch in hand rolled back
            bar.finish()
            _interrupted_import(gallery.photo_count() - before)
            return 130
        bar.finish()
        for name, reason in report.errors:
            # The catalogue reader starts a row's reason with "row N: ", and names a row that has no file
            # name "row N" too: say it once.
            print(f"skipped {name}: {reason.removeprefix(f'{name}: ')}", file=sys.stderr)
        if report.cancelled:
            _interrupted_import(report.imported)
            return 130
        print(f"imported {plural(report.imported, 'photo')} ({plural(report.whales_created, 'new whale')}) "
              f"into {gallery.folder}; skipped {report.skipped_duplicates} already catalogued, "
              f"{plural(report.skipped_new_whale, 'new_whale row')}, {len(report.errors)} with errors; the "
              f"gallery has {_size(gallery)}")
    return 1 if report.errors else 0


def _holds_only_loose_photos(folder: Path) -> bool:
    """Photos directly in ``folder`` and no sub-folder: a Kaggle photo folder given without its CSV."""
    from whalegui.core.images import is_photo_file

    items = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return any(p.is_file() and is_photo_file(p) for p in items) and not any(p.is_dir() for p in items)


def _interrupted_import(kept: int) -> None:
    _error(f"interrupted: {kept} photos imported and kept; run the same command again to resume "
           "(photos already in the gallery are skipped)")


@contextlib.contextmanager
def _stop_on_ctrl_c(cancel: threading.Event) -> Iterator[None]:
    """The first Ctrl-C asks the work to stop after its current batch (``cancel``); a second one raises
    KeyboardInterrupt at once. Outside the main thread (where no signal handler can be set) Ctrl-C keeps
    Python's default behaviour."""

    def handler(signum: int, frame: object) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        newline = "\n" if sys.stderr.isatty() else ""  # off the progress bar's line
        print(f"{newline}whalegui: stopping after the current batch of photos (Ctrl-C again to stop at once)",
              file=sys.stderr, flush=True)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


def _cmd_enroll(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import Gallery

    if not args.new and args.whale is None:
        raise UsageError("give --whale ID to add photos to a catalogued whale, or --new to enroll a new one")
    embedder = _load_embedder(args)
    sighting = sighting_from_args(args, args.photos)
    with Gallery.open(args.gallery, embedder) as gallery:
        if args.new:
            whale_id = gallery.enroll(args.photos, whale_id=args.whale, name=args.name, notes=args.notes,
                                      sighting=sighting)
            print(f"enrolled whale {whale_id} with {plural(len(gallery.photos(whale_id)), 'photo')}")
        else:
            records = gallery.add_photos(args.whale, args.photos, sighting=sighting)
            print(f"added {plural(len(records), 'photo')} to whale {args.whale} "
                  f"(now {plural(len(gallery.photos(args.whale)), 'photo')})")
    return 0


def _cmd_identify(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import Gallery
    from whalegui.core.identify import Identification, kaggle_prediction
    from whalegui.core.images import find_photos

    if args.top < 1:
        raise UsageError("--top must be at least 1")
    photos: list[Path] = []
    for p in args.paths:
        photos.extend(find_photos([p]) if p.is_dir() else [p])
    embedder = _load_embedder(args)
    out = sys.stdout
    failed = 0
    with Gallery.open(args.gallery, embedder, readonly=True) as gallery:
        threshold = args.threshold if args.threshold is not None else embedder.card.new_whale_threshold
        empty = gallery.whale_count() == 0
        if empty:
            print(f"whalegui: warning: the gallery {gallery.folder} holds no whales, so every photo is "
                  "reported as new_whale; import or enroll whales first", file=sys.stderr)
        if args.format == "kaggle":
            print("Image,Id", file=out)
        bar = ProgressBar("identify") if args.format != "table" and len(photos) > 1 else None
        started = time.perf_counter()
        results = gallery.identify_many(photos, top=args.top, threshold=threshold, progress=bar)
        elapsed = time.perf_counter() - started
        if bar is not None:
            bar.finish()
        for path, result in zip(photos, results, strict=True):
            if not isinstance(result, Identification):
                failed += 1
                reason = getattr(result, "reason", str(result))
                if args.format == "json":
                    print(json.dumps({"photo": str(path), "candidates": [], "new_whale": None,
                                      "error": reason}), file=out)
                else:
                    print(f"whalegui: {path}: {reason}", file=sys.stderr)
                continue
            if args.format == "kaggle":
                ranked = [(c.whale_id, c.distance) for c in result.candidates]
                print(f"{path.name},{' '.join(kaggle_prediction(ranked, threshold, k=5))}", file=out)
            elif args.format == "json":
                print(json.dumps(_identification_json(path, result)), file=out)
            else:
                _print_table(path, result, out)
        log.info("identified %d photos in %.2f s (%.1f ms per photo)", len(photos), elapsed,
                 1000 * elapsed / max(1, len(photos)))
    return 1 if failed or empty else 0


def _cmd_info(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import Gallery

    with Gallery.open(args.gallery, None, readonly=True) as gallery:
        info: dict[str, Any] = {
            "gallery": str(gallery.folder),
            "whales": gallery.whale_count(),
            "photos": gallery.photo_count(),
            "model": gallery.model_name,
            "model_fingerprint": gallery.model_fingerprint,
            "embedding_dim": gallery.embedding_dim,
            "changes": gallery.generation,
        }
        if args.json:
            print(json.dumps(info, indent=2))
        else:
            print(f"gallery   {info['gallery']}")
            print(f"whales    {info['whales']}")
            print(f"photos    {info['photos']}")
            print(f"model     {info['model'] or '-'} ({info['model_fingerprint'][:12] or '-'}, "
                  f"{info['embedding_dim']} values per photo)")
    return 0


def _cmd_reembed(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import reembed

    if not (args.gallery / "gallery.sqlite").is_file():
        _error(f"no gallery at {args.gallery} (no gallery.sqlite there)")
        return 1
    embedder = _load_embedder(args)
    bar = ProgressBar("re-embed")
    try:
        count = reembed(args.gallery, embedder, progress=bar)
    finally:
        bar.finish()
    print(f"re-embedded {count} photos with {embedder.describe()}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import Gallery

    if not (args.gallery / "gallery.sqlite").is_file():
        _error(f"no gallery at {args.gallery} (no gallery.sqlite there)")
        return 1
    embedder = None
    try:
        embedder = _load_embedder(args)
    except ModelError as exc:
        if args.model is not None:
            raise
        log.info("checking without a model (%s)", exc)
    if embedder is not None and args.model is None:
        # Not told which model: the bundled one checks only a gallery it embedded; any other is checked
        # without a model (its embeddings are then verified for shape, not recomputed).
        with Gallery.open(args.gallery, None, readonly=True) as gallery:
            if gallery.model_fingerprint not in (None, "", embedder.fingerprint):
                log.info("the gallery was embedded by another model than the bundled one; "
                         "checking without it")
                embedder = None
    with Gallery.open(args.gallery, embedder, readonly=not args.repair, allow_model_mismatch=True) as gallery:
        report = gallery.check(repair=args.repair)
        for line in report.repaired:
            print(f"repaired: {line}")
        for line in report.problems:
            print(f"problem: {line}")
        for line in report.notes:
            print(f"note: {line}")
        if report.healthy:
            print(f"healthy: {_size(gallery)}")
        else:
            print(f"NOT healthy: {plural(len(report.problems), 'problem')}" +
                  ("" if args.repair else " (try --repair)"))
    return 0 if report.healthy else 1


def _cmd_export(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import Gallery

    with Gallery.open(args.gallery, None, readonly=True) as gallery:
        if args.output == "-":
            count = gallery.export_csv(sys.stdout, args.format)  # type: ignore[arg-type]
        else:
            count = gallery.export_csv(Path(args.output), args.format)
            what = {"csv": "photo", "dwc": "occurrence", "wildbook": "encounter", "pairs": "review pair"}
            print(f"exported {plural(count, what[args.format])} to {args.output}", file=sys.stderr)
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from whalegui.cli_merge import run  # its own module (whalegui.cli_merge)

    return run(args)


_COMMANDS = {"import": _cmd_import, "enroll": _cmd_enroll, "identify": _cmd_identify, "info": _cmd_info,
             "reembed": _cmd_reembed, "check": _cmd_check, "export": _cmd_export, "sightings": cmd_sightings,
             "merge": _cmd_merge}


# ---------------------------------------------------------------------------------------------- helpers

def _load_embedder(args: argparse.Namespace) -> Any:
    from whalegui.core.embedder import Embedder

    path = args.model if args.model is not None else bundled_model_path()
    embedder = Embedder(path, device="cpu" if args.cpu else "auto")
    log.info("using %s", embedder.describe())
    return embedder


def _identification_json(path: Path, result: Any) -> dict[str, Any]:
    fluke = result.fluke
    return {
        "photo": str(path),
        "candidates": [{"whale_id": c.whale_id, "name": c.name, "distance": round(c.distance, 6),
                        "embedding_distance": round(c.embedding_distance, 6), "inliers": c.inliers,
                        "photo": str(c.photo.path), "photo_count": c.photo_count} for c in result.candidates],
        "new_whale": bool(result.new_whale),
        "threshold": result.threshold,
        "duplicate_of": result.duplicate_of.whale_id if result.duplicate_of else None,
        "fluke": None if fluke is None else {"box": [round(v, 1) for v in fluke.box], "source": fluke.source,
                                             "score": round(fluke.score, 4)},
        "error": None,
    }


def _print_table(path: Path, result: Any, out: TextIO) -> None:
    print(f"{path}", file=out)
    if result.duplicate_of is not None:
        d = result.duplicate_of
        print(f"  already catalogued: photo {d.photo_id} of whale {d.whale_id}", file=out)
    if not result.candidates:
        print("  no whales in the gallery", file=out)
    for rank, c in enumerate(result.candidates, 1):
        seen = c.last_seen.date().isoformat() if c.last_seen else "-"
        name = f" ({c.name})" if c.name else ""
        print(f"  {rank}. {c.whale_id}{name}  distance {c.distance:.3f}  photos {c.photo_count}  "
              f"last seen {seen}  best match {c.photo.original_name}", file=out)
    if result.new_whale:
        nearest = f"nearest {result.candidates[0].distance:.3f}" if result.candidates else "no candidate"
        print(f"  -> likely a NEW whale ({nearest} > threshold {result.threshold:.3f})", file=out)
    else:
        print(f"  -> likely {result.candidates[0].whale_id} (within threshold {result.threshold:.3f})",
              file=out)


def _size(gallery: Gallery) -> str:
    return f"{plural(gallery.whale_count(), 'whale')}, {plural(gallery.photo_count(), 'photo')}"


def _error(message: str) -> None:
    print(f"whalegui: error: {message}", file=sys.stderr)


class ProgressBar:
    """Progress of a long command on stderr, as a ``progress(done, total)`` callback.

    On a terminal, a bar redrawn in place with the rate and the time left. Elsewhere (a log file, a pipe)
    a plain line when the work starts, every ``interval`` seconds and when it ends:
    ``import: 120 of 500 photos, 2.1 photos/s, about 3 min left``.
    """

    def __init__(self, label: str, stream: TextIO | None = None, *, width: int = 30, interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.interval = interval
        self.clock = clock
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started: tuple[float, int] | None = None  # (time, done) of the first call
        self._last_line: float | None = None
        self._drawn = False
        self._width_drawn = 0

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self._started is None:
            self._started = (now, done)
        speed = self._speed(now, done)
        if self.terminal:
            filled = int(self.width * done / total) if total else self.width
            line = (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}"
                    f"{_rate_and_eta(speed, total - done)}")
            # Spaces, not an ANSI erase, blank what a longer line left (old Windows consoles print ANSI).
            self.stream.write(f"\r{line}{' ' * max(0, self._width_drawn - len(line))}")
            self._width_drawn = len(line)
            self._drawn = True
        elif self._last_line is None or done >= total or now - self._last_line >= self.interval:
            self.stream.write(f"{self.label}: {done} of {total} photos{_rate_and_eta(speed, total - done)}\n")
            self._last_line = now
        self.stream.flush()

    def _speed(self, now: float, done: int) -> float | None:
        """Photos a second since the first call (None until some work and some time have passed)."""
        assert self._started is not None
        elapsed, count = now - self._started[0], done - self._started[1]
        return count / elapsed if elapsed > 0 and count > 0 else None

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
            self._width_drawn = 0


def _rate_and_eta(speed: float | None, left: int) -> str:
    if speed is None:
        return ""
    if left <= 0:
        return f", {speed:.1f} photos/s"
    return f", {speed:.1f} photos/s, about {_duration(left / speed)} left"


def _duration(seconds: float) -> str:
    """A rough, readable duration: '40 s', '3 min', '1 h 20 min'."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


if __name__ == "__main__":
    sys.exit(main())
