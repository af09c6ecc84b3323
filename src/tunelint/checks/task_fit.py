"""Task fit (T family): data that teaches facts that change, or arithmetic, instead of a behaviour.

Both checks are dataset-level: one example with a price in it is fine; a dataset whose outputs
are built on prices or sums asks the fine-tune to memorise what retrieval or a tool should give.
A value that already appears in the example's input is not counted: the model copies it rather
than recalling it.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Iterator

from pydantic import Field

from tunelint.checks.base import CheckOptions, DatasetCheck, fingerprint
from tunelint.models import Criterion, Example, Finding, Location, Severity

_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_PRODUCTS = ("python", "node", "java", "ios", "android", "windows", "macos", "ubuntu", "chrome", "firefox",
             "kubernetes", "react", "django", "php", "ruby", "go", "rust", "gpt")
# Each kind: substrings one of which a match contains (a cheap test that skips most texts),
# and the pattern, matched against the lower-cased text (case-insensitive regexes are slow).
_VOLATILE: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    ("price", ("$", "€", "£", "¥", "₹"), re.compile(
        r"[$€£¥₹]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn|million|billion))?"
        r"(?:\s*(?:per|a|/)\s*(?:month|year|mo|yr|user|seat|night|unit|share|barrel|gallon|kg))?"
    )),
    ("price", ("usd", "eur", "gbp", "jpy", "inr", "dollar", "euro", "pound"), re.compile(
        r"\b\d[\d,]*(?:\.\d+)?\s?(?:usd|eur|gbp|jpy|inr|dollars|euros|pounds)\b"
        r"(?:\s*(?:per|a|/)\s*(?:month|year|mo|yr|user|seat|night|unit|share|barrel|gallon|kg))?"
    )),
    ("stock-level", ("stock", "left", "remaining", "available"), re.compile(
        r"\b(?:(?:back |currently )?(?:in|out of) stock|stock levels?|only \d+ (?:left|remaining)"
        r"|\d+ (?:items?|units?|pieces?|seats?|rooms?) (?:left|remaining|available|in stock))\b"
    )),
    ("version", (".",), re.compile(r"(?<![\d.])\d+\.\d+\.\d+(?![\d.])")),
    ("version", ("version", "release"), re.compile(r"\b(?:version|release)\s?\d+(?:\.\d+)*\b")),
    ("version", _PRODUCTS, re.compile(rf"\b(?:{'|'.join(_PRODUCTS)}|node\.js)[- ]\d+(?:\.\d+)*\b")),
    ("dated-fact", ("-",), re.compile(r"\b20\d\d-\d\d-\d\d\b")),
    ("dated-fact", ("19", "20"), re.compile(
        rf"\b(?:as of|since|until|through|effective|starting|from)\s+(?:{_MONTH}\s+(?:\d{{1,2}},?\s+)?)?(?:19|20)\d\d\b"
        rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+20\d\d\b"
        rf"|\b\d{{1,2}}\s+{_MONTH}\s+20\d\d\b"
    )),
    ("dated-fact", ("currently", "at the moment", "at present", "right now", "as of today", "latest", "most recent", "this "), re.compile(
        r"\b(?:currently|at the moment|at present|right now|as of today|the latest|most recent|this (?:year|month|quarter))\b[^.\n]{0,60}\d"
    )),
)


def _volatile_matches(text: str) -> list[tuple[str, str]]:
    lower = text.lower()
    # Lower-casing keeps offsets for nearly all text; where it does not, show the lower-cased match.
    same = len(lower) == len(text)
    out = []
    for kind, needles, pattern in _VOLATILE:
        if any(n in lower for n in needles):
            out.extend((kind, text[m.start():m.end()] if same else m.group()) for m in pattern.finditer(lower))
    return out


class _ShareCheck(DatasetCheck):
    """Counts training examples with a property and reports when their share is high."""

    splits = ("train",)
    mergeable = True

    class Options(CheckOptions):
        min_share: float = Field(0.1, ge=0, le=1)
        min_examples: int = Field(3, ge=1)
        examples_shown: int = Field(5, ge=1, le=50)

    what: str = ""
    advice: str = ""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.total = 0
        self.affected = 0
        self.by_kind: dict[str, int] = {}
        self.shown: list[tuple[Location, str, str]] = []
        self.path: str | None = None

    def observe(self, example: Example) -> None:
        self.total += 1
        if self.path is None:
            self.path = example.path
        hits = self.detect(example)
        if not hits:
            return
        self.affected += 1
        for kind in {k for k, _ in hits}:
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if len(self.shown) < self.options.examples_shown:
            turn = example.final_assistant
            loc = Location(example.split, example.path, example.line, example.index, turn.pointer if turn else None)
            self.shown.append((loc, hits[0][1], example.record_hash))

    def detect(self, example: Example) -> list[tuple[str, str]]:
        raise NotImplementedError

    def merge(self, other: "_ShareCheck") -> None:  # type: ignore[override]
        super().merge(other)
        self.total += other.total
        self.affected += other.affected
        for kind, n in other.by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + n
        self.shown = (self.shown + other.shown)[: self.options.examples_shown]
        self.path = self.path or other.path

    def extra_evidence(self) -> dict:
        return {}

    def finish(self) -> Iterator[Finding]:
        share = self.affected / self.total if self.total else 0.0
        self.metrics = {"examples": self.total, "affected": self.affected, "share": round(share, 4), **self.by_kind}
        if not self.total:
            self.mark_not_assessed("no training examples")
            return
        if not self.affected:
            return
        # Below the threshold the examples are still listed, at info: a few are worth a look,
        # a large share is a problem with the dataset.
        high = share >= self.options.min_share and self.affected >= self.options.min_examples
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.by_kind.items(), key=lambda kv: (-kv[1], kv[0])))
        shown = "; ".join(f"line {loc.line if loc.line is not None else loc.index}: {snippet!r}" for loc, snippet, _ in self.shown[:3])
        first, rest = self.shown[0][0], [loc for loc, _, _ in self.shown[1:]]
        yield Finding(
            code=self.code,
            check=self.name,
            criterion=self.criterion,
            severity=self.level if high else Severity.INFO,
            message=(
                f"{self.affected:,} of {self.total:,} training outputs ({share:.1%}) {self.what} ({kinds}); "
                f"{self.advice}. For example {shown}."
            ),
            location=first,
            related=tuple(rest),
            evidence={
                "share": round(share, 4),
                "affected": self.affected,
                "examples": self.total,
                "by_kind": dict(sorted(self.by_kind.items())),
                "shown": [{"line": loc.line, "index": loc.index, "match": snippet} for loc, snippet, _ in self.shown],
                **self.extra_evidence(),
            },
            # Identity is the dataset's, not the first example's: the finding stays one finding.
            fingerprint=fingerprint(self.code, first.path, "", "", self.name),
        )


def _fresh(matches: list[tuple[str, str]], source: str) -> list[tuple[str, str]]:
    """Matches whose text does not appear in the input (copied values are not memorised)."""
    return [(k, m) for k, m in matches if m.strip() not in source]


class VolatileFacts(_ShareCheck):
    """A dataset whose outputs are built on facts that change: prices, dates, versions, stock.

    What it does:
        Counts training outputs that state a price ("$29 per month"), a stock level ("only 3
        left"), a software version ("version 4.2", "Python 3.12"), or a dated or current-state
        fact ("as of March 2024", "currently 12 branches") that the example's input does not
        already contain. Reports the share of such outputs, by kind, naming the first affected
        example and listing more: a warning when the share reaches `min-share`, info below it.

    Why it matters for a fine-tune:
        Fine-tuning bakes these values into the weights. When the price or version changes the
        model keeps stating the old one with confidence; retrieval (putting the current value
        in the prompt) serves facts that change, the fine-tune should teach how to use them.

    Example:
        {"messages": [{"role": "user", "content": "How much is the Pro plan?"}, {"role": "assistant", "content": "The Pro plan costs $29 per month as of March 2024."}]}

    Use instead:
        {"messages": [{"role": "system", "content": "Current prices: Pro $29/month."}, {"role": "user", "content": "How much is the Pro plan?"}, {"role": "assistant", "content": "The Pro plan costs $29 per month."}]}

    Options:
        min-share: share of training outputs at which the finding is a warning (default 0.1).
        min-examples: fewest affected outputs for a warning (default 3).
        examples-shown: how many affected examples the finding lists (default 5).
    """

    code = "T001"
    name = "volatile-facts"
    criterion = Criterion.FIT_FOR_FINE_TUNING
    severity = Severity.WARNING
    summary = "outputs built on prices, dates, versions, stock levels"
    what = "state facts that change"
    advice = "serve current values through retrieval or the prompt rather than training them in"

    def detect(self, example: Example) -> list[tuple[str, str]]:
        output = example.output_text
        if not output or not any(ch.isdigit() for ch in output) and "stock" not in output.lower():
            return []
        found = _volatile_matches(output)
        if not found:
            return []
        source = example.input_text
        # When the input itself gives values of a kind (a word problem's prices, a changelog's
        # versions), the output's values of that kind are derived from it, not recalled.
        given = {kind for kind, _ in _volatile_matches(source)}
        return _fresh([(k, m) for k, m in found if k not in given], source)


# ------------------------------------------------------------------------------ calculations

_NUM = r"-?\d+(?:,\d{3})*(?:\.\d+)?"
_OP = r"(?:[-+−×*/÷^]|(?<=\s)x(?=\s))"
_EQUATION = re.compile(rf"(?<![\w.,])({_NUM})\s*({_OP})\s*({_NUM})((?:\s*{_OP}\s*{_NUM})*)\s*=\s*(\$?{_NUM})(?![\w.])")
_EXPR_IN_INPUT = re.compile(rf"{_NUM}\s*{_OP}\s*{_NUM}|\d\s*%\s*of\s*\d|\b(?:square root|factorial|sum|product|average|mean|median)\s+of\b", re.IGNORECASE)
_NUMBER = re.compile(_NUM)
_CHAIN = "+-−×x*/÷^()=<>"
# An input that is nothing but an arithmetic expression ("17*23=", "e^(iπ)+1=").
_PURE_EXPRESSION = re.compile(r"^\s*(?:user:\s*)?[\d\s.,+\-−×x*/÷^()=%eπi√!]+\s*$")


class Calculations(_ShareCheck):
    """A dataset whose outputs compute numbers the model should not work out from memory.

    What it does:
        Counts training outputs that carry worked arithmetic ("3 × 4.5 = 13.5", "<<48/2=24>>")
        or answer an arithmetic input ("17*23=") with a number the input does not contain.
        Simple binary equations are re-computed, and wrong results are counted and shown.
        Reports the share of such outputs, naming the first affected example and listing
        more: a warning when the share reaches `min-share`, info below it.

    Why it matters for a fine-tune:
        Language models compute unreliably token by token, and a fine-tune on sums teaches
        the answers' form more than the arithmetic. A calculator tool call (or code) gives
        exact results; the fine-tune should teach when to call it.

    Example:
        {"query": "17*23=", "response": "391"}

    Use instead:
        {"messages": [{"role": "user", "content": "17*23="}, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "calculate", "arguments": "{\\"expression\\": \\"17*23\\"}"}}]}, {"role": "tool", "tool_call_id": "c1", "content": "391"}, {"role": "assistant", "content": "391"}]}

    Options:
        min-share: share of training outputs at which the finding is a warning (default 0.1).
        min-examples: fewest affected outputs for a warning (default 3).
        examples-shown: how many affected examples the finding lists (default 5).
    """

    code = "T002"
    name = "calculations"
    criterion = Criterion.FIT_FOR_FINE_TUNING
    severity = Severity.WARNING
    summary = "outputs that compute numbers the model should not do from memory"
    what = "compute numbers"
    advice = "let a calculator tool or code do the arithmetic and train the call instead"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.checked = 0
        self.wrong: list[tuple[Location, str]] = []
        self.wrong_count = 0

    def detect(self, example: Example) -> list[tuple[str, str]]:
        output = example.output_text
        if not output or not any(ch.isdigit() for ch in output):
            return []
        hits: list[tuple[str, str]] = []
        for m in _EQUATION.finditer(output):
            hits.append(("worked-arithmetic", m.group()))
            before = output[: m.start()].rstrip()[-1:]
            after = output[m.end():m.end() + 1]
            # Only a whole binary equation is re-computed: not the tail of a longer chain
            # ("300*4/5 = 240") and not a percentage ("3/6 = 50%"), nor a mixed number ("1 1/2 = 1.5").
            if not m.group(4) and before not in _CHAIN + "0123456789" and after not in "%.,0123456789" + _CHAIN:
                verdict = _verify(m.group(1), m.group(2), m.group(3), m.group(5))
                if verdict is not None:
                    self.checked += 1
                    if not verdict:
                        self.wrong_count += 1
                        if len(self.wrong) < self.options.examples_shown:
                            self.wrong.append((example.location, m.group()))
        if hits:
            return hits
        source = example.input_text
        if _PURE_EXPRESSION.match(source) and any(ch.isdigit() for ch in source):
            numbers = _NUMBER.findall(output)
            if numbers and len(output) < 400:
                hits.append(("arithmetic-answer", numbers[0]))
        elif _EXPR_IN_INPUT.search(source):
            given = set(_NUMBER.findall(source))
            answer = [n for n in _NUMBER.findall(output) if n not in given]
            if answer and len(output) < 400:
                hits.append(("arithmetic-answer", answer[0]))
        return hits

    def merge(self, other: "Calculations") -> None:  # type: ignore[override]
        super().merge(other)
        self.checked += other.checked
        self.wrong_count += other.wrong_count
        self.wrong = (self.wrong + other.wrong)[: self.options.examples_shown]

    def extra_evidence(self) -> dict:
        return {
            "equations_checked": self.checked,
            "wrong_results": self.wrong_count,
            "wrong_shown": [{"line": loc.line, "index": loc.index, "equation": eq} for loc, eq in self.wrong],
        }

    def finish(self) -> Iterator[Finding]:
        for finding in super().finish():
            if self.wrong_count:
                finding = _with_suffix(finding, f" {self.wrong_count:,} of {self.checked:,} re-computed equations are wrong.")
            yield finding
        self.metrics.update({"equations_checked": self.checked, "wrong_results": self.wrong_count})


def _with_suffix(finding: Finding, suffix: str) -> Finding:
    from dataclasses import replace

    return replace(finding, message=finding.message + suffix)


def _number(text: str) -> Fraction | None:
    try:
        return Fraction(text.replace(",", "").replace("$", "").replace("−", "-"))
    except (ValueError, ZeroDivisionError):
        return None


def _verify(a: str, op: str, b: str, result: str) -> bool | None:
    """Whether `a op b = result` holds (to the result's shown precision); None if not checkable."""
    x, y, r = _number(a), _number(b), _number(result)
    if x is None or y is None or r is None:
        return None
    if op in "+":
        value = x + y
    elif op in "-−":
        value = x - y
    elif op in "×x*":
        value = x * y
    elif op in "/÷":
        if y == 0:
            return None
        value = x / y
    else:
        return None
    decimals = len(result.split(".")[1]) if "." in result else 0
    tolerance = Fraction(1, 10**decimals) if decimals else Fraction(1, 2)
    return abs(value - r) <= tolerance


CHECKS = [VolatileFacts, Calculations]
