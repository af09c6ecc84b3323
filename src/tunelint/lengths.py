"""Example length distribution per split, in characters, kept as counts over fixed bins.

O(1) memory per example: one bisect and one increment. The bins are fixed (half powers of two
from 16 characters) so histograms of two runs line up and reports can draw them without the data.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Sequence

import numpy as np

# Upper edges: 16, 23, 32, 45, 64, ... ≈ 4M characters; the last bin is open-ended.
EDGES: tuple[int, ...] = tuple(round(2 ** (k / 2)) for k in range(8, 45))
_EDGES = np.array(EDGES, dtype=np.int64)


class LengthHistogram:
    """Counts examples by total character length of their turns, per split."""

    def __init__(self) -> None:
        self._counts: dict[str, list[int]] = {}
        self._totals: dict[str, list[int]] = {}  # [examples, characters, max]

    def add(self, split: str, chars: int) -> None:
        counts = self._counts.get(split)
        if counts is None:
            counts = self._counts[split] = [0] * (len(EDGES) + 1)
            self._totals[split] = [0, 0, 0]
        counts[bisect_right(EDGES, chars - 1) if chars else 0] += 1
        t = self._totals[split]
        t[0] += 1
        t[1] += chars
        if chars > t[2]:
            t[2] = chars

    def add_many(self, split: str, lengths: Sequence[int] | np.ndarray) -> None:
        """`add` of each length, counted for all of them at once (the same bins: numpy's
        `searchsorted(side="right")` is `bisect_right`)."""
        if len(lengths) == 0:
            return
        values = np.asarray(lengths, dtype=np.int64)
        counts = self._counts.get(split)
        if counts is None:
            counts = self._counts[split] = [0] * (len(EDGES) + 1)
            self._totals[split] = [0, 0, 0]
        # bisect_right(EDGES, -1) is 0 like the bin `add` gives an empty example.
        for i, c in enumerate(np.bincount(np.searchsorted(_EDGES, values - 1, side="right"), minlength=len(counts)).tolist()):
            counts[i] += c
        t = self._totals[split]
        t[0] += len(values)
        t[1] += int(values.sum())
        longest = int(values.max())
        if longest > t[2]:
            t[2] = longest

    def merge(self, other: "LengthHistogram") -> None:
        """Add the counts of another histogram (a later chunk of the same run)."""
        for split, counts in other._counts.items():
            mine = self._counts.setdefault(split, [0] * (len(EDGES) + 1))
            for i, c in enumerate(counts):
                mine[i] += c
            t = self._totals.setdefault(split, [0, 0, 0])
            o = other._totals[split]
            t[0] += o[0]
            t[1] += o[1]
            t[2] = max(t[2], o[2])

    def to_dict(self) -> dict[str, Any]:
        """Per split: `edges` (upper bounds, inclusive; the last bin has none), `counts`, totals."""
        out: dict[str, Any] = {}
        order = {"train": 0, "test": 1, "reference": 2}
        for split, counts in sorted(self._counts.items(), key=lambda kv: (order.get(kv[0], 9), kv[0])):
            n, chars, longest = self._totals[split]
            out[split] = {
                "unit": "characters",
                "edges": list(EDGES),
                "counts": list(counts),
                "examples": n,
                "mean": round(chars / n, 1) if n else 0.0,
                "max": longest,
            }
        return out
