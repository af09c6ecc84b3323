"""The duplication, consistency and balance checks on real public datasets: known defects are
found, data that is fine stays quiet."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tunelint import Settings, lint

_CANDIDATES = [
    Path(os.environ.get("TUNELINT_DATASETS", "/nonexistent")),
    Path(__file__).resolve().parents[2] / "shared" / "datasets",
    Path("/work/shared/datasets"),
]
SHARED = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[-1])
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="shared real datasets not present")
T0 = SHARED / "classification" / "t0_train_50k"
NI = SHARED / "classification" / "natural_instructions"


def _found(report, check):
    return sorted(f.location.line for f in report.findings if f.check == check)


def test_app_reviews_same_prompt_different_stars_is_a_conflict():
    report = lint(T0 / "app_reviews_convert_to_star_rating.jsonl", settings=Settings(select=("conflicting-outputs",)))
    assert _found(report, "conflicting-outputs") == [94, 149]
    finding = next(f for f in report.findings if f.location.line == 94)
    assert finding.evidence["kind"] == "exact"
    assert finding.evidence["compared_by"] == "label"
    assert [r.line for r in finding.related] == [149]
    shown = {m["line"]: m for m in finding.evidence["members"]}
    assert shown[94]["output"] != shown[149]["output"] and shown[94]["input"] == shown[149]["input"]


def test_imdb_single_label_is_imbalanced_and_says_why():
    report = lint(T0 / "imdb_Movie_Expressed_Sentiment.jsonl", settings=Settings(select=("label-imbalance",)))
    [finding] = [f for f in report.findings if f.check == "label-imbalance"]
    assert "'negative'" in finding.message and "200 of 200" in finding.message
    metrics = report.scorecard.to_dict()
    balanced = next(c for c in metrics["criteria"] if c["criterion"] == "balanced")
    assert "short values" in balanced["metrics"]["label-imbalance"]["reason"]


def test_math401_duplicate_rows_found_with_field_mapping():
    settings = Settings(select=("exact-duplicate",), fields={"query": "user", "response": "assistant"})
    report = lint(SHARED / "known_defects" / "math401" / "math401.jsonl", settings=settings)
    assert _found(report, "exact-duplicate") == [261, 264, 269, 271, 273, 276, 325, 326]
    reps = {f.location.line: f.evidence["representative"]["line"] for f in report.findings}
    assert reps[271] == 253 and reps[326] == 320


def test_math401_has_no_near_duplicates_from_symbols_dropped_by_tokenising():
    settings = Settings(select=("near-duplicate", "conflicting-outputs"), fields={"query": "user", "response": "assistant"})
    report = lint(SHARED / "known_defects" / "math401" / "math401.jsonl", settings=settings)
    assert report.findings == ()


@pytest.mark.parametrize(
    "task",
    [
        "task137_detoxifying-lms_classification_toxicity.json",
        "task138_detoxifying-lms_classification_fluency.json",
        "task318_stereoset_classification_gender.json",
    ],
)
def test_natural_instructions_balanced_labels_raise_no_imbalance(task, tmp_path):
    data = json.loads((NI / task).read_text("utf-8"))
    path = tmp_path / "task.jsonl"
    path.write_text(
        "".join(json.dumps({"input": i["input"], "output": i["output"][0]}) + "\n" for i in data["Instances"]),
        encoding="utf-8",
    )
    settings = Settings(select=("label-imbalance", "label-variants"), fields={"input": "user", "output": "assistant"})
    report = lint(path, settings=settings)
    assert report.findings == ()
    balanced = next(c for c in report.scorecard.to_dict()["criteria"] if c["criterion"] == "balanced")
    assert balanced["metrics"]["label-imbalance"]["classification_like"] is True


def test_balanced_real_classification_files_are_quiet():
    for name in ("ag_news_classify.jsonl", "app_reviews_convert_to_star_rating.jsonl"):
        report = lint(T0 / name, settings=Settings(select=("label-imbalance", "label-variants")))
        assert report.findings == (), name


def test_toy_chat_file_missing_system_prompt():
    path = SHARED / "instruct" / "openai_cookbook" / "toy_chat_fine_tuning.jsonl"
    report = lint(path, settings=Settings(select=("system-prompt-variants",)))
    assert _found(report, "system-prompt-variants") == [3]


def test_gsm8k_answer_lines_are_one_format():
    path = SHARED / "leakage" / "gsm8k" / "test.jsonl"
    report = lint(path, settings=Settings(select=("output-format-drift",), fields={"question": "user", "answer": "assistant"}))
    assert report.findings == ()
    consistent = next(c for c in report.scorecard.to_dict()["criteria"] if c["criterion"] == "consistent")
    assert consistent["metrics"]["output-format-drift"]["format_detail"] == "####"
