"""Cheap regexes that decide which texts could hold a pattern PII entity, before Presidio runs.

Each trigger is a superset of what its recognizer (see `recognizers.py`) can report, so a text
that no trigger matches is skipped without losing a detection; for phone numbers the trigger
is the very test the recognizer uses to choose where to look (`phone.py`).
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Mapping

from tunelint.privacy.phone import PHONE_DIGIT_RUN, has_phone_candidate

# Per entity, a pattern every value that entity's recognizer accepts must contain.
TRIGGERS: Mapping[str, str] = {
    "EMAIL_ADDRESS": "@",
    "PHONE_NUMBER": PHONE_DIGIT_RUN.pattern,
    # Cards: 12-19 digits with at most one space or dash between digits.
    "CREDIT_CARD": r"\d(?:[ -]?\d){11}",
    # SSNs: the recognizer's 3-2-4 pattern.
    "US_SSN": r"\d{3}[- .]\d{2}[- .]\d{4}",
    # IBAN: country letters, check digits, then at least two groups of four.
    "IBAN_CODE": r"(?i:[a-z]{2}\d{2}(?:[ -]?[a-z0-9]{4}){2})",
    # IPv4 (dotted quad, also inside IPv4-mapped IPv6); IPv6 either compressed ("::")
    # or written out in full with eight groups.
    "IP_ADDRESS": r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|::|(?i:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){7})",
    # Bitcoin P2PKH / P2SH / bech32 addresses (the crypto recognizer's own shape).
    "CRYPTO": r"(?i:(?:bc1|[13])[a-z0-9]{25})",
}

# Second, exact-but-costlier tests for entities whose trigger is common in ordinary text
# (most 7-digit runs are order numbers, dates or ids, not phone-shaped).
REFINEMENTS: Mapping[str, Callable[[str], bool]] = {
    "PHONE_NUMBER": has_phone_candidate,
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
        return [
            e
            for e, trigger in self._per_entity.items()
            if trigger.search(text) and (e not in REFINEMENTS or REFINEMENTS[e](text))
        ]
