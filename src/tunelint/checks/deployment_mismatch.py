"""deployment-mismatch (M001): training examples not shaped like the deployed prompt."""

from __future__ import annotations

import difflib
import re
from typing import Iterator, Literal

from tunelint import deployment as deployment_spec
from tunelint.checks.base import CheckOptions, RecordCheck
from tunelint.models import Criterion, Example, Finding, Role, Severity

_WS = re.compile(r"\s+")
# System prompts repeat across examples; comparing each distinct one once keeps this cheap.
_CACHE_LIMIT = 4096


class DeploymentMismatch(RecordCheck):
    """A training example whose prompt is not the one the deployed model will get.

    What it does:
        Compares each example with the deployment spec. It reports a missing system prompt
        when the deployment sends one, a system prompt whose text differs from the deployed one
        (with the similarity ratio and the first point where they part — whitespace-only
        differences at info severity), and user turns that do not fit the spec's
        `user_template`, where each `{name}` matches any text: it names the first literal part
        of the template that is missing and any field left empty. Needs a deployment spec
        (`--deployment SPEC.toml` or a `[deployment]` table); without one the criterion is
        reported as not assessed.

    Why it matters for a fine-tune:
        A fine-tune learns the behaviour *conditioned on the prompt it saw*. Trained on one
        system prompt and served with another, the model falls back toward its base behaviour;
        inputs in a different shape than production get answers learned for that other shape.

    Example:
        {"messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "my card was charged twice"}, {"role": "assistant", "content": "billing"}]}

    Use instead:
        {"messages": [{"role": "system", "content": "Classify the support ticket. Answer with one label."}, {"role": "user", "content": "Ticket: my card was charged twice"}, {"role": "assistant", "content": "billing"}]}

    Options:
        user-turns: which user turns must fit the template, "first" (default) or "all".
        min-similarity: below this similarity a differing system prompt is an error rather
            than a warning (default 0.5).
    """

    code = "M001"
    name = "deployment-mismatch"
    criterion = Criterion.REPRESENTATIVE
    severity = Severity.WARNING
    summary = "system prompt / user template differs from the deployment prompt"

    class Options(CheckOptions):
        user_turns: Literal["first", "all"] = "first"
        min_similarity: float = 0.5

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.spec = deployment_spec.from_settings(self.context.settings)
        self._prompt_cache: dict[str, tuple[float, int, bool]] = {}
        if self.spec is None:
            self.mark_not_assessed("no deployment spec: give --deployment SPEC.toml or a [deployment] table")
        elif self.spec.system_prompt is None and self.spec.user_pattern is None:
            self.mark_not_assessed(f"no system_prompt or user_template in {self.spec.source}")

    def check(self, example: Example) -> Iterator[Finding]:
        spec = self.spec
        if spec is None or (spec.system_prompt is None and spec.user_pattern is None):
            return
        self.counts["examples"] += 1
        if spec.system_prompt is not None:
            yield from self._system(example, spec.system_prompt)
        if spec.user_pattern is not None:
            yield from self._users(example)

    # -- system prompt ------------------------------------------------------------------------
    def _system(self, example: Example, deployed: str) -> Iterator[Finding]:
        systems = example.by_role(Role.SYSTEM)
        if not systems:
            if not deployed.strip():
                return
            self.counts["system_prompt_missing"] += 1
            first = example.turns[0].pointer if example.turns else None
            yield self.finding(
                example,
                f"example has no system prompt; the deployment sends one ({len(deployed):,} characters)",
                pointer=first,
                key="system-missing",
                evidence={"deployed_chars": len(deployed)},
            )
            return
        turn = systems[0]
        if turn.content == deployed:
            return
        similarity, at, whitespace_only = self._compare(turn.content, deployed)
        self.counts["system_prompt_different"] += 1
        if whitespace_only:
            message = "system prompt differs from the deployed one only in whitespace (the tokens still differ)"
            severity = Severity.INFO
        else:
            ours, theirs = _excerpt(turn.content, at), _excerpt(deployed, at)
            message = (
                f"system prompt differs from the deployed one (similarity {similarity:.2f}); "
                f"they part at character {at + 1}: {ours!r} vs deployed {theirs!r}"
            )
            severity = Severity.ERROR if similarity < self.options.min_similarity else None
        yield self.finding(
            example,
            message,
            pointer=turn.pointer,
            severity=severity,
            key="system-different",
            evidence={"similarity": round(similarity, 3), "first_difference": at, "whitespace_only": whitespace_only},
        )

    def _compare(self, ours: str, deployed: str) -> tuple[float, int, bool]:
        hit = self._prompt_cache.get(ours)
        if hit is not None:
            return hit
        whitespace_only = _WS.sub(" ", ours).strip() == _WS.sub(" ", deployed).strip()
        matcher = difflib.SequenceMatcher(None, ours, deployed, autojunk=len(ours) + len(deployed) > 4000)
        similarity = matcher.ratio()
        at = next((i for i, (a, b) in enumerate(zip(ours, deployed)) if a != b), min(len(ours), len(deployed)))
        result = (similarity, at, whitespace_only)
        if len(self._prompt_cache) < _CACHE_LIMIT:
            self._prompt_cache[ours] = result
        return result

    # -- user template ------------------------------------------------------------------------
    def _users(self, example: Example) -> Iterator[Finding]:
        spec = self.spec
        assert spec is not None and spec.user_pattern is not None and spec.user_template is not None
        users = example.by_role(Role.USER)
        if self.options.user_turns == "first":
            users = users[:1]
        for n, turn in enumerate(users, 1):
            match = spec.user_pattern.fullmatch(turn.content)
            if match is not None:
                empty = [name for name in spec.template_fields if not match.group(name).strip()]
                if not empty:
                    continue
                message = f"user turn {n} fits the user template but leaves {_names(empty)} empty"
                evidence = {"empty_fields": empty}
            else:
                missing = _first_missing(spec.user_template, turn.content)
                message = f"user turn {n} does not fit the user template: {missing}"
                evidence = {"template": spec.user_template}
            self.counts["template_mismatch"] += 1
            yield self.finding(example, message, pointer=turn.pointer, key=f"template:{n}", evidence=evidence)


def _names(fields: list[str]) -> str:
    quoted = [f"{{{f}}}" for f in fields]
    return ("field " if len(quoted) == 1 else "fields ") + ", ".join(quoted)


def _excerpt(text: str, at: int, width: int = 30) -> str:
    start = max(0, at - 5)
    piece = text[start:start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")


_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _first_missing(template: str, text: str) -> str:
    """Which part of the template the text lacks: the first literal piece that cannot be found
    in order, after the fields before it matched anything."""
    text_pattern = ""
    previous = "the start"
    pos = 0
    pieces: list[tuple[str, str]] = []
    body = template.replace("{{", "\x00").replace("}}", "\x01")
    for m in _FIELD.finditer(body):
        pieces.append(("literal", body[pos:m.start()]))
        pieces.append(("field", m.group(1)))
        pos = m.end()
    pieces.append(("literal", body[pos:]))
    for kind, value in pieces:
        if kind == "field":
            text_pattern += r".*?"
            previous = f"{{{value}}}"
            continue
        literal = value.replace("\x00", "{").replace("\x01", "}")
        if not literal.strip():
            text_pattern += r"\s*"
            continue
        piece = r"\s+".join(re.escape(w) for w in literal.split())
        if literal[:1].isspace():
            piece = r"\s*" + piece
        candidate = text_pattern + piece
        if re.match(r"\s*" + candidate, text, re.DOTALL) is None:
            where = "at the start" if previous == "the start" else f"after {previous}"
            return f"expected {literal.strip()!r} {where}"
        text_pattern = candidate + (r"\s*" if literal[-1:].isspace() else "")
    return "text follows the template's last part (the template ends there)"


CHECKS = [DeploymentMismatch]
