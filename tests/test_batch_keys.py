"""The shared `Batch` keys: the flat path (whole batch in numpy) equals the per-example loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.checks._batch import Batch
from tunelint.models import Example, Role, ToolCall, Turn
from tunelint.similarity import TokenHasher
from tunelint.similarity.text import _nfkc

_TEXTS = st.sampled_from(["", " ", "Hello  World", "hello world", "Straße\n", "strasse", "a\tb", "İı", "x" * 30, "ﬁne\u2028ſK", "Ｆ①"])
_CALLS = st.lists(st.builds(ToolCall, name=st.sampled_from(["f", "g", "F"]), arguments=_TEXTS, pointer=st.just("/c")), max_size=2)
_TURNS = st.lists(
    st.builds(Turn, role=st.sampled_from(list(Role)), content=_TEXTS, pointer=st.just("/m"), tool_calls=_CALLS.map(tuple)),
    max_size=6,
)


def _example(turns: list[Turn], index: int = 0) -> Example:
    return Example("train", "t.jsonl", index, index + 1, "chat", tuple(turns), "")


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        other = b[key]
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype and value.shape == other.shape, key
            assert np.array_equal(value, other), key
        else:
            assert value == other, key


@given(st.lists(_TURNS, min_size=1, max_size=8))
@settings(max_examples=120, deadline=None)
def test_flat_keys_equal_the_per_example_loop(examples: list[list[Turn]]) -> None:
    batch = Batch([_example(turns, i) for i, turns in enumerate(examples)])
    flat = batch._keys_flat()
    # The flat path also gives the segment texts in NFKC form, for the word hasher.
    assert flat.pop("seg_nfkc") == [_nfkc(t) for t in flat["seg_texts"]]
    _same(flat, batch._keys_loop())


def test_keys_of_a_batch_with_a_rejected_side_take_the_loop() -> None:
    chosen = _example([Turn(Role.USER, "q", "/p"), Turn(Role.ASSISTANT, "a", "/c")])
    pair = chosen._replace(rejected=(Turn(Role.ASSISTANT, "b", "/r"),))
    keys = Batch([chosen, pair]).keys()
    assert keys["input"][0] == keys["input"][1]
    assert keys["example"][0] != keys["example"][1]
    assert keys["seg_texts"] == ["q", "a", "q", "a", "b"]


@given(st.lists(_TURNS, min_size=1, max_size=5))
@settings(max_examples=60, deadline=None)
def test_word_views_are_the_words_of_their_texts(examples: list[list[Turn]]) -> None:
    batch = Batch([_example(turns, i) for i, turns in enumerate(examples)])
    keys = batch.keys()
    hasher = TokenHasher()
    for view in ("all", "in", "out"):
        words = batch.words(view)
        assert len(words) == len(examples)
        for i, (start, stop) in enumerate(keys[view].tolist()):
            texts = keys["seg_texts"][start:stop]
            expected = hasher.hash_texts(texts).values if texts else np.empty(0, dtype=np.uint64)
            np.testing.assert_array_equal(words.row(i), expected)
