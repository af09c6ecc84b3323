"""Project-wide promises: the public API is pinned, every check documents itself, codes are sane."""

from __future__ import annotations

import re

import tunelint
from tunelint.registry import FAMILIES, load_checks, load_formats, load_reporters

SECTIONS = ("What it does:", "Why it matters for a fine-tune:", "Example:", "Use instead:")


def test_public_api_is_pinned():
    assert tunelint.__all__ == sorted(tunelint.__all__)
    assert tunelint.__all__ == [
        "Check", "CheckContext", "CheckOptions", "ConfigError", "Criterion", "DatasetCheck", "DatasetInfo",
        "Example", "Finding", "Location", "RecordCheck", "Report", "Role", "Settings", "Severity", "ToolCall",
        "Turn", "__version__", "lint", "load_settings",
    ]


def test_every_check_documents_itself():
    registry = load_checks()
    assert registry.checks, "no checks registered: is the package installed?"
    for cls in registry.checks.values():
        doc = cls.doc()
        for section in SECTIONS:
            assert section in doc, f"{cls.name} docstring lacks '{section}'"
        if cls.Options.model_fields:
            assert "Options:" in doc, f"{cls.name} has options but documents none"
            for field in cls.Options.model_fields:
                assert field.replace("_", "-") in doc, f"{cls.name} does not document option {field}"
        assert cls.summary, f"{cls.name} has no one-line summary"


def test_codes_are_unique_permanent_shape():
    registry = load_checks()
    codes = [c.code for c in registry.checks.values()]
    assert len(codes) == len(set(codes))
    for c in registry.checks.values():
        assert re.fullmatch(r"[A-Z]\d{3}", c.code) and c.code[0] in FAMILIES


def test_design_check_names_keep_their_codes():
    by_name = {name: cls.code for name, cls in load_checks().checks.items()}
    pinned = {"invalid-json": "F001", "schema-violation": "F002", "missing-assistant-turn": "F003",
              "empty-content": "F004", "missing-user-turn": "F005", "exceeds-context": "L001"}
    for name, code in pinned.items():
        assert by_name[name] == code


def test_formats_and_reporters_register():
    assert {"openai-chat", "openai-completion", "alpaca", "sharegpt", "preference-trl", "preference-openai",
            "preference-hh", "gemini", "anthropic"} <= set(load_formats())
    assert {"text", "json"} <= set(load_reporters())


def test_check_docs_are_current():
    import importlib.util
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs"
    spec = importlib.util.spec_from_file_location("gen_docs", docs / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for name, text in gen.pages().items():
        page = docs / "checks" / name
        assert page.is_file() and page.read_text("utf-8") == text, f"docs/checks/{name} is stale: run python docs/generate.py"
