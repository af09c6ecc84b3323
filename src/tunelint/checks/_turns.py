"""One table of a batch's turns for the record checks that look only at roles, lengths and
flags (the structure checks, exceeds-context, output-schema-violation, the engine's length
histogram): each used to walk every turn of every example in Python to clear the examples
that are fine, nearly all of them. The table walks them once, with C-level iterators, and each
check then runs its per-example test only on the examples the table cannot clear.

Built once per list of examples and shared through `shared_batch` (the engine hands every
check the same list); a check given a fresh list builds the same table.
"""

from __future__ import annotations

from itertools import chain
from operator import attrgetter, is_
from typing import Sequence

import numpy as np

from tunelint.checks._batch import Batch, shared_batch
from tunelint.models import Example, Role

_TURNS = attrgetter("turns")
_ROLE = attrgetter("role")
_CONTENT = attrgetter("content")
_CALLS = attrgetter("tool_calls")
_WEIGHT = attrgetter("weight")
_PROBLEMS = attrgetter("problems")
_REJECTED = attrgetter("rejected")

ROLE_CODE = {role: i for i, role in enumerate(Role)}
SYSTEM, USER, ASSISTANT, TOOL = (ROLE_CODE[r] for r in (Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL))


class TurnTable:
    """The turns of a list of examples, flattened in order.

    `flat[at[i]:at[i + 1]]` are example i's turns; `roles` (ROLE_CODE), `lengths`
    (len(content)) and `calls` (number of tool calls) are per turn."""

    __slots__ = ("examples", "flat", "at", "roles", "lengths", "calls", "_cache")

    def __init__(self, examples: Sequence[Example]) -> None:
        self.examples = examples
        turns_of = list(map(_TURNS, examples))
        n = len(turns_of)
        self.at = at = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, turns_of), dtype=np.int64, count=n), out=at[1:])
        count = int(at[-1])
        self.flat = flat = list(chain.from_iterable(turns_of))
        self.roles = np.fromiter(map(ROLE_CODE.__getitem__, map(_ROLE, flat)), dtype=np.int8, count=count)
        self.lengths = np.fromiter(map(len, map(_CONTENT, flat)), dtype=np.int64, count=count)
        self.calls = np.fromiter(map(len, map(_CALLS, flat)), dtype=np.int64, count=count)
        self._cache: dict[str, object] = {}

    def per_example(self, values: np.ndarray) -> np.ndarray:
        """The sum of a per-turn array over each example's turns."""
        sums = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(values, out=sums[1:])
        return sums[self.at[1:]] - sums[self.at[:-1]]

    def count_role(self, code: int) -> np.ndarray:
        """How many turns of each example have this role."""
        key = f"role{code}"
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self.per_example(self.roles == code)
        return found  # type: ignore[return-value]

    def chars(self) -> np.ndarray:
        """The characters of each example's turns (their content, as the length histogram counts)."""
        found = self._cache.get("chars")
        if found is None:
            found = self._cache["chars"] = self.per_example(self.lengths)
        return found  # type: ignore[return-value]

    def with_calls(self) -> np.ndarray:
        """Whether each example has a turn with tool calls."""
        found = self._cache.get("with_calls")
        if found is None:
            found = self._cache["with_calls"] = self.per_example(self.calls > 0) > 0
        return found  # type: ignore[return-value]

    def last_trained_assistant(self) -> np.ndarray:
        """Whether each example ends on an assistant turn whose weight is None (the common case
        missing-assistant-turn clears)."""
        at = self.at
        filled = at[1:] > at[:-1]
        out = np.zeros(len(self.examples), dtype=bool)
        lasts = at[1:][filled] - 1
        if len(lasts):
            flat = self.flat
            ok = self.roles[lasts] == ASSISTANT
            idx = lasts[ok].tolist()
            none = np.fromiter(map(is_, map(_WEIGHT, map(flat.__getitem__, idx)), [None] * len(idx)), dtype=bool, count=len(idx))
            ok[np.flatnonzero(ok)[~none]] = False
            out[filled] = ok
        return out

    def blank(self) -> np.ndarray:
        """Whether each turn's content is empty or whitespace only (`not content.strip()`)."""
        found = self._cache.get("blank")
        if found is None:
            found = self.lengths == 0
            contents = list(map(_CONTENT, self.flat))
            if any(map(str.isspace, contents)):
                found |= np.fromiter(map(str.isspace, contents), dtype=bool, count=len(contents))
            self._cache["blank"] = found
        return found  # type: ignore[return-value]

    def of_role(self, code: int) -> tuple[list[int], list[int], list]:
        """(example index, n, turn) of every turn of this role, n counting the example's turns
        of the role from 1, as three lists in order."""
        mask = self.roles == code
        seen = np.zeros(len(mask) + 1, dtype=np.int64)  # seen[j]: turns of the role before turn j
        np.cumsum(mask, out=seen[1:])
        counts = np.diff(self.at)
        ordinal = seen[1:] - np.repeat(seen[self.at[:-1]], counts)
        picked = np.flatnonzero(mask)
        owners = np.repeat(np.arange(len(counts)), counts)[picked]
        flat = self.flat
        return owners.tolist(), ordinal[picked].tolist(), [flat[j] for j in picked.tolist()]

    def with_problems(self) -> np.ndarray:
        """Whether each example has structural problems the loader noted."""
        return np.fromiter(map(bool, map(_PROBLEMS, self.examples)), dtype=bool, count=len(self.examples))

    def with_rejected(self) -> np.ndarray:
        """Whether each example has a rejected side (preference pairs)."""
        return np.fromiter(map(bool, map(_REJECTED, self.examples)), dtype=bool, count=len(self.examples))


def turn_table(examples: Sequence[Example]) -> TurnTable:
    """The TurnTable of a list of examples, built once per list (shared through its Batch)."""
    return table_of(shared_batch(examples))


def table_of(batch: Batch) -> TurnTable:
    """The TurnTable of a Batch's examples, built once per Batch."""
    return batch.cached("turns.table", lambda b: TurnTable(b.examples))

