"""Compare two runs: per check and per criterion, what got better and what got worse.

Works on report dicts (the JSON report's version-1 shape), so either side can be a fresh run
over a dataset file or a JSON report saved earlier. Fingerprints include the file path, so two
versions of a dataset are compared by counts and scores, not finding by finding.

A regression is a criterion whose status got worse or whose score fell, or a gate that passed
before and fails now. Checks whose finding counts rose are listed as worse too; per example
rates (findings per 1,000 examples) are shown because the datasets may differ in size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

_STATUS_RANK = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class CheckDelta:
    check: str
    code: str
    before: int
    after: int
    rate_before: float
    rate_after: float

    @property
    def change(self) -> str:
        return "worse" if self.after > self.before else "better" if self.after < self.before else "same"

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "code": self.code, "before": self.before, "after": self.after,
                "per_1000_before": self.rate_before, "per_1000_after": self.rate_after, "change": self.change}


@dataclass(frozen=True)
class CriterionDelta:
    criterion: str
    status_before: str
    status_after: str
    score_before: int | None
    score_after: int | None

    @property
    def change(self) -> str:
        a, b = _STATUS_RANK.get(self.status_before), _STATUS_RANK.get(self.status_after)
        if a is not None and b is not None and b != a:
            return "worse" if b > a else "better"
        if self.score_before is not None and self.score_after is not None and self.score_after != self.score_before:
            return "worse" if self.score_after < self.score_before else "better"
        if self.status_before != self.status_after:
            # Became assessable or stopped being so: not better or worse data, but worth saying.
            return "assessed" if self.status_before == "not-assessed" else "not-assessed"
        return "same"

    def to_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "status_before": self.status_before, "status_after": self.status_after,
                "score_before": self.score_before, "score_after": self.score_after, "change": self.change}


@dataclass(frozen=True)
class Diff:
    examples_before: int
    examples_after: int
    passed_before: bool
    passed_after: bool
    criteria: tuple[CriterionDelta, ...]
    checks: tuple[CheckDelta, ...]
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def regressed(self) -> bool:
        return (self.passed_before and not self.passed_after) or any(c.change == "worse" for c in self.criteria)

    @property
    def worse(self) -> list[str]:
        out = [f"{c.criterion}: {_crit_text(c)}" for c in self.criteria if c.change == "worse"]
        out += [f"{c.check} ({c.code}): {c.before:,} → {c.after:,} findings" for c in self.checks if c.change == "worse"]
        if self.passed_before and not self.passed_after:
            out.insert(0, "gate: passed before, fails now")
        return out

    @property
    def better(self) -> list[str]:
        out = [f"{c.criterion}: {_crit_text(c)}" for c in self.criteria if c.change == "better"]
        out += [f"{c.check} ({c.code}): {c.before:,} → {c.after:,} findings" for c in self.checks if c.change == "better"]
        if not self.passed_before and self.passed_after:
            out.insert(0, "gate: failed before, passes now")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "before": {"label": self.labels.get("before", ""), "examples": self.examples_before, "passed": self.passed_before},
            "after": {"label": self.labels.get("after", ""), "examples": self.examples_after, "passed": self.passed_after},
            "regressed": self.regressed,
            "criteria": [c.to_dict() for c in self.criteria],
            "checks": [c.to_dict() for c in self.checks],
            "worse": self.worse,
            "better": self.better,
        }


def _crit_text(c: CriterionDelta) -> str:
    s_before = "–" if c.score_before is None else c.score_before
    s_after = "–" if c.score_after is None else c.score_after
    return f"{c.status_before} {s_before} → {c.status_after} {s_after}"


def _rate(n: int, examples: int) -> float:
    return round(1000.0 * n / examples, 2) if examples else 0.0


def diff_reports(before: Mapping[str, Any], after: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> Diff:
    """Compare two report dicts (`Report.to_dict()` or a loaded JSON report)."""
    ex_b = int(before.get("stats", {}).get("examples", 0))
    ex_a = int(after.get("stats", {}).get("examples", 0))
    rows_b = {r["criterion"]: r for r in before["scorecard"]["criteria"]}
    rows_a = {r["criterion"]: r for r in after["scorecard"]["criteria"]}
    criteria = tuple(
        CriterionDelta(name, rows_b.get(name, {}).get("status", "not-assessed"), rows_a.get(name, {}).get("status", "not-assessed"),
                       rows_b.get(name, {}).get("score"), rows_a.get(name, {}).get("score"))
        for name in list(dict.fromkeys([*rows_b, *rows_a]))
    )
    codes: dict[str, str] = {}
    count_b: dict[str, int] = {}
    count_a: dict[str, int] = {}
    for f in before.get("findings", []):
        codes[f["check"]] = f["code"]
        count_b[f["check"]] = count_b.get(f["check"], 0) + 1
    for f in after.get("findings", []):
        codes[f["check"]] = f["code"]
        count_a[f["check"]] = count_a.get(f["check"], 0) + 1
    ran = set(before.get("stats", {}).get("checks_run", [])) | set(after.get("stats", {}).get("checks_run", []))
    names = sorted(set(codes) | (ran & (set(count_b) | set(count_a))), key=lambda n: (codes.get(n, ""), n))
    checks = tuple(
        CheckDelta(n, codes.get(n, ""), count_b.get(n, 0), count_a.get(n, 0), _rate(count_b.get(n, 0), ex_b), _rate(count_a.get(n, 0), ex_a))
        for n in names
    )
    return Diff(ex_b, ex_a, bool(before["scorecard"]["passed"]), bool(after["scorecard"]["passed"]), criteria, checks, dict(labels or {}))


def render_text(d: Diff) -> str:
    lab_b, lab_a = d.labels.get("before", "before"), d.labels.get("after", "after")
    lines = [f"before: {lab_b} ({d.examples_before:,} examples, {'passed' if d.passed_before else 'failed'})",
             f"after:  {lab_a} ({d.examples_after:,} examples, {'passed' if d.passed_after else 'failed'})", ""]
    width = max([len(c.criterion) for c in d.criteria] + [9])
    lines.append(f"{'criterion':<{width}}  {'before':>18}  {'after':>18}  change")
    for c in d.criteria:
        b = f"{c.status_before} {'–' if c.score_before is None else c.score_before}"
        a = f"{c.status_after} {'–' if c.score_after is None else c.score_after}"
        lines.append(f"{c.criterion:<{width}}  {b:>18}  {a:>18}  {c.change}")
    if d.checks:
        lines.append("")
        cw = max(len(c.check) for c in d.checks) + 6
        lines.append(f"{'check':<{cw}}  {'before':>8}  {'after':>8}  {'per 1k before':>13}  {'per 1k after':>12}  change")
        for c in d.checks:
            lines.append(f"{c.code + ' ' + c.check:<{cw}}  {c.before:>8,}  {c.after:>8,}  {c.rate_before:>13}  {c.rate_after:>12}  {c.change}")
    lines.append("")
    for title, items in (("worse", d.worse), ("better", d.better)):
        if items:
            lines.append(f"{title}:")
            lines += [f"  {i}" for i in items]
    lines.append("REGRESSED" if d.regressed else "no regression")
    return "\n".join(lines) + "\n"


def render_markdown(d: Diff) -> str:
    from tunelint.reporters.markdown import md_escape

    lines = [f"## tunelint diff: {'❌ regressed' if d.regressed else '✅ no regression'}\n",
             f"{md_escape(d.labels.get('before', 'before'))} ({d.examples_before:,} examples) → "
             f"{md_escape(d.labels.get('after', 'after'))} ({d.examples_after:,} examples)\n",
             "| criterion | before | after | change |", "|---|---|---|---|"]
    for c in d.criteria:
        b = f"{c.status_before} {'–' if c.score_before is None else c.score_before}"
        a = f"{c.status_after} {'–' if c.score_after is None else c.score_after}"
        lines.append(f"| {c.criterion} | {b} | {a} | {c.change} |")
    if d.checks:
        lines += ["", "| check | before | after | change |", "|---|---:|---:|---|"]
        lines += [f"| `{c.code}` {c.check} | {c.before:,} | {c.after:,} | {c.change} |" for c in d.checks]
    return "\n".join(lines) + "\n"
