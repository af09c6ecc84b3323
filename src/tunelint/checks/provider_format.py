"""provider-format (F006): records the chosen fine-tuning platform would reject."""

from __future__ import annotations

from typing import Iterator

from tunelint import deployment as deployment_spec
from tunelint.checks.base import CheckOptions, DatasetCheck
from tunelint.config import ConfigError
from tunelint.models import Criterion, Example, Finding, Role, Severity
from tunelint.providers import ProviderProfile, profile_names, resolve_profile
from tunelint.tokens import TokenizerError, resolve

# Per-message framing tokens that chat templates add (role markers, separators).
_PER_TURN_OVERHEAD = 4
_SIDE = {Role.USER: "user", Role.TOOL: "user", Role.ASSISTANT: "assistant"}


class ProviderFormat(DatasetCheck):
    """A record the target fine-tuning platform would reject, by that platform's rules.

    What it does:
        With a target (`target` in the deployment spec, or `--target`: openai, vertex / gemini,
        bedrock, together, mistral, trl) it applies that platform's rules from tunelint's
        provider table (docs/providers.md): allowed roles, where a system message may stand,
        which role must come first and last, strict user / assistant alternation, at least one
        assistant message, the per-example token limit and the minimum number of training
        examples. Every violation of every record is reported, not only the first. Tokens are
        counted with the spec's tokenizer, or the labelled estimate.

    Why it matters for a fine-tune:
        Upload validators stop at the first bad record, so fixing a file takes one round trip
        per error; local trainers instead apply a chat template that raises on the first
        non-alternating conversation, or silently truncate long ones.

    Example:
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Anyone there?"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Thanks"}]}

    Use instead:
        {"messages": [{"role": "user", "content": "Hi, anyone there?"}, {"role": "assistant", "content": "Hello!"}]}

    Options:
        target: the provider profile, when neither the deployment spec nor --target names one.
        max-tokens: overrides the profile's per-example token limit.
        chars-per-token: the estimate's ratio when no tokenizer is configured (default 4).
    """

    code = "F006"
    name = "provider-format"
    criterion = Criterion.COMPLETE
    severity = Severity.ERROR
    summary = "record breaks the target platform's format rules (roles, alternation, limits)"
    splits = ("train", "test")
    mergeable = True

    class Options(CheckOptions):
        target: str | None = None
        max_tokens: int | None = None
        chars_per_token: float = 4.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        spec = deployment_spec.from_settings(self.context.settings)
        target = spec.target if spec is not None and spec.target else self.options.target
        self.profile: ProviderProfile | None = None
        self.found: list[Finding] = []
        self.train_examples = 0
        self.train_path: str | None = None
        self.metrics = {}
        if target is None:
            self.mark_not_assessed("no target platform: give --target or target in the deployment spec")
            return
        self.profile = resolve_profile(target)
        if self.profile is None:
            raise ConfigError(f"check '{self.name}': unknown target '{target}' (one of: {', '.join(profile_names())})")
        self.limit = self.options.max_tokens or self.profile.max_tokens
        try:
            resolved = resolve(spec.tokenizer if spec is not None else None, self.options.chars_per_token)
        except TokenizerError as exc:
            raise ConfigError(f"{spec.where('tokenizer') if spec else self.name}: {exc}") from None
        self.counter = resolved.counter
        self.metrics = {"target": self.profile.name, "tokenizer": self.counter.name}

    def observe(self, example: Example) -> None:
        profile = self.profile
        if profile is None:
            return
        if example.split == "train":
            self.train_examples += 1
            self.train_path = self.train_path or example.path
        before = len(self.found)
        self.found.extend(self._violations(example, profile))
        if len(self.found) > before:
            self.counts["violations"] += len(self.found) - before
            self.counts["records_with_violations"] += 1

    def _violations(self, example: Example, profile: ProviderProfile) -> Iterator[Finding]:
        title = profile.title
        turns = example.turns
        for i, turn in enumerate(turns):
            if turn.role not in profile.roles:
                yield self.finding(
                    example,
                    f"message {i + 1} has role '{turn.role.value}', which {title} does not accept "
                    f"(roles: {', '.join(sorted(r.value for r in profile.roles))})",
                    pointer=turn.pointer,
                    key=f"role:{i}",
                    evidence={"rule": "roles", "target": profile.name},
                )
            elif turn.role is Role.SYSTEM and profile.system_first_only and i > 0:
                yield self.finding(
                    example,
                    f"message {i + 1} is a system message after the conversation began; {title} takes one system prompt, first",
                    pointer=turn.pointer,
                    key=f"system-position:{i}",
                    evidence={"rule": "system-first", "target": profile.name},
                )
        dialogue = [(i, t) for i, t in enumerate(turns) if t.role is not Role.SYSTEM]
        if dialogue and profile.first_roles is not None and dialogue[0][1].role not in profile.first_roles:
            i, t = dialogue[0]
            yield self.finding(
                example,
                f"the conversation starts with {_a(t.role.value)} message; {title} needs {_roles(profile.first_roles)} first",
                pointer=t.pointer,
                key="first-role",
                evidence={"rule": "first-role", "target": profile.name},
            )
        if dialogue and profile.last_roles is not None and dialogue[-1][1].role not in profile.last_roles:
            i, t = dialogue[-1]
            yield self.finding(
                example,
                f"the conversation ends with {_a(t.role.value)} message; {title} needs {_roles(profile.last_roles)} last",
                pointer=t.pointer,
                key="last-role",
                evidence={"rule": "last-role", "target": profile.name},
            )
        if profile.alternate:
            for (i, a), (j, b) in zip(dialogue, dialogue[1:]):
                side_a, side_b = _SIDE.get(a.role), _SIDE.get(b.role)
                if side_a is not None and side_a == side_b:
                    yield self.finding(
                        example,
                        f"messages {i + 1} and {j + 1} are both {side_a}-side ({a.role.value}, {b.role.value}); "
                        f"{title} needs user and assistant to alternate",
                        pointer=b.pointer,
                        key=f"alternation:{j}",
                        evidence={"rule": "alternation", "target": profile.name},
                    )
        assistants = sum(1 for t in turns if t.role is Role.ASSISTANT)
        if assistants < profile.min_assistant:
            yield self.finding(
                example,
                f"the example has no assistant message; {title} trains on assistant messages",
                pointer=turns[0].pointer if turns else None,
                key="assistant-count",
                evidence={"rule": "min-assistant", "target": profile.name},
            )
        if self.limit is not None:
            tokens = sum(
                self.counter.count(t.content) + _PER_TURN_OVERHEAD + sum(self.counter.count(c.arguments) + self.counter.count(c.name) for c in t.tool_calls)
                for t in turns
            )
            if tokens > self.limit:
                yield self.finding(
                    example,
                    f"the example is {tokens:,} tokens ({self.counter.name}); {title} accepts at most {self.limit:,} per example",
                    pointer=turns[-1].pointer if turns else None,
                    key="max-tokens",
                    evidence={"rule": "max-tokens", "target": profile.name, "tokens": tokens, "max_tokens": self.limit},
                )

    def merge(self, other: "ProviderFormat") -> None:  # type: ignore[override]
        super().merge(other)
        self.found.extend(other.found)
        self.train_examples += other.train_examples
        self.train_path = self.train_path or other.train_path

    def finish(self) -> Iterator[Finding]:
        profile = self.profile
        if profile is None:
            return
        yield from self.found
        self.metrics["training_examples"] = self.train_examples
        if self.train_path is not None and self.train_examples < profile.min_examples:
            yield self.dataset_finding(
                "train",
                self.train_path,
                f"the training file has {self.train_examples:,} examples; {profile.title} needs at least {profile.min_examples:,}",
                key="min-examples",
                evidence={"rule": "min-examples", "target": profile.name, "examples": self.train_examples, "min_examples": profile.min_examples},
            )


def _roles(roles: frozenset[Role]) -> str:
    names = sorted(r.value for r in roles)
    return " or ".join(_a(n) for n in names) + " message"


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


CHECKS = [ProviderFormat]
