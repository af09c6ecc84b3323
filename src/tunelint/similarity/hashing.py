"""Polynomial hashing over numpy arrays, and `Ragged`, many variable-length rows in two arrays.

The building blocks of the similarity package: word, shingle and n-gram hashes are all
polynomial hashes of windows read off one running sum, then mixed. Modulo 2**64 such hashes
are not collision-resistant against crafted input (Thue-Morse strings); a collision can only
make two texts look more alike, which verification against exact Jaccard catches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

U64 = np.uint64


def mix64(values: np.ndarray) -> np.ndarray:
    """Finalise 64-bit hashes in place (MurmurHash3's fmix64), so every output bit depends on
    every input bit; polynomial sums alone leave the low bits weak."""
    values ^= values >> U64(33)
    values *= U64(0xFF51AFD7ED558CCD)
    values ^= values >> U64(33)
    values *= U64(0xC4CEB9FE1A85EC53)
    values ^= values >> U64(33)
    return values


class Powers:
    """Powers of an odd 64-bit base and of its inverse modulo 2**64.

    A polynomial hash of any window can then be read off one running sum:
    sum(c[j] * B**j for j in [s, e)) * B**-s = sum(c[j] * B**(j - s)), the same value wherever the
    window sits in the array, so results never depend on how texts were batched.
    """

    # Tables up to this length are kept (32 MiB for both); longer ones, needed only for a single
    # huge text, are built for the call and dropped.
    _KEEP = 1 << 21

    def __init__(self, base: int) -> None:
        self._base = base
        self._inverse = pow(base, -1, 1 << 64)
        self._forward = np.ones(1, dtype=U64)
        self._backward = np.ones(1, dtype=U64)

    def get(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """(B**i, B**-i) for i in range(n), n >= length."""
        if length > len(self._forward):
            grown = max(length, min(2 * len(self._forward), self._KEEP))
            forward, backward = geometric(self._base, grown), geometric(self._inverse, grown)
            if grown > self._KEEP:
                return forward, backward
            self._forward, self._backward = forward, backward
        return self._forward, self._backward


def geometric(base: int, length: int) -> np.ndarray:
    """[1, base, base**2, ...] modulo 2**64 (uint64 products wrap, which is the modulus)."""
    out = np.full(length, base, dtype=U64)
    out[0] = 1
    return np.cumprod(out, out=out)


def running_sums(values: np.ndarray, powers: Powers, pad: int = 0) -> np.ndarray:
    """running[i] = sum(values[j] * B**j for j < i), for i in 0..len(values), followed by `pad`
    copies of the total (so windows running past the end can be computed and discarded)."""
    count = len(values)
    running = np.empty(count + 1 + pad, dtype=U64)
    running[0] = 0
    np.multiply(values, powers.get(count)[0][:count], out=running[1 : count + 1])
    np.cumsum(running[1 : count + 1], out=running[1 : count + 1])
    running[count + 1 :] = running[count]
    return running


def window_hashes(
    running: np.ndarray, starts: np.ndarray, ends: np.ndarray, powers: Powers
) -> np.ndarray:
    """Polynomial hashes of values[starts[i]:ends[i]] for every i, from `running_sums`."""
    out = running[ends]
    out -= running[starts]
    out *= powers.get(len(running))[1][starts]
    return add_length(out, ends - starts)


def add_length(hashes: np.ndarray, lengths: np.ndarray | int) -> np.ndarray:
    """Fold the window length into its hash: zero values at the end of a window add nothing
    to the polynomial, so "nul" followed by a NUL character would otherwise hash like "nul"."""
    hashes += np.asarray(lengths, dtype=U64) * U64(0x9E3779B97F4A7C15)
    return hashes


def seed_constants(seed: int, count: int) -> list[int]:
    """`count` odd 64-bit constants drawn deterministically from `seed` (odd, so a multiplier
    has an inverse modulo 2**64)."""
    rng = np.random.default_rng(seed)
    return [int(v) | 1 for v in rng.integers(0, 1 << 64, size=count, dtype=np.uint64)]


@dataclass(frozen=True, eq=False)
class Ragged:
    """Many variable-length uint64 rows stored flat: row i is values[offsets[i]:offsets[i + 1]].

    Keeps a million texts' hashes in two arrays instead of a million small ones.
    """

    values: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_rows(cls, rows: Iterable[np.ndarray]) -> Ragged:
        rows = [np.asarray(row, dtype=U64) for row in rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(row) for row in rows], out=offsets[1:])
        values = np.concatenate(rows) if rows else np.empty(0, dtype=U64)
        return cls(values.astype(U64, copy=False), offsets)

    @classmethod
    def concatenate(cls, parts: Sequence[Ragged]) -> Ragged:
        """Join the rows of several Ragged values, in order."""
        if not parts:
            return cls(np.empty(0, dtype=U64), np.zeros(1, dtype=np.int64))
        values = np.concatenate([part.values for part in parts])
        shifts = np.cumsum([0] + [len(part.values) for part in parts[:-1]])
        offsets = np.concatenate(
            [np.zeros(1, dtype=np.int64)]
            + [part.offsets[1:] + shift for part, shift in zip(parts, shifts, strict=True)]
        )
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, index: int) -> np.ndarray:
        return self.values[self.offsets[index] : self.offsets[index + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(starts[i], starts[i] + counts[i]) for every i, without a loop."""
    total = int(counts.sum())
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return np.arange(total, dtype=np.int64) + shift
