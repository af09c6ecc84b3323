"""Task fit (T family): data that teaches facts that change, or arithmetic, instead of a behaviour.

Both checks are dataset-level: one example with a price in it is fine; a dataset whose outputs
are built on prices or sums asks the fine-tune to memorise what retrieval or a tool should give.
A value that already appears in the example's input is not counted: the model copies it rather
than recalling it.
"""

from __future__ import annotations

import abc

import re
from fractions import Fraction
from typing import Iterator, Sequence

from pydantic import Field

from tunelint.checks._batch import shared_batch
from tunelint.multigate import MultiGate
from tunelint.checks._shapes import final_turns
from tunelint.checks.base import CheckOptions, DatasetCheck, fingerprint
from tunelint.models import Criterion, Example, Finding, Location, Role, Severity, Turn
from tunelint.textscan import (
    RE2_DIGIT, RE2_SPACE, any_in, arrow_texts, has_digit, input_text, regex_gate, regex_matches, scan, vocabulary,
)

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


# The substring needles above say which patterns can match; the tests below say it more sharply,
# so that most texts skip most patterns (each regex scan costs tens of nanoseconds a character).
# Each is a necessary condition for its pattern to match, so the matches are what the patterns
# alone would give: every pattern but the "in stock" phrases needs a digit; a word a pattern
# matches between word boundaries (or a space, hyphen or digit) is one of the text's tokens
# (textscan.vocabulary); and the literal shapes below are found fast, the regex engine skipping
# to their first character. tests/test_textscan.py compares the result with the plain loop.
_VOLATILE_PATTERNS = tuple(pattern for _, _, pattern in _VOLATILE)
_PRICE_DOLLAR = re.compile("\\$" + _VOLATILE[0][2].pattern[len("[$€£¥₹]"):])
_CURRENCY_WORDS = frozenset({"usd", "eur", "gbp", "jpy", "inr", "dollars", "euros", "pounds"})
_STOCK_ITEMS = frozenset({"item", "items", "unit", "units", "piece", "pieces", "seat", "seats", "room", "rooms"})
_STOCK_STATES = frozenset({"left", "remaining", "available"})
_ONLY_LEFT = re.compile(r"only \d+ (?:left|remaining)")
_VERSION_WORDS = frozenset({"version", "release"})
_PRODUCT_AFTER = {p: re.compile(re.escape(p) + (r"(?:\.js)?" if p == "node" else "") + r"[- ]\d") for p in _PRODUCTS}
_DOTTED = re.compile(r"\.\d+\.\d")
_ISO_MIDDLE = re.compile(r"-\d\d-")
_YEARS = (re.compile(r"19\d\d"), re.compile(r"20\d\d"))
# What stands before the whitespace in front of a year in each alternative of the date pattern.
_BEFORE_YEAR = re.compile(
    r"(?:of|since|until|through|effective|starting|from|jan|january|feb|february|mar|march|apr|april|may|jun|june"
    r"|jul|july|aug|august|sep|sept|september|oct|october|nov|november|dec|december|st|nd|rd|th|\d|,)\Z"
)
_NOW_AFTER = {
    word: re.compile(phrase + r"\b[^.\n]{0,60}\d")
    for word, phrase in (
        ("currently", "currently"), ("moment", "at the moment"), ("present", "at present"), ("now", "right now"),
        ("today", "as of today"), ("latest", "the latest"), ("recent", "most recent"), ("year", "this year"),
        ("month", "this month"), ("quarter", "this quarter"),
    )
}


# One RE2 gate for a whole batch (textscan.regex_gate) in front of every _VOLATILE pattern but the
# currency-symbol price: the patterns' alternatives with their word boundaries and look-arounds
# dropped and `\d` / `\s` widened (RE2_DIGIT, RE2_SPACE), so a text it does not match can match
# none of them, and only the price pattern (a literal first character, cheap) is tried there.
# _RARE_PARTS[i] is a superset of _VOLATILE_PATTERNS[i + 1] alone: the texts the union passes go
# through each part (a small batch) so that only the patterns whose part matches are tried. The
# "currently ... <digit>" part allows any run of characters but "." and a line break before the
# digit, not only 60 (a wider superset, and RE2's automaton stays small: the union scans ~25 %
# faster). tests/test_textscan.py checks each part and the union against the patterns.
_D, _S = RE2_DIGIT, RE2_SPACE


def _rare_parts_with(w) -> tuple[str, ...]:
    """_RARE_PARTS with each run of letters written as w(run): (?:run) for the lower-cased
    texts, (?i:run) for the texts as they are (_RARE_GATE_CASED)."""
    return (
        rf"{_D}[0-9,\x{{80}}-\x{{10FFFF}}]*(?:\.{_D}+)?{_S}?" + w("usd|eur|gbp|jpy|inr|dollars|euros|pounds"),
        w("in stock|of stock|stock level") + "|" + w("only ") + rf"{_D}+ " + w("left|remaining")
        + rf"|{_D}+ " + w("(?:items?|units?|pieces?|seats?|rooms?) (?:left|remaining|available|in stock)"),
        rf"{_D}+\.{_D}+\.{_D}+",
        w("version|release") + rf"{_S}?{_D}",
        w(rf"{'|'.join(_PRODUCTS)}|node\.js") + rf"[- ]{_D}",
        rf"20{_D}{_D}-{_D}{_D}-{_D}{_D}",
        w("as of|since|until|through|effective|starting|from") + rf"{_S}+(?:" + w(_MONTH) + rf"{_S}+(?:{_D}{{1,2}},?{_S}+)?)?(?:19|20){_D}{_D}"
        + "|" + w(_MONTH) + rf"{_S}+{_D}{{1,2}}" + w("st|nd|rd|th") + rf"?,?{_S}+20{_D}{_D}"
        + rf"|{_D}{{1,2}}{_S}+" + w(_MONTH) + rf"{_S}+20{_D}{_D}",
        w("currently|at the moment|at present|right now|as of today|the latest|most recent|this (?:year|month|quarter)")
        + rf"[^.\n]*{_D}",
    )


_RARE_PARTS = _rare_parts_with(lambda run: f"(?:{run})")
_RARE_GATE = "|".join(_RARE_PARTS)
# _RARE_GATE for a text as it is, not lower-cased: a superset of _RARE_GATE on text.lower(). Lower-
# casing maps each character to one (but "İ"), and only ASCII letters and "K" (the Kelvin sign) to
# ASCII letters, each to itself lower-cased; every other character of a part's match is an ASCII
# digit, space or punctuation (lower-casing keeps these and makes no other) or a class holding
# every non-ASCII character. So the letter runs matched without case, and any "İ" or "K" lets
# the text through. (Then only the texts it passes are lower-cased.)
_RARE_GATE_CASED = r"[\x{130}\x{212a}]|" + "|".join(_rare_parts_with(lambda run: f"(?i:{run})"))

# The same as Hyperscan byte patterns (tunelint/multigate.py), answering the union and every part
# in one scan over the batch's outputs as they are: bit 0 "İ" or "K" (U+0130, U+212A, in UTF-8),
# bit i + 1 a superset of _RARE_PARTS[i] written for (?i:) letter runs as in _RARE_GATE_CASED.
# In UTF-8 every character outside ASCII is a run of bytes >= 0x80, so each class below holding
# the digits or spaces of RE2_DIGIT / RE2_SPACE holds those bytes (_HD, _HS): one of them stands
# for as many bytes as a character has, a repeat of them ({n}, +, ?) for as many as n, one or
# more, any; and where a pattern ends (or starts) one byte of its last (first) character is
# enough. The "currently ... <digit>" part stops at the first digit or such byte after the
# phrase (the same texts match; one match a phrase, not one a digit).
# tests/test_task_fit_hyperscan.py checks each against its RE2 part and its pattern.
_HA = r"\x80-\xff"
_HD = f"[0-9{_HA}]"
_HS = rf"[\t-\r\x1c-\x20{_HA}]"


def _hi(run: str) -> str:
    return f"(?i:{run})"


_RARE_PARTS_HS = (
    rf"{_HD}[0-9,{_HA}]*(?:\.{_HD}+)?{_HS}*" + _hi("usd|eur|gbp|jpy|inr|dollars|euros|pounds"),
    _hi("in stock|of stock|stock level") + "|" + _hi("only ") + rf"{_HD}+ " + _hi("left|remaining")
    + rf"|{_HD} " + _hi("(?:items?|units?|pieces?|seats?|rooms?) (?:left|remaining|available|in stock)"),
    rf"{_HD}\.{_HD}+\.{_HD}",
    _hi("version|release") + rf"[\t-\r\x1c-\x20]?{_HD}",
    _hi(rf"{'|'.join(_PRODUCTS)}|node\.js") + rf"[- ]{_HD}",
    rf"20{_HD}{{2,}}-{_HD}{{2,}}-{_HD}{{2}}",
    _hi("as of|since|until|through|effective|starting|from") + rf"{_HS}+(?:" + _hi(_MONTH) + rf"{_HS}+(?:{_HD}+,?{_HS}+)?)?(?:19|20){_HD}{{2}}"
    + "|" + _hi(_MONTH) + rf"{_HS}+{_HD}+" + _hi("st|nd|rd|th") + rf"?,?{_HS}+20{_HD}{{2}}"
    + rf"|{_HD}{_HS}+" + _hi(_MONTH) + rf"{_HS}+20{_HD}{{2}}",
    _hi("currently|at the moment|at present|right now|as of today|the latest|most recent|this (?:year|month|quarter)")
    + rf"[^.\n0-9{_HA}]*{_HD}",
)
# Where a currency-symbol price can be is not asked of it: nearly half the outputs of a priced
# dataset hold one ("$12"), and each match is a call into Python; a symbol in the text
# (`_has_price_symbol`, a substring test) stands for it.
_VOLATILE_GATE_HS = MultiGate([rb"\xc4\xb0|\xe2\x84\xaa"] + [part.encode("ascii") for part in _RARE_PARTS_HS])
# Bits of its masks: _RARE_GATE_CASED may match (the odd characters or a part); with a currency
# symbol in the text, a price pattern may match the lower-cased text (`_price_in`: the odd
# characters, the word-price part).
_ODD_BIT = 1
_PART_BITS = ((1 << len(_RARE_PARTS_HS)) - 1) << 1
_RARE_BITS = _ODD_BIT | _PART_BITS
_PRICE_BITS = _ODD_BIT | 1 << 1
_PRICE_SYMBOLS_BUT_DOLLAR = ("€", "£", "¥", "₹")


def _has_price_symbol(text: str) -> bool:
    """Whether `text` holds a currency symbol (every currency-symbol price starts with one; lower-
    casing keeps them)."""
    return "$" in text or not text.isascii() and any_in(text, _PRICE_SYMBOLS_BUT_DOLLAR)


def _parts_may(mask: int) -> tuple[bool, ...]:
    """`may` for _patterns from a mask of _VOLATILE_GATE_HS with a part bit and no odd character:
    which of _RARE_PARTS may match the lower-cased text."""
    if mask & _PART_BITS == _PART_BITS:
        return _ANY
    return tuple([bool(mask >> (k + 1) & 1) for k in range(len(_RARE_PARTS_HS))])


def _number_before(lower: str, word: str) -> bool:
    """Whether `word` occurs right after a digit or comma, or after one and one whitespace."""
    p = lower.find(word, 1)
    while p > 0:
        c = lower[p - 1]
        if c.isdecimal() or c == "," or (c.isspace() and p > 1 and (lower[p - 2].isdecimal() or lower[p - 2] == ",")):
            return True
        p = lower.find(word, p + 1)
    return False


def _number_after(lower: str, word: str) -> bool:
    """Whether `word` occurs right before a digit, or before one whitespace and a digit."""
    p = lower.find(word)
    n = len(word)
    while p >= 0:
        c = lower[p + n:p + n + 1]
        if c.isdecimal() or (c.isspace() and lower[p + n + 1:p + n + 2].isdecimal()):
            return True
        p = lower.find(word, p + 1)
    return False


def _dated_year(lower: str) -> bool:
    """Whether a year (19xx, 20xx) follows whitespace that follows a date keyword, a month, a
    day or a comma: every alternative of the date pattern has one."""
    for years in _YEARS:
        for m in years.finditer(lower):
            p = m.start()
            if p == 0 or not lower[p - 1].isspace():
                continue
            q = p - 1
            while q > 0 and lower[q - 1].isspace():
                q -= 1
            if _BEFORE_YEAR.search(lower, max(0, q - 12), q) is not None:
                return True
    return False


class _Lowered:
    """text.lower() and, when first asked, its tokens among textscan.WORDS."""

    __slots__ = ("text", "lower", "_words")

    def __init__(self, text: str, lower: str | None = None) -> None:
        self.text = text
        self.lower = text.lower() if lower is None else lower
        self._words: frozenset[str] | set[str] | None = None

    @property
    def words(self) -> frozenset[str] | set[str]:
        if self._words is None:
            # What scan(text).words gives for plain text (fold is lower then), and the right
            # words for the rest: without the fold and the cache.
            self._words = vocabulary(self.lower)
        return self._words


_ANY = (True,) * len(_RARE_PARTS)


def _patterns(
    low: _Lowered, kinds: frozenset[str] | set[str] | None = None, rare: bool = True, may: Sequence[bool] = _ANY
) -> Iterator[tuple[str, re.Pattern[str]]]:
    """The _VOLATILE entries (kind, pattern) that can match `low.lower`, in their order; only
    `kinds` when given. `rare` False: _RARE_GATE does not match, only the first can. `may[i]`
    False: _RARE_PARTS[i] does not match, so neither can _VOLATILE_PATTERNS[i + 1]."""
    p_sym, p_word, stock, v_triple, v_word, v_product, d_iso, d_year, d_now = _VOLATILE_PATTERNS
    want = (lambda kind: True) if kinds is None else kinds.__contains__
    lower = low.lower
    digits = has_digit(lower)
    if want("price") and digits:
        if "$" in lower or "€" in lower or "£" in lower or "¥" in lower or "₹" in lower:
            yield "price", (p_sym if "€" in lower or "£" in lower or "¥" in lower or "₹" in lower else _PRICE_DOLLAR)
    if not rare:
        return
    m_word, m_stock, m_triple, m_version, m_product, m_iso, m_year, m_now = may
    # With the parts' answers at hand, a pattern whose part matches is tried without the word
    # scan's test in front of it (the part is the sharper test).
    parted = may is not _ANY
    if m_word and want("price") and digits:
        if parted or any(_number_before(lower, w) for w in _CURRENCY_WORDS.intersection(low.words)):
            yield "price", p_word
    if m_stock and want("stock-level") and (
        parted
        or ("stock" in low.words and ("in stock" in lower or "of stock" in lower or "stock level" in lower))
        or digits and (
            ("only" in low.words and _ONLY_LEFT.search(lower) is not None)
            or any(f"{i} {s}" in lower for i in _STOCK_ITEMS.intersection(low.words) for s in _STOCK_STATES.intersection(low.words))
        )
    ):
        yield "stock-level", stock
    if want("version") and digits:
        if m_triple and "." in lower and _DOTTED.search(lower) is not None:
            yield "version", v_triple
        if m_version and (parted or any(_number_after(lower, w) for w in _VERSION_WORDS.intersection(low.words))):
            yield "version", v_word
        if m_product and (parted or any(_PRODUCT_AFTER[p].search(lower) is not None for p in low.words.intersection(_PRODUCT_AFTER))):
            yield "version", v_product
    if want("dated-fact") and digits:
        if m_iso and "-" in lower and _ISO_MIDDLE.search(lower) is not None:
            yield "dated-fact", d_iso
        if m_year and _dated_year(lower):
            yield "dated-fact", d_year
        if m_now and (parted or any(_NOW_AFTER[w].search(lower) is not None for w in low.words.intersection(_NOW_AFTER))):
            yield "dated-fact", d_now


def _volatile_matches(
    text: str, lower: str | None = None, rare: bool = True, may: Sequence[bool] = _ANY
) -> list[tuple[str, str]]:
    """(kind, text) of every _VOLATILE match in `text`; `lower` is text.lower() when given, `rare`
    False when _RARE_GATE does not match it, `may` which _RARE_PARTS match it (see _patterns)."""
    if not rare and lower is not None:
        # What _patterns yields then, without building it: the currency-symbol price at most.
        if not ("$" in lower or "€" in lower or "£" in lower or "¥" in lower or "₹" in lower) or not has_digit(lower):
            return []
        pattern = _VOLATILE_PATTERNS[0] if "€" in lower or "£" in lower or "¥" in lower or "₹" in lower else _PRICE_DOLLAR
        if len(lower) == len(text):
            return [("price", text[m.start():m.end()]) for m in pattern.finditer(lower)]
        return [("price", m.group()) for m in pattern.finditer(lower)]
    low = _Lowered(text, lower)
    lower = low.lower
    # Lower-casing keeps offsets for nearly all text; where it does not, show the lower-cased match.
    same = len(lower) == len(text)
    out = []
    for kind, pattern in _patterns(low, None, rare, may):
        found = _word_prices(lower) if pattern is _VOLATILE_PATTERNS[1] else pattern.finditer(lower)
        out.extend((kind, text[m.start():m.end()] if same else m.group()) for m in found)
    return out


_WORD_PRICE_WORDS = ("usd", "eur", "gbp", "jpy", "inr", "dollars", "euros", "pounds")


def _word_prices(lower: str) -> Iterator[re.Match[str]]:
    """Exactly the matches of the word-price pattern's finditer(lower) ("12 dollars"), tried only
    where one can start: every match is a number run, at most one whitespace character and a
    currency word, so it starts at a digit in the run of digits, commas and dots (and one
    whitespace character) that ends where a currency word begins. The matches, leftmost first,
    are the first `match` at those digits for each occurrence of a word, in order."""
    pattern = _VOLATILE_PATTERNS[1]
    words = [w for w in _WORD_PRICE_WORDS if w in lower]
    if not words:
        return
    starts = sorted({q for w in words for q in _occurrences(lower, w)}) if len(words) > 1 else _occurrences(lower, words[0])
    pos = 0
    for q in starts:
        if q < pos:
            continue
        r = q
        if r > pos and lower[r - 1].isspace():
            r -= 1
        while r > pos and (lower[r - 1].isdecimal() or lower[r - 1] in ",."):
            r -= 1
        for p in range(r, q):
            if lower[p].isdecimal():
                m = pattern.match(lower, p)
                if m is not None:
                    yield m
                    pos = m.end()
                    break


def _occurrences(text: str, word: str) -> Iterator[int]:
    p = text.find(word)
    while p >= 0:
        yield p
        p = text.find(word, p + 1)


def _kinds_present(text: str, kinds: set[str], lower: str | None = None, rare: bool = True) -> set[str]:
    """Which of `kinds` _volatile_matches(text) would report (searching no further than needed)."""
    low = _Lowered(text, lower)
    present: set[str] = set()
    for kind, pattern in _patterns(low, kinds, rare):
        if kind in present:
            continue
        if (next(_word_prices(low.lower), None) if pattern is _VOLATILE_PATTERNS[1] else pattern.search(low.lower)) is not None:
            present.add(kind)
            if len(present) == len(kinds):
                break
    return present


class _ShareCheck(DatasetCheck, abc.ABC):
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
        self._count(example, self.detect(example))

    def observe_batch(self, examples: Sequence[Example]) -> None:
        # What `_count` does for each example, the examples without hits counted at once.
        found = self.detect_many(examples)
        if not examples:
            return
        self.total += len(examples)
        if self.path is None:
            self.path = examples[0].path
        for example, hits in zip(examples, found):
            if hits:
                self._hit(example, hits)

    def detect_many(self, examples: Sequence[Example]) -> list[list[tuple[str, str]]]:
        """`detect` of each example, in order (override to work on the batch at once)."""
        return [self.detect(e) for e in examples]

    def _count(self, example: Example, hits: list[tuple[str, str]]) -> None:
        self.total += 1
        if self.path is None:
            self.path = example.path
        if hits:
            self._hit(example, hits)

    def _hit(self, example: Example, hits: list[tuple[str, str]]) -> None:
        self.affected += 1
        by_kind = self.by_kind
        if len(hits) == 1:
            kind = hits[0][0]
            by_kind[kind] = by_kind.get(kind, 0) + 1
        else:
            for kind in dict.fromkeys([k for k, _ in hits]):  # first-seen order: the metrics read the same every run
                by_kind[kind] = by_kind.get(kind, 0) + 1
        if len(self.shown) < self.options.examples_shown:
            turn = example.final_assistant
            loc = Location(example.split, example.path, example.line, example.index, turn.pointer if turn else None)
            self.shown.append((loc, hits[0][1], example.record_hash))

    @abc.abstractmethod
    def detect(self, example: Example) -> list[tuple[str, str]]:
        """(kind, matched text) of each volatile fact or calculation in the example's output."""

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
        if not output or not has_digit(output) and "stock" not in output.lower():
            return []
        found = _volatile_matches(output)
        if not found:
            return []
        source = input_text(example)
        # When the input itself gives values of a kind (a word problem's prices, a changelog's
        # versions), the output's values of that kind are derived from it, not recalled.
        given = _kinds_present(source, {k for k, _ in found})
        return _fresh([(k, m) for k, m in found if k not in given], source)

    def detect_many(self, examples: Sequence[Example]) -> list[list[tuple[str, str]]]:
        """What `detect` gives each example, with _VOLATILE_GATE_HS run once over the batch's
        outputs and once over the inputs of the examples with a match (where Hyperscan does not
        run: _RARE_GATE_CASED over the outputs, _PRICE_GATE_CASED over the inputs of the outputs
        with prices only, and _RARE_GATE over the other inputs)."""
        # One empty list stands for every example without a hit (none is changed).
        out: list[list[tuple[str, str]]] = [[]] * len(examples)
        outputs = _output_texts(examples)
        # Per output, which rare parts may match: one Hyperscan scan (_VOLATILE_GATE_HS), else
        # _RARE_GATE_CASED (RE2) and then _rare_parts over the texts it passes; a symbol price
        # only where a currency symbol is. Only the texts the gate passes are lower-cased
        # (lowers[j] is "" for the others).
        masks = _VOLATILE_GATE_HS(outputs) if len(examples) > 1 else None
        todo: list[int] = []
        texts: list[str] = []
        digits: list[bool] = []
        rare: list[bool] | None
        may: dict[int, tuple[bool, ...]] = {}
        for i, output in enumerate(outputs):
            if not output or masks is not None and not masks[i] and not _has_price_symbol(output):
                continue
            digit = has_digit(output)
            if not digit and "stock" not in output.lower():
                continue
            if masks is not None and masks[i] & _PART_BITS and not masks[i] & _ODD_BIT:
                may[len(todo)] = _parts_may(masks[i])
            todo.append(i)
            texts.append(output)
            digits.append(digit)
        if masks is not None:
            rare = [bool(masks[i] & _RARE_BITS) for i in todo]
            lowers = [t.lower() if r else "" for t, r in zip(texts, rare)]
        else:
            rare = regex_gate(texts, _RARE_GATE_CASED) if len(texts) > 1 else None
            lowers = [t.lower() for t in texts] if rare is None else [t.lower() if r else "" for t, r in zip(texts, rare)]
            may = _rare_parts(lowers, rare)
        found_at: list[int] = []
        found_all: list[list[tuple[str, str]]] = []
        # Whether the output's matches are currency-symbol prices, found where _RARE_GATE_CASED
        # does not match (see below).
        symbol_only: list[bool] = []
        for j, i in enumerate(todo):
            if rare is None or rare[j]:
                found = _volatile_matches(texts[j], lowers[j], True, may.get(j, _ANY))
                plain = False
            else:
                found = _symbol_prices(texts[j]) if digits[j] else []
                plain = True
            if found:
                found_at.append(i)
                found_all.append(found)
                symbol_only.append(plain)
        if not found_at:
            return out
        inputs = _input_texts(examples)
        sources = [inputs(i) for i in found_at]
        # Which kinds each input gives: for an output with prices only (most), whether a price
        # pattern matches the input (after _PRICE_GATE_CASED over all those inputs); the others
        # go through _RARE_GATE together.
        given_all: list[set[str]] = [set()] * len(found_all)
        priced: list[int] = []
        pending: list[int] = []
        for j, found in enumerate(found_all):
            (priced if all(k == "price" for k, _ in found) else pending).append(j)
        # (One Hyperscan scan over all those inputs answers both gates.)
        source_masks = _VOLATILE_GATE_HS(sources) if len(sources) > 1 else None
        if source_masks is not None:
            gate = [bool(source_masks[j] & _PRICE_BITS) or _has_price_symbol(sources[j]) for j in priced]
        else:
            gate = regex_gate([sources[j] for j in priced], _PRICE_GATE_CASED) if len(priced) > 1 else None
        for n, j in enumerate(priced):
            if (gate is None or gate[n]) and _price_in(sources[j].lower()):
                given_all[j] = {"price"}
        pending_lowers = [sources[j].lower() for j in pending]
        if source_masks is not None:
            rare = [bool(source_masks[j] & _RARE_BITS) for j in pending]
        else:
            rare = regex_gate(pending_lowers, _RARE_GATE) if len(pending) > 1 else None
        for n, j in enumerate(pending):
            kinds = {k for k, _ in found_all[j]}
            given_all[j] = _kinds_present(sources[j], kinds, pending_lowers[n], True if rare is None else rare[n])
        for i, found, source, given, plain in zip(found_at, found_all, sources, given_all, symbol_only):
            if plain:
                # Currency-symbol prices only: each match starts with the symbol, at most one
                # whitespace character and a digit, and ends in a digit or letter, so one the
                # input contains means a price in the input; with none there, all are fresh.
                out[i] = [] if given else found
            else:
                out[i] = _fresh([(k, m) for k, m in found if k not in given], source)
        return out


def _rare_parts(lowers: list[str], rare: list[bool] | None) -> dict[int, tuple[bool, ...]]:
    """For the texts _RARE_GATE passes (by index), whether each of _RARE_PARTS matches: one RE2
    pass per part over those texts only (about a tenth of a batch; on so few texts a union of
    parts costs about as much as the parts one by one)."""
    if rare is None:
        return {}
    passed = [j for j, r in enumerate(rare) if r]
    if len(passed) < 8:
        return {}
    array = arrow_texts([lowers[j] for j in passed])
    if array is None:
        return {}
    return dict(zip(passed, zip(*(regex_matches(array, part) for part in _RARE_PARTS))))


def _price_in(lower: str) -> bool:
    """`"price" in _kinds_present(text, {"price"}, lower)`: a currency-symbol or word price
    pattern matches the lower-cased text (without its word scan)."""
    if not has_digit(lower):
        return False
    others = any_in(lower, _PRICE_SYMBOLS_BUT_DOLLAR)
    if others or "$" in lower:
        if (_VOLATILE_PATTERNS[0] if others else _PRICE_DOLLAR).search(lower) is not None:
            return True
    return next(_word_prices(lower), None) is not None


# _price_in as a batch gate over inputs as they are (see _RARE_GATE_CASED): a currency symbol,
# at most one whitespace character and a digit (where every symbol-price match starts), or the
# word-price part.
_PRICE_GATE_CASED = (
    r"[\x{130}\x{212a}]|[$€£¥₹]" + rf"{_S}?{_D}|" + _rare_parts_with(lambda run: f"(?i:{run})")[0]
)
# The symbol-price patterns without case, for text that is not lower-cased: on a text without
# the characters below, they match where the patterns match its lower-cased form, at the same
# offsets (re.IGNORECASE pairs an ASCII letter with the characters that lower-case to it, and
# with "ı" and "ſ", which do not; "İ" lower-cases to two characters).
_PRICE_SYMBOL_CASED = re.compile(_VOLATILE_PATTERNS[0].pattern, re.IGNORECASE)
_PRICE_DOLLAR_CASED = re.compile(_PRICE_DOLLAR.pattern, re.IGNORECASE)
_ODD_CASE = ("\u0130", "\u0131", "\u017f", "\u212a")


def _symbol_prices(text: str) -> list[tuple[str, str]]:
    """Exactly `_volatile_matches(text, text.lower(), rare=False)` for a text with a digit (the
    currency-symbol prices), without lower-casing it when that is not needed."""
    wide = not text.isascii()
    others = wide and any_in(text, _PRICE_SYMBOLS_BUT_DOLLAR)
    if not others and "$" not in text:
        return []
    if wide and any_in(text, _ODD_CASE):
        return _volatile_matches(text, text.lower(), False)
    pattern = _PRICE_SYMBOL_CASED if others else _PRICE_DOLLAR_CASED
    return [("price", m.group()) for m in pattern.finditer(text)]


def _output_texts(examples: Sequence[Example]) -> list[str]:
    """`example.output_text` of each example, built once per batch for the checks sharing it."""
    return shared_batch(examples).cached(
        "task_fit.outputs", lambda b: ["" if t is None else t.content for t in final_turns(b)]
    )


_ROLE_PREFIX = {role: f"{role.value}: " for role in Role}
_ASSISTANT = Role.ASSISTANT


def _input_text(turns: Sequence[Turn]) -> str:
    """`Example.input_text` of an example with these turns (the same string), without its
    enumerate loop and f-strings: each turn's role label is looked up."""
    last = len(turns) - 1
    while last >= 0 and turns[last].role is not _ASSISTANT:
        last -= 1
    prefix = turns if last < 0 else turns[:last]
    return "\n".join([_ROLE_PREFIX[t.role] + t.content for t in prefix])


def _input_texts(examples: Sequence[Example]):
    """`example.input_text` of the i-th example, built once per batch for the checks sharing it."""
    cache: dict[int, str] = shared_batch(examples).cached("task_fit.inputs", lambda b: {})

    def get(i: int) -> str:
        text = cache.get(i)
        if text is None:
            text = cache[i] = _input_text(examples[i].turns)
        return text

    return get


# ------------------------------------------------------------------------------ calculations

_NUM = r"-?\d+(?:,\d{3})*(?:\.\d+)?"
_OP = r"(?:[-+−×*/÷^]|(?<=\s)x(?=\s))"
_EQUATION = re.compile(rf"(?<![\w.,])({_NUM})\s*({_OP})\s*({_NUM})((?:\s*{_OP}\s*{_NUM})*)\s*=\s*(\$?{_NUM})(?![\w.])")
_EXPR_IN_INPUT = re.compile(rf"{_NUM}\s*{_OP}\s*{_NUM}|\d\s*%\s*of\s*\d|\b(?:square root|factorial|sum|product|average|mean|median)\s+of\b", re.IGNORECASE)
# Whether _EXPR_IN_INPUT.search(text) finds anything, split so each part has a cheap gate. A
# match of its first alternative holds a digit, then the operator and the second number: this
# starts at that digit. (It is a yes/no answer; the matched text differs.)
_EXPR_NUMERIC = re.compile(rf"\d\s*(?:{_OP}\s*-?\d|%\s*of\s*\d)", re.IGNORECASE)
_EXPR_WORDS = re.compile(r"\b(?:square root|factorial|sum|product|average|mean|median)\s+of\b", re.IGNORECASE)
_EXPR_WORD_GATE = frozenset({"square", "factorial", "sum", "product", "average", "mean", "median"})
# _EXPR_IN_INPUT as a batch gate (textscan.regex_gate; built as _RARE_GATE, its case-insensitive
# parts in (?i:...), and a text holding a character Python's IGNORECASE matches to an ASCII
# letter that RE2 may not fold passes).
_EXPR_GATE = "|".join((
    r"[\x{130}\x{131}\x{17f}\x{212a}]",
    rf"{_D}{_S}*[-+−×*/÷^xX]{_S}*-?{_D}",
    rf"{_D}{_S}*%{_S}*(?i:of){_S}*{_D}",
    r"(?i:(?:square root|factorial|sum|product|average|mean|median))" + rf"{_S}+(?i:of)",
))


def _expression_in(text: str) -> bool:
    """Exactly `_EXPR_IN_INPUT.search(text) is not None`."""
    if has_digit(text) and _EXPR_NUMERIC.search(text) is not None:
        return True
    words = scan(text).words
    return "of" in words and not words.isdisjoint(_EXPR_WORD_GATE) and _EXPR_WORDS.search(text) is not None


# _NUM as re finds it (the same matches, searched faster): led by a character class, so the regex
# engine skips to a "-" or digit instead of trying the whole pattern at every position. A "-"
# must be followed by digits, a digit by any more; the rest is _NUM's.
_NUMBER = re.compile(r"[-\d](?:(?<=-)\d+|(?<=\d)\d*)(?:,\d{3})*(?:\.\d+)?")


def _among_numbers(number: str, text: str) -> bool:
    """Exactly `number in set(_NUMBER.findall(text))` for a `number` _NUMBER matched, without
    finding every number of a long input. A match holds only decimal digits, "-", "," and "."
    and reads nothing outside itself, so findall's matches inside a maximal run of those
    characters are the run's own (`finditer` from its start to its end); only the runs holding
    an occurrence of `number` are read."""
    end = len(text)
    p = text.find(number)
    while p >= 0:
        start = p
        while start > 0 and ((c := text[start - 1]).isdecimal() or c in "-,."):
            start -= 1
        stop = p + len(number)
        while stop < end and ((c := text[stop]).isdecimal() or c in "-,."):
            stop += 1
        for m in _NUMBER.finditer(text, start, stop):
            if m.group() == number:
                return True
        p = text.find(number, stop)
    return False


_CHAIN = "+-−×x*/÷^()=<>"
_NOT_BEFORE = _CHAIN + "0123456789"
_NOT_AFTER = "%.,0123456789" + _CHAIN
# What an equation may hold before its "=" (numbers, operators, whitespace) and after it.
_BEFORE_EQUALS = frozenset(",.-+−×*/÷^x")
_AFTER_EQUALS = re.compile(r"[\s$\-\d,.]*")


def _equations(text: str) -> Iterator[re.Match[str]]:
    """Exactly the matches of _EQUATION.finditer(text), found without scanning the whole text
    with it: every match holds one "=", and starts in the run of number, operator and space
    characters that ends at that "=", so only that run (and what follows the "=") is searched."""
    pos = 0
    e = text.find("=")
    while e >= 0:
        # A match's first number ends in a digit before the whitespace in front of its "=";
        # before that come an operator and a number: three characters of the run at least.
        m = None
        start = e
        while start > pos and text[start - 1].isspace():
            start -= 1
        if start > pos and text[start - 1].isdecimal():
            while start > pos and ((c := text[start - 1]).isdecimal() or c.isspace() or c in _BEFORE_EQUALS):
                start -= 1
            if e - start >= 3:
                end = _AFTER_EQUALS.match(text, e + 1).end()
                # One character more: the match's closing look-ahead reads it.
                m = _EQUATION.search(text, start, end + 1)
        if m is not None:
            yield m
            pos = m.end()
            e = text.find("=", pos)
        else:
            e = text.find("=", e + 1)


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
        hits = self._worked(example)
        if hits is None:
            return []
        output = example.output_text
        if hits or len(output) >= 400:
            # Only a short output counts as the answer to an arithmetic input.
            return hits
        return self._answer(output, input_text(example))

    def detect_many(self, examples: Sequence[Example]) -> list[list[tuple[str, str]]]:
        """What `detect` gives each example: the inputs of the short outputs without worked
        arithmetic go through _EXPR_GATE together before `_answer` looks at each."""
        out: list[list[tuple[str, str]]] = []
        later: list[int] = []
        outputs: list[str] = []
        for i, (example, output) in enumerate(zip(examples, _output_texts(examples))):
            hits = self._worked(example, output)
            if hits is None:
                hits = []
            elif not hits and len(output) < 400:
                later.append(i)
                outputs.append(output)
            out.append(hits)
        if later:
            inputs = _input_texts(examples)
            sources = [inputs(i) for i in later]
            gate = regex_gate(sources, _EXPR_GATE) if len(sources) > 1 else None
            for j, (i, output, source) in enumerate(zip(later, outputs, sources)):
                out[i] = self._answer(output, source, True if gate is None else gate[j])
        return out

    def _answer(self, output: str, source: str, may: bool = True) -> list[tuple[str, str]]:
        """("arithmetic-answer", number) when a short output answers an arithmetic input with a
        number the input does not hold; `may` False: _EXPR_GATE does not match the input."""
        hits: list[tuple[str, str]] = []
        if _PURE_EXPRESSION.match(source) and has_digit(source):
            number = _NUMBER.search(output)
            if number is not None:
                hits.append(("arithmetic-answer", number.group()))
        elif may and _expression_in(source):
            for n in _NUMBER.findall(output):
                # A number that is not even a substring of the input is not among its numbers.
                if n not in source or not _among_numbers(n, source):
                    hits.append(("arithmetic-answer", n))
                    break
        return hits

    def _worked(self, example: Example, output: str | None = None) -> list[tuple[str, str]] | None:
        """("worked-arithmetic", equation) of each equation in the output (`output`, the
        example's output_text when given), re-computing the binary ones; None when the output
        holds no digit."""
        if output is None:
            output = example.output_text
        if not output or not has_digit(output):
            return None
        hits: list[tuple[str, str]] = []
        for m in _equations(output):
            equation = m.group()
            hits.append(("worked-arithmetic", equation))
            a, op, b, chain, result = m.groups()
            if chain:
                continue
            i, end = m.span()
            while i > 0 and output[i - 1].isspace():
                i -= 1
            # Only a whole binary equation is re-computed: not the tail of a longer chain
            # ("300*4/5 = 240") and not a percentage ("3/6 = 50%"), nor a mixed number ("1 1/2 = 1.5").
            # (The last character before the match that is not whitespace, and the one after it.)
            if output[i - 1:i] not in _NOT_BEFORE and output[end:end + 1] not in _NOT_AFTER:
                verdict = _verify(a, op, b, result)
                if verdict is not None:
                    self.checked += 1
                    if not verdict:
                        self.wrong_count += 1
                        if len(self.wrong) < self.options.examples_shown:
                            self.wrong.append((example.location, equation))
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


def _integer(text: str) -> int:
    if text.isdecimal():
        return int(text)
    return int(text.replace(",", "").replace("$", "").replace("−", "-"))


def _verify(a: str, op: str, b: str, result: str) -> bool | None:
    """Whether `a op b = result` holds (to the result's shown precision); None if not checkable."""
    if op in "+-−×x*" and "." not in a and "." not in b and "." not in result:
        # Whole numbers: the same answer without Fractions (a tolerance of 1/2 between
        # integers is equality).
        x, y, r = _integer(a), _integer(b), _integer(result)
        return (x + y if op == "+" else x - y if op in "-−" else x * y) == r
    exact = _verify_decimals(a, op, b, result)
    if exact is not None:
        return exact
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


_DECIMAL = re.compile(r"(-?\d+)(?:\.(\d+))?")


def _decimal(text: str) -> tuple[int, int] | None:
    """(n, s) with text's value n / 10**s, for a plain decimal ("-1,234.50", "$3"); else None."""
    m = _DECIMAL.fullmatch(text.replace(",", "").replace("$", "").replace("−", "-"))
    if m is None:
        return None
    whole, fraction = m.groups()
    return (int(whole + fraction), len(fraction)) if fraction else (int(whole), 0)


def _verify_decimals(a: str, op: str, b: str, result: str) -> bool | None:
    """What `_verify` answers, in integers, for + - × / on plain decimals; None when that is
    not the case (or the answer is None): `_verify` then works it out with Fractions."""
    x, y, r = _decimal(a), _decimal(b), _decimal(result)
    if x is None or y is None or r is None:
        return None
    (xn, xs), (yn, ys), (rn, rs) = x, y, r
    # The value as p / q with q > 0.
    if op == "+" or op in "-−":
        scale = max(xs, ys)
        yn = yn if op == "+" else -yn
        p, q = xn * 10 ** (scale - xs) + yn * 10 ** (scale - ys), 10**scale
    elif op in "×x*":
        p, q = xn * yn, 10 ** (xs + ys)
    elif op in "/÷":
        if yn == 0:
            return None
        p, q = xn * 10**ys, yn * 10**xs
        if q < 0:
            p, q = -p, -q
    else:
        return None
    decimals = len(result.split(".")[1]) if "." in result else 0
    tol_num, tol_den = (1, 10**decimals) if decimals else (1, 2)
    # |p / q - rn / 10**rs| <= tol_num / tol_den, multiplied out.
    return abs(p * 10**rs - rn * q) * tol_den <= tol_num * q * 10**rs


CHECKS = [VolatileFacts, Calculations]
