"""The report: deterministic JSON, reconciled counts, a scorecard that never passes silently."""

from __future__ import annotations

import json
from pathlib import Path

from tunelint import Settings, lint
from tunelint.reporters.json import JsonReporter

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def test_json_is_byte_identical_across_runs_apart_from_timing():
    path = SHARED / "instruct/fastchat/alpaca_data_cleaned_1000.json"
    a = JsonReporter(timing=False).render(lint(path))
    b = JsonReporter(timing=False).render(lint(path))
    assert a == b
    assert "timing_seconds" not in json.loads(a)["stats"]


def test_counts_reconcile_on_a_partly_broken_file(tmp_path):
    good = json.dumps({"prompt": "p", "completion": "c"})
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join([good, "{oops", good, '{"prompt": 1}']) + "\n")
    # The two good records are copies of each other; only the structural checks are under test.
    report = lint(p, settings=Settings(select=("F",)))
    ds = report.datasets[0]
    assert (ds.lines, ds.examples, ds.rejected) == (4, 2, 2)
    assert sorted((f.check, f.location.line) for f in report.findings) == [("invalid-json", 2), ("schema-violation", 4)]


def test_criteria_without_checks_are_not_assessed_with_a_hint():
    report = lint(SHARED / "instruct/openai_cookbook/toy_chat_fine_tuning.jsonl", settings=Settings(select=("F",)))
    rows = {c.criterion.value: c for c in report.scorecard.criteria}
    assert rows["complete"].status == "fail" and rows["complete"].score is not None
    assert rows["held-out"].status == "not-assessed" and "--test" in rows["held-out"].summary
    assert all(r.status in ("pass", "warn", "fail", "not-assessed") for r in rows.values())


def test_per_file_ignores(tmp_path):
    p = tmp_path / "legacy.jsonl"
    p.write_text(json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}) + "\n")
    report = lint(p, settings=Settings(per_file_ignores={"*legacy*.jsonl": ("F005",)}, ignore=("test-leakage",)))
    assert report.findings == () and [f.check for f in report.suppressed] == ["missing-user-turn"]
    assert report.passed
