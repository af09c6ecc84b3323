"""Dataset text made safe to show in a report: every PII value and secret the pattern detectors
find is replaced by its typed placeholder (`<EMAIL_ADDRESS>`, `<AWS_ACCESS_KEY_ID>`).

For excerpts and evidence snippets of any check. The detectors are built once per process,
and Presidio only when some text passes the PII prefilter's gate, so a run whose findings
quote nothing number-like never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunelint.privacy.masking import redact
from tunelint.privacy.prefilter import TRIGGERS, Prefilter
from tunelint.privacy.secrets import SecretDetector

if TYPE_CHECKING:
    from tunelint.privacy.pii import PiiDetector

_BUILT: dict[str, Any] = {}


def _secrets() -> SecretDetector:
    if "secrets" not in _BUILT:
        _BUILT["secrets"] = SecretDetector()
    return _BUILT["secrets"]


def _gate() -> Prefilter:
    if "gate" not in _BUILT:
        _BUILT["gate"] = Prefilter(TRIGGERS)
    return _BUILT["gate"]


def _pii() -> "PiiDetector":
    if "pii" not in _BUILT:
        from tunelint.privacy.pii import PiiDetector

        # Patterns only: excerpts must not depend on whether an NER model happens to be installed.
        _BUILT["pii"] = PiiDetector(ner="off")
    return _BUILT["pii"]


# Texts masked lately: the findings of one group show the same members' excerpts many times.
_MASKED: dict[str, str] = {}
_MASKED_MAX = 20_000


def mask_text(text: str) -> str:
    """`text` with every detected PII value and secret replaced by its placeholder."""
    found = _MASKED.get(text)
    if found is not None:
        return found
    spans = _secrets().detect(text)
    if _gate().may_contain(text):
        spans += _pii().detect(text)
    masked = redact(text, spans) if spans else text
    if len(_MASKED) >= _MASKED_MAX:
        _MASKED.clear()
    _MASKED[text] = masked
    return masked
