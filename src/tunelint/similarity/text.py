"""Text normalisation, tokenisation and word hashing, one text at a time or in bulk.

The bulk path (`TokenHasher.hash_texts`, `TokenHasher.hash_normalised`) turns a batch of texts
into one array of code points and does all per-character work with numpy.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from tunelint.similarity.hashing import (
    U64,
    Powers,
    Ragged,
    mix64,
    running_sums,
    seed_constants,
    window_hashes,
)

_WORD_RE = re.compile(r"\w+")

# Texts are hashed in pieces of about this many characters so the per-character arrays stay
# in the CPU cache; larger pieces measured slower, much smaller ones pay per-call overhead.
_CHARS_PER_PIECE = 1 << 17


def normalise(text: str) -> str:
    """Return `text` in NFKC form, case-folded, with every whitespace run turned into one space
    and no leading or trailing space (`normalised_bytes`, decoded)."""
    return normalised_bytes(text).decode("utf-8", "surrogatepass")


# bytes.translate table: ASCII letters lower-cased, ASCII whitespace (what str.split splits on:
# \t \n \v \f \r \x1c-\x1f and space) a space, every other byte unchanged (UTF-8 sequences of
# non-ASCII characters only hold bytes >= 0x80).
_LOWER_SPACED = bytes(
    _c + 32 if 65 <= _c <= 90 else 32 if _c < 128 and chr(_c).isspace() else _c for _c in range(256)
)
# The whitespace outside ASCII that can remain after NFKC and case folding: NFKC turns the
# other spaces (U+00A0, U+2000-U+200A, U+202F, U+205F, U+3000) into a plain space, and case
# folding never makes or removes whitespace (tests/test_similarity.py checks the list against
# every code point).
_WIDE_SPACES = ("\x85", "\u1680", "\u2028", "\u2029")


_ASCII_BYTES = bytes(range(128))


def _folded_bytes(normal: str) -> bytes | None:
    """`normal.casefold()` in UTF-8 through _LOWER_SPACED, or None when it holds one of the
    _WIDE_SPACES (str.split must collapse it). Case folding goes character by character, and
    lower-casing is case folding on ASCII: when no character outside ASCII changes (nearly
    always: quotes, dashes, accented small letters), the text's own UTF-8 through the table is
    the answer, without folding the whole text (~9 us for 700 characters)."""
    encoded = normal.encode("utf-8", "surrogatepass")
    outside = encoded.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    if outside.casefold() != outside:
        outside = normal.casefold()
        encoded = outside.encode("utf-8", "surrogatepass")
    if "\x85" in outside or "\u1680" in outside or "\u2028" in outside or "\u2029" in outside:
        return None
    return encoded.translate(_LOWER_SPACED)


def normalised_bytes(text: str) -> bytes:
    """`normalise(text).encode("utf-8", "surrogatepass")`, without building a list of words
    when the text has no whitespace run to collapse (most texts: a line break between two
    words is turned into a space by the same `bytes.translate` that lower-cases ASCII)."""
    if text.isascii():
        # NFKC leaves ASCII unchanged and lower-casing equals case folding on it.
        data = text.encode("ascii").translate(_LOWER_SPACED)
    else:
        data = _folded_bytes(unicodedata.normalize("NFKC", text))
        if data is None:
            return " ".join(unicodedata.normalize("NFKC", text).casefold().split()).encode("utf-8", "surrogatepass")
    # Every whitespace character is a space now: collapse the runs (a run of n spaces takes
    # about log2(n) passes; most runs are a paragraph break, two) and strip the ends.
    # (Each replacement shortens the text, so equal lengths mean nothing was left to replace.)
    collapsed = data.replace(b"  ", b" ")
    while len(collapsed) != len(data):
        data, collapsed = collapsed, collapsed.replace(b"  ", b" ")
    if data[:1] == b" " or data[-1:] == b" ":
        return data.strip(b" ")
    return data


def normalised_many(texts: Sequence[str]) -> tuple[list[bytes], list[str]]:
    """`[normalised_bytes(t) for t in texts]`, and the texts in NFKC form (`_nfkc`: an ASCII
    text is its own), in one pass: the NFKC form a non-ASCII text's key is made from is the
    one `TokenHasher.hash_texts(..., nfkc_done=True)` reads its words from, not computed again."""
    out: list[bytes] = []
    append = out.append
    nfkc = list(texts)
    table = _LOWER_SPACED
    for i, text in enumerate(texts):
        if text.isascii():
            data = text.encode("ascii").translate(table)
        else:
            normal = nfkc[i] = unicodedata.normalize("NFKC", text)
            data = _folded_bytes(normal)
            if data is None:
                append(" ".join(normal.casefold().split()).encode("utf-8", "surrogatepass"))
                continue
        # As in normalised_bytes: collapse the runs of spaces, strip the ends.
        collapsed = data.replace(b"  ", b" ")
        while len(collapsed) != len(data):
            data, collapsed = collapsed, collapsed.replace(b"  ", b" ")
        append(data.strip(b" "))
    return out, nfkc


def tokenize(text: str) -> list[str]:
    """Return the words of the normalised text: runs of word characters (`\\w`), punctuation
    dropped."""
    return _WORD_RE.findall(normalise(text))


# Table entry of a character whose case folding is several characters ("ß" -> "ss").
_FOLDS_TO_SEVERAL = np.uint32(1 << 31)
# Table entry of a code point not looked up yet (above every other entry but _FOLDS_TO_SEVERAL:
# code points end at 0x10FFFF).
_UNKNOWN = np.uint32(1 << 30)
_SPACE = 32
# A lookup that meets more new code points than this builds the whole table at once.
_EAGER_AFTER = 50_000


def _fold_entries(code_points: np.ndarray) -> np.ndarray:
    """Each code point's case folding if that is one character, else _FOLDS_TO_SEVERAL."""
    # Fold every character in one call, each followed by NUL (which folds to itself), then
    # read back where each character's folding starts and how long it is.
    spaced = np.zeros(2 * len(code_points), dtype=np.uint32)
    spaced[0::2] = np.where(code_points == 0, ord("a"), code_points)
    folded_text = spaced.tobytes().decode("utf-32-le", "surrogatepass").casefold()
    folded = np.frombuffer(folded_text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.flatnonzero(folded == 0)
    starts = np.concatenate(([0], ends[:-1] + 1))
    single = (ends - starts) == 1
    out = np.full(len(code_points), _FOLDS_TO_SEVERAL, dtype=np.uint32)
    out[single] = folded[starts[single]]
    out[code_points == 0] = 0  # NUL folds to itself (read as "a" above: it is the separator)
    return out


def _matching_of(code_points: np.ndarray, pattern: str) -> np.ndarray:
    """Which of the code points the one-character regular expression `pattern` matches."""
    text = np.asarray(code_points, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    spans = np.array([m.span() for m in re.finditer(f"(?:{pattern})+", text)], dtype=np.int64).reshape(-1, 2)
    marks = np.zeros(len(code_points) + 1, dtype=np.int8)
    marks[spans[:, 0]] = 1
    marks[spans[:, 1]] = -1
    return np.cumsum(marks[:-1], dtype=np.int8).view(np.bool_)


def _word_entries(code_points: np.ndarray) -> np.ndarray:
    """`_word_table` at these code points: the case folding if that is one word character
    (`\\w`), 0 for a non-word character, _FOLDS_TO_SEVERAL if it folds to several characters
    (the text is then left to str.casefold: rare, "ß", "İ", some Greek)."""
    folding = _fold_entries(code_points)
    several = folding == _FOLDS_TO_SEVERAL
    single = np.where(several, 0, folding)
    return np.where(several, _FOLDS_TO_SEVERAL, np.where(_matching_of(single, r"\w"), single, 0))


def _normalise_entries(code_points: np.ndarray) -> np.ndarray:
    """`_normalise_table` at these code points: the case folding, whitespace (what str.split
    splits on) as a space."""
    table = _fold_entries(code_points)
    table[_matching_of(code_points, r"\s")] = _SPACE
    return table


@functools.cache
def _word_table() -> np.ndarray:
    """`_word_entries` of every code point."""
    return _word_entries(np.arange(0x110000, dtype=np.uint32))


@functools.cache
def _normalise_table() -> np.ndarray:
    """`_normalise_entries` of every code point."""
    return _normalise_entries(np.arange(0x110000, dtype=np.uint32))


class _LazyTable:
    """A table over every code point whose entries are computed the first time a text holds
    the code point: a process meets a few hundred distinct characters, and building the whole
    table cost ~0.15 CPU-s per process (each worker paid it). The entries are those of the
    whole table (`entries(all code points)`); tests/test_similarity.py compares them."""

    def __init__(self, entries: Callable[[np.ndarray], np.ndarray]) -> None:
        self._entries = entries
        self._table: np.ndarray | None = None

    def take(self, code_points: np.ndarray) -> tuple[np.ndarray, bool]:
        """(each code point's entry, whether any entry is _FOLDS_TO_SEVERAL)."""
        table = self._table
        if table is None:
            table = self._table = np.full(0x110000, _UNKNOWN, dtype=np.uint32)
        chars = np.take(table, code_points)
        # One test for both rare cases: _FOLDS_TO_SEVERAL is above _UNKNOWN.
        if not (chars >= _UNKNOWN).any():
            return chars, False
        unknown = chars == _UNKNOWN
        if unknown.any():
            missing = np.unique(code_points[unknown])
            if len(missing) > _EAGER_AFTER:
                table[:] = self._entries(np.arange(0x110000, dtype=np.uint32))
            else:
                table[missing] = self._entries(missing)
            chars = np.take(table, code_points)
        return chars, bool((chars == _FOLDS_TO_SEVERAL).any())


_WORDS = _LazyTable(_word_entries)
_NORMAL = _LazyTable(_normalise_entries)


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
    texts: Sequence[str], separator: str, table: _LazyTable, ascii_table: bytes, nfkc_done: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """NFKC the texts (unless `nfkc_done`), join them with `separator` and map every character
    through the table.

    Returns the mapped characters (uint8 if all is ASCII, else uint32) and where each text
    starts among them (one more entry: where the next text would start).
    """
    prepared = texts if nfkc_done else [_nfkc(text) for text in texts]
    joined = separator.join(prepared)
    if joined.isascii():
        chars = np.frombuffer(joined.encode("ascii").translate(ascii_table), np.uint8)
    else:
        chars, several = table.take(_code_points(joined))
        if several:
            prepared = [text.casefold() for text in prepared]
            chars, _ = table.take(_code_points(separator.join(prepared)))
    starts = np.zeros(len(prepared) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, prepared), dtype=np.int64, count=len(prepared)), out=starts[1:])
    starts[1:] += np.arange(1, len(prepared) + 1) * len(separator)
    return chars, starts


def _pieces(texts: Sequence[str]) -> Iterable[Sequence[str]]:
    """Consecutive slices of `texts` of about _CHARS_PER_PIECE characters (at least one text):
    each ends with the text that brings it to _CHARS_PER_PIECE or more."""
    count = len(texts)
    if not count:
        return
    ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=count))
    start, done = 0, 0
    while start < count:
        stop = int(np.searchsorted(ends, done + _CHARS_PER_PIECE, side="left")) + 1
        stop = min(max(stop, start + 1), count)
        yield texts[start:stop]
        done = int(ends[stop - 1])
        start = stop


def _nfkc(text: str) -> str:
    # NFKC leaves ASCII unchanged; the quick check makes already-normal text cheap too.
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


class TokenHasher:
    """Hashes words to uint64, in bulk: a batch of texts becomes one array of code points, words
    are found with a table lookup and hashed with a polynomial over one running sum.

    Per-word Python work (a regex per text, a memoised xxhash per word, a list to array) measured
    about 60 us per 900-character text, a minute for a million; this path takes 5 to 9 us. The
    hash of a word depends only on the word and the seed, so `hash_tokens(tokenize(t))` equals
    the row `hash_texts([t])` returns.
    """

    def __init__(self, seed: int = 0) -> None:
        base, self._salt, self._text_salt = seed_constants(seed, 3)
        self._powers = Powers(base)

    def hash_tokens(self, tokens: Sequence[str]) -> np.ndarray:
        """Hashes of the given strings, one per string, as uint64."""
        if not tokens:
            return np.empty(0, dtype=U64)
        running = running_sums(_code_points("".join(tokens)), self._powers)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        ends = np.cumsum(lengths)
        return self._finish(window_hashes(running, ends - lengths, ends, self._powers), self._salt)

    def hash_text(self, text: str) -> np.ndarray:
        """Hashes of the words of one text, in order (`tokenize`, then `hash_tokens`)."""
        return self.hash_texts([text]).values

    def hash_texts(self, texts: Sequence[str], nfkc_done: bool = False) -> Ragged:
        """Word hashes of each text, in order: row i holds the hashes of `tokenize(texts[i])`.
        `nfkc_done`: each text is already `_nfkc` of the text meant (`normalised_many` gives
        them), so it is not normalised again."""
        return Ragged.concatenate([self._hash_words(piece, nfkc_done) for piece in _pieces(texts)])

    def hash_normalised(self, texts: Sequence[str]) -> np.ndarray:
        """One uint64 per text, a hash of `normalise(text)`: equal normalised texts get equal
        hashes. A key for exact duplicates computed in bulk (the `Batch` keys use xxh3 of
        `normalised_bytes` instead: docs/performance.md)."""
        parts = [self._hash_normalised(piece) for piece in _pieces(texts)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=U64)

    def _hash_words(self, texts: Sequence[str], nfkc_done: bool = False) -> Ragged:
        # "\n" is not a word character, so no word spans two texts.
        chars, text_starts = _fold_piece(texts, "\n", _WORDS, _ascii_tables()[0], nfkc_done)
        is_word = np.zeros(len(chars) + 2, dtype=np.bool_)
        np.not_equal(chars, 0, out=is_word[1:-1])
        # Word and non-word characters alternate, starting and ending outside a word.
        edges = np.flatnonzero(is_word[1:] != is_word[:-1])
        starts, ends = edges[0::2], edges[1::2]
        running = running_sums(chars, self._powers)
        hashes = self._finish(window_hashes(running, starts, ends, self._powers), self._salt)
        return Ragged(hashes, np.searchsorted(starts, text_starts))

    def _hash_normalised(self, texts: Sequence[str]) -> np.ndarray:
        # NUL is not whitespace, so no run of spaces spans two texts; the NULs are dropped below.
        chars, text_starts = _fold_piece(texts, "\0", _NORMAL, _ascii_tables()[1])
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
        keep = np.zeros(count + 1, dtype=np.bool_)  # one spare False: the last text may be empty
        np.logical_not(is_space, out=keep[:-1])
        keep[separators] = False
        keep[run_starts[~at_start[run_starts] & ~at_end[run_ends]]] = True
        # Every text's segment holds at least its separator or the spare, so none is empty.
        bounds = np.zeros(len(text_starts), dtype=np.int64)
        np.cumsum(
            np.add.reduceat(keep.view(np.uint8), text_starts[:-1], dtype=np.int64), out=bounds[1:]
        )
        keep = keep[:-1]
        running = running_sums(chars[keep], self._powers)
        return self._finish(
            window_hashes(running, bounds[:-1], bounds[1:], self._powers), self._text_salt
        )

    @staticmethod
    def _finish(hashes: np.ndarray, salt: int) -> np.ndarray:
        hashes ^= U64(salt)
        return mix64(hashes)


def _code_points(text: str) -> np.ndarray:
    # surrogatepass: JSON may carry lone surrogates ("\ud800"); they are simply not words.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
