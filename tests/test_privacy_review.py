"""The privacy review file: reviewed findings stay reported, do not fail the gate, and the
scorecard says how many were reviewed by whom; `tunelint review init` starts and extends it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tunelint import Settings, lint
from tunelint.cli import main
from tunelint.config import load_settings
from tunelint.models import Severity
from tunelint.review import Review, ReviewError

RECORDS = [
    {"messages": [{"role": "user", "content": "Write to support@quillstack.com"},
                  {"role": "assistant", "content": "Or call +1 646-555-0178."}]},
    {"messages": [{"role": "user", "content": "key AKIAZT4HW2QX9MPL6BVC"}, {"role": "assistant", "content": "Rotate it."}]},
    {"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]},
]


@pytest.fixture
def data(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    return tmp_path


def _init(*args: str):
    return CliRunner().invoke(main, ["review", "init", "train.jsonl", *args])


def _decide(path: Path, n: int, decision: str, reviewer: str, date: str = "2025-01-10", note: str = "") -> None:
    """Fill in the n-th entry (1-based) of a review file as a reviewer would, by editing the text."""
    blocks = path.read_text().split("\n[[finding]]\n")
    blocks[n] = (blocks[n].replace('decision = ""', f'decision = "{decision}"')
                 .replace('reviewer = ""', f'reviewer = "{reviewer}"').replace('date = ""', f"date = {date}")
                 .replace('note = ""', f'note = "{note}"'))
    path.write_text("\n[[finding]]\n".join(blocks))


def test_init_lists_every_privacy_finding_masked(data):
    result = _init()
    assert result.exit_code == 0, result.output
    assert "3 entries (3 new, 3 without a decision)" in result.output
    text = (data / "privacy-review.toml").read_text()
    assert "support@quillstack.com" not in text and "AKIAZT4HW2QX9MPL6BVC" not in text
    review = Review.load(data / "privacy-review.toml")
    assert [(e.check, e.line, e.pointer) for e in review.entries] == [
        ("pii", 1, "/messages/0/content"), ("pii", 1, "/messages/1/content"), ("secret", 2, "/messages/0/content")]
    assert not any(e.reviewed for e in review.entries)


def test_reviewed_findings_are_info_carry_the_review_and_do_not_fail_the_gate(data):
    _init()
    path = data / "privacy-review.toml"
    _decide(path, 2, "mask", "bob", note="will run tunelint redact")
    _decide(path, 3, "accept", "alice", note="key was rotated")
    report = lint("train.jsonl", settings=Settings(select=("pii", "secret"), privacy={"review_file": path}))
    by_check = {(f.check, f.location.pointer): f for f in report.findings}
    secret = by_check[("secret", "/messages/0/content")]
    assert secret.severity is Severity.INFO
    assert secret.message.endswith("— reviewed: accept by alice on 2025-01-10")
    assert secret.evidence["review"] == {"decision": "accept", "reviewer": "alice", "date": "2025-01-10",
                                         "note": "key was rotated", "severity": "error"}
    assert by_check[("pii", "/messages/1/content")].evidence["review"]["decision"] == "mask"
    # The only open finding is the user's email: a warning, so the gate passes.
    assert report.passed
    row = report.scorecard.row("privacy-reviewed")
    assert row.metrics["reviewed"] == 2 and row.metrics["reviewers"] == {"alice": 1, "bob": 1}
    assert "; 2 reviewed by alice (1), bob (1); pii detection " in row.summary
    assert row.status == "warn"
    assert report.review is not None and report.review.pending == 1
    assert report.to_dict()["review"]["reviewers"] == {"alice": 1, "bob": 1}


def test_without_the_review_the_same_run_fails(data):
    report = lint("train.jsonl", settings=Settings(select=("pii", "secret")))
    assert not report.passed


def test_all_reviewed_row_passes_even_when_info_fails_the_gate(data):
    _init()
    path = data / "privacy-review.toml"
    for n in (1, 2, 3):
        _decide(path, n, "accept", "carol")
    report = lint("train.jsonl", settings=Settings(select=("pii", "secret"), fail_on="info",
                                                   privacy={"review_file": path}))
    assert report.passed
    row = report.scorecard.row("privacy-reviewed")
    assert (row.status, row.score) == ("pass", 100)
    assert row.summary.startswith("3 findings, all reviewed by carol (3); pii detection ")


def test_init_again_keeps_decisions_and_adds_new_findings(data):
    _init()
    path = data / "privacy-review.toml"
    _decide(path, 1, "accept", "alice")
    with open(data / "train.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"messages": [{"role": "user", "content": "SSN 536-22-8726"},
                                          {"role": "assistant", "content": "Noted."}]}) + "\n")
    result = _init()
    assert "4 entries (1 new, 3 without a decision)" in result.output
    entries = Review.load(path).entries
    assert entries[0].decision == "accept" and entries[0].reviewer == "alice"
    assert entries[-1].line == 4 and not entries[-1].reviewed


def test_stale_entries_are_reported(data):
    _init()
    path = data / "privacy-review.toml"
    (data / "train.jsonl").write_text(json.dumps(RECORDS[2]) + "\n", encoding="utf-8")
    report = lint("train.jsonl", settings=Settings(select=("pii", "secret"), privacy={"review_file": path}))
    assert len(report.review.stale) == 3


def test_cli_option_and_config_key(data):
    _init()
    path = data / "privacy-review.toml"
    for n in (1, 2, 3):
        _decide(path, n, "remove", "dana")
    runner = CliRunner()
    assert runner.invoke(main, ["check", "train.jsonl", "--select", "P"]).exit_code == 1
    ok = runner.invoke(main, ["check", "train.jsonl", "--select", "P", "--review-file", str(path)])
    assert ok.exit_code == 0, ok.output
    flat = " ".join(ok.output.split())
    assert "privacy review" in flat and "3 findings reviewed by dana (3)" in flat
    (data / "sub").mkdir()
    (data / "sub" / "tunelint.toml").write_text('[tool.tunelint.privacy]\nreview-file = "../privacy-review.toml"\n')
    settings = load_settings(data / "sub" / "tunelint.toml")
    assert settings.privacy.review_file.resolve() == path.resolve()
    assert lint("train.jsonl", settings=settings.replace(select=("P",))).passed


@pytest.mark.parametrize(("body", "message"), [
    ('[[finding]]\ndecision = "accept"\n', "has no fingerprint"),
    ('[[finding]]\nfingerprint = "a"\ndecision = "ok"\nreviewer = "x"\ndate = 2025-01-01\n', "is not one of accept"),
    ('[[finding]]\nfingerprint = "a"\ndecision = "accept"\ndate = 2025-01-01\n', "needs a reviewer"),
    ('[[finding]]\nfingerprint = "a"\ndecision = "accept"\nreviewer = "x"\ndate = "last week"\n', "not a date"),
    ('[[finding]]\nfingerprint = "a"\n[[finding]]\nfingerprint = "a"\n', "listed twice"),
    ('version = 2\n', "version 2"),
    ('finding = [', "not valid TOML"),
])
def test_bad_review_files_name_the_entry(tmp_path, body, message):
    path = tmp_path / "review.toml"
    path.write_text(body)
    with pytest.raises(ReviewError, match=message):
        Review.load(path)


def test_missing_review_file_is_a_usage_error(data):
    result = CliRunner().invoke(main, ["check", "train.jsonl", "--select", "P", "--review-file", "nope.toml"])
    assert result.exit_code == 2
    assert "review file not found" in result.output and "tunelint review init" in result.output


def test_review_file_round_trips_awkward_text(tmp_path):
    review = Review(())
    from tunelint.models import Criterion, Finding, Location

    f = Finding("P001", "pii", Criterion.PRIVACY_REVIEWED, Severity.ERROR, 'quote " back\\ tab\t del\x7f nl\n',
                Location("train", 'odd "path".jsonl', 3, 2, "/messages/0/content"), "abc123")
    extended, added = review.extended([f])
    path = tmp_path / "r.toml"
    path.write_text(extended.to_toml())
    [entry] = Review.load(path).entries
    assert added == 1 and entry.what == f.message.strip() and entry.path == 'odd "path".jsonl'


def test_sarif_marks_reviewed_findings_as_suppressed(data):
    from tunelint.reporters.sarif import SarifReporter

    _init()
    path = data / "privacy-review.toml"
    _decide(path, 3, "accept", "alice", note="rotated")
    report = lint("train.jsonl", settings=Settings(select=("pii", "secret"), privacy={"review_file": path}))
    results = json.loads(SarifReporter().render(report))["runs"][0]["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert [r["ruleId"] for r in suppressed] == ["P002"]
    assert suppressed[0]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "accept by alice on 2025-01-10: rotated"}]
