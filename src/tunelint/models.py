"""Value objects that cross every boundary: the normalised example, findings, criteria.

Examples, turns and tool calls are named tuples rather than pydantic models or frozen
dataclasses: a million examples and several million turns are built per run, validation already
happened in the format readers, and a named tuple is immutable and about three times cheaper to
build than a frozen dataclass (measured: 1.2 vs 4.0 µs per turn).
"""

from __future__ import annotations

import enum
import operator
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, NamedTuple, TypeVar

_T = TypeVar("_T")


def _pickled_by_fields(cls: type[_T]) -> type[_T]:
    """Pickle a frozen slots dataclass as its field values, restored straight into its slots.

    Findings and locations cross from each worker process to the main one by the tens of
    thousands (82,000 findings at a million examples); the dataclass default (`__setstate__`
    calling `fields()` and `object.__setattr__` per field) took ~14 µs per finding to unpickle.
    Nothing is validated on the way back: the values are those of an object that was built.
    """
    name = cls.__qualname__
    names = tuple(f.name for f in fields(cls))
    values = operator.attrgetter(*names)

    def __reduce__(self: _T) -> tuple[Any, tuple[Any, ...]]:
        return _restore, (name, values(self))

    cls.__reduce__ = __reduce__  # type: ignore[method-assign,assignment]
    _SLOTS[name] = (cls, tuple(getattr(cls, n).__set__ for n in names))
    return cls


# Class name -> (class, its slots' setters).
_SLOTS: dict[str, tuple[type, tuple[Any, ...]]] = {}


def _restore(name: str, values: tuple[Any, ...]) -> Any:
    cls, setters = _SLOTS[name]
    obj = object.__new__(cls)
    for set_slot, value in zip(setters, values):
        set_slot(obj, value)
    return obj


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1}


class Criterion(str, enum.Enum):
    """The scorecard rows: what makes training examples good (DESIGN.md)."""

    REPRESENTATIVE = "representative"
    CORRECT = "correct"
    CONSISTENT = "consistent"
    DIVERSE = "diverse"
    COMPLETE = "complete"
    BALANCED = "balanced"
    PRIVACY_REVIEWED = "privacy-reviewed"
    HELD_OUT = "held-out"
    FIT_FOR_FINE_TUNING = "fit-for-fine-tuning"


class Role(str, enum.Enum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class ToolCall(NamedTuple):
    """A function call made by an assistant turn; `arguments` is the raw JSON text."""

    name: str
    arguments: str
    pointer: str
    id: str | None = None


class Turn(NamedTuple):
    """One message. `content` is the text (content parts joined); `pointer` locates it in the record."""

    role: Role
    content: str
    pointer: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    weight: float | None = None
    # Non-text parts (images, files, audio) by kind: they carry context the text does not show.
    attachments: tuple[str, ...] = ()
    content_is_null: bool = False


class Problem(NamedTuple):
    """Something wrong with a record's structure that does not stop it being checked."""

    message: str
    pointer: str = ""


class Example(NamedTuple):
    """One normalised training example, whatever format it came from.

    For preference data, `turns` is the prompt followed by the preferred completion (what the
    model learns to say) and `rejected` holds the non-preferred completion.
    """

    split: str
    path: str
    index: int
    line: int | None
    format: str
    turns: tuple[Turn, ...]
    record_hash: str
    tools: tuple[Mapping[str, Any], ...] = ()
    rejected: tuple[Turn, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def location(self) -> "Location":
        return Location(split=self.split, path=self.path, line=self.line, index=self.index)

    def by_role(self, role: Role) -> list[Turn]:
        return [t for t in self.turns if t.role is role]

    @property
    def system_prompt(self) -> str | None:
        for t in self.turns:
            if t.role is Role.SYSTEM:
                return t.content
        return None

    @property
    def final_assistant(self) -> Turn | None:
        for t in reversed(self.turns):
            if t.role is Role.ASSISTANT:
                return t
        return None

    @property
    def input_text(self) -> str:
        """Everything before the final assistant turn: what the model conditions on."""
        last = None
        for i, t in enumerate(self.turns):
            if t.role is Role.ASSISTANT:
                last = i
        prefix = self.turns if last is None else self.turns[:last]
        return "\n".join(f"{t.role.value}: {t.content}" for t in prefix)

    @property
    def output_text(self) -> str:
        turn = self.final_assistant
        return turn.content if turn is not None else ""

    @property
    def text(self) -> str:
        return "\n".join(t.content for t in self.turns)


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Location:
    split: str
    path: str
    line: int | None = None
    index: int | None = None
    pointer: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"split": self.split, "path": self.path}
        if self.line is not None:
            out["line"] = self.line
        if self.index is not None:
            out["index"] = self.index
        if self.pointer:
            out["pointer"] = self.pointer
        return out


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check found. Identity is `fingerprint`: content-based, no line number in it."""

    code: str
    check: str
    criterion: Criterion
    severity: Severity
    message: str
    location: Location
    fingerprint: str
    related: tuple[Location, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reviewed(self) -> bool:
        """A privacy review file recorded a decision on it: it is reported but does not fail the gate."""
        return "review" in self.evidence

    def sort_key(self) -> tuple:
        loc = self.location
        return (
            _SPLIT_ORDER.get(loc.split, 9),
            loc.path,
            -1 if loc.index is None else loc.index,
            self.code,
            loc.pointer or "",
            self.fingerprint,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "check": self.check,
            "criterion": self.criterion.value,
            "severity": self.severity.value,
            "message": self.message,
            "location": self.location.to_dict(),
            "related": [r.to_dict() for r in self.related],
            "evidence": dict(self.evidence),
            "fingerprint": self.fingerprint,
        }


_SPLIT_ORDER = {"train": 0, "test": 1, "reference": 2}


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class DatasetInfo:
    split: str
    path: str
    format: str
    lines: int
    examples: int
    rejected: int
    formats: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "path": self.path,
            "format": self.format,
            "lines": self.lines,
            "examples": self.examples,
            "rejected": self.rejected,
        }


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class CheckInfo:
    """What a report says about a check that ran: reporters render rule metadata from it."""

    code: str
    name: str
    criterion: Criterion
    severity: Severity
    summary: str
    doc: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "criterion": self.criterion.value,
            "severity": self.severity.value,
            "summary": self.summary,
        }


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Excerpt:
    """A shortened copy of one example's turns, kept so a report can show what a finding is about.

    Text is untrusted and, unless `show_pii`, has PII masked; every reporter escapes it.
    """

    split: str
    path: str
    index: int
    line: int | None
    turns: tuple[tuple[str, str], ...]
    truncated: bool = False

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.split, self.path, self.index)
