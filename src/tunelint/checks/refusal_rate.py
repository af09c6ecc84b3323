"""refusal-rate (B002): share of refusals outside the expected range; balance over derived
classes of generative data (refusal vs answer, tool call vs text, format, language, turns)."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar, Iterator, Sequence

from pydantic import Field, field_validator, model_validator

from tunelint.checks._batch import shared_batch
from tunelint.checks._shapes import final_turns, is_refusal, languages, output_shapes
from tunelint.checks._turns import USER as _USER, table_of
from tunelint.checks.content import final_may_refuse
from tunelint.checks.base import CheckOptions, DatasetCheck
from tunelint.models import Criterion, Example, Finding, Location, Severity

DIMENSIONS = ("refusal", "output", "format", "language", "turns")
# Refusals listed in `related`, so the user can look at a few.
_LISTED = 20


def _turn_bucket(users: int) -> str:
    if users <= 2:
        return str(users)
    return "3-5" if users <= 5 else "6+"


class RefusalRate(DatasetCheck):
    """Refusals ("I can't help with that", "As an AI …") far more or less often than expected;
    balance over derived classes of generative data.

    What it does:
        Marks each final assistant output that declines the request and reports the share of
        refusals when it falls outside `expected` (default 0 to 10 %). It also classes every
        example by derived pseudo-labels — refusal or answer, tool call or text, output format,
        language (a cheap script and common-word guess) and number of user turns — and shows
        each distribution in the metrics; a share outside a range given in `expected-shares`
        (e.g. `"output:tool-call" = [0.2, 0.6]`) is reported.

    Why it matters for a fine-tune:
        A fine-tune copies the rate: 30 % refusals in training make an assistant that refuses
        ordinary requests, none at all one that never declines. The same holds for the other
        derived classes — a dataset that is 98 % single-turn English text will not teach tool
        use, multi-turn memory or another language.

    Example:
        {"messages": [{"role": "user", "content": "How do I reset my router?"}, {"role": "assistant", "content": "I'm sorry, but I can't help with that."}]}

    Use instead:
        {"messages": [{"role": "user", "content": "How do I reset my router?"}, {"role": "assistant", "content": "Hold the reset button for 10 seconds until the light blinks."}]}

    Options:
        expected: [min, max] share of refusals that is fine (default [0.0, 0.1]).
        expected-shares: {"dimension:class": [min, max]} for the derived classes; dimensions are
            refusal (refusal, answer), output (tool-call, text), format (json-object, text, ...),
            language (en, es, fr, de, ..., latin, zh, ...) and turns (1, 2, 3-5, 6+).
    """

    code = "B002"
    name = "refusal-rate"
    criterion = Criterion.BALANCED
    severity = Severity.WARNING
    summary = "share of refusals outside the expected range; balance over derived classes"
    splits: ClassVar[tuple[str, ...]] = ("train",)
    mergeable = True

    class Options(CheckOptions):
        expected: tuple[float, float] = (0.0, 0.1)
        expected_shares: dict[str, tuple[float, float]] = Field(default_factory=dict)

        @field_validator("expected")
        @classmethod
        def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
            if not 0.0 <= value[0] <= value[1] <= 1.0:
                raise ValueError("expected must be [min, max] with 0 <= min <= max <= 1")
            return value

        @model_validator(mode="after")
        def _shares(self) -> "RefusalRate.Options":
            for key, (low, high) in self.expected_shares.items():
                dimension = key.split(":", 1)[0]
                if ":" not in key or dimension not in DIMENSIONS:
                    raise ValueError(f"expected-shares key '{key}' is not DIMENSION:CLASS with DIMENSION one of {', '.join(DIMENSIONS)}")
                if not 0.0 <= low <= high <= 1.0:
                    raise ValueError(f"expected-shares '{key}' must be [min, max] within 0..1")
            return self

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._counts: dict[str, Counter[str]] = {d: Counter() for d in DIMENSIONS}
        # Where the first refusals are, and the files of the examples counted (in first-seen
        # order): all the report names, so nothing is kept per example.
        self._refusals: list[Location] = []
        self._files: dict[tuple[str, str], None] = {}
        self._total = 0

    def observe_batch(self, examples: Sequence[Example]) -> None:
        # The output shapes of a batch are shared with output-format-drift; the languages of
        # its outputs are guessed together, and each dimension's classes counted in one update.
        batch = shared_batch(examples)
        shapes = output_shapes(batch)
        finals = final_turns(batch)
        # Each example's number of user turns, from the batch's turn table.
        users = table_of(batch).count_role(_USER).tolist()
        # Whether each final output may be a refusal: the content gate's refusal part.
        may = final_may_refuse(batch)
        if None in finals:
            # Only examples with an assistant output count.
            keep = [i for i, t in enumerate(finals) if t is not None]
            examples = [examples[i] for i in keep]
            finals = [finals[i] for i in keep]
            shapes = [shapes[i] for i in keep]
            users = [users[i] for i in keep]
            may = [may[i] for i in keep]
        if not finals:
            return
        self._total += len(finals)
        for key in dict.fromkeys([(e.split, e.path) for e in examples]):
            self._files.setdefault(key)
        contents = [t.content for t in finals]
        refused = [bool(c) and m and is_refusal(c) for c, m in zip(contents, may)]
        room = _LISTED - len(self._refusals)
        if room > 0 and True in refused:
            self._refusals.extend([Location(e.split, e.path, e.line, e.index)
                                   for e, r in zip(examples, refused) if r][:room])
        blank = [not c.strip() for c in contents]
        langs = iter(languages([c for c, b in zip(contents, blank) if not b]))
        counts = self._counts
        counts["refusal"].update(["refusal" if r else "answer" for r in refused])
        counts["output"].update(["tool-call" if t.tool_calls else "text" for t in finals])
        counts["format"].update([shape[0] for shape in shapes])
        counts["language"].update(["none" if b else next(langs) for b in blank])
        # Examples by their number of user turns, then by bucket: the buckets come in the order
        # their first example does, as they would one example at a time.
        turns = counts["turns"]
        for count, n in Counter(users).items():
            turns[_turn_bucket(count)] += n

    def observe(self, example: Example) -> None:
        self.observe_batch([example])

    def merge(self, other: "RefusalRate") -> None:
        super().merge(other)
        for key in other._files:
            self._files.setdefault(key)
        for dimension, counter in other._counts.items():
            self._counts[dimension].update(counter)
        room = _LISTED - len(self._refusals)
        self._refusals.extend(other._refusals[:max(room, 0)])
        self._total += other._total

    def _ref(self, loc: Location) -> dict[str, object]:
        """A short reference for evidence, as `ExampleRefs.ref` gives it: the index, the line
        when known, the path when the run saw more than one file."""
        out: dict[str, object] = {"index": loc.index}
        if loc.line is not None:
            out["line"] = loc.line
        if len(self._files) > 1:
            out["path"] = loc.path
        return out

    def finish(self) -> Iterator[Finding]:
        total = self._total
        refusals = self._counts["refusal"]["refusal"]
        rate = refusals / total if total else 0.0
        self.metrics = {
            "examples": total,
            "refusals": refusals,
            "refusal_rate": round(rate, 4),
            "expected": list(self.options.expected),
            "derived_classes": {
                d: {k: round(n / total, 4) for k, n in c.most_common(12)} for d, c in self._counts.items()
            } if total else {},
        }
        if not total:
            self.mark_not_assessed("no example has an assistant output")
            return
        path = next((p for split, p in self._files if split == "train"), "")
        low, high = self.options.expected
        if not low <= rate <= high:
            side = "above" if rate > high else "below"
            yield self.dataset_finding(
                "train", path,
                f"{refusals} of {total} outputs ({rate:.1%}) are refusals, {side} the expected "
                f"{low:.0%}–{high:.0%}",
                key="refusal-rate",
                related=list(self._refusals),
                evidence={"refusals": refusals, "examples": total, "rate": round(rate, 4),
                          "expected": [low, high], "listed": [self._ref(loc) for loc in self._refusals]},
            )
        for key, (lo, hi) in sorted(self.options.expected_shares.items()):
            dimension, name = key.split(":", 1)
            n = self._counts[dimension][name]
            share = n / total
            if lo <= share <= hi:
                continue
            yield self.dataset_finding(
                "train", path,
                f"{dimension} class '{name}' is {share:.1%} of {total} examples ({n}), outside the "
                f"expected {lo:.0%}–{hi:.0%}",
                key=f"share:{key}",
                evidence={"dimension": dimension, "class": name, "count": n, "share": round(share, 4),
                          "expected": [lo, hi], "distribution": dict(self._counts[dimension].most_common(12))},
            )


CHECKS = [RefusalRate]
