"""Token counting for length checks: a real tokenizer when one is configured, else a labelled estimate."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class CharEstimate:
    """ceil(characters / chars_per_token): an estimate, and the report says so."""

    chars_per_token: float = 4.0

    @property
    def name(self) -> str:
        return f"estimate (characters / {self.chars_per_token:g})"

    exact: bool = False

    def count(self, text: str) -> int:
        return math.ceil(len(text) / self.chars_per_token) if text else 0
