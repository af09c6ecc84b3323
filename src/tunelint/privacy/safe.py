"""Dataset text made safe to show in a report: every PII value and secret the pattern detectors
find is replaced by its typed placeholder (`<EMAIL_ADDRESS>`, `<AWS_ACCESS_KEY_ID>`).

For excerpts and evidence snippets of any check. The detectors are built once per process,
and Presidio only when some text passes the PII prefilter's gate, so a run whose findings
quote nothing number-like never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from tunelint.privacy.masking import redact
from tunelint.privacy.prefilter import TRIGGERS, Prefilter, batch_gate
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


# Distinct new texts from which `mask_texts` gates them all at once: the batch gates cost
# ~0.15 s on first use in a process (pyarrow.compute's import, the RE2 compiles), the
# per-text gates ~8 us a text (100k bench run: 4,955 texts; 1M: 54,477, 0.84 -> 0.34 s).
_GATE_ALL_FROM = 20_000


def mask_texts(texts: Sequence[str]) -> list[str]:
    """`mask_text` of each text; with many texts (a large report's findings quote tens of
    thousands) the secret and PII gates run once over all of them, the detectors only on the
    texts they let by."""
    known: dict[str, str] = {}
    new: list[str] = []
    for text in dict.fromkeys(texts):
        masked = _MASKED.get(text)
        if masked is None:
            new.append(text)
        else:
            known[text] = masked
    if len(new) < _GATE_ALL_FROM:
        return [mask_text(text) for text in texts]
    secrets = _secrets()
    # RE2 gates, supersets of the detectors' own tests: a text they leave out holds nothing
    # the detector finds (the secret detector's Hyperscan gate would be compiled for this).
    may_hold_secret = batch_gate(new, secrets.batch_pattern)
    may_hold_pii = batch_gate(new, _gate().batch_pattern)
    secret_at = set(range(len(new)) if may_hold_secret is None else may_hold_secret)
    pii_at = set(range(len(new)) if may_hold_pii is None else may_hold_pii)
    done = known  # the texts masked before, then the new ones
    for i, text in enumerate(new):
        spans = secrets.detect(text) if i in secret_at else []
        if i in pii_at and _gate().may_contain(text):
            spans += _pii().detect(text)
        done[text] = redact(text, spans) if spans else text
    if len(_MASKED) + len(new) > _MASKED_MAX:
        _MASKED.clear()
    if len(done) <= _MASKED_MAX:
        _MASKED.update(done)
    return [done[text] for text in texts]
