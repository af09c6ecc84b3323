"""Shared state of the checks that read one label per example (label-variants, label-imbalance)."""

from __future__ import annotations

from typing import Any

from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks._support import ExampleRefs, LabelTally
from tunelint.labels import label_spec


class LabelledCheck(BatchedCheck):
    """A batched check that keeps each example's reference and label; merges by concatenation.

    Subclasses give their Options a `labels` field (a LabelSpec or None) and read
    `self._refs`, `self._tally` and `self._spec` in `finish()`.
    """

    mergeable = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._spec = label_spec(self.context.settings, self.options.labels)
        self._refs = ExampleRefs()
        self._tally = LabelTally(self._spec)

    def consume(self, batch: Batch) -> None:
        self._refs.add_batch(batch)
        self._tally.add_batch(batch)

    def merge(self, other: "LabelledCheck") -> None:  # type: ignore[override]
        self.flush()
        other.flush()
        super().merge(other)
        self._refs.extend(other._refs)
        self._tally.extend(other._tally)
