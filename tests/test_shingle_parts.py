"""`ShingleParts` (the batches' shingle rows read where they are) against the joined rows:
the same rows, and `similar_pairs` finds the same pairs with the same similarities."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.checks._keyed import take_rows
import pytest

from tunelint.checks._support import ShingleParts, SignatureParts, Signatures, pair_similarity, similar_pairs
from tunelint.similarity import MinHasher
from tunelint.similarity.hashing import Ragged


def _parts(rows: list[list[int]], cuts: list[int]) -> list[Ragged]:
    bounds = [0] + sorted(set(c for c in cuts if 0 < c < len(rows))) + [len(rows)]
    return [Ragged.from_rows([np.array(r, dtype=np.uint64) for r in rows[a:b]]) for a, b in zip(bounds, bounds[1:])]


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=6), min_size=1, max_size=30),
    cuts=st.lists(st.integers(0, 30), max_size=5),
    data=st.data(),
)
def test_rows_are_those_of_the_joined_parts(rows, cuts, data):
    parts = _parts(rows, cuts)
    joined = Ragged.concatenate(parts)
    held = ShingleParts(parts)
    assert len(held) == len(rows)
    positions = np.array(data.draw(st.lists(st.integers(0, len(rows) - 1), max_size=40)), dtype=np.int64)
    got, want = held.take(positions), take_rows(joined, positions)
    assert np.array_equal(got.offsets, want.offsets) and np.array_equal(got.values, want.values)
    for i in range(len(rows)):
        assert held.row(i).tolist() == rows[i]
    assert np.array_equal(np.concatenate(list(held.values())), joined.values)
    assert np.array_equal(held.joined().values, joined.values)


def _near_copies(rng: np.random.Generator, n: int, template: bool) -> list[list[int]]:
    base = [rng.integers(0, 2**63, size=30).tolist() for _ in range(n // 3)]
    common = rng.integers(0, 2**63, size=12).tolist()
    rows = []
    for i in range(n):
        row = list(base[i % len(base)])
        row[rng.integers(0, 30)] = int(rng.integers(0, 2**63))  # one shingle edited
        if i % 7 == 0:
            row = rng.integers(0, 2**63, size=25).tolist()
        rows.append(row + common if template else row)
    return rows


def test_similar_pairs_same_with_parts_and_joined():
    rng = np.random.default_rng(3)
    minhash = MinHasher(64)
    for template in (False, True):
        rows = _near_copies(rng, 300, template)
        parts = _parts(rows, [50, 51, 170, 260])
        joined = Ragged.concatenate(parts)
        signatures = minhash.signature_rows(joined)
        positions = np.arange(0, 300, dtype=np.int64)[np.arange(300) % 11 != 5]
        block = np.zeros(300, dtype=np.uint64)
        for share in (None, 0.5):
            want = similar_pairs(signatures, positions, block, 0.8, joined, boilerplate_share=share)
            got = similar_pairs(signatures, positions, block, 0.8, ShingleParts(parts), boilerplate_share=share)
            assert len(want[0]) > 20
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
            for a, b in want[0][:10].tolist():
                assert pair_similarity(signatures, ShingleParts(parts), a, b) == pair_similarity(signatures, joined, a, b)
        # The signatures in parts too, verified exactly and by the estimate.
        sig_parts = SignatureParts([signatures[a:b] for a, b in ((0, 50), (50, 50), (50, 51), (51, 170), (170, 300))], 64)
        for shingles in (joined, None):
            want = similar_pairs(signatures, positions, block, 0.8, shingles)
            got = similar_pairs(sig_parts, positions, block, 0.8, shingles)
            assert len(want[0]) > 20
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
            for a, b in want[0][:10].tolist():
                assert pair_similarity(sig_parts, shingles, a, b) == pair_similarity(signatures, shingles, a, b)


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(0, 9), min_size=1, max_size=6), data=st.data())
def test_signature_parts_read_the_rows_of_the_joined_matrix(sizes, data):
    rng = np.random.default_rng(len(sizes))
    parts = [rng.integers(0, 2**32, size=(n, 8), dtype=np.int64).astype(np.uint32) for n in sizes]
    joined = np.concatenate(parts)
    held = SignatureParts(parts, 8)
    assert held.shape == joined.shape and len(held) == len(joined)
    if not len(joined):
        return
    rows = np.array(data.draw(st.lists(st.integers(-len(joined), len(joined) - 1), max_size=30)), dtype=np.int64)
    assert np.array_equal(held[rows], joined[rows])
    assert held[rows].dtype == joined.dtype and held[rows].shape == joined[rows].shape
    assert np.array_equal(held[rows, 0], joined[rows, 0])
    assert np.array_equal(held[rows.tolist()], joined[rows])
    pairs = rows[: len(rows) // 2 * 2].reshape(-1, 2)
    assert np.array_equal(held[pairs[:, 1]], joined[pairs[:, 1]])
    with pytest.raises(IndexError):
        held[np.array([len(joined)])]
    with pytest.raises(TypeError):
        held[1:3]
    with pytest.raises(TypeError):
        held[:, 0]


def test_signatures_finish_parts_equals_finish():
    signatures = Signatures(32, 2)
    words = []
    rng = np.random.default_rng(1)
    for n in (5, 0, 7, 3):
        rows = Ragged.from_rows([rng.integers(0, 2**63, size=rng.integers(0, 9)).astype(np.uint64) for _ in range(n)])
        words.append(rows.lengths())
        signatures.add_tokens(rows)
    parts, counts = signatures.finish_parts()
    joined, counts2 = signatures.finish()
    assert parts.shape == joined.shape == (15, 32)
    assert np.array_equal(parts[np.arange(15)], joined) and np.array_equal(counts, counts2)
    empty, none = Signatures(16, 3).finish_parts()
    assert empty.shape == (0, 16) and len(none) == 0


# Values that differ only in their lowest bits (the bits `_order_within`'s key gives up), so
# the lexsort fallback is taken, and plain random ones.
_close = st.builds(lambda high, low: (high << 20) | low, st.integers(0, 3), st.integers(0, 7)) | st.integers(0, 2**64 - 1)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(_close, max_size=8), min_size=1, max_size=25),
    data=st.data(),
)
def test_distinct_rows_and_exact_jaccard_are_their_plain_definitions(rows, data):
    from tunelint.similarity.minhash import _distinct_per_row, _order_within, exact_jaccard_pairs

    ragged = Ragged.from_rows([np.array(r, dtype=np.uint64) for r in rows])
    distinct = _distinct_per_row(ragged)
    for i, row in enumerate(rows):
        assert distinct.row(i).tolist() == sorted(set(row))
    n = len(rows)
    pairs = np.array(data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=12)), dtype=np.int64).reshape(-1, 2)
    got = exact_jaccard_pairs(ragged, pairs)
    for (a, b), sim in zip(pairs.tolist(), got.tolist()):
        union = set(rows[a]) | set(rows[b])
        assert sim == (len(set(rows[a]) & set(rows[b])) / len(union) if union else 0.0)
    # The order itself: by group, then value (equal values in any order).
    groups = np.repeat(np.arange(n), ragged.lengths())
    order = _order_within(groups, ragged.values, n)
    assert sorted(order.tolist()) == list(range(len(groups)))
    assert [(int(g), int(v)) for g, v in zip(groups[order], ragged.values[order])] == sorted(zip(groups.tolist(), ragged.values.tolist()))
