"""Format and structure checks (F family): what stops an example from teaching anything."""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from tunelint.checks._turns import TOOL, USER, turn_table
from tunelint.checks.base import RecordCheck, fingerprint
from tunelint.loader import Rejected
from tunelint.models import Criterion, Example, Finding, Location, Role, Severity


class _LoaderCheck(RecordCheck):
    """A check whose findings come from the loader (records that produced no example)."""

    def from_rejected(self, rej: Rejected) -> Finding:
        return Finding(
            code=self.code,
            check=self.name,
            criterion=self.criterion,
            severity=self.level,
            message=rej.message,
            location=Location(rej.split, rej.path, rej.line, rej.index, rej.pointer or None),
            fingerprint=fingerprint(self.code, rej.path, rej.record_hash, rej.pointer),
        )


class InvalidJson(_LoaderCheck):
    """A line (or file) that does not parse as JSON.

    What it does:
        Reports every record the JSON parser rejects — truncated lines, stray text, invalid
        UTF-8, NUL bytes — with its physical line, and damaged gzip archives. The rest of the
        file is still read and checked.

    Why it matters for a fine-tune:
        Most training APIs refuse the whole file for one bad line; local trainers may skip it
        silently, so what you train on is not what you reviewed.

    Example:
        {"messages": [{"role": "user", "content": "Where is my order?"}

    Use instead:
        {"messages": [{"role": "user", "content": "Where is my order?"}, {"role": "assistant", "content": "Let me check."}]}
    """

    code = "F001"
    name = "invalid-json"
    criterion = Criterion.COMPLETE
    severity = Severity.ERROR
    summary = "line or file that does not parse"

    def check_batch(self, examples: Sequence[Example]) -> Iterable[Finding]:
        return ()  # every finding comes from the loader (from_rejected)


class SchemaViolation(_LoaderCheck):
    """A record that does not fit its format.

    What it does:
        Reports records missing required keys, values of the wrong type (a number or null where
        text belongs), unknown roles, malformed tool calls, tool calls whose id never gets a tool
        result (and tool results answering no call), and files whose records fit no known format.

    Why it matters for a fine-tune:
        Trainers either reject such records or read them differently than you intended: a null
        content becomes "None", an unknown role is dropped, an unanswered tool call teaches the
        model to stop mid-action.

    Example:
        {"messages": [{"role": "customer", "content": "Hi"}, {"role": "assistant", "content": 42}]}

    Use instead:
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]}
    """

    code = "F002"
    name = "schema-violation"
    criterion = Criterion.COMPLETE
    severity = Severity.ERROR
    summary = "record that does not fit its format (missing keys, wrong types, unknown role)"

    def check_batch(self, examples: Sequence[Example]) -> Iterable[Finding]:
        # Most examples have no problems and no tool turns: only the others go through check.
        table = turn_table(examples)
        suspect = table.with_problems() | (table.per_example((table.calls > 0) | (table.roles == TOOL)) > 0)
        return _check_some(self.check, examples, suspect)

    def check(self, example: Example) -> Iterator[Finding]:
        for problem in example.problems:
            yield self.finding(example, problem.message, pointer=problem.pointer or None, key=problem.message)
        for turn in example.turns:
            if turn.tool_calls or turn.role is Role.TOOL:
                yield from self._tool_pairing(example)
                break

    def _tool_pairing(self, example: Example) -> Iterator[Finding]:
        open_calls: dict[str, str] = {}
        for turn in example.turns:
            for call in turn.tool_calls:
                if call.id:
                    open_calls[call.id] = call.pointer
            if turn.role is Role.TOOL and turn.tool_call_id is not None:
                if turn.tool_call_id in open_calls:
                    del open_calls[turn.tool_call_id]
                else:
                    yield self.finding(
                        example,
                        f"tool result answers call id '{turn.tool_call_id}', which no earlier assistant turn made",
                        pointer=turn.pointer,
                        key="orphan-result:" + turn.tool_call_id,
                    )
        for call_id, ptr in open_calls.items():
            yield self.finding(
                example,
                f"tool call '{call_id}' gets no tool result message",
                pointer=ptr,
                key="unanswered:" + call_id,
            )


class MissingAssistantTurn(RecordCheck):
    """An example with nothing for the model to learn from.

    What it does:
        Reports examples with no assistant turn at all, examples where every assistant turn has
        weight 0 (OpenAI's per-message weight), so no token is trained on, and (as a warning)
        conversations that end on a user turn nobody answers.

    Why it matters for a fine-tune:
        The loss is computed on assistant tokens only. An example without them costs tokens and
        teaches nothing — trainers show it as a silent "loss 0.0" step.

    Example:
        {"messages": [{"role": "user", "content": "Summarise this ticket."}]}

    Use instead:
        {"messages": [{"role": "user", "content": "Summarise this ticket."}, {"role": "assistant", "content": "The customer was double-charged in May."}]}
    """

    code = "F003"
    name = "missing-assistant-turn"
    criterion = Criterion.COMPLETE
    severity = Severity.ERROR
    summary = "nothing for the model to learn from"

    def check_batch(self, examples: Sequence[Example]) -> Iterable[Finding]:
        # The common case, ending on a trained assistant turn, needs no generator.
        return _check_some(self.check, examples, ~turn_table(examples).last_trained_assistant())

    def check(self, example: Example) -> Iterator[Finding]:
        turns = example.turns
        if turns and turns[-1].role is Role.ASSISTANT and turns[-1].weight is None:
            return  # the common case: ends on a trained assistant turn
        assistants = example.by_role(Role.ASSISTANT)
        if not assistants:
            ptr = _turns_pointer(example)
            yield self.finding(example, "example has no assistant turn: nothing to learn from", pointer=ptr)
        elif all(t.weight == 0 for t in assistants):
            yield self.finding(
                example,
                f"all {len(assistants)} assistant turns have weight 0: no token is trained on",
                pointer=assistants[-1].pointer,
            )
        elif example.turns[-1].role is Role.USER:
            yield self.finding(
                example,
                "conversation ends on a user turn that gets no answer: the final request teaches nothing",
                pointer=example.turns[-1].pointer,
                severity=Severity.WARNING,
                key="trailing-user",
            )


class MissingUserTurn(RecordCheck):
    """A chat example with no user message.

    What it does:
        Reports examples that have an assistant turn but no user turn: the model is trained to
        answer nothing.

    Why it matters for a fine-tune:
        The model learns to produce that output unprompted, from the system prompt alone; most
        often a user message was lost when the data was exported.

    Example:
        {"messages": [{"role": "system", "content": "You are upbeat."}, {"role": "assistant", "content": "You're great!"}]}

    Use instead:
        {"messages": [{"role": "system", "content": "You are upbeat."}, {"role": "user", "content": "I failed my exam."}, {"role": "assistant", "content": "You'll ace the retake!"}]}
    """

    code = "F005"
    name = "missing-user-turn"
    criterion = Criterion.COMPLETE
    severity = Severity.ERROR
    summary = "an assistant answers a conversation that has no user message"

    def check_batch(self, examples: Sequence[Example]) -> Iterable[Finding]:
        return _check_some(self.check, examples, turn_table(examples).count_role(USER) == 0)

    def check(self, example: Example) -> Iterator[Finding]:
        has_assistant = False
        for turn in example.turns:
            if turn.role is Role.USER:
                return
            has_assistant = has_assistant or turn.role is Role.ASSISTANT
        if has_assistant:
            yield self.finding(example, "example has no user turn: the assistant answers nothing", pointer=_turns_pointer(example))


class EmptyContent(RecordCheck):
    """An empty or whitespace-only turn.

    What it does:
        Reports each turn whose text is empty or only whitespace, including the rejected side
        of preference pairs. Assistant turns that only make tool calls, and non-text parts
        (images, files), are not empty.

    Why it matters for a fine-tune:
        An empty assistant turn teaches the model to stop without answering; an empty user turn
        teaches it to answer a question nobody asked.

    Example:
        {"prompt": "Translate to French: good morning", "completion": "  "}

    Use instead:
        {"prompt": "Translate to French: good morning", "completion": "Bonjour"}
    """

    code = "F004"
    name = "empty-content"
    criterion = Criterion.COMPLETE
    severity = Severity.ERROR
    summary = "empty or whitespace-only turn"

    def check_batch(self, examples: Sequence[Example]) -> Iterable[Finding]:
        table = turn_table(examples)
        # Only the examples with a blank turn that makes no tool call, or with a rejected side,
        # can give findings.
        suspect = (table.per_example(table.blank() & (table.calls == 0)) > 0) | table.with_rejected()
        return _check_some(self.check, examples, suspect)

    def check(self, example: Example) -> Iterator[Finding]:
        for side, turns in (("", example.turns), ("rejected ", example.rejected)):
            for k, turn in enumerate(turns):
                if turn.content.strip() or turn.content_is_null or turn.tool_calls or turn.attachments:
                    continue
                # Rare: count the turn's position among its role only when reporting it.
                position = sum(1 for t in turns[: k + 1] if t.role is turn.role)
                what = "empty" if not turn.content else "whitespace only"
                severity = Severity.ERROR if turn.role is Role.ASSISTANT else Severity.WARNING
                yield self.finding(
                    example,
                    f"{side}{turn.role.value} turn {position} is {what}",
                    pointer=turn.pointer,
                    severity=severity,
                    key=f"{side}{turn.role.value}{position}",
                )


def _check_some(check, examples: Sequence[Example], suspect: np.ndarray) -> list[Finding]:
    """check(e) of the examples marked in `suspect`, in order: the findings of every example
    when the others give none."""
    return [f for i in np.flatnonzero(suspect).tolist() for f in check(examples[i])]


def _turns_pointer(example: Example) -> str | None:
    if not example.turns:
        return None
    ptr = example.turns[0].pointer
    # "/messages/0/content" -> "/messages": the list the missing turn belongs in.
    parts = ptr.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else None


CHECKS: list[type[RecordCheck]] = [InvalidJson, SchemaViolation, MissingAssistantTurn, EmptyContent, MissingUserTurn]
