"""Which photos meet in a triplet or a batch, epoch by epoch.

Samples are (photo, view) pairs: view 0 is the photo itself, views 1.. are augmented copies (stored
features in the cached path, fresh augmentations in the full path). A photo whose whale has no other photo
(a single-photo whale, an unlabelled photo) is paired with another view of itself as its positive.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

Sample = tuple[int, int]  # (photo index, view index)


class _ByWhale:
    def __init__(self, labels: np.ndarray, views: int, seed: int) -> None:
        self.labels = np.asarray(labels)
        self.views = views
        self.rng = np.random.default_rng(seed)
        groups: dict[int, list[int]] = defaultdict(list)
        for i, lab in enumerate(self.labels.tolist()):
            groups[int(lab)].append(i)
        self.groups = {k: np.asarray(v) for k, v in groups.items()}
        self.whales = np.asarray(sorted(self.groups))
        if len(self.whales) < 2:
            raise ValueError("triplet training needs at least two individuals")

    def _view(self, exclude: int | None = None) -> int:
        if self.views == 1:
            return 0
        v = int(self.rng.integers(self.views))
        while v == exclude:
            v = int(self.rng.integers(self.views))
        return v


class RandomTriplets(_ByWhale):
    """The original scheme: the anchor scrolls through every photo; a random positive of the same whale and
    a random negative from any other whale, drawn anew every epoch."""

    def epoch(self) -> list[tuple[Sample, Sample, Sample]]:
        triplets = []
        n = len(self.labels)
        for a in range(n):
            lab = int(self.labels[a])
            va = self._view()
            mates = self.groups[lab]
            if len(mates) > 1:
                p = int(self.rng.choice(mates[mates != a]))
                vp = self._view()
            else:  # a whale with one photo: an augmented copy of itself
                p, vp = a, self._view(exclude=va) if self.views > 1 else 0
            nidx = int(self.rng.integers(n))
            while int(self.labels[nidx]) == lab:  # uniform over the other whales' photos
                nidx = int(self.rng.integers(n))
            triplets.append(((a, va), (p, vp), (nidx, self._view())))
        return triplets


class PKBatches(_ByWhale):
    """P whales x K samples per batch for batch-hard / semi-hard mining. Whales are shuffled each epoch;
    a whale with fewer than K photos repeats photos in different views."""

    def __init__(self, labels: np.ndarray, views: int, seed: int, whales_per_batch: int,
                 photos_per_whale: int) -> None:
        super().__init__(labels, views, seed)
        self.p = min(whales_per_batch, len(self.whales))
        self.k = photos_per_whale

    def epoch(self, n_batches: int) -> list[tuple[list[Sample], list[int]]]:
        batches = []
        order = self.rng.permutation(self.whales)
        pos = 0
        for _ in range(n_batches):
            if pos + self.p > len(order):
                order, pos = self.rng.permutation(self.whales), 0
            chosen = order[pos:pos + self.p]
            pos += self.p
            samples: list[Sample] = []
            labels: list[int] = []
            for lab in chosen.tolist():
                samples.extend(self._draw(self.groups[lab]))
                labels.extend([lab] * self.k)
            batches.append((samples, labels))
        return batches

    def _draw(self, photos: np.ndarray) -> list[Sample]:
        k = self.k
        if len(photos) >= k:
            return [(int(i), self._view()) for i in self.rng.choice(photos, k, replace=False)]
        picks = [int(i) for i in self.rng.permutation(photos)]
        picks += [int(i) for i in self.rng.choice(photos, k - len(photos), replace=True)]
        out: list[Sample] = []
        used: set[Sample] = set()
        for i in picks:
            v = self._view()
            for _ in range(4 * self.views):  # distinct views of a repeated photo when there are enough
                if (i, v) not in used:
                    break
                v = self._view()
            used.add((i, v))
            out.append((i, v))
        return out
