"""An example user-land check, loaded through tunelint's public plugin API.

Enable it from your config:

    [tool.tunelint]
    plugins = ["checks/banned_phrases.py"]

    [tool.tunelint.checks.banned-phrases]
    phrases = ["as an ai language model", "I cannot browse the internet"]
    patterns = ['\\bguarantee(d)?\\b']
    roles = ["assistant"]
"""

from __future__ import annotations

import re
from typing import Iterator

from pydantic import Field, field_validator

from tunelint import CheckOptions, Criterion, Example, Finding, RecordCheck, Role, Severity


class BannedPhrases(RecordCheck):
    """A turn contains a phrase your team has banned from training data.

    What it does:
        Looks for each configured phrase (case-insensitive, whitespace-tolerant) and each regular
        expression in the turns of the configured roles, and reports every hit with the phrase
        and the turn it is in.

    Why it matters for a fine-tune:
        Whatever the outputs say, the model learns to say: a disclaimer, a competitor's name, a
        promise legal has banned ("guaranteed refund") will come back in production.

    Example:
        {"messages": [{"role": "user", "content": "Can I get my money back?"}, {"role": "assistant", "content": "Yes, a full refund is guaranteed."}]}

    Use instead:
        {"messages": [{"role": "user", "content": "Can I get my money back?"}, {"role": "assistant", "content": "Refunds are available within 30 days; I can start one for you."}]}

    Options:
        phrases: plain phrases to ban (matched case-insensitively, any run of whitespace between words).
        patterns: regular expressions to ban (Python syntax, case-insensitive).
        roles: which roles to search (default: assistant).
    """

    code = "C900"
    name = "banned-phrases"
    criterion = Criterion.CORRECT
    severity = Severity.WARNING
    summary = "a turn contains a phrase the team has banned"

    class Options(CheckOptions):
        phrases: tuple[str, ...] = ()
        patterns: tuple[str, ...] = ()
        roles: tuple[str, ...] = Field(default=("assistant",))

        @field_validator("patterns")
        @classmethod
        def _compiles(cls, v: tuple[str, ...]) -> tuple[str, ...]:
            for p in v:
                try:
                    re.compile(p)
                except re.error as exc:
                    raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from None
            return v

        @field_validator("roles")
        @classmethod
        def _roles(cls, v: tuple[str, ...]) -> tuple[str, ...]:
            known = {r.value for r in Role}
            for r in v:
                if r not in known:
                    raise ValueError(f"role {r!r} is not one of {sorted(known)}")
            return v

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.matchers = [
            (phrase, re.compile(r"\s+".join(re.escape(w) for w in phrase.split()), re.IGNORECASE))
            for phrase in self.options.phrases
            if phrase.strip()
        ] + [(p, re.compile(p, re.IGNORECASE)) for p in self.options.patterns]
        self.roles = {Role(r) for r in self.options.roles}
        if not self.matchers:
            self.mark_not_assessed("no phrases or patterns configured")

    def check(self, example: Example) -> Iterator[Finding]:
        for turn in example.turns:
            if turn.role not in self.roles:
                continue
            for label, rx in self.matchers:
                m = rx.search(turn.content)
                if m:
                    yield self.finding(
                        example,
                        f"{turn.role.value} turn contains banned phrase {label!r}",
                        pointer=turn.pointer,
                        evidence={"phrase": label, "match": m.group(0)[:80], "offset": m.start()},
                        key=label,
                    )


CHECKS = [BannedPhrases]
