"""The fast paths of the content checks give exactly what their patterns alone give.

Each gate in front of a pattern is a necessary condition for it to match, and each rewritten
helper is compared with the plain form it replaces (kept here as the reference), on generated
text built from the pieces the patterns look for.
"""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint import textscan
from tunelint.checks import _shapes, content, task_fit

_ALL_CHARS = "".join(chr(u) for u in range(0x80, 0x110000) if not 0xD800 <= u < 0xE000)


def _text(pieces: list[str], max_size: int = 40) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=max_size).map("".join)


# ------------------------------------------------------------------------------ textscan


def test_fold_maps_every_character_an_ignorecase_pattern_matches_to_an_ascii_letter():
    for ch in re.compile("[a-z]", re.IGNORECASE).findall(_ALL_CHARS):
        folded = textscan.fold(ch)
        assert len(folded) == 1 and folded.isascii() and re.fullmatch(folded, ch, re.IGNORECASE), ch


def test_has_digit_is_any_isdigit():
    digits = [ch for ch in _ALL_CHARS if ch.isdigit()]
    assert digits and all(textscan.has_digit("x" + ch + "é") for ch in digits)
    assert all(textscan.has_digit(str(d)) for d in range(10))
    for text in ("", "abc", "é ü", "½ ⅓", "x²", "٣", "Ⅻ", "①"):
        assert textscan.has_digit(text) == any(ch.isdigit() for ch in text), text


@given(_text(["as ", "an ", "AI", "ai", "-", "é", "’", "_", "1", " ", "\n", "İ", "ı", "ſ", "model", "x"]))
def test_vocabulary_finds_every_word_a_pattern_matches_between_boundaries(text):
    words = textscan.vocabulary(textscan.fold(text))
    for word in ("ai", "model", "as", "an"):
        if word in textscan.WORDS and re.search(rf"\b{word}\b", text, re.IGNORECASE):
            assert word in words, (word, text)


def test_every_gate_word_is_in_the_scanned_vocabulary():
    gates = [
        content._INSERT_VERBS, content._INSERT_NOUNS, content._DISCLAIMER_WORDS,
        {"lorem", "ipsum", "instruction", "input", "output", "response", "human", "user"},
        task_fit._CURRENCY_WORDS, task_fit._STOCK_ITEMS, task_fit._STOCK_STATES, task_fit._VERSION_WORDS,
        set(task_fit._PRODUCT_AFTER), set(task_fit._NOW_AFTER), task_fit._EXPR_WORD_GATE, {"stock", "only", "of"},
    ]
    for gate in gates:
        assert set(gate) <= textscan.WORDS, set(gate) - textscan.WORDS


# ------------------------------------------------------------------------------ content gates

_CONTENT_PIECES = [
    " ", "\n", ":", ".", ")", "#", "## ", "1. ", "Instruction", "instruction", "INPUT", "Output", "Response",
    "<|im_start|>", "[INST]", "User", "Human", "USER", "{{name}}", "${x}", "<<v>>", "[insert your answer here]",
    "<Enter the text>", "Lorem ipsum", "LOREM IPSUM", "As an AI", "as a language model", "I'm just an AI",
    "developed by OpenAI", "my knowledge cutoff", "I don't have access to the internet", "ſ", "ı", "İ", "word",
    "the following text", "this image", "the attached PDF", "The article below", "given", "photograph",
    "As A Large Language Model", "I am only an Artificial Intelligence", "a computer program", "trained by OpenAI",
    "My training data cut-off", "I do not have the ability to browse", " real-time", " the internet", "ARTIFICIAL",
    "### Human:", "Instruction:", "USER:",
]


@settings(max_examples=300)
@given(_text(_CONTENT_PIECES))
def test_content_gates_let_through_every_pattern_that_matches(text):
    placeholder = {p for _, p in content._placeholder_patterns(text)}
    for pattern in (content._UNFILLED, content._INSERT, content._LOREM):
        assert pattern.search(text) is None or pattern in placeholder
    merged = {p for _, p in content._merged_patterns(text)}
    for _, pattern in content._MERGED_PATTERNS:
        assert pattern.search(text) is None or pattern in merged
    assert content._TRANSCRIPT.search(text) is None or content._may_transcript(text)
    words = textscan.scan(text).words
    assert content._AI_DISCLAIMER.search(text) is None or not words.isdisjoint(content._DISCLAIMER_WORDS)
    folded = textscan.fold(text)
    assert content._AI_DISCLAIMER.search(text) is None or textscan.any_in(folded, content._DISCLAIMER_PHRASES)
    assert {p for _, p in content._placeholder_patterns(text, folded)} == placeholder
    assert {p for _, p in content._merged_patterns(text, folded)} == merged
    assert content._REFERENCE.search(text) is None or (
        textscan.any_in(folded, content._REFERENCE_WORDS)
        or ("this" in folded and textscan.any_in(folded, content._VISUAL_WORDS))
    )


_GATE_PIECES = _CONTENT_PIECES + [
    "```", "```py\n", "\u00a0", "\u2003", "\x1c", "\t", "\u212a", "٣", "2", "12 ) input :", "#### response",
    "I'm sorry, but I can't help", "Sorry I cannot assist", "Unfortunately, I am unable to provide", " but  ",
    "I won't answer", "I APOLOGIZE. I will not do", "i'm not able to engage", "[  add the Content ]", "<put output>",
    "[/INST]", "<|", "Human :", "User\t:", "Next Instruction :", "ai", "an ", "As", "lorem", " ipsum",
]


def _gate_reference(text: str) -> bool:
    """Whether any pattern behind _CONTENT_GATE matches (on the text or on its prose)."""
    prose = content._prose(text)
    patterns = [content._UNFILLED, content._INSERT, content._LOREM, content._TRANSCRIPT]
    patterns += [p for _, p in content._MERGED_PATTERNS]
    return (
        any(p.search(prose) for p in patterns)
        or content._AI_DISCLAIMER.search(text) is not None
        or content._CANNED_REFUSAL.match(text) is not None
    )


@settings(max_examples=300, deadline=None)  # the first call imports pyarrow
@given(st.lists(_text(_GATE_PIECES), min_size=2, max_size=8))
def test_content_batch_gate_passes_every_text_a_pattern_matches(texts):
    gate = textscan.regex_gate(texts, content._CONTENT_GATE)
    assert gate is not None
    for text, may in zip(texts, gate):
        if _gate_reference(text):
            assert may, text


def test_content_gate_passes_every_character_ignorecase_matches_to_a_letter():
    odd = [ch for ch in re.compile("[a-z]", re.IGNORECASE).findall(_ALL_CHARS) if not ch.isascii()]
    assert odd and all(textscan.regex_gate(odd + ["x"], content._ODD_CASE)[:-1])


@settings(max_examples=100, deadline=None)
@given(st.lists(_text(_GATE_PIECES), min_size=2, max_size=8))
def test_content_checks_find_in_a_batch_what_they_find_per_example(texts):
    from tunelint.checks._batch import Batch
    from tunelint.models import Example, Role, Turn

    examples = [
        Example("train", "x", i, i + 1, "chat", (Turn(Role.USER, "Hi", "/0"), Turn(Role.ASSISTANT, t, "/1")), f"{i:016x}")
        for i, t in enumerate(texts)
    ]
    for cls in (content.PlaceholderOutput, content.RefusalBoilerplate, content.MergedInstructions):
        check = cls()
        assert list(check.check_many(Batch(examples))) == [f for e in examples for f in check.check(e)]


_CONTEXT_PIECES = _CONTENT_PIECES + [
    "https://x.io/a", "www.a.b", "\n\n", "\n", "<Picture Attached>", "(image)", "[ file ]", "news article", "the given sentence",
    ": ", "Here it is.", "the\ttext above", "The Passage Provided", "this Screenshot", "the enclosed audio clip", "\u212a", "Web Page",
    "<noinput>", "N/A", "Summarize the following article", "these linked pages", "that accompanying report",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_text(_CONTEXT_PIECES), _text(_CONTEXT_PIECES, max_size=10)), min_size=2, max_size=6))
def test_missing_context_finds_in_a_batch_what_it_finds_per_example(pairs):
    from tunelint.checks._batch import Batch
    from tunelint.models import Example, Role, Turn

    examples = [
        Example("train", "x", i, i + 1, "chat", (
            Turn(Role.USER, first, "/0"), Turn(Role.ASSISTANT, "ok", "/1"), Turn(Role.USER, second, "/2"),
            Turn(Role.ASSISTANT, "ok", "/3"),
        ), f"{i:016x}")
        for i, (first, second) in enumerate(pairs)
    ]
    check = content.MissingContext()
    texts = [t for pair in pairs for t in pair]
    gate = textscan.regex_gate(texts, content._CONTEXT_GATE)
    for example, turn in [(e, t) for e in examples for t in e.turns if t.role is Role.USER]:
        if check._missing(turn.content, False, example, turn) is not None:
            assert gate[texts.index(turn.content)], turn.content
    assert list(check.check_many(Batch(examples))) == [f for e in examples for f in check.check(e)]


_RUN_PIECES = ["ha", "ha ", "Eat a banana!", " ", "  ", "\n", "ab", "abc", "x", "!", "é", "the cat", "\t", "a-b", "_", "1", " " * 30, "y" * 30]


@settings(max_examples=300)
@given(_text(_RUN_PIECES), st.sampled_from([1, 2, 4]))
def test_repetition_runs_are_the_patterns_finditer(text, k):
    run = re.compile(r"\b(\w[^\n]{2,79}?)(?:\s*\1){%d,}" % k)
    assert [(m.span(), m.group(1)) for m in content._runs(run, text)] == [(m.span(), m.group(1)) for m in run.finditer(text)]


# ------------------------------------------------------------------------------ task fit


def _volatile_reference(text: str) -> list[tuple[str, str]]:
    """_volatile_matches as it was: every pattern whose needles occur, over the whole text."""
    lower = text.lower()
    same = len(lower) == len(text)
    out = []
    for kind, needles, pattern in task_fit._VOLATILE:
        if any(n in lower for n in needles):
            out.extend((kind, text[m.start():m.end()] if same else m.group()) for m in pattern.finditer(lower))
    return out


_VOLATILE_PIECES = [
    " ", "  ", "\n", ",", ".", "-", "$", "€", "5", "29", "1,200", "3.5", "2024", "1999", "2021-03-04", "k", " per month",
    "USD", "dollars", " pounds", "in stock", "out of stock", "stock level", "only 3 left", "12 items remaining",
    "seats available", "version 4.2", "release 7", "Python 3.12", "node.js 18", "Go-1", "iOS 17", "as of March 2024",
    "since 1999", "May 5th, 2023", "4 june 2022", "from", "currently ", "at the moment", "right now", "the latest",
    "this year", "this quarter", "1.2.3", "v", "İ", "é", "’", "K",
]


@settings(max_examples=400)
@given(_text(_VOLATILE_PIECES))
def test_volatile_matches_are_what_every_pattern_finds(text):
    expected = _volatile_reference(text)
    assert task_fit._volatile_matches(text) == expected
    kinds = {k for k, _ in _volatile_reference("$ 5 version 2 2024")} | {"stock-level"}
    assert task_fit._kinds_present(text, kinds) == {k for k, _ in expected if k in kinds}


@settings(max_examples=200, deadline=None)  # the first call imports pyarrow
@given(st.lists(_text(_VOLATILE_PIECES + ["٣", "\u00a0", "\u2003", "\x1c", "\x0b", "Ⅻ", "²", "jan ", "sept ", "3rd"]), min_size=2, max_size=8))
def test_volatile_batch_gate_passes_every_text_a_rare_pattern_matches(texts):
    lowers = [t.lower() for t in texts]
    gate = textscan.regex_gate(lowers, task_fit._RARE_GATE)
    assert gate is not None
    for text, lower, rare in zip(texts, lowers, gate):
        if any(p.search(lower) for _, _, p in task_fit._VOLATILE[1:]):
            assert rare, text
        assert task_fit._volatile_matches(text, lower, rare) == _volatile_reference(text)
        kinds = {"price", "version", "dated-fact", "stock-level"}
        assert task_fit._kinds_present(text, kinds, lower, rare) == {k for k, _ in _volatile_reference(text)}


@settings(max_examples=200, deadline=None)
@given(st.lists(_text(_VOLATILE_PIECES + ["٣", "\u00a0", "\u2003", "\x1c", "\x0b", "Ⅻ", "²", "jan ", "sept ", "3rd", "go 1",
                                          "ſ", "ı", "is currently", " at present 5", "."]), min_size=2, max_size=8))
def test_volatile_rare_parts_each_pass_every_text_their_pattern_matches(texts):
    lowers = [t.lower() for t in texts]
    parts = [textscan.regex_gate(lowers, part) for part in task_fit._RARE_PARTS]
    for j, (text, lower) in enumerate(zip(texts, lowers)):
        may = tuple(gate[j] for gate in parts)
        for pattern, ok in zip(task_fit._VOLATILE_PATTERNS[1:], may):
            if pattern.search(lower):
                assert ok, (pattern.pattern, text)
        assert task_fit._volatile_matches(text, lower, True, may) == _volatile_reference(text)
        kinds = {"price", "version", "dated-fact", "stock-level"}
        assert task_fit._kinds_present(text, kinds, lower, True) == {k for k, _ in _volatile_reference(text)}


def test_volatile_rare_parts_of_a_batch_are_each_parts_gate():
    texts = [t.lower() for t in (
        "12 dollars", "in stock", "1.2.3", "version 4", "python 3", "2024-01-02", "as of march 2024", "currently 5",
        "nothing", "$5", "5 euros and version 2", "go-1 since 1999",
    )]
    rare = textscan.regex_gate(texts, task_fit._RARE_GATE)
    parts = task_fit._rare_parts(texts, rare)
    assert set(parts) == {j for j, r in enumerate(rare) if r} and len(parts) >= 8
    for j, may in parts.items():
        assert may == tuple(textscan.regex_gate([texts[j]], part)[0] for part in task_fit._RARE_PARTS), texts[j]
    assert task_fit._rare_parts(texts[:3], rare[:3]) == {}  # too few for the passes: every part may match


@settings(max_examples=400)
@given(_text(_VOLATILE_PIECES + ["euros", "5 ", "inr", "\u00a0", "٣"]))
def test_price_in_is_whether_a_price_pattern_matches(text):
    lower = text.lower()
    assert task_fit._price_in(lower) == ("price" in task_fit._kinds_present(text, {"price"}))
    assert task_fit._price_in(lower) == any(p.search(lower) for p in task_fit._VOLATILE_PATTERNS[:2])


def test_volatile_detect_many_is_detect_per_example():
    from tunelint.models import Example, Role, Turn

    def ex(i, user, answer):
        turns = (Turn(Role.USER, user, "/0"), Turn(Role.ASSISTANT, answer, "/1"))
        return Example("train", "x", i, i + 1, "chat", turns, f"{i:016x}")

    examples = [
        ex(0, "How much?", "It costs $29 per month as of March 2024."),
        ex(1, "Price is $5. Version 2.1.3?", "Use version 2.1.3, $5 as of May 2024."),
        ex(2, "Hi", "Only 3 left in stock, currently 12 branches."),
        ex(3, "Hi", "Nothing to see."),
        ex(4, "Which python?", "Python 3.12 and node.js 18, 2023-01-02."),
    ]
    check = task_fit.VolatileFacts()
    assert check.detect_many(examples) == [check.detect(e) for e in examples]


def _volatile_batch_is_per_example(pairs: list[tuple[str, str]]) -> None:
    """volatile-facts' batch answer on (question, answer) examples is its per-example answer."""
    from tunelint.models import Example, Role, Turn

    examples = [
        Example("train", "x", i, i + 1, "chat", (Turn(Role.USER, q, "/0"), Turn(Role.ASSISTANT, a, "/1")), f"{i:016x}")
        for i, (q, a) in enumerate(pairs)
    ]
    check = task_fit.VolatileFacts()
    assert check.detect_many(examples) == [check.detect(e) for e in examples]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_text(_VOLATILE_PIECES + ["12 dollars ", "$5", "euros"], max_size=12),
                          _text(_VOLATILE_PIECES + ["12 dollars ", "$5", "5 euros"], max_size=12)), min_size=9, max_size=24))
def test_volatile_detect_many_with_the_parts_is_detect_per_example(pairs):
    _volatile_batch_is_per_example(pairs)


# Upper- and mixed-case pieces, and the characters whose case mapping is odd, for the paths that
# read the outputs and inputs as they are (not lower-cased).
_CASED_PIECES = _VOLATILE_PIECES + [
    "Dollars", "USD", "EUROS", " Pounds", "IN STOCK", "Only 3 LEFT", "12 Items Remaining", "VERSION 4.2", "Release 7",
    "PYTHON 3.12", "Node.JS 18", "GO-1", "As Of MARCH 2024", "SINCE 1999", "MAY 5TH, 2023", "4 JUNE 2022", "FROM",
    "Currently ", "AT THE MOMENT", "The Latest", "THIS YEAR", "$5 K", "$5 Million", " PER MONTH", " a Year", "£3",
    "¥ 7", "ſ", "ı", "\u212a", "İnr", "\u00a0", "٣", "Σ", "ẞ",
]


def test_lower_casing_maps_only_ascii_letters_and_kelvin_to_ascii():
    # What _RARE_GATE_CASED relies on: one character for one (but U+0130), and no character
    # outside ASCII lower-cases to ASCII but the Kelvin sign (to "k").
    for u in range(0x80, 0x110000):
        c = chr(u)
        low = c.lower()
        if u == 0x130:
            continue
        assert len(low) == 1, hex(u)
        assert not low.isascii() or u == 0x212A, hex(u)
    assert all(chr(u).lower() == chr(u) or "A" <= chr(u) <= "Z" for u in range(0x80))


@settings(max_examples=300, deadline=None)
@given(st.lists(_text(_CASED_PIECES), min_size=2, max_size=8))
def test_volatile_cased_gate_passes_every_text_whose_lower_case_the_gate_passes(texts):
    lowers = [t.lower() for t in texts]
    cased = textscan.regex_gate(texts, task_fit._RARE_GATE_CASED)
    plain = textscan.regex_gate(lowers, task_fit._RARE_GATE)
    for text, lower, c, p in zip(texts, lowers, cased, plain):
        assert c or not p, text
        if any(pattern.search(lower) for pattern in task_fit._VOLATILE_PATTERNS[1:]):
            assert c, text


@settings(max_examples=400)
@given(_text(_CASED_PIECES))
def test_symbol_prices_are_the_matches_of_the_lower_cased_text(text):
    if textscan.has_digit(text):
        assert task_fit._symbol_prices(text) == task_fit._volatile_matches(text, text.lower(), False)
        assert task_fit._symbol_prices(text) == [(k, m) for k, m in _volatile_reference(text)
                                                  if task_fit._VOLATILE_PATTERNS[0].match(m.lower())]
    assert textscan.has_digit(text) == textscan.has_digit(text.lower())


@settings(max_examples=200, deadline=None)
@given(st.lists(_text(_CASED_PIECES + ["5 ", "inr", "Eur"]), min_size=2, max_size=8))
def test_price_gate_cased_passes_every_input_with_a_price(texts):
    gate = textscan.regex_gate(texts, task_fit._PRICE_GATE_CASED)
    for text, passed in zip(texts, gate):
        if task_fit._price_in(text.lower()):
            assert passed, text


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["system", "user", "assistant", "tool"]), _text(_CASED_PIECES, max_size=5)), max_size=6))
def test_input_text_is_the_examples(turns):
    from tunelint.models import Example, Role, Turn

    built = tuple(Turn(Role(role), content, f"/{n}") for n, (role, content) in enumerate(turns))
    example = Example("train", "x", 0, 1, "chat", built, "0" * 16)
    assert task_fit._input_text(built) == example.input_text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_text(_CASED_PIECES + ["12 Dollars ", "$5", "Euros"], max_size=12),
                          _text(_CASED_PIECES + ["12 dollars ", "$5", "5 EUROS"], max_size=12)), min_size=9, max_size=24))
def test_volatile_detect_many_on_cased_text_is_detect_per_example(pairs):
    _volatile_batch_is_per_example(pairs)


_WORD_PRICE_PIECES = [
    "5", "12", "1,200", ",", ".", ".5", " ", "  ", "\u00a0", "\n", "usd", "eur", "euros", "dollars", "pounds", "gbp", "inr",
    "x", "a", "s", "٣", " per month", "/", "a year", "-", "_",
]


@settings(max_examples=500)
@given(_text(_WORD_PRICE_PIECES, max_size=30))
def test_word_prices_are_the_patterns_finditer(text):
    pattern = task_fit._VOLATILE_PATTERNS[1]
    assert [m.span() for m in task_fit._word_prices(text)] == [m.span() for m in pattern.finditer(text)]


_EQUATION_PIECES = list("0123456789") * 3 + list("+-*/ = x,.") + ["a", " ", "\n", "$", "−", "×", "÷", "^", "٣", "%"]


@settings(max_examples=500)
@given(_text(_EQUATION_PIECES, max_size=50))
def test_equations_are_the_patterns_finditer(text):
    found = [(m.span(), m.groups()) for m in task_fit._equations(text)]
    assert found == [(m.span(), m.groups()) for m in task_fit._EQUATION.finditer(text)]


_NUMBER_RUN_PIECES = list("0123456789") * 2 + list("-,. a") + ["1,234", "-5", ".5", "12.50", "٣", "²", "\n", "−", ""]


@settings(max_examples=500)
@given(_text(_NUMBER_RUN_PIECES, max_size=30), st.lists(_text(_NUMBER_RUN_PIECES, max_size=4), max_size=4))
def test_among_numbers_is_membership_in_findall(text, others):
    numbers = set(task_fit._NUMBER.findall(text))
    for number in numbers | {n for o in others for n in task_fit._NUMBER.findall(o)} | {"1", "23", "-5", "1,234", "٣"}:
        assert task_fit._among_numbers(number, text) == (number in numbers), (number, text)


@settings(max_examples=300)
@given(_text(_EQUATION_PIECES + [" of ", "the sum of", "Square Root of", "MEAN OF", "ſum of", " X "], max_size=30))
def test_expression_in_is_the_old_search(text):
    assert task_fit._expression_in(text) == (task_fit._EXPR_IN_INPUT.search(text) is not None)


@settings(max_examples=200, deadline=None)
@given(st.lists(_text(_EQUATION_PIECES + [" of ", "the sum of", "Square Root of", "MEAN OF", "ſum of", " X ", "\u00a0", "K"],
                      max_size=30), min_size=2, max_size=8))
def test_expression_batch_gate_passes_every_input_with_an_expression(texts):
    gate = textscan.regex_gate(texts, task_fit._EXPR_GATE)
    for text, may in zip(texts, gate):
        if task_fit._expression_in(text):
            assert may, text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_text(_EQUATION_PIECES + [" of ", "the sum of", "what is "], max_size=20),
                          _text(_EQUATION_PIECES + [" so ", "="], max_size=20)), min_size=2, max_size=8))
def test_calculations_detect_many_is_detect_per_example(pairs):
    from tunelint.models import Example, Role, Turn

    examples = [
        Example("train", "x", i, i + 1, "chat", (Turn(Role.USER, q, "/0"), Turn(Role.ASSISTANT, a, "/1")), f"{i:016x}")
        for i, (q, a) in enumerate(pairs)
    ]
    one, many = task_fit.Calculations(), task_fit.Calculations()
    assert many.detect_many(examples) == [one.detect(e) for e in examples]
    assert (one.checked, one.wrong_count, one.wrong) == (many.checked, many.wrong_count, many.wrong)


def _verify_reference(a: str, op: str, b: str, result: str) -> bool | None:
    x, y, r = task_fit._number(a), task_fit._number(b), task_fit._number(result)
    if x is None or y is None or r is None:
        return None
    if op in "+":
        value = x + y
    elif op in "-−":
        value = x - y
    elif op in "×x*":
        value = x * y
    elif op in "/÷":
        if y == 0:
            return None
        value = x / y
    else:
        return None
    decimals = len(result.split(".")[1]) if "." in result else 0
    tolerance = Fraction(1, 10**decimals) if decimals else Fraction(1, 2)
    return abs(value - r) <= tolerance


_NUMBER = st.from_regex(r"\A-?\d{1,4}(?:,\d{3})?(?:\.\d{1,2})?\Z").filter(lambda s: "\n" not in s)


@given(_NUMBER, st.sampled_from(list("+-−×x*/÷^")), _NUMBER, st.sampled_from(["", "$"]), _NUMBER)
def test_verify_without_fractions_gives_the_same_verdict(a, op, b, dollar, result):
    assert task_fit._verify(a, op, b, dollar + result) == _verify_reference(a, op, b, dollar + result)
    if op in "+-*":
        x, y = Fraction(a.replace(",", "")), Fraction(b.replace(",", ""))
        exact = str(x + y if op == "+" else x - y if op == "-" else x * y)
        exact = exact if "/" not in exact else str(float(Fraction(exact)))
        assert task_fit._verify(a, op, b, exact) == _verify_reference(a, op, b, exact)


# ------------------------------------------------------------------------------ refusal-rate


def _language_reference(text: str) -> str:
    """_shapes.language as it was: a Python loop over the characters, then a vote."""
    import unicodedata

    sample = text[:600]
    scripts: dict[str, int] = {}
    latin = 0
    for ch in sample:
        if not ch.isalpha():
            continue
        if ch.isascii():
            latin += 1
            continue
        name = unicodedata.name(ch, "")
        for prefix, lang in _shapes._SCRIPTS:
            if name.startswith(prefix) or (prefix == "CJK" and "CJK" in name):
                scripts[lang] = scripts.get(lang, 0) + 1
                break
        else:
            latin += 1
    if not latin and not scripts:
        return "none"
    best_script = max(scripts.items(), key=lambda kv: kv[1]) if scripts else None
    if best_script and best_script[1] > latin:
        return "ja" if best_script[0] == "zh" and scripts.get("ja") else best_script[0]
    words = [w.lower() for w in _shapes._WORD.findall(sample)]
    votes = {lang: sum(1 for w in words if w in stop) for lang, stop in _shapes._STOPWORDS.items()}
    lang, score = max(votes.items(), key=lambda kv: (kv[1], kv[0] == "en"))
    if lang != "en" and score < votes["en"] + 2:
        lang, score = "en", votes["en"]
    return lang if score >= 2 or (score and len(words) < 8) else "latin"


_LANGUAGE_PIECES = (
    "the de la que a e o não und der le il het ¹ ² ٣ ı İ ſ é 漢 字 ひ カ 한 Ж ع ש α क ก , . 1 ! ’ _ "
    "As an AI, I cannot I'm sorry, but I can't We must decline Unfortunately"
).split(" ") + [" ", " ", "\n", "x" * 30]


@settings(max_examples=500)
@given(_text(_LANGUAGE_PIECES, max_size=80))
def test_language_and_refusal_are_what_they_were(text):
    assert _shapes.language(text) == _language_reference(text)
    head = text.strip()[:300].replace("\u2019", "'")
    assert _shapes.is_refusal(text) == bool(_shapes._REFUSALS.search(head))


_BATCH_LANGUAGE_PIECES = _LANGUAGE_PIECES + [
    "nicht", "nichts", "sich", "thee", "THE", "Und", "\x01", "\x00", "é", "the and is " * 30, "el la de " * 25, "?",
    "\u212a", "i\u212a", "N\u00c3O", "n\u00e3o", "Σ", "ΘΕΣ", "\u01c5", "\u1e9e", "\ufb00", "Ⅻ", "\u00a0", "\u2028", "x", "theé",
    "é" * 40, "漢字" * 20, "Ж" * 30,
]


@settings(max_examples=300)
@given(st.lists(_text(_BATCH_LANGUAGE_PIECES, max_size=60), max_size=8))
def test_languages_of_a_list_are_each_language(texts):
    assert _shapes.languages(texts) == [_shapes.language(t) for t in texts]


def test_no_character_lower_cases_to_several_ascii_characters():
    # _shapes._ascii_sample writes "x" for a letter that does not lower-case to one ASCII letter:
    # right only if no character lower-cases to a run of ASCII letters that could make a word.
    for ch in _ALL_CHARS:
        low = ch.lower()
        assert len(low) == 1 or not low.isascii(), ch
    assert not any("x" in w for w in _shapes._ALL_STOP)


def test_refusal_rate_counts_a_batch_as_it_counts_each_example():
    from tunelint.checks.refusal_rate import RefusalRate
    from tunelint.models import Example, Role, Turn

    outputs = ["I'm sorry, but I can't help with that.", None, "Sure: 1. a\n2. b", "", '{"a": 1}', "Hola, el perro es de la casa",
               "As an AI, I cannot do that.", None, "   ", "The answer is 4."]
    examples = []
    for i, out in enumerate(outputs):
        turns = (Turn(Role.USER, "Hi", "/0"),) + (() if out is None else (Turn(Role.ASSISTANT, out, "/1"),))
        examples.append(Example("train", "x", i, i + 1, "chat", turns, f"{i:016x}"))
    one, many = RefusalRate(), RefusalRate()
    for e in examples:
        one.observe(e)
    many.observe_batch(examples[:4])
    many.observe_batch(examples[4:])
    assert [list(one.finish()), one.metrics] == [list(many.finish()), many.metrics]
    # The refusals listed are the first two outputs that decline: examples 0 and 6.
    assert [loc.index for loc in one._refusals] == [loc.index for loc in many._refusals] == [0, 6]


# ------------------------------------------------------------------------------ repetition batch gate

_TANDEM_PIECES = _RUN_PIECES + ["\u00a0", "\u3000", "\u2003", "\x1c", "ab ", "a b", "\r\n", "é é", "ha!", "漢字"]


@settings(max_examples=300)
@given(st.lists(_text(_TANDEM_PIECES, max_size=30), min_size=1, max_size=6), st.sampled_from([2, 3, 5]))
def test_tandem_candidates_keep_every_text_with_a_reported_run(texts, copies):
    check = content.DegenerateRepetition(content.DegenerateRepetition.Options(min_repeats=copies, min_share=0.0))
    flagged = textscan.tandem_candidates(texts, copies)
    for text, may in zip(texts, flagged):
        if check._run_repetition(text) is not None:
            assert may, text


def test_tandem_candidates_flag_runs_and_pass_prose():
    texts = [
        "The router restarts when you hold the reset button for ten seconds.",
        "Eat a banana! Eat a banana!  Eat a banana!\tEat a banana!Eat a banana!",
        "déjà vu déjà vu\u00a0déjà vu déjà vu déjà vu",
        "Short, ordinary prose with a few words and nothing repeated back to back at all.",
    ]
    assert textscan.tandem_candidates(texts, 5).tolist() == [False, True, True, False]


# ------------------------------------------------------------------------------ fast-outputs pass


def _plain_line_repetition(check, text):
    """DegenerateRepetition._line_repetition as first written (the reference)."""
    lines = [x for x in (line.strip() for line in text.splitlines()) if x]
    if len(lines) >= check.options.min_repeats:
        line, count = Counter(lines).most_common(1)[0]
        if count >= check.options.min_repeats and len(line.split()) >= 3 and not content._TRIVIAL_LINE.match(line):
            share = count * len(line) / max(1, sum(len(x) for x in lines))
            if share >= check.options.min_share:
                return line, count, share, "line"
    return None


_LINE_PIECES = ["the same line here", "\n", "\n\n", " ", "\t", "\r\n", "\r", "\x0b", "\x1c", "\x85", "\u2028", "\u3000", "a b c", "x", "!!"]


@settings(max_examples=300)
@given(_text(_LINE_PIECES, max_size=60), st.sampled_from([2, 3, 5]), st.sampled_from([0.0, 0.3]))
def test_line_repetition_is_the_plain_count(text, k, share):
    check = content.DegenerateRepetition(content.DegenerateRepetition.Options(min_repeats=k, min_share=share))
    assert check._line_repetition(text) == _plain_line_repetition(check, text)


def _plain_mid_sentence(check, text):
    """TruncatedOutput._mid_sentence as first written (the reference): the last line found by
    splitting the text."""
    if not text:
        return None
    last = text.splitlines()[-1].strip()
    if content._SENTENCE_END.search(last[-1:]) or content._LIST_OR_HEAD.match(last):
        return None
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    sentences = re.split(r"(?<=[.!?])\s+", last)
    words = sentences[-1].split()
    if len(words) < check.options.min_words or len(text.split()) < 2 * check.options.min_words:
        return None
    end = words[-1]
    cut_word = end.isalpha() and end.islower() and not any(ch.isdigit() for ch in words[-2])
    if not (cut_word or end[-1:] in ",-–"):
        return None
    others = [p.splitlines()[-1].strip() for p in paragraphs[:-1]]
    if others:
        punctuated = sum(bool(content._SENTENCE_END.search(o[-1:])) for o in others) / len(others)
        if punctuated < 0.8:
            return None
    elif len(sentences) < 3:
        return None
    return "mid-sentence", f"it ends mid-sentence ({' '.join(words[-4:])!r})"


_CUT_PIECES = ["It ends here", " and then the", ".", ",", "\n", "\n\n", " ", "\r", "\u2028", "\x1c", "- item", "1. one", "🙂", "”", "Word"]


@settings(max_examples=300)
@given(_text(_CUT_PIECES, max_size=40))
def test_truncated_output_mid_sentence_is_the_plain_form(text):
    check = content.TruncatedOutput(content.TruncatedOutput.Options(min_words=3))
    assert check._mid_sentence(text.strip()) == _plain_mid_sentence(check, text.strip())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_text(_CONTEXT_PIECES, max_size=8), max_size=3), min_size=2, max_size=6))
def test_missing_context_batch_with_any_number_of_user_turns(users):
    from tunelint.checks._batch import Batch
    from tunelint.models import Example, Role, Turn

    examples = []
    for i, texts in enumerate(users):
        turns = []
        for j, t in enumerate(texts):
            turns += [Turn(Role.USER, t, f"/{2 * j}"), Turn(Role.ASSISTANT, "ok", f"/{2 * j + 1}")]
        examples.append(Example("train", "x", i, i + 1, "chat", tuple(turns) or (Turn(Role.ASSISTANT, "ok", "/0"),), f"{i:016x}"))
    check = content.MissingContext()
    assert list(check.check_many(Batch(examples))) == [f for e in examples for f in check.check(e)]


_ONE_BYTE_PIECES = _TANDEM_PIECES + ["ÿ", "\x85", "’", "ÿ ÿ", "’’’ ", "α×β", "\u2028", "\ud800", "😀", "漢字漢字", "°C"]


@settings(max_examples=400)
@given(st.lists(_text(_ONE_BYTE_PIECES, max_size=30), min_size=1, max_size=6), st.sampled_from([2, 3, 5]))
def test_repeat_candidates_keep_every_text_with_a_reported_run(texts, copies):
    check = content.DegenerateRepetition(content.DegenerateRepetition.Options(min_repeats=copies, min_share=0.0))
    flagged = textscan.repeat_candidates(texts, copies)
    for text, may in zip(texts, flagged):
        if check._run_repetition(text) is not None:
            assert may, text


def test_repeat_candidates_flag_runs_in_mostly_ascii_and_wide_texts():
    texts = [
        "The router restarts when you hold the reset button for ten seconds.",
        "Temperatures: 20°C today — “fine” weather, ’tis true.",
        "’’’ ’’’\u00a0’’’\u3000’’’ ’’’ and then some ordinary words after it",
        "ÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿ followed by prose",
        "漢字かな漢字かな漢字かな漢字かな漢字かな",
        "α×β = γ: nothing repeats back to back in this line of text.",
    ]
    assert textscan.repeat_candidates(texts, 5).tolist() == [False, False, True, True, True, False]


def _has_stretch(text: str, repeats: int, shortest: int, longest: int) -> bool:
    """The plain claim the tandem passes test: with whitespace removed, some d in
    [shortest, longest] has repeats * d consecutive positions x where text[x] == text[x + d]."""
    s = "".join(ch for ch in text if not ch.isspace())
    for d in range(shortest, longest + 1):
        run = 0
        for x in range(len(s) - d):
            run = run + 1 if s[x] == s[x + d] else 0
            if run >= repeats * d:
                return True
    return False


_STRETCH_PIECES = ["ab", "a", "b", "abc", "ba", " ", "\n", "é", "ÿ", "漢", "\u00a0", "xyzw", "abcdefgh" * 2, "ab" * 9, "q"]


@settings(max_examples=400, deadline=None)
@given(st.lists(_text(_STRETCH_PIECES, max_size=40), min_size=1, max_size=5), st.sampled_from([2, 3, 5]),
       st.integers(1, 6), st.integers(0, 20))
def test_candidates_flag_every_text_with_a_stretch(texts, copies, shortest, span):
    # Both passes (one byte per character, in windows of 8, 4, 2 bytes or one; and four bytes
    # per character) against the brute-force stretch test, for every period range.
    longest = shortest + span
    for one_byte in (True, False):
        flagged = textscan._candidates(texts, copies, shortest, longest, one_byte=one_byte)
        for text, may in zip(texts, flagged):
            if _has_stretch(text, copies - 1, shortest, longest):
                assert may, (text, copies, shortest, longest, one_byte)


def test_one_byte_error_handler_gives_no_whitespace_and_no_0xff():
    everything = "".join(chr(c) for c in range(0x100, 0x110000) if not 0xD800 <= c < 0xE000)
    out = everything.encode("latin-1", textscan._ONE_BYTE)
    assert out and b"\xff" not in out and not any(chr(b).isspace() for b in set(out))
    assert len(out) == sum(not ch.isspace() for ch in everything)


_REFERENCE_PIECES = [
    "the", "This", "THESE", "that", "The attached", " ", "\t", "  ", "\u00a0", "\n", "following", "Given", "provided",
    "attached", "above", "below", "accompanying", "enclosed", "linked", "two", "short-", "long", "é", "_", "3", ",",
    "text", "Passage", "e-mail", "email", "web page", "webpage", "web  page", "blog post", "sentences", "audio clip",
    "image", "ſ", "\u212a", "İ", "ı", "lin\u212aed", "thiſ", "fiLe", "Summarize the following article:",
]


@settings(max_examples=500)
@given(_text(_REFERENCE_PIECES, max_size=12))
def test_context_gate_passes_every_reference(text):
    if content._REFERENCE.search(text) is not None:
        assert textscan.regex_gate([text, ""], content._CONTEXT_GATE)[0], text


def test_sentence_end_chars_are_the_patterns_single_characters():
    ranges = [chr(c) for c in range(0x2600, 0x27C0)] + [chr(c) for c in range(0x1F300, 0x1FB00)]
    for ch in [chr(c) for c in range(0x3000)] + ranges:
        fast = ch in content._SENTENCE_END_CHARS or "\u2600" <= ch <= "\u27bf" or "\U0001f300" <= ch <= "\U0001faff"
        assert fast == bool(content._SENTENCE_END.search(ch)), ch


@settings(max_examples=300)
@given(_text(_CUT_PIECES + ["{", "[", "```", "~~~", "}", " ", "\x1c"], max_size=30))
def test_truncated_output_batch_is_cut_per_text(text):
    from tunelint.checks._batch import Batch
    from tunelint.models import Example, Role, Turn

    check = content.TruncatedOutput(content.TruncatedOutput.Options(min_words=3))
    examples = [Example("train", "x", i, i + 1, "chat", (Turn(Role.USER, "Hi", "/0"), Turn(Role.ASSISTANT, t, "/1")), f"{i:016x}")
                for i, t in enumerate([text, text + ".", "ok"])]
    expected = [e.index for e in examples if check._cut(e.turns[1].content) is not None]
    assert [f.location.index for f in check.check_many(Batch(examples))] == expected


def _plain_after(text: str, end: int) -> str | None:
    """content._after as it was: the rest of the text copied, material split into words."""
    rest = text[end:]
    m = content._MATERIAL_START.search(rest)
    if m is None:
        return None
    start = m.start() if m.group() in "\"“'‘" else m.end()
    material = rest[start:].strip()
    return material if len(material.split()) >= 1 and any(c.isalnum() for c in material) else None


_AFTER_PIECES = ["text", " ", "\n", ":", ".", "?", "!", '"', "“", "'", "‘", "a", "1", "\u2003", "\u3000", "\x85", "\x1c", "é", "_", "-", "\t"]


@settings(max_examples=400)
@given(_text(_AFTER_PIECES, max_size=20), st.integers(min_value=0, max_value=25))
def test_after_is_the_plain_form(text, end):
    assert content._after(text, end) == _plain_after(text, end)


# ------------------------------------------------------------------------------ content gate on Hyperscan

_HS_PIECES = _GATE_PIECES + [
    "١. Output:", "٣)input :", "²) Instruction:", "\u3000", "\u2028", "\x85", "é", "日本", "<\u2003insert\u00a0your\u2003answer>",
    "[\u3000put  the\u2029text]", "INSTRUCTION:", "i CAN'T HELP", "As An Ai", "AS A LARGE LANGUAGE MODEL", "I Am Merely An Ai",
    "I'M UNABLE TO provide", "i Won't Comply", "\u212a", "ſ", "ı", "İ", "#\u00a0#", "##\tInput", "<|", "[/INST]", "```\n",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(_text(_HS_PIECES), min_size=2, max_size=8))
def test_content_hyperscan_gate_passes_every_text_the_re2_gate_passes(texts):
    if not content._CONTENT_HS.runs():
        return  # no Hyperscan here: the gate is RE2's
    hs = content._content_gate(texts)
    re2 = textscan.regex_gate(texts, content._CONTENT_GATE)
    assert hs is not None and re2 is not None and len(hs) == len(texts)
    for text, fast, plain in zip(texts, hs, re2):
        if plain or _gate_reference(text):
            assert fast, text


def test_content_hyperscan_gate_passes_the_odd_case_letters_and_each_part():
    if not content._CONTENT_HS.runs():
        return
    odd = [ch for ch in re.compile("[a-z]", re.IGNORECASE).findall(_ALL_CHARS) if not ch.isascii()]
    texts = [f"plain words {ch} more" for ch in odd] + ["nothing to see here", "Sorry, I cannot help with that.",
                                                        "x\n3 ) Output :", "see ## Response", "a {{name}} b", "[ enter the text ]"]
    gate = content._content_gate(texts)
    assert gate == [True] * len(odd) + [False] + [True] * 5


def test_content_gate_falls_back_to_re2(refusing_content_gate):
    texts = ["As an AI language model, no.", "fine", "User: hi"]
    assert content._content_gate(texts) == textscan.regex_gate(texts, content._CONTENT_GATE) == [True, False, True]
