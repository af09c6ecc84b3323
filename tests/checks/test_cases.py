"""Runs every YAML case file in tests/checks/cases: records in, (check, line, pointer) out.

A case file names one check and lists cases; each case's records are written as a JSONL file
(train, and optionally test / reference), linted with only that check selected, and the set of
(check, line, pointer) tuples found must equal `expect` exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tunelint import Settings, lint

CASES_DIR = Path(__file__).parent / "cases"


def _collect():
    for path in sorted(CASES_DIR.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text("utf-8"))
        for i, case in enumerate(spec["cases"]):
            yield pytest.param(spec, case, id=f"{path.stem}:{case.get('name', i)}")


def _write(path: Path, records: list) -> str:
    lines = []
    for rec in records:
        # A string record is written verbatim: that is how a case plants a broken line.
        lines.append(rec if isinstance(rec, str) else json.dumps(rec, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("spec,case", list(_collect()))
def test_case(spec, case, tmp_path):
    check = spec["check"]
    train = _write(tmp_path / "train.jsonl", case["records"])
    test = _write(tmp_path / "test.jsonl", case["test_records"]) if "test_records" in case else None
    reference = _write(tmp_path / "reference.jsonl", case["reference_records"]) if "reference_records" in case else None
    options = {**spec.get("options", {}), **case.get("options", {})}
    extra = {**spec.get("settings", {}), **case.get("settings", {})}
    settings = Settings(select=(check,), checks={check: options} if options else {}, base_dir=tmp_path, **extra)
    report = lint(train, test=test, reference=reference, settings=settings)
    # repr as the sort key: dataset-level findings have no line (None), which ints cannot sort with.
    found = sorted(
        ((f.check, f.location.split, f.location.line, f.location.pointer) for f in report.findings),
        key=repr,
    )
    expected = sorted(
        ((e.get("check", check), e.get("split", "train"), e.get("line"), e.get("pointer")) for e in case["expect"]),
        key=repr,
    )
    assert found == expected, "\n".join(f"{f.location.line}: {f.message}" for f in report.findings)
