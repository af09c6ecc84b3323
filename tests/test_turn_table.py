"""The record checks that clear examples through the batch's turn table (checks/_turns.py) give,
for any list of examples, exactly the findings of `check` on each example; the table's length
sums are the engine's length histogram input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.checks import structure
from tunelint.checks._turns import TurnTable
from tunelint.checks.base import CheckContext
from tunelint.checks.exceeds_context import ExceedsContext
from tunelint.checks.output_schema import OutputSchemaViolation
from tunelint.config import Settings
from tunelint.models import Example, Problem, Role, ToolCall, Turn

_CONTENTS = ["", " ", "\n\t", "\u3000", "Hello there.", "x" * 40, "ok", "é " * 30, "\x1c", "a\u2028b"]

_turns = st.builds(
    Turn,
    role=st.sampled_from(list(Role)),
    content=st.sampled_from(_CONTENTS),
    pointer=st.sampled_from(["/messages/0/content", "/messages/1/content", ""]),
    tool_calls=st.lists(
        st.builds(ToolCall, name=st.sampled_from(["f", "get_weather"]), arguments=st.sampled_from(["{}", '{"a": 1}', "x" * 50, ""]),
                  pointer=st.just("/messages/1/tool_calls/0/function/arguments"), id=st.sampled_from([None, "c1", "c2"])),
        max_size=2,
    ).map(tuple),
    tool_call_id=st.sampled_from([None, "c1", "c3"]),
    weight=st.sampled_from([None, None, 0.0, 1.0]),
    attachments=st.sampled_from([(), ("image",)]),
    content_is_null=st.booleans(),
)


@st.composite
def _examples(draw):
    n = draw(st.integers(0, 8))
    out = []
    for i in range(n):
        out.append(Example(
            "train", "x.jsonl", i, i + 1, "openai-chat",
            tuple(draw(st.lists(_turns, max_size=5))), f"{i:016x}",
            rejected=tuple(draw(st.lists(_turns, max_size=2))) if draw(st.booleans()) else (),
            problems=(Problem("message 0 is a number, expected an object", "/messages/0"),) if draw(st.integers(0, 5)) == 0 else (),
        ))
    return out


def _checks():
    context = CheckContext(splits={"train": ("x.jsonl",), "test": (), "reference": ()}, settings=Settings())
    return [
        structure.SchemaViolation(context=context), structure.MissingAssistantTurn(context=context),
        structure.EmptyContent(context=context), structure.MissingUserTurn(context=context),
        ExceedsContext(ExceedsContext.Options(max_tokens=20), context=context),
        ExceedsContext(ExceedsContext.Options(max_tokens=60, chars_per_token=3.0), context=context),
        OutputSchemaViolation(context=context),
    ]


@settings(max_examples=300, deadline=None)
@given(_examples())
def test_batch_findings_are_each_examples(examples):
    for check in _checks():
        expected = [f for e in examples for f in check.check(e)]
        assert list(check.check_batch(list(examples))) == expected, check.name


@settings(max_examples=200, deadline=None)
@given(_examples())
def test_table_chars_are_the_length_sums(examples):
    table = TurnTable(examples)
    assert table.chars().tolist() == [sum(len(t.content) for t in e.turns) for e in examples]
    assert table.blank().tolist() == [not t.content.strip() for e in examples for t in e.turns]


@settings(max_examples=200, deadline=None)
@given(_examples())
def test_turns_of_a_role_are_each_examples(examples):
    from tunelint.checks import content
    from tunelint.checks._batch import Batch
    from tunelint.checks._turns import ROLE_CODE

    table = TurnTable(examples)
    for role, code in ROLE_CODE.items():
        owners, ns, turns = table.of_role(code)
        expected = [(i, n, t) for i, e in enumerate(examples) for n, t in enumerate((t for t in e.turns if t.role is role), 1)]
        assert list(zip(owners, ns, turns)) == expected
    flat = list(zip(*content._batch_assistant_turns(Batch(examples)))) if examples else []
    assert flat == [(i, n, t) for i, e in enumerate(examples) for n, t in content._assistant_turns(e)]


_TEXTS = ["Eat a banana! " * 6, "line one two\n" * 6, "See the following article.", "The answer.\n```\ncode", "{\"a\": [1,",
          "N/A", "As an AI language model, I can't.", "1. Instruction: do x", "User: hi\nok", "", "   ", "It ends in the"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from([Role.USER, Role.ASSISTANT, Role.SYSTEM]), st.sampled_from(_TEXTS)), max_size=4),
                min_size=2, max_size=6))
def test_content_checks_batch_are_each_examples(rows):
    from tunelint.checks import content

    examples = [Example("train", "x", i, i + 1, "chat", tuple(Turn(r, c, f"/messages/{j}/content") for j, (r, c) in enumerate(row)),
                        f"{i:016x}") for i, row in enumerate(rows)]
    for cls in (content.PlaceholderOutput, content.RefusalBoilerplate, content.MergedInstructions, content.DegenerateRepetition,
                content.MissingContext, content.TruncatedOutput):
        check = cls()
        assert list(check.check_batch(list(examples))) == [f for e in examples for f in check.check(e)], cls.name
