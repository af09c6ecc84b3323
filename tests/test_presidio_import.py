"""Presidio imported without its predefined patterns compiled only to be checked
(tunelint.privacy.presidio_import), with the check back for patterns built afterwards."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import regex

checks = []
compile = regex.compile


def counting(pattern, *args, **kwargs):
    if sys._getframe(1).f_code.co_name == "__validate_regex":
        # who built the Pattern: Presidio's own recognizers or tunelint's
        checks.append(sys._getframe(3).f_globals["__name__"].split(".")[0])
    return compile(pattern, *args, **kwargs)


regex.compile = counting
from tunelint.privacy.pii import PiiDetector  # the first import of presidio_analyzer
presidio_own = checks.count("presidio_analyzer")
ours = checks.count("tunelint")
from presidio_analyzer import Pattern

try:
    Pattern("broken", "(unclosed", 0.5)
    refused = False
except ValueError:
    refused = True
Pattern("fine", r"\\bK-\\d{4}\\b", 0.5)
hooks = [type(f).__name__ for f in sys.meta_path if type(f).__name__ == "_Hook"]
found = PiiDetector().detect("write to jane.doe@example.com or call")
print(presidio_own, ours > 0, checks.count("__main__"), refused, hooks, sorted({s.entity_type for s in found}))
"""


def test_presidio_patterns_are_not_compiled_to_be_checked_during_import_only():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=True).stdout
    presidio_own, ours, after, refused, hooks, entities = out.strip().split(" ", 5)
    assert presidio_own == "0"  # 173 before (Presidio 2.2.366)
    assert ours == "True"  # tunelint's own patterns, built once Presidio is imported, are checked
    assert after == "2"  # so are the two built here (the broken one raised)
    assert refused == "True" and hooks == "[]"
    assert "EMAIL_ADDRESS" in entities
