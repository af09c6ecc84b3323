"""Cheap tests that let the content checks skip their regular expressions on text that cannot match.

A regex scan with no literal prefix costs tens of nanoseconds per character; a substring test
(`"as an ai" in text`) costs about one. The content checks run on every example, so each one
first asks a question that is *necessary* for its pattern to match — a character, a word, a
lower-cased phrase — and runs the pattern only when the answer is yes. The findings stay exactly
what the patterns alone would give; tests/test_textscan.py holds the equivalences these rely on.
"""

from __future__ import annotations

import re

from tunelint.models import Example

# Characters that do not lower-case to the ASCII letter a case-insensitive regex matches them to:
# "İ" lower-cases to "i" + U+0307, "ı" and "ſ" stay themselves, yet re.IGNORECASE matches them
# to i, i and s. Mapping them first makes `fold(text)` contain every ASCII phrase that an
# IGNORECASE pattern could match in `text`.


def fold(text: str) -> str:
    """The text lower-cased for substring gates in front of case-insensitive patterns: if a
    pattern with re.IGNORECASE matches an ASCII phrase in `text`, the lower-cased phrase occurs
    in `fold(text)` (Kelvin sign and friends included)."""
    if not text.isascii():
        # str.translate with a table is slow on non-ASCII text; three replaces are not.
        if "\u0130" in text:
            text = text.replace("\u0130", "i")
        if "\u0131" in text:
            text = text.replace("\u0131", "i")
        if "\u017f" in text:
            text = text.replace("\u017f", "s")
    return text.lower()


# For str.translate: ASCII letters stay, every other ASCII character becomes a space (so
# `text.translate(LETTERS_ONLY).split()` gives the runs of letters of ASCII text).
LETTERS_ONLY = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalpha()})

_OTHER_DIGIT: re.Pattern[str] | None = None


def has_digit(text: str) -> bool:
    """Exactly `any(ch.isdigit() for ch in text)`, without a Python-level loop."""
    if (
        "0" in text or "1" in text or "2" in text or "3" in text or "4" in text
        or "5" in text or "6" in text or "7" in text or "8" in text or "9" in text
    ):
        return True
    if text.isascii():
        return False
    global _OTHER_DIGIT
    if _OTHER_DIGIT is None:
        digits = "".join(chr(u) for u in range(0x80, 0x110000) if chr(u).isdigit())
        _OTHER_DIGIT = re.compile("[" + re.escape(digits) + "]")
    return _OTHER_DIGIT.search(text) is not None


def any_in(text: str, needles: tuple[str, ...]) -> bool:
    """Whether any needle occurs in text (a loop in C would be no faster for a handful)."""
    for n in needles:
        if n in text:
            return True
    return False


# Line breaks str.splitlines() splits on besides "\n".
_OTHER_BREAKS_ASCII = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e")
_OTHER_BREAKS = _OTHER_BREAKS_ASCII + ("\x85", "\u2028", "\u2029")


def line_breaks_at_least(text: str, n: int) -> bool:
    """A cheap necessary condition for `len(text.splitlines()) > n`: True when the text may hold
    at least `n` line breaks (it counts "\\n" and only looks for the rarer separators)."""
    if n <= 0 or text.count("\n") >= n:
        return True
    return any_in(text, _OTHER_BREAKS_ASCII if text.isascii() else _OTHER_BREAKS)


_last_input: list = [None, ""]


def input_text(example: Example) -> str:
    """`example.input_text`, kept for the last example asked about: checks that run one after
    another on the same example (volatile-facts, calculations) build it once."""
    if _last_input[0] is not example:
        _last_input[0] = example
        _last_input[1] = example.input_text
    return _last_input[1]


def clear() -> None:
    """Drop per-process caches (benchmarks time each check from cold)."""
    from tunelint.checks import output_schema

    _last_input[0] = None
    _last_input[1] = ""
    output_schema.clear_caches()
