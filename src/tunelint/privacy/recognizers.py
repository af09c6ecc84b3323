"""Presidio recognizers tuned for chat data: offline, stricter on ordinary numbers.

Each class narrows a Presidio recognizer so that order numbers, prices, dates, timestamps and
coordinates are not reported, and so that nothing is fetched from the network.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

from tunelint.privacy.prefilter import PHONE_DIGIT_RUN


@lru_cache(maxsize=1)
def _offline_suffix_extractor() -> tldextract.TLDExtract:
    # No suffix-list URLs and no cache dir: tldextract reads the snapshot bundled in the
    # package instead of downloading publicsuffix.org's list (the module-level
    # `tldextract.extract` that Presidio calls would try the network first).
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer, validating the domain against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return _offline_suffix_extractor()(pattern_text).fqdn != ""


# (lowest prefix, highest prefix, allowed lengths) of issuer ranges in use; a digit string
# outside them is an account, order or tracking number whatever its Luhn digit says.
_CARD_RANGES: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15})),  # American Express
    ("37", "37", frozenset({15})),
    ("300", "305", frozenset(range(14, 20))),  # Diners Club
    ("3095", "3095", frozenset(range(14, 20))),
    ("36", "36", frozenset(range(14, 20))),
    ("38", "39", frozenset(range(14, 20))),
    ("3528", "3589", frozenset(range(16, 20))),  # JCB
    ("2131", "2131", frozenset({15})),  # JCB, legacy ranges
    ("1800", "1800", frozenset({15})),
    ("2200", "2204", frozenset(range(16, 20))),  # Mir
    ("50", "50", frozenset(range(12, 20))),  # Maestro
    ("56", "69", frozenset(range(12, 20))),  # Maestro, Discover, UnionPay, RuPay
)


def card_issuer_matches(digits: str) -> bool:
    """Whether `digits` has the prefix and length of a card network's numbers."""
    return any(
        low <= digits[: len(low)] <= high and len(digits) in lengths
        for low, high, lengths in _CARD_RANGES
    )


_NOT_AFTER = r"(?<![\w.,])"
_NOT_BEFORE = r"(?!\d)(?![.,]\d)"


class CardRecognizer(CreditCardRecognizer):
    """Card numbers as people write them, valid only with a known issuer range and Luhn digit.

    Presidio's pattern misses 19-digit and 12-digit cards and the Mastercard 2-series; this one
    takes 12-19 digits written solid or in the printed groupings, one separator style each.
    """

    PATTERNS = [
        Pattern("card solid", _NOT_AFTER + r"\d{12,19}" + _NOT_BEFORE, 0.3),
        Pattern("card 4-4-4-4", _NOT_AFTER + r"\d{4}([ -])\d{4}\1\d{4}\1\d{4}" + _NOT_BEFORE, 0.3),
        Pattern(
            "card 4-4-4-4-n", _NOT_AFTER + r"\d{4}([ -])\d{4}\1\d{4}\1\d{4}\1\d{1,3}" + _NOT_BEFORE, 0.3
        ),
        Pattern("card 4-6-4/5", _NOT_AFTER + r"\d{4}([ -])\d{6}\1\d{4,5}" + _NOT_BEFORE, 0.3),
        # Short cards (12-15 digits); not the head of a longer group run.
        Pattern(
            "card 4-4-4(-n)",
            _NOT_AFTER + r"\d{4}([ -])\d{4}\1\d{4}(?:\1\d{1,3})?(?![ -]?\d)(?![.,]\d)",
            0.3,
        ),
    ]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS)

    def validate_result(self, pattern_text: str) -> bool:
        digits = re.sub(r"[ -]", "", pattern_text)
        if len(set(digits)) == 1 or not card_issuer_matches(digits):
            return False
        return bool(super().validate_result(pattern_text))


class CaseInsensitiveIbanRecognizer(IbanRecognizer):
    """Presidio's IBAN recognizer (country format + mod-97 checksum), also for lower case."""

    def __init__(self) -> None:
        super().__init__(regex_flags=re.DOTALL | re.MULTILINE | re.IGNORECASE)

    def validate_result(self, pattern_text: str) -> bool | None:
        return super().validate_result(pattern_text.upper())


class StrictSsnRecognizer(UsSsnRecognizer):
    """Presidio's SSN rules plus the 900-999 area, which the SSA never issues (ITINs live there)."""

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = "".join(c for c in pattern_text if c.isdigit())
        return digits[:1] == "9" or bool(super().invalidate_result(pattern_text))


# Words that, shortly before a number, say it is a phone number...
_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|cellphone|call|calling|fax|sms|whatsapp|dial|"
    r"hotline|reach|ring|text me)\b",
    re.IGNORECASE,
)
# ...and words that say it is some other identifier.
_OTHER_NUMBER_CONTEXT = re.compile(
    r"\b(?:order|invoice|ref|reference|isbn|issn|serial|tracking|account|acct|sku|part|ticket|"
    r"case|id|batch|lot|model|version|build|zip|postcode|population)\b",
    re.IGNORECASE,
)
_CONTEXT_WINDOW = 40
_DIGIT_BLOCKS = re.compile(r"\d+")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_EXTENSION = re.compile(r"(?i)\d\s*(?:x|ext)")
# E.164 caps a full international number at 15 digits; longer runs are cards or ids.
_MAX_PHONE_DIGITS = 15

STRONG = "strong"
GROUPED = "grouped"


def phone_evidence(text: str, start: int, end: int) -> str | None:
    """How a python-phonenumbers match reads: STRONG, GROUPED, or None (not a phone number).

    phonenumbers checks digits against numbering plans, so an 8-10 digit order number,
    timestamp or decimal can pass; the shape decides here. None: fewer than seven digits in
    a run, part of a price or decimal, a date, an ISBN-like run of one-digit blocks, more than
    15 digits. STRONG: written with a + country code or introduced by a phone word. GROUPED:
    an (area) code or three or more digit blocks, with no other-identifier word before it.
    """
    value = text[start:end]
    if PHONE_DIGIT_RUN.search(value) is None or _DATE.fullmatch(value):
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
    window = text[max(0, start - _CONTEXT_WINDOW) : start]
    if value.startswith("+") or before[-1:] == "+" or _PHONE_CONTEXT.search(window):
        return STRONG
    if _OTHER_NUMBER_CONTEXT.search(window):
        return None
    if "(" in value or len(blocks) >= 3:
        return GROUPED
    return None


class ChatPhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer (python-phonenumbers), keeping only phone-shaped matches.

    Numbers valid in the default regions are kept when STRONG or GROUPED; numbers that are
    merely possible (valid length, any region, e.g. from a country outside the list) are kept
    when STRONG, i.e. after a + or a phone word.
    """

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = [
            r
            for r in super().analyze(text, entities, nlp_artifacts)
            if phone_evidence(text, r.start, r.end) is not None
        ]
        if "+" in text or _PHONE_CONTEXT.search(text):
            seen = {(r.start, r.end) for r in results}
            for match in phonenumbers.PhoneNumberMatcher(
                text, self.supported_regions[0], leniency=phonenumbers.Leniency.POSSIBLE
            ):
                span = (match.start, match.end)
                if span not in seen and phone_evidence(text, *span) == STRONG:
                    results.append(
                        self._get_recognizer_result(match, text, None, nlp_artifacts)
                    )
        return EntityRecognizer.remove_duplicates(results)


def pattern_recognizers() -> dict[str, EntityRecognizer]:
    """One fresh recognizer per pattern entity this package supports, keyed by entity."""
    return {
        "EMAIL_ADDRESS": OfflineEmailRecognizer(),
        "PHONE_NUMBER": ChatPhoneRecognizer(),
        "CREDIT_CARD": CardRecognizer(),
        "IBAN_CODE": CaseInsensitiveIbanRecognizer(),
        "US_SSN": StrictSsnRecognizer(),
        "IP_ADDRESS": IpRecognizer(),
        "CRYPTO": CryptoRecognizer(),
    }
