"""Masking a report's quoted texts in one batch gives what masking each text alone gives."""

from __future__ import annotations

import pytest

from tunelint import engine
from tunelint.engine import mask_findings
from tunelint.models import Criterion, Finding, Location, Severity
from tunelint.privacy import safe

TEXTS = [
    "write to maria.gonzalez@outlook.com before noon",
    "key id AKIAQX3MZ7PL2VNB4KD8 in prod",
    "call +1 415 555 0132 or 555-867-5309",
    "nothing to hide here",
    "",
    "card 4111 1111 1111 1111, ip 192.168.10.24",
    "write to maria.gonzalez@outlook.com before noon",  # repeated
    "broken \ud800 surrogate with bob@example.org",  # Arrow cannot take it: every text is tested
    "Ǆ ſ K İ ı 12:30 on 2024-01-05",
]


@pytest.mark.parametrize("texts", [TEXTS, TEXTS[:-2]], ids=["with-surrogate", "arrow-ok"])
def test_mask_texts_gated_equals_one_by_one(monkeypatch: pytest.MonkeyPatch, texts: list[str]) -> None:
    safe._MASKED.clear()
    alone = [safe.mask_text(t) for t in texts]
    safe._MASKED.clear()
    monkeypatch.setattr(safe, "_GATE_ALL_FROM", 0)
    assert safe.mask_texts(texts) == alone
    assert "<EMAIL_ADDRESS>" in alone[0] and "maria" not in alone[0]
    assert "AKIAQX3MZ7PL2VNB4KD8" not in alone[1]
    assert alone[3] == "nothing to hide here"


@pytest.mark.parametrize("batched", [True, False], ids=["in-one-batch", "text-by-text"])
def test_mask_findings_masks_messages_and_evidence(monkeypatch: pytest.MonkeyPatch, batched: bool) -> None:
    if batched:
        monkeypatch.setattr(engine, "_MASK_ALL_FROM", 0)
        monkeypatch.setattr(safe, "_GATE_ALL_FROM", 0)
    safe._MASKED.clear()
    loc = Location("train", "train.jsonl", 3, 2)
    quoting = Finding("D002", "near-duplicate", Criterion.DIVERSE, Severity.WARNING,
                      "repeats 'mail maria.gonzalez@outlook.com'", loc, "f1", (),
                      {"excerpt": ["see AKIAQX3MZ7PL2VNB4KD8"], "id": "0123456789abcdef", "count": 2})
    private = Finding("P001", "pii", Criterion.PRIVACY_REVIEWED, Severity.ERROR,
                      "contains maria.gonzalez@outlook.com", loc, "f2", (), {})
    masked, kept = mask_findings([quoting, private])
    assert (masked.check, masked.location) == ("near-duplicate", loc)
    assert "maria" not in masked.message and "<EMAIL_ADDRESS>" in masked.message
    assert "AKIAQX3MZ7PL2VNB4KD8" not in masked.evidence["excerpt"][0]
    assert masked.evidence["id"] == "0123456789abcdef" and masked.evidence["count"] == 2
    assert kept is private  # the privacy checks mask their own values


def test_mask_texts_with_a_full_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # Texts masked earlier are in the cache; the new ones overflow it, so it is cleared: the
    # earlier answers must still be given (a 1M run's report hit this).
    texts = TEXTS[:-2] + [f"plain text {i}" for i in range(8)]
    safe._MASKED.clear()
    alone = [safe.mask_text(t) for t in texts]
    safe._MASKED.clear()
    for t in texts[:3]:
        safe.mask_text(t)
    monkeypatch.setattr(safe, "_GATE_ALL_FROM", 0)
    monkeypatch.setattr(safe, "_MASKED_MAX", 6)
    assert safe.mask_texts(texts) == alone
    assert len(safe._MASKED) <= 6
    assert safe.mask_texts(texts[:2]) == alone[:2]
