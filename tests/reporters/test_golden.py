"""Golden files: each format's full output for one run, compared byte for byte (timings and
version normalised). Regenerate after an intended change with TUNELINT_UPDATE_GOLDEN=1."""

from __future__ import annotations

import os

import pytest

from tunelint.registry import load_reporters

from .conftest import GOLDEN, normalise

FORMATS = ["text", "json", "html", "markdown", "sarif", "github", "junit"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden(fmt, golden_report):
    reporter_cls = load_reporters()[fmt]
    reporter = reporter_cls(timing=False) if fmt == "json" else reporter_cls.create(color=False)
    out = normalise(reporter.render(golden_report))
    path = GOLDEN / f"report.{fmt}{reporter_cls.extension}"
    if os.environ.get("TUNELINT_UPDATE_GOLDEN") == "1":
        path.write_text(out, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with TUNELINT_UPDATE_GOLDEN=1 once and review it"
    assert out == path.read_text(encoding="utf-8")


def test_every_registered_reporter_has_a_golden_file():
    assert sorted(load_reporters()) == sorted(FORMATS)
