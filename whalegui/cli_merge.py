"""``whalegui merge --gallery MINE --from OTHER [--dry-run] [--json]``: merge another gallery into this one.

OTHER is only read. Exit codes as for every command (:mod:`whalegui.cli`): 0 merged (or, with ``--dry-run``,
reported), 1 a failure or some of OTHER's photos could not be read (the rest were merged), 130 interrupted
(what was merged is kept: the same command finishes it).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import TextIO

from whalegui.cli import ProgressBar, _error, _load_embedder, _size, _stop_on_ctrl_c
from whalegui.core.gallery.merge_report import MergeReport
from whalegui.wording import plural


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The merge command's own options (``--gallery``, ``--model`` and ``--cpu`` are everyone's)."""
    p.add_argument("--from", dest="other", type=Path, required=True, metavar="OTHER",
                   help="the gallery folder to merge in (only read, never changed)")
    p.add_argument("--dry-run", action="store_true", help="report what the merge would do; change nothing")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    """Run ``whalegui merge``."""
    from whalegui.core.gallery import Gallery
    from whalegui.core.gallery.merge import merge_gallery

    embedder = _load_embedder(args)
    cancel = threading.Event()
    with Gallery.open(args.gallery, embedder, readonly=args.dry_run) as gallery:
        before = gallery.photo_count()
        bar = ProgressBar("merge")
        try:
            with _stop_on_ctrl_c(cancel):
                report = merge_gallery(gallery, args.other, dry_run=args.dry_run, progress=bar,
                                       cancel=cancel)
        except KeyboardInterrupt:  # a second Ctrl-C: stopped at once, the batch in hand rolled back
            bar.finish()
            _interrupted(gallery.photo_count() - before)
            return 130
        bar.finish()
        if args.json:
            print(json.dumps(report.to_json(), indent=1))
        else:
            print_report(report, sys.stdout)
            if not args.dry_run:
                print(f"the gallery {gallery.folder} has {_size(gallery)} (had {_was(report)})")
        for name, reason in report.damaged:
            print(f"whalegui: skipped {name}: {reason}", file=sys.stderr)
        if report.cancelled:
            _interrupted(report.photos_new)
            return 130
    return 1 if report.damaged else 0


def print_report(r: MergeReport, out: TextIO) -> None:
    """The report as a few lines for people."""
    would = "would " if r.dry_run else ""
    print(f"{'dry run: ' if r.dry_run else ''}merging {r.other}: {plural(r.photos_new, 'photo')} "
          f"{'would be added' if r.dry_run else 'added'}, {r.photos_there} already here "
          "(matched by content), "
          f"{r.reembedded} re-embedded with this gallery's model, "
          f"{plural(r.sightings_new, 'new sighting')}, {plural(r.review_pairs, 'review pair')}", file=out)
    if not r.same_model:
        print(f"  {r.other} was embedded with another model: its photos {would}"
              f"{'be ' if r.dry_run else ''}analysed again", file=out)
    kinds = [("new", "new whales"), ("same", "the same whale as here"),
             ("joined", "joined to a whale here by a shared photo"),
             ("conflict", "id conflicts (the id is another whale's here: given a new id)")]
    for how, words in kinds:
        whales = r.of_kind(how)
        if whales:
            ids = ", ".join(w.their_id if w.their_id == w.whale_id else f"{w.their_id} -> {w.whale_id}"
                            for w in whales[:12])
            more = f", ... ({len(whales) - 12} more)" if len(whales) > 12 else ""
            print(f"  {words}: {len(whales)} ({ids}{more})", file=out)
    if r.conflicts and r.dry_run:
        print("  (the new ids of a dry run are examples: the merge draws its own)", file=out)
    for sha, theirs, ours in r.elsewhere:
        print(f"  photo {sha[:12]} of their {theirs} is already here under {ours}: left there", file=out)
    for whale_id, name, notes in r.names_differ:
        print(f"  whale {whale_id}: their name {name!r}, notes {notes!r} differ; this gallery's are kept "
              "(theirs are in the audit log)", file=out)
    if r.likely_same:
        print(f"possibly the same whale as one here: {len(r.likely_same)} (review them in the app: File > "
              "Possibly-same whales...)", file=out)
        for s in r.likely_same:
            print(f"  {s.whale_id} (their {s.their_id}) ~ {s.mine}: {s.agreed} of "
                  f"{plural(s.searched, 'photo')} agree, nearest distance {s.distance:.3f}", file=out)
    else:
        print("possibly the same whale as one here: none", file=out)


def _was(r: MergeReport) -> str:
    return f"{plural(r.before[0], 'whale')}, {plural(r.before[1], 'photo')}"


def _interrupted(kept: int) -> None:
    _error(f"interrupted: {plural(kept, 'photo')} merged and kept; run the same command again to finish "
           "(photos already here are skipped)")
