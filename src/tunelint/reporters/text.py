"""Terminal report (rich): summary line, findings grouped by check, the scorecard.

All dataset-derived text goes through `neutralise` and rich `Text` objects, never markup.
"""

from __future__ import annotations

import io
from collections import defaultdict

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tunelint.engine import Report
from tunelint.models import Finding, Severity
from tunelint.reporters.base import Reporter, neutralise

_SEV_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "not-assessed": "dim"}


class TextReporter(Reporter):
    name = "text"
    extension = ".txt"

    @classmethod
    def create(cls, color: bool | None = None) -> "TextReporter":
        return cls(color=color)

    def __init__(self, color: bool | None = None, width: int = 110, max_per_check: int = 20) -> None:
        self.color = color
        self.width = width
        self.max_per_check = max_per_check

    def render(self, report: Report) -> str:
        buf = io.StringIO()
        console = Console(
            file=buf,
            force_terminal=bool(self.color),
            no_color=not self.color,
            width=self.width,
            highlight=False,
            markup=False,
            emoji=False,
        )
        self._datasets(console, report)
        self._findings(console, report)
        self._scorecard(console, report)
        self._baseline(console, report)
        self._review(console, report)
        self._summary(console, report)
        # Cells are padded to their column's width; trailing blanks only get in a diff's way.
        return "\n".join(line.rstrip() for line in buf.getvalue().split("\n"))

    def _datasets(self, console: Console, report: Report) -> None:
        for d in report.datasets:
            line = Text()
            line.append(f"{d.split:<9}", style="bold")
            line.append(neutralise(d.path))
            line.append(f"  {d.format}, {d.examples:,} examples", style="dim")
            if d.rejected:
                line.append(f", {d.rejected:,} rejected", style="red")
            console.print(line)
        console.print()

    def _findings(self, console: Console, report: Report) -> None:
        groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for f in report.findings:
            groups[(f.code, f.check)].append(f)
        for (code, check), items in sorted(groups.items()):
            worst = max(items, key=lambda f: f.severity.rank).severity
            head = Text()
            head.append(f"{code} {check}", style=_SEV_STYLE[worst])
            head.append(f"  {len(items)} finding{'s' if len(items) != 1 else ''}  [{items[0].criterion.value}]", style="dim")
            console.print(head)
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True)
            grid.add_column(no_wrap=True)
            grid.add_column(overflow="fold")
            for f in items[: self.max_per_check]:
                loc = f.location
                where = Text("  " + neutralise(loc.path), style="bold")
                if loc.line is not None:
                    where.append(f":{loc.line}", style="bold")
                elif loc.index is not None:
                    where.append(f"[{loc.index}]", style="bold")
                if loc.pointer:
                    where.append(f" {neutralise(loc.pointer)}", style="dim")
                message = Text(neutralise(f.message))
                if f.related:
                    refs = [str(r.line) if r.line is not None else f"[{r.index}]" for r in f.related[:5] if r.index is not None]
                    if refs:
                        more = f" +{len(f.related) - 5}" if len(f.related) > 5 else ""
                        message.append(f"  (see {', '.join(refs)}{more})", style="dim")
                grid.add_row(where, Text(f.severity.value + ":", style=_SEV_STYLE[f.severity]), message)
            console.print(grid)
            if len(items) > self.max_per_check:
                console.print(Text(f"  … and {len(items) - self.max_per_check} more (see --format json)", style="dim"))
            console.print()

    def _scorecard(self, console: Console, report: Report) -> None:
        table = Table(title="Scorecard", title_justify="left", show_lines=False, expand=False)
        table.add_column("criterion", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("score", justify="right")
        table.add_column("summary")
        for row in report.scorecard.criteria:
            table.add_row(
                Text(row.criterion.value),
                Text(row.status, style=_STATUS_STYLE[row.status]),
                Text("–" if row.score is None else str(row.score)),
                Text(neutralise(row.summary)),
            )
        console.print(table)
        for row in report.scorecard.criteria:
            if row.status not in ("warn", "fail"):
                continue
            head = Text()
            head.append(f"{row.criterion.value}: ", style=_STATUS_STYLE[row.status])
            head.append(row.advice)
            console.print(head)
            for message in row.top_findings:
                console.print(Text(f"  · {neutralise(message)}", style="dim"))
        console.print()

    def _baseline(self, console: Console, report: Report) -> None:
        outcome = report.baseline
        if outcome is None:
            return
        line = Text(f"baseline {neutralise(outcome.path or '')}: {len(outcome.matched)} known findings suppressed")
        if outcome.stale:
            line.append(f"; {len(outcome.stale)} entries no longer match (fixed? run `tunelint baseline` to drop them)", style="yellow")
        console.print(line)
        for entry in outcome.stale[: self.max_per_check]:
            console.print(Text(f"  {entry.code} {entry.check}  {neutralise(entry.path)}  {neutralise(entry.message)}", style="dim"))
        if len(outcome.stale) > self.max_per_check:
            console.print(Text(f"  … and {len(outcome.stale) - self.max_per_check} more", style="dim"))
        console.print()

    def _review(self, console: Console, report: Report) -> None:
        outcome = report.review
        if outcome is None:
            return
        who = ", ".join(f"{neutralise(name)} ({n})" for name, n in outcome.reviewers.items())
        line = Text(f"privacy review {neutralise(outcome.path or '')}: {outcome.reviewed} findings reviewed"
                    + (f" by {who}" if who else ""))
        if outcome.pending:
            line.append(f"; {outcome.pending} listed without a decision", style="yellow")
        if outcome.stale:
            line.append(f"; {len(outcome.stale)} entries match no finding (fixed, or the data changed)", style="dim")
        console.print(line)
        console.print()

    def _summary(self, console: Console, report: Report) -> None:
        sev = report.stats.get("findings_by_severity", {})
        n_ex = report.stats.get("examples", 0)
        line = Text()
        verdict = "PASSED" if report.passed else "FAILED"
        line.append(verdict, style="bold green" if report.passed else "bold red")
        line.append(
            f"  {n_ex:,} examples, {len(report.findings):,} findings "
            f"({sev.get('error', 0)} errors, {sev.get('warning', 0)} warnings, {sev.get('info', 0)} info)"
            f"; gate: fail on {report.scorecard.fail_on}"
        )
        if report.suppressed:
            line.append(f"; {len(report.suppressed)} suppressed", style="dim")
        console.print(line)
        for reason in report.scorecard.gate_reasons:
            console.print(Text(f"  gate: {reason}", style="red"))
