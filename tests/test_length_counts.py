"""split-shift and reference-drift keep token counts as histograms: the statistics must equal
those of the lists of lengths they replace, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.checks.split_shift import LengthCounts
from tunelint.textstats import ks_statistic

lengths = st.lists(st.integers(min_value=0, max_value=200_000), min_size=1, max_size=300)


def _counts(values: list[int], cut: int) -> LengthCounts:
    # Built from two parts and merged, as chunk states are.
    left, right = LengthCounts(), LengthCounts()
    left.add(values[:cut])
    right.add(values[cut:])
    left.update(right)
    return left


@settings(max_examples=300, deadline=None)
@given(lengths, lengths, st.integers(min_value=0, max_value=300))
def test_statistics_equal_those_of_the_lists(x, y, cut):
    a, b = _counts(x, cut), _counts(y, cut // 2)
    assert len(a) == len(x)
    assert a.ks(b) == ks_statistic(x, y)
    assert a.median() == float(np.median(np.asarray(x)))
    for q in (10, 50, 90, 99):
        assert a.percentile(q) == float(np.percentile(np.asarray(x), q))


def test_state_is_bounded_by_distinct_lengths():
    counts = LengthCounts()
    for _ in range(50):
        counts.add([3, 5, 5, 8] * 1000)
    assert len(counts.counts) == 3 and len(counts) == 200_000
    assert counts.median() == 5.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5_000_000), max_size=300), st.integers(min_value=0, max_value=300))
def test_length_histogram_add_many_is_add_of_each(values, cut):
    from tunelint.lengths import EDGES, LengthHistogram

    edges = [0, 1, 15, 16, 17, *EDGES, EDGES[-1] + 1]
    values = values + edges[: cut % (len(edges) + 1)]
    one, many = LengthHistogram(), LengthHistogram()
    for v in values:
        one.add("train", v)
    many.add_many("train", values[:cut])
    many.add_many("train", np.asarray(values[cut:], dtype=np.int64))
    assert many.to_dict() == one.to_dict()
    assert many._totals == one._totals and many._counts == one._counts
