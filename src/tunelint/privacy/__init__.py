"""Detection core of the privacy checks (`pii`, `secret`): find, mask and redact sensitive values.

`PiiDetector` wraps Presidio offline behind a prefilter; `SecretDetector` matches credential
shapes; `mask` / `redact` turn what they found into safe evidence and safe copies.
"""

from tunelint.privacy.masking import mask, placeholder, redact
from tunelint.privacy.pii import (
    DEFAULT_NER_ENTITIES,
    NER_ENTITIES,
    PATTERN_ENTITIES,
    PATTERNS_ONLY,
    PiiDetector,
)
from tunelint.privacy.secrets import RULES as SECRET_RULES
from tunelint.privacy.secrets import SecretDetector
from tunelint.privacy.spans import Span, resolve_overlaps

__all__ = [
    "DEFAULT_NER_ENTITIES",
    "NER_ENTITIES",
    "PATTERNS_ONLY",
    "PATTERN_ENTITIES",
    "PiiDetector",
    "SECRET_RULES",
    "SecretDetector",
    "Span",
    "mask",
    "placeholder",
    "redact",
    "resolve_overlaps",
]
