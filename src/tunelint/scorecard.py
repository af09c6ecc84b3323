"""The scorecard: one row per criterion of good training examples, from the findings.

A criterion that no enabled check could assess is `not-assessed` with what would let it be
assessed; never a silent pass. A check that finds the criterion's precondition missing (no test
split for held-out) reports a dataset-level finding with `criterion_status: fail` in its
evidence instead, so the row fails and its summary leads with that finding's message.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from tunelint.models import Criterion, Finding, Severity

if TYPE_CHECKING:
    from tunelint.config import ScorecardSettings

# What to give the linter so a criterion can be assessed when nothing covers it.
ASSESS_HINT = {
    Criterion.REPRESENTATIVE: "give --deployment SPEC.toml or --reference PROD_SAMPLE",
    Criterion.CORRECT: "enable the content checks or give --deployment with an output schema or labels",
    Criterion.CONSISTENT: "enable the consistency checks (conflicting-outputs, label-variants, ...)",
    Criterion.DIVERSE: "enable the duplication checks (exact-duplicate, near-duplicate)",
    Criterion.COMPLETE: "enable the structure checks (F family)",
    Criterion.BALANCED: "enable label-imbalance / refusal-rate",
    Criterion.PRIVACY_REVIEWED: "enable the pii and secret checks",
    Criterion.HELD_OUT: "give --test TEST with a held-out split",
    Criterion.FIT_FOR_FINE_TUNING: "enable volatile-facts / calculations",
}

ADVICE = {
    Criterion.REPRESENTATIVE: "Train on inputs shaped like production: the deployed system prompt, the real template, the real mix of requests.",
    Criterion.CORRECT: "Every output is what you want learned; a fine-tune copies mistakes as faithfully as good answers.",
    Criterion.CONSISTENT: "Similar inputs should get similar outputs unless there is a clear reason; disagreement teaches noise.",
    Criterion.DIVERSE: "Cover normal cases, edge cases and awkward phrasing rather than the same example many times.",
    Criterion.COMPLETE: "Each example must hold everything needed to produce its answer, and fit in the context window.",
    Criterion.BALANCED: "Check the distribution is deliberate: a model learns how often to refuse or pick a label from the data.",
    Criterion.PRIVACY_REVIEWED: "Handle personal data and credentials deliberately: mask, remove, or record a reviewed waiver.",
    Criterion.HELD_OUT: "A fine-tune that beats a weak prompt is not automatically worth shipping — compare on a clean, independent test set.",
    Criterion.FIT_FOR_FINE_TUNING: "Fine-tune behaviour, not facts that change or arithmetic: use retrieval for facts and tools for numbers.",
}

_PENALTY = {Severity.ERROR: 1.0, Severity.WARNING: 0.5, Severity.INFO: 0.1}
_DATASET_PENALTY = {Severity.ERROR: 30, Severity.WARNING: 12, Severity.INFO: 3}


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    status: str  # pass | warn | fail | not-assessed
    score: int | None
    summary: str
    metrics: Mapping[str, Any] = field(default_factory=dict)
    checks: tuple[str, ...] = ()
    advice: str = ""
    top_findings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion.value,
            "status": self.status,
            "score": self.score,
            "summary": self.summary,
            "metrics": dict(self.metrics),
            "checks": list(self.checks),
            "advice": self.advice,
            "top_findings": list(self.top_findings),
        }


@dataclass(frozen=True)
class Scorecard:
    passed: bool
    criteria: tuple[CriterionResult, ...]
    fail_on: str
    # Why the gate failed, one sentence each (empty when it passed).
    gate_reasons: tuple[str, ...] = ()
    # The gate's settings beyond `fail_on`, as configured (kebab-case keys, unset ones left out).
    gate: Mapping[str, Any] = field(default_factory=dict)

    def row(self, criterion: Criterion | str) -> CriterionResult:
        name = criterion.value if isinstance(criterion, Criterion) else criterion
        return next(r for r in self.criteria if r.criterion.value == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "fail_on": self.fail_on,
            "gate": {**self.gate, "reasons": list(self.gate_reasons)},
            "criteria": [c.to_dict() for c in self.criteria],
        }


def gate_passes(findings: Iterable[Finding], fail_on: str) -> bool:
    if fail_on == "never":
        return True
    threshold = Severity(fail_on).rank
    return all(f.severity.rank < threshold or f.reviewed for f in findings)


def build_scorecard(
    findings: Sequence[Finding],
    assessed: Mapping[Criterion, list[str]],
    not_assessed: Mapping[Criterion, list[str]],
    examples: int,
    fail_on: str,
    extra_metrics: Mapping[Criterion, Mapping[str, Any]] | None = None,
    thresholds: "ScorecardSettings | None" = None,
) -> Scorecard:
    """`assessed`: check names that assessed each criterion; `not_assessed`: reasons of the others.

    `thresholds` (the `[tool.tunelint.scorecard]` settings) turn statuses by score and add gate
    conditions on criteria; without it the status follows the worst finding and the gate is
    severity alone.
    """
    by_criterion: dict[Criterion, list[Finding]] = defaultdict(list)
    for f in findings:
        by_criterion[f.criterion].append(f)
    rows = []
    for criterion in Criterion:
        checks = tuple(assessed.get(criterion, ()))
        # Reviewed findings (a privacy review recorded a decision) are reported but cost nothing.
        everything = by_criterion.get(criterion, [])
        fs = [f for f in everything if not f.reviewed]
        reviewers = Counter(str(f.evidence["review"].get("reviewer", "")) for f in everything if f.reviewed)
        metrics: dict[str, Any] = dict((extra_metrics or {}).get(criterion, {}))
        if not checks:
            reasons = sorted(set(not_assessed.get(criterion, ())))
            summary = "; ".join(reasons) if reasons else "no enabled check covers this criterion"
            rows.append(CriterionResult(criterion, "not-assessed", None, f"{summary} — {ASSESS_HINT[criterion]}",
                                        metrics, (), ADVICE[criterion]))
            continue
        counts = Counter(f.check for f in fs)
        severities = Counter(f.severity for f in fs)
        affected: dict[Severity, set[tuple[str, str, int]]] = defaultdict(set)
        dataset_penalty = 0.0
        for f in fs:
            if f.location.index is None:
                dataset_penalty += _DATASET_PENALTY[f.severity]
            else:
                affected[f.severity].add((f.location.split, f.location.path, f.location.index))
        # An example counts once, at its worst severity.
        seen: set[tuple[str, str, int]] = set()
        penalty = 0.0
        for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO):
            fresh = affected[sev] - seen
            seen |= fresh
            if examples:
                penalty += 100.0 * _PENALTY[sev] * len(fresh) / examples
        # A few bad examples in a large set still cost something visible.
        if seen:
            penalty = max(penalty, 1.0)
        score = max(0, min(100, round(100 - penalty * 2 - dataset_penalty)))
        status = "fail" if severities[Severity.ERROR] else "warn" if severities[Severity.WARNING] else "pass"
        status = _by_score(status, score, thresholds)
        # A finding may say the criterion fails as a whole (its precondition is missing).
        if any(f.evidence.get("criterion_status") == "fail" for f in fs):
            status = "fail"
        metrics.update({
            "findings": len(fs),
            "examples_affected": len(seen),
            "share_affected": round(len(seen) / examples, 4) if examples else 0.0,
            "by_check": dict(sorted(counts.items())),
        })
        if reviewers:
            metrics["reviewed"] = sum(reviewers.values())
            metrics["reviewers"] = dict(sorted(reviewers.items()))
        if fs:
            top = ", ".join(f"{n} {name}" for name, n in counts.most_common(3))
            summary = f"{len(fs)} finding{'s' if len(fs) != 1 else ''} ({top}); {len(seen)} of {examples} examples affected"
            # A dataset-level finding speaks about the criterion as a whole (e.g. "no test split"),
            # so the most severe one leads the row: the reader sees why it failed, not just a count.
            whole = [f for f in fs if f.location.index is None]
            if whole:
                worst = min(whole, key=lambda f: (-f.severity.rank, f.sort_key()))
                summary = f"{worst.message} — {summary}"
        elif reviewers:
            summary = f"{sum(reviewers.values())} finding{'s' if sum(reviewers.values()) != 1 else ''}, all reviewed"
        else:
            summary = f"no findings from {len(checks)} check{'s' if len(checks) != 1 else ''}"
        if reviewers:
            who = ", ".join(f"{name} ({n})" for name, n in sorted(reviewers.items(), key=lambda kv: (-kv[1], kv[0])))
            summary += f"; {sum(reviewers.values())} reviewed by {who}" if fs else f" by {who}"
        # A check may say how it assessed the row (e.g. which PII detection mode ran).
        notes = [m["summary_note"] for m in metrics.values() if isinstance(m, Mapping) and m.get("summary_note")]
        if notes:
            summary += "; " + "; ".join(str(n) for n in notes)
        tops = tuple(f.message for f in sorted(fs, key=lambda f: (-f.severity.rank, f.sort_key()))[:3])
        rows.append(CriterionResult(criterion, status, score, summary, metrics, checks, ADVICE[criterion], tops))
    reasons = _gate_reasons(findings, fail_on, rows, thresholds)
    return Scorecard(
        passed=not reasons,
        criteria=tuple(rows),
        fail_on=fail_on,
        gate_reasons=tuple(reasons),
        gate=_gate_settings(thresholds),
    )


_STATUS_RANK = {"pass": 0, "warn": 1, "fail": 2}


def _by_score(status: str, score: int, thresholds: "ScorecardSettings | None") -> str:
    if thresholds is None:
        return status
    if thresholds.fail_below is not None and score < thresholds.fail_below:
        return "fail"
    if thresholds.warn_below is not None and score < thresholds.warn_below and status == "pass":
        return "warn"
    return status


def _min_score(thresholds: "ScorecardSettings", criterion: Criterion) -> int | None:
    ms = thresholds.min_score
    if ms is None or isinstance(ms, int):
        return ms
    return ms.get(criterion.value)


def _gate_reasons(
    findings: Sequence[Finding], fail_on: str, rows: Sequence[CriterionResult], thresholds: "ScorecardSettings | None"
) -> list[str]:
    reasons: list[str] = []
    if not gate_passes(findings, fail_on):
        threshold = Severity(fail_on).rank
        n = sum(1 for f in findings if f.severity.rank >= threshold and not f.reviewed)
        reasons.append(f"{n} finding{'s' if n != 1 else ''} at or above severity {fail_on} (fail-on = {fail_on})")
    if thresholds is None:
        return reasons
    limit = _STATUS_RANK[thresholds.criteria_fail_status]
    for row in rows:
        name = row.criterion.value
        if name in thresholds.fail_on_criteria and row.status in _STATUS_RANK and _STATUS_RANK[row.status] >= limit:
            reasons.append(f"{name} is {row.status} (fail-on-criteria)")
        if name in thresholds.require_assessed and row.status == "not-assessed":
            reasons.append(f"{name} could not be assessed (require-assessed)")
        floor = _min_score(thresholds, row.criterion)
        if floor is not None and row.score is not None and row.score < floor:
            reasons.append(f"{name} scores {row.score}, under min-score {floor}")
    return reasons


def _gate_settings(thresholds: "ScorecardSettings | None") -> dict[str, Any]:
    if thresholds is None:
        return {}
    data = thresholds.model_dump(exclude_defaults=True)
    return {k.replace("_", "-"): (list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, Mapping) else v)
            for k, v in sorted(data.items())}
