"""The deployment spec: loading, errors that name the file and the key, and the CLI options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tunelint.cli import main
from tunelint.config import ConfigError, load_settings
from tunelint.deployment import DeploymentError, compile_template, from_settings, parse, read_spec_file

SAMPLES = Path(__file__).resolve().parents[1] / "sample_datasets"


def _spec(tmp_path: Path, body: str, name: str = "deployment.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_paths_are_relative_to_the_spec_file(tmp_path):
    folder = tmp_path / "deploy"
    folder.mkdir()
    (folder / "prompt.txt").write_text("Be brief.", encoding="utf-8")
    (folder / "schema.json").write_text(json.dumps({"type": "object", "required": ["label"]}))
    (folder / "tools.json").write_text(json.dumps([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]))
    spec = _spec(folder, 'system_prompt_file = "prompt.txt"\noutput_schema = "schema.json"\ntools = "tools.json"\n'
                        'user_template = "Ticket: {ticket}"\nmax_seq_len = 2048\ntarget = "gemini"\n')
    d = parse(read_spec_file(spec))
    assert d.system_prompt == "Be brief."
    assert d.output_schema == {"type": "object", "required": ["label"]}
    assert list(d.tools) == ["lookup"] and d.max_seq_len == 2048 and d.target == "gemini"
    assert d.template_fields == ("ticket",)


def test_deployment_table_in_config_resolves_against_the_config(tmp_path):
    (tmp_path / "prompt.txt").write_text("Hi.", encoding="utf-8")
    cfg = _spec(tmp_path, '[tool.tunelint.deployment]\nsystem-prompt-file = "prompt.txt"\n', "tunelint.toml")
    d = from_settings(load_settings(cfg))
    assert d is not None and d.system_prompt == "Hi." and d.source == str(cfg)


@pytest.mark.parametrize("body,message", [
    ('sytem_prompt = "x"', "unknown deployment key 'sytem-prompt'"),
    ("max_seq_len = -1", "deployment key 'max-seq-len'"),
    ('system_prompt_file = "missing.txt"', "deployment key 'system-prompt-file'"),
    ('output_schema = "schema.json"', "deployment key 'output-schema'"),
    ('output_schema = {type = "objekt"}', "not a valid JSON Schema"),
    ('tools = [{name = "a"}, {name = "a"}]', "tool 'a' is defined twice"),
    ('user_template = "Ticket: {ticket"', "unmatched '{'"),
    ('tokenizer = "tok/tokenizer.json"', "deployment key 'tokenizer'"),
    ('target = "watsonx"', "unknown target 'watsonx'"),
    ('labels = []', "deployment key 'labels'"),
    ('label_key = "category"', "no labels are given"),
])
def test_errors_name_the_file_and_the_key(tmp_path, body, message):
    spec = _spec(tmp_path, "[deployment]\n" + body + "\n")
    with pytest.raises(DeploymentError) as info:
        parse(read_spec_file(spec))
    assert str(spec) in str(info.value) and message in str(info.value)


def test_unreadable_spec_files(tmp_path):
    with pytest.raises(DeploymentError, match="not found"):
        read_spec_file(tmp_path / "nope.toml")
    bad = _spec(tmp_path, "[deployment\n")
    with pytest.raises(DeploymentError, match="not valid TOML"):
        read_spec_file(bad)
    assert issubclass(DeploymentError, ConfigError)


def test_template_fields_match_any_text_and_literal_braces():
    pattern, fields = compile_template('Ticket: {ticket}\nPlan: {plan}\nJSON: {{"a": 1}}')
    assert fields == ("ticket", "plan")
    assert pattern.fullmatch('Ticket: a\nmultiline ticket\nPlan:  Pro\nJSON: {"a": 1}')
    assert not pattern.fullmatch("Ticket: a")


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_deployment_option_finds_the_agent_defects(tmp_path):
    out = tmp_path / "r.json"
    result = _run("check", SAMPLES / "agent_chat/train.jsonl", "--deployment", SAMPLES / "agent_chat/deployment.toml",
                  "--select", "output-schema-violation", "--format", "json", "-o", out, "--no-progress")
    assert result.exit_code == 1, result.output
    found = sorted((f["location"]["line"], f["location"]["pointer"]) for f in json.loads(out.read_text())["findings"])
    planted = sorted(
        (d["line"], d["pointer"]) for d in json.loads((SAMPLES / "defects.json").read_text())
        if d["file"] == "agent_chat/train.jsonl" and d["check"] == "output-schema-violation"
    )
    assert found == planted


def test_cli_bad_deployment_is_a_usage_error(tmp_path):
    spec = _spec(tmp_path, "[deployment]\nmax_seq_len = 0\n")
    result = _run("check", SAMPLES / "agent_chat/train.jsonl", "--deployment", spec, "--no-progress")
    assert result.exit_code == 2 and "max-seq-len" in result.output and str(spec) in result.output
    result = _run("check", SAMPLES / "agent_chat/train.jsonl", "--deployment", tmp_path / "missing.toml", "--no-progress")
    assert result.exit_code == 2 and "not found" in result.output


def test_cli_target_option_applies_the_profile(tmp_path):
    out = tmp_path / "r.json"
    result = _run("check", SAMPLES / "agent_chat/train.jsonl", "--target", "bedrock", "--select", "provider-format",
                  "--format", "json", "-o", out, "--no-progress")
    assert result.exit_code == 1
    findings = json.loads(out.read_text())["findings"]
    # Bedrock's Claude fine-tuning has no tool role: every tool result is reported, in every record.
    tool_msgs = [f for f in findings if f["evidence"]["rule"] == "roles"]
    assert tool_msgs and all("'tool'" in f["message"] for f in tool_msgs)
    assert len({f["location"]["line"] for f in tool_msgs}) > 1
    result = _run("check", SAMPLES / "agent_chat/train.jsonl", "--target", "nope", "--no-progress")
    assert result.exit_code == 2 and "unknown target 'nope'" in result.output
