"""What the `pii` and `secret` checks share: the texts of an example they scan and who says
each one, the allow-list, and how detected values become findings whose evidence is masked.
"""

from __future__ import annotations

import abc
import bisect
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar, NamedTuple

from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks.base import Check
from tunelint.models import Example, Finding, Role, Severity
from tunelint.privacy import Span, mask

# Findings list at most this many values each; `count` says how many there were.
MAX_VALUES_SHOWN = 20
REGEX_PREFIX = "re:"


class Scanned(NamedTuple):
    """One text of an example: where it is, who says it, and whether the model learns to say it.

    A named tuple, built for every text of every example; `label` is only read for findings.
    """

    role: str
    number: int
    pointer: str
    text: str
    learned: bool
    # The tool call's name for call arguments; REJECTED for a rejected completion.
    part: str | None = None

    @property
    def label(self) -> str:
        if self.part is REJECTED:
            return f"rejected {self.role} turn {self.number}"
        if self.part is not None:
            return f"{self.role} turn {self.number} tool call {self.part!r}"
        return f"{self.role} turn {self.number}"


REJECTED = "\x00rejected"


# The last example's texts: `pii` and `secret` look at the same example one after the other.
_LAST: list[Any] = [None, []]


def scanned_texts(example: Example) -> list[Scanned]:
    """Every text of `example` a value could hide in, in record order.

    Turn contents (numbered per role, as the other checks do), tool-call arguments (said by the
    assistant), and the rejected completion of a preference pair. An assistant turn with weight
    0 is not trained on, so it counts as input.
    """
    if _LAST[0] is example:
        return _LAST[1]
    out: list[Scanned] = []
    seen: dict[str, int] = {}
    for turn in example.turns:
        role = turn.role.value
        n = seen[role] = seen.get(role, 0) + 1
        learned = turn.role is Role.ASSISTANT and turn.weight != 0
        if turn.content:
            out.append(Scanned(role, n, turn.pointer, turn.content, learned))
        for call in turn.tool_calls:
            if call.arguments:
                out.append(Scanned(role, n, call.pointer, call.arguments, learned, call.name))
    rejected = 0
    for turn in example.rejected:
        if turn.role is Role.ASSISTANT:
            rejected += 1
            if turn.content:
                out.append(Scanned("assistant", rejected, turn.pointer, turn.content, False, REJECTED))
    _LAST[:] = [example, out]
    return out


def _batch_texts(examples: Sequence[Example]) -> tuple[list[int], tuple[str, ...]]:
    """Where each example's texts start, and every scanned text of a batch in `scanned_texts` order.

    Only the texts: the few a gate picks are placed (`Scanned`) afterwards, by `_placed`. A
    tuple, so that the two checks' gates can share its Arrow array (`prefilter.batch_gate`).
    """
    starts: list[int] = []
    texts: list[str] = []
    add, extend = texts.append, texts.extend
    for example in examples:
        starts.append(len(texts))
        for turn in example.turns:
            if turn.content:
                add(turn.content)
            if turn.tool_calls:
                extend(call.arguments for call in turn.tool_calls if call.arguments)
        if example.rejected:
            extend(t.content for t in example.rejected if t.role is Role.ASSISTANT and t.content)
    return starts, tuple(texts)


def _placed(examples: Sequence[Example], starts: list[int], i: int) -> tuple[int, Scanned]:
    """The example that text `i` of a batch belongs to, and the text's `Scanned`."""
    owner = bisect.bisect_right(starts, i) - 1
    return owner, scanned_texts(examples[owner])[i - starts[owner]]


class AllowList:
    """Values that are fine to have in the data: exact strings (case ignored) and `re:` patterns
    that must match the whole value."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.exact = frozenset(e.casefold() for e in entries if not e.startswith(REGEX_PREFIX))
        self.patterns = tuple(re.compile(e[len(REGEX_PREFIX):]) for e in entries if e.startswith(REGEX_PREFIX))

    def __contains__(self, value: str) -> bool:
        return value.casefold() in self.exact or any(p.fullmatch(value) for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.exact or self.patterns)


def validate_allow(entries: Sequence[str]) -> tuple[str, ...]:
    """The `allow` option, with every `re:` entry compiled once to report a bad one by name."""
    for entry in entries:
        if entry.startswith(REGEX_PREFIX):
            try:
                re.compile(entry[len(REGEX_PREFIX):])
            except re.error as exc:
                raise ValueError(f"{entry!r} is not a valid regular expression: {exc}") from None
        elif not entry:
            raise ValueError("an empty string allows nothing; remove it")
    return tuple(entries)


class PrivacyCheck(BatchedCheck, abc.ABC):
    """Base of `pii` and `secret`: scan each text, drop allowed values, one finding per text and
    entity type. Subclasses say how to detect, how to name an entity, and how severe a find is.

    It looks at one example at a time, but works on batches of them (`BatchedCheck`): one gate
    over every text of a batch (`gate`) picks the few texts that can hold a value, and only
    those go to the detector. Findings are kept until `finish`.
    """

    # What record checks look at: the data that is trained on or tested.
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    mergeable: ClassVar[bool] = True

    # Human names of entity types, for messages ("an email address").
    NOUNS: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._allow = AllowList(getattr(self.options, "allow", ()))
        self._show = bool(getattr(self.context.settings, "show_pii", False))
        self._found: list[Finding] = []

    # -- what subclasses provide ------------------------------------------------------------
    @abc.abstractmethod
    def detect(self, texts: Sequence[str]) -> list[list[Span]]:
        """The spans found in each text."""

    def gate(self, texts: Sequence[str]) -> list[int] | None:
        """Indices of the `texts` that `detect` may find something in (None: any of them)."""
        return None

    def severity_for(self, scanned: Scanned, entity_type: str) -> Severity:
        return self.level

    def noun(self, entity_type: str, count: int) -> str:
        one, many = self.NOUNS.get(entity_type, (entity_type.replace("_", " ").lower(),) * 2)
        return one if count == 1 else f"{count} {many}"

    # -- the check ----------------------------------------------------------------------------
    def consume(self, batch: Batch) -> None:
        examples = batch.examples
        starts, texts = batch._get("privacy:texts", lambda: _batch_texts(examples))
        self.counts["texts_scanned"] += len(texts)
        picked = self.gate(texts)
        if picked is None:
            picked = range(len(texts))
        if not picked:
            return
        found = self._found
        for i, spans in zip(picked, self.detect([texts[i] for i in picked]), strict=True):
            if spans:
                owner, item = _placed(examples, starts, i)
                found.extend(self._findings(examples[owner], item, spans))

    def _findings(self, example: Example, item: Scanned, spans: list[Span]) -> Iterator[Finding]:
        by_type: dict[str, list[Span]] = {}
        for span in spans:
            if self._allow and item.text[span.start:span.end] in self._allow:
                self.counts["allowed"] += 1
                continue
            by_type.setdefault(span.entity_type, []).append(span)
        for entity_type, found in by_type.items():
            self.counts[f"found:{entity_type}:{item.role}"] += len(found)
            yield self._finding(example, item, entity_type, found)

    def finish(self) -> Iterator[Finding]:
        self.flush()
        found, self._found = self._found, []
        return iter(found)

    def merge(self, other: Check) -> None:
        self.flush()
        assert isinstance(other, PrivacyCheck)
        other.flush()
        super().merge(other)
        self._found.extend(other._found)
        other._found = []

    def _finding(self, example: Example, item: Scanned, entity_type: str, spans: list[Span]) -> Finding:
        values = []
        for span in spans[:MAX_VALUES_SHOWN]:
            raw = item.text[span.start:span.end]
            value: dict[str, Any] = {"masked": mask(raw, entity_type), "start": span.start, "end": span.end,
                                     "score": span.score}
            if self._show:
                value["value"] = raw
            values.append(value)
        shown_key = "value" if self._show else "masked"
        shown = ", ".join(v[shown_key] for v in values)
        if len(spans) > MAX_VALUES_SHOWN:
            shown += f", … ({len(spans) - MAX_VALUES_SHOWN} more)"
        message = f"{item.label} contains {self.noun(entity_type, len(spans))}: {shown}"
        if item.learned:
            message += " (the model learns to say it)"
        evidence = {
            "entity_type": entity_type,
            "role": item.role,
            "turn": item.number,
            "learned": item.learned,
            "count": len(spans),
            "values": values,
        }
        return self.finding(example, message, pointer=item.pointer, evidence=evidence,
                            severity=self.severity_for(item, entity_type), key=entity_type)

    # -- metrics --------------------------------------------------------------------------------
    def all_metrics(self) -> dict[str, Any]:
        """The run's facts, then what was found: by entity type, by role, and both."""
        by_entity: Counter[str] = Counter()
        by_role: Counter[str] = Counter()
        both: dict[str, dict[str, int]] = {}
        for key, n in self.counts.items():
            if key.startswith("found:"):
                _, entity, role = key.split(":", 2)
                by_entity[entity] += n
                by_role[role] += n
                both.setdefault(entity, {})[role] = both.get(entity, {}).get(role, 0) + n
        return {
            **self.metrics,
            "texts_scanned": self.counts.get("texts_scanned", 0),
            "values_found": sum(by_entity.values()),
            "values_allowed": self.counts.get("allowed", 0),
            "by_entity": dict(sorted(by_entity.items())),
            "by_role": dict(sorted(by_role.items())),
            "by_entity_and_role": {e: dict(sorted(r.items())) for e, r in sorted(both.items())},
        }
