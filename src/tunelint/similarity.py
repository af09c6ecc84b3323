"""Text similarity shared by the near-duplicate, conflicting-outputs and test-leakage checks.

Normalises and tokenises text, hashes words, word shingles and word n-grams, computes MinHash
signatures, finds LSH candidate pairs and clusters them, all vectorised over many texts at once.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EMPTY_SIGNATURE_VALUE",
    "MinHasher",
    "Ragged",
    "TokenHasher",
    "clusters",
    "datasketch_signature",
    "estimated_jaccard",
    "estimated_jaccard_pairs",
    "exact_jaccard",
    "exact_jaccard_pairs",
    "lsh_candidate_pairs",
    "lsh_params",
    "ngram_hashes",
    "ngram_rows",
    "normalise",
    "shingle_rows",
    "shingles",
    "tokenize",
    "verify_pairs",
]

_U64 = np.uint64
_WORD_RE = re.compile(r"\w+")

# Every slot of the signature of a text without tokens holds this value; such a row is never
# a candidate and its estimated Jaccard with anything is 0 (see `estimated_jaccard`).
EMPTY_SIGNATURE_VALUE = np.uint32(0xFFFFFFFF)

# Texts are hashed in pieces of about this many characters so the per-character arrays stay
# in the CPU cache; larger pieces measured slower, much smaller ones pay per-call overhead.
_CHARS_PER_PIECE = 1 << 18
# MinHash works on blocks of this many shingles at a time (a 4 MiB buffer at 128
# permutations): 2,048 measured twice as slow from per-block overhead, 16,384 slower again.
_SHINGLES_PER_BLOCK = 8192
# Candidate pairs are compared in slices of this many pairs to bound the temporary arrays.
_PAIRS_PER_SLICE = 1 << 16


# --------------------------------------------------------------------------- text


def normalise(text: str) -> str:
    """Return `text` in NFKC form, case-folded, with every whitespace run turned into one space
    and no leading or trailing space."""
    if text.isascii():
        # NFKC leaves ASCII unchanged and lower() equals casefold() on it, but is faster.
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.split())


def tokenize(text: str) -> list[str]:
    """Return the words of the normalised text: runs of word characters (`\\w`), punctuation
    dropped."""
    return _WORD_RE.findall(normalise(text))


# Table entry of a character whose case folding is several characters ("ß" -> "ss").
_FOLDS_TO_SEVERAL = np.uint32(1 << 31)
_SPACE = 32


@functools.cache
def _case_folding() -> np.ndarray:
    """Each code point's case folding if that is one character, else _FOLDS_TO_SEVERAL.

    Lets the bulk paths case-fold a whole batch with one array lookup: `str.casefold` measured
    7 us per 900-char non-ASCII text. Built once per process (about 80 ms with the tables below).
    """
    code_points = np.arange(1, 0x110000, dtype=np.uint32)
    # Fold every character in one call, each followed by NUL (which folds to itself), then
    # read back where each character's folding starts and how long it is.
    spaced = np.zeros(2 * len(code_points), dtype=np.uint32)
    spaced[0::2] = code_points
    folded_text = spaced.tobytes().decode("utf-32-le", "surrogatepass").casefold()
    folded = np.frombuffer(folded_text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.flatnonzero(folded == 0)
    starts = np.concatenate(([0], ends[:-1] + 1))
    single = (ends - starts) == 1
    table = np.full(0x110000, _FOLDS_TO_SEVERAL, dtype=np.uint32)
    table[0] = 0
    table[code_points[single]] = folded[starts[single]]
    return table


def _matching(pattern: str) -> np.ndarray:
    """Which code points the one-character regular expression `pattern` matches."""
    every_char = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    spans = np.array([m.span() for m in re.finditer(f"(?:{pattern})+", every_char)], dtype=np.int64)
    marks = np.zeros(0x110000 + 1, dtype=np.int8)
    marks[spans[:, 0]] = 1
    marks[spans[:, 1]] = -1
    return np.cumsum(marks[:-1], dtype=np.int8).view(np.bool_)


@functools.cache
def _word_table() -> np.ndarray:
    """Each code point's case folding if that is one word character (`\\w`), 0 for a non-word
    character, _FOLDS_TO_SEVERAL if it folds to several characters (the text is then left to
    str.casefold: rare, "ß", "İ", some Greek)."""
    folding = _case_folding()
    several = folding == _FOLDS_TO_SEVERAL
    single = np.where(several, 0, folding)
    return np.where(several, _FOLDS_TO_SEVERAL, np.where(_matching(r"\w")[single], single, 0))


@functools.cache
def _normalise_table() -> np.ndarray:
    """Each code point's case folding, whitespace (what str.split splits on) as a space."""
    table = _case_folding().copy()
    table[_matching(r"\s")] = _SPACE
    return table


@functools.cache
def _ascii_tables() -> tuple[bytes, bytes]:
    """`_word_table` and `_normalise_table` for ASCII, as `bytes.translate` tables: batches of
    pure ASCII text go through `bytes.translate`, twice as fast as an array lookup, and need
    no full table."""
    ascii_chars = [chr(c) for c in range(128)]
    words = bytes(ord(c.lower()) if _WORD_RE.match(c) else 0 for c in ascii_chars)
    normal = bytes(_SPACE if c.isspace() else ord(c.lower()) for c in ascii_chars)
    return words + bytes(128), normal + bytes(128)


def _fold_piece(
    texts: Sequence[str], separator: str, table: Callable[[], np.ndarray], ascii_table: bytes
) -> tuple[np.ndarray, np.ndarray]:
    """NFKC the texts, join them with `separator` and map every character through the table.

    Returns the mapped characters (uint8 if all is ASCII, else uint32) and where each text
    starts among them (one more entry: where the next text would start).
    """
    prepared = [_nfkc(text) for text in texts]
    joined = separator.join(prepared)
    if joined.isascii():
        chars = np.frombuffer(joined.encode("ascii").translate(ascii_table), np.uint8)
    else:
        chars = np.take(table(), _code_points(joined))
        if (chars == _FOLDS_TO_SEVERAL).any():
            prepared = [text.casefold() for text in prepared]
            chars = np.take(table(), _code_points(separator.join(prepared)))
    starts = np.zeros(len(prepared) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, prepared), dtype=np.int64, count=len(prepared)), out=starts[1:])
    starts[1:] += np.arange(1, len(prepared) + 1) * len(separator)
    return chars, starts


def _pieces(texts: Sequence[str]) -> Iterable[Sequence[str]]:
    """Consecutive slices of `texts` of about _CHARS_PER_PIECE characters (at least one text)."""
    start = 0
    while start < len(texts):
        stop, size = start, 0
        while stop < len(texts) and (size < _CHARS_PER_PIECE or stop == start):
            size += len(texts[stop])
            stop += 1
        yield texts[start:stop]
        start = stop


def _nfkc(text: str) -> str:
    # NFKC leaves ASCII unchanged; the quick check makes already-normal text cheap too.
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


# --------------------------------------------------------------------------- hashing helpers


def _mix64(values: np.ndarray) -> np.ndarray:
    """Finalise 64-bit hashes in place (MurmurHash3's fmix64), so every output bit depends on
    every input bit; polynomial sums alone leave the low bits weak."""
    values ^= values >> _U64(33)
    values *= _U64(0xFF51AFD7ED558CCD)
    values ^= values >> _U64(33)
    values *= _U64(0xC4CEB9FE1A85EC53)
    values ^= values >> _U64(33)
    return values


class _Powers:
    """Powers of an odd 64-bit base and of its inverse modulo 2**64, grown on demand.

    A polynomial hash of any window can then be read off one running sum:
    sum(c[j] * B**j for j in [s, e)) * B**-s = sum(c[j] * B**(j - s)), the same value wherever the
    window sits in the array, so results never depend on how texts were batched.
    """

    def __init__(self, base: int) -> None:
        self._base = base
        self._inverse = pow(base, -1, 1 << 64)
        self.forward = np.ones(1, dtype=_U64)
        self.backward = np.ones(1, dtype=_U64)

    def ensure(self, length: int) -> None:
        if length <= len(self.forward):
            return
        length = max(length, 2 * len(self.forward))
        self.forward = _geometric(self._base, length)
        self.backward = _geometric(self._inverse, length)


def _geometric(base: int, length: int) -> np.ndarray:
    """[1, base, base**2, ...] modulo 2**64 (uint64 products wrap, which is the modulus)."""
    out = np.full(length, base, dtype=_U64)
    out[0] = 1
    return np.cumprod(out, out=out)


def _running_sums(values: np.ndarray, powers: _Powers, pad: int = 0) -> np.ndarray:
    """running[i] = sum(values[j] * B**j for j < i), for i in 0..len(values), followed by `pad`
    copies of the total (so windows running past the end can be computed and discarded)."""
    count = len(values)
    powers.ensure(count + 1)
    running = np.empty(count + 1 + pad, dtype=_U64)
    running[0] = 0
    np.multiply(values, powers.forward[:count], out=running[1 : count + 1])
    np.cumsum(running[1 : count + 1], out=running[1 : count + 1])
    running[count + 1 :] = running[count]
    return running


def _window_hashes(
    running: np.ndarray, starts: np.ndarray, ends: np.ndarray, powers: _Powers
) -> np.ndarray:
    """Polynomial hashes of values[starts[i]:ends[i]] for every i, from `_running_sums`."""
    out = running[ends]
    out -= running[starts]
    out *= powers.backward[starts]
    return out


def _seed_constants(seed: int, count: int) -> list[int]:
    """`count` odd 64-bit constants drawn deterministically from `seed` (odd, so a multiplier
    has an inverse modulo 2**64)."""
    rng = np.random.default_rng(seed)
    return [int(v) | 1 for v in rng.integers(0, 1 << 64, size=count, dtype=np.uint64)]


# --------------------------------------------------------------------------- ragged rows


@dataclass(frozen=True, eq=False)
class Ragged:
    """Many variable-length uint64 rows stored flat: row i is values[offsets[i]:offsets[i + 1]].

    Keeps a million texts' hashes in two arrays instead of a million small ones.
    """

    values: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_rows(cls, rows: Iterable[np.ndarray]) -> Ragged:
        rows = [np.asarray(row, dtype=_U64) for row in rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(row) for row in rows], out=offsets[1:])
        values = np.concatenate(rows) if rows else np.empty(0, dtype=_U64)
        return cls(values.astype(_U64, copy=False), offsets)

    @classmethod
    def concatenate(cls, parts: Sequence[Ragged]) -> Ragged:
        """Join the rows of several Ragged values, in order."""
        if not parts:
            return cls(np.empty(0, dtype=_U64), np.zeros(1, dtype=np.int64))
        values = np.concatenate([part.values for part in parts])
        shifts = np.cumsum([0] + [len(part.values) for part in parts[:-1]])
        offsets = np.concatenate(
            [np.zeros(1, dtype=np.int64)]
            + [part.offsets[1:] + shift for part, shift in zip(parts, shifts)]
        )
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, index: int) -> np.ndarray:
        return self.values[self.offsets[index] : self.offsets[index + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(starts[i], starts[i] + counts[i]) for every i, without a loop."""
    total = int(counts.sum())
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return np.arange(total, dtype=np.int64) + shift


# --------------------------------------------------------------------------- words


class TokenHasher:
    """Hashes words to uint64, in bulk: a batch of texts becomes one array of code points, words
    are found with a table lookup and hashed with a polynomial over one running sum.

    Per-word Python work (a regex per text, a dict lookup per word) measured 50 us per 900-char
    text, 50 s for a million; this path does the same in a few microseconds per text. The hash of
    a word depends only on the word and the seed, so `hash_tokens(tokenize(t))` equals the row
    `hash_texts([t])` returns.
    """

    def __init__(self, seed: int = 0) -> None:
        base, self._salt, self._text_salt = _seed_constants(seed, 3)
        self._powers = _Powers(base)

    def hash_tokens(self, tokens: Sequence[str]) -> np.ndarray:
        """Hashes of the given strings, one per string, as uint64."""
        if not tokens:
            return np.empty(0, dtype=_U64)
        running = _running_sums(_code_points("".join(tokens)), self._powers)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        ends = np.cumsum(lengths)
        return self._finish(_window_hashes(running, ends - lengths, ends, self._powers), self._salt)

    def hash_text(self, text: str) -> np.ndarray:
        """Hashes of the words of one text, in order (`tokenize`, then `hash_tokens`)."""
        return self.hash_texts([text]).values

    def hash_texts(self, texts: Sequence[str]) -> Ragged:
        """Word hashes of each text, in order: row i holds the hashes of `tokenize(texts[i])`."""
        return Ragged.concatenate([self._hash_words(piece) for piece in _pieces(texts)])

    def hash_normalised(self, texts: Sequence[str]) -> np.ndarray:
        """One uint64 per text, a hash of `normalise(text)`: equal normalised texts get equal
        hashes. The key for exact duplicates, computed in bulk (`normalise` itself spends most
        of its time in str.split)."""
        parts = [self._hash_normalised(piece) for piece in _pieces(texts)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=_U64)

    def _hash_words(self, texts: Sequence[str]) -> Ragged:
        # "\n" is not a word character, so no word spans two texts.
        chars, text_starts = _fold_piece(texts, "\n", _word_table, _ascii_tables()[0])
        is_word = np.zeros(len(chars) + 2, dtype=np.bool_)
        np.not_equal(chars, 0, out=is_word[1:-1])
        # Word and non-word characters alternate, starting and ending outside a word.
        edges = np.flatnonzero(is_word[1:] != is_word[:-1])
        starts, ends = edges[0::2], edges[1::2]
        running = _running_sums(chars, self._powers)
        hashes = self._finish(_window_hashes(running, starts, ends, self._powers), self._salt)
        return Ragged(hashes, np.searchsorted(starts, text_starts))

    def _hash_normalised(self, texts: Sequence[str]) -> np.ndarray:
        # NUL is not whitespace, so no run of spaces spans two texts; the NULs are dropped below.
        chars, text_starts = _fold_piece(texts, "\0", _normalise_table, _ascii_tables()[1])
        count = len(chars)
        padded = np.zeros(count + 2, dtype=np.bool_)
        is_space = padded[1:-1]
        np.equal(chars, _SPACE, out=is_space)
        edges = np.flatnonzero(padded[1:] != padded[:-1])
        run_starts, run_ends = edges[0::2], edges[1::2]
        separators = text_starts[1:-1] - 1
        at_start = np.zeros(count + 1, dtype=np.bool_)
        at_start[text_starts[:-1]] = True
        at_end = np.zeros(count + 1, dtype=np.bool_)
        at_end[text_starts[1:] - 1] = True
        # normalise() joins the words of str.split() with one space: keep every non-space and,
        # of each run of spaces, the first, unless the run starts or ends its text.
        keep = ~is_space
        keep[separators] = False
        keep[run_starts[~at_start[run_starts] & ~at_end[run_ends]]] = True
        kept_before = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(keep, out=kept_before[1:])
        bounds = kept_before[np.minimum(text_starts, count)]
        running = _running_sums(chars[keep], self._powers)
        return self._finish(
            _window_hashes(running, bounds[:-1], bounds[1:], self._powers), self._text_salt
        )

    @staticmethod
    def _finish(hashes: np.ndarray, salt: int) -> np.ndarray:
        hashes ^= _U64(salt)
        return _mix64(hashes)


def _code_points(text: str) -> np.ndarray:
    # surrogatepass: JSON may carry lone surrogates ("\ud800"); they are simply not words.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


# --------------------------------------------------------------------------- shingles, n-grams

# One hasher-independent base and salt for word windows: windows combine word hashes, which
# already carry the word hasher's seed.
_WINDOW_BASE, _WINDOW_SALT = _seed_constants(0x5EED, 2)
_WINDOW_POWERS = _Powers(_WINDOW_BASE)


def _window_rows(tokens: Ragged, width: int, whole_if_short: bool) -> Ragged:
    if width < 1:
        raise ValueError(f"window width must be at least 1, got {width}")
    values = tokens.values
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
    running = _running_sums(values, _WINDOW_POWERS, pad=width)
    hashes = running[width : width + total] - running[:total]
    hashes *= _WINDOW_POWERS.backward[:total]
    marks = np.zeros(total + 1, dtype=np.int8)
    used = counts > 0
    marks[row_starts[used]] += 1
    marks[row_starts[used] + counts[used]] -= 1
    hashes = hashes[np.cumsum(marks[:total], dtype=np.int8).view(np.bool_)]
    if short is not None and len(short):
        # A short row's one window is all its words, not `width` words running past its end.
        hashes[offsets[short]] = _window_hashes(
            running, row_starts[short], row_starts[short] + lengths[short], _WINDOW_POWERS
        )
    hashes ^= _U64(_WINDOW_SALT)
    return Ragged(_mix64(hashes), offsets)


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


# --------------------------------------------------------------------------- MinHash


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
        keys = (shingle_rows.values >> _U64(32)).astype(np.uint32)
        minima = np.full((self.num_perm, len(filled)), EMPTY_SIGNATURE_VALUE, dtype=np.uint32)
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
            np.minimum(minima[:, first:last], part, out=minima[:, first:last])
        out = np.full((count, self.num_perm), EMPTY_SIGNATURE_VALUE, dtype=np.uint32)
        out[filled] = minima.T
        return out


def datasketch_signature(shingle_hashes: np.ndarray, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """Reference signature from datasketch's own `MinHash` over the same shingle hashes (its
    hash functions differ, so values are not comparable with `MinHasher`, only estimates)."""
    from datasketch import MinHash

    minhash = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda value: value & 0xFFFFFFFF)
    minhash.update_batch([int(value) for value in np.asarray(shingle_hashes, dtype=_U64)])
    return np.asarray(minhash.hashvalues, dtype=np.uint64)


# --------------------------------------------------------------------------- Jaccard


def _is_empty_signature(signatures: np.ndarray) -> np.ndarray:
    return (signatures == EMPTY_SIGNATURE_VALUE).all(axis=-1)


def estimated_jaccard(signature_a: np.ndarray, signature_b: np.ndarray) -> float:
    """Share of equal slots of two signatures (0 if either text had no shingles)."""
    if _is_empty_signature(signature_a) or _is_empty_signature(signature_b):
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
        share[_is_empty_signature(left) | _is_empty_signature(right)] = 0.0
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
    MinHash estimate's noise (its standard deviation is about 0.035 at J = 0.8, 128 slots)."""
    return np.array(
        [exact_jaccard(shingle_rows.row(i), shingle_rows.row(j)) for i, j in pairs.tolist()],
        dtype=np.float64,
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


# --------------------------------------------------------------------------- LSH


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
    keys = np.zeros(len(columns), dtype=_U64)
    for column in range(columns.shape[1]):
        keys ^= columns[:, column]
        keys *= _U64(0x9E3779B97F4A7C15)
        keys ^= keys >> _U64(29)
    return keys


def lsh_candidate_pairs(
    signatures: np.ndarray, bands: int, rows: int, max_bucket: int = 64
) -> np.ndarray:
    """Pairs (i, j), i < j, of rows whose signatures agree on all `rows` slots of some band;
    shape (m, 2), int64, sorted and without repeats.

    For each band the rows are sorted by band key and pairs are read off runs of equal keys.
    A run of s rows would give s*(s-1)/2 pairs, which for thousands of identical texts (one
    templated prompt) is quadratic; a run longer than `max_bucket` is therefore linked as a star,
    each member paired with the run's smallest index only. That keeps every member in the same
    cluster for `clusters`, at the price of not listing (and so not verifying) the other pairs
    inside that run. Rows with the empty signature are never paired.
    """
    count, width = signatures.shape
    if bands * rows > width:
        raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} slots, have {width}")
    present = np.flatnonzero(~_is_empty_signature(signatures))
    codes: list[np.ndarray] = []
    for band in range(bands):
        keys = _band_keys(signatures[present, band * rows : (band + 1) * rows])
        # Stable, so members of a run stay in increasing row order: the first is the smallest.
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        boundaries = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
        run_starts = np.concatenate(([0], boundaries))
        run_sizes = np.diff(np.concatenate((run_starts, [len(keys)])))
        left, right = _run_pairs(run_starts, run_sizes, max_bucket)
        members = present[order]
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
    positions = _ranges(run_starts[small], run_sizes[small])
    later = np.repeat(run_starts[small] + run_sizes[small], run_sizes[small]) - positions - 1
    left_small = np.repeat(positions, later)
    right_small = left_small + 1 + (np.arange(len(left_small)) - np.repeat(np.cumsum(later) - later, later))
    right_large = _ranges(run_starts[large] + 1, run_sizes[large] - 1)
    left_large = np.repeat(run_starts[large], run_sizes[large] - 1)
    return np.concatenate((left_small, left_large)), np.concatenate((right_small, right_large))


# --------------------------------------------------------------------------- clusters


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
