"""Cheap tests that decide which texts could hold a pattern PII entity, before Presidio runs.

Each entity's trigger is a superset of what its recognizer (see `recognizers.py`) can report,
so a text no trigger matches is skipped without losing a detection; for phone numbers the
final test is the one the recognizer itself uses to choose where to look (`phone.py`).
A gate in front of the triggers answers "nothing here" for most texts in one scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tunelint._pyarrow import true_indices
from tunelint.multigate import MultiGate
from tunelint.privacy.shapes import PHONE_DIGIT_RUN, PHONE_PUNCTUATION

_IPV6_FULL = r"[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}"
# An IP match holding "::" (IPv6 compressed, IPv4-mapped or -embedded) starts where Presidio's
# patterns allow (`(?<![\w:])`: after neither a word character nor ":") and runs hex digits and
# colons up to its first "::". So the run of hex digits and colons that ends at that "::" is
# preceded by such a character: not by "std" as in "std::cout" ("d" is hex, "t" is not, and
# after "s" and "t" the lookbehind fails). Only ASCII word characters are ruled out (a word
# character for `re` and for the `regex` module alike); no other character is hex for the
# `regex` module, case ignored (a test checks both).
_IPV6_COMPRESSED = r"(?<![A-Za-z0-9_:])[0-9A-Fa-f:]*::"

# Per entity, a pattern every value that entity's recognizer accepts must contain.
TRIGGERS: Mapping[str, str] = {
    "EMAIL_ADDRESS": "@",
    "PHONE_NUMBER": PHONE_DIGIT_RUN.pattern,
    # Cards: 12-19 digits with at most one space or dash between digits.
    "CREDIT_CARD": r"\d(?:[ -]?\d){11}",
    # SSNs: the recognizer's 3-2-4 pattern.
    "US_SSN": r"\d{3}[- .]\d{2}[- .]\d{4}",
    # IBAN: country letters, check digits, then at least two groups of four (any case).
    # (Written to start at a digit: a leading lookbehind would defeat the regex engine's
    # skip-ahead to a possible first character.)
    "IBAN_CODE": r"\d(?<=[A-Za-z]{2}\d)\d(?:[ -]?[A-Za-z0-9]{4}){2}",
    # IPv4 (a dotted quad, also inside IPv4-mapped IPv6); IPv6 compressed ("::" where an address
    # can start, `_IPV6_COMPRESSED`) or in full (the full form is tested only when the text has
    # seven colons, see `_per_entity_test`).
    "IP_ADDRESS": rf"\d{{1,3}}\.\d{{1,3}}\.\d{{1,3}}\.\d{{1,3}}|{_IPV6_COMPRESSED}|{_IPV6_FULL}",
    # Bitcoin addresses: "1" / "3" (P2PKH, P2SH) or "bc1" (bech32), then 25+ characters.
    "CRYPTO": r"[13][A-Za-z0-9]{25}",
}

def _has_phone_candidate(text: str) -> bool:
    # Imported on first use: phone.py brings in Presidio, which `may_contain` never needs
    # (masking other checks' quotes asks it first, and most runs then never load Presidio).
    from tunelint.privacy.phone import has_phone_candidate

    return has_phone_candidate(text)


# Second, exact-but-costlier tests for entities whose trigger is common in ordinary text
# (most 7-digit runs are order numbers, dates or ids, not phone-shaped).
REFINEMENTS: Mapping[str, Callable[[str], bool]] = {
    "PHONE_NUMBER": _has_phone_candidate,
}

# The gate: per entity, what its trigger implies, written to start at a digit so that one
# regex skips the non-digit text at C speed; plus substring tests for the rest.
_DIGIT_GATES: Mapping[str, str] = {
    "PHONE_NUMBER": rf"(?:{PHONE_PUNCTUATION}{{0,4}}\d){{6}}",
    "CREDIT_CARD": rf"(?:{PHONE_PUNCTUATION}{{0,4}}\d){{6}}",  # 12 digits: a phone run
    "US_SSN": rf"(?:{PHONE_PUNCTUATION}{{0,4}}\d){{6}}",  # 9 digits: a phone run
    "IBAN_CODE": r"(?<=[A-Za-z]{2}\d)\d(?:[ -]?[A-Za-z0-9]{4}){2}",
    "IP_ADDRESS": r"\d{0,2}\.\d{1,3}\.\d{1,3}\.\d",
    "CRYPTO": r"(?<=[13])[A-Za-z0-9]{25}",
}
_SUBSTRING_GATES: Mapping[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("@",),
    "IP_ADDRESS": ("::",),
}


def _per_entity_test(entity: str) -> Callable[[str], bool]:
    """`TRIGGERS[entity]` as a predicate; for IP addresses, split so the slow part runs rarely."""
    if entity == "IP_ADDRESS":
        ipv4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
        ipv6 = re.compile(_IPV6_FULL)
        compressed = re.compile(_IPV6_COMPRESSED)
        return lambda text: (
            ("::" in text and compressed.search(text) is not None)
            or bool(ipv4.search(text))
            or (text.count(":") >= 7 and bool(ipv6.search(text)))
        )
    pattern = re.compile(TRIGGERS[entity])
    return lambda text: pattern.search(text) is not None


# The gate again as one RE2 pattern (no lookbehind; see `batch_gate`), per entity: a superset of
# what `Prefilter.may_contain` accepts. A decimal digit is any character `\\d` can match: an ASCII
# digit or, not to depend on the two engines agreeing on Unicode's digits, any non-ASCII character.
_ANY_DIGIT = r"[0-9\x{80}-\x{10FFFF}]"
_RE2_GATES: Mapping[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("@",),
    "PHONE_NUMBER": (rf"{_ANY_DIGIT}(?:{PHONE_PUNCTUATION}{{0,4}}{_ANY_DIGIT}){{6}}",),
    "CREDIT_CARD": (rf"{_ANY_DIGIT}(?:{PHONE_PUNCTUATION}{{0,4}}{_ANY_DIGIT}){{6}}",),
    "US_SSN": (rf"{_ANY_DIGIT}(?:{PHONE_PUNCTUATION}{{0,4}}{_ANY_DIGIT}){{6}}",),
    "IBAN_CODE": (rf"[A-Za-z]{{2}}{_ANY_DIGIT}{_ANY_DIGIT}(?:[ -]?[A-Za-z0-9]{{4}}){{2}}",),
    "IP_ADDRESS": (rf"{_ANY_DIGIT}{{1,3}}\.{_ANY_DIGIT}{{1,3}}\.{_ANY_DIGIT}{{1,3}}\.{_ANY_DIGIT}", "::", _IPV6_FULL),
    "CRYPTO": (r"[13][A-Za-z0-9]{25}",),
}


# Per entity, an RE2 pattern that matches wherever `TRIGGERS[entity]` does (a superset, `\d` widened
# to `_ANY_DIGIT`, the IBAN lookbehind made a prefix): run over the few texts the gate keeps, it
# tells which Python triggers can fire, so each text runs only those (`Prefilter.candidates_many`).
_RE2_TRIGGERS: Mapping[str, str] = {
    "EMAIL_ADDRESS": "@",
    "PHONE_NUMBER": _RE2_GATES["PHONE_NUMBER"][0],
    "CREDIT_CARD": rf"{_ANY_DIGIT}(?:[ -]?{_ANY_DIGIT}){{11}}",
    "US_SSN": rf"{_ANY_DIGIT}{{3}}[- .]{_ANY_DIGIT}{{2}}[- .]{_ANY_DIGIT}{{4}}",
    "IBAN_CODE": _RE2_GATES["IBAN_CODE"][0],
    "IP_ADDRESS": "|".join(_RE2_GATES["IP_ADDRESS"]),
    "CRYPTO": _RE2_GATES["CRYPTO"][0],
}


def _batch_pattern(entities: Iterable[str]) -> str:
    """The RE2 pattern `batch_gate` runs for these entities ("": none, nothing to find)."""
    return "|".join(sorted({part for e in entities for part in _RE2_GATES[e]}))


def batch_gate(texts: Sequence[str], pattern: str) -> list[int] | None:
    """Indices of the `texts` in which the RE2 `pattern` matches, found for all of them at once.

    Python's `re` scans ordinary text at about 10 ns a character whatever the pattern; Arrow's
    RE2 kernel runs one automaton over a whole batch of texts several times faster. The gates are
    supersets of the per-text tests, so a text left out could not have held a value; the texts
    returned still go through those tests. None (every text may hold one) when Arrow cannot
    take the texts (lone surrogates).
    """
    if not pattern or not texts:
        return []
    import pyarrow.compute as pc

    array = _arrow_texts(texts)
    if array is None:
        return None
    return true_indices(pc.match_substring_regex(array, pattern)).tolist()


# The last tuple of texts turned into an Arrow array, and the array (None: Arrow could not take
# it). `pii` and `secret` gate the same tuple of a batch one after the other. Only a tuple is
# remembered (it cannot change), and it is held here so its identity cannot pass to another.
_LAST_ARRAY: list[Any] = [None, None]


def _arrow_texts(texts: Sequence[str]) -> Any:
    """`texts` as an Arrow large_string array, built once for the same tuple."""
    if type(texts) is tuple and _LAST_ARRAY[0] is texts:
        return _LAST_ARRAY[1]
    import pyarrow as pa

    try:
        array = pa.array(texts, type=pa.large_string())
    except (pa.ArrowException, UnicodeError):
        array = None
    if type(texts) is tuple:
        _LAST_ARRAY[:] = [texts, array]
    return array


class HyperscanGate(MultiGate):
    """`batch_gate` for a set of byte patterns, run by Hyperscan (the `hyperscan` package) over a
    whole batch's text at once, which is several times faster than RE2 for patterns led by
    literals (RE2 runs its automaton byte by byte; Hyperscan finds the literals first, many at
    once). `runs()` is False when Hyperscan cannot run here (not installed, no build for this
    CPU, patterns it rejects): the caller then gates with RE2.

    The patterns read bytes (UTF-8, no UTF-8 mode), so a non-ASCII character is its bytes, each
    >= 0x80; whoever writes them makes each a superset of the RE2 gate it stands for. They are
    compiled on first use, in the process that scans (workers compile their own).
    """

    class Unanswered(Exception):
        """This batch could not be scanned (a scan error, or too many matches to hand to
        Python one by one): the caller gates it with RE2."""

    # Matches per text past which a scan stops: each match is a call into Python, and text
    # dense with "key:" / "token=" costs more that way than RE2's pass (0.25 s against 0.004 s
    # for 4,096 texts with ~80 matches each).
    MATCHES_PER_TEXT = 8

    def __init__(self, patterns: Sequence[bytes]) -> None:
        super().__init__(tuple(dict.fromkeys(patterns)))

    def __call__(self, texts: Sequence[str]) -> list[int] | None:  # type: ignore[override]
        """Indices of the `texts` in which a pattern matches (None: any of them may), as
        `batch_gate` answers. Only when `runs()`; raises `Unanswered` when the batch could not
        be scanned."""
        if self._compiled() is None:
            raise HyperscanGate.Unanswered("Hyperscan does not run here")
        if not texts or not self.patterns:
            return []
        array = _arrow_texts(texts)
        if array is None:
            return None
        found = self._scan_array(array)
        if found is None:
            raise HyperscanGate.Unanswered("scan stopped (too many matches) or failed")
        import numpy as np

        # A match running across two texts only adds the second (a superset is all a gate needs).
        return np.unique(found[0]).tolist()


class Prefilter:
    """Answers, per text, which of the enabled pattern entities could be present."""

    def __init__(self, entities: Iterable[str]) -> None:
        self.entities = tuple(sorted(set(entities)))
        unknown = [e for e in self.entities if e not in TRIGGERS]
        if unknown:
            raise ValueError(f"no prefilter trigger for {unknown}; known: {sorted(TRIGGERS)}")
        self._per_entity = {e: _per_entity_test(e) for e in self.entities}
        digit_gates = sorted({_DIGIT_GATES[e] for e in self.entities if e in _DIGIT_GATES})
        self._digit_gate = (
            re.compile(r"\d(?:" + "|".join(digit_gates) + ")") if digit_gates else None
        )
        self._substrings = tuple(
            sorted({s for e in self.entities for s in _SUBSTRING_GATES.get(e, ())})
        )
        # Eight-group IPv6 with no decimal digit at all ("abcd:ef01:...") passes no digit gate.
        self._ipv6_full = re.compile(_IPV6_FULL) if "IP_ADDRESS" in self.entities else None
        self.batch_pattern = _batch_pattern(self.entities)

    def may_contain(self, text: str) -> bool:
        """False when no enabled entity can be in `text` (the common case, decided cheaply)."""
        if any(s in text for s in self._substrings):
            return True
        if self._digit_gate is not None and self._digit_gate.search(text):
            return True
        # The full form has seven colons; counting them is far cheaper than the hex-group regex.
        return self._ipv6_full is not None and text.count(":") >= 7 and bool(self._ipv6_full.search(text))

    def candidates(self, text: str) -> list[str]:
        """The enabled entities whose trigger occurs in `text`, sorted; empty means skip it."""
        if not self.may_contain(text):
            return []
        return [
            e
            for e, trigger in self._per_entity.items()
            if trigger(text) and (e not in REFINEMENTS or REFINEMENTS[e](text))
        ]

    def candidates_many(self, texts: Sequence[str]) -> list[list[str]]:
        """`candidates` of each text, the triggers tested first for all the texts at once.

        One RE2 pass per entity over the texts (`_RE2_TRIGGERS`, supersets of the triggers)
        rules most entities out of most texts; the Python trigger and refinement run only where
        it matched, so each text's list is what `candidates` returns.
        """
        if not texts:
            return []
        array = _arrow_texts(texts) if len(texts) > 1 else None
        if array is None:
            return [self.candidates(text) for text in texts]
        import pyarrow.compute as pc

        hits: dict[str, list[bool]] = {}
        by_pattern: dict[str, list[bool]] = {}
        for entity in self.entities:
            pattern = _RE2_TRIGGERS[entity]
            if pattern not in by_pattern:
                by_pattern[pattern] = pc.match_substring_regex(array, pattern).to_pylist()
            hits[entity] = by_pattern[pattern]
        tests = [(hits[e], test, REFINEMENTS.get(e), e) for e, test in self._per_entity.items()]
        out: list[list[str]] = []
        for k, text in enumerate(texts):
            found: list[str] = []
            checked = False
            for hit, test, refine, entity in tests:
                if not hit[k]:
                    continue
                if not checked:
                    if not self.may_contain(text):
                        break
                    checked = True
                # A refinement passes only texts its trigger matches (`has_phone_candidate`
                # looks at the trigger's digit runs), so it stands for both.
                if refine(text) if refine is not None else test(text):
                    found.append(entity)
            out.append(found)
        return out

    def triggered(self, text: str) -> list[str]:
        """The enabled entities whose regex trigger occurs in `text`, before any refinement."""
        return [e for e, trigger in self._per_entity.items() if trigger(text)]
