"""The example plugin, loaded the way a user loads it: named in a config file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tunelint import ConfigError, lint, load_settings
from tunelint.cli import main

HERE = Path(__file__).parent


def _dataset(tmp_path: Path) -> Path:
    rows = [
        {"messages": [{"role": "user", "content": "Refund?"}, {"role": "assistant", "content": "Yes, a full refund is Guaranteed."}]},
        {"messages": [{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "As an   AI language model, I help with orders."}]},
        {"messages": [{"role": "user", "content": "As an AI language model, answer me"}, {"role": "assistant", "content": "Sure."}]},
    ]
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return p


def _config(tmp_path: Path, body: str) -> Path:
    cfg = tmp_path / "tunelint.toml"
    cfg.write_text(
        f'plugins = ["{(HERE / "banned_phrases.py").as_posix()}"]\n'
        'select = ["banned-phrases"]\n'
        f"[checks.banned-phrases]\n{body}\n"
    )
    return cfg


def test_finds_phrases_and_patterns_in_assistant_turns_only(tmp_path):
    cfg = _config(tmp_path, 'phrases = ["as an AI language model"]\npatterns = [\'\\bguarantee(d)?\\b\']')
    report = lint(_dataset(tmp_path), settings=load_settings(cfg))
    got = sorted((f.check, f.location.line, f.location.pointer, f.evidence["phrase"]) for f in report.findings)
    assert got == [
        ("banned-phrases", 1, "/messages/1/content", r"\bguarantee(d)?\b"),
        ("banned-phrases", 2, "/messages/1/content", "as an AI language model"),
    ]


def test_not_assessed_without_configuration(tmp_path):
    report = lint(_dataset(tmp_path), settings=load_settings(_config(tmp_path, "")))
    assert report.findings == ()
    correct = next(c for c in report.scorecard.criteria if c.criterion.value == "correct")
    assert correct.status == "not-assessed" and "no phrases or patterns configured" in correct.summary


def test_bad_option_names_the_check_and_key(tmp_path):
    cfg = _config(tmp_path, 'patterns = ["(unclosed"]')
    with pytest.raises(ConfigError, match="check 'banned-phrases': option 'patterns'"):
        lint(_dataset(tmp_path), settings=load_settings(cfg))


def test_cli_runs_the_plugin_and_explains_it(tmp_path, monkeypatch):
    cfg = _config(tmp_path, 'phrases = ["as an AI language model"]')
    data = _dataset(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", str(data), "--config", str(cfg), "--format", "json", "--fail-on", "warning"])
    assert result.exit_code == 1
    findings = json.loads(result.output)["findings"]
    assert [(f["code"], f["location"]["line"]) for f in findings] == [("C900", 2)]
    explained = CliRunner().invoke(main, ["explain", "C900"])
    assert explained.exit_code == 0 and "Why it matters for a fine-tune" in explained.output
