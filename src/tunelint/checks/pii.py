"""pii (P001): personal data in training examples, ranked by who says it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from tunelint.checks._privacy import PrivacyCheck, Scanned, validate_allow
from tunelint.checks.base import CheckOptions
from tunelint.config import ConfigError
from tunelint.models import Criterion, Severity

if TYPE_CHECKING:
    from tunelint.privacy.pii import PiiDetector
    from tunelint.privacy.spans import Span

# Presidio's own default phone regions (tunelint.privacy.phone imports Presidio, which loading
# the check registry must not; a test pins the two lists together).
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")

# Built detectors by their options. Building one loads Presidio's recognizers (and a spaCy
# pipeline in NER mode), so every check instance of a process shares it; check instances
# travel between worker processes and must not carry it.
_DETECTORS: dict[tuple[Any, ...], "PiiDetector"] = {}


def detector_for(options: "Pii.Options") -> "PiiDetector":
    """The shared detector for these options (built on first use in this process)."""
    key = (options.entities, options.score_threshold, options.ner, options.phone_regions)
    found = _DETECTORS.get(key)
    if found is None:
        from tunelint.privacy.pii import PiiDetector

        try:
            found = PiiDetector(
                entities=options.entities,
                score_threshold=options.score_threshold,
                ner=options.ner,
                phone_regions=options.phone_regions,
            )
        except ValueError as exc:
            raise ConfigError(f"check 'pii': {exc}") from None
        _DETECTORS[key] = found
    return found


class Pii(PrivacyCheck):
    """Personal data — emails, phone numbers, card numbers, IBANs, SSNs, IP addresses — in a turn.

    What it does:
        Runs Presidio's pattern recognizers, offline, over every turn, tool-call argument and
        rejected completion: email addresses, phone numbers (validated per region with
        libphonenumber), card numbers (Luhn and issuer ranges), IBANs (checksum), US SSNs, IP
        addresses and crypto wallet addresses. A cheap prefilter skips texts no pattern could
        match, which is most of them. When a spaCy NER model is installed (`en_core_web_sm`,
        `_md` or `_lg`), person names, locations and nationality / religious / political groups
        are found too; the scorecard metrics say which mode ran (`patterns-only` or
        `ner:<model>`). Nothing is downloaded. One finding per turn and entity type; its
        evidence holds the type, the role, the turn, each value's character offsets in the turn's
        text and a masked form (`j***@e***.com`, `**** **** **** 4242`) — the value itself only
        with `--show-pii`. PII in a trained assistant turn (what the model learns to say) is an
        error; in user, system and tool turns, weight-0 assistant turns and rejected
        completions it is a warning (`input-severity`). Reviewed findings (see the
        privacy-review file) are kept, marked as reviewed, and do not fail the gate.

    Why it matters for a fine-tune:
        A model memorises what it is trained to say: a customer's phone number in an answer can
        come back in someone else's conversation. PII in inputs is less dangerous but is still
        personal data you are processing and shipping to a training provider; a privacy review
        should have seen it.

    Example:
        {"messages": [{"role": "user", "content": "Where is my parcel?"}, {"role": "assistant", "content": "I've emailed jane.doe@gmail.com and will call you on +1 415-555-0132."}]}

    Use instead:
        {"messages": [{"role": "user", "content": "Where is my parcel?"}, {"role": "assistant", "content": "I've emailed you and will call you on the number on your account."}]}
        `tunelint redact TRAIN -o OUT` writes a copy with typed placeholders (`<EMAIL_ADDRESS>`);
        values that are fine (your support address) go in `allow`; findings you have decided on
        go in the review file (`tunelint review init`).

    Options:
        entities: entity types to report (default: every pattern type, plus PERSON, LOCATION
            and NRP when an NER model runs; ORGANIZATION on request).
        score-threshold: minimum recognizer score, 0..1 (default 0.4: phone numbers score 0.4,
            IP addresses 0.6, SSNs 0.5, checksum-validated values 1.0).
        allow: values never reported: exact strings (case ignored) or "re:<regex>" matching the
            whole value, e.g. ["support@quillstack.com", 're:.*@example\\.com'].
        ner: "auto" (an installed en_core_web_sm / md / lg), "off", or a spaCy package name or
            pipeline directory (default "auto").
        phone-regions: ISO country codes whose national phone formats are recognised without a
            + prefix (default US, GB, DE, FR, IL, IN, CA, BR).
        input-severity: severity of PII in text the model reads but is not trained to say
            (default warning); the check's `severity` applies to trained assistant turns.
    """

    code = "P001"
    name = "pii"
    criterion = Criterion.PRIVACY_REVIEWED
    severity = Severity.ERROR
    summary = "emails, phone numbers, cards (Luhn), IBANs, SSNs, IPs; names and places with an NER model"

    NOUNS = {
        "EMAIL_ADDRESS": ("an email address", "email addresses"),
        "PHONE_NUMBER": ("a phone number", "phone numbers"),
        "CREDIT_CARD": ("a card number", "card numbers"),
        "IBAN_CODE": ("an IBAN", "IBANs"),
        "US_SSN": ("a US social security number", "US social security numbers"),
        "IP_ADDRESS": ("an IP address", "IP addresses"),
        "CRYPTO": ("a crypto wallet address", "crypto wallet addresses"),
        "PERSON": ("a person's name", "person names"),
        "LOCATION": ("a location", "locations"),
        "NRP": ("a nationality, religious or political group", "nationality, religious or political groups"),
        "ORGANIZATION": ("an organisation", "organisations"),
    }

    class Options(CheckOptions):
        entities: tuple[str, ...] | None = None
        score_threshold: float = Field(0.4, ge=0.0, le=1.0)
        allow: tuple[str, ...] = ()
        ner: str = "auto"
        phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
        input_severity: Severity = Severity.WARNING

        @field_validator("entities")
        @classmethod
        def _known(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
            if v is not None:
                from tunelint.privacy.pii import NER_ENTITIES, PATTERN_ENTITIES

                unknown = sorted(set(v) - set(PATTERN_ENTITIES) - set(NER_ENTITIES))
                if unknown:
                    raise ValueError(f"unknown entity types {unknown}; supported: "
                                     f"{', '.join(sorted(PATTERN_ENTITIES + NER_ENTITIES))}")
                v = tuple(sorted(set(v)))
            return v

        @field_validator("allow")
        @classmethod
        def _allow(cls, v: tuple[str, ...]) -> tuple[str, ...]:
            return validate_allow(v)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        detector = detector_for(self.options)
        self.metrics = {
            "mode": detector.mode,
            "entities": list(detector.entities),
            "summary_note": f"pii detection {detector.mode}",
        }
        if detector.unavailable_entities:
            self.metrics["not_checked"] = (
                f"{', '.join(detector.unavailable_entities)} need an NER model (pip install a spaCy "
                "pipeline such as en_core_web_sm)"
            )

    def gate(self, texts: Sequence[str]) -> list[int] | None:
        return detector_for(self.options).gate(texts)

    def detect(self, texts: Sequence[str]) -> list[list["Span"]]:
        return detector_for(self.options).detect_many(texts)

    def severity_for(self, scanned: Scanned, entity_type: str) -> Severity:
        return self.level if scanned.learned else self.options.input_severity


CHECKS = [Pii]
