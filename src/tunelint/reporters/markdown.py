"""Markdown report for a pull-request comment or a GitHub Actions step summary.

Dataset text is escaped for GitHub-flavoured Markdown: no raw HTML, no formatting, no links or
@-mentions built from it, no table breakage; the whole stays under a comment's size limit.
"""

from __future__ import annotations

import re

from tunelint.engine import Report
from tunelint.models import Severity
from tunelint.reporters.base import Reporter, by_check, neutralise, plural, where, worst

_STATUS = {"pass": "✅ pass", "warn": "⚠️ warn", "fail": "❌ fail", "not-assessed": "➖ not assessed"}
_SEVERITY = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "info"}
# Characters Markdown or GitHub give meaning to inline: formatting, links, tables, HTML, mentions,
# issue refs. (Escaped text never starts a line, so list and heading markers are harmless.)
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~@])")
# Bare URLs and www. names become links on GitHub; break them without hiding the text.
_AUTOLINK = re.compile(r"(?i)(://|\bwww\.)")
# GitHub refuses comments over 65,536 characters; leave room for the footer.
MAX_CHARS = 60_000


def md_escape(text: str) -> str:
    """Untrusted text as inert inline Markdown (one line)."""
    text = neutralise(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # `@` and `#` become entities so no user, team or issue gets pinged or linked.
    text = _SPECIAL.sub(lambda m: {"@": "&#64;", "#": "&#35;", "|": "&#124;"}.get(m.group(1), "\\" + m.group(1)), text)
    return _AUTOLINK.sub(lambda m: m.group(1).replace(":", "&#58;").replace(".", "&#46;"), text)


class MarkdownReporter(Reporter):
    name = "markdown"
    extension = ".md"

    def __init__(self, max_per_check: int = 10, max_chars: int = MAX_CHARS) -> None:
        self.max_per_check = max_per_check
        self.max_chars = max_chars

    def render(self, report: Report) -> str:
        head = self._head(report) + self._scorecard(report)
        tail = self._footer(report)
        body: list[str] = []
        size = len(head) + len(tail)
        groups = by_check(report.findings)
        if groups:
            body.append("### Findings\n\n| check | criterion | findings | worst |\n|---|---|---:|---|\n")
            for (code, check), items in groups.items():
                body.append(f"| `{code}` {check} | {items[0].criterion.value} | {len(items):,} | {_SEVERITY[worst(items)]} |\n")
            body.append("\n")
            size += sum(len(b) for b in body)
            for (code, check), items in groups.items():
                section = self._check_section(code, check, items)
                if size + len(section) > self.max_chars:
                    body.append("_Further findings left out to stay within a comment's size; see the JSON or HTML report._\n\n")
                    break
                body.append(section)
                size += len(section)
        return head + "".join(body) + tail

    def _head(self, report: Report) -> str:
        sev = report.stats.get("findings_by_severity", {})
        verdict = "✅ passed" if report.passed else "❌ failed"
        lines = [f"## tunelint: {verdict}\n\n"]
        lines.append(
            f"**{report.stats.get('examples', 0):,} examples**, {plural(len(report.findings), 'finding')} "
            f"({sev.get('error', 0)} errors, {sev.get('warning', 0)} warnings, {sev.get('info', 0)} info); "
            f"gate: fail on {report.scorecard.fail_on}"
        )
        if report.suppressed:
            lines.append(f"; {len(report.suppressed):,} suppressed")
        lines.append("\n\n")
        for reason in report.scorecard.gate_reasons:
            lines.append(f"- gate: {reason}\n")
        if report.scorecard.gate_reasons:
            lines.append("\n")
        if report.datasets:
            lines.append("| split | file | format | examples | rejected |\n|---|---|---|---:|---:|\n")
            for d in report.datasets:
                lines.append(f"| {d.split} | {md_escape(d.path)} | {md_escape(d.format)} | {d.examples:,} | {d.rejected:,} |\n")
            lines.append("\n")
        return "".join(lines)

    def _scorecard(self, report: Report) -> str:
        lines = ["### Scorecard\n\n| criterion | status | score | summary |\n|---|---|---:|---|\n"]
        for row in report.scorecard.criteria:
            score = "–" if row.score is None else str(row.score)
            lines.append(f"| {row.criterion.value} | {_STATUS[row.status]} | {score} | {md_escape(row.summary)} |\n")
        lines.append("\n")
        flagged = [r for r in report.scorecard.criteria if r.status in ("warn", "fail")]
        if flagged:
            lines.append("<details><summary>What to do</summary>\n\n")
            for row in flagged:
                lines.append(f"- **{row.criterion.value}**: {md_escape(row.advice)}\n")
                for message in row.top_findings:
                    lines.append(f"  - {md_escape(message)}\n")
            lines.append("\n</details>\n\n")
        return "".join(lines)

    def _check_section(self, code: str, check: str, items: list) -> str:
        out = [f"<details><summary><code>{code}</code> {check}: {plural(len(items), 'finding')}</summary>\n\n"]
        for f in items[: self.max_per_check]:
            loc = md_escape(where(f.location))
            out.append(f"- {_SEVERITY[f.severity]} `{code}` {loc}: {md_escape(f.message)}\n")
        if len(items) > self.max_per_check:
            out.append(f"- … and {len(items) - self.max_per_check:,} more\n")
        out.append("\n</details>\n\n")
        return "".join(out)

    def _footer(self, report: Report) -> str:
        out = []
        if report.baseline is not None and report.baseline.stale:
            n = len(report.baseline.stale)
            out.append(f"{n:,} baseline {'entry' if n == 1 else 'entries'} no longer match; "
                       "refresh the baseline with `tunelint baseline`.\n\n")
        out.append("<sub>tunelint</sub>\n")
        return "".join(out)
