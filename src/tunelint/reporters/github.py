"""GitHub Actions workflow commands: one `::error` / `::warning` / `::notice` annotation per finding.

Values are escaped as the Actions runner expects (`%`, CR and LF in the message; also `:` and `,`
in properties), after control characters are neutralised, so dataset text can neither end the
command early, start another one, nor colour the log.
"""

from __future__ import annotations

from tunelint.engine import Report
from tunelint.models import Severity
from tunelint.reporters.base import Reporter, neutralise, plural

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return neutralise(text, keep_newlines=True).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


class GithubReporter(Reporter):
    name = "github"
    extension = ".txt"

    def render(self, report: Report) -> str:
        lines = []
        for f in report.findings:
            props = [f"file={escape_property(f.location.path)}"]
            if f.location.line is not None:
                props.append(f"line={f.location.line}")
            props.append(f"title={escape_property(f'{f.code} {f.check}')}")
            message = f.message
            if f.location.line is None and f.location.index is not None:
                message = f"record {f.location.index}: {message}"
            if f.location.pointer:
                message += f" (at {f.location.pointer})"
            lines.append(f"::{_LEVEL[f.severity]} {','.join(props)}::{escape_data(message)}")
        verdict = "passed" if report.passed else "failed"
        summary = (f"tunelint {verdict}: {report.stats.get('examples', 0):,} examples, "
                   f"{plural(len(report.findings), 'finding')}; gate: fail on {report.scorecard.fail_on}")
        lines.append(escape_data(summary))
        for reason in report.scorecard.gate_reasons:
            lines.append(f"::error title=tunelint gate::{escape_data(reason)}")
        return "\n".join(lines) + "\n"
