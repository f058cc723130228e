"""The headless command line: ``whalegui import|enroll|identify|info|reembed|check|export ...``.

Exit codes: 0 success, 1 a failure (a bad photo, a locked gallery, an unhealthy gallery...), 2 a usage
error. A user's mistake gets one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from whalegui.core.errors import CatalogueError, ModelError, WhaleguiError
from whalegui.core.logsetup import console_logging
from whalegui.paths import bundled_model_path, default_gallery_dir

log = logging.getLogger(__name__)

FORMATS = ("table", "json", "kaggle")


class UsageError(Exception):
    """A command line that cannot be run as given (exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whalegui", description="Identify humpback whales by their flukes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, *, model: bool) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--gallery", type=Path, default=None,
                       help=f"gallery folder (default: {default_gallery_dir()})")
        if model:
            p.add_argument("--model", type=Path, default=None,
                           help="ONNX embedding model, its .json card beside it (default: the bundled model)")
            p.add_argument("--cpu", action="store_true", help="run the model on the CPU even if a GPU works")
        p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
        return p

    p = command("import", "Import a labelled catalogue: a Kaggle CSV (Image,Id) with its images folder, "
                          "or (without --csv) one sub-folder per whale.", model=True)
    p.add_argument("--csv", type=Path, default=None, help="catalogue CSV with Image and Id columns")
    p.add_argument("--images", type=Path, required=True, help="the folder the CSV's file names are in")

    p = command("enroll", "Enroll a new whale, or add photos to a catalogued one.", model=True)
    p.add_argument("--whale", default=None, help="the whale's id (with --new: the new whale's id)")
    p.add_argument("--new", action="store_true", help="enroll a new whale (id generated unless --whale)")
    p.add_argument("--name", default="", help="the new whale's name")
    p.add_argument("--notes", default="", help="notes on the new whale")
    p.add_argument("photos", nargs="+", type=Path, metavar="PHOTO")

    p = command("identify", "Rank the catalogued whales for each photo.", model=True)
    p.add_argument("--top", type=int, default=5, help="candidates per photo (default 5)")
    p.add_argument("--threshold", type=float, default=None,
                   help="new-whale distance threshold (default: the model card's)")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="photos or folders of photos")

    p = command("info", "Describe the gallery.", model=False)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("reembed", "Re-embed every photo of the gallery with another model.", model=True)

    p = command("check", "Verify the gallery (database, photo files, thumbnails, index, embeddings).",
                model=True)
    p.add_argument("--repair", action="store_true", help="rebuild what can be rebuilt (never deletes photos)")

    p = command("export", "Write the catalogue as CSV (Image,Id,...).", model=False)
    p.add_argument("--output", "-o", default="-", help="CSV file to write (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse has printed the usage error (or the help)
        return int(exc.code) if isinstance(exc.code, int) else 2
    with console_logging(logging.INFO if args.verbose else logging.WARNING, "whalegui: %(message)s"):
        return _run(parser, args)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.gallery is None:
        args.gallery = default_gallery_dir()
    handler = _COMMANDS[args.command]
    try:
        return handler(args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        _error(str(exc))
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
    embedder = _load_embedder(args)
    cancel = threading.Event()
    with Gallery.open(args.gallery, embedder) as gallery:
        bar = ProgressBar("importing")
        try:
            report = gallery.import_catalogue(args.csv, args.images, progress=bar, cancel=cancel)
        finally:
            bar.finish()
        for name, reason in report.errors:
            print(f"skipped {name}: {reason}", file=sys.stderr)
        print(f"imported {report.imported} photos ({report.whales_created} new whales) into "
              f"{gallery.folder}; "
              f"skipped {report.skipped_duplicates} already catalogued, {report.skipped_new_whale} new_whale "
              f"rows, {len(report.errors)} with errors; the gallery has {gallery.whale_count()} whales, "
              f"{gallery.photo_count()} photos")
    return 1 if report.errors else 0


def _cmd_enroll(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import Gallery

    if not args.new and args.whale is None:
        raise UsageError("give --whale ID to add photos to a catalogued whale, or --new to enroll a new one")
    embedder = _load_embedder(args)
    with Gallery.open(args.gallery, embedder) as gallery:
        if args.new:
            whale_id = gallery.enroll(args.photos, whale_id=args.whale, name=args.name, notes=args.notes)
            print(f"enrolled whale {whale_id} with {len(gallery.photos(whale_id))} photos")
        else:
            records = gallery.add_photos(args.whale, args.photos)
            print(f"added {len(records)} photos to whale {args.whale} "
                  f"(now {len(gallery.photos(args.whale))} photos)")
    return 0


def _cmd_identify(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import Gallery, Identification
    from whalegui.core.identify import kaggle_prediction
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
        if args.format == "kaggle":
            print("Image,Id", file=out)
        bar = ProgressBar("identifying") if args.format != "table" and len(photos) > 1 else None
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
    return 1 if failed else 0


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

    if args.model is None:
        raise UsageError("reembed needs --model MODEL.onnx (the model to re-embed with)")
    if not (args.gallery / "gallery.sqlite").is_file():
        raise UsageError(f"no gallery at {args.gallery}")
    embedder = _load_embedder(args)
    bar = ProgressBar("re-embedding")
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
            print(f"healthy: {gallery.whale_count()} whales, {gallery.photo_count()} photos")
        else:
            print(f"NOT healthy: {len(report.problems)} problems" +
                  ("" if args.repair else " (try --repair)"))
    return 0 if report.healthy else 1


def _cmd_export(args: argparse.Namespace) -> int:
    from whalegui.core.gallery import Gallery

    with Gallery.open(args.gallery, None, readonly=True) as gallery:
        if args.output == "-":
            count = gallery.export_csv(sys.stdout)  # type: ignore[arg-type]
        else:
            count = gallery.export_csv(Path(args.output))
            print(f"exported {count} photos to {args.output}", file=sys.stderr)
    return 0


_COMMANDS = {"import": _cmd_import, "enroll": _cmd_enroll, "identify": _cmd_identify, "info": _cmd_info,
             "reembed": _cmd_reembed, "check": _cmd_check, "export": _cmd_export}


# ---------------------------------------------------------------------------------------------- helpers

def _load_embedder(args: argparse.Namespace) -> Any:
    from whalegui.core.embedder import Embedder

    path = args.model if args.model is not None else bundled_model_path()
    embedder = Embedder(path, device="cpu" if args.cpu else "auto")
    log.info("using %s", embedder.describe())
    return embedder


def _identification_json(path: Path, result: Any) -> dict[str, Any]:
    return {
        "photo": str(path),
        "candidates": [{"whale_id": c.whale_id, "name": c.name, "distance": round(c.distance, 6),
                        "photo": str(c.photo.path), "photo_count": c.photo_count} for c in result.candidates],
        "new_whale": bool(result.new_whale),
        "threshold": result.threshold,
        "duplicate_of": result.duplicate_of.whale_id if result.duplicate_of else None,
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


def _error(message: str) -> None:
    print(f"whalegui: error: {message}", file=sys.stderr)


class ProgressBar:
    """A one-line text progress bar on stderr (drawn only on a terminal)."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.active = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.active:
            return
        filled = int(self.width * done / total) if total else self.width
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


if __name__ == "__main__":
    sys.exit(main())
