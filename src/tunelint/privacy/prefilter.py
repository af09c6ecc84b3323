"""Cheap regexes that decide which texts could hold a pattern PII entity, before Presidio runs.

Each trigger is a superset of what its recognizer (see `recognizers.py`) can report, so a text
that no trigger matches is skipped without losing a detection; the phone recognizer reuses
`PHONE_DIGIT_RUN` itself, which makes that true by construction for the costliest recognizer.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

# The punctuation python-phonenumbers accepts between the digit blocks of a number
# (phonenumbermatcher's _PUNCTUATION), at most four in a row. A test pins it to the library.
PHONE_PUNCTUATION = (
    "[-x\u2010-\u2015\u2212\u30fc\uff0d-\uff0f \u00a0\u00ad\u200b\u2060\u3000()"
    "\uff08\uff09\uff3b\uff3d.\\[\\]/~\u2053\u223c\uff5e]"
)

# Fewest digits a reported phone number has (checked by the recognizer): shorter runs are
# extensions, house numbers or prices, and dropping them is what keeps the prefilter cheap.
MIN_PHONE_DIGITS = 7

PHONE_DIGIT_RUN = re.compile(
    rf"\d(?:{PHONE_PUNCTUATION}{{0,4}}\d){{{MIN_PHONE_DIGITS - 1}}}"
)

# Per entity, a pattern every value that entity's recognizer accepts must contain.
TRIGGERS: Mapping[str, str] = {
    "EMAIL_ADDRESS": "@",
    "PHONE_NUMBER": PHONE_DIGIT_RUN.pattern,
    # Cards: 12-19 digits with at most one space or dash between digits, so a phone run.
    "CREDIT_CARD": PHONE_DIGIT_RUN.pattern,
    # SSNs: nine digits with single [- .] separators, so a phone run too.
    "US_SSN": PHONE_DIGIT_RUN.pattern,
    # IBAN: country letters, check digits, then at least two groups of four.
    "IBAN_CODE": r"(?i:[a-z]{2}\d{2}(?:[ -]?[a-z0-9]{4}){2})",
    # IPv4 (dotted quad, also inside IPv4-mapped IPv6); IPv6 either compressed ("::")
    # or written out in full with eight groups.
    "IP_ADDRESS": r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|::|(?i:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){7})",
    # Bitcoin P2PKH / P2SH / bech32 addresses (the crypto recognizer's own shape).
    "CRYPTO": r"(?i:(?:bc1|[13])[a-z0-9]{25})",
}


class Prefilter:
    """Answers, per text, which of the enabled pattern entities could be present."""

    def __init__(self, entities: Iterable[str]) -> None:
        self.entities = tuple(sorted(set(entities)))
        unknown = [e for e in self.entities if e not in TRIGGERS]
        if unknown:
            raise ValueError(f"no prefilter trigger for {unknown}; known: {sorted(TRIGGERS)}")
        self._per_entity = {e: re.compile(TRIGGERS[e]) for e in self.entities}
        # One combined search decides the common case (nothing there) in a single pass;
        # per-entity triggers only run on the few texts that pass.
        alternatives = sorted({TRIGGERS[e] for e in self.entities})
        self._any = re.compile("|".join(f"(?:{a})" for a in alternatives)) if alternatives else None

    def candidates(self, text: str) -> list[str]:
        """The enabled entities whose trigger occurs in `text`, sorted; empty means skip it."""
        if self._any is None or self._any.search(text) is None:
            return []
        return [e for e, trigger in self._per_entity.items() if trigger.search(text)]
