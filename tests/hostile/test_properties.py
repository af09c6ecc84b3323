"""Property-based tests: any JSON value in any field never crashes the loader or the checks,
and counts always reconcile."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunelint import Settings, lint
from tunelint.loader import INTERNAL_ERROR, InputError, Loader
from tunelint.registry import load_formats

FORMATS = load_formats()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
role_names = st.sampled_from(["system", "user", "assistant", "tool", "developer", "function", "human", "gpt", "model", "bogus"])
KEYS = ["messages", "role", "content", "tool_calls", "function", "name", "arguments", "id", "tool_call_id", "weight",
        "prompt", "completion", "chosen", "rejected", "instruction", "input", "output", "conversations", "from", "value",
        "contents", "parts", "text", "systemInstruction", "system", "type", "tools", "preferred_output",
        "non_preferred_output", "functionCall", "args", "tool_use_id"]

# Records shaped like the known formats, with any value anywhere.
message = st.fixed_dictionaries({}, optional={k: st.one_of(role_names, json_values) for k in ("role", "content", "tool_calls", "weight", "tool_call_id", "name")})
record = st.one_of(
    st.fixed_dictionaries({"messages": st.one_of(st.lists(message, max_size=4), json_values)}, optional={"tools": json_values, "system": json_values}),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5),
    st.fixed_dictionaries({"conversations": st.lists(st.fixed_dictionaries({}, optional={"from": st.one_of(role_names, json_values), "value": json_values}), max_size=4)}),
    st.fixed_dictionaries({"contents": st.lists(st.fixed_dictionaries({}, optional={"role": st.one_of(role_names, json_values), "parts": json_values}), max_size=3)}),
    json_values,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(record, min_size=1, max_size=6), st.sampled_from([None, *FORMATS]))
def test_loader_never_crashes_and_counts_reconcile(tmp_path_factory, records, fmt):
    path = tmp_path_factory.mktemp("prop") / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    loader = Loader(str(path), "train", FORMATS, input_format=fmt)
    items = list(loader)
    info = loader.info
    assert info.examples + info.rejected == info.lines == len(records)
    for item in items:
        assert INTERNAL_ERROR not in getattr(item, "message", ""), item


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(record, min_size=1, max_size=5))
def test_every_check_survives_any_record(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("prop") / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    report = lint(path, test=path, settings=Settings(fail_on="never"))
    ds = report.datasets[0]
    assert ds.examples + ds.rejected == ds.lines
    assert report.passed


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("prop") / "t.jsonl"
    path.write_bytes(data)
    loader = Loader(str(path), "train", FORMATS)
    try:
        list(loader)
    except InputError as exc:
        # Only a file claiming to be parquet may be unreadable as a whole (exit 2).
        assert data.lstrip(b"\x1f\x8b")[:4] == b"PAR1" or b"PAR1" in data[:64], exc
        return
    assert loader.info.examples + loader.info.rejected == loader.info.lines
