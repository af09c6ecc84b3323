"""Helpers of the keyed checks (`checks.base.Keyed`): where examples are, by global id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tunelint.models import Example, Location
from tunelint.similarity import Ragged
from tunelint.similarity.hashing import ranges


def take_rows(rows: Ragged, positions: np.ndarray) -> Ragged:
    """The rows at `positions`, in that order."""
    lengths = rows.lengths()[positions]
    offsets = np.zeros(len(positions) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return Ragged(rows.values[ranges(rows.offsets[:-1][positions], lengths)], offsets)


class Places:
    """`ExampleRefs`'s answers for some examples, by global id or by row: (split, path, index,
    line, record hash) each; `many` says whether the whole run saw more than one file, as
    `ExampleRefs` does when it holds everything."""

    def __init__(self, places: Mapping[int, tuple] | Sequence[tuple], many: bool) -> None:
        self._places = places
        self._many = many

    def split(self, pos: int) -> str:
        return self._places[pos][0]

    def path(self, pos: int) -> str:
        return self._places[pos][1]

    def index(self, pos: int) -> int:
        return self._places[pos][2]

    def line(self, pos: int) -> int | None:
        return self._places[pos][3]

    def record_hash(self, pos: int) -> int:
        return self._places[pos][4]

    def ref(self, pos: int) -> dict[str, object]:
        _, path, index, line, _ = self._places[pos]
        out: dict[str, object] = {"index": index}
        if line is not None:
            out["line"] = line
        if self._many:
            out["path"] = path
        return out

    def where(self, pos: int) -> str:
        _, path, index, line, _ = self._places[pos]
        text = f"line {line}" if line is not None else f"record {index}"
        return f"{text} of {path}" if self._many else text

    def location(self, pos: int) -> Location:
        split, path, index, line, _ = self._places[pos]
        return Location(split, path, line, index)

    def stub(self, pos: int) -> Example:
        split, path, index, line, record_hash = self._places[pos]
        return Example(split, path, index, line, "", (), f"{record_hash:016x}")


def places_of(refs, positions) -> list[tuple]:
    """(split, path, index, line, record hash) of `ExampleRefs` positions."""
    return [(refs.split(p), refs.path(p), refs.index(p), refs.line(p), refs.record_hash(p)) for p in positions]
