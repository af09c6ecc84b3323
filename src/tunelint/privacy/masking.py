"""Masked forms for evidence (enough to recognise a value, never to recover it) and redaction.

`mask` shows at most a kind prefix and the last few characters, and never more than half of
the value; `redact` replaces detected spans with `<ENTITY_TYPE>` placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from tunelint.privacy.spans import Span

HIDDEN = "***"

# Public prefixes that name a token's issuer (and are the same in every such token).
_SECRET_PREFIX = re.compile(
    r"^(?:sk-ant-(?:[a-z]+\d{2}-)?|sk-(?:proj|svcacct|admin)-|sk-|(?:sk|rk)_(?:live|test)_|"
    r"gh[pousr]_|github_pat_|xox[baprse]-|xapp-|AKIA|ASIA|ABIA|ACCA|AIza|ya29\.|SG\.|eyJ|"
    r"https://hooks\.slack\.com/)"
)
_PEM_HEADER = re.compile(r"^-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
# Secret kinds whose every character is secret: nothing of them is shown.
_FULLY_HIDDEN = frozenset(
    {
        "PASSWORD",
        "GENERIC_SECRET",
        "CONNECTION_STRING_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "BEARER_TOKEN",
    }
)


def _tail(value: str, n: int) -> str:
    """The last `n` characters, but never more than half of `value`."""
    keep = min(n, len(value) // 2)
    return value[len(value) - keep :] if keep else ""


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    host, _, suffix = domain.rpartition(".")
    if not local or not host:
        return HIDDEN
    return f"{local[0]}***@{host[0]}***.{suffix}"


def _mask_card(value: str) -> str:
    return f"**** **** **** {_tail(_digits(value), 4)}"


def _mask_phone(value: str) -> str:
    return f"***-***-{_tail(_digits(value), 4)}"


def _mask_ssn(value: str) -> str:
    return f"***-**-{_tail(_digits(value), 4)}"


def _mask_iban(value: str) -> str:
    compact = re.sub(r"[\s-]", "", value).upper()
    return f"{compact[:2]}** **** {_tail(compact, 4)}"


def _mask_ip(value: str) -> str:
    if ":" in value:
        return f"{value.split(':', 1)[0]}:****:…"
    return f"{value.split('.', 1)[0]}.***.***.***"


def _mask_crypto(value: str) -> str:
    return f"{value[:3]}…{_tail(value, 4)}"


def _mask_name(value: str) -> str:
    # Initials only: "Jane Doe" -> "J*** D***".
    return " ".join(f"{word[0]}***" for word in value.split()) or HIDDEN


_PII_MASKS: dict[str, Callable[[str], str]] = {
    "EMAIL_ADDRESS": _mask_email,
    "CREDIT_CARD": _mask_card,
    "PHONE_NUMBER": _mask_phone,
    "US_SSN": _mask_ssn,
    "IBAN_CODE": _mask_iban,
    "IP_ADDRESS": _mask_ip,
    "CRYPTO": _mask_crypto,
    "PERSON": _mask_name,
}


def _mask_secret(value: str, entity_type: str) -> str:
    if entity_type in _FULLY_HIDDEN:
        return HIDDEN
    pem = _PEM_HEADER.match(value)
    if pem:
        return f"{pem.group(0)}…"
    prefix = _SECRET_PREFIX.match(value)
    if prefix is None:
        return HIDDEN
    rest = value[prefix.end() :]
    # The tail is shown only where the random part is long enough for 4 characters not to help.
    tail = rest[-4:] if len(rest) >= 16 else ""
    return f"{prefix.group(0)}…{tail}"


def mask(value: str, entity_type: str) -> str:
    """A masked form of `value` that identifies it to a reviewer without revealing it."""
    if not value:
        return HIDDEN
    masker = _PII_MASKS.get(entity_type)
    masked = masker(value) if masker else _mask_secret(value, entity_type)
    # Last guard: a very short value can survive its own mask (e.g. "a@b.co" keeping "co").
    return HIDDEN if value in masked else masked


def placeholder(entity_type: str) -> str:
    """The redaction placeholder for an entity type, e.g. `<EMAIL_ADDRESS>`."""
    return f"<{entity_type}>"


def _merge(spans: Iterable[Span]) -> list[tuple[int, int, str]]:
    """Overlapping spans merged into one region each, labelled by its longest (then surest) span."""
    regions: list[tuple[int, int, Span]] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.start >= span.end:
            continue
        if regions and span.start < regions[-1][1]:
            start, end, winner = regions[-1]
            if (span.length, span.score) > (winner.length, winner.score):
                winner = span
            regions[-1] = (start, max(end, span.end), winner)
        else:
            regions.append((span.start, span.end, span))
    return [(start, end, winner.entity_type) for start, end, winner in regions]


def redact(text: str, spans: Iterable[Span]) -> str:
    """`text` with each detected span replaced by its placeholder.

    Overlapping spans become one placeholder covering all of them (so no part of either value
    survives), named after the longer span, or the higher-scoring one when equally long.
    """
    out: list[str] = []
    position = 0
    for start, end, entity_type in _merge(spans):
        out.append(text[position:start])
        out.append(placeholder(entity_type))
        position = end
    out.append(text[position:])
    return "".join(out)
