"""The loader on every format and container: right format name, reconciled counts, line numbers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tunelint.loader import FileNote, Loader, Rejected
from tunelint.models import Example, Role
from tunelint.registry import load_formats

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FORMATS = load_formats()


def load(path, split="train", **kw):
    loader = Loader(str(path), split, FORMATS, **kw)
    items = list(loader)
    return loader.info, items


def examples(items):
    return [i for i in items if isinstance(i, Example)]


def rejected(items):
    return [i for i in items if isinstance(i, Rejected)]


REAL = [
    ("instruct/openai_cookbook/toy_chat_fine_tuning.jsonl", "openai-chat", 5),
    ("instruct/fastchat/alpaca_data_cleaned_1000.json", "alpaca", 1000),
    ("instruct/fastchat/dummy_conversation.json", "sharegpt", 500),
    ("instruct/hh_rlhf/harmless-base_test.jsonl", "preference-hh", 2312),
    ("classification/t0_train_50k/ag_news_classify.jsonl", "openai-completion", 200),
    ("classification/t0_train_50k/imdb_Movie_Expressed_Sentiment.jsonl", "openai-completion", 200),
    ("leakage/alpaca_eval/alpaca_eval_805_example_outputs.json", "alpaca", 805),
]


@pytest.mark.parametrize("rel,fmt,n", REAL, ids=[r[0] for r in REAL])
def test_real_datasets_load_with_right_format(rel, fmt, n):
    info, items = load(SHARED / rel)
    assert info.format == fmt
    assert info.examples == n
    assert info.examples + info.rejected == info.lines
    assert not [i for i in items if isinstance(i, FileNote)]


@pytest.mark.parametrize(
    "rel,fields,n",
    [
        ("leakage/gsm8k/test.jsonl", {"question": "user", "answer": "assistant"}, 1319),
        ("known_defects/math401/math401.jsonl", {"query": "user", "response": "assistant"}, 401),
    ],
)
def test_field_mapping_on_real_files(rel, fields, n):
    info, items = load(SHARED / rel, fields=fields)
    ex = examples(items)
    assert info.examples == n and info.rejected == 0
    assert [t.role for t in ex[0].turns] == [Role.USER, Role.ASSISTANT]
    assert ex[0].turns[0].pointer == "/" + next(k for k, v in fields.items() if v == "user")


def test_unknown_shape_without_fields_is_one_clear_file_finding():
    info, items = load(SHARED / "leakage/gsm8k/test.jsonl")
    notes = [i for i in items if isinstance(i, FileNote)]
    assert info.format == "unknown" and info.examples == 0 and info.rejected == 1319
    assert len(notes) == 1 and "--fields" in notes[0].message and "question" in notes[0].message


def test_hh_transcript_splits_into_turns_and_rejected_side():
    _, items = load(SHARED / "instruct/hh_rlhf/harmless-base_test.jsonl")
    ex = examples(items)[0]
    assert ex.turns[0].role is Role.USER and ex.turns[0].content.startswith("what are some pranks with a pen")
    assert ex.turns[-1].role is Role.ASSISTANT
    assert ex.rejected and ex.rejected[-1].role is Role.ASSISTANT


def test_json_array_elements_keep_their_line():
    _, items = load(SHARED / "instruct/fastchat/dummy_conversation.json")
    ex = examples(items)
    assert ex[0].line == 2 and ex[0].index == 0
    raw = (SHARED / "instruct/fastchat/dummy_conversation.json").read_text().splitlines()
    assert raw[ex[1].line - 1].strip() == "{"
    assert '"identity_1"' in raw[ex[1].line]


def write(tmp_path, name, text, mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


CHAT = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}


def test_bad_line_in_the_middle_of_a_good_file(tmp_path):
    good = json.dumps(CHAT)
    p = write(tmp_path, "t.jsonl", "\n".join([good, good, '{"messages": [', good, good]) + "\n")
    info, items = load(p)
    rej = rejected(items)
    assert info.lines == 5 and info.examples == 4 and info.rejected == 1
    assert rej[0].line == 3 and rej[0].check == "invalid-json"
    assert [e.line for e in examples(items)] == [1, 2, 4, 5]


def test_gzip_bom_crlf(tmp_path):
    text = "\ufeff" + "\r\n".join([json.dumps(CHAT)] * 3) + "\r\n"
    p = write(tmp_path, "t.jsonl.gz", gzip.compress(text.encode("utf-8")), "wb")
    info, items = load(p)
    assert info.format == "openai-chat" and info.examples == 3 and info.rejected == 0
    assert examples(items)[2].line == 3
    assert examples(items)[0].turns[1].content == "Hello"


def test_truncated_gzip_keeps_the_readable_prefix(tmp_path):
    data = gzip.compress(("\n".join([json.dumps(CHAT)] * 2000) + "\n").encode())
    p = write(tmp_path, "t.jsonl.gz", data[: len(data) // 2], "wb")
    info, items = load(p)
    notes = [i for i in items if isinstance(i, FileNote)]
    assert info.examples > 0
    assert notes and "truncated" in notes[0].message
    # The last, cut-off line is reported, not dropped.
    assert info.examples + info.rejected == info.lines


def test_blank_lines_are_counted_not_records(tmp_path):
    p = write(tmp_path, "t.jsonl", json.dumps(CHAT) + "\n\n\n" + json.dumps(CHAT) + "\n")
    info, items = load(p)
    assert info.examples == 2 and info.formats["blank_lines"] == 2
    assert [e.line for e in examples(items)] == [1, 4]


def test_json_array_with_a_broken_element_and_trailing_garbage(tmp_path):
    text = '[\n  {"prompt": "a", "completion": "b"},\n  {"prompt": "c", "completion": },\n  {"prompt": "e", "completion": "f"}\n] trailing'
    p = write(tmp_path, "t.json", text)
    info, items = load(p)
    rej = rejected(items)
    assert info.examples == 2
    assert sorted(r.line for r in rej) == [3, 5]
    assert info.examples + info.rejected == info.lines


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([{"instruction": "Add", "input": "2+2", "output": "4"}] * 3)
    p = tmp_path / "t.parquet"
    pq.write_table(table, p)
    info, items = load(p)
    ex = examples(items)
    assert info.format == "alpaca" and info.examples == 3
    assert ex[0].line is None and ex[2].index == 2
    assert ex[0].turns[0].content == "Add\n\n2+2"


FORMAT_SAMPLES = [
    ("openai-chat", CHAT, ["user", "assistant"]),
    ("openai-completion", {"prompt": "p", "completion": "c"}, ["user", "assistant"]),
    ("alpaca", {"instruction": "i", "input": "", "output": "o"}, ["user", "assistant"]),
    ("sharegpt", {"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "h"}, {"from": "gpt", "value": "g"}]}, ["system", "user", "assistant"]),
    ("preference-trl", {"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "good"}], "rejected": [{"role": "assistant", "content": "bad"}]}, ["user", "assistant"]),
    ("preference-openai", {"input": {"messages": [{"role": "user", "content": "q"}]}, "preferred_output": [{"role": "assistant", "content": "good"}], "non_preferred_output": [{"role": "assistant", "content": "bad"}]}, ["user", "assistant"]),
    ("preference-hh", {"chosen": "\n\nHuman: q\n\nAssistant: good", "rejected": "\n\nHuman: q\n\nAssistant: bad"}, ["user", "assistant"]),
    ("gemini", {"systemInstruction": {"role": "system", "parts": [{"text": "s"}]}, "contents": [{"role": "user", "parts": [{"text": "q"}]}, {"role": "model", "parts": [{"text": "a"}]}]}, ["system", "user", "assistant"]),
    ("anthropic", {"system": "s", "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}, {"role": "assistant", "content": [{"type": "text", "text": "a"}]}]}, ["system", "user", "assistant"]),
    ("anthropic", {"schemaVersion": "bedrock-conversation-2024", "system": [{"text": "s"}], "messages": [{"role": "user", "content": [{"text": "q"}]}, {"role": "assistant", "content": [{"text": "a"}]}]}, ["system", "user", "assistant"]),
]


@pytest.mark.parametrize("fmt,record,roles", FORMAT_SAMPLES, ids=[f"{s[0]}-{i}" for i, s in enumerate(FORMAT_SAMPLES)])
def test_each_format_detects_and_normalises(tmp_path, fmt, record, roles):
    p = write(tmp_path, "t.jsonl", json.dumps(record) + "\n")
    info, items = load(p)
    ex = examples(items)[0]
    assert info.format == fmt
    assert [t.role.value for t in ex.turns] == roles
    assert not ex.problems
    assert ex.output_text in ("good", "a", "o", "c", "g", "Hello")


def test_tool_calls_across_formats(tmp_path):
    openai = {"messages": [{"role": "user", "content": "Where is ORD-1?"}, {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{\"id\": \"ORD-1\"}"}}]}, {"role": "tool", "tool_call_id": "c1", "content": "shipped"}, {"role": "assistant", "content": "Shipped."}], "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]}
    anthropic = {"system": "s", "messages": [{"role": "user", "content": "Where?"}, {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {"id": "ORD-1"}}]}, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "shipped"}]}, {"role": "assistant", "content": "Shipped."}]}
    gemini = {"contents": [{"role": "user", "parts": [{"text": "Where?"}]}, {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"id": "ORD-1"}}}]}, {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"status": "shipped"}}}]}, {"role": "model", "parts": [{"text": "Shipped."}]}]}
    for rec, ptr in ((openai, "/messages/1/tool_calls/0/function/arguments"), (anthropic, "/messages/1/content/0/input"), (gemini, "/contents/1/parts/0/functionCall/args")):
        p = write(tmp_path, "t.jsonl", json.dumps(rec) + "\n")
        _, items = load(p)
        ex = examples(items)[0]
        calls = [c for t in ex.turns for c in t.tool_calls]
        assert len(calls) == 1 and calls[0].name == "lookup" and json.loads(calls[0].arguments) == {"id": "ORD-1"}
        assert calls[0].pointer == ptr
        assert any(t.role is Role.TOOL for t in ex.turns)
        assert ex.output_text == "Shipped."
    p = write(tmp_path, "t.jsonl", json.dumps(openai) + "\n")
    assert examples(load(p)[1])[0].tools[0]["function"]["name"] == "lookup"


def test_wrong_types_become_problems_not_crashes(tmp_path):
    bad = [
        {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": ["x", 3]}]},
        {"messages": [None, {"role": "assistant"}]},
        {"prompt": None, "completion": [1, 2]},
        [1, 2, 3],
        "just a string",
        {"messages": {"role": "user"}},
    ]
    p = write(tmp_path, "t.jsonl", "\n".join(json.dumps(b) for b in bad) + "\n")
    info, items = load(p, input_format="openai-chat")
    assert info.examples + info.rejected == 6
    assert all(isinstance(i, (Example, Rejected)) for i in items)


def test_text_lines_for_reference_samples(tmp_path):
    p = write(tmp_path, "prod.txt", "How do I reset my password?\n\nMy invoice is wrong\n")
    info, items = load(p, split="reference")
    ex = examples(items)
    assert info.format == "text-lines" and [e.line for e in ex] == [1, 3]
    assert ex[1].turns[0].content == "My invoice is wrong"


def test_missing_file_and_directory(tmp_path):
    from tunelint.loader import InputError

    with pytest.raises(InputError, match="no such file"):
        load(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="is a directory"):
        load(tmp_path)


def test_empty_file_is_a_finding(tmp_path):
    p = write(tmp_path, "t.jsonl", "")
    info, items = load(p)
    notes = [i for i in items if isinstance(i, FileNote)]
    assert info.lines == 0 and notes and "no records" in notes[0].message


# ------------------------------------------------------------------------------ plain chat records

from hypothesis import given as _given, settings as _settings, strategies as _st  # noqa: E402

from tunelint.loader.formats.openai_chat import OpenAIChat as _OpenAIChat, plain_turns as _plain_turns  # noqa: E402

_VALUES = _st.sampled_from([None, "", "hi", "user", "assistant", "system", "developer", "tool", "function", "robot", 1, 1.5, True,
                            [], {}, ["x"], {"type": "text", "text": "t"}, [{"type": "text", "text": "part"}]])
_MESSAGE = _st.one_of(
    _st.fixed_dictionaries({"role": _VALUES, "content": _VALUES}),
    _st.fixed_dictionaries({"role": _st.sampled_from(["user", "assistant", "system"]), "content": _st.text(max_size=5)}),
    _st.dictionaries(_st.sampled_from(["role", "content", "weight", "name", "tool_calls", "tool_call_id"]), _VALUES, max_size=4),
    _VALUES,
)


@_settings(max_examples=400, deadline=None)
@_given(_st.one_of(
    _st.fixed_dictionaries({"messages": _st.lists(_MESSAGE, max_size=5)},
                           optional={"tools": _VALUES, "functions": _VALUES, "extra": _VALUES}),
    _VALUES,
))
def test_plain_turns_are_what_normalise_gives_a_plain_record(record):
    turns = _plain_turns(record)
    if turns is None:
        return
    norm = _OpenAIChat().normalise(record)
    assert turns == tuple(norm.turns)
    assert [tuple(norm.tools), norm.rejected, norm.problems] == [(), [], []]
    assert all(type(t) is type(norm.turns[0]) for t in turns) if turns else True


def test_plain_turns_take_the_common_record():
    record = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                           {"role": "assistant", "content": "Hello."}]}
    assert _plain_turns(record) == tuple(_OpenAIChat().normalise(record).turns)
    assert _plain_turns({**record, "tools": [{"type": "function"}]}) is None
    assert _plain_turns({"messages": [{"role": "user", "content": "Hi", "weight": 1}]}) is None


def test_loader_plain_path_gives_the_examples_normalise_gives(tmp_path, monkeypatch):
    lines = [
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "x", "weight": 0}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}], "tools": [{"type": "function", "function": {"name": "f"}}]},
        {"messages": [{"role": "robot", "content": "Hi"}]},
    ]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    fast = list(Loader(str(path), "train", load_formats()))
    monkeypatch.setattr(_OpenAIChat, "plain", None)
    slow = list(Loader(str(path), "train", load_formats()))
    assert fast == slow and len(fast) == 4
    assert [type(e) for e in fast] == [Example] * 4


@pytest.mark.parametrize("plain", [True, False])
def test_chunks_read_what_the_whole_file_reads(tmp_path, monkeypatch, plain):
    from tunelint.loader import plan_chunks

    records = [
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "x", "weight": 0}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "ok"}], "tools": [{"type": "function", "function": {"name": "f"}}]},
        {"messages": [{"role": "robot", "content": "Hi"}]},
        {"messages": "not a list"},
        {"no_messages": 1},
        [1, 2],
    ]
    lines = ['\ufeff' + json.dumps(records[0])]
    for i in range(60):
        lines.append(json.dumps(records[i % len(records)]))
        if i % 11 == 3:
            lines.append('{"messages": [')  # does not parse
        if i % 13 == 5:
            lines.append("   ")  # blank
        if i % 17 == 2:
            lines.append('{"messages": [{"role": "user", "content": "bad \\x"}]}')
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if not plain:
        monkeypatch.setattr(_OpenAIChat, "plain", None)
    formats = load_formats()
    whole = Loader(str(path), "train", formats)
    items = [x for x in whole if not isinstance(x, FileNote)]
    chunks = plan_chunks(str(path), 256)
    assert chunks is not None and len(chunks) > 5
    parts, infos = [], []
    for chunk in chunks:
        loader = Loader(str(path), "train", formats, chunk=chunk, format_name=whole.info.format)
        parts += [x for x in loader if not isinstance(x, FileNote)]
        infos.append(loader.info)
    assert parts == items
    assert {type(x) for x in items} == {Example, Rejected} and {x.check for x in items if isinstance(x, Rejected)} == {"invalid-json", "schema-violation"}
    assert sum(i.examples for i in infos) == whole.info.examples and sum(i.rejected for i in infos) == whole.info.rejected
    assert sum(i.formats["blank_lines"] for i in infos) == whole.info.formats["blank_lines"] > 0
