"""Tests for tunelint.similarity: normalisation, word hashing, shingles, MinHash, LSH, clusters."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.similarity import (
    EMPTY_SIGNATURE_VALUE,
    MinHasher,
    Ragged,
    TokenHasher,
    clusters,
    datasketch_signature,
    estimated_jaccard,
    estimated_jaccard_pairs,
    exact_jaccard,
    exact_jaccard_pairs,
    lsh_candidate_pairs,
    lsh_params,
    ngram_hashes,
    ngram_rows,
    normalise,
    shingle_rows,
    shingles,
    tokenize,
    verify_pairs,
)
from tunelint.similarity import text as _text
from tunelint.similarity.text import _WIDE_SPACES, normalised_bytes

ALPACA = (
    Path(__file__).resolve().parents[2]
    / "shared/datasets/instruct/fastchat/alpaca_data_cleaned_1000.json"
)
THRESHOLD = 0.8


# --------------------------------------------------------------------------- normalise, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "ＦＵＬＬ　ｗｉｄｔｈ １２３",
            "full width 123",
        ),  # NFKC: fullwidth forms and ideographic space
        ("Hello WORLD", "hello world"),
        ("Straße ΣΊΣΥΦΟΣ", "strasse σίσυφοσ"),  # casefold, not lower
        ("  a\t\tb\n\n c\r\n", "a b c"),
        ("non\u00a0breaking\u2003space", "non breaking space"),
        ("ﬁne ﬂour", "fine flour"),  # ligatures decomposed by NFKC
        ("", ""),
        (" \n\t ", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_is_idempotent() -> None:
    text = "  Ｍｉｘｅｄ\tCASE  and   Straße\n"
    assert normalise(normalise(text)) == normalise(text) == "mixed case and strasse"


def _plain_normalise(text: str) -> str:
    """normalise() as first written: NFKC, case folding, str.split and join."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# Whitespace of every kind (ASCII, the separators str.split knows, the Unicode spaces NFKC
# turns into a space and those it keeps), case-folding corner cases, NFKC forms, a lone
# surrogate, NUL.
_NORMALISE_PIECES = [
    "a", "B", "word", "Ab", " ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e",
    "\x1f", "\x85", "\xa0", "\u1680", "\u2000", "\u2003", "\u200a", "\u2028", "\u2029", "\u202f",
    "\u205f", "\u3000", "\u180e", "\u200b", "İ", "ı", "ſ", "\u212a", "ß", "Σ", "ς", "ﬁ", "Ｆ", "①", "é",
    "e\u0301", "\u0301", "\ud800", "\x00", "😀", "٣", "²", "Ⅻ", "É", "Ω", "ǅ", "’", "–", "ﬀ",
]


@given(st.lists(st.sampled_from(_NORMALISE_PIECES), max_size=30).map("".join))
@settings(max_examples=400)
def test_normalise_equals_the_plain_definition(text: str) -> None:
    expected = _plain_normalise(text)
    assert normalise(text) == expected
    assert normalised_bytes(text) == expected.encode("utf-8", "surrogatepass")


@given(st.lists(st.one_of(st.lists(st.sampled_from(_NORMALISE_PIECES), max_size=12).map("".join),
                          st.text(alphabet=st.characters(codec="utf-8"), max_size=20)), max_size=8))
@settings(max_examples=300)
def test_normalised_many_equals_one_text_at_a_time(texts: list[str]) -> None:
    normal, nfkc = _text.normalised_many(texts)
    assert normal == [normalised_bytes(t) for t in texts]
    assert nfkc == [_text._nfkc(t) for t in texts]
    hasher = TokenHasher()
    done, plain = hasher.hash_texts(nfkc, nfkc_done=True), hasher.hash_texts(texts)
    np.testing.assert_array_equal(done.values, plain.values)
    np.testing.assert_array_equal(done.offsets, plain.offsets)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
@settings(max_examples=300)
def test_normalise_equals_the_plain_definition_on_any_text(text: str) -> None:
    assert normalise(text) == _plain_normalise(text)


def test_wide_spaces_are_the_whitespace_that_survives_nfkc_and_case_folding() -> None:
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    spaces = {c for c in re.findall(r"\s", every) if not c.isascii()}
    assert all(c.isspace() for c in spaces)
    kept = {c for c in spaces if _plain_normalise("a" + c + "b") != "a b"}
    assert kept == set()  # normalise() still turns them into a space
    survivors = {c for c in spaces if unicodedata.normalize("NFKC", c).casefold() == c}
    assert survivors == set(_WIDE_SPACES)
    # Case folding neither makes nor removes whitespace.
    every_space = "".join(c for c in re.findall(r"\s", every))
    assert every_space.casefold() == every_space
    assert re.search(r"\s", re.sub(r"\s", "", every).casefold()) is None


def test_tokenize_drops_punctuation_keeps_digits_and_underscores() -> None:
    assert tokenize("Hello, World! It's 42 — snake_case… ok?") == [
        "hello",
        "world",
        "it",
        "s",
        "42",
        "snake_case",
        "ok",
    ]
    assert tokenize("!!! ... ???") == []


# --------------------------------------------------------------------------- word hashing

MIXED_TEXTS = [
    "The quick brown fox, jumps over the lazy dog.",
    "",
    "?!",
    "Ünïcödé and ASCII; Straße, İstanbul, ΣΊΣΥΦΟΣ",
    "ＦＵＬＬ ｗｉｄｔｈ text",
    "lone surrogate a\ud800b",
    "日本語のテキスト と english",
    "emoji 🙂 between words",
]


def test_bulk_word_hashes_equal_hashes_of_tokenize() -> None:
    hasher = TokenHasher()
    rows = hasher.hash_texts(MIXED_TEXTS)
    assert len(rows) == len(MIXED_TEXTS)
    for index, text in enumerate(MIXED_TEXTS):
        expected = hasher.hash_tokens(tokenize(text))
        assert rows.row(index).dtype == np.uint64
        np.testing.assert_array_equal(rows.row(index), expected)
    assert rows.lengths().tolist() == [9, 0, 0, 7, 3, 4, 3, 3]


def test_word_hashes_ignore_case_width_and_spacing_but_not_words() -> None:
    hasher = TokenHasher()
    np.testing.assert_array_equal(
        hasher.hash_text("Hello,  WORLD"), hasher.hash_text("hello world")
    )
    np.testing.assert_array_equal(hasher.hash_text("ｈｅｌｌｏ"), hasher.hash_text("hello"))
    hello, world = hasher.hash_text("hello world")
    assert hello != world
    assert hasher.hash_text("world hello").tolist() == [world, hello]


def test_word_hashes_do_not_depend_on_batching() -> None:
    hasher = TokenHasher()
    texts = [
        f"text number {i} " * (i % 50) + MIXED_TEXTS[i % len(MIXED_TEXTS)] for i in range(3000)
    ]
    together = hasher.hash_texts(texts)
    apart = Ragged.concatenate([hasher.hash_texts(texts[:1234]), hasher.hash_texts(texts[1234:])])
    np.testing.assert_array_equal(together.offsets, apart.offsets)
    np.testing.assert_array_equal(together.values, apart.values)
    # and with a fresh hasher (its power tables grow differently)
    np.testing.assert_array_equal(TokenHasher().hash_texts(texts[::-1]).row(0), together.row(2999))


def test_huge_text_hashes_like_small_ones() -> None:
    hasher = TokenHasher()
    huge = "Word, " * 500_000 + "End"  # 3 million characters: longer than the kept tables
    hashes = hasher.hash_text(huge)
    word, end = hasher.hash_tokens(["word", "end"])
    assert len(hashes) == 500_001
    assert np.all(hashes[:-1] == word) and hashes[-1] == end
    assert hasher.hash_normalised([huge])[0] == hasher.hash_normalised([normalise(huge)])[0]
    grams = ngram_rows(hasher.hash_texts([huge, "word " * 13]), n=13)
    assert np.all(grams.row(0)[:-1] == grams.row(1)[0])


def test_seed_changes_hashes() -> None:
    assert TokenHasher(seed=0).hash_text("word")[0] != TokenHasher(seed=1).hash_text("word")[0]


def test_normalised_hashes_are_equal_exactly_when_normalise_is() -> None:
    variants = [
        "Hello  World",
        "hello world",
        " HELLO\tWORLD\n",
        "ｈｅｌｌｏ　ｗｏｒｌｄ",
        "hello\u00a0world",
        "hello, world",
        "helloworld",
        "hello world.",
        "",
        "   \n ",
        "Straße",
        "STRASSE",
        "strasse ",
        "İstanbul",
        "i̇stanbul",
        "a\x00b",
        "ab",
        "nul\x00",
        "nul",
    ]
    outputs = _alpaca_outputs(min_words=1)[:300]
    texts = (
        variants
        + outputs
        + [f"  {t.upper()}\n\n" for t in outputs[:100]]
        + [t + "." for t in outputs[:50]]
    )
    keys = TokenHasher().hash_normalised(texts)
    assert keys.dtype == np.uint64 and keys.shape == (len(texts),)
    by_key: dict[int, set[str]] = defaultdict(set)
    by_text: dict[str, set[int]] = defaultdict(set)
    for text, key in zip(texts, keys.tolist(), strict=True):
        by_key[key].add(normalise(text))
        by_text[normalise(text)].add(key)
    assert all(len(group) == 1 for group in by_key.values())
    assert all(len(group) == 1 for group in by_text.values())
    assert keys[0] == keys[1] == keys[2] == keys[3] == keys[4]
    assert len({keys[1], keys[5], keys[6], keys[7]}) == 4
    assert keys[8] == keys[9]
    assert keys[10] == keys[11] == keys[12]
    assert keys[13] == keys[14]
    assert keys[15] != keys[16] and keys[17] != keys[18]


def test_normalised_hashes_do_not_depend_on_batching() -> None:
    hasher = TokenHasher()
    texts = [f"  Text {i}\n" * (i % 40) + MIXED_TEXTS[i % len(MIXED_TEXTS)] for i in range(3000)]
    together = hasher.hash_normalised(texts)
    np.testing.assert_array_equal(
        together,
        np.concatenate([hasher.hash_normalised(texts[:777]), hasher.hash_normalised(texts[777:])]),
    )
    ascii_only = [t for t in texts if t.isascii()]
    np.testing.assert_array_equal(
        hasher.hash_normalised(ascii_only), together[[t.isascii() for t in texts]]
    )
    assert len(hasher.hash_normalised([])) == 0


def test_case_folding_is_idempotent_over_all_code_points() -> None:
    """The bulk paths fold a text once with str.casefold when a character folds to several
    characters, and rely on the result folding to itself."""
    every_char = (
        "".join(map(chr, range(0x110000)))
        .encode("utf-32-le", "surrogatepass")
        .decode("utf-32-le", "surrogatepass")
    )
    assert every_char.casefold().casefold() == every_char.casefold()


def _plain_word_entry(c: int) -> int:
    folded = chr(c).casefold()
    if len(folded) != 1:
        return int(_text._FOLDS_TO_SEVERAL)
    return ord(folded) if re.match(r"\w", folded) else 0


def _plain_normalise_entry(c: int) -> int:
    if re.match(r"\s", chr(c)):
        return 32
    folded = chr(c).casefold()
    return ord(folded) if len(folded) == 1 else int(_text._FOLDS_TO_SEVERAL)


def test_lazy_code_point_tables_equal_the_whole_tables() -> None:
    """The bulk paths fill their tables a few code points at a time: every entry equals the
    whole table's, whatever the order and grouping of the lookups."""
    every = np.arange(0x110000, dtype=np.uint32)
    words, normal = _text._word_table(), _text._normalise_table()
    special = np.array([0, 9, 10, 32, 0x85, 0xA0, 0x130, 0x131, 0x17F, 0xDF, 0x212A, 0x1E9E,
                        0x2028, 0xD800, 0xDFFF, 0x10FFFF], dtype=np.uint32)
    rng = np.random.default_rng(3)
    sample = np.concatenate([special, rng.choice(every, 2000, replace=False).astype(np.uint32)])
    for c in sample.tolist():
        assert words[c] == _plain_word_entry(c), hex(c)
        assert normal[c] == _plain_normalise_entry(c), hex(c)
    for table, whole in ((_text._LazyTable(_text._word_entries), words),
                         (_text._LazyTable(_text._normalise_entries), normal)):
        order = rng.permutation(every)
        for part in [special, *np.array_split(order, 13)]:
            # repeats and known entries in the same lookup
            looked = np.concatenate([part, part[:5], special])
            chars, several = table.take(looked)
            np.testing.assert_array_equal(chars, whole[looked])
            assert several == bool((whole[looked] == _text._FOLDS_TO_SEVERAL).any())
    # More new code points than _EAGER_AFTER at once: the whole table in one go.
    eager = _text._LazyTable(_text._word_entries)
    chars, _ = eager.take(every[::-1].copy())
    np.testing.assert_array_equal(chars, words[::-1])


# --------------------------------------------------------------------------- shingles, n-grams


def test_shingles_counts_and_short_texts() -> None:
    hasher = TokenHasher()
    ten = hasher.hash_text("one two three four five six seven eight nine ten")
    assert len(shingles(ten, k=5)) == 6
    three = hasher.hash_text("one two three")
    assert len(shingles(three, k=5)) == 1
    assert len(shingles(hasher.hash_text("..."), k=5)) == 0
    # a repeated phrase gives repeated shingles, which are returned once, sorted
    repeated = shingles(hasher.hash_text("a b c d e a b c d e"), k=5)
    assert len(repeated) == 5
    assert np.all(np.diff(repeated.astype(np.float64)) > 0)


def test_shingle_rows_match_per_text_shingles() -> None:
    hasher = TokenHasher()
    texts = ["a b c d e f g", "x", "", "p q r s t", "a b c d e"]
    rows = shingle_rows(hasher.hash_texts(texts), k=5)
    assert rows.lengths().tolist() == [3, 1, 0, 1, 1]
    for index, text in enumerate(texts):
        np.testing.assert_array_equal(
            np.unique(rows.row(index)), shingles(hasher.hash_text(text), k=5)
        )
    # the 5-gram "a b c d e" is the same shingle wherever it occurs
    assert rows.row(0)[0] == rows.row(4)[0]


def test_one_word_shingles_are_the_window_polynomial_of_each_word() -> None:
    from tunelint.similarity.hashing import mix64, running_sums, window_hashes
    from tunelint.similarity.minhash import _WINDOW_POWERS, _WINDOW_SALT

    rng = np.random.default_rng(5)
    lengths = [0, 1, 3, 0, 7, 2]
    values = rng.integers(0, 2**64, size=sum(lengths), dtype=np.uint64)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    rows = shingle_rows(Ragged(values, offsets), k=1)
    # The general definition: every one-word window read off the running sums.
    running = running_sums(values, _WINDOW_POWERS)
    positions = np.arange(len(values))
    expected = mix64(window_hashes(running, positions, positions + 1, _WINDOW_POWERS) ^ np.uint64(_WINDOW_SALT))
    np.testing.assert_array_equal(rows.values, expected)
    np.testing.assert_array_equal(rows.offsets, offsets)


def test_each_window_hashes_like_the_same_words_alone() -> None:
    rng = np.random.default_rng(4)
    rows = [rng.integers(0, 2**63, size=n, dtype=np.uint64) for n in (0, 1, 4, 5, 9, 13, 30)]
    for width in (5, 13):
        windows = ngram_rows(Ragged.from_rows(rows), n=width)
        for index, row in enumerate(rows):
            alone = [
                ngram_hashes(row[i : i + width], n=width)[0] for i in range(len(row) - width + 1)
            ]
            assert windows.row(index).tolist() == [int(v) for v in alone]
    # a short text's one shingle is its words alone, whatever follows it in the batch
    short = shingle_rows(Ragged.from_rows([rows[2], rows[6]]), k=5).row(0)
    assert short.tolist() == shingle_rows(Ragged.from_rows([rows[2]]), k=5).values.tolist()


def test_ngram_hashes_of_texts_sharing_a_13_word_run_intersect() -> None:
    hasher = TokenHasher()
    run = "the committee will publish its final report on the results of the survey next spring"
    train = hasher.hash_text(f"Background: {run}, according to the chair.")
    test = hasher.hash_text(f"Question about whether {run}?")
    other = hasher.hash_text(
        "Photosynthesis converts light energy into chemical energy stored in glucose "
        "molecules inside the chloroplasts of plant cells every single day"
    )
    train_grams, test_grams, other_grams = (ngram_hashes(h, n=13) for h in (train, test, other))
    assert len(train_grams) == len(train) - 12
    # the run has 15 words: 3 shared 13-grams
    assert len(np.intersect1d(train_grams, test_grams)) == 3
    assert len(np.intersect1d(train_grams, other_grams)) == 0
    assert len(np.intersect1d(test_grams, other_grams)) == 0
    assert len(ngram_hashes(hasher.hash_text("only five words here now"), n=13)) == 0


def test_ngram_hashes_find_exactly_the_texts_that_share_13_words() -> None:
    outputs = _alpaca_outputs(min_words=13)[:300]
    copied = outputs[:20]
    # 20 texts that quote a 13-word run of another text, 280 unrelated ones
    texts = outputs + [f"Quoting: {' '.join(tokenize(text)[3:16])} (end)" for text in copied]
    grams = ngram_rows(TokenHasher().hash_texts(texts), n=13)
    owner = np.repeat(np.arange(len(texts)), grams.lengths())
    order = np.argsort(grams.values, kind="stable")
    same = grams.values[order][1:] == grams.values[order][:-1]
    found = {
        (int(a), int(b))
        for a, b in zip(owner[order][:-1][same], owner[order][1:][same], strict=True)
        if a != b
    }
    # ground truth from the words themselves
    runs: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for index, text in enumerate(texts):
        words = tokenize(text)
        for start in range(len(words) - 12):
            runs[tuple(words[start : start + 13])].add(index)
    expected = {(a, b) for members in runs.values() for a in members for b in members if a < b}
    assert found == expected
    assert {(i, 300 + i) for i in range(20)} <= found


# --------------------------------------------------------------------------- MinHash


def test_signature_shape_dtype_and_empty_sentinel() -> None:
    minhasher = MinHasher(num_perm=64, seed=3)
    hasher = TokenHasher()
    signature = minhasher.signature(shingles(hasher.hash_text("some words to sketch here today")))
    assert signature.shape == (64,)
    assert signature.dtype == np.uint32
    empty = minhasher.signature(np.empty(0, dtype=np.uint64))
    assert np.all(empty == EMPTY_SIGNATURE_VALUE)
    assert estimated_jaccard(empty, empty) == 0.0
    assert estimated_jaccard(signature, signature) == 1.0
    assert estimated_jaccard(signature, empty) == 0.0


def test_signatures_equal_one_by_one_and_span_blocks() -> None:
    minhasher = MinHasher()
    rng = np.random.default_rng(7)
    # 20,000 shingles is wider than one block of work; empty rows in between
    arrays = [rng.integers(0, 2**63, size=n, dtype=np.uint64) for n in (3, 0, 20_000, 1, 0, 500)]
    batch = minhasher.signatures(arrays)
    assert batch.shape == (6, 128)
    for index, array in enumerate(arrays):
        expected = _reference_signature(minhasher, array)
        np.testing.assert_array_equal(batch[index], expected)
        np.testing.assert_array_equal(minhasher.signature(array), expected)


def test_signatures_of_rows_without_empty_ones_span_blocks() -> None:
    minhasher = MinHasher(num_perm=16, seed=5)
    rng = np.random.default_rng(11)
    arrays = [rng.integers(0, 2**63, size=n, dtype=np.uint64) for n in (9_000, 5, 8_200, 1, 16_384)]
    batch = minhasher.signatures(arrays)
    assert batch.shape == (5, 16) and batch.dtype == np.uint32 and batch.flags.c_contiguous
    for index, array in enumerate(arrays):
        np.testing.assert_array_equal(batch[index], _reference_signature(minhasher, array))


def _reference_signature(minhasher: MinHasher, shingle_hashes: np.ndarray) -> np.ndarray:
    """Straight from the definition: min over shingles of a*x + b mod 2**32, x = high 32 bits."""
    if len(shingle_hashes) == 0:
        return np.full(minhasher.num_perm, EMPTY_SIGNATURE_VALUE, dtype=np.uint32)
    keys = [int(value) >> 32 for value in shingle_hashes]
    return np.array(
        [
            min((a * x + b) % 2**32 for x in keys)
            for a, b in zip(minhasher._a.tolist(), minhasher._b.tolist(), strict=True)
        ],
        dtype=np.uint32,
    )


def test_exact_jaccard() -> None:
    assert exact_jaccard(np.array([1, 2, 3], np.uint64), np.array([2, 3, 4, 4], np.uint64)) == 0.5
    assert exact_jaccard(np.empty(0, np.uint64), np.empty(0, np.uint64)) == 0.0
    rows = Ragged.from_rows(
        [np.array([1, 2], np.uint64), np.array([2], np.uint64), np.array([9], np.uint64)]
    )
    np.testing.assert_array_equal(
        exact_jaccard_pairs(rows, np.array([[0, 1], [0, 2], [1, 1]])), [0.5, 0.0, 1.0]
    )
    empty = Ragged.from_rows([np.empty(0, np.uint64), np.array([5, 5], np.uint64)])
    np.testing.assert_array_equal(exact_jaccard_pairs(empty, np.array([[0, 0], [0, 1]])), [0, 0])


def test_exact_jaccard_pairs_match_one_pair_at_a_time() -> None:
    rng = np.random.default_rng(3)
    rows = [rng.integers(0, 40, size=int(rng.integers(0, 30))).astype(np.uint64) for _ in range(60)]
    ragged = Ragged.from_rows(rows)
    pairs = rng.integers(0, 60, size=(500, 2))
    expected = [exact_jaccard(rows[i], rows[j]) for i, j in pairs.tolist()]
    np.testing.assert_allclose(exact_jaccard_pairs(ragged, pairs), expected)


# --------------------------------------------------------------------------- planted pairs


def _alpaca_outputs(min_words: int) -> list[str]:
    records = json.loads(ALPACA.read_text(encoding="utf-8"))
    seen: set[str] = set()
    outputs = []
    for record in records:
        text = record["output"]
        if len(tokenize(text)) >= min_words and normalise(text) not in seen:
            seen.add(normalise(text))
            outputs.append(text)
    return outputs


def _edit_words(text: str, edits: int, vocabulary: list[str], rng: np.random.Generator) -> str:
    words = text.split(" ")
    for _ in range(edits):
        position = int(rng.integers(0, len(words)))
        action = rng.integers(0, 3)
        replacement = vocabulary[int(rng.integers(0, len(vocabulary)))]
        if action == 0:
            words[position] = replacement
        elif action == 1:
            words.insert(position, replacement)
        elif len(words) > 1:
            del words[position]
    return " ".join(words)


@pytest.fixture(scope="module")
def planted() -> dict:
    """300 real outputs and a near-copy of each with 1-6 words replaced, inserted or deleted,
    with exact Jaccard of every pair of texts that shares a shingle."""
    rng = np.random.default_rng(2024)
    originals = _alpaca_outputs(min_words=25)[:300]
    vocabulary = sorted({word for text in originals for word in text.split()})
    copies = [_edit_words(text, int(rng.integers(1, 7)), vocabulary, rng) for text in originals]
    texts = originals + copies
    order = rng.permutation(len(texts))  # copies are not next to their originals
    texts = [texts[i] for i in order]
    position = np.argsort(order)
    hasher = TokenHasher()
    shingle_sets = shingle_rows(hasher.hash_texts(texts), k=5)
    unique_rows = [np.unique(shingle_sets.row(i)) for i in range(len(texts))]
    owners: dict[int, list[int]] = defaultdict(list)
    for index, row in enumerate(unique_rows):
        for value in row.tolist():
            owners[value].append(index)
    shared: Counter = Counter()
    for members in owners.values():
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                shared[(members[a], members[b])] += 1
    exact = {
        pair: count / (len(unique_rows[pair[0]]) + len(unique_rows[pair[1]]) - count)
        for pair, count in shared.items()
    }
    minhasher = MinHasher()
    return {
        "texts": texts,
        "shingles": shingle_sets,
        "unique": unique_rows,
        "exact": exact,
        "signatures": minhasher.signature_rows(shingle_sets),
        "planted_pairs": [
            tuple(sorted((int(position[i]), int(position[i + 300])))) for i in range(300)
        ],
    }


def test_planted_pairs_cover_both_sides_of_the_threshold(planted: dict) -> None:
    values = np.array([planted["exact"].get(pair, 0.0) for pair in planted["planted_pairs"]])
    # the test is only meaningful with many pairs above, near and below the threshold
    assert (values >= THRESHOLD).sum() >= 120
    assert ((values >= THRESHOLD) & (values < 0.85)).sum() >= 30
    assert ((values < THRESHOLD) & (values >= 0.7)).sum() >= 30


def _recall_precision(found: set, truth: set) -> tuple[float, float]:
    hits = len(found & truth)
    return hits / len(truth), hits / len(found)


def test_lsh_candidates_verified_exactly_near_the_threshold(planted: dict) -> None:
    truth = {pair for pair, value in planted["exact"].items() if value >= THRESHOLD}
    candidates = lsh_candidate_pairs(planted["signatures"], *lsh_params(THRESHOLD, 128))
    asked: list[np.ndarray] = []

    def exact_shingles(rows: np.ndarray) -> Ragged:
        asked.append(rows)
        return Ragged.from_rows([planted["shingles"].row(i) for i in rows.tolist()])

    pairs, similarity = verify_pairs(planted["signatures"], candidates, THRESHOLD, exact_shingles)
    recall, precision = _recall_precision({tuple(p) for p in pairs.tolist()}, truth)
    assert recall >= 0.95
    assert precision >= 0.95
    assert np.all(similarity >= THRESHOLD)
    # only rows of pairs near the threshold were hashed again
    assert 0 < len(asked[0]) < len(np.unique(candidates))


def test_lsh_candidates_verified_by_estimate_alone(planted: dict) -> None:
    """The estimate alone is right away from the threshold and a coin toss right at it."""
    exact = planted["exact"]
    candidates = lsh_candidate_pairs(planted["signatures"], *lsh_params(THRESHOLD, 128))
    pairs, _ = verify_pairs(planted["signatures"], candidates, THRESHOLD)
    found = {tuple(p) for p in pairs.tolist()}
    clear_of_threshold = {pair for pair, value in exact.items() if abs(value - THRESHOLD) >= 0.05}
    truth = {pair for pair, value in exact.items() if value >= THRESHOLD}
    recall, precision = _recall_precision(found & clear_of_threshold, truth & clear_of_threshold)
    assert recall >= 0.95
    assert precision >= 0.95
    # over all pairs: 0.935 / 0.935 here, 0.88-0.96 over other seeds of the planted set
    recall_all, precision_all = _recall_precision(found, truth)
    assert recall_all >= 0.85
    assert precision_all >= 0.85


def test_estimates_agree_with_exact_and_with_datasketch(planted: dict) -> None:
    pairs = np.array(sorted(planted["exact"]))
    pairs = pairs[np.array([planted["exact"][tuple(p)] for p in pairs.tolist()]) >= 0.3]
    assert len(pairs) >= 250
    fast = estimated_jaccard_pairs(planted["signatures"], pairs)
    exact = np.array([planted["exact"][tuple(p)] for p in pairs.tolist()])
    reference = {i: datasketch_signature(planted["unique"][i]) for i in np.unique(pairs).tolist()}
    slow = np.array([np.mean(reference[i] == reference[j]) for i, j in pairs.tolist()])
    assert np.mean(np.abs(fast - slow)) < 0.05
    assert np.mean(np.abs(fast - exact)) < 0.05
    assert np.mean(np.abs(slow - exact)) < 0.05
    # no systematic bias either way
    assert abs(np.mean(fast - exact)) < 0.01


# --------------------------------------------------------------------------- LSH


def test_lsh_params_reach_recall_at_threshold() -> None:
    assert lsh_params(0.8, 128) == (18, 7)
    for threshold in (0.5, 0.7, 0.8, 0.9):
        bands, rows = lsh_params(threshold, 128)
        assert bands * rows <= 128
        assert 1 - (1 - threshold**rows) ** bands >= 0.95
    with pytest.raises(ValueError):
        lsh_params(1.5, 128)


def test_lsh_pairs_in_small_and_large_buckets() -> None:
    minhasher = MinHasher(num_perm=16)
    same = shingles(TokenHasher().hash_text("the same text in three places"))
    other = shingles(TokenHasher().hash_text("something else entirely different"))
    signatures = minhasher.signatures(
        [same, other, same, np.empty(0, np.uint64), same, np.empty(0, np.uint64)]
    )
    all_pairs = lsh_candidate_pairs(signatures, bands=4, rows=4)
    assert all_pairs.tolist() == [[0, 2], [0, 4], [2, 4]]
    assert all_pairs.dtype == np.int64
    star = lsh_candidate_pairs(signatures, bands=4, rows=4, max_bucket=2)
    assert star.tolist() == [[0, 2], [0, 4]]
    with pytest.raises(ValueError):
        lsh_candidate_pairs(signatures, bands=5, rows=4)
    nothing = lsh_candidate_pairs(signatures[[3, 5]], bands=4, rows=4)
    assert nothing.shape == (0, 2) and nothing.dtype == np.int64


def test_giant_bucket_is_one_cluster_without_quadratic_pairs() -> None:
    hasher = TokenHasher()
    minhasher = MinHasher()
    template = "You are a helpful assistant. Answer the question about the weather in Paris today."
    others = [
        f"unrelated text number {i} about topic {i * 7919 % 1000} and more" for i in range(50)
    ]
    texts = others[:25] + [template] * 5000 + others[25:]
    signatures = minhasher.signature_rows(shingle_rows(hasher.hash_texts(texts)))
    bands, rows = lsh_params(THRESHOLD, 128)
    pairs = lsh_candidate_pairs(signatures, bands, rows)
    assert len(pairs) == 4999  # a star from the first copy, once per pair across all bands
    assert np.all(pairs[:, 0] == 25)
    labels = clusters(len(texts), pairs)
    assert np.all(labels[25:5025] == 25)
    assert len(np.unique(labels)) == 51
    assert np.all(estimated_jaccard_pairs(signatures, pairs) == 1.0)


# --------------------------------------------------------------------------- clusters


def test_clusters_label_is_smallest_member() -> None:
    labels = clusters(8, np.array([[4, 5], [1, 3], [3, 4], [6, 7], [2, 2]]))
    assert labels.tolist() == [0, 1, 2, 1, 1, 1, 6, 6]
    assert clusters(3, np.empty((0, 2), np.int64)).tolist() == [0, 1, 2]


def test_clusters_of_long_chain_and_random_graph() -> None:
    count = 10_000
    chain = np.stack((np.arange(count - 1), np.arange(1, count)), axis=1)[::-1]
    assert np.all(clusters(count, chain) == 0)
    rng = np.random.default_rng(11)
    pairs = rng.integers(0, 3000, size=(2000, 2))
    labels = clusters(3000, pairs)
    # reference: plain union-find
    parent = list(range(3000))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs.tolist():
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for item in range(3000):
        groups[find(item)].append(item)
    expected = np.empty(3000, np.int64)
    for members in groups.values():
        expected[members] = min(members)
    np.testing.assert_array_equal(labels, expected)


# --------------------------------------------------------------------------- determinism


def test_same_input_gives_identical_arrays() -> None:
    texts = _alpaca_outputs(min_words=10)[:400]
    texts = texts + [text.upper() for text in texts[:50]]

    def run() -> tuple[np.ndarray, ...]:
        tokens = TokenHasher(seed=5).hash_texts(texts)
        signatures = MinHasher(seed=9).signature_rows(shingle_rows(tokens))
        pairs = lsh_candidate_pairs(signatures, *lsh_params(THRESHOLD, 128))
        return (
            tokens.values,
            signatures,
            pairs,
            clusters(len(texts), pairs),
            ngram_rows(tokens).values,
        )

    first, second = run(), run()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(first[2]) >= 50  # the upper-cased copies are found


def test_without_values_keeps_empty_rows_first_middle_and_last():
    from tunelint.checks._support import without_values

    rows = Ragged(np.array([1, 2, 3, 2, 5], dtype=np.uint64), np.array([0, 0, 3, 3, 5, 5], dtype=np.int64))
    kept = without_values(rows, np.array([2], dtype=np.uint64))
    assert kept.offsets.tolist() == [0, 0, 2, 2, 3, 3]
    assert kept.values.tolist() == [1, 3, 5]
