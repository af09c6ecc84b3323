"""The privacy review file: who looked at each privacy finding, when, and what they decided.

A TOML file (`[tool.tunelint.privacy] review-file = "privacy-review.toml"` or `check
--review-file`) with one `[[finding]]` table per finding, matched by content fingerprint (no
line number, so it survives shuffles and appends). An entry with a decision — accept (the value
may stay), mask (it will be replaced, e.g. by `tunelint redact`) or remove (the example will be
dropped) — and a reviewer and a date marks its finding as reviewed: the finding stays in the
report, at severity info, carrying the review, and does not fail the gate; the scorecard's
privacy-reviewed row says how many were reviewed and by whom. `tunelint review init` starts the
file from the current findings and adds new ones to an existing file without touching decisions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from tunelint.models import Criterion, Finding, Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REVIEW_VERSION = 1
DECISIONS = ("accept", "mask", "remove")


class ReviewError(Exception):
    """The review file is missing or malformed: the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class ReviewEntry:
    fingerprint: str
    decision: str = ""
    reviewer: str = ""
    date: str = ""
    note: str = ""
    # What the entry is about, as the finding said when the file was started (masked).
    check: str = ""
    path: str = ""
    line: int | None = None
    pointer: str = ""
    what: str = ""

    @property
    def reviewed(self) -> bool:
        return bool(self.decision)

    def review(self) -> dict[str, str]:
        out = {"decision": self.decision, "reviewer": self.reviewer, "date": self.date}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class ReviewOutcome:
    """What a review file did to one run."""

    path: str | None
    findings: tuple[Finding, ...]
    reviewed: int
    reviewers: dict[str, int]
    pending: int
    stale: tuple[ReviewEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "reviewed": self.reviewed,
            "reviewers": dict(self.reviewers),
            "pending": self.pending,
            "stale": [{"fingerprint": e.fingerprint, "check": e.check, "path": e.path, "what": e.what}
                      for e in self.stale],
        }


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key, "")
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise ReviewError(f"{where}: '{key}' must be a string")
    return value.strip()


@dataclass(frozen=True)
class Review:
    entries: tuple[ReviewEntry, ...]
    path: str | None = None

    @classmethod
    def load(cls, path: str | Path) -> "Review":
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
        except FileNotFoundError:
            raise ReviewError(f"{path}: review file not found (start one with `tunelint review init`)") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ReviewError(f"{path}: not valid TOML: {exc}") from None
        if data.get("version", REVIEW_VERSION) != REVIEW_VERSION:
            raise ReviewError(f"{path}: review file version {data.get('version')!r} is not supported "
                              f"(expected {REVIEW_VERSION})")
        raw = data.get("finding", [])
        if not isinstance(raw, list):
            raise ReviewError(f"{path}: 'finding' must be an array of tables ([[finding]])")
        entries: list[ReviewEntry] = []
        seen: set[str] = set()
        for i, item in enumerate(raw, 1):
            where = f"{path}: [[finding]] {i}"
            fp = item.get("fingerprint")
            if not isinstance(fp, str) or not fp:
                raise ReviewError(f"{where} has no fingerprint")
            if fp in seen:
                raise ReviewError(f"{where}: fingerprint {fp} is listed twice")
            seen.add(fp)
            decision = _text(item, "decision", where)
            reviewer, date = _text(item, "reviewer", where), _text(item, "date", where)
            if decision:
                if decision not in DECISIONS:
                    raise ReviewError(f"{where}: decision '{decision}' is not one of {', '.join(DECISIONS)} "
                                      "(leave it empty while the finding is not reviewed)")
                if not reviewer:
                    raise ReviewError(f"{where}: decision '{decision}' needs a reviewer")
                try:
                    dt.date.fromisoformat(date)
                except ValueError:
                    raise ReviewError(f"{where}: date {date!r} is not a date (YYYY-MM-DD)") from None
            line = item.get("line")
            entries.append(ReviewEntry(
                fp, decision, reviewer, date, _text(item, "note", where), _text(item, "check", where),
                _text(item, "path", where), line if isinstance(line, int) else None,
                _text(item, "pointer", where), _text(item, "what", where),
            ))
        return cls(tuple(entries), str(path))

    def apply(self, findings: Sequence[Finding], checks_run: Iterable[str],
              paths_linted: Iterable[str]) -> ReviewOutcome:
        """Mark the privacy findings a decision covers as reviewed; note entries that match nothing."""
        by_fp = {e.fingerprint: e for e in self.entries}
        matched: set[str] = set()
        reviewers: Counter[str] = Counter()
        out: list[Finding] = []
        pending = 0
        for f in findings:
            entry = by_fp.get(f.fingerprint) if f.criterion is Criterion.PRIVACY_REVIEWED else None
            if entry is None:
                out.append(f)
                continue
            matched.add(f.fingerprint)
            if not entry.reviewed:
                pending += 1
                out.append(f)
                continue
            reviewers[entry.reviewer] += 1
            review = {**entry.review(), "severity": f.severity.value}
            out.append(dataclasses.replace(
                f,
                severity=Severity.INFO,
                message=f"{f.message} — reviewed: {entry.decision} by {entry.reviewer} on {entry.date}",
                evidence={**f.evidence, "review": review},
            ))
        checks, paths = set(checks_run), set(paths_linted)
        stale = tuple(e for e in self.entries
                      if e.fingerprint not in matched and e.check in checks and e.path in paths)
        return ReviewOutcome(self.path, tuple(out), sum(reviewers.values()), dict(sorted(reviewers.items())),
                             pending, stale)

    def extended(self, findings: Iterable[Finding]) -> tuple["Review", int]:
        """This review plus an empty entry for each privacy finding it does not list yet."""
        known = {e.fingerprint for e in self.entries}
        added: list[ReviewEntry] = []
        for f in findings:
            if f.criterion is not Criterion.PRIVACY_REVIEWED or f.fingerprint in known:
                continue
            known.add(f.fingerprint)
            loc = f.location
            added.append(ReviewEntry(f.fingerprint, check=f.check, path=loc.path, line=loc.line,
                                     pointer=loc.pointer or "", what=f.message))
        return Review(self.entries + tuple(added), self.path), len(added)

    def to_toml(self) -> str:
        lines = [
            "# tunelint privacy review: one [[finding]] per privacy finding, matched by fingerprint.",
            "# Fill in decision, reviewer and date (YYYY-MM-DD). decision: accept (the value may stay),",
            "# mask (it will be replaced, e.g. with `tunelint redact`) or remove (the example will be",
            "# dropped). An entry with no decision is not reviewed yet. `what` is masked; never paste",
            "# the value itself into a note.",
            f"version = {REVIEW_VERSION}",
        ]
        for e in self.entries:
            lines.append("")
            lines.append("[[finding]]")
            fields: list[tuple[str, Any]] = [("fingerprint", e.fingerprint), ("check", e.check), ("path", e.path)]
            if e.line is not None:
                fields.append(("line", e.line))
            fields += [("pointer", e.pointer), ("what", e.what), ("decision", e.decision),
                       ("reviewer", e.reviewer), ("date", e.date), ("note", e.note)]
            for key, value in fields:
                # A JSON string is a valid TOML basic string (same escapes).
                text = value if isinstance(value, int) else _toml_string(value)
                lines.append(f"{key} = {text}")
        return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    # A JSON string is a TOML basic string (same escapes), except that TOML also wants DEL escaped.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


__all__ = ["DECISIONS", "Review", "ReviewEntry", "ReviewError", "ReviewOutcome"]
