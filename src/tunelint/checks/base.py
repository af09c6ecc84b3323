"""The check API that built-in and third-party checks share.

A check is a small class with a permanent `code`, a `name`, the `criterion` it gives evidence
for, a default `severity` and an `Options` model. Record checks implement `check(example)`;
dataset checks implement `observe(example)` and `finish()` and see every example once.
"""

from __future__ import annotations

import abc
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Iterator, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from tunelint.models import Criterion, Example, Finding, Location, Severity


class CheckOptions(BaseModel):
    """Base for per-check options: unknown keys rejected, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@dataclass(frozen=True)
class CheckContext:
    """What a check may know about the run besides its options."""

    splits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    settings: Any = None

    def has_split(self, split: str) -> bool:
        return bool(self.splits.get(split))


def fingerprint(code: str, path: str, record_hash: str, pointer: str = "", key: str = "") -> str:
    """Content identity of a finding: survives reordering and appends (no line number in it)."""
    h = hashlib.sha256(f"{code}\x1f{path}\x1f{record_hash}\x1f{pointer}\x1f{key}".encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:20]


class Check:
    """Base of every check. Subclass `RecordCheck` or `DatasetCheck`, not this."""

    code: ClassVar[str]
    name: ClassVar[str]
    criterion: ClassVar[Criterion]
    severity: ClassVar[Severity] = Severity.WARNING
    summary: ClassVar[str] = ""
    # Which splits the check looks at: record checks lint what will be trained on or tested.
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    preview: ClassVar[bool] = False
    Options: ClassVar[type[CheckOptions]] = CheckOptions

    def __init__(self, options: CheckOptions | None = None, context: CheckContext | None = None,
                 severity: Severity | None = None) -> None:
        self.options = options if options is not None else self.Options()
        self.context = context if context is not None else CheckContext()
        self.level = severity or type(self).severity
        # `metrics` are facts about the run (which tokenizer); `counts` add up across chunks.
        self.metrics: dict[str, Any] = {}
        self.counts: Counter[str] = Counter()
        self._not_assessed: str | None = None
        # CPU seconds of work done away from the calls the engine times (a batch
        # flushed every few thousand examples); the engine adds them to the check's timing.
        self.spent = 0.0

    # -- assessment --------------------------------------------------------------------------
    def not_assessed_reason(self) -> str | None:
        """Why this check could not assess its criterion on this run (None: it did)."""
        return self._not_assessed

    def mark_not_assessed(self, reason: str) -> None:
        self._not_assessed = reason

    # -- building findings --------------------------------------------------------------------
    def finding(
        self,
        example: Example,
        message: str,
        *,
        pointer: str | None = None,
        related: Iterable[Location] = (),
        evidence: Mapping[str, Any] | None = None,
        severity: Severity | None = None,
        key: str = "",
    ) -> Finding:
        loc = Location(example.split, example.path, example.line, example.index, pointer)
        return Finding(
            code=self.code,
            check=self.name,
            criterion=self.criterion,
            severity=severity or self.level,
            message=message,
            location=loc,
            related=tuple(related),
            evidence=dict(evidence or {}),
            fingerprint=fingerprint(self.code, example.path, example.record_hash, pointer or "", key),
        )

    def dataset_finding(
        self,
        split: str,
        path: str,
        message: str,
        *,
        key: str = "",
        related: Iterable[Location] = (),
        evidence: Mapping[str, Any] | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            code=self.code,
            check=self.name,
            criterion=self.criterion,
            severity=severity or self.level,
            message=message,
            location=Location(split, path),
            related=tuple(related),
            evidence=dict(evidence or {}),
            fingerprint=fingerprint(self.code, path, "", "", key),
        )

    def merge(self, other: "Check") -> None:
        """Fold in the state of the same check run over a later part of the data.

        Record checks keep only `counts`, which add up. Dataset checks that can merge their
        state override this (calling super) and set `mergeable = True`, so a large file is
        split over cores.
        """
        self.counts.update(other.counts)
        for key, value in other.metrics.items():
            self.metrics.setdefault(key, value)

    def all_metrics(self) -> dict[str, Any]:
        return {**self.metrics, **dict(sorted(self.counts.items()))}

    @classmethod
    def doc(cls) -> str:
        return (cls.__doc__ or "").strip()


class RecordCheck(Check):
    """Looks at one example at a time."""

    def check(self, example: Example) -> Iterator[Finding]:
        """Findings for one example."""
        return iter(())

    def check_batch(self, examples: Sequence[Example]) -> Iterable[Finding]:
        """Findings for consecutive examples of one file, in order; the engine calls this with
        a few thousand at a time. Override it to work on many examples at once (one regex over
        their joined texts); the findings must be those `check` gives for each."""
        check = self.check
        return [f for example in examples for f in check(example)]


class DatasetCheck(Check):
    """Sees every example of every split once, then reports.

    The engine feeds the held-out splits first (test, then reference, then train), so a
    cross-split check can index the small split and stream the training file against it.

    To run on every core, keep state small (hashes, counts, signatures — not texts), set
    `mergeable = True` and implement `merge(other)`: the engine gives each chunk of a file a
    fresh instance and merges them in file order, so "first occurrence" keeps its meaning.
    Merges may run as a tree (the Dask engine merges neighbours pairwise on its workers), so
    `merge` must be associative: `(a + b) + c` must equal `a + (b + c)`, always left before right.
    A check whose merge is only correct as a left fold (each later chunk absorbed in order by the
    state that holds everything before it) sets `fold_only = True`; tree-merging engines then
    read the run in one task.
    Heavy resources (a model, an analyzer) belong in a module-level cache, not on `self`,
    because chunk states travel between processes.
    """

    splits: ClassVar[tuple[str, ...]] = ("train", "test", "reference")
    mergeable: ClassVar[bool] = False
    fold_only: ClassVar[bool] = False

    def observe(self, example: Example) -> None:
        """Take note of one example."""

    def observe_batch(self, examples: Sequence[Example]) -> None:
        """Take note of consecutive examples of one file, in order (what the engine calls)."""
        for example in examples:
            self.observe(example)

    def finish(self) -> Iterator[Finding]:
        """Findings after every example was observed."""
        return iter(())


class Keyed(abc.ABC):
    """Optional protocol of a dataset check whose cross-example work is a group-by on keys
    (LSH band keys, n-gram hashes, normalised-text hashes): a shuffle, so that an engine with
    many workers never brings every example's signature into one place.

    A check that derives from `Keyed` (besides `DatasetCheck`) still implements `observe`,
    `merge` and `finish` as usual: the local engine merges and finishes it like any other check.
    An engine that shuffles instead drives the steps below (first telling each piece's fresh
    instance so, `keyed_begin`), and the findings are a local run's, in the same order.
    "Global ids" name examples across pieces and sort in the local engine's observation order
    (`global_id`).

    1. Each piece of the input (a chunk task) observes its examples with a fresh instance, as
       usual, and returns `keyed_facts()`: small facts (counts, label names, file names).
    2. With every piece's facts (a list in piece order), each piece's instance emits
       `keyed_rows(facts)`: rows to group, by kind, `ids` as positions in the piece (the engine
       turns them into global ids). The engine partitions each kind's rows by `key`.
    3. Once per partition, an instance with the same options that observed nothing runs
       `keyed_candidates(rows, facts)`: candidate pairs (`KeyRows` with `ids` < column `other`,
       global ids; its `key` partitions them again) and facts about its groups. Every row of a
       group (same kind, same key) is in the same call.
    4. `keyed_prepare(facts, group_facts)`, once: what verification and the report need of
       all the groups together (small).
    5. Per partition of the candidate pairs, without repeats: the engine asks each piece for
       `keyed_payload(positions, ids)` of the examples it holds, and calls
       `keyed_verify(pairs, payload, facts, prepared)`.
    6. The verified pairs come to the client; `keyed_members(verified, facts, prepared)` names
       the global ids whose payload the report needs; `keyed_adopt(...)` hands everything to the
       client's instance, whose `finish()` then reports from it instead of from merged state.
    """

    # Columns of the candidate pairs that, besides the pair itself, tell two candidates apart:
    # the engine drops candidates repeated in (`ids`, `other`, these columns).
    keyed_distinct: ClassVar[tuple[str, ...]] = ()

    def keyed_wanted(self) -> bool:
        """Whether this run needs the shuffle at all (False: the engine skips it; the check
        then merges and finishes as usual, e.g. having observed nothing)."""
        return True

    def keyed_begin(self) -> None:
        """Called on a piece's fresh instance before it observes anything, when the engine will
        shuffle it rather than merge it: a check whose merged path works while observing (with
        an index built elsewhere) records what its rows need instead."""

    @abc.abstractmethod
    def keyed_facts(self) -> Any:
        """Small picklable facts about what this (partial) instance observed."""

    @abc.abstractmethod
    def keyed_rows(self, facts: list[Any]) -> dict[str, "KeyRows"]:
        """Rows to group, by kind: `ids` are positions in this instance's observation order."""

    @abc.abstractmethod
    def keyed_candidates(self, rows: dict[str, "KeyRows"], facts: list[Any]) -> tuple["KeyRows", Any]:
        """Candidate pairs of one partition of the rows (global ids), and facts about its groups."""

    @abc.abstractmethod
    def keyed_prepare(self, facts: list[Any], group_facts: list[Any]) -> Any:
        """What verification and the report need from every partition's group facts."""

    @abc.abstractmethod
    def keyed_payload(self, positions: Any, ids: Any) -> Any:
        """What verification and the report need of the examples at these positions (sorted;
        `ids`: their global ids)."""

    @abc.abstractmethod
    def keyed_verify(self, pairs: "KeyRows", payload: list[Any], facts: list[Any], prepared: Any) -> Any:
        """The verified pairs of one partition; `payload`: what `keyed_payload` returned for
        the examples of these pairs, one entry per piece that holds some."""

    @abc.abstractmethod
    def keyed_members(self, verified: list[Any], facts: list[Any], prepared: Any) -> Any:
        """Global ids whose payload the report needs (a sorted int64 array)."""

    def keyed_adopt(self, facts: list[Any], prepared: Any, verified: list[Any], payload: list[Any]) -> None:
        """Take the shuffled results; `finish()` then reports from them (kept as `self._keyed`)."""
        self._keyed = (facts, prepared, verified, payload)


# Global ids: the piece ordinal in the high bits, the position in the piece in the low bits.
PIECE_SHIFT = 32


def global_id(piece: int, positions: Any) -> Any:
    """Global ids of positions in a piece: ordered as the local engine observes examples."""
    import numpy as np

    return (np.int64(piece) << np.int64(PIECE_SHIFT)) + np.asarray(positions, dtype=np.int64)


def piece_of(ids: Any) -> Any:
    import numpy as np

    return np.asarray(ids, dtype=np.int64) >> np.int64(PIECE_SHIFT)


def position_in_piece(ids: Any) -> Any:
    import numpy as np

    return np.asarray(ids, dtype=np.int64) & np.int64((1 << PIECE_SHIFT) - 1)


@dataclass
class KeyRows:
    """Rows of a keyed shuffle: `key` (uint64) decides the partition, `ids` (int64) name
    examples, `columns` carry whatever else the grouping needs (equal-length arrays)."""

    key: Any
    ids: Any
    columns: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: Any) -> "KeyRows":
        return KeyRows(self.key[index], self.ids[index], {k: v[index] for k, v in self.columns.items()})

    @staticmethod
    def concatenate(parts: list["KeyRows"]) -> "KeyRows":
        import numpy as np

        parts = [p for p in parts if len(p)] or parts[:1]
        if not parts:
            return KeyRows(np.empty(0, np.uint64), np.empty(0, np.int64))
        return KeyRows(np.concatenate([p.key for p in parts]), np.concatenate([p.ids for p in parts]),
                       {k: np.concatenate([p.columns[k] for p in parts]) for k in parts[0].columns})
