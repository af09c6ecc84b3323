"""exceeds-context (L001): examples longer than the target model's context window."""

from __future__ import annotations

from itertools import repeat
from typing import Iterable, Iterator, Sequence

import numpy as np

from pydantic import Field

from tunelint import deployment as deployment_spec
from tunelint.checks._turns import turn_table
from tunelint.checks.base import CheckOptions, RecordCheck
from tunelint.config import ConfigError
from tunelint.models import Criterion, Example, Finding, Role, Severity
from tunelint.tokens import upper_bound, TokenizerError, resolve

# Per-message framing tokens that chat templates add (role markers, separators).
_PER_TURN_OVERHEAD = 4


class ExceedsContext(RecordCheck):
    """An example longer than the model's context window: it gets truncated in training.

    What it does:
        Counts each example's tokens including a few tokens of chat framing per turn, and
        reports examples over the limit: the deployment spec's `max_seq_len`, or `max-tokens`.
        The tokenizer is the spec's (or this check's) `tokenizer`: a local Hugging Face
        tokenizer.json (needs the `tokenizers` extra), `tiktoken:<encoding>` (needs the
        `tiktoken` extra and the encoding's files on this machine), or `estimate` — characters /
        4, labelled as an estimate. Nothing is downloaded; when the asked-for tokenizer cannot
        run, the estimate runs and the scorecard metrics say why. Each finding says whether the
        cut lands in an assistant answer or removes every trainable token.

    Why it matters for a fine-tune:
        Trainers truncate silently at the sequence length. A cut answer teaches the model to stop
        mid-sentence; a cut that removes every assistant token trains on nothing ("loss 0.0").

    Example:
        {"messages": [{"role": "user", "content": "Summarise: <40 pages of log>"}, {"role": "assistant", "content": "The outage began at 09:12."}]}

    Use instead:
        Shorten the input (the relevant part of the log), split the example, or raise the
        sequence length to what the target model supports.

    Options:
        max-tokens: the context length to check against (default 4096; the deployment spec's
            max_seq_len replaces the default, an explicit value here wins over both).
        tokenizer: path to a tokenizer.json, "tiktoken:<encoding>" or "estimate" (default: the
            deployment spec's tokenizer, else the estimate).
        chars-per-token: the estimate's ratio when no tokenizer is configured (default 4).
    """

    code = "L001"
    name = "exceeds-context"
    criterion = Criterion.COMPLETE
    severity = Severity.WARNING
    summary = "example longer than the target model's context (truncated in training)"

    class Options(CheckOptions):
        max_tokens: int = Field(4096, gt=0)
        tokenizer: str | None = None
        chars_per_token: float = Field(4.0, gt=0)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        spec = deployment_spec.from_settings(self.context.settings)
        explicit = self.options.model_fields_set
        self.limit = self.options.max_tokens
        self.limit_from = "max-tokens option" if "max_tokens" in explicit else "default"
        if spec is not None and spec.max_seq_len is not None and "max_tokens" not in explicit:
            self.limit, self.limit_from = spec.max_seq_len, f"max_seq_len in {spec.source}"
        tokenizer, where = self.options.tokenizer, f"check '{self.name}': option 'tokenizer'"
        if tokenizer is not None and tokenizer != "estimate" and not tokenizer.startswith("tiktoken:"):
            base = getattr(self.context.settings, "base_dir", None)
            tokenizer = str((base / tokenizer) if base is not None else tokenizer)
        if tokenizer is None and spec is not None:
            tokenizer, where = spec.tokenizer, spec.where("tokenizer")
        try:
            resolved = resolve(tokenizer, self.options.chars_per_token)
        except TokenizerError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        self.counter = resolved.counter
        self.metrics = {
            "tokenizer": self.counter.name,
            "exact": self.counter.exact,
            "max_tokens": self.limit,
            "limit_from": self.limit_from,
            "chars_per_token": self.options.chars_per_token,
        }
        if resolved.note:
            self.metrics["tokenizer_note"] = resolved.note

    def check_batch(self, examples: Sequence[Example]) -> Iterable[Finding]:
        # check's first test (the upper bound on the tokens within the limit) for the whole
        # batch: only the examples it does not clear go through check.
        table = turn_table(examples)
        turns = np.diff(table.at)
        chars = table.chars()
        pieces = turns
        called = np.flatnonzero(table.calls)
        if len(called):
            flat = table.flat
            extra = np.zeros(len(flat), dtype=np.int64)
            for j in called.tolist():
                extra[j] = sum(len(c.name) + len(c.arguments) for c in flat[j].tool_calls)
            chars = chars + table.per_example(extra)
            pieces = turns + 2 * table.per_example(table.calls)
        bounds = np.fromiter(
            map(upper_bound, repeat(self.counter), chars.tolist(), pieces.tolist()), dtype=np.int64, count=len(turns)
        )
        check = self.check
        over = np.flatnonzero(bounds + _PER_TURN_OVERHEAD * turns > self.limit).tolist()
        return [f for i in over for f in check(examples[i])]

    def check(self, example: Example) -> Iterator[Finding]:
        limit = self.limit
        chars = pieces = 0
        for turn in example.turns:
            chars += len(turn.content)
            pieces += 1
            for call in turn.tool_calls:
                chars += len(call.name) + len(call.arguments)
                pieces += 2
        if upper_bound(self.counter, chars, pieces) + _PER_TURN_OVERHEAD * len(example.turns) <= limit:
            return
        total = 0
        trainable_before_cut = 0
        trainable_total = 0
        for turn in example.turns:
            n = self.counter.count(turn.content) + _PER_TURN_OVERHEAD
            for call in turn.tool_calls:
                n += self.counter.count(call.name) + self.counter.count(call.arguments)
            if turn.role is Role.ASSISTANT and turn.weight != 0:
                trainable_total += n
                trainable_before_cut += max(0, min(n, limit - total))
            total += n
        if total <= limit:
            return
        self.counts["over"] += 1
        if trainable_total and trainable_before_cut == 0:
            tail = "truncation removes every assistant token: the example trains on nothing"
            severity = Severity.ERROR
            self.counts["zero_trainable"] += 1
        elif trainable_before_cut < trainable_total:
            kept = trainable_before_cut / trainable_total
            tail = f"truncation cuts the assistant output ({kept:.0%} of its tokens survive)"
            severity = None
        else:
            tail = "the assistant output survives, but the end of the example is cut"
            severity = None
        turn = example.final_assistant or (example.turns[-1] if example.turns else None)
        yield self.finding(
            example,
            f"example is {total:,} tokens ({self.counter.name}), over the {limit:,}-token context; {tail}",
            pointer=turn.pointer if turn else None,
            severity=severity,
            evidence={
                "tokens": total,
                "max_tokens": limit,
                "tokenizer": self.counter.name,
                "exact": self.counter.exact,
                "trainable_tokens": trainable_total,
                "trainable_tokens_kept": trainable_before_cut,
            },
        )
