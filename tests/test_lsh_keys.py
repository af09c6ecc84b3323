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


@pytest.mark.parametrize("count", [0, 1, 5, 1000])
@pytest.mark.parametrize("block", [1, 7, 1024])
@pytest.mark.parametrize("shape", [(18, 7, 128), (10, 6, 64), (3, 5, 16)])
def test_band_key_matrix_matches_the_plain_definition(monkeypatch, count, block, shape):
    """All bands at once, block by block, with and without a selection of rows (in any
    order, repeats allowed), and with slots left over after the last band."""
    monkeypatch.setattr(lsh, "_ROWS_PER_BLOCK", block)
    bands, rows, width = shape
    rng = np.random.default_rng(count * 31 + block + width)
    signatures = rng.integers(0, 2**32, size=(count, width), dtype=np.uint32)
    chosen = rng.integers(0, max(count, 1), size=count // 2) if count else np.empty(0, dtype=np.int64)
    for positions in (None, chosen):
        taken = signatures if positions is None else signatures[positions]
        matrix = lsh._band_key_matrix(signatures, bands, rows, positions)
        assert matrix.shape == (bands, len(taken))
        for band in range(bands):
            assert np.array_equal(matrix[band], plain_keys(taken[:, band * rows : (band + 1) * rows]))
    assert np.array_equal(
        lsh.band_keys(signatures, bands, rows),
        np.stack([plain_keys(signatures[:, b * rows : (b + 1) * rows]) for b in range(bands)], axis=1).reshape(count, bands),
    )


def plain_empty(signatures: np.ndarray) -> np.ndarray:
    return (signatures == np.uint32(0xFFFFFFFF)).all(axis=1)


@pytest.mark.parametrize("seed", range(6))
def test_candidate_pairs_of_selected_rows_equal_those_of_the_copied_rows(seed):
    """`positions=` gives the pairs of `signatures[positions]`; empty signatures (every slot
    0xFFFFFFFF) are never paired, a signature with only its first slot at that value is."""
    rng = np.random.default_rng(seed)
    count = int(rng.integers(0, 400))
    # Few distinct values per slot, so bands collide and runs of every size occur.
    signatures = rng.integers(0, 3, size=(count, 32), dtype=np.uint32)
    if count:
        signatures[rng.integers(0, count, size=count // 10)] = 0xFFFFFFFF
        signatures[rng.integers(0, count, size=count // 10), 0] = 0xFFFFFFFF
    positions = np.sort(rng.choice(count, size=count // 2, replace=False)) if count else np.empty(0, dtype=np.int64)
    assert np.array_equal(lsh._empty_rows(signatures, None), plain_empty(signatures))
    assert np.array_equal(lsh._empty_rows(signatures, positions), plain_empty(signatures[positions]))
    for bands, rows, bucket in ((8, 4, 64), (4, 3, 2), (32, 1, 5)):
        copied = lsh.lsh_candidate_pairs(signatures[positions], bands, rows, max_bucket=bucket)
        chosen = lsh.lsh_candidate_pairs(signatures, bands, rows, max_bucket=bucket, positions=positions)
        assert np.array_equal(copied, chosen)
        pairs = lsh.lsh_candidate_pairs(signatures, bands, rows, max_bucket=bucket)
        if len(pairs):
            assert not plain_empty(signatures[pairs.reshape(-1)]).any()
