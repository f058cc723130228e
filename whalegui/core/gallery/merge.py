"""Merging another gallery into this one: :func:`merge_gallery` (``whalegui merge``, the GUI's "Merge
gallery from...").

The incoming gallery (OTHER) is opened read-only and never written. Its photos are matched with this
gallery's (MINE) by content hash and never duplicated. Each of OTHER's whales is given a whale in MINE by
these rules, in order (:data:`~.merge_report.HOWS`):

1. a whale an earlier (perhaps killed) merge of the same OTHER already placed keeps that place (the audit
   log's ``merge_in`` entries say where): a rerun finishes the same merge, it does not start another;
2. ``same`` / ``joined``: some of its photos are already catalogued (by hash): it is the whale that holds
   them (the one holding most, ties to the smallest id); ``same`` when that is its own id, ``joined`` when
   MINE knows it by another id. Its other photos are added to that whale. A photo of it catalogued under a
   third whale stays where it is and is reported (``elsewhere``);
3. ``new``: its id is free in MINE: it is catalogued under that id, with its name and notes;
4. ``same``: its id is taken, and one of the two has no photos: nothing tells them apart;
5. ``conflict``: its id names a whale in MINE with other photos: it is catalogued under a fresh id
   (:func:`~whalegui.core.records.new_whale_id`); its audit entry records both ids.

Names and notes: MINE's are kept; a whale whose name or notes differ on the two sides is reported and OTHER's
values go into the audit entry of the photos it brought. Sightings come across with their photos, by uid
(a sighting already in MINE keeps MINE's fields); a photo of an old OTHER without one is given a sighting
per whale and day, with a uid derived from OTHER's id, so a rerun reuses it. Review pairs whose query photo
comes across come with it (whale ids mapped as their whales were; pairs OTHER's researcher dropped stay
behind).

Models: when OTHER's photos were analysed by the same models (the fingerprint), their embeddings, fluke
boxes and local features are reused; otherwise (or for a photo missing them) the photo is analysed again
with MINE's models, keeping a box the researcher drew.

Crash safety is the import's: photos go in through :class:`~.intake.PhotoIntake` (files, then one
transaction per batch of :data:`~.intake.IMPORT_BATCH`, then the index), so a merge killed at any moment
leaves MINE healthy, and a rerun skips what is there by hash and places the rest by rule 1.

Possibly the same whale: every incoming whale catalogued as ``new`` or ``conflict`` has each of its photos
identified (the gallery's pipeline and threshold: embedding search, local-feature verification) against
the whales that were in MINE before (not against whales this merge made); a whale most of whose matches
are one earlier whale is listed (:class:`~.merge_report.LikelySame`) for a researcher to merge or keep
apart. The list is kept in the merge's closing audit entry (``merge_gallery``); :func:`pending_likely_same`
reads it back, less the pairs merged since and those :func:`keep_apart` recorded.

A dry run does all of this but stores nothing (MINE may be opened read-only for it).
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from whalegui.core.analysis import Analyser, Analysis
from whalegui.core.errors import GalleryError, PhotoError
from whalegui.core.gallery.files import THUMB_SIZE
from whalegui.core.gallery.gallery import Gallery
from whalegui.core.gallery.intake import IMPORT_BATCH, PreparedPhoto, decode_size, read_photo
from whalegui.core.gallery.merge_report import IncomingWhale, LikelySame, MergeReport
from whalegui.core.gallery.store import id_chunks, now
from whalegui.core.records import PhotoRecord, new_whale_id
from whalegui.core.reviews import PairRow
from whalegui.core.sightings import Sighting, when_of
from whalegui.core.verify import LocalFeatures

log = logging.getLogger(__name__)

#: The audit actions: one entry per whale and batch of photos brought in, and one closing the merge.
MERGE_IN, MERGE_DONE = "merge_in", "merge_gallery"
#: A researcher kept a possibly-same pair apart.
KEEP_APART = "keep_apart"
#: Candidates looked at per photo when finding an earlier whale it identifies as.
LIKELY_TOP = 10

Progress = Callable[[int, int], None]


def merge_gallery(mine: Gallery, other_folder: str | Path, *, dry_run: bool = False,
                  progress: Progress | None = None, cancel: threading.Event | None = None) -> MergeReport:
    """Merge the gallery in ``other_folder`` into ``mine`` (opened with its model), as the module's
    docstring says; with ``dry_run`` report what would happen and change nothing. ``progress(done, total)``
    is called after each batch of photos; ``cancel`` stops between batches (what was stored stays: run
    again to finish). Raises :class:`GalleryError` for a folder that is no gallery, or ``mine`` itself."""
    if not dry_run and mine.readonly:
        raise GalleryError(f"the gallery {mine.folder} is open read-only")
    analyser = mine._require_analyser()  # a model is loaded, and it is the one that embedded ``mine``
    folder = Path(other_folder).expanduser()
    if folder.resolve() == mine.folder.resolve():
        raise GalleryError(f"{folder} is the gallery being merged into")
    with Gallery.open(folder, None, readonly=True) as other:
        return _Merge(mine, other, analyser, dry_run).run(progress, cancel)


def pending_likely_same(gallery: Gallery) -> list[LikelySame]:
    """The possibly-same whales the latest merge listed that are still two catalogued whales and that no
    researcher decided to keep apart (:func:`keep_apart`)."""
    store = gallery._store
    row = store.query_one("SELECT id, details FROM audit WHERE action = ? ORDER BY id DESC LIMIT 1",
                          (MERGE_DONE,))
    if row is None:
        return []
    apart = {tuple(json.loads(d)["pair"]) for (d,) in store.query(
        "SELECT details FROM audit WHERE action = ? AND id > ?", (KEEP_APART, row[0]))}
    listed = [LikelySame(**item) for item in json.loads(row[1]).get("likely_same", [])]
    return [s for s in listed if s.whale_id != s.mine and (s.whale_id, s.mine) not in apart
            and gallery.has_whale(s.whale_id) and gallery.has_whale(s.mine)]


def keep_apart(gallery: Gallery, pair: LikelySame) -> None:
    """Record (audited) that a researcher looked at a possibly-same pair and keeps the two whales apart."""
    if gallery.readonly:
        raise GalleryError(f"the gallery {gallery.folder} is open read-only")
    with gallery._store.transaction() as c:
        gallery._store.audit(c, KEEP_APART, pair.whale_id, {"pair": [pair.whale_id, pair.mine],
                                                            "their_id": pair.their_id})


class _Merge:
    """One merge of ``other`` into ``mine``: plan, store, then find the possibly-same whales."""

    def __init__(self, mine: Gallery, other: Gallery, analyser: Analyser, dry_run: bool) -> None:
        self.mine, self.other, self.analyser, self.dry_run = mine, other, analyser, dry_run
        self.store = mine._store
        self.other_id = other._store.gallery_id
        self.report = MergeReport(str(other.folder), dry_run=dry_run,
                                  same_model=other.model_fingerprint in ("", analyser.fingerprint))
        self.target: dict[str, str] = {}  # their whale id -> whale id here
        self.about: dict[str, tuple[str, str]] = {}  # whale id here -> (name, notes) when created
        self.details: dict[str, dict[str, Any]] = {}  # whale id here -> what its audit entries add
        self.dry: dict[str, tuple[np.ndarray, LocalFeatures | None]] = {}  # a dry run's analyses, by sha

    # ------------------------------------------------------------------ the whole merge

    def run(self, progress: Progress | None, cancel: threading.Event | None) -> MergeReport:
        r = self.report
        with self.store.lock:
            r.before = r.after = (self.mine.whale_count(), self.mine.photo_count())
            todo, bare = self._plan()
        self._store_photos(todo, progress, cancel)
        if r.cancelled:
            r.after = (self.mine.whale_count(), self.mine.photo_count())
            return r
        if bare and not self.dry_run:
            with self.store.lock:
                create = {w: self.about[w] for w in bare if not self.store.has_whale(w)}
                if create:
                    with self.store.transaction() as c:
                        self.store._create_whales(c, create, now())
                        for w in create:
                            self.store.audit(c, MERGE_IN, w, {**self.details[w], "created": True,
                                                               "photos": []})
        r.likely_same = self._likely_same()
        if not self.dry_run:
            with self.store.transaction() as c:
                self.store.audit(c, MERGE_DONE, None, _closing_entry(r, self.other_id))
            r.after = (self.mine.whale_count(), self.mine.photo_count())
        log.info("merge from %s: %d photos new, %d already there, %d conflicts, %d possibly the same",
                 r.other, r.photos_new, r.photos_there, len(r.conflicts), len(r.likely_same))
        return r

    # ------------------------------------------------------------------ planning

    def _plan(self) -> tuple[list[tuple[PhotoRecord, str]], list[str]]:
        """Place every incoming whale (the module's rules); return the photos to store with their whale
        here, and the whales without photos to create."""
        r, mine = self.report, self.mine
        photos = self.other.photos()
        r.photos_total = len(photos)
        by_whale: dict[str, list[PhotoRecord]] = collections.defaultdict(list)
        for p in photos:
            by_whale[p.whale_id].append(p)
        here = self._holders([p.sha256 for p in photos])
        earlier = self._earlier()
        incoming = self.other.whales()
        theirs = {w.whale_id for w in incoming}
        fresh: set[str] = set()
        todo: list[tuple[PhotoRecord, str]] = []
        bare: list[str] = []
        for w in incoming:
            own = by_whale.get(w.whale_id, [])
            holders = collections.Counter(here[p.sha256] for p in own if p.sha256 in here)
            prior = earlier.get(w.whale_id)
            if prior is not None and mine.has_whale(prior[0]):
                target, how = prior
            elif holders:
                target = max(sorted(holders), key=holders.__getitem__)
                how = "same" if target == w.whale_id else "joined"
            elif not mine.has_whale(w.whale_id):
                target, how = w.whale_id, "new"
            elif not own or not mine.photos(w.whale_id):
                target, how = w.whale_id, "same"
            else:
                target = new_whale_id(lambda x: mine.has_whale(x) or x in theirs or x in fresh)
                fresh.add(target)
                how = "conflict"
            self.target[w.whale_id] = target
            self.details[target] = {"from": str(self.other.folder), "from_gallery": self.other_id,
                                    "their_id": w.whale_id, "how": how}
            if how in ("new", "conflict"):
                self.about[target] = (w.name, w.notes)
            elif mine.has_whale(target):
                ours = mine.whale(target)
                if (w.name, w.notes) != (ours.name, ours.notes) and (w.name or w.notes):
                    r.names_differ.append((target, w.name, w.notes))
                    self.details[target].update(their_name=w.name, their_notes=w.notes)
            new = [p for p in own if p.sha256 not in here]
            for p in own:
                if p.sha256 in here and here[p.sha256] != target:
                    r.elsewhere.append((p.sha256, w.whale_id, here[p.sha256]))
            r.photos_there += len(own) - len(new)
            todo += [(p, target) for p in new]
            if not own and how == "new":
                bare.append(target)
            r.whales.append(IncomingWhale(w.whale_id, target, how, len(new), len(own) - len(new), w.name,
                                          w.notes))
        return todo, bare

    def _holders(self, shas: Sequence[str]) -> dict[str, str]:
        """The whale here of each of ``shas`` that is catalogued."""
        out: dict[str, str] = {}
        for chunk in id_chunks(sorted(set(shas))):
            marks = ",".join("?" * len(chunk))
            out.update((str(a), str(b)) for a, b in self.store.query(
                f"SELECT sha256, whale_id FROM photos WHERE sha256 IN ({marks})", chunk))
        return out

    def _earlier(self) -> dict[str, tuple[str, str]]:
        """Where earlier merges of this OTHER placed its whales: their id -> (whale id here, how)."""
        out: dict[str, tuple[str, str]] = {}
        for whale_id, details in self.store.query("SELECT whale_id, details FROM audit WHERE action = ? "
                                                  "ORDER BY id", (MERGE_IN,)):
            d = json.loads(details)
            if d.get("from_gallery") == self.other_id and d.get("their_id") and whale_id:
                out[str(d["their_id"])] = (str(whale_id), str(d.get("how", "new")))
        return out

    def _made_here(self) -> set[str]:
        """The whales this merge (or an earlier run of it) catalogued as new."""
        made = {w.whale_id for w in self.report.whales if w.how in ("new", "conflict")}
        made |= {t for t, how in self._earlier().values() if how in ("new", "conflict")}
        return made

    # ------------------------------------------------------------------ storing

    def _store_photos(self, todo: Sequence[tuple[PhotoRecord, str]], progress: Progress | None,
                      cancel: threading.Event | None) -> None:
        r = self.report
        sightings = self._their_sightings()
        known_uids = self._uids_here()
        new_uids: set[str] = set()
        pairs = self._their_pairs()
        made = {w.whale_id for w in r.whales if w.how in ("new", "conflict")}
        if progress is not None:
            progress(0, len(todo))
        for start in range(0, len(todo), IMPORT_BATCH):
            if cancel is not None and cancel.is_set():
                r.cancelled = True
                return
            batch = todo[start:start + IMPORT_BATCH]
            features = self.other._derived.features([p.photo_id for p, _ in batch])
            ready: list[tuple[PreparedPhoto, str]] = []
            analyse: list[PreparedPhoto] = []
            for rec, target in batch:
                # A dry run analyses only what the search for possibly-same whales needs.
                wanted = not self.dry_run or target in made
                item = self._prepare(rec, features.get(rec.photo_id), analyse=wanted)
                if item is None:
                    continue
                item.sighting = sightings.get(rec.photo_id) or self._day_sighting(rec)
                ready.append((item, target))
                if item.analysis is None and wanted:
                    analyse.append(item)
            if analyse:
                self.mine._intake.analyse(analyse, self.analyser, batch_size=IMPORT_BATCH)
                r.reembedded += len(analyse)
            batch_pairs = [pair for p, _ in ready for pair in pairs.get(p.sha256, [])]
            if self.dry_run:
                for p, _ in ready:
                    if p.analysis is not None:
                        self.dry[p.sha256] = (np.asarray(p.analysis.embedding), p.analysis.features)
            elif ready:
                with self.store.lock:
                    stored = [(p, t) for p, t in ready if self.store.find_photo_by_sha(p.sha256) is None]
                    r.photos_there += len(ready) - len(stored)
                    targets = dict.fromkeys(t for _, t in stored)
                    create = {t: self.about.get(t, ("", "")) for t in targets if not self.store.has_whale(t)}
                    self.mine._intake.store(stored, create=create, action=MERGE_IN, pairs=batch_pairs,
                                            details={t: self.details.get(t, {}) for t in targets})
                ready = stored
            r.photos_new += len(ready)
            r.review_pairs += len(batch_pairs)
            new_uids |= {p.sighting.uid for p, _ in ready if p.sighting is not None} - known_uids
            r.sightings_new = len(new_uids)
            if progress is not None:
                progress(min(start + IMPORT_BATCH, len(todo)), len(todo))

    def _prepare(self, rec: PhotoRecord, features: LocalFeatures | None, *,
                 analyse: bool) -> PreparedPhoto | None:
        """Read one incoming photo (checking its hash) and decode it: at thumbnail size when its analysis
        is reused, else at the analyser's size for analysing it again (when ``analyse``). None (and
        reported) when it cannot be read."""
        name = rec.original_name or rec.path.name
        try:
            data, sha = read_photo(rec.path)
        except PhotoError as exc:
            self.report.damaged.append((name, exc.reason))
            return None
        if sha != rec.sha256:
            self.report.damaged.append((name, f"its stored file {rec.path} does not match its hash"))
            return None
        reused = self._reused(rec, features)
        size = (THUMB_SIZE, THUMB_SIZE) if reused is not None or not analyse else decode_size(self.analyser)
        try:
            item = self.mine._intake.prepare(rec.path, data, sha, size, original_name=name,
                                             taken_at=rec.taken_at, gps=rec.gps)
        except PhotoError as exc:
            self.report.damaged.append((name, exc.reason))
            return None
        item.analysis = reused
        if reused is None and rec.fluke is not None and rec.fluke.source == "researcher":
            item.fluke = rec.fluke
        return item

    def _reused(self, rec: PhotoRecord, features: LocalFeatures | None) -> Analysis | None:
        """The incoming photo's stored analysis, when it was made by this gallery's models and is whole."""
        if not self.report.same_model or rec.fluke is None or features is None:
            return None
        vec = self.other.embedding(rec.photo_id)
        if vec.shape[0] != self.analyser.embedder.dim:
            return None
        return Analysis(rec.fluke, vec, features)

    def _their_sightings(self) -> dict[int, Sighting]:
        out: dict[int, Sighting] = {}
        for s in self.other.sightings():
            out.update((i, s.sighting) for i in s.photo_ids)
        return out

    def _day_sighting(self, rec: PhotoRecord) -> Sighting:
        """A sighting for a photo OTHER filed under none: one per whale and EXIF day, its uid derived from
        OTHER's id, the whale and the day (a rerun makes the same)."""
        day = rec.taken_at.date().isoformat() if rec.taken_at else ""
        uid = hashlib.sha256(f"{self.other_id}/{rec.whale_id}/{day}".encode()).hexdigest()[:32]
        return Sighting(when=when_of(rec.taken_at), position=rec.gps, uid=uid)

    def _uids_here(self) -> set[str]:
        if not self.mine._fields.available:
            return set()
        return {str(u) for (u,) in self.store.query("SELECT uid FROM sightings")}

    def _their_pairs(self) -> dict[str, list[PairRow]]:
        """OTHER's review pairs that training may use, by query photo, with their whales' ids here."""
        out: dict[str, list[PairRow]] = collections.defaultdict(list)
        for p in self.other.review_pairs():
            if not p.keep:
                continue
            out[p.query_sha256].append(PairRow(
                p.query_sha256, p.candidate_sha256, self.target.get(p.candidate_whale, p.candidate_whale),
                self.target.get(p.chosen_whale, p.chosen_whale), p.same, p.explicit, p.distance, p.rank))
        return out

    # ------------------------------------------------------------------ possibly the same whale

    def _likely_same(self) -> list[LikelySame]:
        made = self._made_here()
        out: list[LikelySame] = []
        for w in self.report.whales:
            if w.how not in ("new", "conflict"):
                continue
            queries = list(self._queries(w))
            votes: collections.Counter[str] = collections.Counter()
            nearest: dict[str, float] = {}
            for vec, features in queries:
                ident = self.mine.identify_embedding(vec, top=LIKELY_TOP, features=features)
                c = next((c for c in ident.candidates if c.whale_id not in made), None)
                if c is not None and c.distance <= ident.threshold:
                    votes[c.whale_id] += 1
                    nearest[c.whale_id] = min(nearest.get(c.whale_id, np.inf), float(c.distance))
            if votes:
                best = max(sorted(votes), key=lambda k: (votes[k], -nearest[k]))
                out.append(LikelySame(w.their_id, w.whale_id, best, round(nearest[best], 6), votes[best],
                                      len(queries)))
        return sorted(out, key=lambda s: (-s.agreed / max(s.searched, 1), s.distance))

    def _queries(self, w: IncomingWhale) -> Iterable[tuple[np.ndarray, LocalFeatures | None]]:
        """The embeddings and local features of an incoming whale's photos: as stored here (a merge), or
        as a dry run analysed or reused them."""
        if self.dry_run:
            for p in self.other.photos(w.their_id):
                if p.sha256 in self.dry:
                    yield self.dry[p.sha256]
            return
        if not self.mine.has_whale(w.whale_id):
            return
        ids = [p.photo_id for p in self.mine.photos(w.whale_id)]
        if not ids:
            return
        features = self.mine._derived.features(ids)
        for i, vec in zip(ids, self.mine.embeddings(ids), strict=True):
            yield vec, features.get(i)


def _closing_entry(r: MergeReport, other_id: str) -> Mapping[str, Any]:
    return {"from": r.other, "from_gallery": other_id, "photos_new": r.photos_new,
            "photos_there": r.photos_there, "reembedded": r.reembedded, "sightings_new": r.sightings_new,
            "conflicts": [[w.their_id, w.whale_id] for w in r.conflicts],
            "joined": [[w.their_id, w.whale_id] for w in r.of_kind("joined")],
            "elsewhere": [list(e) for e in r.elsewhere], "damaged": [list(d) for d in r.damaged],
            "likely_same": [s.__dict__ for s in r.likely_same]}
