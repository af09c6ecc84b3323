"""SARIF 2.1.0 for code-scanning tools (GitHub code scanning, IDE viewers).

One rule per check that ran, its metadata taken from the check's docstring; one result per
finding with a file + line region (dataset-level findings point at the file alone), the JSON
pointer as a logical location, related examples as related locations, and the content
fingerprint as a partial fingerprint so results track across runs.
"""

from __future__ import annotations

from urllib.parse import quote

import orjson

from tunelint import __version__
from tunelint.engine import Report
from tunelint.models import CheckInfo, Location, Severity
from tunelint.reporters.base import Reporter, doc_sections, neutralise, neutralise_data

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(path: str) -> str:
    # A relative URI reference: keep slashes, percent-encode the rest (in-memory labels like <train:records>).
    return quote(path.replace("\\", "/"), safe="/._-~")


def _physical(loc: Location) -> dict:
    physical: dict = {"artifactLocation": {"uri": _uri(loc.path), "uriBaseId": "%SRCROOT%"}}
    if loc.line is not None:
        physical["region"] = {"startLine": loc.line}
    return physical


def _rule(info: CheckInfo) -> dict:
    sections = doc_sections(info.doc)
    parts = [sections.get("summary", "")]
    for title in ("What it does", "Why it matters for a fine-tune", "Example", "Use instead", "Options"):
        if sections.get(title):
            parts.append(f"{title}:\n{sections[title]}")
    markdown = [f"**{sections.get('summary', '')}**"]
    for title in ("What it does", "Why it matters for a fine-tune", "Use instead", "Options"):
        if sections.get(title):
            markdown.append(f"### {title}\n\n{sections[title]}")
    if sections.get("Example"):
        markdown.append(f"### Example\n\n```json\n{sections['Example']}\n```")
    return {
        "id": info.code,
        "name": info.name,
        "shortDescription": {"text": info.summary or sections.get("summary", info.name)},
        "fullDescription": {"text": sections.get("What it does") or sections.get("summary", info.name)},
        "help": {"text": "\n\n".join(p for p in parts if p), "markdown": "\n\n".join(markdown)},
        "defaultConfiguration": {"level": _LEVEL[info.severity]},
        "properties": {"criterion": info.criterion.value, "tags": ["fine-tuning-data", info.criterion.value]},
    }


class SarifReporter(Reporter):
    name = "sarif"
    extension = ".sarif"

    def render(self, report: Report) -> str:
        infos = list(report.checks)
        known = {i.code for i in infos}
        # Findings from checks the report has no metadata for still need a rule to point at.
        for f in report.findings:
            if f.code not in known:
                known.add(f.code)
                infos.append(CheckInfo(f.code, f.check, f.criterion, f.severity, f.check, ""))
        index = {info.code: i for i, info in enumerate(infos)}
        results = []
        for f in report.findings:
            result: dict = {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": _LEVEL[f.severity],
                "message": {"text": neutralise(f.message, keep_newlines=True)},
                "locations": [{"physicalLocation": _physical(f.location)}],
                "partialFingerprints": {"tunelint/v1": f.fingerprint},
                "properties": {
                    "check": f.check,
                    "criterion": f.criterion.value,
                    "split": f.location.split,
                    "evidence": neutralise_data(dict(f.evidence)),
                },
            }
            if f.location.pointer:
                result["locations"][0]["logicalLocations"] = [
                    {"name": neutralise(f.location.pointer), "kind": "element"}
                ]
            if f.location.index is not None:
                result["properties"]["index"] = f.location.index
            if f.reviewed:
                # A privacy review decided on it: code scanning shows it as dismissed, with why.
                review = f.evidence["review"]
                why = f"{review.get('decision')} by {review.get('reviewer')} on {review.get('date')}"
                if review.get("note"):
                    why += f": {review['note']}"
                result["suppressions"] = [{"kind": "external", "status": "accepted",
                                           "justification": neutralise(why, keep_newlines=True)}]
            if f.related:
                result["relatedLocations"] = [
                    {"id": i, "physicalLocation": _physical(r), "message": {"text": f"related example ({r.split})"}}
                    for i, r in enumerate(f.related)
                ]
            results.append(result)
        artifacts = sorted({d.path for d in report.datasets})
        run = {
            "tool": {"driver": {"name": "tunelint", "version": __version__, "semanticVersion": __version__,
                                "rules": [_rule(i) for i in infos]}},
            "automationDetails": {"id": "tunelint/"},
            "artifacts": [{"location": {"uri": _uri(p), "uriBaseId": "%SRCROOT%"}} for p in artifacts],
            "invocations": [{"executionSuccessful": True}],
            "results": results,
            "properties": {"passed": report.passed, "gateReasons": list(report.scorecard.gate_reasons)},
        }
        doc = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
