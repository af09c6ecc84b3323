"""The batch forms of the output shapes and refusal-rate's per-batch features against their
plain per-example definitions (seventh performance pass)."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.checks import _shapes
from tunelint.checks._batch import Batch
from tunelint.models import Example, Role, ToolCall, Turn

_ROLES = [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL]


def _examples(role_lists: list[list[Role]]) -> list[Example]:
    out = []
    for i, roles in enumerate(role_lists):
        turns = tuple(Turn(role, f"{role.value} {j}", f"/messages/{j}") for j, role in enumerate(roles))
        out.append(Example("train", "x.jsonl", i, i + 1, "chat", turns, f"{i:016x}"))
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_ROLES), max_size=7), max_size=12))
def test_final_turns_are_each_examples_final_assistant(role_lists):
    examples = _examples(role_lists)
    found = _shapes.final_turns(Batch(examples))
    expected = [e.final_assistant for e in examples]
    assert len(found) == len(expected)
    assert all(a is b for a, b in zip(found, expected))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_ROLES), max_size=7), max_size=12))
def test_refusal_rate_counts_user_turns_per_example(role_lists):
    from tunelint.checks.refusal_rate import RefusalRate

    examples = _examples(role_lists)
    batch, one = RefusalRate(), RefusalRate()
    batch.observe_batch(examples)
    for e in examples:
        one.observe(e)
    assert list(batch._counts["turns"].items()) == list(one._counts["turns"].items())
    expected: dict[str, int] = {}
    for e in examples:
        if e.final_assistant is not None:
            users = sum(t.role is Role.USER for t in e.turns)
            key = str(users) if users <= 2 else "3-5" if users <= 5 else "6+"
            expected[key] = expected.get(key, 0) + 1
    assert dict(batch._counts["turns"]) == expected


def _turn_shape_reference(turn: Turn | None) -> tuple[str, str]:
    """`_shapes._turn_shape` as it was before the colon gate (every text with two colons read
    its field lines)."""
    if turn is None:
        return ("none", "")
    text = turn.content.strip()
    if not text and turn.tool_calls:
        return ("tool-call", ", ".join(sorted({c.name for c in turn.tool_calls})))
    if not text:
        return ("empty", "")
    fenced = _shapes._FENCE.match(text)
    body = fenced.group(1).strip() if fenced else text
    if body[:1] in "{[":
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return ("broken-json", "")
        if isinstance(value, dict):
            return ("json-object", "keys: " + ", ".join(sorted(map(str, value))))
        if isinstance(value, list):
            return ("json-array", "")
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and _shapes._ANSWER_LINE.match(lines[-1]):
        return ("final-answer-line", _shapes._ANSWER_LINE.match(lines[-1]).group(1).lower())
    fields = [m.group(1).strip() for line in lines if (m := _shapes._FIELD_LINE.match(line))]
    if len(fields) >= 2 and len(fields) >= len(lines) / 2:
        return ("field-template", "fields: " + ", ".join(fields))
    if "```" in text:
        return ("code", "")
    if len([line for line in lines if _shapes._LIST_LINE.match(line)]) >= 2:
        return ("list", "")
    return ("text", "")


_SHAPE_PIECES = [
    "Name", ": ", ":", "Age", " :", "x", "\n", "\n\n", "\r\n", "\u2028", "\x0b", " ", "\t", "\u00a0", "- ", "* ", "• ",
    "1. ", "2) ", "١. ", "```", "```json\n", "{", "}", "[", "]", '"a": 1', "Answer: 4", "#### 7", "the answer is",
    "Final answer：", "ok", "Déjà", "A b c", "Q", "::",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_SHAPE_PIECES), max_size=40).map("".join), st.booleans())
def test_turn_shape_is_the_plain_form(text, calls):
    turn = Turn(Role.ASSISTANT, text, "/1", tool_calls=(ToolCall("f", "{}", "c1"),) if calls else ())
    assert _shapes._turn_shape(turn) == _turn_shape_reference(turn)
    assert _shapes._turn_shape(None) == _turn_shape_reference(None)


# ------------------------------------------------------------------------------ content gate bits

from tunelint import textscan  # noqa: E402
from tunelint.checks import content  # noqa: E402

_BIT_PIECES = [
    " ", "\n", ":", ".", ")", "#", "## ", "1. ", "Instruction", "instruction", "INPUT", "Output", "Response", "```",
    "```py\n", "<|im_start|>", "[INST]", "[/INST]", "<|", "User", "Human", "USER", "{{name}}", "${x}", "<<v>>", "{", "}",
    "[insert your answer here]", "<Enter the text>", "[  add the Content ]", "<put output>", "Lorem ipsum", "lorem",
    " ipsum", "As an AI", "as a language model", "I'm just an AI", "developed by OpenAI", "my knowledge cutoff",
    "I don't have access to the internet", "ſ", "ı", "İ", "\u212a", "word", "As A Large Language Model",
    "I am only an Artificial Intelligence", "trained by OpenAI", "My training data cut-off",
    "I do not have the ability to browse", " real-time", "I'm sorry, but I can't help", "Sorry I cannot assist",
    "Unfortunately, I am unable to provide", "I won't answer", "i'm not able to engage", "12 ) input :",
    "#### response", "### Human:", "Instruction:", "USER:", "Human :", "User\t:", "٣", "\u00a0", "\u2003", "\t",
]


def _placeholder_matches(text: str) -> bool:
    prose = content._prose(text)
    return any(p.search(prose) for p in (content._UNFILLED, content._INSERT, content._LOREM))


def _boilerplate_matches(text: str) -> bool:
    return content._AI_DISCLAIMER.search(text) is not None or content._CANNED_REFUSAL.match(text) is not None


def _merged_matches(text: str) -> bool:
    prose = content._prose(text)
    return any(p.search(prose) for _, p in content._MERGED_PATTERNS) or content._TRANSCRIPT.search(prose) is not None


@settings(max_examples=150, deadline=None)  # the first call imports pyarrow
@given(st.lists(st.lists(st.sampled_from(_BIT_PIECES), max_size=40).map("".join), min_size=2, max_size=8))
def test_each_checks_bits_of_the_content_gate_pass_every_text_its_patterns_match(texts):
    masks = content._content_masks(texts)
    assert masks is not None and len(masks) == len(texts)
    plain = textscan.regex_gate(texts, content._CONTENT_GATE)
    for text, mask, may in zip(texts, masks, plain):
        assert not may or mask, text  # the union of the bits passes what the RE2 union passes
        assert not _placeholder_matches(text) or mask & content._PLACEHOLDER_BITS, text
        assert not _boilerplate_matches(text) or mask & content._BOILERPLATE_BITS, text
        assert not _merged_matches(text) or mask & content._MERGED_BITS, text


def test_content_masks_fall_back_to_every_bit_where_hyperscan_does_not_answer(refusing_content_gate):
    texts = ["As an AI language model, no.", "fine", "User: hi"]
    assert content._content_masks(texts) == [content._ALL_BITS, content._REFUSAL_BITS, content._ALL_BITS]


def test_content_bits_split_the_gate_by_check():
    if not content._CONTENT_HS.runs():
        return
    texts = ["As an AI, I cannot.", "a {{name}} b", "x\nUser: hi", "```py\nx\n```", "İ", "nothing here"]
    masks = content._content_masks(texts)
    assert masks is not None
    placeholder, boilerplate, merged = content._PLACEHOLDER_BITS, content._BOILERPLATE_BITS, content._MERGED_BITS
    assert [bool(m & placeholder) for m in masks] == [False, True, False, True, True, False]
    assert [bool(m & boilerplate) for m in masks] == [True, False, False, False, True, False]
    assert [bool(m & merged) for m in masks] == [False, False, True, True, True, False]


# ------------------------------------------------------------------------------ language vote keys


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.data())
def test_eight_bytes_are_the_unaligned_window_at_each_start(body, data):
    import numpy as np

    joined = body + b" " * (16 - len(body) % 8)
    starts = np.array(sorted(data.draw(st.sets(st.integers(0, len(body)), max_size=40)) - {len(body)}) or [0], dtype=np.int64)
    starts = starts[starts <= len(joined) - 9]
    n = len(starts)
    out, high, spare = (np.empty(n, dtype=np.uint64) for _ in range(3))
    found = _shapes._eight_bytes(joined, starts, out, high, spare)
    expected = [int.from_bytes(joined[p:p + 8], "little") for p in starts.tolist()]
    assert found.tolist() == expected


# ------------------------------------------------------------------------------ refusal part of the gate

_REFUSAL_PIECES = [
    " ", "\n", "\u3000", "\u00a0", "\t", "...", "!", "—", "I", "i", "We", "WE", "I’m sorry", "I'm SORRY", "Sorry,", "sorry",
    "I apologise", "I APOLOGIZE", "Unfortunately", "can't", "can’t", "can not", "cannot", "won’t", "will not",
    "am unable to", "'m unable to", "’m not able to", "am not able to", "must decline", "have to decline", "refuse to",
    "not allowed", "help", "As an AI", "as an ai language model", "AS AN AI ASSISTANT", "don't", "do not", "unable",
    "ſorry", "İ", "ı", "\u212a", "As an Aİ", "word", "the", ".", "I’m", "’m", "We’re",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_REFUSAL_PIECES), max_size=30).map("".join), min_size=2, max_size=8))
def test_the_refusal_bits_pass_every_refusal(texts):
    masks = content._content_masks(texts)
    assert masks is not None
    for text, mask in zip(texts, masks):
        assert not _shapes.is_refusal(text) or mask & content._REFUSAL_BITS, text


def test_refusal_bits_fall_back_to_every_text(refusing_content_gate):
    masks = content._content_masks(["I can't help with that.", "fine"])
    assert masks is not None and all(m & content._REFUSAL_BITS for m in masks)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from(_REFUSAL_PIECES), max_size=20).map("".join), st.sampled_from(_ROLES),
                          st.booleans()), min_size=2, max_size=10))
def test_refusal_rate_batch_is_per_example_with_the_gate(rows):
    from tunelint.checks.refusal_rate import RefusalRate

    examples = []
    for i, (text, role, second) in enumerate(rows):
        turns = [Turn(Role.USER, "Hi", "/0"), Turn(role, text, "/1")]
        if second:
            turns.append(Turn(Role.ASSISTANT, "", "/2"))  # an empty final turn after a refusal
        examples.append(Example("train", "x", i, i + 1, "chat", tuple(turns), f"{i:016x}"))
    one, many = RefusalRate(), RefusalRate()
    for e in examples:
        one.observe(e)
    many.observe_batch(examples)
    assert [list(one.finish()), one.metrics, one._refusals] == [list(many.finish()), many.metrics, many._refusals]
