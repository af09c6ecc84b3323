"""Helpers the duplication, consistency and balance checks share: compact per-example references,
canonical text forms, batched MinHash signatures and safe excerpts for evidence.

Dataset checks see up to millions of examples; they keep hashes, small integers and signatures
per example here, never the texts.
"""

from __future__ import annotations

import bisect
import re
import sys
from array import array
from collections import Counter
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from tunelint.checks._keyed import take_rows
from tunelint.similarity.hashing import ranges
from tunelint.models import Example, Location

if TYPE_CHECKING:
    from tunelint.checks._batch import Batch

    from tunelint.labels import LabelProfile, LabelSpec
from tunelint.privacy.shapes import PHONE_DIGIT_RUN
from tunelint.similarity import (
    MinHasher,
    Ragged,
    TokenHasher,
    estimated_jaccard_pairs,
    exact_jaccard,
    exact_jaccard_pairs,
    lsh_candidate_pairs,
    lsh_params,
    shingle_rows,
)

# Texts are hashed in batches of this many: big enough for the vectorised hasher to pay off,
# small enough that the pending texts stay a few megabytes.
BATCH = 4096
EXCERPT_CHARS = 300
# How many other members a finding lists in `related` / evidence; the count is always given.
MAX_LISTED = 20

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class ExampleRefs:
    """Where each observed example is (split, path, index, line, record hash), in flat arrays."""

    def __init__(self) -> None:
        self._paths: list[tuple[str, str]] = []
        self._path_ids: dict[tuple[str, str], int] = {}
        self._path = array("I")
        self._index = array("q")
        self._line = array("q")
        self._hash = array("Q")

    def add(self, example: Example) -> int:
        key = (example.split, example.path)
        pid = self._path_ids.get(key)
        if pid is None:
            pid = self._path_ids[key] = len(self._paths)
            self._paths.append(key)
        self._path.append(pid)
        self._index.append(example.index)
        self._line.append(-1 if example.line is None else example.line)
        self._hash.append(int(example.record_hash, 16) if example.record_hash else 0)
        return len(self._index) - 1

    def add_batch(self, batch: "Batch") -> None:
        """Add every example of a batch (one split), in order."""
        paths, index, line, hashes = batch.columns()
        split = batch.examples[0].split
        first = paths[0]
        if paths.count(first) == len(paths):
            pid = self._path_id(split, first)
            self._path.extend(array("I", [pid]) * len(paths))
        else:
            self._path.extend(array("I", [self._path_id(split, p) for p in paths]))
        self._index.extend(index)
        self._line.extend(line)
        self._hash.extend(hashes)

    def _path_id(self, split: str, path: str) -> int:
        key = (split, path)
        pid = self._path_ids.get(key)
        if pid is None:
            pid = self._path_ids[key] = len(self._paths)
            self._paths.append(key)
        return pid

    def __len__(self) -> int:
        return len(self._index)

    def extend(self, other: "ExampleRefs") -> None:
        """Append the examples another instance saw (a later chunk of the data)."""
        remap = []
        for key in other._paths:
            pid = self._path_ids.get(key)
            if pid is None:
                pid = self._path_ids[key] = len(self._paths)
                self._paths.append(key)
            remap.append(pid)
        if remap == list(range(len(remap))):
            # The same files in the same order (every chunk of one file): ids carry over as they are.
            self._path.extend(other._path)
        else:
            ids = np.frombuffer(other._path, dtype=np.uint32) if len(other._path) else np.empty(0, dtype=np.uint32)
            self._path.frombytes(np.asarray(remap, dtype=np.uint32)[ids].tobytes())
        self._index.extend(other._index)
        self._line.extend(other._line)
        self._hash.extend(other._hash)

    def split(self, pos: int) -> str:
        return self._paths[self._path[pos]][0]

    def path(self, pos: int) -> str:
        return self._paths[self._path[pos]][1]

    def line(self, pos: int) -> int | None:
        value = self._line[pos]
        return None if value < 0 else value

    def index(self, pos: int) -> int:
        return self._index[pos]

    def record_hash(self, pos: int) -> int:
        return self._hash[pos]

    def location(self, pos: int) -> Location:
        split, path = self._paths[self._path[pos]]
        return Location(split, path, self.line(pos), self._index[pos])

    def ref(self, pos: int) -> dict[str, object]:
        """A short JSON-ready reference for evidence: line (when known) and index."""
        out: dict[str, object] = {"index": self._index[pos]}
        if self._line[pos] >= 0:
            out["line"] = self._line[pos]
        if len(self._paths) > 1:
            out["path"] = self.path(pos)
        return out

    def where(self, pos: int) -> str:
        """'line 12' (or 'record 11' for containers without lines), with the file when several."""
        line = self.line(pos)
        text = f"line {line}" if line is not None else f"record {self._index[pos]}"
        return f"{text} of {self.path(pos)}" if len(self._paths) > 1 else text

    def stub(self, pos: int) -> Example:
        """A bodiless Example at this position, enough for `Check.finding`."""
        split, path = self._paths[self._path[pos]]
        return Example(split, path, self._index[pos], self.line(pos), "", (), f"{self._hash[pos]:016x}")

    def splits(self) -> list[str]:
        return sorted({split for split, _ in self._paths})

    def positions_by_split(self) -> dict[str, np.ndarray]:
        """Positions of the examples of each split, in observation order."""
        split_of_path = np.array([self._paths[p][0] for p in range(len(self._paths))], dtype=object)
        path_ids = np.frombuffer(self._path, dtype=np.uint32) if len(self._path) else np.empty(0, dtype=np.uint32)
        out: dict[str, np.ndarray] = {}
        for split in self.splits():
            ids = [i for i, s in enumerate(split_of_path) if s == split]
            out[split] = np.flatnonzero(np.isin(path_ids, ids))
        return out

    def first_path(self, split: str) -> str:
        for s, path in self._paths:
            if s == split:
                return path
        return ""


def output_text(example: Example) -> str:
    """The final assistant turn: its text, and its tool calls as `name(arguments)`."""
    turn = example.final_assistant
    if turn is None:
        return ""
    calls = "\n".join(f"{c.name}({c.arguments})" for c in turn.tool_calls)
    return f"{turn.content}\n{calls}" if calls else turn.content


def excerpt(text: str, show_pii: bool = False, limit: int = EXCERPT_CHARS) -> str:
    """A bounded piece of dataset text for evidence; PII values and secrets the privacy detectors
    find, any other e-mail address and long digit runs (phone, card, account numbers) masked
    unless the user asked to see PII."""
    if not show_pii:
        text = _safe(text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


# Texts made safe lately: the findings of one group quote the same members again and again.
_SAFE: dict[str, str] = {}
_SAFE_MAX = 20_000


def _safe(text: str) -> str:
    """`text` with its PII values, secrets, e-mail addresses and long digit runs masked."""
    done = _SAFE.get(text)
    if done is None:
        from tunelint.privacy.safe import mask_text

        done = PHONE_DIGIT_RUN.sub("[number]", _EMAIL.sub("[email]", mask_text(text)))
        if len(_SAFE) >= _SAFE_MAX:
            _SAFE.clear()
        _SAFE[text] = done
    return done


class Signatures:
    """MinHash signatures of texts added one at a time, computed in vectorised batches.

    Keeps, per text, its signature and its word count; the texts themselves are dropped once
    their batch is hashed.
    """

    def __init__(self, num_perm: int, shingle_size: int, seed: int = 1, keep_shingles: int = 0) -> None:
        self.shingle_size = shingle_size
        # Shingle hashes are kept for exact verification while their count stays within
        # `keep_shingles`; past it they are dropped and only the signatures remain.
        self._keep_budget = keep_shingles
        self._kept: list[Ragged] | None = [] if keep_shingles > 0 else None
        self._kept_count = 0
        self._tokens = TokenHasher()
        self._minhash = MinHasher(num_perm=num_perm, seed=seed)
        self._pending: list[str] = []
        self._done: list[np.ndarray] = []
        self._words: list[np.ndarray] = []
        self.num_perm = num_perm

    def add(self, text: str) -> None:
        self._pending.append(text)
        if len(self._pending) >= BATCH:
            self._flush()

    def add_tokens(self, tokens: Ragged) -> None:
        """Add texts given as their word hashes (`TokenHasher().hash_texts`), in order."""
        self._flush()
        self._add_tokens(tokens)

    def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._add_tokens(self._tokens.hash_texts(pending))

    def _add_tokens(self, tokens: Ragged) -> None:
        self._words.append(tokens.lengths().astype(np.int32))
        rows = shingle_rows(tokens, self.shingle_size)
        self._done.append(self._minhash.signature_rows(rows))
        if self._kept is not None:
            self._kept_count += len(rows.values)
            if self._kept_count > self._keep_budget:
                self._kept = None
            else:
                self._kept.append(rows)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """(signatures (n, num_perm) uint32, word counts (n,) int32), in the order added."""
        self._flush()
        if not self._done:
            return np.empty((0, self.num_perm), dtype=np.uint32), np.empty(0, dtype=np.int32)
        signatures = np.concatenate(self._done)
        words = np.concatenate(self._words)
        self._done, self._words = [signatures], [words]
        return signatures, words

    def finish_parts(self) -> tuple["SignatureParts", np.ndarray]:
        """`finish()` with the signatures left in their batches' parts (`SignatureParts`): the
        similarity search reads the rows it needs where they are instead of joining them all
        (51 MB at 100k examples of 128 slots, 512 MB at 1M, and twice that while both exist)."""
        self._flush()
        words = np.concatenate(self._words) if self._words else np.empty(0, dtype=np.int32)
        self._words = [words]
        return SignatureParts(self._done, self.num_perm), words

    def extend(self, other: "Signatures") -> None:
        """Append another instance's texts, in order (a later chunk of the data)."""
        self._flush()
        other._flush()
        self._done.extend(other._done)
        self._words.extend(other._words)
        if self._kept is not None and other._kept is not None:
            self._kept_count += other._kept_count
            if self._kept_count > self._keep_budget:
                self._kept = None
            else:
                self._kept.extend(other._kept)
        else:
            self._kept = None

    def shingles(self) -> Ragged | None:
        """Every text's shingle hashes (call after `finish`), or None if over the budget."""
        if self._kept is None:
            return None
        if len(self._kept) != 1:
            self._kept = [Ragged.concatenate(self._kept)]
        return self._kept[0]

    def shingle_parts(self) -> "ShingleParts | None":
        """`shingles()` without joining the batches' parts into one array (the rows a check
        compares are a few of them), or None if over the budget."""
        if self._kept is None:
            return None
        return ShingleParts(list(self._kept))


class SignatureParts:
    """Signature rows held as several (rows, slots) parts, read as one matrix by row number:
    `parts[rows]` (a list or array of row numbers) gives those rows, `parts[rows, column]` one
    slot of each; `shape` and `len` as the joined matrix's. That is all the similarity search
    (`lsh_candidate_pairs` with positions, `estimated_jaccard_pairs`) does with a signature
    matrix; any other indexing is refused."""

    def __init__(self, parts: list[np.ndarray], width: int) -> None:
        self._parts = [part for part in parts if len(part)]
        self._first = np.zeros(len(self._parts) + 1, dtype=np.int64)
        np.cumsum([len(part) for part in self._parts], out=self._first[1:])
        self.shape = (int(self._first[-1]), width)
        self.dtype = np.dtype(np.uint32)
        self._starts = self._first[:-1].tolist()

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: object) -> np.ndarray:
        column = None
        if isinstance(key, tuple):
            if len(key) != 2 or not isinstance(key[1], (int, np.integer)):
                raise TypeError(f"SignatureParts cannot be indexed by {key!r}")
            key, column = key
        if isinstance(key, (slice, int, np.integer)) or key is None or key is Ellipsis:
            raise TypeError("SignatureParts is indexed by arrays of row numbers only")
        rows = np.asarray(key)
        if rows.dtype == np.bool_ or rows.ndim != 1:
            raise TypeError("SignatureParts is indexed by a 1-d array of row numbers")
        if len(rows) <= _FEW_ROWS:
            return self._few(rows.astype(np.int64, copy=False).tolist(), column)
        rows = rows.astype(np.int64, copy=False)
        if len(rows) and (rows.min() < -self.shape[0] or rows.max() >= self.shape[0]):
            raise IndexError("row number out of range")
        rows = np.where(rows < 0, rows + self.shape[0], rows)
        shape = (len(rows),) if column is not None else (len(rows), self.shape[1])
        out = np.empty(shape, dtype=np.uint32)
        if not len(rows):
            return out
        part_of = np.searchsorted(self._first, rows, side="right") - 1
        if part_of[0] == part_of[-1] and (part_of == part_of[0]).all():
            # Sorted positions read a block at a time: nearly always one part.
            k = int(part_of[0])
            local = rows - self._first[k]
            return self._parts[k][local] if column is None else self._parts[k][local, column]
        order = np.argsort(part_of, kind="stable")
        bounds = np.flatnonzero(np.diff(part_of[order])) + 1
        for run in np.split(order, bounds):
            k = int(part_of[run[0]])
            local = rows[run] - self._first[k]
            out[run] = self._parts[k][local] if column is None else self._parts[k][local, column]
        return out

    def _few(self, rows: list[int], column: int | None) -> np.ndarray:
        """`__getitem__` of a few rows, one at a time in Python: conflicting-outputs compares
        its groups' heads a handful at a time, where the array path's fixed cost dominated."""
        n = self.shape[0]
        out = np.empty((len(rows),) if column is not None else (len(rows), self.shape[1]), dtype=np.uint32)
        for i, row in enumerate(rows):
            if not -n <= row < n:
                raise IndexError("row number out of range")
            if row < 0:
                row += n
            k = bisect.bisect_right(self._starts, row) - 1
            local = row - self._starts[k]
            out[i] = self._parts[k][local] if column is None else self._parts[k][local, column]
        return out


# Rows up to which `SignatureParts` reads one at a time.
_FEW_ROWS = 8


class ShingleParts:
    """The rows of several `Ragged` parts, numbered in order across them, read where they are:
    joining every batch's shingles (126 MB at 100k examples) only to read the candidate pairs'
    rows cost more than the reading."""

    def __init__(self, parts: list[Ragged]) -> None:
        self._parts = parts
        self._first = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([len(part) for part in parts], out=self._first[1:])

    def __len__(self) -> int:
        return int(self._first[-1])

    def row(self, index: int) -> np.ndarray:
        k = int(np.searchsorted(self._first, index, side="right")) - 1
        return self._parts[k].row(index - int(self._first[k]))

    def take(self, positions: np.ndarray) -> Ragged:
        """The rows at `positions`, in that order (`take_rows` of the joined rows)."""
        positions = np.asarray(positions, dtype=np.int64)
        part_of = np.searchsorted(self._first, positions, side="right") - 1
        lengths = np.zeros(len(positions), dtype=np.int64)
        pieces: list[tuple[np.ndarray, np.ndarray]] = []  # (where in the output, values)
        for k in np.unique(part_of).tolist():
            where = np.flatnonzero(part_of == k)
            rows = take_rows(self._parts[k], positions[where] - self._first[k])
            lengths[where] = rows.lengths()
            pieces.append((where, rows.values))
        offsets = np.zeros(len(positions) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = np.empty(int(offsets[-1]), dtype=np.uint64)
        for where, part_values in pieces:
            values[ranges(offsets[:-1][where], lengths[where])] = part_values
        return Ragged(values, offsets)

    def values(self) -> Iterator[np.ndarray]:
        """Every row's values, part by part."""
        for part in self._parts:
            yield part.values[int(part.offsets[0]) : int(part.offsets[-1])]

    def joined(self) -> Ragged:
        return Ragged.concatenate(self._parts) if len(self._parts) != 1 else self._parts[0]


def minority(groups: dict[int, list[int]]) -> tuple[int | None, set[int]]:
    """Given members grouped by some value, the majority value (None on a tie for first) and
    the members that are not in the majority group (every member on a tie)."""
    sizes = sorted(((len(v), k) for k, v in groups.items()), key=lambda kv: -kv[0])
    if len(sizes) > 1 and sizes[0][0] == sizes[1][0]:
        return None, {m for v in groups.values() for m in v}
    top = sizes[0][1]
    return top, {m for k, v in groups.items() if k != top for m in v}


def iter_runs(keys: np.ndarray) -> Iterator[np.ndarray]:
    """Positions grouped by equal key, for every key held by more than one position; each group
    in increasing position order, groups ordered by their first position."""
    if len(keys) < 2:
        return
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    bounds = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(keys)]))
    multi = (ends - starts) > 1
    groups = [order[s:e] for s, e in zip(starts[multi], ends[multi])]
    groups.sort(key=lambda g: int(g[0]))
    yield from groups


def similar_pairs(
    signatures: np.ndarray,
    positions: np.ndarray,
    block: np.ndarray,
    threshold: float,
    shingles: "Ragged | ShingleParts | None",
    max_bucket: int = 64,
    boilerplate_share: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of `positions` whose texts reach Jaccard `threshold`, and their similarity.

    Candidates come from MinHash LSH (bands and rows chosen so a pair at the threshold is found
    with probability 0.95); pairs whose `block` values differ (e.g. different system prompts)
    are dropped; the rest are verified by their exact Jaccard when the shingles are at hand,
    else by the signatures' estimate. Returned pairs hold positions (i < j) and are sorted.
    """
    if len(positions) < 2:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    bands, rows = lsh_params(threshold, signatures.shape[1])
    local = lsh_candidate_pairs(signatures, bands, rows, max_bucket=max_bucket, positions=positions)
    pairs = positions[local] if len(local) else np.empty((0, 2), dtype=np.int64)
    if len(pairs):
        pairs = pairs[block[pairs[:, 0]] == block[pairs[:, 1]]]
    if not len(pairs):
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    if isinstance(shingles, ShingleParts):
        # Only the rows of candidate pairs are compared (each pair's Jaccard is its own rows').
        members = np.unique(pairs)
        kept = shingles.take(members)
        if boilerplate_share is not None:
            # The template is found over every row: read them in place while no value can be
            # one (`boilerplate`'s first test), else join them.
            limit = boilerplate_share * len(positions)
            if sum((_coarse_counts(v) for v in shingles.values()), np.zeros(_COARSE, dtype=np.int64)).max() > limit:
                kept = without_values(kept, boilerplate(shingles.joined(), positions, boilerplate_share))
        sims = exact_jaccard_pairs(kept, np.searchsorted(members, pairs))
    elif shingles is not None and boilerplate_share is not None:
        # The template is found over every row; only the rows of candidate pairs are compared.
        members = np.unique(pairs)
        kept = without_values(take_rows(shingles, members), boilerplate(shingles, positions, boilerplate_share))
        sims = exact_jaccard_pairs(kept, np.searchsorted(members, pairs))
    elif shingles is not None:
        sims = exact_jaccard_pairs(shingles, pairs)
    else:
        sims = estimated_jaccard_pairs(signatures, pairs)
    keep = sims >= threshold
    return pairs[keep], sims[keep]


def pair_similarity(signatures: np.ndarray, shingles: "Ragged | ShingleParts | None", a: int, b: int) -> float:
    """Jaccard of two texts: exact when the shingles are kept, else estimated."""
    if shingles is not None:
        return float(exact_jaccard(shingles.row(a), shingles.row(b)))
    return float(estimated_jaccard_pairs(signatures, np.array([[a, b]], dtype=np.int64))[0])


def fetch_examples(
    context: object,
    wanted: dict[str, set[int]],
    where: dict[str, dict[int, tuple[int | None, int]]] | None = None,
) -> dict[tuple[str, int], Example]:
    """Read the named examples again (path -> record indices), to show their text in evidence
    without having kept every text in memory. Paths that cannot be read twice (stdin) are
    skipped: the caller shows what it has without the text.

    `where` (path -> index -> (line, record hash)) lets a JSONL file be read at those lines
    only instead of from the start; a line whose record hash differs from the one observed
    (the file is not line-per-record) sends that path back to the full read.
    """
    from tunelint.loader import InputError, Loader
    from tunelint.registry import load_formats

    settings = getattr(context, "settings", None)
    splits = getattr(context, "splits", {}) or {}
    split_of = {path: split for split, paths in splits.items() for path in paths}
    found: dict[tuple[str, int], Example] = {}
    formats = load_formats()
    for path, indices in wanted.items():
        if path == "-" or not indices:
            continue
        loader = Loader(
            path,
            split_of.get(path, "train"),
            formats,
            getattr(settings, "input_format", None),
            getattr(settings, "fields", None),
        )
        places = (where or {}).get(path)
        if places is not None:
            try:
                quick = _fetch_lines(loader, {i: places[i] for i in indices})
            except (KeyError, OSError, InputError):
                quick = None
            if quick is not None:
                found.update(((path, i), e) for i, e in quick.items())
                continue
        remaining = set(indices)
        try:
            for item in loader:
                if isinstance(item, Example) and item.index in remaining:
                    found[(path, item.index)] = item
                    remaining.discard(item.index)
                    if not remaining:
                        break
        except (OSError, InputError):
            continue
    return found


def _fetch_lines(loader: object, places: dict[int, tuple[int | None, int]]) -> dict[int, Example] | None:
    """The examples at the given (index -> (line, record hash)) of a plain JSONL file, read
    line by line from their byte offsets; None when that cannot be done or does not match."""
    from dataclasses import replace

    from tunelint.loader.reader import GZIP_MAGIC, PARQUET_MAGIC, Chunk

    path = loader.path  # type: ignore[attr-defined]
    if path.endswith(".txt") or any(line is None for line, _ in places.values()):
        return None
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == GZIP_MAGIC or head[:4] == PARQUET_MAGIC:
        return None
    fmt = loader.detect()  # type: ignore[attr-defined]
    if fmt is None:
        return None
    starts = _line_starts(path, sorted({line for line, _ in places.values()}))
    out: dict[int, Example] = {}
    for index, (line, record_hash) in places.items():
        start, end = starts.get(line, (None, None))
        if start is None:
            return None
        chunk = Chunk(start, end, line - 1, index)
        items = [x for x in replace(loader, chunk=chunk, format_name=fmt) if isinstance(x, Example)]  # type: ignore[type-var]
        if len(items) != 1 or items[0].index != index or int(items[0].record_hash or "0", 16) != record_hash:
            return None
        out[index] = items[0]
    return out


# Bytes read at a time when looking for line starts.
_LINE_BLOCK = 1 << 24


def _line_starts(path: str, lines: list[int]) -> dict[int, tuple[int, int]]:
    """Byte ranges (start, end) of the given 1-based lines of a file."""
    out: dict[int, tuple[int, int]] = {}
    wanted = np.asarray(lines, dtype=np.int64)
    seen = 0  # newlines before the current block
    offset = 0  # bytes before the current block
    line_start = 0  # where the line after the last newline so far starts
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_LINE_BLOCK)
            if not block:
                break
            newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + offset
            count = len(newlines)
            # Line L ends with newline number L: those in this block.
            for line in wanted[(wanted > seen) & (wanted <= seen + count)].tolist():
                k = line - 1 - seen
                start = line_start if k == 0 else int(newlines[k - 1]) + 1
                out[line] = (start, int(newlines[k]) + 1)
            if count:
                line_start = int(newlines[-1]) + 1
            seen += count
            offset += len(block)
    if seen + 1 in set(lines) and line_start < offset:
        out[seen + 1] = (line_start, offset)  # a last line without a line break
    return out


_BUCKETS = 1 << 20
_SLICE = 1 << 22


def boilerplate(shingles: Ragged, positions: np.ndarray, share: float) -> np.ndarray:
    """Sorted shingle values present in more than `share` of the rows at `positions` (and in at
    least 3 of them): the template text every example carries."""
    lengths = shingles.lengths()
    limit = share * len(positions)
    base, end = int(shingles.offsets[0]), int(shingles.offsets[-1])
    values = shingles.values[base:end]
    if not _any_coarse_over(values, limit):
        # Most data has no template: no value can be in more than `limit` rows.
        return np.empty(0, dtype=values.dtype)
    chosen = None
    if len(positions) != len(lengths):
        rows = np.zeros(len(lengths), dtype=bool)
        rows[positions] = True
        chosen = np.repeat(rows, lengths)  # per value: its row is one of `positions`
    # A value in more than `limit` rows occurs more than `limit` times, and so does every value
    # sharing its hash bucket: only values of such buckets need their rows counted. Two passes
    # over slices of the values, so no temporary is as long as all of them.
    counts = np.zeros(_BUCKETS, dtype=np.int64)
    for lo in range(0, len(values), _SLICE):
        bucket = _buckets(values[lo : lo + _SLICE])
        if chosen is not None:
            bucket = bucket[chosen[lo : lo + _SLICE]]
        counts += np.bincount(bucket, minlength=_BUCKETS)
    heavy_buckets = counts > limit
    found = []
    for lo in range(0, len(values), _SLICE):
        heavy = heavy_buckets[_buckets(values[lo : lo + _SLICE])]
        if chosen is not None:
            heavy &= chosen[lo : lo + _SLICE]
        found.append(np.flatnonzero(heavy) + lo)
    where = np.concatenate(found) if found else np.empty(0, dtype=np.int64)
    heavy_values = values[where]
    row_of = np.searchsorted(shingles.offsets, where + base, side="right") - 1
    order = np.lexsort((heavy_values, row_of))
    heavy_values, row_of = heavy_values[order], row_of[order]
    first = np.ones(len(heavy_values), dtype=bool)
    first[1:] = (heavy_values[1:] != heavy_values[:-1]) | (row_of[1:] != row_of[:-1])
    unique, counts = np.unique(heavy_values[first], return_counts=True)
    return unique[(counts > limit) & (counts >= 3)]


def _buckets(values: np.ndarray) -> np.ndarray:
    return ((values >> np.uint64(40)) & np.uint64(_BUCKETS - 1)).astype(np.intp)


# Coarse buckets: bits 48-59 of a value, its `_buckets` bucket (bits 40-59) without the low 8
# bits, so each coarse bucket is a union of 256 buckets and counts at least as much as each.
_COARSE = 1 << 12


def _any_coarse_over(values: np.ndarray, limit: float) -> bool:
    """Whether some coarse bucket holds more than `limit` of the values: when none does, no
    bucket of `boilerplate`'s passes and no value does either (a superset test). One pass
    over 16 bits of each value into 4,096 counters that stay in cache: about half the cost of
    one of the exact passes, and the whole cost when nothing is a template."""
    return bool((_coarse_counts(values) > limit).any())


def _coarse_counts(values: np.ndarray) -> np.ndarray:
    """How many of the values fall in each coarse bucket."""
    counts = np.zeros(_COARSE, dtype=np.int64)
    little = sys.byteorder == "little" and values.dtype == np.uint64
    for lo in range(0, len(values), _SLICE):
        piece = values[lo : lo + _SLICE]
        if little:
            # The top 16 bits of each little-endian uint64, read in place.
            top = np.ascontiguousarray(piece).view(np.uint16)[3::4] & np.uint16(_COARSE - 1)
        else:
            top = ((piece >> np.uint64(48)) & np.uint64(_COARSE - 1)).astype(np.intp)
        counts += np.bincount(top, minlength=_COARSE)
    return counts


def without_values(shingles: Ragged, dropped: np.ndarray) -> Ragged:
    """The shingles of every row minus the `dropped` values."""
    if not len(dropped):
        return shingles
    keep = ~np.isin(shingles.values, dropped)
    # Kept values before each row's start and end (empty rows anywhere, the last one too).
    before = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=before[1:])
    offsets = before[shingles.offsets] - before[shingles.offsets[0]]
    return Ragged(shingles.values[keep], offsets)


class LabelTally:
    """Each example's label as spelled and its canonical form, as small integer ids; with
    `per_example=False` only how many examples carry each spelling."""

    def __init__(self, spec: "LabelSpec", per_example: bool = True) -> None:
        self.spec = spec
        self.per_example = per_example
        self.spellings: list[str] = []
        self._spelling_ids: dict[str, int] = {}
        self.canonical_of: list[int] = []
        self.canonicals: list[str] = []
        self._canonical_ids: dict[str, int] = {}
        self.spelled = array("i")  # per example, -1 without a label (per_example)
        self._counts = array("q")  # per spelling id (not per_example)
        self.outputs = 0

    def _spelling(self, raw: str, canonical: str) -> int:
        sid = self._spelling_ids[raw] = len(self.spellings)
        self.spellings.append(raw)
        cid = self._canonical_ids.get(canonical)
        if cid is None:
            cid = self._canonical_ids[canonical] = len(self.canonicals)
            self.canonicals.append(canonical)
        self.canonical_of.append(cid)
        self._counts.append(0)
        return sid

    def _add_ids(self, spelled: Iterable[int]) -> None:
        if self.per_example:
            self.spelled.extend(spelled)
            return
        counts = self._counts
        for sid, n in Counter(spelled).items():
            if sid >= 0:
                counts[sid] += n

    def add_batch(self, batch: "Batch") -> None:
        """Every example of a batch, in order."""
        from tunelint.labels import canonical_label

        has, raws = batch.labels(self.spec)
        self.outputs += sum(has)
        ids = self._spelling_ids
        spelled = []
        for raw in raws:
            if raw is None:
                spelled.append(-1)
                continue
            sid = ids.get(raw)
            if sid is None:
                sid = self._spelling(raw, canonical_label(raw))
            spelled.append(sid)
        self._add_ids(array("i", spelled))

    def extend(self, other: "LabelTally") -> None:
        """Append another tally's examples, in order (a later chunk of the data)."""
        remap = []
        for sid, raw in enumerate(other.spellings):
            mine = self._spelling_ids.get(raw)
            if mine is None:
                mine = self._spelling(raw, other.canonicals[other.canonical_of[sid]])
            remap.append(mine)
        if self.per_example:
            self.spelled.extend(remap[s] if s >= 0 else -1 for s in other.spelled)
        else:
            for sid, n in enumerate(other._counts):
                self._counts[remap[sid]] += n
        self.outputs += other.outputs

    def spelled_array(self) -> np.ndarray:
        assert self.per_example, "a tally of counts keeps no per-example ids"
        return np.frombuffer(self.spelled, dtype=np.int32) if len(self.spelled) else np.empty(0, dtype=np.int32)

    def spelling_counts(self) -> np.ndarray:
        if not self.per_example:
            return np.array(self._counts, dtype=np.int64)
        ids = self.spelled_array()
        return np.bincount(ids[ids >= 0], minlength=len(self.spellings))

    def canonical_counts(self) -> "Counter[str]":
        counts: Counter[str] = Counter()
        for sid, n in enumerate(self.spelling_counts().tolist()):
            if n:
                counts[self.canonicals[self.canonical_of[sid]]] += n
        return counts

    def display(self) -> dict[str, str]:
        """Canonical label -> its most common spelling (stripped), for messages."""
        best: dict[int, tuple[int, int]] = {}
        for sid, n in enumerate(self.spelling_counts().tolist()):
            cid = self.canonical_of[sid]
            if cid not in best or n > best[cid][0]:
                best[cid] = (n, sid)
        return {self.canonicals[c]: self.spellings[s].strip() for c, (_, s) in best.items()}

    def profile(self) -> "LabelProfile":
        from tunelint.labels import profile

        counts = self.canonical_counts()
        return profile(self.spec, counts, sum(counts.values()), self.outputs)
