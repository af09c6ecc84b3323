"""Baseline: accept today's findings so the gate fails only on new ones (detect-secrets style).

A baseline file lists findings by content fingerprint (code, file, record hash, pointer — no line
number), so it survives shuffles and appends. `check --baseline FILE` drops the findings it lists
(the gate is current minus baseline) and reports the entries that no longer match anything.

An entry counts as *stale* only when this run could have found it again: its check ran and its
file was linted. A partial run (`--select`, a pre-commit hook linting only the staged files) does
not make the rest of the baseline stale. Stale entries are a report section, not findings: they are
not problems in the data, and they never fail the gate; remove them with `tunelint baseline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import orjson

from tunelint.models import Finding

BASELINE_VERSION = 1


class BaselineError(Exception):
    """The baseline file is missing or not a tunelint baseline."""


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    fingerprint: str
    code: str
    check: str
    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "code": self.code, "check": self.check, "path": self.path, "message": self.message}


@dataclass(frozen=True)
class Baseline:
    entries: tuple[BaselineEntry, ...]
    path: str | None = None

    @classmethod
    def from_findings(cls, findings: Iterable[Finding]) -> "Baseline":
        seen: dict[str, BaselineEntry] = {}
        for f in findings:
            seen.setdefault(f.fingerprint, BaselineEntry(f.fingerprint, f.code, f.check, f.location.path, f.message))
        return cls(tuple(sorted(seen.values(), key=lambda e: (e.path, e.code, e.fingerprint))))

    @classmethod
    def load(cls, path: str | Path) -> "Baseline":
        try:
            data = orjson.loads(Path(path).read_bytes())
        except FileNotFoundError:
            raise BaselineError(f"{path}: baseline file not found (write one with `tunelint baseline`)") from None
        except orjson.JSONDecodeError as exc:
            raise BaselineError(f"{path}: baseline is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("tool") != "tunelint" or not isinstance(data.get("findings"), list):
            raise BaselineError(f"{path}: not a tunelint baseline (expected an object with tool = \"tunelint\" and findings)")
        if data.get("version") != BASELINE_VERSION:
            raise BaselineError(f"{path}: baseline version {data.get('version')!r} is not supported (expected {BASELINE_VERSION})")
        entries = []
        for i, item in enumerate(data["findings"]):
            if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
                raise BaselineError(f"{path}: findings[{i}] has no fingerprint")
            entries.append(BaselineEntry(
                item["fingerprint"], str(item.get("code", "")), str(item.get("check", "")),
                str(item.get("path", "")), str(item.get("message", "")),
            ))
        return cls(tuple(entries), str(path))

    def to_json(self) -> str:
        doc = {
            "version": BASELINE_VERSION,
            "tool": "tunelint",
            "note": "Findings accepted as they are; `tunelint check --baseline FILE` fails only on others.",
            "findings": [e.to_dict() for e in self.entries],
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"

    def apply(
        self, findings: Sequence[Finding], codes_run: Iterable[str], paths_linted: Iterable[str]
    ) -> "BaselineOutcome":
        known = {e.fingerprint for e in self.entries}
        kept = [f for f in findings if f.fingerprint not in known]
        matched = [f for f in findings if f.fingerprint in known]
        found = {f.fingerprint for f in matched}
        codes, paths = set(codes_run), set(paths_linted)
        stale = tuple(e for e in self.entries if e.fingerprint not in found and e.code in codes and e.path in paths)
        return BaselineOutcome(self.path, tuple(kept), tuple(matched), stale)


@dataclass(frozen=True)
class BaselineOutcome:
    """What a baseline did to one run."""

    path: str | None
    kept: tuple[Finding, ...]
    matched: tuple[Finding, ...]
    stale: tuple[BaselineEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "suppressed": len(self.matched),
            "stale": [e.to_dict() for e in self.stale],
        }


def as_baseline(value: "Baseline | str | Path | Mapping[str, Any] | None") -> Baseline | None:
    if value is None or isinstance(value, Baseline):
        return value
    return Baseline.load(value)  # type: ignore[arg-type]
