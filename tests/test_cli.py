"""The command line as a user runs it: real datasets in, findings, exit codes and one-line errors out."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tunelint.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
TOY = SHARED / "instruct/openai_cookbook/toy_chat_fine_tuning.jsonl"


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def test_cookbook_toy_chat_line_4_has_no_user_message(tmp_path):
    out = tmp_path / "report.json"
    result = run("check", TOY, "--format", "json", "-o", out, "--ignore", "test-leakage")
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text())
    assert report["version"] == 1
    assert report["datasets"] == [{"split": "train", "path": str(TOY), "format": "openai-chat", "lines": 5, "examples": 5, "rejected": 0}]
    got = {(f["check"], f["location"]["line"]) for f in report["findings"]}
    assert ("missing-user-turn", 4) in got
    assert ("exceeds-context", 5) in got
    f = next(f for f in report["findings"] if f["check"] == "missing-user-turn")
    assert f["code"] == "F005" and f["criterion"] == "complete" and f["severity"] == "error"
    assert f["location"] == {"split": "train", "path": str(TOY), "line": 4, "index": 3, "pointer": "/messages"}
    assert len(f["fingerprint"]) == 20
    criteria = [c["criterion"] for c in report["scorecard"]["criteria"]]
    assert criteria == ["representative", "correct", "consistent", "diverse", "complete", "balanced",
                        "privacy-reviewed", "held-out", "fit-for-fine-tuning"]
    assert report["scorecard"]["passed"] is False


def test_text_report_shows_findings_with_file_and_line():
    result = run("check", TOY, "--no-color")
    assert result.exit_code == 1
    assert f"{TOY}:4" in result.output and "F005 missing-user-turn" in result.output
    assert "Scorecard" in result.output and "not-assessed" in result.output
    assert any(line.startswith("FAILED") for line in result.output.splitlines()[-3:])


def test_fail_on_and_exit_zero():
    assert run("check", TOY, "--fail-on", "never").exit_code == 0
    assert run("check", TOY, "--exit-zero").exit_code == 0
    assert run("check", TOY, "--select", "exceeds-context", "--fail-on", "error").exit_code == 0
    assert run("check", TOY, "--select", "exceeds-context", "--fail-on", "warning").exit_code == 1


def test_select_and_ignore_by_code_prefix_and_name(tmp_path):
    out = tmp_path / "r.json"
    run("check", TOY, "--select", "F", "--ignore", "F005", "--format", "json", "-o", out)
    checks = json.loads(out.read_text())["stats"]["checks_run"]
    assert "missing-user-turn" not in checks and "exceeds-context" not in checks and "empty-content" in checks


def test_fields_option_on_real_file(tmp_path):
    out = tmp_path / "r.json"
    result = run("check", SHARED / "known_defects/math401/math401.jsonl", "--fields", "query=user,response=assistant", "--format", "json", "-o", out)
    assert result.exit_code in (0, 1)
    ds = json.loads(out.read_text())["datasets"][0]
    assert ds["examples"] == 401 and ds["rejected"] == 0 and ds["format"] == "fields"


def test_usage_errors_are_one_line_exit_2(tmp_path):
    for args, needle in [
        (["check", tmp_path / "missing.jsonl"], "no such file"),
        (["check", tmp_path], "is a directory"),
        (["check", TOY, "--format", "nope"], "unknown --format"),
        (["check", TOY, "--select", "no-such-check"], "unknown check"),
        (["check", TOY, "--fields", "question"], "--fields"),
        (["check", TOY, "--input-format", "klingon"], "input format"),
        (["explain", "Z999"], "no check"),
    ]:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert needle in result.output


def test_bad_config_names_file_and_key(tmp_path):
    cfg = tmp_path / "tunelint.toml"
    cfg.write_text('fail-on = "sometimes"\n')
    result = run("check", TOY, "--config", cfg)
    assert result.exit_code == 2 and str(cfg) in result.output and "fail-on" in result.output
    cfg.write_text("[checks.exceeds-context]\nmax-tokenz = 3\n")
    result = run("check", TOY, "--config", cfg)
    assert result.exit_code == 2 and "check 'exceeds-context': unknown option 'max-tokenz'" in result.output
    cfg.write_text("[checks.exceeds-context]\nmax-tokens = -3\n")
    result = run("check", TOY, "--config", cfg)
    assert result.exit_code == 2 and "option 'max-tokens'" in result.output


def test_config_options_reach_the_check(tmp_path):
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text('[tool.tunelint]\nselect = ["exceeds-context"]\n[tool.tunelint.checks.exceeds-context]\nmax-tokens = 10\nseverity = "info"\n')
    out = tmp_path / "r.json"
    run("check", TOY, "--config", cfg, "--format", "json", "-o", out)
    found = json.loads(out.read_text())["findings"]
    assert {f["location"]["line"] for f in found} == {1, 2, 3, 4, 5}
    assert {f["severity"] for f in found} <= {"info", "error"}


def test_stdin(tmp_path):
    line = TOY.read_text().splitlines()[3]
    result = run("check", "-", "--format", "json", "--ignore", "test-leakage", input=line + "\n")
    report = json.loads(result.output)
    assert [(f["check"], f["location"]["line"]) for f in report["findings"]] == [("missing-user-turn", 1)]


def test_checks_explain_init(tmp_path, monkeypatch):
    listing = run("checks").output
    assert "F001  invalid-json" in listing and "L001  exceeds-context" in listing
    explained = run("explain", "missing-assistant-turn").output
    for section in ("What it does", "Why it matters for a fine-tune", "Example", "Use instead"):
        assert section in explained
    monkeypatch.chdir(tmp_path)
    assert run("init").exit_code == 0
    assert (tmp_path / "tunelint.toml").read_text().startswith("# tunelint configuration")
    assert run("init").exit_code == 2


def test_input_file_is_never_modified(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_bytes(TOY.read_bytes())
    before = data.stat().st_mtime_ns, data.read_bytes()
    run("check", data, "--format", "json", "-o", tmp_path / "r.json")
    assert (data.stat().st_mtime_ns, data.read_bytes()) == before


def test_console_entry_leaves_the_last_objects_to_the_exit(monkeypatch, capsys):
    # `run` is what the `tunelint` script calls: it ends the process, so what is still alive is
    # frozen and the interpreter's last collections do not walk it; the exit code is kept.
    import gc

    import pytest

    from tunelint.cli import run as console_run

    gc.unfreeze()
    monkeypatch.setattr("sys.argv", ["tunelint", "check", str(TOY), "--select", "missing-user-turn", "--format", "json"])
    try:
        with pytest.raises(SystemExit) as exc:
            console_run()
        assert exc.value.code == 1
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    report = json.loads(capsys.readouterr().out)
    assert [(f["check"], f["location"]["line"]) for f in report["findings"]] == [("missing-user-turn", 4)]
