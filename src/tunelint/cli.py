"""Command line: parse → settings → engine.lint() → render → exit code. Nothing else lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import click

from tunelint import __version__
from tunelint.config import STARTER, ConfigError, Settings, load_settings
from tunelint.engine import lint
from tunelint.loader.formats.fields import parse_fields
from tunelint.loader.reader import InputError
from tunelint.registry import RegistryError, load_checks, load_formats, load_reporters

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


@main.command()
@click.argument("train", nargs=-1, required=True)
@click.option("--test", "test", multiple=True, help="A held-out test split (repeatable).")
@click.option("--reference", multiple=True, help="A sample of real production inputs (repeatable).")
@click.option("--config", type=click.Path(dir_okay=False), help="Config file (default: closest tunelint.toml or pyproject.toml).")
@click.option("--format", "fmt", default="text", show_default=True, help="Output format: text, json, ...")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here (atomically) instead of stdout.")
@click.option("--select", multiple=True, help="Checks to run: names, codes, code prefixes or criteria (comma-separated).")
@click.option("--ignore", multiple=True, help="Checks to skip: names, codes, code prefixes or criteria.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), help="Lowest severity that fails the gate.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when the gate fails (still 2 on usage errors).")
@click.option("--fields", help="Map a flat JSON shape onto roles: KEY=ROLE,... (roles: system, user, assistant).")
@click.option("--input-format", help="Skip format detection: openai-chat, alpaca, sharegpt, ...")
@click.option("--no-progress", is_flag=True, help="No progress display on stderr.")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes for large files (default: one per core).")
@click.option("--engine", type=click.Choice(["local", "dask"]), help="Where chunks run: local processes (default) or a Dask cluster.")
@click.option("--scheduler", help="Address of a running Dask scheduler (tcp://HOST:PORT); implies --engine dask.")
@click.option("--color/--no-color", default=None, help="Colour in the text report (default: when stdout is a terminal).")
def check(train, test, reference, config, fmt, output, select, ignore, fail_on, exit_zero, fields, input_format, no_progress, jobs, engine, scheduler, color):
    """Lint TRAIN (one or more files or glob patterns; '-' reads stdin) and print a report."""
    reporters = load_reporters()
    if fmt not in reporters:
        raise UsageFailure(f"unknown --format '{fmt}' (one of: {', '.join(sorted(reporters))})")
    try:
        mapping = parse_fields(fields) if fields else None
    except ValueError as exc:
        raise UsageFailure(f"--fields: {exc}") from None
    overrides = {
        "fail_on": fail_on,
        "fields": mapping,
        "input_format": input_format,
        "select": _split_list(select) or None,
        "jobs": jobs,
        "engine": engine or ("dask" if scheduler else None),
        "scheduler": scheduler,
    }
    settings = _settings(config, **overrides)
    if ignore:
        settings = settings.replace(ignore=tuple(settings.ignore) + _split_list(ignore))
    progress = None
    show_progress = not no_progress and sys.stderr.isatty()
    status = None
    if show_progress:
        from rich.console import Console

        status = Console(stderr=True).status("reading…")
        status.start()

        def progress(split: str, path: str, n: int) -> None:
            status.update(f"{split}: {n:,} examples read from {path}")

    try:
        report = lint(list(train), test=list(test), reference=list(reference), settings=settings, progress=progress)
    except (ConfigError, RegistryError, InputError) as exc:
        raise UsageFailure(str(exc)) from None
    finally:
        if status is not None:
            status.stop()
    reporter_cls = reporters[fmt]
    if fmt == "text":
        use_color = color if color is not None else (output is None and sys.stdout.isatty())
        reporter = reporter_cls(color=use_color)
    else:
        reporter = reporter_cls()
    rendered = reporter.render(report)
    if output:
        from tunelint.reporters.base import write_atomic

        write_atomic(output, rendered)
    else:
        click.echo(rendered, nl=False)
    if not report.passed and not exit_zero:
        sys.exit(EXIT_GATE)
    sys.exit(EXIT_OK)


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


def run() -> None:
    """Console entry point: Ctrl-C ends cleanly with exit 130 and no traceback."""
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


if __name__ == "__main__":
    run()
