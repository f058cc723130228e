"""Review decisions as labelled pairs: what each "same whale" and "new whale" taught about the model.

When a researcher files a query photo (confirms a whale, or enrolls a new one), every candidate the review
showed becomes a pair (query photo, candidate's best photo): *same* for the whale chosen, *different* for
every other one, rejected explicitly or by choosing another whale. The pairs are stored in the transaction
that catalogues the photo, and leave with it (an undo takes them away). A *misranked triplet* is a query
whose chosen whale was ranked below a wrong one: anchor (the query), positive (the chosen whale's photo) and
negative (the wrong whale's photo ranked above it), the hard triplets the original design wanted to train on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from whalegui.core.identify import Identification


@dataclass(frozen=True)
class Review:
    """One query's review: its identification and the candidate whales rejected explicitly."""

    identification: Identification
    rejected: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class PairRow:
    """A pair to store: the query photo and a candidate photo, as decided."""

    query_sha256: str
    candidate_sha256: str
    candidate_whale: str
    chosen_whale: str
    same: bool
    explicit: bool
    distance: float
    rank: int


@dataclass(frozen=True)
class ReviewPair:
    """A stored pair. ``same`` is the decision as made; the photos' current whales may since differ (a photo
    moved, whales merged), so training labels pairs by the photos' current whales."""

    pair_id: int
    decided_at: datetime
    query_sha256: str
    candidate_sha256: str
    candidate_whale: str
    chosen_whale: str
    same: bool
    explicit: bool
    distance: float
    rank: int  # the candidate's place in the review, 1 = top
    keep: bool  # whether training may use it (a researcher can drop it)


@dataclass(frozen=True)
class Triplet:
    """A misranked query: the chosen whale's pair ranked below a wrong whale's pair."""

    anchor_sha256: str
    positive: ReviewPair
    negative: ReviewPair

    @property
    def keep(self) -> bool:
        """Whether training uses it (the negative pair's flag: the positive is the catalogue's truth)."""
        return self.negative.keep


def pairs_of(review: Review, chosen_whale: str, query_sha256: str) -> list[PairRow]:
    """The pairs a decision makes: one per candidate shown (its best photo), *same* when it is
    ``chosen_whale``. A query that was its own duplicate makes none."""
    ident = review.identification
    if ident.duplicate_of is not None:
        return []
    return [PairRow(query_sha256, c.photo.sha256, c.whale_id, chosen_whale, c.whale_id == chosen_whale,
                    c.whale_id in review.rejected, float(c.distance), rank)
            for rank, c in enumerate(ident.candidates, start=1) if c.photo.sha256 != query_sha256]


def misranked(pairs: Sequence[ReviewPair], whale_of: Mapping[str, str]) -> list[Triplet]:
    """Every (query, positive, negative) where a photo of another whale was ranked above one of the
    query's own whale, by the photos' current whales (``whale_of``: sha256 -> whale id; pairs whose photos
    left the catalogue are skipped). Worst first: by how far the negative was ranked above the positive."""
    by_query: dict[str, list[ReviewPair]] = {}
    for p in pairs:
        by_query.setdefault(p.query_sha256, []).append(p)
    out: list[tuple[float, Triplet]] = []
    for query, group in by_query.items():
        whale = whale_of.get(query)
        if whale is None:
            continue
        known = [p for p in group if p.candidate_sha256 in whale_of]
        positives = [p for p in known if whale_of[p.candidate_sha256] == whale]
        negatives = [p for p in known if whale_of[p.candidate_sha256] != whale]
        for pos in positives:
            for neg in negatives:
                if neg.rank < pos.rank:
                    out.append((pos.distance - neg.distance, Triplet(query, pos, neg)))
    out.sort(key=lambda t: (-t[0], t[1].anchor_sha256, t[1].negative.rank))
    return [t for _, t in out]
