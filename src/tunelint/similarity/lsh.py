"""LSH candidate pairs from MinHash signatures, their verification, and clusters of texts."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from tunelint.similarity.hashing import U64, Ragged, ranges
from tunelint.similarity.minhash import (
    EMPTY_SIGNATURE_VALUE,
    estimated_jaccard_pairs,
    exact_jaccard_pairs,
    is_empty_signature,
)


def verify_pairs(
    signatures: np.ndarray,
    pairs: np.ndarray,
    threshold: float,
    exact_shingles: Callable[[np.ndarray], Ragged] | None = None,
    margin: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs whose Jaccard similarity is at least `threshold`, and that similarity.

    The MinHash estimate alone has a standard deviation of about 0.035 at J = 0.8 with 128
    slots, so pairs just above the threshold are missed and pairs just below it let through
    about as often as not. With `exact_shingles` (row indices, sorted -> their shingle rows),
    pairs whose estimate lies within `margin` of the threshold are decided by exact Jaccard;
    only those rows need their shingles again. Without it the estimate decides.
    """
    similarity = estimated_jaccard_pairs(signatures, pairs)
    if exact_shingles is not None:
        unsure = np.flatnonzero(np.abs(similarity - threshold) < margin)
        if len(unsure):
            members = np.unique(pairs[unsure])
            rows = exact_shingles(members)
            similarity[unsure] = exact_jaccard_pairs(rows, np.searchsorted(members, pairs[unsure]))
    keep = similarity >= threshold
    return pairs[keep], similarity[keep]


def _candidate_probability(similarity: float, bands: int, rows: int) -> float:
    return 1.0 - (1.0 - similarity**rows) ** bands


@functools.cache
def lsh_params(threshold: float, num_perm: int = 128, recall: float = 0.95) -> tuple[int, int]:
    """Bands and rows for LSH so a pair at exactly `threshold` Jaccard becomes a candidate with
    probability at least `recall`, admitting as few dissimilar pairs as possible.

    datasketch's `_optimal_param` balances false positives against false negatives instead,
    which at 0.8 and 128 permutations picks 9 x 13: only 40 % of pairs at 0.8 become candidates.
    Candidates are verified afterwards, so a false candidate costs one comparison while a missed
    one is lost: recall is the constraint, and the area under the candidate curve below the
    threshold (the weight of dissimilar pairs let through) is what is minimised.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    grid = np.linspace(0.0, threshold, 201)
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if _candidate_probability(threshold, bands, rows) < recall:
            continue
        # Uniform grid: the mean times the interval length is the area.
        below = float(np.mean(1.0 - (1.0 - grid**rows) ** bands)) * threshold
        if best is None or below < best[0]:
            best = (below, bands, rows)
    if best is None:
        raise ValueError(
            f"no banding of {num_perm} permutations reaches recall {recall} at {threshold}"
        )
    return best[1], best[2]


def _band_keys(columns: np.ndarray) -> np.ndarray:
    """One 64-bit key per row of a (n, rows) uint32 band; equal bands give equal keys, and
    different bands collide with negligible probability (a collision only adds a candidate)."""
    count, width = columns.shape
    keys = np.zeros(count, dtype=U64)
    spare = np.empty(min(count, _KEY_BLOCK), dtype=U64)
    # Blocks of rows small enough to stay in cache, each turned column-major once, and every
    # step in place: the same keys as column by column over all rows, in about half the time.
    for lo in range(0, count, _KEY_BLOCK):
        block = np.ascontiguousarray(columns[lo : lo + _KEY_BLOCK].T).astype(U64)
        part = keys[lo : lo + _KEY_BLOCK]
        shifted = spare[: len(part)]
        for column in range(width):
            part ^= block[column]
            np.multiply(part, U64(0x9E3779B97F4A7C15), out=part)
            np.right_shift(part, U64(29), out=shifted)
            part ^= shifted
    return keys


_KEY_BLOCK = 16384
# Rows per block of `_band_key_matrix` (1,024: 512 KiB of 128-slot signatures; measured best
# against 2,048, 4,096 and 8,192).
_ROWS_PER_BLOCK = 1024


def _band_key_matrix(signatures: np.ndarray, bands: int, rows: int, positions: np.ndarray | None = None) -> np.ndarray:
    """`_band_keys` of every band, shape (bands, n): row b holds band b's keys of the rows at
    `positions` (all rows when None), in order.

    Band by band, each band's columns are gathered from every signature, and a signature
    matrix larger than the cache (51 MB at 100k rows of 128 slots) is read from memory once
    per band; here a block of rows is turned once for all its bands while it is in cache.
    The arithmetic per key is `_band_keys`'s, column by column, so the keys are the same."""
    count = len(signatures) if positions is None else len(positions)
    keys = np.empty((bands, count), dtype=U64)
    used = bands * rows
    size = min(count, _ROWS_PER_BLOCK)
    part_buffer = np.empty(bands * size, dtype=U64)
    spare = np.empty(bands * size, dtype=U64)
    for lo in range(0, count, _ROWS_PER_BLOCK):
        hi = min(lo + _ROWS_PER_BLOCK, count)
        block = signatures[lo:hi] if positions is None else signatures[positions[lo:hi]]
        # (bands, rows, block rows): slot `column` of every band at once.
        turned = np.ascontiguousarray(block[:, :used].T).astype(U64).reshape(bands, rows, hi - lo)
        part = part_buffer[: bands * (hi - lo)].reshape(bands, hi - lo)
        shifted = spare[: bands * (hi - lo)].reshape(bands, hi - lo)
        part[:] = 0
        for column in range(rows):
            part ^= turned[:, column]
            np.multiply(part, U64(0x9E3779B97F4A7C15), out=part)
            np.right_shift(part, U64(29), out=shifted)
            part ^= shifted
        keys[:, lo:hi] = part
    return keys


def _empty_rows(signatures: np.ndarray, positions: np.ndarray | None) -> np.ndarray:
    """`is_empty_signature` of the rows at `positions` (all rows when None): only rows whose
    first slot holds the empty value can be empty, and only those are read whole."""
    if not signatures.shape[1]:
        return is_empty_signature(signatures if positions is None else signatures[positions])
    first = signatures[:, 0] if positions is None else signatures[positions, 0]
    empty = first == EMPTY_SIGNATURE_VALUE
    maybe = np.flatnonzero(empty)
    if len(maybe):
        rows = maybe if positions is None else positions[maybe]
        empty[maybe] = is_empty_signature(signatures[rows])
    return empty


def lsh_candidate_pairs(
    signatures: np.ndarray, bands: int, rows: int, max_bucket: int = 64, positions: np.ndarray | None = None
) -> np.ndarray:
    """Pairs (i, j), i < j, of rows whose signatures agree on all `rows` slots of some band;
    shape (m, 2), int64, sorted and without repeats.

    For each band the rows are sorted by band key and pairs are read off runs of equal keys.
    A run of s rows would give s*(s-1)/2 pairs, which for thousands of identical texts (one
    templated prompt) is quadratic; a run longer than `max_bucket` is therefore linked as a star,
    each member paired with the run's smallest index only. That keeps every member in the same
    cluster for `clusters`, at the price of not listing (and so not verifying) the other pairs
    inside that run. Rows with the empty signature are never paired.

    With `positions`, the signatures are those rows of `signatures` (the same pairs as
    `lsh_candidate_pairs(signatures[positions], ...)`, without copying them first).
    """
    count, width = signatures.shape
    if bands * rows > width:
        raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} slots, have {width}")
    if positions is not None:
        positions = np.asarray(positions, dtype=np.int64)
        count = len(positions)
    present = np.flatnonzero(~_empty_rows(signatures, positions))
    everyone = len(present) == count
    # Each band key keeps its high bits and carries the row's place in `present` in the low
    # ones: one plain sort (several times faster than an argsort) then groups equal keys with
    # their members in increasing row order. The bits given up make unrelated bands collide
    # with probability 2**-(64 - place_bits) per pair: a collision only adds a candidate,
    # which verification then drops.
    place_bits = max(1, int(len(present) - 1).bit_length())
    low = U64((1 << place_bits) - 1)
    places = np.arange(len(present), dtype=U64)
    codes: list[np.ndarray] = []
    if positions is None:
        taken = None if everyone else present
    else:
        taken = positions if everyone else positions[present]
    all_keys = _band_key_matrix(signatures, bands, rows, taken)
    for band in range(bands):
        keys = all_keys[band]
        keys &= ~low
        keys |= places
        keys.sort()
        high = keys >> U64(place_bits)
        boundaries = np.flatnonzero(high[1:] != high[:-1]) + 1
        run_starts = np.concatenate(([0], boundaries))
        run_sizes = np.diff(np.concatenate((run_starts, [len(keys)])))
        left, right = _run_pairs(run_starts, run_sizes, max_bucket)
        members = present[(keys & low).astype(np.int64)]
        codes.append(members[left] * count + members[right])
    unique = np.unique(np.concatenate(codes)) if codes else np.empty(0, dtype=np.int64)
    return np.stack((unique // count, unique % count), axis=1).astype(np.int64)


def _run_pairs(
    run_starts: np.ndarray, run_sizes: np.ndarray, max_bucket: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (p, q), p < q, paired inside runs: all pairs in runs of 2..max_bucket members,
    a star from the first member in longer runs."""
    small = (run_sizes >= 2) & (run_sizes <= max_bucket)
    large = run_sizes > max_bucket
    # Every position p of a small run pairs with each later position of its run.
    positions = ranges(run_starts[small], run_sizes[small])
    later = np.repeat(run_starts[small] + run_sizes[small], run_sizes[small]) - positions - 1
    left_small = np.repeat(positions, later)
    right_small = (
        left_small + 1 + (np.arange(len(left_small)) - np.repeat(np.cumsum(later) - later, later))
    )
    right_large = ranges(run_starts[large] + 1, run_sizes[large] - 1)
    left_large = np.repeat(run_starts[large], run_sizes[large] - 1)
    return np.concatenate((left_small, left_large)), np.concatenate((right_small, right_large))


def clusters(count: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of `count` items linked by `pairs`: label[i] is the smallest index
    in i's component (an unpaired item is its own cluster).

    Union-find done on whole arrays: each round hooks the larger root of every unsatisfied pair
    under the smaller one, then jumps pointers until every item points at its root. Parents only
    ever point to smaller indices, so there are no cycles and each component's root is its
    smallest member.
    """
    parent = np.arange(count, dtype=np.int64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    left, right = pairs[:, 0], pairs[:, 1]
    while len(left):
        root_left, root_right = parent[left], parent[right]
        apart = root_left != root_right
        if not apart.any():
            break
        left, right = left[apart], right[apart]
        low = np.minimum(root_left[apart], root_right[apart])
        high = np.maximum(root_left[apart], root_right[apart])
        np.minimum.at(parent, high, low)
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return parent


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The LSH key of every band of every signature, shape (n, bands), uint64: the keys
    `lsh_candidate_pairs` groups rows by, for engines that group them elsewhere (a shuffle)."""
    return np.ascontiguousarray(_band_key_matrix(signatures, bands, rows).T)


def keyed_run_pairs(
    groups: tuple[np.ndarray, ...], ids: np.ndarray, max_bucket: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (left, right) whose `ids` (left's < right's) share a group, read off runs of equal group columns
    the way `lsh_candidate_pairs` reads them off one band: every pair inside a run of 2 to
    `max_bucket` ids, a star from the smallest id in a longer run. `groups` are equal-length
    columns whose combined value is the group (for LSH: split, band, band key); ids are unique
    within a group. Repeats across groups are kept (the caller deduplicates)."""
    if not len(ids):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    order = np.lexsort((ids,) + tuple(reversed(groups)))
    same = np.ones(len(ids) - 1, dtype=np.bool_)
    for column in groups:
        ordered = column[order]
        same &= ordered[1:] == ordered[:-1]
    boundaries = np.flatnonzero(~same) + 1
    run_starts = np.concatenate(([0], boundaries))
    run_sizes = np.diff(np.concatenate((run_starts, [len(ids)])))
    left, right = _run_pairs(run_starts, run_sizes, max_bucket)
    return order[left], order[right]
