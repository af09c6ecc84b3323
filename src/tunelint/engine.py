"""`lint(...)`: load every split, run the enabled checks, suppress, score. Never prints or exits."""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import time
from concurrent.futures import ThreadPoolExecutor
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from pydantic import ValidationError

from tunelint import __version__, interrupt
from tunelint.checks._batch import BATCH
from tunelint.checks._turns import turn_table
from tunelint.checks.base import Check, CheckContext, DatasetCheck, RecordCheck
from tunelint.config import ConfigError, Settings
from tunelint.baseline import Baseline, BaselineOutcome, as_baseline
from tunelint.lengths import LengthHistogram
from tunelint.loader import FileNote, Loader, Rejected
from tunelint.loader.reader import expand_inputs
from tunelint.models import CheckInfo, Criterion, DatasetInfo, Example, Excerpt, Finding
from tunelint.review import Review, ReviewOutcome
from tunelint.registry import CheckRegistry, RegistryError, load_checks, load_formats
from tunelint.scorecard import Scorecard, build_scorecard
from tunelint.sources import Source, as_sources

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
    # The checks that ran, with their documentation (rule metadata for SARIF and the HTML report).
    checks: tuple[CheckInfo, ...] = ()
    # Shortened, PII- and secret-masked copies of the examples findings point at, when `lint(excerpts=N)` asked.
    excerpts: Mapping[tuple[str, str, int], Excerpt] = field(default_factory=dict)
    baseline: BaselineOutcome | None = None
    review: ReviewOutcome | None = None

    @property
    def passed(self) -> bool:
        return self.scorecard.passed

    def to_dict(self, timing: bool = True) -> dict[str, Any]:
        stats = dict(self.stats)
        if timing:
            stats["timing_seconds"] = dict(self.timing)
        out = {
            "version": 1,
            "tool": {"name": "tunelint", "version": __version__},
            "datasets": [d.to_dict() for d in self.datasets],
            "findings": [f.to_dict() for f in self.findings],
            "scorecard": self.scorecard.to_dict(),
            "stats": stats,
        }
        if self.baseline is not None:
            out["baseline"] = self.baseline.to_dict()
        if self.review is not None:
            out["review"] = self.review.to_dict()
        return out

    def excerpt(self, location: Any) -> Excerpt | None:
        if location.index is None:
            return None
        return self.excerpts.get((location.split, location.path, location.index))

    def to_pandas(self) -> Any:
        """The findings as a pandas DataFrame, one row each (empty, with the columns, when none)."""
        import pandas as pd

        columns = ["code", "check", "criterion", "severity", "message", "split", "path", "line", "index",
                   "pointer", "related", "evidence", "fingerprint"]
        rows = [
            {
                "code": f.code,
                "check": f.check,
                "criterion": f.criterion.value,
                "severity": f.severity.value,
                "message": f.message,
                "split": f.location.split,
                "path": f.location.path,
                "line": f.location.line,
                "index": f.location.index,
                "pointer": f.location.pointer,
                "related": [r.to_dict() for r in f.related],
                "evidence": dict(f.evidence),
                "fingerprint": f.fingerprint,
            }
            for f in self.findings
        ]
        df = pd.DataFrame(rows, columns=columns)
        for col in ("line", "index"):
            df[col] = df[col].astype("Int64")
        return df


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


# Per-check time is CPU time of the thread that ran the check: what it costs, whatever else
# the machine is doing (wall time in a worker process also counts the waits for a core).
_cpu = time.thread_time


class _Run:
    """The checks of one run (or of one chunk of it, in a worker process) and what they found."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks
        self.by_name = {c.name: c for c in checks}
        self.findings: list[Finding] = []
        self.timing: dict[str, float] = defaultdict(float)
        self.lengths = LengthHistogram()
        self.per_split = {
            split: (
                [c for c in checks if isinstance(c, RecordCheck) and split in c.splits],
                [c for c in checks if isinstance(c, DatasetCheck) and split in c.splits],
            )
            for split in SPLITS
        }

    def consume(self, loader: Loader, progress: Progress | None = None) -> DatasetInfo:
        findings = self.findings
        batch: list[Example] = []
        n = 0
        t0 = _cpu()
        for item in loader:
            if isinstance(item, Example):
                batch.append(item)
                if len(batch) >= BATCH:
                    interrupt.check()
                    self._check_batch(loader.split, batch)
                    n += len(batch)
                    batch = []
                    if progress is not None:
                        progress(loader.split, loader.path, n)
            elif isinstance(item, Rejected):
                check = self.by_name.get(item.check)
                if check is not None:
                    findings.append(check.from_rejected(item))  # type: ignore[attr-defined]
            elif isinstance(item, FileNote):
                check = self.by_name.get(item.check)
                if check is not None:
                    findings.append(check.dataset_finding(item.split, item.path, item.message, key=item.message[:40]))
        if batch:
            self._check_batch(loader.split, batch)
            n += len(batch)
            if progress is not None:
                progress(loader.split, loader.path, n)
        self.timing["load_and_record_checks"] += _cpu() - t0
        self.collect_spent(self.checks)
        assert loader.info is not None
        return loader.info

    def _check_batch(self, split: str, batch: list[Example]) -> None:
        """Every check of `split` on consecutive examples of one file, each timed."""
        rcs, dcs = self.per_split[split]
        timing = self.timing
        findings = self.findings
        self.lengths.add_many(split, turn_table(batch).chars())
        for rc in rcs:
            t = _cpu()
            findings.extend(rc.check_batch(batch))
            timing[rc.name] += _cpu() - t
        for dc in dcs:
            spent, t = dc.spent, _cpu()
            dc.observe_batch(batch)
            # What the check counted in `spent` itself is added once, by collect_spent.
            timing[dc.name] += _cpu() - t - (dc.spent - spent)

    def absorb(self, other: "_Run") -> None:
        """Fold in a later chunk's run: checks merge their state in chunk order."""
        self.findings.extend(other.findings)
        for mine, theirs in zip(self.checks, other.checks):
            mine.merge(theirs)
        for k, v in other.timing.items():
            self.timing[k] += v
        self.collect_spent(other.checks)  # the batches flushed when the partial run was pickled
        self.lengths.merge(other.lengths)

    def collect_spent(self, checks: Sequence[Check]) -> None:
        for c in checks:
            if c.spent:
                self.timing[c.name] += c.spent
                c.spent = 0.0



def _finish_all(checks: Sequence[DatasetCheck], jobs: int) -> list[tuple[str, list[Finding], float]]:
    """Every dataset check's findings and the seconds its `finish()` took.

    With more than one job, the checks finish on that many threads: their heavy steps (sorts,
    set operations over hashes, file reads) run in numpy and I/O that release the GIL, so the
    largest (near-duplicate, conflicting-outputs, test-leakage) overlap instead of queueing.
    Batches still buffered are flushed first, one check at a time: they share a batch cache.
    """

    def finish(check: DatasetCheck) -> tuple[str, list[Finding], float]:
        started = _cpu()
        found = list(check.finish())
        return check.name, found, _cpu() - started

    flushed = dict.fromkeys((c.name for c in checks), 0.0)
    for check in checks:
        flush = getattr(check, "flush", None)
        if flush is not None:
            started = _cpu()
            flush()
            flushed[check.name] += _cpu() - started
            check.spent = 0.0  # counted in `flushed`
    if jobs < 2 or len(checks) < 2:
        out = [finish(c) for c in checks]
    else:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="tunelint-finish") as pool:
            out = list(pool.map(finish, checks))
    return [(name, found, seconds + flushed[name]) for name, found, seconds in out]


def _expand(sources: list[Source]) -> list[Source]:
    """File sources with glob patterns replaced by the files they match (in-memory ones kept)."""
    out: list[Source] = []
    for source in sources:
        if source.records is not None:
            out.append(source)
        else:
            out.extend(Source(label=path) for path in expand_inputs([source.label]))
    return out


def lint(
    train: Any,
    *,
    test: Any = None,
    reference: Any = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    baseline: Baseline | str | Path | None = None,
    excerpts: int = 0,
    engine: str | None = None,
    scheduler: str | None = None,
) -> Report:
    """Lint a training set (and optional test and production-reference sets).

    Each split is a path, a glob pattern, a list of them, a list of records (dicts), a pandas
    DataFrame or a Hugging Face `datasets.Dataset`; in-memory data goes through the same loader
    as files. `baseline`: a Baseline or a baseline file; its findings are suppressed (the gate is
    current minus baseline). `excerpts`: keep shortened copies of up to this many examples that
    findings point at, for reports that show them (the HTML report); this reads the inputs a
    second time. `engine` ("local" or "dask") and `scheduler` ("tcp://host:8786") override the
    settings; see docs/distributed.md.
    """
    settings = settings or Settings()
    if engine is not None or scheduler is not None:
        settings = settings.replace(engine=engine or ("dask" if scheduler else None), scheduler=scheduler)
    started = time.perf_counter()
    sources = {split: _expand(as_sources(value, split)) for split, value in
               (("train", train), ("test", test), ("reference", reference))}
    splits = {split: tuple(s.label for s in srcs) for split, srcs in sources.items()}
    base = as_baseline(baseline)
    registry = load_checks(settings.plugins, settings.base_dir)
    formats = load_formats()
    if settings.input_format and settings.input_format not in formats:
        raise ConfigError(f"input format '{settings.input_format}' is not one of: {', '.join(formats)}")
    context = CheckContext(splits=splits, settings=settings)
    checks = build_checks(registry, settings, context)
    run = _Run(checks)
    run.timing["wall:set-up"] = time.perf_counter() - started
    interrupt.check()
    from tunelint.executors import open_executor

    in_memory = any(s.records is not None for srcs in sources.values() for s in srcs)
    if in_memory:
        # Records handed over in memory exist only in this process: read everything here.
        datasets = [run.consume(Loader(s.label, split, formats, settings.input_format, settings.fields,
                                       records=s.records), progress)
                    for split in READ_ORDER for s in sources[split]]
        parallel_note = None
    else:
        with open_executor(settings) as executor:
            datasets, parallel_note = executor.read(run, splits, progress)
    datasets.sort(key=lambda d: SPLITS.index(d.split))
    timing = run.timing
    findings = run.findings
    from tunelint.executors import default_jobs

    timing["wall:read"] = time.perf_counter() - started - timing["wall:set-up"]
    interrupt.check()
    t = time.perf_counter()
    for name, found, seconds in _finish_all([c for c in checks if isinstance(c, DatasetCheck)], settings.jobs or default_jobs()):
        findings.extend(found)
        timing[name] += seconds
    timing["wall:finish"] = time.perf_counter() - t
    interrupt.check()
    if not settings.show_pii:
        t = time.perf_counter()
        findings = mask_findings(findings)
        timing["masking"] = time.perf_counter() - t
    findings, suppressed = _suppress(findings, settings, registry)
    reviewed = None
    if settings.privacy.review_file is not None:
        review = Review.load(settings.privacy.review_file)
        reviewed = review.apply(findings, [c.name for c in checks], [p for paths in splits.values() for p in paths])
        findings = list(reviewed.findings)
    outcome = None
    if base is not None:
        outcome = base.apply(findings, [c.code for c in checks], [p for paths in splits.values() for p in paths])
        findings = list(outcome.kept)
        suppressed += outcome.matched
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
    scorecard = build_scorecard(findings, assessed, not_assessed, examples, settings.fail_on, metrics, settings.scorecard)
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
        "length_histogram": run.lengths.to_dict(),
    }
    if parallel_note:
        stats["parallelism"] = parallel_note
    kept_excerpts: dict[tuple[str, str, int], Excerpt] = {}
    if excerpts > 0:
        t = time.perf_counter()
        kept_excerpts = collect_excerpts(findings, sources, formats, settings, excerpts)
        timing["excerpts"] = time.perf_counter() - t
    return Report(
        datasets=tuple(datasets),
        findings=tuple(findings),
        scorecard=scorecard,
        stats=stats,
        suppressed=tuple(suppressed),
        timing={k: round(v, 4) for k, v in sorted(timing.items())},
        checks=tuple(CheckInfo(c.code, c.name, c.criterion, c.level, c.summary, c.doc()) for c in checks),
        excerpts=kept_excerpts,
        baseline=outcome,
        review=reviewed,
    )


# Per finding group, how many examples (and related members) an HTML report shows.
EXCERPTS_PER_CHECK = 8
RELATED_PER_FINDING = 3
EXCERPT_CHARS = 1200
EXCERPT_TURNS = 8


def _wanted(findings: Sequence[Finding], limit: int) -> list[tuple[str, str, int]]:
    per_check: dict[str, int] = defaultdict(int)
    wanted: dict[tuple[str, str, int], None] = {}
    for f in sorted(findings, key=lambda f: (-f.severity.rank, f.sort_key())):
        if per_check[f.check] >= EXCERPTS_PER_CHECK:
            continue
        per_check[f.check] += 1
        for loc in (f.location, *f.related[:RELATED_PER_FINDING]):
            if loc.index is not None:
                wanted[(loc.split, loc.path, loc.index)] = None
    return list(wanted)[:limit]


def collect_excerpts(
    findings: Sequence[Finding], sources: Mapping[str, tuple[Source, ...]], formats: Mapping[str, Any],
    settings: Settings, limit: int,
) -> dict[tuple[str, str, int], Excerpt]:
    """Read the inputs again and keep shortened copies of the examples findings point at.

    Untrusted text stays text: reporters escape it. PII and secrets are masked unless `show_pii`.
    """
    wanted = _wanted(findings, limit)
    by_source: dict[tuple[str, str], set[int]] = defaultdict(set)
    for split, path, index in wanted:
        by_source[(split, path)].add(index)
    out: dict[tuple[str, str, int], Excerpt] = {}
    masker = None if settings.show_pii else _pii_masker()
    for split, srcs in sources.items():
        for source in srcs:
            indices = by_source.get((split, source.label))
            if not indices or not source.rereadable or source.label == "-":
                continue
            loader = Loader(source.label, split, formats, settings.input_format, settings.fields, records=source.records)
            for item in loader:
                if isinstance(item, Example) and item.index in indices:
                    out[(split, source.label, item.index)] = _excerpt(item, masker)
                    indices.discard(item.index)
                    if not indices:
                        break
    return out


def _excerpt(example: Example, masker: Callable[[str], str] | None) -> Excerpt:
    turns = []
    truncated = len(example.turns) > EXCERPT_TURNS
    for t in example.turns[:EXCERPT_TURNS]:
        text = t.content
        # Masked before it is cut, so a value the cut would split is still found whole.
        if masker is not None:
            text = masker(text)
        if len(text) > EXCERPT_CHARS:
            text = text[:EXCERPT_CHARS]
            truncated = True
        turns.append((t.role.value, text))
    return Excerpt(example.split, example.path, example.index, example.line, tuple(turns), truncated)


def _pii_masker() -> Callable[[str], str]:
    from tunelint.privacy.safe import mask_text

    return mask_text


# Evidence strings that are identifiers (hashes, fingerprints), not dataset text.
_IDENTIFIER = re.compile(r"[0-9a-f]{8,}")
# Evidence values `mask_findings` passes through as they are.
_PLAIN_SCALARS = frozenset({int, float, bool, type(None)})


def mask_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Findings whose messages and evidence quote no PII value or secret.

    Checks quote dataset text (a repeated phrase, where two prompts differ); whatever they quote,
    the privacy detectors' finds are replaced by typed placeholders here, so no report shows
    them unless `show_pii`. The privacy checks' own findings are masked already.
    """
    from tunelint.privacy.safe import mask_text

    def clean(value: Any) -> Any:
        kind = type(value)
        if kind in _PLAIN_SCALARS:  # most evidence values; `Mapping` below is a slow ABC check
            return value
        if kind is str or isinstance(value, str):
            return value if _IDENTIFIER.fullmatch(value) else mask_text(value)
        if kind is dict or isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    out = []
    for f in findings:
        if f.criterion is not Criterion.PRIVACY_REVIEWED:
            message, evidence = mask_text(f.message), clean(dict(f.evidence))
            if message != f.message or evidence != f.evidence:
                f = dataclasses.replace(f, message=message, evidence=evidence)
        out.append(f)
    return out


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
