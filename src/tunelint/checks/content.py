"""Content heuristics (C family): outputs that are wrong in ways a schema cannot see.

Each check reads the assistant text (or, for missing-context, the user text) of one example and
looks for one recognisable defect; the patterns come from defects catalogued in real instruction
data (AlpacaDataCleaned's list) and were tuned to stay quiet on clean data.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections import Counter
from itertools import accumulate, compress, count, repeat
from operator import and_
from typing import Iterator

from tunelint.checks._batch import Batch, BatchedRecordCheck
from tunelint.checks._turns import ASSISTANT as _ASSISTANT_CODE, USER as _USER_CODE, table_of
from tunelint.checks.base import CheckOptions
from tunelint.models import Criterion, Example, Finding, Role, Severity, Turn
from tunelint.multigate import MultiGate
from tunelint.privacy.prefilter import HyperscanGate
from tunelint.textscan import (
    RE2_DIGIT, RE2_SPACE, any_in, fold, line_breaks_at_least, regex_gate, repeat_candidates,
)


_ASSISTANT = Role.ASSISTANT


def _assistant_turns(example: Example) -> list[tuple[int, Turn]]:
    """(n, turn) of each assistant turn with content, n counting every assistant turn from 1."""
    found = []
    n = 0
    for t in example.turns:
        if t.role is _ASSISTANT:
            n += 1
            if t.content and not t.content_is_null:
                found.append((n, t))
    return found


def _batch_assistant_turns(batch: Batch) -> tuple[list[int], list[int], list[Turn]]:
    """_assistant_turns of every example of a batch, flattened: (example index, n, turn) as
    three lists in order, built once (from the batch's turn table) for the checks that read them."""

    def build(b: Batch) -> tuple[list[int], list[int], list[Turn]]:
        owners, ns, turns = table_of(b).of_role(_ASSISTANT_CODE)
        keep = [bool(t.content) and not t.content_is_null for t in turns]
        if not all(keep):
            owners, ns, turns = list(compress(owners, keep)), list(compress(ns, keep)), list(compress(turns, keep))
        return owners, ns, turns

    return batch.cached("content.assistant_turns", build)


def _turns_of_batch(batch: Batch) -> list[tuple[Example, int, Turn, int]]:
    """(example, n, turn, the gate bits of its text: nonzero where _CONTENT_GATE matches) of the non-empty assistant
    turns of a batch that _CONTENT_GATE matches or that are short enough to be a whole
    placeholder (_WHOLE_MAX characters at most), in order, built once per batch: the turns the
    content checks read."""

    def build(b: Batch) -> list[tuple[Example, int, Turn, int]]:
        examples = b.examples
        owners, ns, turns = _batch_assistant_turns(b)
        return [(examples[i], n, turn, bits) for i, n, turn, bits in zip(owners, ns, turns, _batch_gate(b))
                if bits & _CONTENT_BITS or len(turn.content) <= _WHOLE_MAX]

    return batch.cached("content.turns", build)


def _gated_turns(batch: Batch) -> list[tuple[Example, int, Turn, int]]:
    """The turns of _turns_of_batch that _CONTENT_GATE matches."""
    return batch.cached("content.gated", lambda b: [t for t in _turns_of_batch(b) if t[3] & _CONTENT_BITS])


def _gated_for(batch: Batch, bits: int) -> list[tuple[Example, int, Turn, int]]:
    """The turns of _gated_turns that one check's part of the gate (`bits`) matches."""
    return batch.cached(("content.gated", bits), lambda b: [t for t in _gated_turns(b) if t[3] & bits])


def _batch_prose(batch: Batch) -> dict[int, str]:
    """_prose of each turn of _gated_turns that placeholder-output's or merged-instructions' part
    of the gate matches, by id(turn): both read it."""
    return batch.cached(
        "content.prose", lambda b: {id(t[2]): _prose(t[2].content) for t in _gated_for(b, _PLACEHOLDER_BITS | _MERGED_BITS)}
    )


def _batch_gate(batch: Batch) -> list[int]:
    """For each of the batch's non-empty assistant turns (flattened), the bits of the content
    gate's parts that may match it (_content_masks), found for all of them at once: nonzero
    where _CONTENT_GATE may match; every bit when Arrow cannot take the texts, or for a single
    example."""

    def build(b: Batch) -> list[int]:
        texts = [t.content for t in _batch_assistant_turns(b)[2]]
        found = _content_masks(texts) if len(b) > 1 else None
        return [_ALL_BITS] * len(texts) if found is None else found

    return batch.cached("content.gate", build)


# The batch gates, one per check: RE2 patterns that match wherever one of the check's Python
# patterns can, written from them with their word boundaries, anchors and look-arounds dropped,
# `\d` and `\s` widened (RE2_DIGIT, RE2_SPACE), and the case-insensitive parts in (?i:...). A
# text holding a character that Python's IGNORECASE matches to an ASCII letter but RE2's case
# folding may not (İ, ı, ſ, the Kelvin sign) passes, as does one with a code fence (removing the
# fenced code can join text from either side of it). Their union, _CONTENT_GATE, runs once per
# batch (one RE2 scan costs about what one of them does); a turn it does not match skips
# placeholder-output's patterns, refusal-boilerplate's self-disclaimers and merged-instructions,
# and the few that it matches go through each check's own tests. tests/test_textscan.py checks
# the gates against the patterns on generated text.
_ODD_CASE = r"[\x{130}\x{131}\x{17f}\x{212a}]"
_D, _S = RE2_DIGIT, RE2_SPACE


_FENCE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)


def _prose(text: str) -> str:
    """The text with fenced code blocks removed: patterns about prose skip code."""
    return _FENCE_BLOCK.sub(" ", text) if "```" in text else text


# ------------------------------------------------------------------------------ placeholder

# The whole output is one of these (case-insensitive, surrounding punctuation and brackets ignored).
_PLACEHOLDER_WHOLE = {
    "n/a", "n.a.", "na", "no output", "nooutput", "no input", "noinput", "no answer", "no response",
    "todo", "tbd", "tba", "to do", "placeholder", "insert answer here", "answer here", "output here",
    "your answer here", "null", "nan", "undefined", "...", "…", "-", "--", "?", "xxx", "output", "response",
    "answer", "<output>", "empty",
}
_PLACEHOLDER_STRIP = " \t\r\n<>[](){}\"'`*_."
_WHOLE_MAX = 40  # the longest output judged as a whole placeholder
_UNFILLED = re.compile(r"\{\{\s*[A-Za-z_][\w.]*\s*\}\}|\$\{[A-Za-z_]\w*\}|<<\s*[A-Za-z_]\w*\s*>>")
_LOREM = re.compile(r"\blorem ipsum\b", re.IGNORECASE)
_INSERT = re.compile(r"[\[<]\s*(?:insert|add|put|enter)\s+(?:your\s+|the\s+)?(?:answer|output|response|text|content)\b[^\]>]{0,30}[\]>]", re.IGNORECASE)


def _placeholder_patterns(prose: str, folded: str | None = None) -> Iterator[tuple[str, re.Pattern[str]]]:
    """The placeholder patterns that can match `prose`, in order (each behind a cheap gate:
    substrings its match holds, the case-insensitive ones looked for in `folded`, fold(prose))."""
    if "{{" in prose or "${" in prose or "<<" in prose:
        yield "unfilled-variable", _UNFILLED
    if folded is None:
        folded = fold(prose)
    if (
        ("[" in prose or "<" in prose) and ("]" in prose or ">" in prose)
        and any_in(folded, _INSERT_VERBS) and any_in(folded, _INSERT_NOUNS)
    ):
        yield "insert-marker", _INSERT
    if "lorem ipsum" in folded:
        yield "lorem-ipsum", _LOREM


_INSERT_VERBS = ("insert", "add", "put", "enter")
_INSERT_NOUNS = ("answer", "output", "response", "text", "content")
_PLACEHOLDER_GATE = "|".join((
    "```", _ODD_CASE, r"\{\{|\$\{|<<",
    rf"(?i:[\[<]{_S}*(?:insert|add|put|enter){_S}+(?:your{_S}+|the{_S}+)?(?:answer|output|response|text|content))",
    r"(?i:lorem ipsum)",
))


class PlaceholderOutput(BatchedRecordCheck):
    """An output that is a placeholder rather than an answer.

    What it does:
        Reports assistant turns whose whole text is a placeholder ("N/A", "<No Output>",
        "<noinput>", "TODO", "...", "null"), that contain an unfilled template variable
        (`{{name}}`, `${name}`) outside code, a "[insert answer here]" marker, or lorem ipsum.

    Why it matters for a fine-tune:
        The model learns to answer with the placeholder. Data generators and annotation tools
        leave these behind when a task could not be done (AlpacaDataCleaned found "<No Output>"
        and "N/A" outputs in the original Alpaca data).

    Example:
        {"instruction": "Create a logo that represents courage.", "input": "", "output": "<No Output>"}

    Use instead:
        Drop the example, or write the answer a model can give: {"instruction": "Create a logo that represents courage.", "input": "", "output": "I can't draw images, but here is a logo concept: a lion's head inside a shield..."}
    """

    code = "C001"
    name = "placeholder-output"
    criterion = Criterion.CORRECT
    severity = Severity.ERROR
    summary = '"N/A", "<No Output>", "<noinput>", "TODO", unfilled {{var}}, lorem ipsum'

    def check_many(self, batch: Batch) -> Iterator[Finding]:
        prose = _batch_prose(batch)
        for example, n, turn, bits in _turns_of_batch(batch):
            yield from self._turn(example, n, turn, bool(bits & _PLACEHOLDER_BITS), prose.get(id(turn)))

    def _turn(self, example: Example, n: int, turn: Turn, may: bool = True, prose: str | None = None) -> Iterator[Finding]:
        text = turn.content
        if len(text) <= _WHOLE_MAX and text.strip():
            whole = text.strip(_PLACEHOLDER_STRIP).lower()
            if whole in _PLACEHOLDER_WHOLE or not whole:
                yield self.finding(
                    example,
                    f"assistant turn {n} is a placeholder: {text.strip()!r}",
                    pointer=turn.pointer,
                    key=f"whole:{n}",
                    evidence={"kind": "whole", "text": text.strip()},
                )
                return
        if not may:
            return
        if prose is None:
            prose = _prose(text)
        for kind, pattern in _placeholder_patterns(prose):
            m = pattern.search(prose)
            if m is not None:
                yield self.finding(
                    example,
                    f"assistant turn {n} contains a placeholder ({kind.replace('-', ' ')}): {m.group()!r}",
                    pointer=turn.pointer,
                    key=f"{kind}:{n}",
                    evidence={"kind": kind, "text": m.group()},
                )
                break


# ------------------------------------------------------------------------------ refusal

_AI_DISCLAIMER = re.compile(
    r"\bas an? (?:ai|artificial intelligence)(?: (?:language )?model| assistant| chatbot| system)?\b"
    r"|\bas a (?:large )?language model\b"
    r"|\bI(?:'m| am) (?:just |only |merely )an? (?:ai|artificial intelligence|language model|computer program)(?: (?:language )?model| assistant)?\b"
    r"|\b(?:developed|created|trained) by openai\b"
    r"|\bmy (?:knowledge|training data) (?:cutoff|cut-off)\b"
    r"|\bI (?:do not|don't) have (?:access to|the ability to browse) (?:the internet|real-time)",
    re.IGNORECASE,
)
# Each alternative of _AI_DISCLAIMER holds one of these words: the pattern runs only on text
# that does.
_DISCLAIMER_WORDS = frozenset({"ai", "artificial", "model", "program", "openai", "cutoff", "cut", "access", "browse"})
# Sharper: every match of _AI_DISCLAIMER, lower-cased, holds one of these phrases.
_DISCLAIMER_PHRASES = (
    "an ai", "a ai", "artificial intelligence", "language model", "computer program", "by openai", "cutoff",
    "cut-off", "the internet", "real-time",
)
_DISCLAIMER_GATE = _ODD_CASE + "|(?i:" + "|".join((
    "as an? (?:ai|artificial intelligence)",
    "as a (?:large )?language model",
    "i(?:'m| am) (?:just |only |merely )an? (?:ai|artificial intelligence|language model|computer program)",
    "(?:developed|created|trained) by openai",
    "my (?:knowledge|training data) (?:cutoff|cut-off)",
    "i (?:do not|don't) have (?:access to|the ability to browse) (?:the internet|real-time)",
)) + ")"
# _CANNED_REFUSAL (anchored at the start of the text).
_CANNED_GATE = (
    rf"^(?i:{_S}*(?:i'm sorry|i am sorry|sorry|i apologi[sz]e|unfortunately)?[,.!]?{_S}*(?:but{_S}+)?"
    r"i(?:'m| am)? (?:cannot|can't|can not|won't|will not|am unable to|'m unable to|unable to|am not able to|'m not able to)"
    r" (?:help|assist|comply|fulfil|fulfill|provide|do|answer|complete|generate|create|perform|engage))"
)
# Anchored at the start (no MULTILINE): `match` finds what `search` would.
_CANNED_REFUSAL = re.compile(
    r"^\s*(?:I'm sorry|I am sorry|Sorry|I apologi[sz]e|Unfortunately)?[,.!]?\s*(?:but\s+)?"
    r"I(?:'m| am)? (?:cannot|can't|can not|won't|will not|am unable to|'m unable to|unable to|am not able to|'m not able to)"
    r" (?:help|assist|comply|fulfil|fulfill|provide|do|answer|complete|generate|create|perform|engage)\b",
    re.IGNORECASE,
)


class RefusalBoilerplate(BatchedRecordCheck):
    """Boilerplate from another assistant: "As an AI language model…", canned refusals.

    What it does:
        Reports assistant turns that carry an AI self-disclaimer ("As an AI language model",
        "I'm just an AI", "developed by OpenAI", "my knowledge cutoff") and turns that open
        with a canned refusal ("I'm sorry, but I can't help with that") when refusals are not
        expected. Set `refusals-expected` when refusing is a behaviour you train on purpose; the
        self-disclaimers are reported either way.

    Why it matters for a fine-tune:
        Data generated with another model carries that model's persona and refusals. A
        fine-tune learns them: it starts calling itself a language model, refuses what the
        product should do, and names the wrong vendor.

    Example:
        {"messages": [{"role": "user", "content": "Which plan suits a team of five?"}, {"role": "assistant", "content": "As an AI language model, I don't have opinions, but the Team plan covers up to ten seats."}]}

    Use instead:
        {"messages": [{"role": "user", "content": "Which plan suits a team of five?"}, {"role": "assistant", "content": "The Team plan: it covers up to ten seats."}]}

    Options:
        refusals-expected: the data teaches refusals on purpose, so canned refusals are not
            reported (default false).
    """

    code = "C002"
    name = "refusal-boilerplate"
    criterion = Criterion.CORRECT
    severity = Severity.WARNING
    summary = '"As an AI language model…" where refusals are not expected'

    class Options(CheckOptions):
        refusals_expected: bool = False

    def check_many(self, batch: Batch) -> Iterator[Finding]:
        # A turn the gate's disclaimer and refusal parts do not match holds neither a disclaimer
        # nor a canned refusal.
        for example, n, turn, _ in _gated_for(batch, _BOILERPLATE_BITS):
            yield from self._turn(example, n, turn)

    def _turn(self, example: Example, n: int, turn: Turn) -> Iterator[Finding]:
        m = _AI_DISCLAIMER.search(turn.content) if any_in(fold(turn.content), _DISCLAIMER_PHRASES) else None
        if m is not None:
            yield self.finding(
                example,
                f"assistant turn {n} carries an AI self-disclaimer: {m.group()!r}",
                pointer=turn.pointer,
                key=f"disclaimer:{n}",
                evidence={"kind": "ai-disclaimer", "phrase": m.group()},
            )
            return
        if not self.options.refusals_expected:
            m = _CANNED_REFUSAL.match(turn.content)
            if m is not None:
                yield self.finding(
                    example,
                    f"assistant turn {n} is a canned refusal: {m.group().strip()!r}",
                    pointer=turn.pointer,
                    key=f"refusal:{n}",
                    evidence={"kind": "canned-refusal", "phrase": m.group().strip()},
                )


# ------------------------------------------------------------------------------ merged

_MERGED_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("numbered instruction", re.compile(r"^[ \t]*(?:#{1,4}[ \t]*)?\d{1,3}[ \t]*[.)][ \t]*(?:Instruction|Input|Output)[ \t]*:", re.MULTILINE | re.IGNORECASE)),
    ("instruction header", re.compile(r"^[ \t]*#{2,4}[ \t]*(?:Instruction|Response|Input)[ \t]*:?[ \t]*$", re.MULTILINE | re.IGNORECASE)),
    ("instruction line", re.compile(r"^[ \t]*(?:New |Next )?Instruction[ \t]*:", re.MULTILINE)),
    ("chat template token", re.compile(r"<\|(?:im_start|im_end|user|assistant|system|endoftext|eot_id|start_header_id)\|>|\[/?INST\]")),
)


def _merged_patterns(prose: str, folded: str | None = None) -> Iterator[tuple[str, re.Pattern[str]]]:
    """The _MERGED_PATTERNS that can match `prose`, in order (each behind a cheap gate:
    substrings its match holds, the case-insensitive ones looked for in `folded`, fold(prose))."""
    colon = ":" in prose
    hashes = "##" in prose
    if folded is None and (colon or hashes):
        folded = fold(prose)
    numbered, header, line, template = _MERGED_PATTERNS
    if colon and ("." in prose or ")" in prose) and any_in(folded, ("instruction", "input", "output")):
        yield numbered
    if hashes and any_in(folded, ("instruction", "response", "input")):
        yield header
    if colon and "Instruction" in prose:
        yield line
    if "<|" in prose or "INST]" in prose:
        yield template


def _may_transcript(prose: str) -> bool:
    """Whether _TRANSCRIPT can match: it needs a colon and "Human", "User" or "USER"."""
    return ":" in prose and ("Human" in prose or "User" in prose or "USER" in prose)


_MERGED_GATE = "|".join((
    "```", _ODD_CASE,
    rf"(?i:{_D}[ \t]*[.)][ \t]*(?:instruction|input|output)[ \t]*:)",
    r"(?i:#{2,4}[ \t]*(?:instruction|response|input))",
    r"Instruction[ \t]*:", r"<\||\[/?INST\]", r"(?:Human|User|USER)[ \t]*:",
))
_CONTENT_GATE = "|".join((_PLACEHOLDER_GATE, _DISCLAIMER_GATE, _CANNED_GATE, _MERGED_GATE))

# _CONTENT_GATE as byte patterns for Hyperscan, which finds their literals several times
# faster than RE2 runs its automaton over every byte (0.04 against 0.21 CPU s per 100k
# examples' assistant turns). Each is a superset of its part of _CONTENT_GATE on the UTF-8
# bytes of a text: a non-ASCII character is two to four bytes, each >= 0x80, so RE2_SPACE's
# `*` and `+` become the byte class below repeated, and RE2_DIGIT (one character) a class
# holding its last byte; Hyperscan's (?i) folds only ASCII letters, and a text holding one of
# the characters RE2's case folding adds (İ ı ſ K) passes by their bytes, as in _ODD_CASE.
# _CANNED_GATE is anchored at the start of a text: here it is its tail, wherever it occurs (a
# match of the anchored pattern ends with it). tests/test_textscan.py compares the two gates.
_B_SPACE = rb"[\t-\r\x1c-\x20\x80-\xff]"
_B_DIGIT = rb"[0-9\x80-\xff]"
_B_FENCE = b"```"
_B_ODD_CASE = b"|".join(ch.encode("utf-8") for ch in "\u0130\u0131\u017f\u212a")
# Each check's part, as its RE2 part of _CONTENT_GATE is: the check's patterns can match only
# in a text its part matches.
_HS_PLACEHOLDER = (
    _B_FENCE,
    _B_ODD_CASE,
    rb"\{\{|\$\{|<<",
    rb"(?i)[\[<]" + _B_SPACE + rb"*(?:insert|add|put|enter)" + _B_SPACE + rb"+(?:your" + _B_SPACE + rb"+|the" + _B_SPACE
    + rb"+)?(?:answer|output|response|text|content)",
    rb"(?i)lorem ipsum",
)
_HS_BOILERPLATE = (
    _B_ODD_CASE,
    rb"(?i)as an? (?:ai|artificial intelligence)",
    rb"(?i)as a (?:large )?language model",
    rb"(?i)i(?:'m| am) (?:just |only |merely )an? (?:ai|artificial intelligence|language model|computer program)",
    rb"(?i)(?:developed|created|trained) by openai",
    rb"(?i)my (?:knowledge|training data) (?:cutoff|cut-off)",
    rb"(?i)i (?:do not|don't) have (?:access to|the ability to browse) (?:the internet|real-time)",
    rb"(?i)i(?:'m| am)? (?:cannot|can't|can not|won't|will not|am unable to|'m unable to|unable to|am not able to|'m not able to)"
    rb" (?:help|assist|comply|fulfil|fulfill|provide|do|answer|complete|generate|create|perform|engage)",
)
_HS_MERGED = (
    _B_FENCE,
    _B_ODD_CASE,
    rb"(?i)" + _B_DIGIT + rb"[ \t]*[.)][ \t]*(?:instruction|input|output)[ \t]*:",
    rb"(?i)#{2,4}[ \t]*(?:instruction|response|input)",
    rb"Instruction[ \t]*:",
    rb"<\||\[/?INST\]",
    rb"(?:Human|User|USER)[ \t]*:",
)
# refusal-rate's part (`_shapes.is_refusal` of a final output): every _REFUSALS match holds
# "sorry", "apologise" / "apologize" or "unfortunately", or "i" / "we", whitespace and a refusal
# verb (its apostrophes written ' or ’, which is_refusal reads as '), or "as an ai"; the
# characters Python's IGNORECASE matches to those ASCII letters pass by the odd-case part.
_B_APOSTROPHE = rb"(?:'|\xe2\x80\x99)"
_HS_REFUSAL = (
    _B_ODD_CASE,
    rb"(?i)sorry|apologi[sz]e|unfortunately",
    rb"(?i)(?:i|we)" + _B_SPACE + rb"+(?:can ?not|can" + _B_APOSTROPHE + rb"t|cannot|won" + _B_APOSTROPHE + rb"t|will not|"
    rb"am unable to|" + _B_APOSTROPHE + rb"m unable to|am not able to|" + _B_APOSTROPHE + rb"m not able to|must decline|"
    rb"have to decline|refuse to)",
    rb"(?i)as an ai",
)
_CONTENT_HS = HyperscanGate(_HS_PLACEHOLDER + _HS_BOILERPLATE + _HS_MERGED + _HS_REFUSAL)


def _bits(parts: tuple[bytes, ...]) -> int:
    """The mask of these patterns' bits among _CONTENT_HS's (deduplicated) patterns."""
    return sum(1 << _CONTENT_HS.patterns.index(p) for p in set(parts))


_PLACEHOLDER_BITS = _bits(_HS_PLACEHOLDER)
_BOILERPLATE_BITS = _bits(_HS_BOILERPLATE)
_MERGED_BITS = _bits(_HS_MERGED)
_REFUSAL_BITS = _bits(_HS_REFUSAL)
# The parts of _CONTENT_GATE (the content checks' turns).
_CONTENT_BITS = _PLACEHOLDER_BITS | _BOILERPLATE_BITS | _MERGED_BITS
_ALL_BITS = (1 << len(_CONTENT_HS.patterns)) - 1


def _content_masks(texts: list[str]) -> list[int] | None:
    """For each text, the bits of the patterns of _CONTENT_HS that may match in it (each check
    reads its own: _PLACEHOLDER_BITS, _BOILERPLATE_BITS, _MERGED_BITS, refusal-rate
    _REFUSAL_BITS), from one Hyperscan scan; where Hyperscan does not answer, every bit for the
    texts _content_gate passes and the refusal bits for all (None: any text may match)."""
    gate = _CONTENT_HS
    if isinstance(gate, MultiGate) and gate.runs():
        masks = MultiGate.__call__(gate, texts)
        if masks is not None:
            return masks
    found = _content_gate(texts)
    return None if found is None else [_ALL_BITS if may else _REFUSAL_BITS for may in found]


def final_may_refuse(batch: Batch) -> list[bool]:
    """For each example of a batch, whether the content gate's refusal part (_REFUSAL_BITS) marks
    its final assistant turn (`_shapes.final_turns`), or that turn is not among the gated turns
    for holding no text (then True: a null content is not read here)."""
    from tunelint.checks._shapes import final_turns

    def build(b: Batch) -> list[bool]:
        turns = _batch_assistant_turns(b)[2]
        marked = set(map(id, compress(turns, map(and_, _batch_gate(b), repeat(_REFUSAL_BITS)))))
        return [id(t) in marked or (t is not None and t.content_is_null) for t in final_turns(b)]

    return batch.cached("content.final_may_refuse", build)


def _content_gate(texts: list[str]) -> list[bool] | None:
    """Whether _CONTENT_GATE may match each text (None: any may): Hyperscan's answer where it
    runs and answers, RE2's otherwise."""
    if _CONTENT_HS.runs():
        try:
            hits = _CONTENT_HS(texts)
        except HyperscanGate.Unanswered:
            pass
        else:
            if hits is None:
                return None
            found = [False] * len(texts)
            for i in hits:
                found[i] = True
            return found
    return regex_gate(texts, _CONTENT_GATE)
_TRANSCRIPT = re.compile(r"^[ \t]*(?:Human|User|USER|### Human)[ \t]*:[ \t]*\S", re.MULTILINE)
_DIALOGUE_ASKED = re.compile(r"dialog|conversation|script|chat|interview|transcript|role[- ]?play|exchange|scene", re.IGNORECASE)


class MergedInstructions(BatchedRecordCheck):
    """An output that runs on into further instructions or another task.

    What it does:
        Reports assistant turns that contain a further numbered instruction ("18. Instruction:"),
        an instruction-template header ("### Instruction"), a line starting "Instruction:",
        chat-template tokens (`<|im_start|>`, `[INST]`), or a new "User:" / "Human:" turn when
        the prompt did not ask for a dialogue. Code blocks are ignored.

    Why it matters for a fine-tune:
        Generated data sometimes keeps going past the answer into the next task; the model
        then learns to invent follow-up instructions and answer them (AlpacaDataCleaned's
        "merged instructions").

    Example:
        {"instruction": "Should I invest in stocks?", "input": "", "output": "It depends on your situation.\\n##\\n18. Instruction: Identify the noun in the following sentence:\\n18. Input:\\nThe large apple was delicious.\\n18. Output:\\nApple"}

    Use instead:
        {"instruction": "Should I invest in stocks?", "input": "", "output": "It depends on your situation."}
    """

    code = "C003"
    name = "merged-instructions"
    criterion = Criterion.CORRECT
    severity = Severity.ERROR
    summary = "output carries further numbered instructions or a second task"

    def check_many(self, batch: Batch) -> Iterator[Finding]:
        asked: dict[int, bool] = {}  # by example: whether its prompt asks for a dialogue
        prose_of = _batch_prose(batch)
        for example, n, turn, _ in _gated_for(batch, _MERGED_BITS):
            prose = prose_of[id(turn)]
            hit = None
            for kind, pattern in _merged_patterns(prose):
                m = pattern.search(prose)
                if m is not None:
                    hit = (kind, m)
                    break
            if hit is None and _may_transcript(prose):
                m = _TRANSCRIPT.search(prose)
                if m is not None:
                    key = id(example)
                    if key not in asked:
                        user_text = "\n".join(t.content for t in example.turns if t.role in (Role.USER, Role.SYSTEM))
                        asked[key] = _DIALOGUE_ASKED.search(user_text) is not None
                    if not asked[key]:
                        hit = ("new user turn", m)
            if hit is None:
                continue
            kind, m = hit
            line = prose.count("\n", 0, m.start()) + 1
            yield self.finding(
                example,
                f"assistant turn {n} runs on into another task ({kind} on line {line}: {m.group().strip()!r})",
                pointer=turn.pointer,
                key=f"merged:{n}",
                evidence={"kind": kind, "line": line},
            )


# ------------------------------------------------------------------------------ repetition

# A phrase of 3-80 characters, starting at a word, repeated back to back.
_RUN = re.compile(r"\b(\w[^\n]{2,79}?)(?:\s*\1){4,}", re.DOTALL)
_TRIVIAL_LINE = re.compile(r"^[\W_]*$")


class DegenerateRepetition(BatchedRecordCheck):
    """An output that repeats the same phrase or line over and over.

    What it does:
        Reports assistant turns where a phrase is repeated back to back at least
        `min-repeats` times, or where one line of at least three words makes up at least
        `min-repeats` lines and a third of the text — the loop a model falls into when
        generation degenerates.

    Why it matters for a fine-tune:
        Repetition loops in training data teach the model to loop. They are also cheap to
        miss by eye: the first screen of the example looks fine.

    Example:
        {"messages": [{"role": "user", "content": "I'm hungry."}, {"role": "assistant", "content": "Eat a banana!Eat a banana!Eat a banana!Eat a banana!Eat a banana!Eat a banana!"}]}

    Use instead:
        {"messages": [{"role": "user", "content": "I'm hungry."}, {"role": "assistant", "content": "Eat a banana!"}]}

    Options:
        min-repeats: how many back-to-back repeats (or repeated lines) count (default 5).
        min-share: share of the text the repetition must cover (default 0.3).
    """

    code = "C004"
    name = "degenerate-repetition"
    criterion = Criterion.CORRECT
    severity = Severity.WARNING
    summary = "the same phrase repeated many times"

    class Options(CheckOptions):
        min_repeats: int = 5
        min_share: float = 0.3

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        k = max(2, self.options.min_repeats) - 1
        self._run = re.compile(r"\b(\w[^\n]{2,79}?)(?:\s*\1){%d,}" % k)

    def check_many(self, batch: Batch) -> Iterator[Finding]:
        owners, ns, turns = _batch_assistant_turns(batch)
        examples = batch.examples
        long = [(i, n, turn, turn.content) for i, n, turn in zip(owners, ns, turns) if len(turn.content) >= 20]
        # A back-to-back run needs min-repeats copies of one unit, whitespace apart: the few
        # texts that may hold them are found for the whole batch at once.
        may_run = repeat_candidates([x[3] for x in long], max(2, self.options.min_repeats)).tolist()
        breaks = self.options.min_repeats - 1
        for (i, n, turn, text), may in zip(long, may_run):
            # _line_repetition's first test, inline: most texts have too few lines.
            if may:
                found = self._run_repetition(text) or self._line_repetition(text)
            elif line_breaks_at_least(text, breaks):
                found = self._repeated_line(text)
            else:
                continue
            if found is None:
                continue
            example = examples[i]
            phrase, count, share, kind = found
            shown = phrase if len(phrase) <= 60 else phrase[:59] + "…"
            yield self.finding(
                example,
                f"assistant turn {n} repeats {shown!r} {count:,} times{' back to back' if kind == 'run' else ' as a line'} ({share:.0%} of the text)",
                pointer=turn.pointer,
                key=f"repeat:{n}",
                evidence={"kind": kind, "phrase": shown, "repeats": count, "share": round(share, 3)},
            )

    def _repetition(self, text: str, may_run: bool = True) -> tuple[str, int, float, str] | None:
        if len(text) < 20:
            return None
        best = self._run_repetition(text) if may_run else None
        if best is not None:
            return best
        return self._line_repetition(text)

    def _run_repetition(self, text: str) -> tuple[str, int, float, str] | None:
        words = text.split()
        # Cheap gate for the (slow) back-to-back regex: a phrase of k words repeated r times
        # repeats each of its word pairs r - 1 times at least, and a phrase without spaces
        # shows up as one long word.
        k = max(2, self.options.min_repeats) - 1
        gate = _pair_repeats(words, k) or (
            max(map(len, words), default=0) >= 20 and any(len(w) >= 20 and w.isalpha() for w in words)
        )
        best = None
        for m in (_runs(self._run, text) if gate else ()):
            unit = m.group(1)
            if not any(c.isalpha() for c in unit) or len(unit.strip()) < 3:
                continue
            count = len(re.findall(re.escape(unit), m.group()))
            share = (m.end() - m.start()) / len(text)
            if share >= self.options.min_share and (best is None or share > best[2]):
                best = (unit.strip(), count, share, "run")
        return best

    def _line_repetition(self, text: str) -> tuple[str, int, float, str] | None:
        if not line_breaks_at_least(text, self.options.min_repeats - 1):
            return None  # fewer lines than min-repeats
        return self._repeated_line(text)

    def _repeated_line(self, text: str) -> tuple[str, int, float, str] | None:
        """_line_repetition of a text that may hold min-repeats lines."""
        lines = text.splitlines()
        # Fewer repeats among all the stripped lines, blank ones included, leaves fewer among
        # the others.
        if len(lines) - len(set(map(str.strip, lines))) < self.options.min_repeats - 1:
            return None  # no line occurs min-repeats times
        lines = list(filter(None, map(str.strip, lines)))
        if len(lines) - len(set(lines)) < self.options.min_repeats - 1:
            return None
        if len(lines) >= self.options.min_repeats:
            line, count = Counter(lines).most_common(1)[0]
            if count >= self.options.min_repeats and len(line.split()) >= 3 and not _TRIVIAL_LINE.match(line):
                share = count * len(line) / max(1, sum(len(x) for x in lines))
                if share >= self.options.min_share:
                    return line, count, share, "line"
        return None


_WORD_RUN = re.compile(r"\w+")


def _runs(run: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Exactly the matches of run.finditer(text) for the pattern `\\b(\\w[^\\n]{2,79}?)(?:\\s*\\1){k,}`,
    trying the pattern only where it can match: at the start of a run of word characters whose
    unit (its first 3 to 80 characters) comes again right after it, past any whitespace. Trying
    every position costs milliseconds on a long text; finding those few costs microseconds."""
    pos = 0
    find = text.find
    for w in _WORD_RUN.finditer(text):
        p = w.start()
        if p < pos:
            continue
        # The quick "no" of _repeats_once: the unit's first three characters do not come again
        # within reach (and no whitespace at the furthest unit end stretches that reach).
        if find(text[p:p + 3], p + 3, p + 83) < 0 and not text[p + 80:p + 81].isspace():
            continue
        if _repeats_once(text, p):
            m = run.match(text, p)
            if m is not None:
                yield m
                pos = m.end()


def _repeats_once(text: str, p: int) -> bool:
    """Whether some u = text[p:p+L] (3 <= L <= 80, no line break) is followed, after whitespace,
    by u again: what the run pattern needs at p before its further repeats."""
    g = text[p:p + 3]
    if len(g) < 3 or "\n" in g:
        return False
    n = len(text)
    last = p + 80  # the furthest end of a unit; a copy starts there or after the whitespace there
    while last < n and text[last].isspace():
        last += 1
    q = text.find(g, p + 3, last + 3)
    while q >= 0:
        # A copy at q follows a unit ending anywhere in the whitespace just before q.
        r = q
        while r > p + 3 and text[r - 1].isspace():
            r -= 1
        for end in range(max(r, p + 3), min(q, p + 80) + 1):
            unit = text[p:end]
            if "\n" not in unit and text.startswith(unit, q):
                return True
        q = text.find(g, q + 1, last + 3)
    return False


def _pair_repeats(words: list[str], k: int) -> bool:
    """Whether some pair of adjacent words occurs at least k times. A pair seen k times makes
    k - 1 duplicates among the pairs, so the set of pairs answers "no" for most texts."""
    if len(words) < 2:
        return False
    pairs = set(zip(words, words[1:]))
    if len(words) - 1 - len(pairs) < k - 1:
        return False
    return max(Counter(zip(words, words[1:])).values()) >= k


# ------------------------------------------------------------------------------ missing context

_TEXT_NOUNS = (
    r"text|passage|article|paragraph|sentences?|document|e-?mail|letter|poem|story|essay|review|"
    r"statement|quote|dialogue|conversation|tweet|report|code|snippet|program|function|table|list|data|"
    r"dataset|excerpt|summary|lyrics|song|recipe|speech|argument|news|headline|description|input|"
    r"paper|abstract|transcript|book|chapter|file|attachment|page|website|web ?page|blog post|post|video|audio|"
    r"image|picture|photo|photograph|screenshot|diagram|chart|graph|figure|drawing|painting|link|url"
)
_REFERENCE = re.compile(
    rf"\b(?:the|this|these|that)[ \t]+(?:following|given|provided|attached|above|below|accompanying|enclosed|linked)[ \t]+"
    rf"(?:[\w-]+[ \t]+){{0,2}}?(?P<noun>{_TEXT_NOUNS})\b"
    rf"|\bthe[ \t]+(?P<post>{_TEXT_NOUNS})[ \t]+(?:below|above|provided|attached|given)\b"
    rf"|\b(?:this|the attached|the accompanying|the enclosed)[ \t]+(?P<visual>image|picture|photo|photograph|screenshot|diagram|drawing|painting|video|audio(?: clip)?|attachment|pdf)\b",
    re.IGNORECASE,
)
# Every match of _REFERENCE holds one of the first words (lower-cased), or "this" and a visual noun.
_REFERENCE_WORDS = ("following", "given", "provided", "attached", "above", "below", "accompanying", "enclosed", "linked")
_VISUAL_WORDS = ("image", "picture", "photo", "screenshot", "diagram", "drawing", "painting", "video", "audio", "attachment", "pdf")
_VISUAL = {"image", "picture", "photo", "photograph", "screenshot", "diagram", "drawing", "painting", "video", "audio", "audio clip", "attachment", "pdf"}
_LINKABLE = {"article", "page", "website", "webpage", "web page", "blog post", "post", "video", "paper", "news", "document", "report", "text"}
_FILE_STUB = re.compile(
    r"^\s*[<\[(]\s*(?:picture|image|photo|file|video|audio|attachment|document|pdf|screenshot)s?(?:\s+(?:attached|here|provided|omitted))?\s*[>\])]\s*$",
    re.IGNORECASE,
)
_LINK_NOUN = re.compile(r"\b(?:article|web ?page|website|blog post|news story|news|video|paper)s?\b", re.IGNORECASE)
_URL_ONLY = re.compile(r"^\s*(?:<)?(?:https?://|www\.)\S+(?:>)?\s*$", re.IGNORECASE)
_STUB_MATERIAL = re.compile(
    r"^\s*[<\[(]?\s*(?:picture|image|photo|file|video|audio|attachment|document|pdf)s?(?:\s+(?:attached|here|provided|below|omitted))?\s*[>\])]?\s*\.?\s*$"
    r"|^\s*[<\[(]\s*(?:no ?input|none|n/?a|empty)\s*[>\])]\s*$|^\s*(?:no ?input|n/a)\s*$",
    re.IGNORECASE,
)


# The batch gate of missing-context over the user turns (built as the content gates above):
# _REFERENCE's three alternatives, and the stand-in paragraph and link the paragraph tests need.
_CONTEXT_GATE = "|".join((
    _ODD_CASE,
    # The first alternative with the noun it needs, up to two words on (`[^ \t]` holds every
    # character of `[\w-]`).
    r"(?i:(?:the|this|these|that)[ \t]+(?:following|given|provided|attached|above|below|accompanying|enclosed|linked)[ \t]+"
    rf"(?:[^ \t]+[ \t]+){{0,2}}(?:{_TEXT_NOUNS}))",
    rf"(?i:the[ \t]+(?:{_TEXT_NOUNS})[ \t]+(?:below|above|provided|attached|given))",
    r"(?i:(?:this|the attached|the accompanying|the enclosed)[ \t]+"
    r"(?:image|picture|photo|photograph|screenshot|diagram|drawing|painting|video|audio|attachment|pdf))",
    rf"(?i:[<\[(]{_S}*(?:picture|image|photo|file|video|audio|attachment|document|pdf|screenshot))",
    r"(?i:https?://|www\.)",
))


class MissingContext(BatchedRecordCheck):
    """An instruction that refers to material the example does not contain.

    What it does:
        Finds references like "the following article", "the given sentence", "this image",
        "the attached file" in the user turns and checks that the material is there: text after
        the sentence that names it (or before it, for "above"), or an image / file part for a
        visual reference. It reports references with nothing after them, material that is only
        a link ("https://…" where an article was meant), and stand-ins such as
        "<Picture Attached>" or "<noinput>".

    Why it matters for a fine-tune:
        The answer cannot come from the example, so the model learns to invent it — the
        hallucination AlpacaDataCleaned traced to instructions that pointed at web pages and
        pictures the model never saw.

    Example:
        {"instruction": "Summarize the given article in 200 words.", "input": "https://www.bbc.com/news/world-51461830", "output": "The recent protests in Belarus..."}

    Use instead:
        {"instruction": "Summarize the given article in 200 words.", "input": "<the article's text>", "output": "..."}
    """

    code = "C005"
    name = "missing-context"
    criterion = Criterion.COMPLETE
    severity = Severity.WARNING
    summary = "instruction refers to text, a file, an image or a link that the example does not contain"

    def check_many(self, batch: Batch) -> Iterator[Finding]:
        examples = batch.examples
        table = table_of(batch)
        users = table.of_role(_USER_CODE)[2]
        # starts[i]: the flat index of example i's first user turn.
        starts = list(accumulate(table.count_role(_USER_CODE).tolist(), initial=0))
        # Only the user turns _CONTEXT_GATE matches can lack their material.
        gate = regex_gate([t.content for t in users], _CONTEXT_GATE) if len(examples) > 1 else None
        if gate is None:
            for i, example in enumerate(examples):
                if starts[i + 1] > starts[i]:
                    yield from self._example(example, users[starts[i]:starts[i + 1]], [True] * (starts[i + 1] - starts[i]))
            return
        # The examples holding a turn the gate matches, found from the flat index of each such turn.
        done = -1
        for at in compress(count(), gate):
            i = bisect_right(starts, at) - 1
            if i > done:
                done = i
                yield from self._example(examples[i], users[starts[i]:starts[i + 1]], gate[starts[i]:starts[i + 1]])

    def _example(self, example: Example, users: list[Turn], may: list[bool]) -> Iterator[Finding]:
        attachments = any(t.attachments for t in example.turns)
        for n, turn in enumerate(users, 1):
            if not may[n - 1]:
                continue
            problem = self._missing(turn.content, attachments, example, turn)
            if problem is not None:
                message, evidence = problem
                yield self.finding(example, f"user turn {n} {message}", pointer=turn.pointer, key=f"context:{n}", evidence=evidence)
                return

    def _missing(self, text: str, attachments: bool, example: Example, turn: Turn) -> tuple[str, dict] | None:
        # User turns are read by no other gate, so a few substring tests beat a word scan here.
        folded = fold(text)
        references = any_in(folded, _REFERENCE_WORDS) or ("this" in folded and any_in(folded, _VISUAL_WORDS))
        for m in _REFERENCE.finditer(text) if references else ():
            noun = (m.group("noun") or m.group("post") or m.group("visual") or "").lower()
            phrase = m.group().strip()
            if noun in _VISUAL:
                if attachments:
                    continue
                material = _after(text, m.end())
                # A pasted transcript or a description can stand in for the file itself.
                if material is not None and len(material.split()) >= 4 and not _STUB_MATERIAL.match(material):
                    continue
                return (f"refers to {phrase!r} but the example holds no {noun}", {"reference": phrase, "kind": "visual"})
            if "above" in phrase.lower():
                before = text[: m.start()]
                earlier = " ".join(t.content for t in example.turns if t is not turn and t.role is not Role.SYSTEM)
                if len((before + " " + earlier).split()) < 5:
                    return (f"refers to {phrase!r} but nothing comes before it", {"reference": phrase, "kind": "absent"})
                continue
            material = _after(text, m.end())
            if material is None:
                return (f"refers to {phrase!r} but nothing follows it", {"reference": phrase, "kind": "absent"})
            if _STUB_MATERIAL.match(material):
                return (f"refers to {phrase!r} but the material is a stand-in: {material.strip()[:40]!r}", {"reference": phrase, "kind": "stub"})
            if _URL_ONLY.match(material) and noun.replace("-", "") in _LINKABLE:
                return (f"refers to {phrase!r} but the example holds only a link, not its content", {"reference": phrase, "kind": "link"})
        # "Given a news article, write a headline" followed by nothing but a URL.
        if text.count("\n") < 2:
            return None  # one paragraph: no stand-in after it, no link paragraph
        paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
        if not attachments:
            for p in paragraphs[1:]:
                if _FILE_STUB.match(p):
                    return (f"holds a stand-in for a file, not the file: {p.strip()[:40]!r}", {"reference": p.strip()[:40], "kind": "stub"})
        if len(paragraphs) >= 2 and _URL_ONLY.match(paragraphs[-1]):
            m = _LINK_NOUN.search("\n".join(paragraphs[:-1]))
            if m is not None:
                return (
                    f"asks about {m.group()!r} but the example holds only a link, not its content",
                    {"reference": m.group(), "kind": "link"},
                )
        return None


_MATERIAL_START = re.compile(r"[:\n]|[.?!](?=\s)|[\"“'‘](?=\w)")


def _after(text: str, end: int) -> str | None:
    """The material after a reference: what follows the colon, line break or end of the sentence
    that holds it, or a quotation right after it; None when nothing follows."""
    # Searched from `end` in the text itself: the pattern looks only ahead, so it finds what it
    # finds in text[end:], without the copy.
    m = _MATERIAL_START.search(text, end)
    if m is None:
        return None
    start = m.start() if m.group() in "\"“'‘" else m.end()
    material = text[start:].strip()
    # Stripped, it holds a word (`len(material.split()) >= 1`) when it holds anything.
    return material if material and any(c.isalnum() for c in material) else None


# ------------------------------------------------------------------------------ truncated

_FENCE_LINE = re.compile(r"^[ \t]*(```|~~~)", re.MULTILINE)
_SENTENCE_END = re.compile(r"[.!?…:;)\]}\"'”’*`>|]$|[\U0001F300-\U0001FAFF\u2600-\u27BF]$")
# The characters of _SENTENCE_END's first class (a single character matches it when it is one
# of these or in its emoji ranges).
_SENTENCE_END_CHARS = frozenset(".!?…:;)]}\"'”’*`>|")
_LIST_OR_HEAD = re.compile(r"^\s*(?:[-*+•]|\d+[.)]|(?:[A-Za-z]|[IVXLC]+)[.)]\s|#+|\|)")
_OPENERS = {"{": "}", "[": "]"}


class TruncatedOutput(BatchedRecordCheck):
    """An output cut off before its end.

    What it does:
        Reports assistant turns that open a code fence and never close it, JSON outputs that
        end inside an unclosed bracket, and prose that stops mid-sentence: the last line is a
        sentence of at least `min-words` words ending without punctuation on a word or comma.
        Lists, headings, tables and short answers are not judged.

    Why it matters for a fine-tune:
        Outputs cut at a generation or export limit teach the model to stop mid-thought, and a
        half-written code block or JSON object teaches output the user cannot run or parse.

    Example:
        {"messages": [{"role": "user", "content": "Explain DNS."}, {"role": "assistant", "content": "DNS translates names into addresses. When you type a name, your resolver asks the root servers, which point it to the"}]}

    Use instead:
        {"messages": [{"role": "user", "content": "Explain DNS."}, {"role": "assistant", "content": "DNS translates names into addresses. When you type a name, your resolver asks the root servers, which point it to the servers for the domain."}]}

    Options:
        min-words: the last sentence must have at least this many words to count as cut
            mid-sentence (default 8).
    """

    code = "C006"
    name = "truncated-output"
    criterion = Criterion.COMPLETE
    severity = Severity.WARNING
    summary = "output cut off: unclosed code fence or bracket, or mid-sentence"

    class Options(CheckOptions):
        min_words: int = 8

    def check_many(self, batch: Batch) -> Iterator[Finding]:
        cut = self._cut
        ends = _SENTENCE_END_CHARS
        examples = batch.examples
        for i, n, turn in zip(*_batch_assistant_turns(batch)):
            text = turn.content
            if "```" not in text and "~~~" not in text:
                # What _cut clears first, most texts: no fence, no bracket opening it, and
                # the last character ends a sentence.
                stripped = text.strip()
                if stripped and stripped[0] not in _OPENERS and (
                    stripped[-1] in ends or "\u2600" <= stripped[-1] <= "\u27bf" or "\U0001f300" <= stripped[-1] <= "\U0001faff"
                ):
                    continue
            if cut(text) is not None:
                yield from self._turn(examples[i], n, turn)

    def _turn(self, example: Example, n: int, turn: Turn) -> Iterator[Finding]:
        why = self._cut(turn.content)
        if why is not None:
            kind, detail = why
            yield self.finding(
                example, f"assistant turn {n} looks cut off: {detail}", pointer=turn.pointer, key=f"cut:{n}", evidence={"kind": kind}
            )

    def _cut(self, text: str) -> tuple[str, str] | None:
        fences = _FENCE_LINE.findall(text) if "```" in text or "~~~" in text else ()
        if len(fences) % 2 == 1:
            return "code-fence", "it opens a code fence that never closes"
        stripped = text.strip()
        if stripped[:1] in _OPENERS:
            try:
                json.loads(stripped)
            except ValueError:
                depth = _open_brackets(stripped)
                if depth:
                    return "bracket", f"it ends inside {depth} unclosed bracket{'s' if depth > 1 else ''}"
        if fences:
            return None
        return self._mid_sentence(stripped)

    def _mid_sentence(self, text: str) -> tuple[str, str] | None:
        # `text` is stripped, so its last line is the last line of its last paragraph, and
        # that line (stripped) ends in its last character (line breaks are whitespace): the
        # texts that end a sentence, most of them, are cleared without splitting them.
        if not text or _SENTENCE_END.search(text[-1]):
            return None
        last = text.splitlines()[-1].strip()
        if _LIST_OR_HEAD.match(last):
            return None
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        sentences = re.split(r"(?<=[.!?])\s+", last)
        words = sentences[-1].split()
        if len(words) < self.options.min_words or len(text.split()) < 2 * self.options.min_words:
            return None
        end = words[-1]
        # A sentence ending on a name, a number or a unit ("62.8 cm") is more often complete
        # and unpunctuated than cut.
        cut_word = end.isalpha() and end.islower() and not any(ch.isdigit() for ch in words[-2])
        if not (cut_word or end[-1:] in ",-–"):
            return None
        # The writer punctuates elsewhere: the other paragraphs, or earlier sentences of this one.
        others = [p.splitlines()[-1].strip() for p in paragraphs[:-1]]
        if others:
            punctuated = sum(bool(_SENTENCE_END.search(o[-1:])) for o in others) / len(others)
            if punctuated < 0.8:
                return None
        elif len(sentences) < 3:
            return None
        return "mid-sentence", f"it ends mid-sentence ({' '.join(words[-4:])!r})"


def _open_brackets(text: str) -> int:
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth = max(0, depth - 1)
    return depth


CHECKS = [PlaceholderOutput, RefusalBoilerplate, MergedInstructions, DegenerateRepetition, MissingContext, TruncatedOutput]
