"""The Hyperscan gates of the task-fit checks (tunelint/multigate.py): each pattern is a superset of
the test it stands for, on text with Unicode digits and spaces, odd case mappings and empty
strings; the checks find with them what they find one example at a time, and without them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint import textscan
from tunelint.checks import task_fit
from tunelint.multigate import MultiGate

pytest.importorskip("hyperscan")

# Characters outside ASCII of every UTF-8 length, Unicode digits and spaces, case-mapping corners.
_ODD = ["٣", "\u00a0", "\u2003", "\u3000", "\x1c", "\x0b", "\x85", "Ⅻ", "²", "𝟗", "İ", "ı", "ſ", "\u212a", "ß", "ẞ",
        "Σ", "é", "’", "漢", "🙂", ""]
_PIECES = [
    " ", "  ", "\n", ",", ".", "-", "$", "€", "£", "¥", "₹", "5", "29", "1,200", "3.5", "2024", "1999", "2021-03-04",
    "k", " per month", "USD", "Dollars", "dollars", " Pounds", "euros", "inr", "In Stock", "out of stock",
    "STOCK LEVEL", "only 3 left", "Only ", " remaining", "12 items remaining", "seats available", "version 4.2",
    "Release 7", "release", "PYTHON 3.12", "node.js 18", "Node.JS", "Go-1", "go 1", "iOS 17", "As Of March 2024",
    "since 1999", "SINCE", "May 5th, 2023", "4 june 2022", "JUNE ", "sept ", "3rd", "from", "currently ",
    "Currently", "at the moment", "RIGHT NOW", "the latest", "this year", "THIS QUARTER", "1.2.3", "v", "x",
] + _ODD


def _text(max_size: int = 30) -> st.SearchStrategy[str]:
    # Mostly the pieces, and now and then any characters (hypothesis' text: every code point but
    # surrogates).
    piece = st.one_of(st.sampled_from(_PIECES), st.sampled_from(_PIECES), st.sampled_from(_PIECES), st.text(max_size=3))
    return st.lists(piece, max_size=max_size).map("".join)


def _masks(texts: list[str]) -> list[int]:
    """_VOLATILE_GATE_HS's masks, however many matches (a dense batch is otherwise not answered)."""
    gate = task_fit._VOLATILE_GATE_HS
    gate.MATCHES_PER_TEXT = 1 << 20
    try:
        masks = gate(texts)
    finally:
        del gate.MATCHES_PER_TEXT
    assert masks is not None and len(masks) == len(texts)
    return masks


def _reference_kinds(lower: str) -> list[bool]:
    return [p.search(lower) is not None for p in task_fit._VOLATILE_PATTERNS]


@settings(max_examples=300, deadline=None)
@given(st.lists(_text(), min_size=1, max_size=8))
def test_volatile_hyperscan_gate_covers_the_re2_gates_and_the_patterns(texts):
    masks = _masks(texts)
    lowers = [t.lower() for t in texts]
    cased = textscan.regex_gate(texts, task_fit._RARE_GATE_CASED)
    price = textscan.regex_gate(texts, task_fit._PRICE_GATE_CASED)
    for text, lower, mask, c, p in zip(texts, lowers, masks, cased, price):
        if c:
            assert mask & task_fit._RARE_BITS, text
        symbol = task_fit._has_price_symbol(text)
        if p:
            assert mask & task_fit._PRICE_BITS or symbol, text
        if task_fit._price_in(lower):
            assert mask & task_fit._PRICE_BITS or symbol, text
        found = _reference_kinds(lower)
        if found[0]:
            assert symbol, text
        if not mask & task_fit._ODD_BIT:
            # Each part's bit passes every text its pattern matches when lower-cased, and every
            # text its RE2 part passes.
            may = task_fit._parts_may(mask)
            for k, (part, ok) in enumerate(zip(task_fit._RARE_PARTS, may)):
                if found[k + 1] or textscan.regex_gate([lower], part)[0]:
                    assert ok, (k, text)
        else:
            assert "\u0130" in text or "\u212a" in text


@settings(max_examples=200, deadline=None)
@given(_text())
def test_volatile_hyperscan_gate_alone_and_in_a_batch(text):
    # A text's mask in a batch holds its mask alone (a match running into the next text only
    # adds bits there).
    alone = _masks([text])[0]
    for batch in ([text, "x"], ["5 version", text], ["", text, ""], [text, text]):
        masks = _masks(batch)
        assert masks[batch.index(text)] & alone == alone


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_text(12), _text(12)), min_size=2, max_size=24))
def test_volatile_detect_many_is_detect_per_example(pairs):
    from tunelint.models import Example, Role, Turn

    examples = [
        Example("train", "x", i, i + 1, "chat", (Turn(Role.USER, q, "/0"), Turn(Role.ASSISTANT, a, "/1")), f"{i:016x}")
        for i, (q, a) in enumerate(pairs)
    ]
    check = task_fit.VolatileFacts()
    expected = [check.detect(e) for e in examples]
    assert check.detect_many(examples) == expected


def test_volatile_detect_many_without_hyperscan_is_the_same(monkeypatch: pytest.MonkeyPatch):
    from tunelint.models import Example, Role, Turn

    pairs = [("How much?", "It costs $29 per month as of March 2024."), ("Price is $5. Version 2.1.3?", "Use version 2.1.3, $5."),
             ("Hi", "Only 3 left in stock, currently 12 branches."), ("Hi", "Nothing to see."), ("Which?", "Python 3.12, 2023-01-02.")] * 3
    examples = [
        Example("train", "x", i, i + 1, "chat", (Turn(Role.USER, q, "/0"), Turn(Role.ASSISTANT, a, "/1")), f"{i:016x}")
        for i, (q, a) in enumerate(pairs)
    ]
    check = task_fit.VolatileFacts()
    with_hyperscan = check.detect_many(examples)
    monkeypatch.setattr(MultiGate, "__call__", lambda self, texts: None)
    assert check.detect_many(examples) == with_hyperscan == [check.detect(e) for e in examples]
    assert any(with_hyperscan)


def test_multigate_masks_and_fallbacks():
    gate = MultiGate([rb"ab", rb"c\d"])
    assert gate.runs()
    assert gate(["ab", "", "xc5", "abc7", "a", "b"]) == [1, 0, 2, 3, 0, 1]  # "a" + "b" across two texts marks the second
    assert gate([]) == []
    assert gate(["", ""]) == [0, 0]
    assert gate(["lone \ud800 surrogate", "ab"]) is None  # Arrow cannot take it
    dense = MultiGate([rb"a"])
    assert dense(["a" * 100, "b"]) is None  # too many matches to hand to Python
    broken = MultiGate([rb"(unclosed"])
    assert not broken.runs() and broken(["x", "y"]) is None


def test_multigate_compiles_afresh_after_a_fork(monkeypatch: pytest.MonkeyPatch):
    import os

    gate = MultiGate([rb"ab"])
    assert gate(["ab", "x"]) == [1, 0]
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as in a forked child
    held = gate._lock
    held.acquire()  # copied held from the parent
    try:
        assert gate(["x", "ab"]) == [0, 1]
        assert gate._lock is not held
    finally:
        held.release()


_NUMBER_PIECES = ["-", "--", "1", "12", "٣", "𝟗", "²", ",", ",000", ",00", ".", ".5", " ", "a", "x", "−", "\u00a0", "$", ""]


@settings(max_examples=500)
@given(st.lists(st.one_of(st.sampled_from(_NUMBER_PIECES), st.text(max_size=2)), max_size=30).map("".join))
def test_calculations_number_pattern_finds_what_num_finds(text):
    import re

    plain = re.compile(task_fit._NUM)
    assert task_fit._NUMBER.findall(text) == plain.findall(text)
    found = task_fit._NUMBER.search(text)
    expected = plain.search(text)
    assert (found and found.span()) == (expected and expected.span())
