"""Detection core of the privacy checks (`pii`, `secret`): find, mask and redact sensitive values.

`PiiDetector` wraps Presidio offline behind a prefilter; `SecretDetector` matches credential
shapes; `mask` / `redact` turn what they found into safe evidence and safe copies.
"""

import importlib
from typing import Any

from tunelint.privacy.presidio_import import defer_pattern_checks

# Presidio's own patterns are not compiled just to be checked while it is imported (see
# presidio_import); every module here that imports Presidio runs this package's code first.
defer_pattern_checks()

# Presidio (and spaCy under it) take seconds to import: load a name's module only when it is
# first used, so code that needs only masking or the prefilter does not pay for the analyzer.
_WHERE = {
    "mask": "masking",
    "placeholder": "masking",
    "redact": "masking",
    "DEFAULT_NER_ENTITIES": "pii",
    "NER_ENTITIES": "pii",
    "PATTERN_ENTITIES": "pii",
    "PATTERNS_ONLY": "pii",
    "PiiDetector": "pii",
    "SecretDetector": "secrets",
    "Span": "spans",
    "resolve_overlaps": "spans",
}


def __getattr__(name: str) -> Any:
    if name == "SECRET_RULES":
        return importlib.import_module("tunelint.privacy.secrets").RULES
    if name in _WHERE:
        return getattr(importlib.import_module(f"tunelint.privacy.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'tunelint.privacy' has no attribute {name!r}")


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
