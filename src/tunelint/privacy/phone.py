"""Phone numbers in chat text: python-phonenumbers' matcher, kept to phone-shaped matches.

phonenumbers validates digits against numbering plans, so an 8-10 digit order number,
timestamp or decimal often passes; `phone_evidence` judges the shape and the words before it.
The matcher (one pass per region, ~0.1 ms per candidate each) runs only on short windows
around digit runs that could pass that judgement.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import phonenumbers
import phonenumbers.phonenumbermatcher as _matcher_module
from phonenumbers.phonenumbermatcher import (
    _INNER_MATCHES,
    _UNWANTED_END_CHAR_PATTERN,
    _choose_formatting_pattern_for_number,
)
from phonenumbers.phonenumberutil import (
    _formatting_rule_has_first_group_only,
    _maybe_strip_national_prefix_carrier_code,
)
from tunelint.privacy.shapes import PHONE_DIGIT_RUN, PHONE_PUNCTUATION
from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# The punctuation python-phonenumbers accepts between the digit blocks of a number
# (phonenumbermatcher's _PUNCTUATION), at most four in a row. A test pins it to the library.
# Words that, shortly before a number, say it is a phone number...
_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|cellphone|call|calling|fax|sms|whatsapp|dial|"
    r"hotline|reach|ring|text me)\b",
    re.IGNORECASE,
)
# ...and words that say it is some other identifier.
_OTHER_NUMBER_CONTEXT = re.compile(
    r"\b(?:order|invoice|ref|reference|isbn|issn|serial|tracking|account|acct|sku|part|ticket|"
    r"case|id|batch|lot|model|version|build|zip|postcode|population|licen[cs]e|passport|"
    r"policy|routing|iban|ssn)\b",
    re.IGNORECASE,
)
_CONTEXT_WINDOW = 40
_DIGIT_BLOCKS = re.compile(r"\d+")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
# A calendar date inside a longer digit stretch ("21:38 2027-08-27" reads as one stretch).
_EMBEDDED_DATE = re.compile(
    r"(?<!\d)(?:(?:19|20)\d\d([-/.])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])([-/.])(?:0?[1-9]|1[0-2])\2(?:19|20)\d\d)(?!\d)"
)
_EXTENSION = re.compile(r"(?i)\d\s*(?:x|ext)")
_EXTENSION_AFTER = re.compile(r"(?i)\s*(?:ext\.?|extension|x|#)\s*\d")
# E.164 caps a full international number at 15 digits; longer runs are cards or ids.
_MAX_PHONE_DIGITS = 15
# How far before its first digit a number's "+" or "(" can sit: phonenumbers allows a lead
# character followed by up to four punctuation characters.
_LEAD_REACH = 6
# Text kept on each side of a digit run when matching, snapped out to whitespace; the matcher
# looks at neighbouring characters (letters, "%", a following ":30") to reject candidates.
_WINDOW_MARGIN = 32
# Any stretch of digits joined by phone punctuation: the number as written around a match.
_DIGIT_STRETCH = re.compile(rf"\d(?:{PHONE_PUNCTUATION}{{0,4}}\d)*")
# Stretches that are some other number written in its usual form: a date, an IPv4 address,
# an SSN, a card number. A phonenumbers match inside one is a fragment of it.
_OTHER_NUMBER_SHAPE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}"
    r"|\d{3}-\d{2}-\d{4}"
    r"|\d{16,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{5}"
)

# An operand of arithmetic: an operator right after the number, or right before it.
_OPERATOR_AFTER = re.compile(r"\s*[=*×÷]")
_OPERATOR_BEFORE = re.compile(r"[=*×÷]\s*$")

STRONG = "strong"
GROUPED = "grouped"


def _stretch_around(text: str, position: int) -> tuple[int, int]:
    """The digit stretch of `text` that holds the digit at `position`."""
    for stretch in _DIGIT_STRETCH.finditer(text, max(0, position - 512), position + 512):
        if stretch.start() <= position < stretch.end():
            return stretch.span()
    return position, position + 1


def phone_evidence(text: str, start: int, end: int) -> str | None:
    """How a phonenumbers match reads: STRONG, GROUPED, or None (not a phone number).

    None: fewer than seven digits in a run; part of a price or decimal, or of a number written
    as a date, IPv4 address, SSN or card; an ISBN-like run of one-digit blocks; more than 15
    digits; an operand of arithmetic (an operator right after it, or right before it with no
    phone word nearby) unless written with a + country code. STRONG: written with a + country code, or a phone word shortly before the number.
    GROUPED: an (area) code or three or more digit blocks, with no other-identifier word
    ("order", "invoice", "ISBN", ...) shortly before it.
    """
    value = text[start:end]
    first_digit = _DIGIT_BLOCKS.search(value)
    if first_digit is None or PHONE_DIGIT_RUN.search(value) is None:
        return None
    if _DATE.fullmatch(value) or _EMBEDDED_DATE.search(value):
        return None
    run_start, run_end = _stretch_around(text, start + first_digit.start())
    if _OTHER_NUMBER_SHAPE.fullmatch(text, run_start, run_end):
        return None
    before = text[max(0, start - 2) : start]
    if before[-1:] in ("#", "$", "€", "£", "¥") or re.search(r"\d[.,]$", before):
        return None
    if re.match(r"[.,]\d", text[end : end + 2]):
        return None
    blocks = _DIGIT_BLOCKS.findall(value.replace("(0)", ""))
    if sum(len(b) == 1 for b in blocks) > 1:
        return None
    if sum(map(len, blocks)) > _MAX_PHONE_DIGITS and not _EXTENSION.search(value):
        return None
    if set(re.sub(r"[\d\s]", "", value)) == {"."} and len(blocks) == 2:
        return None  # a decimal such as 12345678.90
    # Context is read before the whole stretch, searched in place so that a window edge
    # falling inside "string" does not make a "ring".
    lo = max(0, run_start - _CONTEXT_WINDOW)
    phone_word = _PHONE_CONTEXT.search(text, lo, run_start)
    country_code = re.match(r"\+\d", value) or (before[-1:] == "+" and value[:1].isdigit())
    # An operator after the number outweighs a phone word nearby ("on mobile ... 4500/500=9");
    # one before it does not ("phone = 415-555-0132").
    operator_before = _OPERATOR_BEFORE.search(text, max(0, start - 3), start) and not phone_word
    if (_OPERATOR_AFTER.match(text, end) or operator_before) and not country_code:
        return None  # "4500/500=9", "+ 100 x 20/100 * 7", "2a = 54 / 12 – 346 – 354"
    if value.startswith("+") or before[-1:] == "+" or phone_word:
        return STRONG
    if _OTHER_NUMBER_CONTEXT.search(text, lo, run_start):
        return None
    if "(" in value or len(blocks) >= 3:
        return GROUPED
    return None


def _run_may_be_phone(text: str, start: int, end: int) -> bool:
    """Whether some match in the digit stretch text[start:end] could get `phone_evidence`.

    A superset of that test: a match's digits lie inside one stretch, its lead within
    _LEAD_REACH characters before it, and its blocks are the stretch's plus an extension.
    """
    if _OTHER_NUMBER_SHAPE.fullmatch(text, start, end):
        return False
    lo = max(0, start - _CONTEXT_WINDOW)
    if "+" in text[max(0, start - _LEAD_REACH) : start] or _PHONE_CONTEXT.search(text, lo, start):
        return True
    if _OTHER_NUMBER_CONTEXT.search(text, lo, start):
        return False
    if "(" in text[max(0, start - _LEAD_REACH) : end]:
        return True
    blocks = len(_DIGIT_BLOCKS.findall(text, start, end)) + bool(_EXTENSION_AFTER.match(text, end))
    return blocks >= 3


def _windows(text: str) -> Iterator[tuple[int, int]]:
    """Merged (start, end) windows around the digit runs that `_run_may_be_phone` keeps."""
    current: tuple[int, int] | None = None
    for run in PHONE_DIGIT_RUN.finditer(text):
        if not _run_may_be_phone(text, run.start(), run.end()):
            continue
        start = max(0, run.start() - _WINDOW_MARGIN)
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        end = min(len(text), run.end() + _WINDOW_MARGIN)
        while end < len(text) and not text[end].isspace():
            end += 1
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
        else:
            if current is not None:
                yield current
            current = (start, end)
    if current is not None:
        yield current


def has_phone_candidate(text: str) -> bool:
    """Whether the recognizer would look anywhere in `text` (its prefilter test)."""
    return next(_windows(text), None) is not None


@lru_cache(maxsize=None)
def _region_floor(region: str) -> tuple[int, re.Pattern[str]] | None:
    """(fewest digits, international dialling prefix) of the numbers valid when dialled in
    `region` without a + (None: no such bound holds for it).

    A number parsed in `region` keeps its country code unless it starts with the region's
    international prefix; its national significant number is made of the written digits
    (a national prefix or an extension only removes some), so it is never longer than them.
    Validity needs that length in the country's possible lengths: with fewer digits than the
    shortest of every region sharing the country code, `region` cannot find it valid. A
    national-prefix transform rule that writes digits of its own would break the bound.
    """
    return _digit_floor(region, _fewest_valid)


def _fewest_valid(desc: Any) -> list[int] | None:
    return [min(desc.possible_length)] if desc.possible_length else None


def _digit_floor(region: str, fewest: Callable[[Any], list[int] | None]) -> tuple[int, re.Pattern[str]] | None:
    """(fewest digits, international dialling prefix) for `region`: the least of `fewest(desc)`
    over the general descriptions of every region sharing its country code (None when one of
    them gives None, or the region has no international prefix, or its national-prefix
    transform rule writes digits of its own)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.international_prefix is None:
        return None
    rule = metadata.national_prefix_transform_rule
    if rule is not None and re.search(r"\d", re.sub(r"\\\d|\$\d", "", rule)):
        return None
    lengths: list[int] = []
    for other in phonenumbers.region_codes_for_country_code(phonenumbers.country_code_for_region(region)):
        other_metadata = phonenumbers.PhoneMetadata.metadata_for_region(other, None)
        found = None if other_metadata is None else fewest(other_metadata.general_desc)
        if found is None:
            return None
        lengths += found
    if not lengths:
        return None
    return min(lengths), re.compile(metadata.international_prefix)


# Candidates the digit-count bound applies to: no plus sign (the country code would come from
# the number), fewer than three ASCII letters (phonenumbers reads three or more as keypad
# digits; fewer can only start an extension, which removes digits) and no character outside
# ASCII that Python counts as a letter or digit (so every digit phonenumbers sees is an ASCII
# one `_NON_DIGITS` keeps: its digits are a subset of Unicode's).
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_NON_DIGITS = re.compile(r"\D+")


def _plain(candidate: str) -> bool:
    if "+" in candidate or "\uff0b" in candidate:
        return False
    if not candidate.isascii() and any(ch.isalnum() for ch in candidate if not ch.isascii()):
        return False
    return len(_ASCII_LETTER.findall(candidate)) < 3


# Candidates written as "+<country code>...": ASCII, no letters, a plus before any digit.
_PLUS_CANDIDATE = re.compile(r"[^A-Za-z0-9+]*\+[^A-Za-z]*")


class _Desc(NamedTuple):
    """A number description as `_is_number_matching_desc` reads it, its pattern compiled."""

    lengths: frozenset[int]  # possible lengths (empty: any)
    pattern: re.Pattern[str]

    def matches(self, number: str) -> bool:
        return (not self.lengths or len(number) in self.lengths) and self.pattern.fullmatch(number) is not None


def _type_descs(metadata: phonenumbers.PhoneMetadata) -> tuple[_Desc, ...]:
    """The descriptions `_number_type_helper` tries after the general one, in its order: a number
    has a type when one of them matches (mobile only when its pattern differs from fixed line's)."""
    descs = [metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
             metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail, metadata.fixed_line]
    if not metadata.same_mobile_and_fixed_line_pattern:
        descs.append(metadata.mobile)
    return tuple(
        _Desc(frozenset(d.possible_length), re.compile(d.national_number_pattern))
        for d in descs
        if d is not None and d.national_number_pattern
    )


def _prefix_pattern(metadata: phonenumbers.PhoneMetadata) -> re.Pattern[str] | None:
    rule = metadata.national_prefix_for_parsing
    return re.compile(rule) if rule else None


class _NationalRules(NamedTuple):
    """What decides, for a region, which national significant numbers a plain candidate can give."""

    code: str  # the region's country calling code, as digits
    own: phonenumbers.PhoneMetadata  # the region's metadata
    main: phonenumbers.PhoneMetadata  # the country's main region's metadata
    after_code: phonenumbers.PhoneMetadata  # what `parse` strips with once the code was read
    own_prefix: re.Pattern[str] | None  # national_prefix_for_parsing of `own` and of `after_code`
    after_code_prefix: re.Pattern[str] | None
    # By possible length: each region's general-description pattern and its type descriptions.
    descs: dict[int, tuple[tuple[re.Pattern[str], tuple[_Desc, ...]], ...]]


@lru_cache(maxsize=None)
def _national_rules(region: str) -> _NationalRules | None:
    """How `region` reads a candidate's digits (None: not bounded this way).

    `parse` reads a candidate with no plus sign and not starting with the region's
    international prefix with `region`'s country code, and its national significant number
    (`_national_numbers`) is one of: the digits, or the digits with the region's national
    prefix stripped (or transformed); or, when the digits start with the country code, the rest
    stripped with the region's rules, then possibly again with the main region's. VALID then
    needs a type (`_number_type_helper`, which first matches the general description: a
    possible length, the pattern) in one of the country's regions.
    """
    code = phonenumbers.country_code_for_region(region)
    main = phonenumbers.region_code_for_country_code(code)
    own = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    main_metadata = phonenumbers.PhoneMetadata.metadata_for_region(main, None)
    if own is None or main_metadata is None:
        return None
    by_length: dict[int, list[tuple[re.Pattern[str], tuple[_Desc, ...]]]] = {}
    for other in phonenumbers.region_codes_for_country_code(code):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(other, None)
        desc = getattr(metadata, "general_desc", None)
        if desc is None or not desc.possible_length or not desc.national_number_pattern:
            return None
        pattern = re.compile(desc.national_number_pattern)
        types = _type_descs(metadata)
        for length in desc.possible_length:
            by_length.setdefault(length, []).append((pattern, types))
    if not by_length:
        return None
    after_code = main_metadata if main != region else own
    return _NationalRules(str(code), own, main_metadata, after_code, _prefix_pattern(own),
                          _prefix_pattern(after_code), {n: tuple(p) for n, p in by_length.items()})


def _national_prefix_stripped(number: str, metadata: phonenumbers.PhoneMetadata,
                              prefix: re.Pattern[str] | None) -> str:
    """What `_maybe_strip_national_prefix_carrier_code` leaves of `number` (`prefix`: the
    metadata's national prefix for parsing, compiled: when it does not match, nothing is cut)."""
    if prefix is None or not number or not prefix.match(number):
        return number
    return _maybe_strip_national_prefix_carrier_code(number, metadata)[1]


def _typed(number: str, rules: _NationalRules) -> bool:
    """Whether the national significant number `number` has a type in one of the country's
    regions (`_number_type_helper` is not UNKNOWN: the general description and then a type's)."""
    descs = rules.descs.get(len(number))
    return descs is not None and any(
        p.fullmatch(number) and any(d.matches(number) for d in types) for p, types in descs
    )


def _prefix_present_if_required(number: str, raw_digits: str, main: phonenumbers.PhoneMetadata) -> bool:
    """phonenumbers' VALID test for a number whose country code came from the region: when the
    main region's format for `number` wants a national prefix, the raw digits must start with one."""
    rule = _choose_formatting_pattern_for_number(main.number_format, number)
    if rule is None or not rule.national_prefix_formatting_rule:
        return True
    if rule.national_prefix_optional_when_formatting:
        return True
    if _formatting_rule_has_first_group_only(rule.national_prefix_formatting_rule):
        return True
    return bool(_maybe_strip_national_prefix_carrier_code(raw_digits, main)[2])


def _may_be_valid_national(digits: str, rules: _NationalRules, raw_digits: str) -> bool:
    """Whether a national significant number parsing `digits` can give (see `_national_rules`)
    passes VALID: a type in one of the country's regions, and, when the country code came from
    the region, the national prefix its format asks for at the start of `raw_digits` (every
    digit of the candidate: `_is_national_prefix_present_if_required`)."""
    if digits.startswith(rules.code):
        rest = _national_prefix_stripped(digits[len(rules.code):], rules.own, rules.own_prefix)
        if _typed(rest, rules) or _typed(_national_prefix_stripped(rest, rules.after_code, rules.after_code_prefix), rules):
            return True
    return any(
        _typed(n, rules) and _prefix_present_if_required(n, raw_digits, rules.main)
        for n in {digits, _national_prefix_stripped(digits, rules.own, rules.own_prefix)}
    )


# Digits and separators that can neither start an extension ("x", "#", ",", ";", "~", letters)
# nor carry a country code ("+"), and ASCII digits only.
_DIGITS_AND_SEPARATORS = re.compile("[0-9 ().\\[\\]/\u00a0\u2010-\u2015\u2212-]*")


def _cannot_be_valid(candidate: str, floor: tuple[int, re.Pattern[str]] | None,
                     rules: _NationalRules | None = None) -> bool:
    """Whether parsing `candidate` in the region of this `_region_floor` (and `_national_rules`)
    cannot give a valid number."""
    if floor is None or not _plain(candidate):
        return False
    digits = _NON_DIGITS.sub("", candidate)
    if floor[1].match(digits):
        return False
    if len(digits) < floor[0]:
        return True
    if rules is None:
        return False
    if _DIGITS_AND_SEPARATORS.fullmatch(candidate):
        return not _may_be_valid_national(digits, rules, digits)
    # A letter or an extension mark: the number read can be any prefix of the digits (parsing
    # only cuts a tail off: an extension, a second number, an ISDN subaddress), and one
    # shorter than the floor cannot be valid.
    for end in range(floor[0], len(digits) + 1):
        head = digits[:end]
        if floor[1].match(head) or _may_be_valid_national(head, rules, digits):
            return False
    return True


@lru_cache(maxsize=65536)
def _region_free(candidate: str) -> bool:
    """Whether phonenumbers parses and verifies `candidate` the same way whatever the region.

    A number written "+<country code>" takes its country from the number; the region would only
    be read if no country code followed the plus (phonenumbers then retries the digits as
    dialled from the region), so the digits after the plus must start with a known code.
    """
    if not candidate.isascii() or not _PLUS_CANDIDATE.fullmatch(candidate):
        return False
    digits = _NON_DIGITS.sub("", candidate)
    if len(digits) <= 2:
        return True  # too short after the plus: an error whatever the region
    return digits[0] != "0" and any(
        int(digits[:k]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE for k in (1, 2, 3)
    )


@lru_cache(maxsize=65536)
def _cannot_be_valid_in(candidate: str, region: str) -> bool:
    """`_cannot_be_valid` for `region`, remembered: every region's matcher asks it of the same
    candidates (and chat text repeats short ones: "2 x 100", "2024")."""
    return _cannot_be_valid(candidate, _region_floor(region), _national_rules(region))


@lru_cache(maxsize=65536)
def _parses_alike(candidate: str, first: str, region: str) -> bool:
    """Whether `parse` gives the same number for `candidate` in both regions, so VALID answers alike.

    Two regions of one country code read a candidate of ASCII digits and separators the same
    way when its digits start with neither the code nor either region's international or
    national prefix: the country code is the regions', the national number all the digits.
    """
    if phonenumbers.country_code_for_region(first) != phonenumbers.country_code_for_region(region):
        return False
    if not _DIGITS_AND_SEPARATORS.fullmatch(candidate):
        return False
    digits = _NON_DIGITS.sub("", candidate)
    if not digits or digits.startswith(str(phonenumbers.country_code_for_region(region))):
        return False
    for name in (first, region):
        prefixes = _dialling_prefixes(name)
        if prefixes is None:
            return False
        if any(prefix.match(digits) for prefix in prefixes):
            return False
    return True


@lru_cache(maxsize=None)
def _dialling_prefixes(region: str) -> tuple[re.Pattern[str], ...] | None:
    """`region`'s international prefix and national prefix for parsing, compiled (None: it has
    no international prefix)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.international_prefix is None:
        return None
    prefix = _prefix_pattern(metadata)
    return (re.compile(metadata.international_prefix),) + (() if prefix is None else (prefix,))


def _same_answer(candidate: str, matched: bool, first: str, region: str) -> bool:
    """Whether `region`'s `_parse_and_verify` answers `candidate` as `first`'s did."""
    return (
        _region_free(candidate)
        or (not matched and _cannot_be_valid_in(candidate, region))
        or _parses_alike(candidate, first, region)
    )


def _inner_candidates(candidate: str) -> list[tuple[str, int]]:
    """Every (candidate, offset in `candidate`) phonenumbers' `_extract_inner_match` can try
    inside `candidate`, in its order (all of them: its try limit can only stop it earlier)."""
    out = []
    for pattern in _INNER_MATCHES:
        group_match = pattern.search(candidate)
        if group_match is not None:
            out.append((_trimmed(candidate[: group_match.start()]), 0))
        while group_match is not None:
            out.append((_trimmed(group_match.group(1)), group_match.start(1)))
            group_match = pattern.search(candidate, group_match.start() + 1)
    return out


def _trimmed(candidate: str) -> str:
    # PhoneNumberMatcher._trim_after_first_match with the unwanted-end-characters pattern.
    trailing = _UNWANTED_END_CHAR_PATTERN.search(candidate)
    return candidate if trailing is None else candidate[: trailing.start()]


@lru_cache(maxsize=65536)
def _inner_cannot_be_valid(candidate: str, region: str) -> int | None:
    """How many candidates `_extract_inner_match` can try inside `candidate` once the whole of
    it failed in `region`, when none of them can be valid there (None: one can). The whole
    candidate again at its own offset fails again: parsing reads only the candidate."""
    inner = _inner_candidates(candidate)
    if all((c == candidate and at == 0) or _cannot_be_valid_in(c, region) for c, at in inner):
        return len(inner)
    return None


@lru_cache(maxsize=65536)
def _answering_otherwise(candidate: str, matched: bool, first: str, regions: tuple[str, ...]) -> frozenset[str]:
    """The `regions` whose `_parse_and_verify` may answer `candidate` otherwise than `first`'s did."""
    if _region_free(candidate):
        return frozenset()
    return frozenset(r for r in regions if not _same_answer(candidate, matched, first, r))


# Fewer tries than this in all (phonenumbers gives up after 65,535 failed ones) and replaying a
# matcher's search in another region cannot run out of tries where the other's would not.
_REPLAY_TRIES = 60000


def _parse_leaving_no_cycle(parse: Callable[..., Any]) -> Callable[..., Any]:
    """`parse` for phonenumbers' matcher, with what a failed parse leaves freed at once.

    phonenumbers' `parse` keeps the exception it is re-raising in a local (`_, e, _ =
    sys.exc_info()`): exception, traceback and frame form a cycle, and through the frames'
    callers it holds every frame up the stack, the batch of examples being checked among them
    (4,096 examples, ~35,000 objects) until the collector finds it. The frames the failure
    passed through are cleared before it goes on, so nothing is left for the collector.
    """

    def parse_once(*args: Any, **kwargs: Any) -> Any:
        try:
            return parse(*args, **kwargs)
        except phonenumbers.NumberParseException as exc:
            traceback.clear_frames(exc.__traceback__)
            raise

    parse_once.__wrapped__ = parse  # type: ignore[attr-defined]
    return parse_once


if not hasattr(_matcher_module.parse, "__wrapped__"):
    _matcher_module.parse = _parse_leaving_no_cycle(_matcher_module.parse)


class _ValidMatcher(phonenumbers.PhoneNumberMatcher):
    """phonenumbers' matcher at VALID leniency, not parsing what cannot be valid in its region.

    Most candidates it tries are short digit groups ("2024", "15") that no region of the list
    accepts; they are answered "no match" without parsing, which is what parsing would say, so
    the matches (and the order the matcher searches in) are the library's own. It remembers
    which candidates it tried and what it answered (`tried`), and each candidate its search
    extracted a match from (`calls`), for `spans_in`.
    """

    def __init__(self, text: str, region: str) -> None:
        super().__init__(text, region, leniency=phonenumbers.Leniency.VALID)
        self.tried: list[tuple[str, bool]] = []
        # The matches it parsed, by (offset, candidate): `_PossibleMatcher` reads them.
        self.parsed: dict[tuple[int, str], Any] = {}
        # (candidate, offset, first and end index into `tried`, the match or None)
        self.calls: list[tuple[str, int, int, int, Any]] = []

    def _parse_and_verify(self, candidate: str, offset: int):  # type: ignore[no-untyped-def]
        if _cannot_be_valid_in(candidate, self.preferred_region):
            found = None
        else:
            found = super()._parse_and_verify(candidate, offset)
            if found is not None:
                self.parsed[(offset, candidate)] = found
        self.tried.append((candidate, found is not None))
        return found

    def _extract_match(self, candidate: str, offset: int):  # type: ignore[no-untyped-def]
        mark = len(self.tried)
        found = super()._extract_match(candidate, offset)
        self.calls.append((candidate, offset, mark, len(self.tried), found))
        return found

    def differing(self, regions: tuple[str, ...]) -> list[frozenset[str]]:
        """Per extraction of this search (`calls`), the `regions` in which one of its tried
        candidates may be answered otherwise (`_same_answer` is False)."""
        first = self.preferred_region
        tried = self.tried
        out = []
        for _candidate, _offset, lo, hi, _found in self.calls:
            regions_ = [_answering_otherwise(c, matched, first, regions) for c, matched in tried[lo:hi]]
            out.append(frozenset().union(*regions_) if len(regions_) != 1 else regions_[0])
        return out

    def spans_in(self, region: str, differs: list[frozenset[str]] | None = None) -> list[tuple[int, int]]:
        """(start, end) of the matches the matcher of `region` finds over the same text (run to
        the end first).

        The matcher's search depends on the region only through `_parse_and_verify`'s answers.
        It takes the candidates the text offers one after the other, each from where the last
        one's match (or the candidate itself, when none) ended. A candidate whose every tried
        answer `region` would give alike (`_same_answer`) yields the same match there; any other
        is extracted again in `region`. While each ends where this search's did, the next
        candidate is the same one, so only those are redone; when one does not, or the tries
        come near phonenumbers' limit, `region`'s matcher is run over the whole text.
        `differs`: `differing()` for a tuple of regions holding `region`, when known.
        """
        other: _ValidMatcher | None = None
        spans: list[tuple[int, int]] = []
        first = self.preferred_region
        tried = self.tried
        skipped = 0
        for k, (candidate, offset, lo, hi, found) in enumerate(self.calls):
            if (region not in differs[k] if differs is not None
                    else all(_same_answer(c, matched, first, region) for c, matched in tried[lo:hi])):
                if found is not None:
                    spans.append((found.start, found.end))
                continue
            if found is not None and hi - lo == 1 and found.start == offset and found.end == offset + len(candidate):
                # The whole candidate matched here. In `region` it matches whole too (the same
                # span, found already), or fails and the inner candidates are tried; when none
                # of them can be valid there, it finds nothing: no new span either way, and its
                # search goes on from the same place. (Its tries are counted all the same.)
                inner = _inner_cannot_be_valid(candidate, region)
                if inner is not None:
                    skipped += 1 + inner
                    continue
            if other is None:
                other = _ValidMatcher(self.text, region)
            theirs = other._extract_match(candidate, offset)
            ours_end = offset + len(candidate) if found is None else found.end
            if (offset + len(candidate) if theirs is None else theirs.end) != ours_end:
                return [(m.start, m.end) for m in _ValidMatcher(self.text, region)]
            if theirs is not None:
                spans.append((theirs.start, theirs.end))
        if len(tried) + len(self.calls) + skipped + (len(other.tried) if other is not None else 0) >= _REPLAY_TRIES:
            return [(m.start, m.end) for m in _ValidMatcher(self.text, region)]
        return spans


@lru_cache(maxsize=None)
def _possible_floor(region: str) -> tuple[int, re.Pattern[str]] | None:
    """(fewest digits, international dialling prefix) of the numbers `is_possible_number` accepts
    when dialled in `region` without a + (None: no such bound).

    As in `_region_floor`, such a candidate keeps the region's country code and its national
    significant number is never longer than its digits; a possible number needs a length the
    country lists as possible or local-only.
    """
    return _digit_floor(region, _possible_lengths)


def _possible_lengths(desc: Any) -> list[int]:
    return [n for n in (*desc.possible_length, *desc.possible_length_local_only) if n > 0]


class _PossibleMatcher(phonenumbers.PhoneNumberMatcher):
    """phonenumbers' matcher at POSSIBLE leniency, not parsing candidates too short to be possible.

    `parsed`: the matches a VALID matcher of the same text and region found, by (offset,
    candidate). Such a candidate parses to the same number here (`parse` reads only the
    candidate and the region), and the checks VALID makes before parsing are a superset of
    POSSIBLE's, so its answer here is whether that number is possible: no second parse.
    """

    def __init__(self, text: str, region: str, parsed: dict[tuple[int, str], Any] | None = None) -> None:
        super().__init__(text, region, leniency=phonenumbers.Leniency.POSSIBLE)
        self._floor = _possible_floor(region)
        self._parsed = parsed or {}

    def _parse_and_verify(self, candidate: str, offset: int):  # type: ignore[no-untyped-def]
        known = self._parsed.get((offset, candidate))
        if known is not None:
            return known if phonenumbers.is_possible_number(known.number) else None
        if _cannot_be_valid(candidate, self._floor):
            return None
        return super()._parse_and_verify(candidate, offset)


@lru_cache(maxsize=16384)
def _matches(
    text: str, regions: tuple[str, ...], possible: bool
) -> tuple[tuple[int, int, bool], ...]:
    """(start, end, valid) of phonenumbers' matches: valid in a region, or merely possible.

    Cached because chat datasets repeat the same lines (signatures, templates) many times.
    The first region's matcher is run; each other region's search is replayed from it, redoing
    only the candidates whose answers could differ there (`_ValidMatcher.spans_in`).
    """
    found: dict[tuple[int, int], bool] = {}
    first = _ValidMatcher(text, regions[0])
    for match in first:
        found[(match.start, match.end)] = True
    others = regions[1:]
    if others:
        differs = first.differing(others)
        differing = frozenset().union(*differs)
        near_limit = len(first.tried) + len(first.calls) >= _REPLAY_TRIES
        for region in others:
            # Where every tried candidate is answered alike, the region's search is this one's:
            # its matches are found already.
            if region in differing or near_limit:
                for span in first.spans_in(region, differs):
                    found[span] = True
    if possible:
        for match in _PossibleMatcher(text, regions[0], first.parsed):
            found.setdefault((match.start, match.end), False)
    return tuple((start, end, valid) for (start, end), valid in sorted(found.items()))


class ChatPhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer, keeping only phone-shaped matches.

    Numbers valid in one of `supported_regions` are kept when STRONG or GROUPED; numbers that
    are merely possible (right length, e.g. from a country outside the list) only when STRONG.
    `windowed=False` runs the matcher over the whole text (same result, for testing).
    """

    def __init__(
        self,
        supported_regions: Sequence[str] = PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS,
        windowed: bool = True,
    ) -> None:
        unknown = sorted(set(supported_regions) - phonenumbers.SUPPORTED_REGIONS)
        if unknown or not supported_regions:
            raise ValueError(
                "phone regions must be ISO 3166 codes known to phonenumbers, "
                f"got {unknown or 'none'}"
            )
        super().__init__(supported_regions=tuple(supported_regions))
        self.windowed = windowed

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        regions = tuple(self.supported_regions)
        if self.windowed:
            candidates = [
                (start + s, start + e, valid)
                for start, end in _windows(text)
                for s, e, valid in _matches(
                    text[start:end], regions, self._possible_gate(text, start, end)
                )
            ]
        else:
            candidates = list(_matches(text, regions, self._possible_gate(text, 0, len(text))))
        results = []
        for start, end, valid in candidates:
            evidence = phone_evidence(text, start, end)
            if evidence == STRONG or (valid and evidence == GROUPED):
                results.append(self._result(start, end))
        return EntityRecognizer.remove_duplicates(results)

    @staticmethod
    def _possible_gate(text: str, start: int, end: int) -> bool:
        # Merely-possible numbers count only when STRONG: a "+" or a phone word before them.
        lo = max(0, start - _CONTEXT_WINDOW)
        return "+" in text[start:end] or _PHONE_CONTEXT.search(text, lo, end) is not None

    def _result(self, start: int, end: int) -> RecognizerResult:
        return RecognizerResult(
            entity_type=self.supported_entities[0],
            start=start,
            end=end,
            score=self.SCORE,
            analysis_explanation=AnalysisExplanation(
                recognizer=type(self).__name__,
                original_score=self.SCORE,
                textual_explanation="phone number shape, validated by python-phonenumbers",
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )
