"""output-format-drift (K004): most outputs share a shape and some do not."""

from __future__ import annotations

from array import array
from collections import Counter
from typing import ClassVar, Iterator

from pydantic import Field

from tunelint.checks._shapes import output_shapes
from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks._support import ExampleRefs
from tunelint.checks.base import CheckOptions
from tunelint.models import Criterion, Finding, Severity

_DESCRIBE = {
    "json-object": "a JSON object",
    "json-array": "a JSON array",
    "broken-json": "JSON that does not parse",
    "final-answer-line": "text ending in a final answer line",
    "field-template": "a template of 'Field: value' lines",
    "tool-call": "a tool call",
    "code": "a code block",
    "list": "a list",
    "text": "free text",
    "empty": "empty",
}
# Free text is the absence of a shape: a dataset of mostly free text has nothing to drift from.
_UNSTRUCTURED = {"text", "list", "code", "empty", "none"}


class OutputFormatDrift(BatchedCheck):
    """Most outputs share a shape — JSON with the same keys, a fixed template, a final "Answer:"
    line — and some do not.

    What it does:
        Gives each final assistant output a shape: a JSON object (with its key set), a JSON
        array, JSON that does not parse, text ending in a final answer line ("####", "Answer:"),
        a template of "Field: value" lines (with its field names), a tool call, or free text.
        When at least `min-share` of the outputs share a structured shape, every output of another
        shape is reported; within that shape, when `min-share` share one detail (the same JSON
        keys, the same fields) the outputs with other keys or fields are reported too.

    Why it matters for a fine-tune:
        The model learns the format from the examples: a few outputs without the JSON, with a
        renamed key or without the answer line teach it that the format is optional, and the
        parser downstream breaks on exactly those answers in production.

    Example:
        {"messages": [{"role": "user", "content": "Classify: card declined"}, {"role": "assistant", "content": "{\\"category\\": \\"payments\\", \\"urgent\\": true}"}]}
        {"messages": [{"role": "user", "content": "Classify: app crashes"}, {"role": "assistant", "content": "Category: bugs"}]}

    Use instead:
        {"messages": [{"role": "user", "content": "Classify: app crashes"}, {"role": "assistant", "content": "{\\"category\\": \\"bugs\\", \\"urgent\\": false}"}]}

    Options:
        min-share: share of outputs a shape needs to count as the format (default 0.8).
        min-examples: fewer outputs than this and no format is inferred (default 10).
    """

    code = "K004"
    name = "output-format-drift"
    criterion = Criterion.CONSISTENT
    severity = Severity.WARNING
    summary = "most outputs share a shape (JSON with keys K, a template) and some do not"
    splits: ClassVar[tuple[str, ...]] = ("train",)
    mergeable = True

    class Options(CheckOptions):
        min_share: float = Field(0.8, gt=0.5, lt=1.0)
        min_examples: int = Field(10, ge=2)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._refs = ExampleRefs()
        self._shape_ids: dict[tuple[str, str], int] = {}
        self._shapes: list[tuple[str, str]] = []
        self._shape = array("i")

    def consume(self, batch: Batch) -> None:
        self._refs.add_batch(batch)
        ids = self._shape_ids
        out = []
        for shape in output_shapes(batch):
            sid = ids.get(shape)
            if sid is None:
                sid = ids[shape] = len(self._shapes)
                self._shapes.append(shape)
            out.append(sid)
        self._shape.extend(array("i", out))

    def merge(self, other: "OutputFormatDrift") -> None:
        self.flush()
        other.flush()
        super().merge(other)
        self._refs.extend(other._refs)
        remap = []
        for shape in other._shapes:
            sid = self._shape_ids.get(shape)
            if sid is None:
                sid = self._shape_ids[shape] = len(self._shapes)
                self._shapes.append(shape)
            remap.append(sid)
        self._shape.extend(remap[s] for s in other._shape)

    def finish(self) -> Iterator[Finding]:
        self.flush()
        opts = self.options
        shapes = self._shapes
        per_shape = Counter(self._shape)
        families: Counter[str] = Counter()
        for sid, n in per_shape.items():
            if shapes[sid][0] not in ("none", "empty"):
                families[shapes[sid][0]] += n
        total = sum(families.values())
        self.metrics = {"outputs": total, "shapes": {_DESCRIBE.get(f, f): n for f, n in families.most_common(10)}}
        if total < opts.min_examples or not families:
            return
        family, family_n = families.most_common(1)[0]
        if family_n / total < opts.min_share or family in _UNSTRUCTURED:
            return
        self.metrics["format"] = _DESCRIBE.get(family, family)
        details: Counter[str] = Counter()
        for sid, n in per_shape.items():
            if shapes[sid][0] == family:
                details[shapes[sid][1]] += n
        detail, detail_n = details.most_common(1)[0]
        detail_is_format = bool(detail) and detail_n / family_n >= opts.min_share
        if detail_is_format:
            self.metrics["format_detail"] = detail
        expected = _DESCRIBE.get(family, family) + (f" ({detail})" if detail_is_format else "")
        for pos, sid in enumerate(self._shape):
            fam, det = shapes[sid]
            if fam in ("none", "empty"):
                continue
            if fam != family:
                message = (
                    f"output is {_DESCRIBE.get(fam, fam)}{f' ({det})' if det else ''}, while "
                    f"{family_n / total:.0%} of outputs are {expected}"
                )
            elif detail_is_format and det != detail:
                message = (
                    f"output is {_DESCRIBE.get(fam, fam)} with {det or 'no fields'}, while "
                    f"{detail_n / total:.0%} of outputs are {expected}"
                )
            else:
                continue
            yield self.finding(
                self._refs.stub(pos),
                message,
                evidence={
                    "expected": {"shape": family, "detail": detail if detail_is_format else None},
                    "found": {"shape": fam, "detail": det or None},
                    "share_with_format": round((detail_n if detail_is_format else family_n) / total, 4),
                },
                key=f"{fam}:{det}",
            )


CHECKS = [OutputFormatDrift]
