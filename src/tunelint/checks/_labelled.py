"""Shared state of the checks that read one label per example (label-variants, label-imbalance)."""

from __future__ import annotations

from typing import Any, ClassVar

from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks._support import ExampleRefs, LabelTally
from tunelint.labels import label_spec


class LabelledCheck(BatchedCheck):
    """A batched check that reads each example's label; merges by concatenation.

    Subclasses give their Options a `labels` field (a LabelSpec or None) and read
    `self._tally`, `self._spec`, `self._first_path` (the first file read) and, when
    `per_example` (findings name single examples), `self._refs` in `finish()`; without it the
    tally keeps counts only and nothing is kept per example.
    """

    mergeable = True
    per_example: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._spec = label_spec(self.context.settings, self.options.labels)
        self._refs = ExampleRefs()
        self._tally = LabelTally(self._spec, per_example=self.per_example)
        self._first_path = ""

    def consume(self, batch: Batch) -> None:
        if not self._first_path:
            self._first_path = batch.examples[0].path
        if self.per_example:
            self._refs.add_batch(batch)
        self._tally.add_batch(batch)

    def merge(self, other: "LabelledCheck") -> None:  # type: ignore[override]
        self.flush()
        other.flush()
        super().merge(other)
        self._first_path = self._first_path or other._first_path
        self._refs.extend(other._refs)
        self._tally.extend(other._tally)
