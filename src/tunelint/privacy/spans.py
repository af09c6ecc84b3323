"""The value object every privacy detector returns, and how overlapping detections are settled."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """One detected value: `text[start:end]` is an `entity_type` (a PII entity or a secret kind).

    `score` is the detector's confidence in 0..1; checksum-validated values score 1.0.
    """

    entity_type: str
    start: int
    end: int
    score: float = 1.0

    @property
    def length(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


def _precedence(span: Span) -> tuple[float, int, int]:
    # Higher score first, then the longer span, then the earlier one so ties are deterministic.
    return (-span.score, -span.length, span.start)


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Keep, among spans that overlap, only the one with the highest score (then the longest).

    Used on detector output, where a phone-number match inside a Luhn-valid card or an IP
    address is the same value seen twice, not a second finding.
    """
    kept: list[Span] = []
    for span in sorted(spans, key=_precedence):
        if not any(span.overlaps(other) for other in kept):
            kept.append(span)
    kept.sort(key=position)
    return kept


def position(span: Span) -> tuple[int, int, str]:
    """Sort key: text order, then entity type, so output order never depends on detector order."""
    return (span.start, span.end, span.entity_type)
