"""The Python API: lint() on paths, records, DataFrames and Hugging Face datasets through the same
loader, and Report.to_pandas()."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import tunelint
from tunelint import Settings, lint

RECORDS = [
    {"messages": [{"role": "user", "content": "Where is my parcel?"}, {"role": "assistant", "content": "It left the depot today."}]},
    {"messages": [{"role": "user", "content": "Cancel my order."}, {"role": "assistant", "content": "   "}]},
    {"messages": [{"role": "user", "content": "Hello?"}]},
    {"prompt": "not the same format"},
]


def _triples(report):
    return sorted((f.check, f.location.index, f.location.pointer) for f in report.findings)


@pytest.fixture
def from_file(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    return lint(str(path))


def test_records_match_the_file_run(from_file):
    report = lint(RECORDS)
    assert _triples(report) == _triples(from_file)
    assert report.datasets[0].path == "<train:records>" and report.datasets[0].examples == 3
    assert report.datasets[0].rejected == 1
    assert all(f.location.line is None for f in report.findings)


def test_dataframe_matches_the_file_run(from_file):
    report = lint(pd.DataFrame(RECORDS[:3]))
    assert _triples(report) == [t for t in _triples(from_file) if t[1] != 3]
    assert report.datasets[0].path == "<train:DataFrame>"


def test_hf_dataset_respects_selection():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(RECORDS[:3]).select([1, 2])
    report = lint(ds)
    assert report.datasets[0].examples == 2
    assert sorted(f.check for f in report.findings) == ["empty-content", "missing-assistant-turn"]


def test_generators_and_test_splits():
    report = lint((r for r in RECORDS[:2]), test=RECORDS[1:2], excerpts=10)
    assert {d.split for d in report.datasets} == {"train", "test"}
    # A one-shot generator cannot be re-read for excerpts; a list can.
    assert {k[0] for k in report.excerpts} == {"test"}


def test_bad_inputs_say_what_to_pass():
    with pytest.raises(TypeError, match="list of records"):
        lint(RECORDS[0])
    with pytest.raises(TypeError, match="mixes paths and records"):
        lint(["a.jsonl", RECORDS[0]])


def test_to_pandas(from_file):
    df = from_file.to_pandas()
    assert list(df.columns[:5]) == ["code", "check", "criterion", "severity", "message"]
    assert len(df) == len(from_file.findings)
    row = df[df.check == "empty-content"].iloc[0]
    assert row.line == 2 and row["index"] == 1 and row.pointer == "/messages/1/content"
    assert str(df.line.dtype) == "Int64"
    empty = lint(RECORDS[:1], settings=Settings(ignore=("test-leakage",))).to_pandas()
    assert empty.empty and "fingerprint" in empty.columns


def test_public_api_is_pinned():
    assert "lint" in tunelint.__all__ and callable(tunelint.lint)
    assert isinstance(lint(RECORDS[:1], settings=Settings()), tunelint.Report)
