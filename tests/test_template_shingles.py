"""`boilerplate` (the template shingles conflicting-outputs strips before comparing inputs)
against its plain definition: values present in more than `share` of the chosen rows, and in
at least 3 of them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.checks._support import boilerplate
from tunelint.similarity.hashing import Ragged


def plain(rows: list[list[int]], positions: list[int], share: float) -> list[int]:
    limit = share * len(positions)
    chosen = range(len(rows)) if len(positions) == len(rows) else sorted(set(positions))
    seen: dict[int, int] = {}
    for r in chosen:
        for v in set(rows[r]):
            seen[v] = seen.get(v, 0) + 1
    return sorted(v for v, c in seen.items() if c > limit and c >= 3)


# Values that share the bits the bucket prefilter looks at (bits 40-59) and differ below them,
# so buckets hold several values.
_values = (
    st.builds(lambda high, low: (high << 40) | low, st.integers(0, 7), st.integers(0, 3))
    # ... and values that share the coarse test's bits (48-59) but not all of 40-59, or the
    # bits above 59 only.
    | st.builds(lambda top, mid, low: (top << 48) | (mid << 40) | low, st.integers(0, 2**16 - 1), st.integers(0, 255), st.integers(0, 3))
    | st.integers(0, 2**64 - 1)
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(_values, max_size=10), min_size=1, max_size=40),
    data=st.data(),
    share=st.sampled_from([0.0, 0.05, 0.3, 0.5, 0.9]),
)
def test_boilerplate_is_its_plain_definition(rows, data, share):
    n = len(rows)
    positions = sorted(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    values = np.array([v for r in rows for v in r], dtype=np.uint64)
    got = boilerplate(Ragged(values, offsets), np.array(positions, dtype=np.int64), share)
    assert got.tolist() == plain(rows, positions, share)


def test_boilerplate_finds_a_template_over_many_slices(monkeypatch):
    # Slices smaller than the data: both passes cross slice boundaries.
    import tunelint.checks._support as support

    monkeypatch.setattr(support, "_SLICE", 7)
    template = [11, 12, 13]
    rows = [template + [100 + i, 200 + i] for i in range(20)] + [[1, 2]] * 3
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    values = np.array([v for r in rows for v in r], dtype=np.uint64)
    everyone = np.arange(len(rows))
    assert boilerplate(Ragged(values, offsets), everyone, 0.5).tolist() == template
    # Among the last three rows only, [1, 2] is the template.
    assert boilerplate(Ragged(values, offsets), everyone[-3:], 0.5).tolist() == [1, 2]


def test_boilerplate_without_a_template_is_empty_and_with_one_finds_it():
    # Many distinct values (the quick no-template answer) and then a template among them.
    rng = np.random.default_rng(5)
    n, width = 3000, 40
    rows = rng.integers(0, 2**63, size=(n, width), dtype=np.int64).astype(np.uint64)
    offsets = np.arange(n + 1, dtype=np.int64) * width
    everyone = np.arange(n)
    assert boilerplate(Ragged(rows.reshape(-1), offsets), everyone, 0.5).tolist() == []
    rows[: 2 * n // 3, 7] = 123456789
    rows[: n // 3, 8] = 987654321  # in a third of the rows: not a template at 0.5
    got = boilerplate(Ragged(rows.reshape(-1), offsets), everyone, 0.5)
    assert got.dtype == np.uint64 and got.tolist() == [123456789]
    # Chosen rows only: among the last third, neither value is there.
    assert boilerplate(Ragged(rows.reshape(-1), offsets), everyone[-n // 3 :], 0.5).tolist() == []


def test_coarse_test_reads_the_same_bits_as_the_shift():
    import tunelint.checks._support as support

    rng = np.random.default_rng(9)
    values = rng.integers(0, 2**64 - 1, size=10_000, dtype=np.uint64, endpoint=True)
    coarse = (values >> np.uint64(48)) & np.uint64(support._COARSE - 1)
    top = int(np.bincount(coarse.astype(np.intp)).max())
    assert support._any_coarse_over(values, top - 1)
    assert not support._any_coarse_over(values, top)
    # Every coarse bucket is a union of `_buckets` buckets.
    assert np.array_equal(coarse.astype(np.intp), support._buckets(values) >> 8)
    # A sliced (offset) view of the values gives the same answer.
    assert support._any_coarse_over(values[3:], int(np.bincount(coarse[3:].astype(np.intp)).max()) - 1)
