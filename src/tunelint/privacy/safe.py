"""Dataset text made safe to show in a report: every PII value and secret the pattern detectors
find is replaced by its typed placeholder (`<EMAIL_ADDRESS>`, `<AWS_ACCESS_KEY_ID>`).

For excerpts and evidence snippets of any check; the detectors are built once per process.
"""

from __future__ import annotations

from tunelint.privacy.masking import redact
from tunelint.privacy.pii import PiiDetector
from tunelint.privacy.secrets import SecretDetector

_DETECTORS: list[tuple[PiiDetector, SecretDetector]] = []


def _detectors() -> tuple[PiiDetector, SecretDetector]:
    if not _DETECTORS:
        # Patterns only: excerpts must not depend on whether an NER model happens to be installed.
        _DETECTORS.append((PiiDetector(ner="off"), SecretDetector()))
    return _DETECTORS[0]


def mask_text(text: str) -> str:
    """`text` with every detected PII value and secret replaced by its placeholder."""
    pii, secrets = _detectors()
    spans = pii.detect(text) + secrets.detect(text)
    return redact(text, spans) if spans else text
