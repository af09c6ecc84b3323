"""`tunelint redact`: placeholders for every value, every other byte kept, the input untouched."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tunelint import Settings, lint
from tunelint.cli import main
from tunelint.loader.reader import InputError
from tunelint.redact import redact_file

SAMPLES = Path(__file__).resolve().parents[1] / "sample_datasets"

PLANTED = {
    "EMAIL_ADDRESS": "maria.gonzalez@outlook.com",
    "PHONE_NUMBER": "+1 646-555-0178",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "AWS_ACCESS_KEY_ID": "AKIAZT4HW2QX9MPL6BVC",
    "US_SSN": "536-22-8726",
}


def _lines() -> list[bytes]:
    # Deliberately uneven formatting: unchanged records must keep it byte for byte.
    return [
        b'{"messages":[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"}]}',
        ('{"messages": [{"role": "user", "content": "Mail maria.gonzalez@outlook.com, caf\\u00e9 ok?"},  '
         '{"role": "assistant", "content": "Done, I called +1 646-555-0178."}], "meta": {"card": "4111 1111 1111 1111"}}').encode(),
        b'',
        b'{ "messages" : [ {"role":"user","content":"key AKIAZT4HW2QX9MPL6BVC and SSN 536-22-8726"}, {"role":"assistant","content":"Rotate it."} ] }',
        b'{"messages": [{"role": "user", "content": "broken line with maria.gonzalez@outlook.com"',
        b'{"messages":[{"role":"user","content":"Order 100234871 cost $1,249.99 on 2024-03-15"},{"role":"assistant","content":"Noted."}]}',
    ]


@pytest.fixture
def train(tmp_path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\r\n".join(_lines()[:2]) + b"\n" + b"\n".join(_lines()[2:]) + b"\n")
    return path


def test_jsonl_every_value_replaced_other_bytes_kept(train, tmp_path):
    before = train.read_bytes()
    out = tmp_path / "out" / "clean.jsonl"
    result = redact_file(train, out, Settings())
    assert train.read_bytes() == before
    data = out.read_bytes()
    for value in PLANTED.values():
        assert value.encode() not in data
    for entity in PLANTED:
        assert f"<{entity}>".encode() in data
    old_lines, new_lines = before.split(b"\n"), data.split(b"\n")
    assert len(old_lines) == len(new_lines)
    # Unchanged records (and the blank line, and the CRLF ending) are byte-identical.
    assert new_lines[0] == old_lines[0] and old_lines[0].endswith(b"\r")
    assert new_lines[2] == old_lines[2] == b""
    assert new_lines[5] == old_lines[5]
    # Changed records keep their own formatting (spacing, \u escapes), only the values differ.
    assert new_lines[1].startswith(b'{"messages": [{"role": "user", "content": "Mail <EMAIL_ADDRESS>, caf\\u00e9 ok?"},  ')
    assert new_lines[3].startswith(b'{ "messages" : [ {"role":"user","content":"key <AWS_ACCESS_KEY_ID> and SSN <US_SSN>"}')
    assert orjson.loads(new_lines[1])["meta"] == {"card": "<CREDIT_CARD>"}
    # The broken line is redacted as text.
    assert new_lines[4] == b'{"messages": [{"role": "user", "content": "broken line with <EMAIL_ADDRESS>"'
    assert (result.records, result.changed, result.unparsed) == (5, 3, 1)
    assert result.by_type == {"AWS_ACCESS_KEY_ID": 1, "CREDIT_CARD": 1, "EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1, "US_SSN": 1}
    assert result.container == "jsonl" and result.mode.startswith(("patterns-only", "ner:"))


def test_log_names_each_replacement_masked(train, tmp_path):
    out = tmp_path / "clean.jsonl"
    redact_file(train, out)
    log_bytes = Path(str(out) + ".log.jsonl").read_bytes()
    for value in PLANTED.values():
        assert value.encode() not in log_bytes
    entries = [json.loads(line) for line in log_bytes.splitlines()]
    assert [(e["index"], e["line"]) for e in entries] == [(1, 2), (2, 4), (3, 5)]
    assert entries[0]["replaced"] == [
        {"pointer": "/messages/0/content", "entity_type": "EMAIL_ADDRESS", "masked": "m***@o***.com"},
        {"pointer": "/messages/1/content", "entity_type": "PHONE_NUMBER", "masked": "***-***-0178"},
        {"pointer": "/meta/card", "entity_type": "CREDIT_CARD", "masked": "**** **** **** 1111"},
    ]


def test_redacted_copy_lints_clean_of_privacy_findings(train, tmp_path):
    out = tmp_path / "clean.jsonl"
    redact_file(train, out)
    before = lint(train, settings=Settings(select=("pii", "secret")))
    after = lint(out, settings=Settings(select=("pii", "secret")))
    assert len(before.findings) == 4  # the card is in metadata the checks do not read; redact still replaces it
    assert after.findings == ()


def test_json_array_and_gzip_keep_their_container(tmp_path):
    records = [
        {"instruction": "Contact?", "input": "", "output": "Write to maria.gonzalez@outlook.com."},
        {"instruction": "Sum 2 and 3", "input": "", "output": "5"},
    ]
    text = "[\n  " + ",\n  ".join(json.dumps(r, indent=None) for r in records) + "\n]\n"
    src = tmp_path / "data.json.gz"
    src.write_bytes(gzip.compress(text.encode()))
    out = tmp_path / "out.json.gz"
    result = redact_file(src, out)
    body = gzip.decompress(out.read_bytes()).decode()
    assert body == text.replace("maria.gonzalez@outlook.com", "<EMAIL_ADDRESS>")
    assert (result.container, result.compressed, result.changed) == ("json-array", True, 1)


def test_parquet_keeps_schema(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"prompt": ["Call me", "Hi"], "completion": ["On +1 646-555-0178.", "Hello"], "n": [1, 2]})
    src = tmp_path / "data.parquet"
    pq.write_table(table, src)
    out = tmp_path / "out.parquet"
    result = redact_file(src, out)
    back = pq.read_table(out)
    assert back.schema == table.schema
    assert back.column("completion").to_pylist() == ["On <PHONE_NUMBER>.", "Hello"]
    assert (result.container, result.changed) == ("parquet", 1)


def test_allow_list_from_the_config_is_honoured(train, tmp_path):
    settings = Settings(checks={"pii": {"allow": ["re:.*@outlook\\.com"]}, "secret": {"kinds": ["JWT"]}})
    out = tmp_path / "clean.jsonl"
    result = redact_file(train, out, settings)
    assert b"maria.gonzalez@outlook.com" in out.read_bytes()
    assert b"AKIAZT4HW2QX9MPL6BVC" in out.read_bytes()
    assert "EMAIL_ADDRESS" not in result.by_type


def test_never_overwrites_its_input(train):
    with pytest.raises(InputError, match="never overwrites"):
        redact_file(train, train)


def test_cli_prints_a_summary(tmp_path):
    out = tmp_path / "tickets.jsonl"
    result = CliRunner().invoke(main, ["redact", str(SAMPLES / "support_tickets" / "train.jsonl"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "replaced 3 values in 3 of 157 records (1 AWS_ACCESS_KEY_ID, 1 EMAIL_ADDRESS, 1 PHONE_NUMBER" in result.output
    data = out.read_text()
    assert "dana.whitfield@example.com" not in data and "<EMAIL_ADDRESS>" in data
    missing = CliRunner().invoke(main, ["redact", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "x.jsonl")])
    assert missing.exit_code == 2 and "no such file" in missing.output
