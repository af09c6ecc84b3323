"""Content and task-fit heuristics on real public data: they find the known defects and stay
quiet on clean data (every finding on the cleaned Alpaca sample was checked by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunelint import Settings, lint

SHARED = Path("/work/shared/datasets")
if not SHARED.is_dir():
    SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="shared datasets not present")

CONTENT = ("placeholder-output", "refusal-boilerplate", "merged-instructions", "degenerate-repetition",
           "missing-context", "truncated-output")


def test_cookbook_toy_chat_repeated_line_is_flagged():
    report = lint(SHARED / "instruct/openai_cookbook/toy_chat_fine_tuning.jsonl", settings=Settings(select=CONTENT))
    [finding] = report.findings
    assert (finding.check, finding.location.line, finding.location.pointer) == ("degenerate-repetition", 5, "/messages/2/content")
    assert finding.evidence["phrase"] == "Eat a banana!" and finding.evidence["repeats"] == 2000


def test_cleaned_alpaca_sample_raises_only_hand_checked_findings():
    report = lint(SHARED / "instruct/fastchat/alpaca_data_cleaned_1000.json", settings=Settings(select=CONTENT))
    found = sorted((f.check, f.location.index) for f in report.findings)
    # Each one read by hand: six "As an AI ..." disclaimers, one canned refusal, three outputs
    # cut off mid-sentence ("In conclusion, deploying a machine learning model involves").
    assert found == sorted(
        [("refusal-boilerplate", i) for i in (38, 465, 547, 601, 734, 766, 803)]
        + [("truncated-output", i) for i in (472, 625, 797)]
    )
    assert report.stats["examples"] == 1000


def test_math401_is_reported_as_calculations():
    report = lint(SHARED / "known_defects/math401/math401.jsonl",
                  settings=Settings(select=("calculations", "volatile-facts"), fields={"query": "user", "response": "assistant"}))
    [finding] = report.findings
    assert finding.check == "calculations" and finding.severity.value == "warning"
    assert finding.evidence["share"] >= 0.8 and finding.location.line is not None and len(finding.related) == 4


def test_gsm8k_worked_arithmetic_and_wrong_results():
    report = lint(SHARED / "leakage/gsm8k/train.jsonl",
                  settings=Settings(select=("calculations",), fields={"question": "user", "answer": "assistant"}))
    [finding] = report.findings
    assert finding.evidence["share"] > 0.95
    wrong = {w["line"] for w in finding.evidence["wrong_shown"]}
    # Line 168: "192*100=$1920"; line 503: "3/1=1" — real slips in the reference answers.
    assert {168, 503} <= wrong


def test_task_fit_on_general_instructions_is_info_only():
    report = lint(SHARED / "instruct/fastchat/alpaca_data_cleaned_1000.json",
                  settings=Settings(select=("calculations", "volatile-facts")))
    assert report.findings and all(f.severity.value == "info" for f in report.findings)
    assert all(f.evidence["share"] < 0.05 for f in report.findings)
