"""The dataset checks give the same report split over worker processes as in one process,
test-leakage included (it indexes the test split in each worker), and evidence examples are
read back at their lines."""

from __future__ import annotations

import json
from pathlib import Path

from tunelint import Settings, lint
from tunelint.checks._support import _line_starts, fetch_examples
from tunelint.checks.base import CheckContext
from tunelint.reporters.json import JsonReporter

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
GSM8K = SHARED / "leakage" / "gsm8k"
DATASET_CHECKS = ("exact-duplicate", "near-duplicate", "conflicting-outputs", "label-variants", "label-imbalance",
                  "system-prompt-variants", "output-format-drift", "test-leakage", "split-shift")


def _report(train, test, **settings) -> dict:
    report = lint(train, test=test, settings=Settings(select=DATASET_CHECKS, fail_on="never",
                                                      fields={"question": "user", "answer": "assistant"}, **settings))
    return json.loads(JsonReporter(timing=False).render(report))


def _subset(tmp_path: Path) -> tuple[Path, Path]:
    train_lines = (GSM8K / "train.jsonl").read_text(encoding="utf-8").splitlines()[:2500]
    test_lines = (GSM8K / "test.jsonl").read_text(encoding="utf-8").splitlines()[:500]
    # Plant leaks of every kind so the merged training side has matches to carry.
    train_lines[100] = test_lines[10]
    train_lines[2400] = test_lines[20]
    record = json.loads(test_lines[30])
    record["answer"] = "A different answer entirely."
    train_lines[1700] = json.dumps(record)
    train_lines[900] = train_lines[5]  # an exact duplicate across chunks
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train.write_text("\n".join(train_lines) + "\n", encoding="utf-8")
    test.write_text("\n".join(test_lines) + "\n", encoding="utf-8")
    return train, test


def test_parallel_dataset_checks_equal_sequential_with_a_test_split(tmp_path):
    train, test = _subset(tmp_path)
    one = _report(train, test, jobs=1)
    many = _report(train, test, jobs=2, chunk_bytes=60_000)  # test and train both split
    assert "parallelism" not in many["stats"]
    assert one == many
    leaks = [f for f in one["findings"] if f["check"] == "test-leakage"]
    assert {f["location"]["line"] for f in leaks} >= {11, 21, 31}
    kinds = {f["location"]["line"]: f["evidence"]["kind"] for f in leaks}
    assert kinds[11] == "exact" and kinds[21] == "exact" and kinds[31] == "input"
    dups = [f for f in one["findings"] if f["check"] == "exact-duplicate"]
    assert any(f["location"]["line"] == 901 for f in dups)


def test_line_starts_across_blocks(tmp_path, monkeypatch):
    import tunelint.checks._support as support

    monkeypatch.setattr(support, "_LINE_BLOCK", 5)
    data = b"ab\n\ncdefgh\nijklmnopq\nr"
    path = tmp_path / "x.jsonl"
    path.write_bytes(data)
    assert _line_starts(str(path), [1, 2, 3, 4, 5]) == {1: (0, 3), 2: (3, 4), 3: (4, 11), 4: (11, 21), 5: (21, 22)}


def test_fetch_examples_at_lines_equals_a_full_read(tmp_path):
    rows = ['{"messages": [{"role": "user", "content": "q%d"}, {"role": "assistant", "content": "a%d"}]}' % (i, i)
            for i in range(50)]
    rows.insert(10, "")  # a blank line: lines and indices part ways
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    context = CheckContext(splits={"train": (str(path),)}, settings=Settings())
    full = fetch_examples(context, {str(path): {3, 20, 49}})
    where = {str(path): {i: (e.line, int(e.record_hash, 16)) for (_, i), e in full.items()}}
    assert fetch_examples(context, {str(path): {3, 20, 49}}, where) == full
    assert full[(str(path), 20)].line == 22
    # A record hash that does not match sends the path back to the full read.
    where[str(path)][20] = (5, 123)
    assert fetch_examples(context, {str(path): {3, 20, 49}}, where) == full


def test_refusal_rate_lists_the_first_refusals_across_files_and_chunks(tmp_path):
    # Refusals (every 4th output) in two files cut in many chunks: the same report from one
    # process and from two, listing the first 20 refusals in reading order with their files.
    paths = []
    for part in (1, 2):
        rows = []
        for i in range(600):
            answer = "I'm sorry, but I can't help with that." if i % 4 == 1 else f"Step {i}: mix, bake, cool, serve."
            rows.append(json.dumps({"messages": [{"role": "user", "content": f"How do I make cake number {i}?"},
                                                 {"role": "assistant", "content": answer}]}))
        path = tmp_path / f"part{part}.jsonl"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        paths.append(str(path))

    def report(**settings) -> dict:
        found = lint(paths, settings=Settings(select=("refusal-rate",), fail_on="never", **settings))
        return json.loads(JsonReporter(timing=False).render(found))

    one, many = report(jobs=1), report(jobs=2, chunk_bytes=8_000)
    assert one == many
    [finding] = one["findings"]
    assert finding["check"] == "refusal-rate" and finding["location"]["path"] == paths[0]
    assert finding["evidence"]["refusals"] == 300
    listed = finding["evidence"]["listed"]
    assert [r["line"] for r in listed] == [2 + 4 * k for k in range(20)]
    assert all(r["path"] == paths[0] for r in listed)  # two files were read: each names its file
    assert [(r["line"], r["path"]) for r in finding["related"]] == [(r["line"], r["path"]) for r in listed]
