"""mask_findings hides the PII values and secrets other checks' findings quote."""

from __future__ import annotations

from tunelint.engine import mask_findings
from tunelint.models import Criterion, Finding, Location, Severity


def test_mask_findings_masks_messages_and_evidence() -> None:
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
