"""JSON report, version 1: the stable shape other tools parse (DESIGN.md)."""

from __future__ import annotations

import orjson

from tunelint.engine import Report
from tunelint.reporters.base import Reporter


class JsonReporter(Reporter):
    name = "json"
    extension = ".json"

    def __init__(self, timing: bool = True) -> None:
        self.timing = timing

    def render(self, report: Report) -> str:
        data = report.to_dict(timing=self.timing)
        return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode() + "\n"
