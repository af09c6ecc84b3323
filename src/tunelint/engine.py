"""`lint(...)`: load every split, run the enabled checks, suppress, score. Never prints or exits."""

from __future__ import annotations

import fnmatch
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from pydantic import ValidationError

from tunelint import __version__
from tunelint.checks.base import Check, CheckContext, DatasetCheck, RecordCheck
from tunelint.config import ConfigError, Settings
from tunelint.loader import FileNote, Loader, Rejected
from tunelint.loader.reader import expand_inputs
from tunelint.models import Criterion, DatasetInfo, Example, Finding
from tunelint.registry import CheckRegistry, RegistryError, load_checks, load_formats
from tunelint.scorecard import Scorecard, build_scorecard

SPLITS = ("train", "test", "reference")
# Held-out splits are read before train: a cross-split check (test-leakage) indexes the smaller
# test split and then streams the training file against it, keeping hashes of test examples only
# instead of n-grams and signatures of every training example. Reports list splits in SPLITS order.
READ_ORDER = ("test", "reference", "train")
Progress = Callable[[str, str, int], None]


@dataclass(frozen=True)
class Report:
    """The finished result of a run: what reporters read."""

    datasets: tuple[DatasetInfo, ...]
    findings: tuple[Finding, ...]
    scorecard: Scorecard
    stats: Mapping[str, Any]
    suppressed: tuple[Finding, ...] = ()
    timing: Mapping[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.scorecard.passed

    def to_dict(self, timing: bool = True) -> dict[str, Any]:
        stats = dict(self.stats)
        if timing:
            stats["timing_seconds"] = dict(self.timing)
        return {
            "version": 1,
            "tool": {"name": "tunelint", "version": __version__},
            "datasets": [d.to_dict() for d in self.datasets],
            "findings": [f.to_dict() for f in self.findings],
            "scorecard": self.scorecard.to_dict(),
            "stats": stats,
        }


def build_checks(registry: CheckRegistry, settings: Settings, context: CheckContext) -> list[Check]:
    """Instantiate the selected checks with validated options."""
    for name in settings.checks:
        if registry.find(name) is None:
            raise ConfigError(f"{_where(settings)}: unknown check '{name}' in the checks table (see `tunelint checks`)")
    if settings.select is None:
        chosen = {c.name: c for c in registry.checks.values() if not c.preview}
    else:
        chosen = {}
        for sel in settings.select:
            matched = registry.resolve(sel)
            if not matched:
                raise ConfigError(f"select: unknown check, code or criterion '{sel}'")
            chosen.update({c.name: c for c in matched})
    for sel in settings.extend_select:
        matched = registry.resolve(sel)
        if not matched:
            raise ConfigError(f"extend-select: unknown check, code or criterion '{sel}'")
        chosen.update({c.name: c for c in matched})
    for sel in settings.ignore:
        matched = registry.resolve(sel)
        if not matched:
            raise ConfigError(f"ignore: unknown check, code or criterion '{sel}'")
        for c in matched:
            chosen.pop(c.name, None)
    checks: list[Check] = []
    for cls in sorted(chosen.values(), key=lambda c: c.code):
        raw = dict(settings.checks.get(cls.name) or settings.checks.get(cls.code) or {})
        from tunelint.models import Severity

        severity = raw.pop("severity", None)
        try:
            level = Severity(severity) if severity is not None else None
        except ValueError:
            raise ConfigError(f"check '{cls.name}': severity '{severity}' is not error, warning or info") from None
        try:
            options = cls.Options(**{k.replace("-", "_"): v for k, v in raw.items()})
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]).replace("_", "-")
            if err["type"] == "extra_forbidden":
                raise ConfigError(f"check '{cls.name}': unknown option '{key}'") from None
            raise ConfigError(f"check '{cls.name}': option '{key}': {err['msg']}") from None
        checks.append(cls(options, context, level))
    return checks


def _where(settings: Settings) -> str:
    return str(settings.config_path) if settings.config_path else "settings"


def _as_paths(value: str | Path | Sequence[str | Path] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, Path)):
        return (str(value),)
    return tuple(str(v) for v in value)


class _Run:
    """The checks of one run (or of one chunk of it, in a worker process) and what they found."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks
        self.by_name = {c.name: c for c in checks}
        self.findings: list[Finding] = []
        self.timing: dict[str, float] = defaultdict(float)
        self.per_split = {
            split: (
                [c for c in checks if isinstance(c, RecordCheck) and split in c.splits],
                [c for c in checks if isinstance(c, DatasetCheck) and split in c.splits],
            )
            for split in SPLITS
        }

    def consume(self, loader: Loader, progress: Progress | None = None) -> DatasetInfo:
        rcs, dcs = self.per_split[loader.split]
        timing = self.timing
        findings = self.findings
        n = 0
        t0 = time.perf_counter()
        for item in loader:
            if isinstance(item, Example):
                for rc in rcs:
                    t = time.perf_counter()
                    findings.extend(rc.check(item))
                    timing[rc.name] += time.perf_counter() - t
                for dc in dcs:
                    t = time.perf_counter()
                    dc.observe(item)
                    timing[dc.name] += time.perf_counter() - t
                n += 1
                if progress is not None and n % 5000 == 0:
                    progress(loader.split, loader.path, n)
            elif isinstance(item, Rejected):
                check = self.by_name.get(item.check)
                if check is not None:
                    findings.append(check.from_rejected(item))  # type: ignore[attr-defined]
            elif isinstance(item, FileNote):
                check = self.by_name.get(item.check)
                if check is not None:
                    findings.append(check.dataset_finding(item.split, item.path, item.message, key=item.message[:40]))
        timing["load_and_record_checks"] += time.perf_counter() - t0
        assert loader.info is not None
        return loader.info

    def absorb(self, other: "_Run") -> None:
        """Fold in a later chunk's run: checks merge their state in chunk order."""
        self.findings.extend(other.findings)
        for mine, theirs in zip(self.checks, other.checks):
            mine.merge(theirs)
        for k, v in other.timing.items():
            self.timing[k] += v


def lint(
    train: str | Path | Sequence[str | Path],
    *,
    test: str | Path | Sequence[str | Path] | None = None,
    reference: str | Path | Sequence[str | Path] | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
    scheduler: str | None = None,
) -> Report:
    """Lint training files (and optional test and production-reference files).

    Each split takes a path, a glob pattern or a list of them. `engine` ("local" or "dask") and
    `scheduler` ("tcp://host:8786") override the settings; see docs/distributed.md.
    """
    settings = settings or Settings()
    if engine is not None or scheduler is not None:
        settings = settings.replace(engine=engine, scheduler=scheduler)
    started = time.perf_counter()
    splits = {
        "train": expand_inputs(_as_paths(train)),
        "test": expand_inputs(_as_paths(test)),
        "reference": expand_inputs(_as_paths(reference)),
    }
    registry = load_checks(settings.plugins, settings.base_dir)
    formats = load_formats()
    if settings.input_format and settings.input_format not in formats:
        raise ConfigError(f"input format '{settings.input_format}' is not one of: {', '.join(formats)}")
    context = CheckContext(splits=splits, settings=settings)
    checks = build_checks(registry, settings, context)
    run = _Run(checks)
    from tunelint.executors import open_executor

    with open_executor(settings) as executor:
        datasets, parallel_note = executor.read(run, splits, progress)
    datasets.sort(key=lambda d: SPLITS.index(d.split))
    timing = run.timing
    findings = run.findings
    for dc in checks:
        if isinstance(dc, DatasetCheck):
            t = time.perf_counter()
            findings.extend(dc.finish())
            timing[dc.name] += time.perf_counter() - t
    findings, suppressed = _suppress(findings, settings, registry)
    findings.sort(key=Finding.sort_key)
    suppressed.sort(key=Finding.sort_key)
    examples = sum(d.examples for d in datasets if d.split != "reference")
    assessed: dict[Criterion, list[str]] = defaultdict(list)
    not_assessed: dict[Criterion, list[str]] = defaultdict(list)
    metrics: dict[Criterion, dict[str, Any]] = defaultdict(dict)
    for c in checks:
        reason = c.not_assessed_reason()
        if reason is None:
            assessed[c.criterion].append(c.name)
        else:
            not_assessed[c.criterion].append(f"{c.name}: {reason}")
        if c.metrics or c.counts:
            metrics[c.criterion][c.name] = c.all_metrics()
    scorecard = build_scorecard(findings, assessed, not_assessed, examples, settings.fail_on, metrics)
    timing["total"] = time.perf_counter() - started
    stats = {
        "examples": examples,
        "records": sum(d.lines for d in datasets),
        "rejected": sum(d.rejected for d in datasets),
        "checks_run": [c.name for c in checks],
        "findings_by_severity": _count(f.severity.value for f in findings),
        "findings_by_check": _count(f.check for f in findings),
        "suppressed": len(suppressed),
        "containers": {d.path: dict(d.formats) for d in datasets},
    }
    if parallel_note:
        stats["parallelism"] = parallel_note
    return Report(
        datasets=tuple(datasets),
        findings=tuple(findings),
        scorecard=scorecard,
        stats=stats,
        suppressed=tuple(suppressed),
        timing={k: round(v, 4) for k, v in sorted(timing.items())},
    )


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return dict(sorted(out.items()))


def _suppress(findings: list[Finding], settings: Settings, registry: CheckRegistry) -> tuple[list[Finding], list[Finding]]:
    if not settings.per_file_ignores:
        return findings, []
    rules: list[tuple[str, set[str]]] = []
    for pattern, selectors in settings.per_file_ignores.items():
        names: set[str] = set()
        for sel in selectors:
            matched = registry.resolve(sel)
            if not matched:
                raise ConfigError(f"per-file-ignores: unknown check, code or criterion '{sel}'")
            names |= {c.name for c in matched}
        rules.append((pattern, names))
    kept, dropped = [], []
    for f in findings:
        path = f.location.path
        candidates = {path, Path(path).as_posix(), Path(path).name}
        if any(f.check in names and any(fnmatch.fnmatch(p, pat) for p in candidates) for pat, names in rules):
            dropped.append(f)
        else:
            kept.append(f)
    return kept, dropped


__all__ = ["Report", "lint", "build_checks", "ConfigError", "RegistryError"]
