"""Shared fixtures for the reporter tests: one run over a small dataset written for these tests,
with test-only plugin checks that publish label counts and duplicate clusters."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tunelint import __version__, lint, load_settings
from tunelint.reporters.html import HtmlReporter

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def in_data(monkeypatch):
    """Run from the data folder so report paths are short and machine-independent."""
    monkeypatch.chdir(DATA)
    return DATA


@pytest.fixture
def golden_report(in_data):
    settings = load_settings(DATA / "tunelint.toml")
    return lint("golden.jsonl", test="golden_test.jsonl", settings=settings, excerpts=HtmlReporter.excerpts)


def normalise(text: str) -> str:
    """Remove what legitimately changes between runs: timings and the tool version."""
    text = re.sub(r'time="[0-9.]+"', 'time="0"', text)
    return text.replace(f'"{__version__}"', '"<version>"').replace(f"tunelint {__version__}", "tunelint <version>")
