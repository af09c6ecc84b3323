"""Word shingles and n-grams, MinHash signatures and Jaccard similarity, over many texts at once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunelint.similarity.hashing import (
    U64,
    Powers,
    Ragged,
    add_length,
    mix64,
    ranges,
    running_sums,
    seed_constants,
    window_hashes,
)

# Every slot of the signature of a text without tokens holds this value; such a row is never
# a candidate and its estimated Jaccard with anything is 0 (see `estimated_jaccard`).
EMPTY_SIGNATURE_VALUE = np.uint32(0xFFFFFFFF)

# MinHash works on blocks of this many shingles at a time (a 4 MiB buffer at 128
# permutations): 2,048 measured twice as slow from per-block overhead, 16,384 slower again.
_SHINGLES_PER_BLOCK = 8192
# Candidate pairs are compared in slices of this many pairs to bound the temporary arrays.
_PAIRS_PER_SLICE = 1 << 16

# One hasher-independent base and salt for word windows: windows combine word hashes, which
# already carry the word hasher's seed.
_WINDOW_BASE, _WINDOW_SALT = seed_constants(0x5EED, 2)
_WINDOW_POWERS = Powers(_WINDOW_BASE)


def _window_rows(tokens: Ragged, width: int, whole_if_short: bool) -> Ragged:
    """Hashes of the `width`-word windows of every row (see `shingle_rows`, `ngram_rows`)."""
    if width < 1:
        raise ValueError(f"window width must be at least 1, got {width}")
    values = tokens.values
    if width == 1:
        # A one-word window's polynomial is the word's value itself (B**i * B**-i = 1): the same
        # hashes as below without the running sums.
        hashes = values + U64(0x9E3779B97F4A7C15)  # add_length(values, 1)
        hashes ^= U64(_WINDOW_SALT)
        return Ragged(mix64(hashes), tokens.offsets.copy())
    total = len(values)
    lengths = tokens.lengths()
    row_starts = tokens.offsets[:-1]
    counts = np.maximum(lengths - (width - 1), 0)
    short = np.flatnonzero((lengths > 0) & (lengths < width)) if whole_if_short else None
    if short is not None:
        counts[short] = 1
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    # Hash the full-width window at every position with plain slices (no gathers), then keep
    # the positions whose window lies inside its row: [row start, row start + count).
    running = running_sums(values, _WINDOW_POWERS, pad=width)
    hashes = running[width : width + total] - running[:total]
    hashes *= _WINDOW_POWERS.get(total)[1][:total]
    add_length(hashes, width)
    marks = np.zeros(total + 1, dtype=np.int8)
    used = counts > 0
    marks[row_starts[used]] += 1
    marks[row_starts[used] + counts[used]] -= 1
    hashes = hashes[np.cumsum(marks[:total], dtype=np.int8).view(np.bool_)]
    if short is not None and len(short):
        # A short row's one window is all its words, not `width` words running past its end.
        hashes[offsets[short]] = window_hashes(
            running, row_starts[short], row_starts[short] + lengths[short], _WINDOW_POWERS
        )
    hashes ^= U64(_WINDOW_SALT)
    return Ragged(mix64(hashes), offsets)


def shingle_rows(tokens: Ragged, k: int = 5) -> Ragged:
    """Hashes of the word k-grams of every row, in order and not deduplicated (MinHash does not
    care); a row with fewer than k words gets one shingle of all its words, an empty row none."""
    return _window_rows(tokens, k, whole_if_short=True)


def shingles(token_hashes: np.ndarray, k: int = 5) -> np.ndarray:
    """Sorted unique hashes of the word k-grams of one text (see `shingle_rows`)."""
    return np.unique(shingle_rows(Ragged.from_rows([token_hashes]), k).values)


def ngram_rows(tokens: Ragged, n: int = 13) -> Ragged:
    """Hashes of every word n-gram of every row, in order; rows shorter than n get none."""
    return _window_rows(tokens, n, whole_if_short=False)


def ngram_hashes(token_hashes: np.ndarray, n: int = 13) -> np.ndarray:
    """Hashes of every word n-gram of one text, in order."""
    return ngram_rows(Ragged.from_rows([token_hashes]), n).values


class MinHasher:
    """MinHash signatures: for each of `num_perm` hash functions h(x) = a*x + b mod 2**32
    (a odd), the minimum over a text's shingles.

    Shingle hashes are already uniformly mixed, so this cheap affine family is enough to give
    independent orderings (measured: bias and spread match the binomial ideal). The work is
    laid out as (num_perm, shingles) so the minimum per text is one `np.minimum.reduceat` along
    contiguous memory, which measured 15 times faster than the transposed layout.
    """

    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        if num_perm < 1:
            raise ValueError(f"num_perm must be at least 1, got {num_perm}")
        self.num_perm = num_perm
        self.seed = seed
        rng = np.random.default_rng(seed)
        self._a = (rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64) | 1).astype(np.uint32)
        self._b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32)

    def signature(self, shingle_hashes: np.ndarray) -> np.ndarray:
        """Signature of one text, shape (num_perm,), uint32."""
        return self.signatures([shingle_hashes])[0]

    def signatures(self, shingle_arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Signatures of many texts, shape (len(shingle_arrays), num_perm), uint32."""
        return self.signature_rows(Ragged.from_rows(shingle_arrays))

    def signature_rows(self, shingle_rows: Ragged) -> np.ndarray:
        """Signatures of every row, shape (len(shingle_rows), num_perm), uint32; a row without
        shingles gets the empty signature (every slot EMPTY_SIGNATURE_VALUE)."""
        count = len(shingle_rows)
        lengths = shingle_rows.lengths()
        filled = np.flatnonzero(lengths > 0)
        row_starts = shingle_rows.offsets[:-1][filled]
        row_ends = shingle_rows.offsets[1:][filled]
        # The high half of the 64-bit shingle hash: 32 bits make collisions inside one text
        # negligible and halve the arithmetic.
        keys = (shingle_rows.values >> U64(32)).astype(np.uint32)
        # Rows by permutations, as returned: each block's minima (permutations by rows, small
        # and in cache) are turned as they are merged; turning the whole (num_perm, rows)
        # array at the end cost more (~5 ms for 4,096 rows at 128 permutations).
        minima = np.full((len(filled), self.num_perm), EMPTY_SIGNATURE_VALUE, dtype=np.uint32)
        a = self._a[:, None]
        b = self._b[:, None]
        buffer = np.empty((self.num_perm, _SHINGLES_PER_BLOCK), dtype=np.uint32)
        for block_start in range(0, len(keys), _SHINGLES_PER_BLOCK):
            block_end = min(block_start + _SHINGLES_PER_BLOCK, len(keys))
            work = buffer[:, : block_end - block_start]
            np.multiply(a, keys[block_start:block_end], out=work)
            work += b
            # Rows overlapping this block; the first and last may continue in a neighbour block,
            # hence the minimum with what is already there.
            first = int(np.searchsorted(row_ends, block_start, side="right"))
            last = int(np.searchsorted(row_starts, block_end, side="left"))
            segment_starts = np.maximum(row_starts[first:last], block_start) - block_start
            part = np.minimum.reduceat(work, segment_starts, axis=1)
            np.minimum(minima[first:last], part.T, out=minima[first:last])
        if len(filled) == count:
            return minima
        out = np.full((count, self.num_perm), EMPTY_SIGNATURE_VALUE, dtype=np.uint32)
        out[filled] = minima
        return out


def datasketch_signature(
    shingle_hashes: np.ndarray, num_perm: int = 128, seed: int = 1
) -> np.ndarray:
    """Reference signature from datasketch's own `MinHash` over the same shingle hashes (its
    hash functions differ, so values are not comparable with `MinHasher`, only estimates)."""
    from datasketch import MinHash

    minhash = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda value: value & 0xFFFFFFFF)
    minhash.update_batch([int(value) for value in np.asarray(shingle_hashes, dtype=U64)])
    return np.asarray(minhash.hashvalues, dtype=np.uint64)


def is_empty_signature(signatures: np.ndarray) -> np.ndarray:
    """Whether each signature (last axis) is the empty signature of a text without shingles."""
    return (signatures == EMPTY_SIGNATURE_VALUE).all(axis=-1)


def estimated_jaccard(signature_a: np.ndarray, signature_b: np.ndarray) -> float:
    """Share of equal slots of two signatures (0 if either text had no shingles)."""
    if is_empty_signature(signature_a) or is_empty_signature(signature_b):
        return 0.0
    return float(np.mean(signature_a == signature_b))


def estimated_jaccard_pairs(signatures: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """`estimated_jaccard` for every row (i, j) of `pairs`, as float64."""
    out = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), _PAIRS_PER_SLICE):
        chunk = pairs[start : start + _PAIRS_PER_SLICE]
        left = signatures[chunk[:, 0]]
        right = signatures[chunk[:, 1]]
        share = np.count_nonzero(left == right, axis=1) / signatures.shape[1]
        share[is_empty_signature(left) | is_empty_signature(right)] = 0.0
        out[start : start + len(chunk)] = share
    return out


def exact_jaccard(shingles_a: np.ndarray, shingles_b: np.ndarray) -> float:
    """|A ∩ B| / |A ∪ B| of two shingle sets (0 if both are empty)."""
    a = np.unique(shingles_a)
    b = np.unique(shingles_b)
    union = len(np.union1d(a, b))
    return len(np.intersect1d(a, b, assume_unique=True)) / union if union else 0.0


def exact_jaccard_pairs(shingle_rows: Ragged, pairs: np.ndarray) -> np.ndarray:
    """`exact_jaccard` for every row (i, j) of `pairs`, to verify candidates without the
    MinHash estimate's noise (its standard deviation is about 0.035 at J = 0.8, 128 slots).

    Vectorised: each row's distinct shingles are listed once per pair they appear in, sorted by
    (pair, shingle), and a shingle listed twice for the same pair is in both sets.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) and len(np.unique(pairs)) * 2 < len(shingle_rows):
        # Few rows take part: work on those rows only.
        members = np.unique(pairs)
        lengths = shingle_rows.lengths()[members]
        offsets = np.zeros(len(members) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        taken = ranges(shingle_rows.offsets[members], lengths)
        shingle_rows = Ragged(shingle_rows.values[taken], offsets)
        pairs = np.searchsorted(members, pairs)
    rows = _distinct_per_row(shingle_rows)
    lengths = rows.lengths()
    out = np.zeros(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), _PAIRS_PER_SLICE):
        chunk = pairs[start : start + _PAIRS_PER_SLICE]
        sides = chunk.T.reshape(-1)  # all left rows, then all right rows
        owner = np.tile(np.arange(len(chunk)), 2)
        taken = ranges(rows.offsets[sides], lengths[sides])
        pair_of = np.repeat(owner, lengths[sides])
        values = rows.values[taken]
        order = _order_within(pair_of, values, len(chunk))
        values, pair_of = values[order], pair_of[order]
        twice = (values[1:] == values[:-1]) & (pair_of[1:] == pair_of[:-1])
        shared = np.bincount(pair_of[1:][twice], minlength=len(chunk))
        union = lengths[chunk[:, 0]] + lengths[chunk[:, 1]] - shared
        out[start : start + len(chunk)] = np.divide(
            shared, union, out=np.zeros(len(chunk)), where=union > 0
        )
    return out


def _order_within(groups: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """An order of the (group, uint64 value) items by group (numbers in [0, count)), then value,
    as `np.lexsort((values, groups))` gives, but for equal values, which may come in any
    order among themselves.

    One sort of a 64-bit key holding the group in its high bits and the value's high bits
    below: lexsort's two stable sorts cost ~20x more on 300k items. When two different values
    of one group agree on the bits kept (never with 64-bit hashes but possible), lexsort
    decides."""
    bits = max(1, int(count - 1).bit_length())
    if bits > 32 or len(values) < 2 or values.dtype != np.uint64:
        return np.lexsort((values, groups))
    key = (groups.astype(np.uint64) << U64(64 - bits)) | (values >> U64(bits))
    order = np.argsort(key)
    key = key[order]
    tied = key[1:] == key[:-1]
    if tied.any():
        ordered = values[order]
        if (ordered[1:][tied] != ordered[:-1][tied]).any():
            return np.lexsort((values, groups))
    return order


def _distinct_per_row(rows: Ragged) -> Ragged:
    """Each row's values sorted and without repeats."""
    row_of = np.repeat(np.arange(len(rows)), rows.lengths())
    order = _order_within(row_of, rows.values, len(rows))
    values, row_of = rows.values[order], row_of[order]
    first = np.ones(len(values), dtype=np.bool_)
    first[1:] = (values[1:] != values[:-1]) | (row_of[1:] != row_of[:-1])
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of[first], minlength=len(rows)), out=offsets[1:])
    return Ragged(values[first], offsets)
