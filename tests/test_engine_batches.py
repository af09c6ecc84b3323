"""The engine hands checks consecutive examples of one file in batches, and times each check."""

from __future__ import annotations

import json
from pathlib import Path

from tunelint.checks.base import DatasetCheck, RecordCheck
from tunelint.engine import BATCH, _Run
from tunelint.loader import Loader
from tunelint.models import Criterion, Example
from tunelint.registry import load_formats


def _write(path: Path, n: int) -> Path:
    rows = [json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                     {"role": "assistant", "content": "" if i % 1000 == 7 else f"a{i}"}]})
            for i in range(n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


class EmptyAnswer(RecordCheck):
    code = "Z901"
    name = "empty-answer-test"
    criterion = Criterion.CORRECT

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[list[int]] = []

    def check(self, example: Example):
        if example.turns[-1].content == "":
            yield self.finding(example, "empty answer")

    def check_batch(self, examples):
        self.batches.append([e.index for e in examples])
        return super().check_batch(examples)


class Tally(DatasetCheck):
    code = "Z902"
    name = "tally-test"
    criterion = Criterion.BALANCED

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[int] = []

    def observe(self, example: Example) -> None:
        self.seen.append(example.index)


def test_batches_cover_every_example_once_in_file_order(tmp_path):
    n = 2 * BATCH + 123
    path = _write(tmp_path / "t.jsonl", n)
    record, dataset = EmptyAnswer(), Tally()
    run = _Run([record, dataset])
    info = run.consume(Loader(str(path), "train", load_formats()))
    assert info.examples == n
    assert [len(b) for b in record.batches] == [BATCH, BATCH, 123]
    assert [i for b in record.batches for i in b] == list(range(n)) == dataset.seen
    # The findings are those `check` gives one example at a time, with their lines.
    assert [(f.check, f.location.line) for f in run.findings] == [("empty-answer-test", i + 1) for i in range(n) if i % 1000 == 7]
    assert run.timing["empty-answer-test"] > 0 and run.timing["tally-test"] > 0
