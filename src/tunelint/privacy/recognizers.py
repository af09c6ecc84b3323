"""Presidio recognizers tuned for chat data: offline, stricter on ordinary numbers.

Each class narrows a Presidio recognizer so that order numbers, prices, dates, timestamps and
coordinates are not reported, and so that nothing is fetched from the network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import tldextract
from presidio_analyzer import EntityRecognizer, Pattern
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    UsSsnRecognizer,
)

from tunelint.privacy.phone import ChatPhoneRecognizer


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
            "card 4-4-4-4-n",
            _NOT_AFTER + r"\d{4}([ -])\d{4}\1\d{4}\1\d{4}\1\d{1,3}" + _NOT_BEFORE,
            0.3,
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
    """Presidio's SSN rules plus the 900-999 area, which the SSA never issues (ITINs live there).

    Only Presidio's 3-2-4 pattern: its bare nine-digit and 5-4 patterns score 0.05, which
    context words could lift only with an NLP model, and they match every nine-digit id.
    """

    def __init__(self) -> None:
        super().__init__(patterns=[p for p in self.PATTERNS if p.name == "SSN5 (medium)"])

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = "".join(c for c in pattern_text if c.isdigit())
        return digits[:1] == "9" or bool(super().invalidate_result(pattern_text))


def pattern_recognizers(
    phone_regions: Sequence[str] = ChatPhoneRecognizer.DEFAULT_SUPPORTED_REGIONS,
) -> dict[str, EntityRecognizer]:
    """One fresh recognizer per pattern entity this package supports, keyed by entity."""
    return {
        "EMAIL_ADDRESS": OfflineEmailRecognizer(),
        "PHONE_NUMBER": ChatPhoneRecognizer(supported_regions=phone_regions),
        "CREDIT_CARD": CardRecognizer(),
        "IBAN_CODE": CaseInsensitiveIbanRecognizer(),
        "US_SSN": StrictSsnRecognizer(),
        "IP_ADDRESS": IpRecognizer(),
        "CRYPTO": CryptoRecognizer(),
    }
