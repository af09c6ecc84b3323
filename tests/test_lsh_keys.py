"""LSH band keys computed in cache-sized blocks equal the plain column-by-column definition."""

from __future__ import annotations

import numpy as np
import pytest

from tunelint.similarity import lsh

U64 = np.uint64


def plain_keys(columns: np.ndarray) -> np.ndarray:
    keys = np.zeros(len(columns), dtype=U64)
    for column in range(columns.shape[1]):
        keys ^= columns[:, column].astype(U64)
        keys *= U64(0x9E3779B97F4A7C15)
        keys ^= keys >> U64(29)
    return keys


@pytest.mark.parametrize("count", [0, 1, 5, 37, 1000])
@pytest.mark.parametrize("block", [1, 7, 16384])
def test_band_keys_match_the_plain_definition(monkeypatch, count, block):
    monkeypatch.setattr(lsh, "_KEY_BLOCK", block)
    rng = np.random.default_rng(count + block)
    signatures = rng.integers(0, 2**32, size=(count, 128), dtype=np.uint32)
    for band in range(0, 126, 7):
        columns = signatures[:, band : band + 7]  # a strided view, as the callers pass
        assert np.array_equal(lsh._band_keys(columns), plain_keys(columns))
    assert np.array_equal(lsh.band_keys(signatures, 18, 7)[:, 3], plain_keys(signatures[:, 21:28]))
