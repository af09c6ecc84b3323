"""Command line: parse → settings → engine.lint() → render → exit code. Nothing else lives here."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Sequence

import click

from tunelint import __version__
from tunelint.baseline import Baseline, BaselineError
from tunelint.config import STARTER, ConfigError, Settings, load_settings
from tunelint.deployment import read_spec_file
from tunelint.engine import lint
from tunelint.loader.formats.fields import parse_fields
from tunelint.loader.reader import InputError
from tunelint.registry import RegistryError, load_checks, load_formats, load_reporters
from tunelint.review import Review, ReviewError

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2


class UsageFailure(click.ClickException):
    exit_code = EXIT_USAGE

    def format_message(self) -> str:
        return self.message

    def show(self, file=None) -> None:  # one line, no traceback, no usage dump
        click.echo(f"tunelint: error: {self.format_message()}", err=True)


def _split_list(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(s.strip() for v in values for s in v.split(",") if s.strip())


def _settings(config: str | None, **overrides) -> Settings:
    try:
        base = load_settings(Path(config) if config else None)
        return base.replace(**overrides)
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None
    except ValueError as exc:
        raise UsageFailure(f"bad option: {exc}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tunelint")
def main() -> None:
    """tunelint: lint an LLM fine-tuning dataset before you pay for training."""


def _input_options(f):
    """Options shared by every command that lints: inputs, config, selection, input shape."""
    for decorator in reversed([
        click.option("--test", "test", multiple=True, help="A held-out test split (repeatable)."),
        click.option("--reference", multiple=True, help="A sample of real production inputs (repeatable)."),
        click.option("--config", type=click.Path(dir_okay=False), help="Config file (default: closest tunelint.toml or pyproject.toml)."),
        click.option("--select", multiple=True, help="Checks to run: names, codes, code prefixes or criteria (comma-separated)."),
        click.option("--ignore", multiple=True, help="Checks to skip: names, codes, code prefixes or criteria."),
        click.option("--fields", help="Map a flat JSON shape onto roles: KEY=ROLE,... (roles: system, user, assistant)."),
        click.option("--input-format", help="Skip format detection: openai-chat, alpaca, sharegpt, ..."),
        click.option("--no-progress", is_flag=True, help="No progress display on stderr."),
        click.option("--deployment", type=click.Path(dir_okay=False),
                     help="Deployment spec (TOML): system prompt, user template, output schema, tools, limits."),
        click.option("--target", help="Provider profile whose format rules apply: openai, vertex, bedrock, together, mistral, trl."),
        click.option("--jobs", type=click.IntRange(min=1), help="Worker processes for large files (default: one per core)."),
        click.option("--engine", type=click.Choice(["local", "dask"]), help="Where chunks run: local processes (default) or a Dask cluster."),
        click.option("--scheduler", help="Address of a running Dask scheduler (tcp://HOST:PORT); implies --engine dask."),
    ]):
        f = decorator(f)
    return f


def _resolve_settings(config, select, ignore, fields, input_format, deployment=None, target=None, jobs=None,
                      engine=None, scheduler=None, **overrides) -> Settings:
    try:
        mapping = parse_fields(fields) if fields else None
    except ValueError as exc:
        raise UsageFailure(f"--fields: {exc}") from None
    settings = _settings(config, fields=mapping, input_format=input_format, select=_split_list(select) or None,
                         jobs=jobs, engine=engine or ("dask" if scheduler else None), scheduler=scheduler, **overrides)
    if ignore:
        settings = settings.replace(ignore=tuple(settings.ignore) + _split_list(ignore))
    if deployment or target:
        try:
            spec = read_spec_file(deployment) if deployment else dict(settings.deployment or {})
        except ConfigError as exc:
            raise UsageFailure(str(exc)) from None
        settings = settings.replace(deployment={**spec, **({"target": target} if target else {})})
    return settings


def _inputs(train, test, reference, settings: Settings) -> tuple[list[str], list[str], list[str]]:
    """Files from the command line, or the config's `datasets` table when none are given."""
    if train:
        return list(train), list(test), list(reference)
    ds = settings.datasets
    if ds is None or not ds.train:
        raise UsageFailure("no dataset given: name TRAIN files, or list them in the config's [tool.tunelint.datasets] table")

    def rel(paths) -> list[str]:
        out = []
        for p in paths:
            path = Path(p)
            if not path.is_absolute():
                try:
                    path = (settings.base_dir / path).relative_to(Path.cwd())
                except ValueError:
                    path = settings.base_dir / path
            out.append(str(path))
        return out

    return rel(ds.train), list(test) or rel(ds.test), list(reference) or rel(ds.reference)


def _run(train, test, reference, settings: Settings, no_progress: bool, **kwargs):
    progress = None
    show_progress = not no_progress and sys.stderr.isatty()
    status = None
    if show_progress:
        from rich.console import Console

        status = Console(stderr=True).status("reading…")
        status.start()

        def progress(split: str, path: str, n: int) -> None:
            status.update(f"{split}: {n:,} examples read from {path}")

    from tunelint._pyarrow import decline_pandas_probe

    # This process is ours (the worker processes fork from it): pyarrow's batch gates need no
    # pandas here, a file read in this process saves its import (see tunelint._pyarrow).
    decline_pandas_probe()
    try:
        return lint(list(train), test=list(test), reference=list(reference), settings=settings, progress=progress, **kwargs)
    except (ConfigError, RegistryError, InputError, BaselineError, ReviewError) as exc:
        raise UsageFailure(str(exc)) from None
    finally:
        if status is not None:
            status.stop()


def _emit(rendered: str, output: str | None) -> None:
    from tunelint import interrupt

    interrupt.check()  # an interrupt swallowed on the way: no report, as if it had ended the run
    if output:
        from tunelint.reporters.base import write_atomic

        write_atomic(output, rendered)
    else:
        click.echo(rendered, nl=False)


def pick_format(fmt: str) -> str:
    """`auto`: GitHub annotations under GitHub Actions, the terminal report elsewhere."""
    if fmt != "auto":
        return fmt
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"


@main.command()
@click.argument("train", nargs=-1)
@_input_options
@click.option("--format", "fmt", default="text", show_default=True,
              help="Output format: text, json, html, markdown, sarif, github, junit, or auto (github under GitHub Actions, else text).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here (atomically) instead of stdout.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), help="Lowest severity that fails the gate.")
@click.option("--min-score", type=click.IntRange(0, 100), help="Also fail the gate when an assessed criterion scores under this.")
@click.option("--fail-on-criteria", multiple=True, help="Also fail the gate when these criteria have status fail (comma-separated).")
@click.option("--baseline", "baseline", type=click.Path(dir_okay=False), help="Suppress the findings listed in this baseline file.")
@click.option("--show-pii", is_flag=True, default=None, help="Show PII values in findings and example excerpts.")
@click.option("--review-file", type=click.Path(dir_okay=False),
              help="Privacy review file: findings with a decision in it are reported as reviewed and do not fail the gate.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when the gate fails (still 2 on usage errors).")
@click.option("--color/--no-color", default=None, help="Colour in the text report (default: when stdout is a terminal).")
def check(train, test, reference, config, select, ignore, fields, input_format, no_progress, deployment, target, jobs,
          engine, scheduler,
          fmt, output, fail_on, min_score, fail_on_criteria, baseline, show_pii, review_file, exit_zero, color):
    """Lint TRAIN (one or more files; '-' reads stdin; none: the config's datasets) and print a report."""
    reporters = load_reporters()
    fmt = pick_format(fmt)
    if fmt not in reporters:
        raise UsageFailure(f"unknown --format '{fmt}' (one of: auto, {', '.join(sorted(reporters))})")
    settings = _resolve_settings(config, select, ignore, fields, input_format, deployment, target, jobs, engine, scheduler,
                                 fail_on=fail_on, show_pii=show_pii)
    if min_score is not None or fail_on_criteria:
        gate = settings.scorecard.model_dump()
        if min_score is not None:
            gate["min_score"] = min_score
        if fail_on_criteria:
            gate["fail_on_criteria"] = tuple(gate["fail_on_criteria"]) + _split_list(fail_on_criteria)
        settings = _settings_with(settings, scorecard=gate)
    if review_file:
        settings = _settings_with(settings, privacy={"review_file": Path(review_file).resolve()})
    train, test, reference = _inputs(train, test, reference, settings)
    reporter_cls = reporters[fmt]
    if fmt == "text":
        use_color = color if color is not None else (output is None and sys.stdout.isatty())
        reporter = reporter_cls.create(color=use_color)
    else:
        reporter = reporter_cls.create() if hasattr(reporter_cls, "create") else reporter_cls()
    report = _run(train, test, reference, settings, no_progress, baseline=baseline,
                  excerpts=getattr(reporter_cls, "excerpts", 0))
    _emit(reporter.render(report), output)
    if not report.passed and not exit_zero:
        sys.exit(EXIT_GATE)
    sys.exit(EXIT_OK)


def _settings_with(settings: Settings, **changes) -> Settings:
    try:
        return settings.replace(**changes)
    except ValueError as exc:
        raise UsageFailure(f"bad option: {exc}") from None


@main.command("baseline")
@click.argument("train", nargs=-1)
@_input_options
@click.option("-o", "--output", default=".tunelint-baseline.json", show_default=True, type=click.Path(dir_okay=False),
              help="Where to write the baseline.")
def baseline_cmd(train, test, reference, config, select, ignore, fields, input_format, no_progress, deployment, target,
                 jobs, engine, scheduler, output):
    """Accept the current findings: write them, by content fingerprint, to a baseline file.

    `tunelint check --baseline FILE` then fails only on findings not in it.
    """
    settings = _resolve_settings(config, select, ignore, fields, input_format, deployment, target, jobs, engine, scheduler)
    train, test, reference = _inputs(train, test, reference, settings)
    report = _run(train, test, reference, settings, no_progress)
    base = Baseline.from_findings(report.findings)
    from tunelint.reporters.base import write_atomic

    write_atomic(output, base.to_json())
    click.echo(f"wrote {len(base.entries):,} findings to {output}")


@main.group("review")
def review_group() -> None:
    """The privacy review file: decisions on pii and secret findings (who, when, what)."""


@review_group.command("init")
@click.argument("train", nargs=-1)
@_input_options
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The review file (default: the config's [tool.tunelint.privacy] review-file, else privacy-review.toml).")
def review_init(train, test, reference, config, select, ignore, fields, input_format, no_progress, deployment, target,
                jobs, engine, scheduler, output):
    """Start (or extend) a review file with an entry for each current privacy finding.

    Entries already in the file keep their decisions; new findings are added with an empty
    decision for a reviewer to fill in.
    """
    settings = _resolve_settings(config, select or ("privacy-reviewed",), ignore, fields, input_format, deployment,
                                 target, jobs, engine, scheduler)
    target_path = Path(output) if output else settings.privacy.review_file or Path("privacy-review.toml")
    try:
        existing = Review.load(target_path) if target_path.exists() else Review(())
    except ReviewError as exc:
        raise UsageFailure(str(exc)) from None
    settings = _settings_with(settings, privacy={"review_file": None})
    train, test, reference = _inputs(train, test, reference, settings)
    report = _run(train, test, reference, settings, no_progress)
    review, added = existing.extended(report.findings)
    from tunelint.reporters.base import write_atomic

    write_atomic(target_path, review.to_toml())
    pending = sum(1 for e in review.entries if not e.reviewed)
    click.echo(f"wrote {target_path}: {len(review.entries):,} entries ({added:,} new, {pending:,} without a decision); "
               "fill in decision, reviewer and date")


@main.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--test", "test", multiple=True, help="A held-out test split linted with both versions (repeatable).")
@click.option("--reference", multiple=True, help="A production sample linted with both versions (repeatable).")
@click.option("--config", type=click.Path(dir_okay=False), help="Config file (default: closest tunelint.toml or pyproject.toml).")
@click.option("--select", multiple=True, help="Checks to run: names, codes, code prefixes or criteria (comma-separated).")
@click.option("--ignore", multiple=True, help="Checks to skip: names, codes, code prefixes or criteria.")
@click.option("--fields", help="Map a flat JSON shape onto roles: KEY=ROLE,...")
@click.option("--input-format", help="Skip format detection: openai-chat, alpaca, sharegpt, ...")
@click.option("--no-progress", is_flag=True, help="No progress display on stderr.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the diff here instead of stdout.")
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when a criterion got worse or the gate newly fails.")
def diff_cmd(old, new, test, reference, config, select, ignore, fields, input_format, no_progress, fmt, output, fail_on_regression):
    """Compare two versions of a dataset (or two saved JSON reports): per check and criterion, better or worse."""
    from tunelint.diff import diff_reports, render_markdown, render_text

    settings = _resolve_settings(config, select, ignore, fields, input_format)
    sides = []
    for path in (old, new):
        saved = _saved_report(path)
        if saved is None:
            saved = _run([path], test, reference, settings, no_progress).to_dict(timing=False)
        sides.append(saved)
    d = diff_reports(sides[0], sides[1], {"before": old, "after": new})
    if fmt == "json":
        import orjson

        rendered = orjson.dumps(d.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
    elif fmt == "markdown":
        rendered = render_markdown(d)
    else:
        from tunelint.reporters.base import neutralise

        rendered = neutralise(render_text(d), keep_newlines=True)
    _emit(rendered, output)
    sys.exit(EXIT_GATE if fail_on_regression and d.regressed else EXIT_OK)


def _saved_report(path: str):
    """A tunelint JSON report at `path`, or None when it is a dataset."""
    p = Path(path)
    if p.suffix != ".json" or not p.is_file():
        return None
    import orjson

    try:
        data = orjson.loads(p.read_bytes())
    except (orjson.JSONDecodeError, OSError):
        return None
    if isinstance(data, dict) and data.get("version") == 1 and isinstance(data.get("tool"), dict) \
            and data["tool"].get("name") == "tunelint" and "scorecard" in data:
        return data
    return None


@main.command("checks")
def list_checks() -> None:
    """List every available check: code, name, criterion, what it detects."""
    try:
        registry = load_checks(load_settings().plugins, load_settings().base_dir)
    except (ConfigError, RegistryError) as exc:
        raise UsageFailure(str(exc)) from None
    width = max(len(c.name) for c in registry.checks.values())
    for cls in registry.checks.values():
        flag = " (preview)" if cls.preview else ""
        click.echo(f"{cls.code}  {cls.name:<{width}}  {cls.criterion.value:<19}  {cls.summary}{flag}")


@main.command()
@click.argument("name_or_code")
def explain(name_or_code: str) -> None:
    """Show what a check does, why it matters, an example and its options."""
    try:
        settings = load_settings()
        registry = load_checks(settings.plugins, settings.base_dir)
    except (ConfigError, RegistryError) as exc:
        raise UsageFailure(str(exc)) from None
    cls = registry.find(name_or_code)
    if cls is None:
        raise UsageFailure(f"no check named or coded '{name_or_code}' (see `tunelint checks`)")
    click.echo(f"{cls.code} {cls.name}  [{cls.criterion.value}, default severity {cls.severity.value}]\n")
    click.echo(cls.doc())


@main.command()
@click.option("-o", "--output", default="tunelint.toml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(output: str, force: bool) -> None:
    """Write a commented starter config."""
    target = Path(output)
    if target.exists() and not force:
        raise UsageFailure(f"{output} already exists (use --force to overwrite)")
    from tunelint.reporters.base import write_atomic

    write_atomic(target, STARTER)
    click.echo(f"wrote {output}")


@main.command("formats")
def list_formats() -> None:
    """List the input formats tunelint detects."""
    for name, fmt in load_formats().items():
        click.echo(f"{name:<18}  {fmt.description}")


@main.command("clean")
@click.argument("train")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write the deduplicated copy (a log goes to OUTPUT.log.jsonl).")
@click.option("--config", type=click.Path(dir_okay=False), help="Config file (default: closest tunelint.toml or pyproject.toml).")
@click.option("--fields", help="Map a flat JSON shape onto roles: KEY=ROLE,... (roles: system, user, assistant).")
@click.option("--input-format", help="Skip format detection: openai-chat, alpaca, sharegpt, ...")
def clean_command(train, output, config, fields, input_format):
    """Write TRAIN without exact and near duplicates (keeping each cluster's first example) and a log of every drop."""
    from tunelint.clean import clean

    try:
        mapping = parse_fields(fields) if fields else None
    except ValueError as exc:
        raise UsageFailure(f"--fields: {exc}") from None
    settings = _settings(config, fields=mapping, input_format=input_format)
    try:
        result = clean(train, output, settings)
    except (ConfigError, RegistryError, InputError) as exc:
        raise UsageFailure(str(exc)) from None
    detail = ", ".join(f"{n} {check}" for check, n in sorted(result.by_check.items())) or "nothing to drop"
    click.echo(f"kept {result.kept} of {result.records} records ({detail}); wrote {result.output} and {result.log}")


@main.command("redact")
@click.argument("train")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Where to write the redacted copy (a log goes to OUTPUT.log.jsonl).")
@click.option("--config", type=click.Path(dir_okay=False), help="Config file (default: closest tunelint.toml or pyproject.toml).")
def redact_command(train, output, config):
    """Write TRAIN with every PII value and secret replaced by a typed placeholder (<EMAIL_ADDRESS>).

    Uses the pii and secret checks' options from the config (entities, allow-list, NER mode).
    The input is never touched; records with nothing to replace are copied byte for byte.
    """
    from tunelint.redact import redact_file

    settings = _settings(config)
    try:
        result = redact_file(train, output, settings)
    except (ConfigError, InputError) as exc:
        raise UsageFailure(str(exc)) from None
    detail = ", ".join(f"{n:,} {kind}" for kind, n in sorted(result.by_type.items(), key=lambda kv: (-kv[1], kv[0])))
    click.echo(f"replaced {result.replaced:,} values in {result.changed:,} of {result.records:,} records"
               f" ({detail or 'nothing found'}; pii detection {result.mode}); wrote {result.output} and {result.log}")
    if result.unparsed:
        click.echo(f"note: {result.unparsed:,} records did not parse as JSON and were redacted as text", err=True)


def run() -> None:
    """Console entry point: Ctrl-C ends cleanly with exit 130 and no traceback."""
    from tunelint import interrupt

    interrupt.install()
    try:
        main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.Abort):
        click.echo("tunelint: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    finally:
        # The process ends next. The interpreter's last collections would walk every object
        # still alive (modules, Presidio and spaCy, the report: 0.4-1.3 s after a 100k run) to
        # free memory the exit hands back anyway; frozen, they are left alone. Files are
        # closed and streams flushed as usual.
        gc.freeze()


if __name__ == "__main__":
    run()
