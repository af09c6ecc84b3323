"""Scorecard thresholds and gate, baseline suppression and staleness, dataset diff — through the
library and the CLI (exit codes included)."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from tunelint import Settings, lint
from tunelint.baseline import Baseline, BaselineError
from tunelint.cli import main
from tunelint.diff import diff_reports


# These datasets have no test split on purpose; test-leakage's "no test split" warning is not
# what these tests are about.
NO_TEST_SPLIT = Settings(ignore=("test-leakage",))
NO_TEST_SPLIT_CONFIG = 'ignore = ["test-leakage"]\n'


def chat(user: str, assistant: str | None) -> dict:
    msgs = [{"role": "user", "content": user}]
    if assistant is not None:
        msgs.append({"role": "assistant", "content": assistant})
    return {"messages": msgs}


CLEAN = [chat(f"question {i} about orders", f"answer {i}: it ships tomorrow") for i in range(20)]
DIRTY = CLEAN[:18] + [chat("refund please", ""), chat("where is it?", None)]


def write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


# -- scorecard ------------------------------------------------------------------------------

def test_top_findings_and_advice_in_json(tmp_path):
    data = lint(write(tmp_path / "d.jsonl", DIRTY)).to_dict(timing=False)
    complete = next(r for r in data["scorecard"]["criteria"] if r["criterion"] == "complete")
    assert complete["top_findings"] == ["assistant turn 1 is empty", "example has no assistant turn: nothing to learn from"]
    assert complete["advice"].startswith("Each example must hold")
    # Version-1 keys are all still there.
    assert {"version", "tool", "datasets", "findings", "scorecard", "stats"} <= set(data)
    assert {"passed", "fail_on", "criteria"} <= set(data["scorecard"])


def test_thresholds_turn_status_by_score(tmp_path):
    path = write(tmp_path / "d.jsonl", CLEAN[:10] + DIRTY[18:19])
    # Info-level findings on most examples: status "pass" by severity, but a low score.
    info = Settings(select=("exceeds-context",), checks={"exceeds-context": {"max-tokens": 16, "severity": "info"}})
    plain = lint(path, settings=info).scorecard.row("complete")
    assert plain.status == "pass" and plain.score < 90
    assert lint(path, settings=info.replace(scorecard={"warn_below": 90})).scorecard.row("complete").status == "warn"
    assert lint(path, settings=info.replace(scorecard={"fail_below": 90})).scorecard.row("complete").status == "fail"
    assert lint(path, settings=info.replace(scorecard={"fail_below": plain.score})).scorecard.row("complete").status == "pass"


def test_gate_on_criteria_min_score_and_assessment(tmp_path):
    path = write(tmp_path / "d.jsonl", DIRTY)
    never = Settings(fail_on="never")
    assert lint(path, settings=never).passed
    by_criterion = lint(path, settings=never.replace(scorecard={"fail_on_criteria": ["complete"]}))
    assert not by_criterion.passed and by_criterion.scorecard.gate_reasons == ("complete is fail (fail-on-criteria)",)
    floor = lint(path, settings=never.replace(scorecard={"min_score": {"complete": 99}}))
    assert not floor.passed and "under min-score 99" in floor.scorecard.gate_reasons[0]
    assert lint(path, settings=never.replace(scorecard={"min_score": 1})).passed
    needs = lint(path, settings=never.replace(scorecard={"require_assessed": ["held-out"]}, ignore=("test-leakage",)))
    assert needs.scorecard.gate_reasons == ("held-out could not be assessed (require-assessed)",)
    assert needs.to_dict()["scorecard"]["gate"]["require-assessed"] == ["held-out"]


def test_gate_settings_from_config_and_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "d.jsonl", DIRTY)
    (tmp_path / "tunelint.toml").write_text('fail-on = "never"\n[scorecard]\nfail-on-criteria = ["complete"]\n')
    runner = CliRunner()
    assert runner.invoke(main, ["check", "d.jsonl", "--no-progress"]).exit_code == 1
    (tmp_path / "tunelint.toml").write_text('fail-on = "never"\n')
    assert runner.invoke(main, ["check", "d.jsonl", "--no-progress"]).exit_code == 0
    assert runner.invoke(main, ["check", "d.jsonl", "--no-progress", "--min-score", "99"]).exit_code == 1
    assert runner.invoke(main, ["check", "d.jsonl", "--no-progress", "--fail-on-criteria", "complete"]).exit_code == 1
    (tmp_path / "tunelint.toml").write_text('[scorecard]\nfail-on-criteria = ["completeness"]\n')
    bad = runner.invoke(main, ["check", "d.jsonl", "--no-progress"])
    assert bad.exit_code == 2 and "completeness" in bad.output


def test_datasets_setting_lints_files_named_in_config(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "train.jsonl", DIRTY)
    (tmp_path / "tunelint.toml").write_text('[datasets]\ntrain = ["data/train.jsonl"]\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--no-progress", "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["datasets"][0]["path"] == "data/train.jsonl"
    (tmp_path / "tunelint.toml").write_text("")
    none = CliRunner().invoke(main, ["check", "--no-progress"])
    assert none.exit_code == 2 and "no dataset given" in none.output


# -- baseline -------------------------------------------------------------------------------

def test_baseline_survives_shuffle_and_append_and_reports_stale(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tunelint.toml").write_text(NO_TEST_SPLIT_CONFIG)
    write(tmp_path / "train.jsonl", DIRTY)
    runner = CliRunner()
    made = runner.invoke(main, ["baseline", "train.jsonl", "--no-progress"])
    assert made.exit_code == 0 and "wrote 2 findings to .tunelint-baseline.json" in made.output
    doc = json.loads((tmp_path / ".tunelint-baseline.json").read_text())
    assert {e["check"] for e in doc["findings"]} == {"empty-content", "missing-assistant-turn"}
    assert all("line" not in e for e in doc["findings"])

    assert runner.invoke(main, ["check", "train.jsonl", "--no-progress"]).exit_code == 1
    assert runner.invoke(main, ["check", "train.jsonl", "--no-progress", "--baseline", ".tunelint-baseline.json"]).exit_code == 0

    # Shuffled, with a new bad example appended: only the new one fails the gate.
    rows = DIRTY[:]
    random.Random(3).shuffle(rows)
    write(tmp_path / "train.jsonl", rows + [chat("new problem", " ")])
    result = runner.invoke(main, ["check", "train.jsonl", "--no-progress", "--baseline", ".tunelint-baseline.json", "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert [(f["check"], f["location"]["line"]) for f in data["findings"]] == [("empty-content", 21)]
    assert data["baseline"] == {"path": ".tunelint-baseline.json", "suppressed": 2, "stale": []}

    # Fixed one of the baselined examples: its entry is reported stale, the gate passes.
    fixed = [r for r in rows if r != chat("where is it?", None)]
    write(tmp_path / "train.jsonl", fixed)
    result = runner.invoke(main, ["check", "train.jsonl", "--no-progress", "--baseline", ".tunelint-baseline.json"])
    assert result.exit_code == 0
    assert "1 entries no longer match" in result.output


def test_stale_only_for_checks_that_ran_and_files_that_were_linted(tmp_path):
    path = write(tmp_path / "d.jsonl", DIRTY)
    base = Baseline.from_findings(lint(path, settings=NO_TEST_SPLIT).findings)
    clean = write(tmp_path / "clean.jsonl", CLEAN)
    assert lint(clean, baseline=base, settings=NO_TEST_SPLIT).baseline.stale == ()
    write(tmp_path / "d.jsonl", CLEAN)
    assert len(lint(path, baseline=base, settings=NO_TEST_SPLIT).baseline.stale) == 2
    assert lint(path, baseline=base, settings=Settings(select=("exceeds-context",))).baseline.stale == ()


def test_bad_baseline_is_a_usage_error(tmp_path):
    (tmp_path / "b.json").write_text('{"hello": 1}')
    with pytest.raises(BaselineError, match="not a tunelint baseline"):
        Baseline.load(tmp_path / "b.json")
    path = write(tmp_path / "d.jsonl", DIRTY)
    result = CliRunner().invoke(main, ["check", path, "--no-progress", "--baseline", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "baseline file not found" in result.output


# -- diff -----------------------------------------------------------------------------------

def test_diff_reports_better_and_worse(tmp_path):
    old = lint(write(tmp_path / "old.jsonl", CLEAN), settings=NO_TEST_SPLIT).to_dict(timing=False)
    new = lint(write(tmp_path / "new.jsonl", DIRTY), settings=NO_TEST_SPLIT).to_dict(timing=False)
    d = diff_reports(old, new)
    assert d.regressed
    complete = next(c for c in d.criteria if c.criterion == "complete")
    assert (complete.status_before, complete.status_after, complete.change) == ("pass", "fail", "worse")
    assert {c.check: (c.before, c.after) for c in d.checks} == {"empty-content": (0, 1), "missing-assistant-turn": (0, 1)}
    assert "gate: passed before, fails now" in d.worse
    back = diff_reports(new, old)
    assert not back.regressed and "gate: failed before, passes now" in back.better


def test_diff_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "old.jsonl", CLEAN)
    write(tmp_path / "new.jsonl", DIRTY)
    runner = CliRunner()
    worse = runner.invoke(main, ["diff", "old.jsonl", "new.jsonl", "--no-progress", "--fail-on-regression"])
    assert worse.exit_code == 1 and "REGRESSED" in worse.output and "complete" in worse.output
    assert runner.invoke(main, ["diff", "old.jsonl", "new.jsonl", "--no-progress"]).exit_code == 0
    better = runner.invoke(main, ["diff", "new.jsonl", "old.jsonl", "--no-progress", "--fail-on-regression", "--format", "json"])
    assert better.exit_code == 0 and json.loads(better.output)["regressed"] is False
    # A saved JSON report works as either side.
    saved = runner.invoke(main, ["check", "old.jsonl", "--no-progress", "--format", "json", "-o", "old-report.json"])
    assert saved.exit_code == 0
    mixed = runner.invoke(main, ["diff", "old-report.json", "new.jsonl", "--no-progress", "--format", "markdown", "--fail-on-regression"])
    assert mixed.exit_code == 1 and "regressed" in mixed.output


def test_written_reports_are_ordinary_files(tmp_path, monkeypatch):
    import os
    import stat

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "d.jsonl", CLEAN)
    old = os.umask(0o022)
    try:
        assert CliRunner().invoke(main, ["check", "d.jsonl", "--no-progress", "-o", "r.html", "--format", "html"]).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.html").stat().st_mode) == 0o644
