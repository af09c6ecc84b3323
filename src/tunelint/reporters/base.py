"""What a reporter is, and the helpers that make untrusted dataset text safe to show."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Iterator

from tunelint.engine import Report
from tunelint.models import Finding, Location, Severity

# C0/C1 control characters other than tab and newline: ANSI escapes, terminal title sequences,
# backspace tricks. Shown as visible escapes, never passed to the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def neutralise(text: str, keep_newlines: bool = False) -> str:
    """Make untrusted text inert in a terminal: control and bidi characters become escapes."""
    out = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)
    if not keep_newlines:
        out = out.replace("\n", "\\n")
    return out


def neutralise_data(value: Any) -> Any:
    """`neutralise` every string inside a JSON-like value (evidence), keeping its shape."""
    if isinstance(value, str):
        return neutralise(value, keep_newlines=True)
    if isinstance(value, dict):
        return {neutralise(str(k)): neutralise_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [neutralise_data(v) for v in value]
    return value


def where(loc: Location) -> str:
    """`path:line`, `path[index]` or `path` — neutralised, for one-line displays."""
    out = neutralise(loc.path)
    if loc.line is not None:
        out += f":{loc.line}"
    elif loc.index is not None:
        out += f"[{loc.index}]"
    return out


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def by_check(findings: tuple[Finding, ...] | list[Finding]) -> dict[tuple[str, str], list[Finding]]:
    """Findings grouped by (code, check), in code order."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.code, f.check), []).append(f)
    return dict(sorted(groups.items()))


def worst(findings: list[Finding]) -> Severity:
    return max(findings, key=lambda f: f.severity.rank).severity


_SECTION = re.compile(r"^(What it does|Why it matters for a fine-tune|Example|Use instead|Options):\s*$")


def doc_sections(doc: str) -> dict[str, str]:
    """A check docstring split into its sections; the first paragraph is `summary`."""
    out: dict[str, list[str]] = {"summary": []}
    current = "summary"
    for raw in doc.splitlines():
        m = _SECTION.match(raw.strip())
        if m:
            current = m.group(1)
            out[current] = []
            continue
        out[current].append(raw)
    return {k: _dedent("\n".join(v)).strip() for k, v in out.items()}


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)


def gate_failing(report: Report) -> Iterator[Finding]:
    """The findings at or above the gate's severity, reviewed ones aside (none when fail-on is never)."""
    fail_on = report.scorecard.fail_on
    if fail_on == "never":
        return iter(())
    rank = Severity(fail_on).rank
    return (f for f in report.findings if f.severity.rank >= rank and not f.reviewed)


class Reporter:
    """Renders a finished Report; one module per output format, registered by entry point."""

    name: ClassVar[str]
    extension: ClassVar[str] = ".txt"
    # How many example excerpts the report shows; the CLI asks `lint()` to collect that many.
    excerpts: ClassVar[int] = 0

    @classmethod
    def create(cls, color: bool | None = None) -> "Reporter":
        """The reporter as the CLI builds it (only the text reporter uses colour)."""
        return cls()

    def render(self, report: Report) -> str:
        """The whole output as text."""
        raise TypeError(f"{type(self).__name__} does not implement render()")


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write via a temp file in the same folder and rename, so no half-written report is left."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        # mkstemp creates the file private (0600); a report is an ordinary file (0666 less umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
