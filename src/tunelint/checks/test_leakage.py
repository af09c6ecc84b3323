"""test-leakage (X001): test examples that equal, nearly equal, or share long word runs with training examples."""

from __future__ import annotations

import math
import os
import re
from array import array
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator

import numpy as np
import xxhash
from pydantic import Field

from tunelint import similarity
from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks._keyed import places_of, take_rows
from tunelint.checks._support import ExampleRefs
from tunelint.checks.base import CheckOptions, Keyed, KeyRows
from tunelint.models import Criterion, Example, Finding, Location, Role, Severity, Turn
from tunelint.similarity.hashing import mix64

# Examples are hashed in batches of this many so tokenising, MinHash and n-gram lookups run
# over whole arrays; a batch holds texts only while it is processed.
_BATCH = 2048
# Candidate pairs whose estimated Jaccard falls this far below the threshold are not verified:
# at 128 permutations the estimate's spread is about 0.04, so 0.15 loses nothing real.
_ESTIMATE_SLACK = 0.15
# A test band bucket larger than this is a crowd of near-identical test inputs (a template);
# a training input is paired with its first members only, which still reports the leak.
_MAX_BUCKET = 64
_DIGITS = re.compile(r"\d+")
_SEVERITY = {"exact": Severity.ERROR, "input": Severity.ERROR, "conversation": Severity.ERROR,
             "near": Severity.WARNING, "ngram": Severity.WARNING}
# Strongest kind first: one finding per test example names its strongest overlap.
_RANK = {"exact": 0, "input": 1, "conversation": 2, "near": 3, "ngram": 4}


@dataclass(frozen=True, slots=True)
class _TestMeta:
    path: str
    index: int
    line: int | None
    record_hash: str
    pointers: tuple[str, ...]  # of the non-system turns, in order
    input_turns: int
    words: tuple[int, ...]  # per non-system turn


@dataclass(slots=True)
class _Match:
    train: int  # global id of the training example
    kind: str
    jaccard: float = 1.0
    shared_turns: int = 0
    train_turns: int = 0
    run_words: int = 0
    excerpt: str = ""
    test_turn: int = 0


def _content_turns(example: Example) -> list[Turn]:
    return [t for t in example.turns if t.role is not Role.SYSTEM]


def _input_count(turns: list[Turn]) -> int:
    """How many of `turns` form the input: all before the final assistant turn (all if none)."""
    for i in range(len(turns) - 1, -1, -1):
        if turns[i].role is Role.ASSISTANT:
            return i
    return len(turns)


def _turn_key(turn: Turn) -> str:
    return f"{turn.role.value}\x1f{similarity.normalise(turn.content)}"


def _hash(parts: list[str]) -> int:
    return xxhash.xxh3_64_intdigest("\x1e".join(parts).encode("utf-8", "surrogatepass"))


def _band_keys(band: np.ndarray) -> np.ndarray:
    """One 64-bit key per row of a (n, rows) uint32 band of MinHash signatures."""
    keys = np.zeros(len(band), dtype=np.uint64)
    for column in range(band.shape[1]):
        keys ^= band[:, column].astype(np.uint64)
        keys *= np.uint64(0x9E3779B97F4A7C15)
        keys ^= keys >> np.uint64(29)
    return keys


def _mask_digit_runs(words: list[str], show_pii: bool) -> str:
    """Join excerpt words; unless PII may be shown, mask consecutive number words holding 7 or
    more digits between them (the shape of phone, card and account numbers)."""
    if show_pii:
        return " ".join(words)
    out = list(words)
    i = 0
    while i < len(out):
        if not out[i].isdigit():
            i += 1
            continue
        j = i
        while j < len(out) and out[j].isdigit():
            j += 1
        if sum(len(w) for w in out[i:j]) >= 7:
            for k in range(i, j):
                out[k] = "#" * len(out[k])
        i = j
    return " ".join(out)


class TestLeakage(BatchedCheck, Keyed):
    """A test example that also appears, nearly or in long pieces, in the training split.

    What it does:
        Compares every test example with the training split four ways, keeping hashes rather
        than texts: exact equality after normalisation (case, whitespace, unicode) of the whole
        example or of its input alone (the same question with a different answer still leaks);
        a conversation split across the splits (the opening turns of one equal the opening
        turns of the other); near equality of the inputs (MinHash LSH over word 5-grams with
        numbers masked, every candidate verified by exact Jaccard); and a shared run of at
        least 13 words in the non-system turns (the GPT-3 contamination test); inside the
        test's answer a run counts only when it covers half of that answer, because answers
        share stock phrasing ("to find the total number of ...") without leaking the item.
        N-grams found in many examples — a fixed instruction template, boilerplate — are
        template text and do not count as a shared run. System prompts are left out of every
        comparison. One finding per leaked test example names its strongest overlap; the
        training examples are in `related` and the kind of overlap in `evidence`. Without a
        test split it reports that as an error: nothing shows the fine-tune generalises.

    Why it matters for a fine-tune:
        A test example the model saw in training measures memory, not skill: the score goes up
        and says nothing about production. Templated copies (same problem, other numbers) and
        conversations cut in two leak the same way, only less visibly.

    Example:
        train: {"messages": [{"role": "user", "content": "Classify: the parcel never arrived"}, {"role": "assistant", "content": "delivery"}]}
        test:  {"messages": [{"role": "user", "content": "Classify: The parcel never arrived."}, {"role": "assistant", "content": "shipping"}]}

    Use instead:
        Remove the listed test examples (or their training twins), and split by source —
        by conversation, document or template — rather than by row, so related items stay on
        one side.

    Options:
        near-threshold: Jaccard of the inputs' word shingles from which they count as near-equal (default 0.8).
        shingle-size: words per shingle for near equality (default 5).
        mask-numbers: treat every number as the same word for near equality, so a template with other numbers matches (default true).
        ngram-size: words in a shared run that counts as leakage (default 13).
        template-min-examples: an n-gram found in at least this many examples (train and test together) is template text (default 5).
        template-share: ... or in at least this share of all examples, whichever is larger (default 0.001).
        output-run-share: a shared run inside the test's answer counts only when it covers this share of the answer's words (default 0.5); runs in the input always count.
        max-related: training examples listed per finding (default 5).
    """

    __test__ = False  # not a pytest class, despite the name
    code = "X001"
    name = "test-leakage"
    criterion = Criterion.HELD_OUT
    severity = Severity.ERROR
    summary = "a test example that equals, nearly equals, or shares long n-grams with a training example"
    splits = ("train", "test")

    class Options(CheckOptions):
        near_threshold: float = Field(0.8, gt=0, lt=1)
        shingle_size: int = Field(5, ge=1)
        mask_numbers: bool = True
        ngram_size: int = Field(13, ge=3)
        template_min_examples: int = Field(5, ge=2)
        template_share: float = Field(0.001, ge=0, le=1)
        output_run_share: float = Field(0.5, ge=0, le=1)
        max_related: int = Field(5, ge=1)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Training chunks run in worker processes with fresh instances: each worker process of
        # the local pool indexes the test split itself (once, see `_borrow_index`), so the
        # training side of a chunk is already matched when it is merged. That needs test files
        # it can read again. On Dask the check is shuffled instead (see `keyed_begin`).
        tests = self.context.splits.get("test") or ()
        self.mergeable = all(label != "-" and os.path.isfile(label) for label in tests)
        # Training states borrow the test index of the process they ran in, so they merge in
        # any grouping (a tree on Dask) as long as each merge keeps left before right; a state
        # that observed nothing takes over what it absorbs (see `merge`).
        opts = self.options
        self._hasher = similarity.TokenHasher(seed=7)
        self._minhasher = similarity.MinHasher(num_perm=128, seed=7)
        self._bands, self._rows = similarity.lsh_params(opts.near_threshold, 128)
        self._show_pii = bool(getattr(self.context.settings, "show_pii", False))
        # Test side.
        self._tests: list[_TestMeta] = []
        self._test_input: dict[int, list[int]] = defaultdict(list)
        self._test_full: list[int | None] = []
        self._test_prefix: dict[int, list[int]] = defaultdict(list)
        self._sig_parts: list[np.ndarray] = []
        self._shingle_parts: list[similarity.Ragged] = []
        self._gram_parts: list[tuple[similarity.Ragged, np.ndarray, np.ndarray]] = []
        self._frozen = False
        # True when the test index was read by this process for a training chunk: it is not
        # this instance's own test data, and is not sent back with its state.
        self._borrowed = False
        # Train side.
        self._n_train = 0
        self._train_paths: list[str] = []
        self._train_locations: dict[int, tuple[Location, int]] = {}
        self._matches: dict[int, list[_Match]] = defaultdict(list)
        self._hit_parts: list[tuple[np.ndarray, ...]] = []
        self._excerpts: dict[tuple[int, int, int], str] = {}
        # A piece of a keyed shuffle (see `Keyed`, `keyed_begin`): training examples are kept
        # as hashes (and texts until their rows are emitted), not scanned against an index.
        self._shuffled = False
        # Results of a keyed shuffle, when an engine ran one instead of merging.
        self._keyed: tuple | None = None

    # ------------------------------------------------------------------ streaming

    def observe(self, example: Example) -> None:
        if not self.context.has_split("test"):
            return  # nothing to compare with: no work on a large training file
        super().observe(example)

    def consume(self, batch: Batch) -> None:
        examples = batch.examples
        if examples[0].split == "test":
            if self._frozen:
                raise RuntimeError("test-leakage needs every test example before the training split")
            for start in range(0, len(examples), _BATCH):
                self._add_tests(examples[start:start + _BATCH])
            return
        if self._shuffled:
            for start in range(0, len(examples), _BATCH):
                self._keep_train(examples[start:start + _BATCH])
            return
        for path in dict.fromkeys(e.path for e in examples):
            if path not in self._train_paths:
                self._train_paths.append(path)
        if not self._frozen:
            if self._tests or self._gram_parts or not self.mergeable:
                self._freeze()
            else:
                self._borrow_index()
        for start in range(0, len(examples), _BATCH):
            self._scan_train(examples[start:start + _BATCH])

    def _borrow_index(self) -> None:
        """Take the test index this process built from the test files (building it first)."""
        donor = _donor(self)
        for name in _INDEX_STATE:
            setattr(self, name, getattr(donor, name))
        self._frozen = self._borrowed = True
        self._train_df = np.zeros(len(self._grams), dtype=np.int64)
        self._stored = np.zeros(len(self._grams), dtype=np.int64)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        # The hashers carry tables of powers grown to the longest batch: rebuilt, not sent.
        state.pop("_hasher", None)
        state.pop("_minhasher", None)
        if state.get("_borrowed"):
            # The index is rebuilt where it is needed; only the training side travels.
            for name in _INDEX_STATE:
                state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._hasher = similarity.TokenHasher(seed=7)
        self._minhasher = similarity.MinHasher(num_perm=128, seed=7)

    def _ensure_index(self) -> None:
        """A borrowed index is not pickled: take it again where this state landed (a Dask
        worker merging two partial states, or the client finishing)."""
        if self._borrowed and not hasattr(self, "_grams"):
            donor = _donor(self)
            for name in _INDEX_STATE:
                setattr(self, name, getattr(donor, name))

    def _observed_nothing(self) -> bool:
        return not (self._borrowed or self._frozen or self._n_train or getattr(self, "_tests", None) or self._gram_parts)

    def merge(self, other: "TestLeakage") -> None:  # type: ignore[override]
        if self._observed_nothing() and not self._buffered:
            # A fresh instance absorbing a merged state (the root of a tree of merges, already
            # frozen, whose test parts live in its index): take that state over as it is.
            other.flush()
            counts, metrics = self.counts, self.metrics
            self.__dict__.update(other.__dict__)
            self.counts = counts + other.counts
            self.metrics = {**other.metrics, **metrics}
            return
        self._ensure_index()
        self.flush()
        other.flush()
        super().merge(other)
        if not self.context.has_split("test"):
            return
        if not other._borrowed and (other._tests or other._gram_parts):
            # A later part of the test split.
            if self._frozen:
                raise RuntimeError("test-leakage needs every test example before the training split")
            offset = len(self._tests)
            self._tests.extend(other._tests)
            for source, target in ((other._test_input, self._test_input), (other._test_prefix, self._test_prefix)):
                for key, ids in source.items():
                    target[key].extend(i + offset for i in ids)
            self._test_full.extend(other._test_full)
            self._sig_parts.extend(other._sig_parts)
            self._shingle_parts.extend(other._shingle_parts)
            self._gram_parts.extend((rows, owner + offset, turn) for rows, owner, turn in other._gram_parts)
        if not other._n_train:
            return
        # A later part of the training split, already matched against the whole test index.
        if not self._frozen:
            self._freeze()
        offset = self._n_train
        self._n_train += other._n_train
        self._train_paths.extend(p for p in other._train_paths if p not in self._train_paths)
        for test_id, matches in other._matches.items():
            for m in matches:
                m.train += offset
            self._matches[test_id].extend(matches)
        self._train_locations.update({gid + offset: v for gid, v in other._train_locations.items()})
        self._excerpts.update({(gid + offset, t, p): v for (gid, t, p), v in other._excerpts.items()})
        if not len(self._grams):
            return
        self._train_df += other._train_df
        for gram, ex, tno, pos in other._hit_parts:
            kept = self._cap(gram, ex + offset)
            if kept.any():
                self._hit_parts.append((gram[kept], ex[kept] + offset, tno[kept], pos[kept]))

    def _cap(self, gram: np.ndarray, ex: np.ndarray) -> np.ndarray:
        """Which hits to keep: those of the first few training examples per n-gram (counting
        the ones kept before), as the scan keeps them; updates the counts."""
        cap = max(self.options.max_related, self.options.template_min_examples)
        low = int(ex.min()) if len(ex) else 0
        width = (int(ex.max()) - low + 1) if len(ex) else 1
        code = gram.astype(np.int64) * width + (ex - low)
        pair = np.unique(code)
        pair_gram = pair // width
        starts = np.flatnonzero(np.r_[True, pair_gram[1:] != pair_gram[:-1]])
        rank = np.arange(len(pair)) - np.repeat(starts, np.diff(np.r_[starts, len(pair)]))
        allowed = pair[self._stored[pair_gram] + rank < cap]
        np.add.at(self._stored, allowed // width, 1)
        return np.isin(code, allowed)

    def _add_tests(self, batch: list[Example]) -> None:
        first = len(self._tests)
        input_texts, turn_texts, turn_owner, turn_no = [], [], [], []
        content = [_content_turns(example) for example in batch]
        tokens = self._hasher.hash_texts([t.content for turns in content for t in turns])
        word_counts = tokens.lengths().tolist()
        for offset, (example, turns) in enumerate(zip(batch, content)):
            test_id = first + offset
            n_input = _input_count(turns)
            words, word_counts = tuple(word_counts[:len(turns)]), word_counts[len(turns):]
            self._tests.append(_TestMeta(example.path, example.index, example.line, example.record_hash,
                                         tuple(t.pointer for t in turns), n_input, words))
            keys = [_turn_key(t) for t in turns]
            if n_input:
                self._test_input[_hash(keys[:n_input])].append(test_id)
            self._test_full.append(_hash(keys) if keys else None)
            for k in range(1, len(keys) + 1):
                if turns[k - 1].role is Role.ASSISTANT:
                    self._test_prefix[_hash(keys[:k])].append(test_id)
            input_texts.append(self._near_text(turns[:n_input]))
            for i, t in enumerate(turns):
                turn_texts.append(t.content)
                turn_owner.append(test_id)
                turn_no.append(i)
        shingles, signatures = self._signatures(input_texts)
        self._shingle_parts.append(shingles)
        self._sig_parts.append(signatures)
        grams = similarity.ngram_rows(tokens, self.options.ngram_size)
        self._gram_parts.append((grams, np.asarray(turn_owner, dtype=np.int64), np.asarray(turn_no, dtype=np.int64)))

    def _near_text(self, turns: list[Turn]) -> str:
        text = "\n".join(t.content for t in turns)
        return _DIGITS.sub("0", text) if self.options.mask_numbers else text

    def _signatures(self, texts: list[str]) -> tuple[similarity.Ragged, np.ndarray]:
        tokens = self._hasher.hash_texts(texts)
        shingles = similarity.shingle_rows(tokens, self.options.shingle_size)
        return shingles, self._minhasher.signature_rows(shingles)

    def _freeze(self) -> None:
        """Turn the collected test hashes into sorted indexes the training split is scanned against."""
        self._frozen = True
        n_test = len(self._tests)
        self._test_shingles = similarity.Ragged.concatenate(self._shingle_parts)
        self._test_sigs = (np.concatenate(self._sig_parts) if self._sig_parts
                           else np.empty((0, self._minhasher.num_perm), dtype=np.uint32))
        self._shingle_parts, self._sig_parts = [], []
        empty = (self._test_sigs == similarity.EMPTY_SIGNATURE_VALUE).all(axis=1) if n_test else np.zeros(0, bool)
        self._band_index = []
        for band in range(self._bands):
            keys = _band_keys(self._test_sigs[:, band * self._rows:(band + 1) * self._rows])
            keys[empty] = 0
            order = np.argsort(keys, kind="stable")
            self._band_index.append((keys[order], order))
        self._test_empty = empty
        # N-grams. Each test turn is a row of n-gram occurrences in text order; an occurrence is
        # stored as the index of its distinct hash (int32), and `_occurrences` lists, per distinct
        # hash, where it occurs. Positions stay implicit (place in the row), which is what lets
        # runs and template coverage be measured in the test text without keeping it.
        rows = similarity.Ragged.concatenate([p[0] for p in self._gram_parts])
        self._row_owner = np.concatenate([p[1] for p in self._gram_parts]) if self._gram_parts else np.empty(0, np.int64)
        self._row_turn = np.concatenate([p[2] for p in self._gram_parts]) if self._gram_parts else np.empty(0, np.int64)
        self._gram_parts = []
        self._row_offsets = rows.offsets
        self._grams, inverse = np.unique(rows.values, return_inverse=True)
        self._occ_gram = inverse.astype(np.int32)
        order = np.argsort(self._occ_gram, kind="stable")
        self._occurrences = order.astype(np.int64)
        counts = np.bincount(self._occ_gram, minlength=len(self._grams))
        self._gram_start = np.zeros(len(self._grams) + 1, dtype=np.int64)
        np.cumsum(counts, out=self._gram_start[1:])
        # In how many test examples each n-gram occurs.
        owner_of_occ = np.repeat(self._row_owner, rows.lengths())
        pairs = np.unique(self._occ_gram.astype(np.int64) * max(1, n_test) + owner_of_occ)
        self._test_df = np.bincount(pairs // max(1, n_test), minlength=len(self._grams)).astype(np.int64)
        self._train_df = np.zeros(len(self._grams), dtype=np.int64)
        self._stored = np.zeros(len(self._grams), dtype=np.int64)
        bits = 1 << max(16, min(33, math.ceil(math.log2(max(1, len(self._grams)) * 16))))
        self._bitmask = np.uint64(bits - 1)
        self._bitmap = np.zeros(bits >> 3, dtype=np.uint8)
        positions = self._grams & self._bitmask
        np.bitwise_or.at(self._bitmap, (positions >> np.uint64(3)).astype(np.int64),
                         (np.uint8(1) << (positions & np.uint64(7)).astype(np.uint8)))

    # ------------------------------------------------------------------ train scan

    def _scan_train(self, batch: list[Example]) -> None:
        first = self._n_train
        self._n_train += len(batch)
        if not self._tests:
            return
        content = [_content_turns(e) for e in batch]
        self._scan_exact(batch, content, first)
        self._scan_near(batch, content, first)
        self._scan_ngrams(batch, content, first)

    def _remember(self, example: Example, gid: int, turns: int) -> None:
        if gid not in self._train_locations:
            self._train_locations[gid] = (Location(example.split, example.path, example.line, example.index), turns)

    def _scan_exact(self, batch: list[Example], content: list[list[Turn]], first: int) -> None:
        for offset, (example, turns) in enumerate(zip(batch, content)):
            if not turns:
                continue
            gid = first + offset
            keys = [_turn_key(t) for t in turns]
            n_input = _input_count(turns)
            full = _hash(keys)
            if n_input:
                for test_id in self._test_input.get(_hash(keys[:n_input]), ()):
                    kind = "exact" if self._test_full[test_id] == full else "input"
                    self._matches[test_id].append(_Match(gid, kind, train_turns=len(turns)))
                    self._remember(example, gid, len(turns))
            for k in range(len(keys), 0, -1):
                if turns[k - 1].role is not Role.ASSISTANT:
                    continue
                tests = self._test_prefix.get(_hash(keys[:k]))
                if not tests:
                    continue
                for test_id in tests:
                    if k == len(keys) and k == len(self._tests[test_id].pointers):
                        continue  # the whole example: reported as exact
                    self._matches[test_id].append(_Match(gid, "conversation", shared_turns=k, train_turns=len(turns)))
                    self._remember(example, gid, len(turns))
                break  # the longest shared opening only

    def _scan_near(self, batch: list[Example], content: list[list[Turn]], first: int) -> None:
        texts = [self._near_text(turns[:_input_count(turns)]) for turns in content]
        shingles, sigs = self._signatures(texts)
        present = np.flatnonzero(~(sigs == similarity.EMPTY_SIGNATURE_VALUE).all(axis=1))
        if not len(present) or not len(self._tests):
            return
        lefts, rights = [], []
        for band, (sorted_keys, order) in enumerate(self._band_index):
            keys = _band_keys(sigs[present, band * self._rows:(band + 1) * self._rows])
            lo = np.searchsorted(sorted_keys, keys, side="left")
            hi = np.minimum(np.searchsorted(sorted_keys, keys, side="right"), lo + _MAX_BUCKET)
            counts = hi - lo
            if not counts.any():
                continue
            lefts.append(np.repeat(present, counts))
            rights.append(order[_ranges(lo, counts)])
        if not lefts:
            return
        left = np.concatenate(lefts)
        right = np.concatenate(rights)
        keep = ~self._test_empty[right]
        codes = np.unique(left[keep].astype(np.int64) * len(self._tests) + right[keep])
        left, right = codes // len(self._tests), codes % len(self._tests)
        estimate = np.count_nonzero(sigs[left] == self._test_sigs[right], axis=1) / sigs.shape[1]
        close = estimate >= self.options.near_threshold - _ESTIMATE_SLACK
        for i, j in zip(left[close].tolist(), right[close].tolist()):
            score = similarity.exact_jaccard(shingles.row(i), self._test_shingles.row(j))
            if score >= self.options.near_threshold:
                gid = first + i
                self._matches[j].append(_Match(gid, "near", jaccard=round(score, 3)))
                self._remember(batch[i], gid, len(content[i]))

    def _scan_ngrams(self, batch: list[Example], content: list[list[Turn]], first: int) -> None:
        if not len(self._grams):
            return
        texts, owner, turn_no = [], [], []
        for offset, turns in enumerate(content):
            for i, t in enumerate(turns):
                texts.append(t.content)
                owner.append(offset)
                turn_no.append(i)
        grams = similarity.ngram_rows(self._hasher.hash_texts(texts), self.options.ngram_size)
        per_row = grams.lengths()
        values = grams.values
        row = np.repeat(np.arange(len(per_row)), per_row)
        position = np.arange(len(values)) - np.repeat(grams.offsets[:-1], per_row)
        # Bitmap first: most training n-grams are in no test example and stop here.
        bit = values & self._bitmask
        maybe = (self._bitmap[(bit >> np.uint64(3)).astype(np.int64)] >> (bit & np.uint64(7)).astype(np.uint8)) & 1
        candidates = np.flatnonzero(maybe)
        found = np.searchsorted(self._grams, values[candidates])
        found = np.minimum(found, len(self._grams) - 1)
        hit = self._grams[found] == values[candidates]
        index = candidates[hit]
        gram = found[hit]
        if not len(index):
            return
        ex = np.asarray(owner, dtype=np.int64)[row[index]]
        tno = np.asarray(turn_no, dtype=np.int64)[row[index]]
        pos = position[index]
        # Document frequency: each training example counts once per n-gram.
        pair = np.unique(gram * len(batch) + ex)
        pair_gram = pair // len(batch)
        np.add.at(self._train_df, pair_gram, 1)
        # Keep the hits of the first few training examples per n-gram only: a template n-gram
        # is in thousands, and nothing past `cap` is ever listed.
        cap = max(self.options.max_related, self.options.template_min_examples)
        starts = np.flatnonzero(np.r_[True, pair_gram[1:] != pair_gram[:-1]])
        rank = np.arange(len(pair)) - np.repeat(starts, np.diff(np.r_[starts, len(pair)]))
        allowed = pair[self._stored[pair_gram] + rank < cap]
        np.add.at(self._stored, allowed // len(batch), 1)
        keep = np.isin(gram * len(batch) + ex, allowed)
        if not keep.any():
            return
        gram, ex, tno, pos = gram[keep], ex[keep], tno[keep], pos[keep]
        self._hit_parts.append((gram, ex + first, tno, pos))
        n = self.options.ngram_size
        words: dict[tuple[int, int], list[str]] = {}
        for e, t, p in zip(ex.tolist(), tno.tolist(), pos.tolist()):
            key = (e, t)
            if key not in words:
                words[key] = similarity.tokenize(content[e][t].content)
            self._excerpts[(first + e, t, p)] = _mask_digit_runs(words[key][p:p + n], self._show_pii)
        for e in np.unique(ex).tolist():
            self._remember(batch[e], first + e, len(content[e]))

    # ------------------------------------------------------------------ keyed shuffle
    #
    # On Dask (see `Keyed`): no process builds the test split's index. Each piece emits rows
    # keyed by what a match shares: the input hash ("input": exact and input matches), the hash
    # of each opening that ends on an assistant turn ("prefix": conversations), each MinHash
    # band key of the input ("band": near matches) and each word n-gram hash ("gram"; a
    # training piece only emits the n-grams that occur in the test split, known from the test
    # pieces' facts). A group task joins the test rows with the training rows of each key,
    # decides template n-grams (document frequency over both splits) and the cap on training
    # examples per n-gram exactly as the merged path does, and emits candidate (test, train)
    # rows; verification keeps a conversation's longest shared opening, checks near candidates
    # by exact Jaccard and turns n-gram hits into runs; the client's instance reports as
    # `finish` does locally.

    keyed_distinct: ClassVar[tuple[str, ...]] = ("kind", "shared", "test_turn", "test_pos", "tno", "pos")

    def keyed_wanted(self) -> bool:
        return self.context.has_split("test") and self.mergeable

    def keyed_begin(self) -> None:
        self._shuffled = True
        self._train_refs = ExampleRefs()
        self._train_turns = array("q")
        self._train_has_input = array("b")
        self._train_input = array("Q")
        self._train_full = array("Q")
        self._prefix_key = array("Q")
        self._prefix_id = array("q")
        self._prefix_k = array("q")
        self._train_sig_parts: list[np.ndarray] = []
        self._train_shingle_parts: list[similarity.Ragged] = []
        self._train_texts: list[list[str]] | None = []

    def _keep_train(self, batch: list[Example]) -> None:
        """What a training example's rows and verification need: hashes, signature, shingles,
        and its turn texts until the rows are emitted (for the excerpts of n-gram hits)."""
        first = self._n_train
        self._n_train += len(batch)
        content = [_content_turns(e) for e in batch]
        for offset, (example, turns) in enumerate(zip(batch, content)):
            self._train_refs.add(example)
            self._train_turns.append(len(turns))
            if not turns:
                self._train_has_input.append(0)
                self._train_input.append(0)
                self._train_full.append(0)
                continue
            keys = [_turn_key(t) for t in turns]
            n_input = _input_count(turns)
            self._train_full.append(_hash(keys))
            self._train_has_input.append(1 if n_input else 0)
            self._train_input.append(_hash(keys[:n_input]) if n_input else 0)
            for k in range(len(keys), 0, -1):
                if turns[k - 1].role is Role.ASSISTANT:
                    self._prefix_key.append(_hash(keys[:k]))
                    self._prefix_id.append(first + offset)
                    self._prefix_k.append(k)
        shingles, sigs = self._signatures([self._near_text(turns[:_input_count(turns)]) for turns in content])
        self._train_shingle_parts.append(shingles)
        self._train_sig_parts.append(sigs)
        self._train_texts.extend([t.content for t in turns] for turns in content)

    def _test_arrays(self) -> tuple[np.ndarray, similarity.Ragged, similarity.Ragged, np.ndarray, np.ndarray, np.ndarray]:
        """This piece's test signatures, shingles, n-gram rows (one per turn), their owners and
        turns, and the first row of each test example."""
        if getattr(self, "_test_cache", None) is None:
            sigs = (np.concatenate(self._sig_parts) if self._sig_parts
                    else np.empty((0, self._minhasher.num_perm), dtype=np.uint32))
            shingles = similarity.Ragged.concatenate(self._shingle_parts)
            rows = similarity.Ragged.concatenate([p[0] for p in self._gram_parts])
            owner = np.concatenate([p[1] for p in self._gram_parts]) if self._gram_parts else np.empty(0, np.int64)
            turn = np.concatenate([p[2] for p in self._gram_parts]) if self._gram_parts else np.empty(0, np.int64)
            first = np.searchsorted(owner, np.arange(len(self._tests) + 1))
            self._test_cache = (sigs, shingles, rows, owner, turn, first)
        return self._test_cache

    def _train_arrays(self) -> tuple[np.ndarray, similarity.Ragged]:
        if getattr(self, "_train_cache", None) is None:
            sigs = (np.concatenate(self._train_sig_parts) if self._train_sig_parts
                    else np.empty((0, self._minhasher.num_perm), dtype=np.uint32))
            self._train_cache = (sigs, similarity.Ragged.concatenate(self._train_shingle_parts))
            self._train_sig_parts, self._train_shingle_parts = [], []
        return self._train_cache

    def keyed_facts(self) -> dict:
        self.flush()
        _, _, rows, _, _, _ = self._test_arrays()
        return {"tests": len(self._tests), "train": self._n_train, "grams": np.unique(rows.values)}

    def _band_rows(self, sigs: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys, owners = [], []
        for band in range(self._bands):
            keys.append(_keyed_band(_band_keys(sigs[ids, band * self._rows:(band + 1) * self._rows]), band))
            owners.append(ids)
        if not keys:
            return np.empty(0, np.uint64), np.empty(0, np.int64)
        return np.concatenate(keys), np.concatenate(owners).astype(np.int64)

    def keyed_rows(self, facts: list[dict]) -> dict[str, KeyRows]:
        """Rows by kind, `side` 0 for test examples and 1 for training examples (see above)."""
        self.flush()
        parts: dict[str, list[KeyRows]] = {kind: [] for kind in _ROW_COLUMNS}
        if self._tests:
            parts = self._test_rows(parts)
        if self._shuffled and self._n_train and sum(f["tests"] for f in facts):
            parts = self._training_rows(parts, facts)
        if self._shuffled:
            # The texts are freed: the excerpts of the n-gram hits travel in the rows emitted.
            self._train_texts = None
        out = {}
        for kind, columns in _ROW_COLUMNS.items():
            empty = KeyRows(np.empty(0, np.uint64), np.empty(0, np.int64), {c: np.empty(0, t) for c, t in columns.items()})
            out[kind] = KeyRows.concatenate(parts[kind] + [empty])
        return out

    def _test_rows(self, parts: dict[str, list[KeyRows]]) -> dict[str, list[KeyRows]]:
        turns = np.asarray([len(m.pointers) for m in self._tests], dtype=np.int32)
        full = np.asarray([0 if f is None else f for f in self._test_full], dtype=np.uint64)

        def keyed(table: dict[int, list[int]]) -> tuple[np.ndarray, np.ndarray]:
            keys = np.asarray([k for k, ids in table.items() for _ in ids], dtype=np.uint64)
            ids = np.asarray([i for ids in table.values() for i in ids], dtype=np.int64)
            return keys, ids

        key, ids = keyed(self._test_input)
        parts["input"].append(KeyRows(key, ids, {"side": np.zeros(len(ids), np.int8), "full": full[ids],
                                                 "turns": turns[ids]}))
        key, ids = keyed(self._test_prefix)
        parts["prefix"].append(KeyRows(key, ids, {"side": np.zeros(len(ids), np.int8), "k": np.zeros(len(ids), np.int32),
                                                  "turns": turns[ids]}))
        sigs, _, rows, owner, turn, _ = self._test_arrays()
        present = np.flatnonzero(~(sigs == similarity.EMPTY_SIGNATURE_VALUE).all(axis=1))
        key, ids = self._band_rows(sigs, present)
        parts["band"].append(KeyRows(key, ids, {"side": np.zeros(len(ids), np.int8)}))
        lengths = rows.lengths()
        position = np.arange(len(rows.values)) - np.repeat(rows.offsets[:-1], lengths)
        parts["gram"].append(KeyRows(rows.values.copy(), np.repeat(owner, lengths).astype(np.int64), {
            "side": np.zeros(len(rows.values), np.int8), "turn": np.repeat(turn, lengths).astype(np.int32),
            "pos": position.astype(np.int32), "excerpt": np.full(len(rows.values), "", dtype=object)}))
        return parts

    def _training_rows(self, parts: dict[str, list[KeyRows]], facts: list[dict]) -> dict[str, list[KeyRows]]:
        turns = np.frombuffer(self._train_turns, dtype=np.int64).astype(np.int32)
        has = np.flatnonzero(np.frombuffer(self._train_has_input, dtype=np.int8))
        parts["input"].append(KeyRows(np.frombuffer(self._train_input, dtype=np.uint64)[has].copy(), has.astype(np.int64), {
            "side": np.ones(len(has), np.int8), "full": np.frombuffer(self._train_full, dtype=np.uint64)[has].copy(),
            "turns": turns[has]}))
        ids = np.frombuffer(self._prefix_id, dtype=np.int64).copy()
        parts["prefix"].append(KeyRows(np.frombuffer(self._prefix_key, dtype=np.uint64).copy(), ids, {
            "side": np.ones(len(ids), np.int8), "k": np.frombuffer(self._prefix_k, dtype=np.int64).astype(np.int32),
            "turns": turns[ids]}))
        sigs, _ = self._train_arrays()
        present = np.flatnonzero(~(sigs == similarity.EMPTY_SIGNATURE_VALUE).all(axis=1))
        key, ids = self._band_rows(sigs, present)
        parts["band"].append(KeyRows(key, ids, {"side": np.ones(len(ids), np.int8)}))
        grams = [f["grams"] for f in facts if len(f["grams"])]
        test_grams = np.unique(np.concatenate(grams)) if grams else np.empty(0, np.uint64)
        texts = self._train_texts or []
        n = self.options.ngram_size
        for start in range(0, len(texts), _BATCH):
            flat, owner, turn_no = [], [], []
            for e, contents in enumerate(texts[start:start + _BATCH], start=start):
                for t, text in enumerate(contents):
                    flat.append(text)
                    owner.append(e)
                    turn_no.append(t)
            if not flat or not len(test_grams):
                continue
            rows = similarity.ngram_rows(self._hasher.hash_texts(flat), n)
            per_row = rows.lengths()
            found = np.minimum(np.searchsorted(test_grams, rows.values), len(test_grams) - 1)
            hit = np.flatnonzero(test_grams[found] == rows.values)
            if not len(hit):
                continue
            row = np.repeat(np.arange(len(per_row)), per_row)[hit]
            position = (hit - rows.offsets[:-1][row]).astype(np.int32)
            ex = np.asarray(owner, dtype=np.int64)[row]
            tno = np.asarray(turn_no, dtype=np.int32)[row]
            # The excerpt travels with the row: the report quotes the training words of a run's
            # first n-gram, and only this task still has the text.
            words: dict[int, list[str]] = {}
            excerpts = np.empty(len(hit), dtype=object)
            for k, (r, p) in enumerate(zip(row.tolist(), position.tolist())):
                if r not in words:
                    words[r] = similarity.tokenize(flat[r])
                excerpts[k] = _mask_digit_runs(words[r][p:p + n], self._show_pii)
            parts["gram"].append(KeyRows(rows.values[hit], ex, {"side": np.ones(len(hit), np.int8), "turn": tno,
                                                                "pos": position, "excerpt": excerpts}))
        return parts

    def keyed_candidates(self, kinds: dict[str, KeyRows], facts: list[dict]) -> tuple[KeyRows, dict]:
        """Candidate (test, train) rows of one partition, keyed for verification: by training
        example for conversations (its longest shared opening wins), by pair otherwise."""
        out: list[KeyRows] = []
        rows = kinds["input"]
        t, r = _join(rows.key, rows.columns["side"], rows.ids)
        kind = np.where(rows.columns["full"][t] == rows.columns["full"][r], _KINDS.index("exact"), _KINDS.index("input"))
        out.append(_candidates(rows.ids[t], rows.ids[r], kind, train_turns=rows.columns["turns"][r],
                               test_turns=rows.columns["turns"][t]))
        rows = kinds["prefix"]
        t, r = _join(rows.key, rows.columns["side"], rows.ids)
        out.append(_candidates(rows.ids[t], rows.ids[r], _KINDS.index("conversation"), shared=rows.columns["k"][r],
                               train_turns=rows.columns["turns"][r], test_turns=rows.columns["turns"][t], by_train=True))
        rows = kinds["band"]
        t, r = _join(rows.key, rows.columns["side"], rows.ids, limit=_MAX_BUCKET)
        out.append(_candidates(rows.ids[t], rows.ids[r], _KINDS.index("near")))
        pairs, group_facts = self._gram_candidates(kinds["gram"], facts)
        out.append(pairs)
        return KeyRows.concatenate(out), group_facts

    def _gram_candidates(self, rows: KeyRows, facts: list[dict]) -> tuple[KeyRows, dict]:
        """N-gram hits of the training examples that count (the first few per n-gram, as the
        merged path keeps them), each at every place in the test split holding its n-gram;
        n-grams in many examples are template text and give no hits."""
        side, ids = rows.columns["side"], rows.ids
        order = np.lexsort((rows.columns["pos"], rows.columns["turn"], ids, side, rows.key))
        rows = rows.take(order)
        key, side, ids = rows.key, rows.columns["side"], rows.ids
        m = len(key)
        if not m:
            return _candidates(ids, ids, _KINDS.index("ngram")), {"template": np.empty(0, np.uint64), "template_count": 0}
        start = np.r_[True, key[1:] != key[:-1]]
        group = np.cumsum(start) - 1
        first_of_example = np.r_[True, (key[1:] != key[:-1]) | (side[1:] != side[:-1]) | (ids[1:] != ids[:-1])]
        test_df = np.bincount(group, weights=first_of_example & (side == 0)).astype(np.int64)
        train_df = np.bincount(group, weights=first_of_example & (side == 1)).astype(np.int64)
        total = sum(f["tests"] + f["train"] for f in facts)
        cutoff = max(self.options.template_min_examples, math.ceil(self.options.template_share * total))
        in_test = test_df > 0
        template = (test_df + train_df) >= cutoff
        starts = np.flatnonzero(start)
        group_facts = {"template": key[starts[template & in_test]],
                       "template_count": int(np.count_nonzero(template & in_test & (train_df > 0)))}
        # The rank of each training example among those holding the n-gram, in reading order.
        example_no = np.cumsum(first_of_example & (side == 1))
        before = np.zeros(len(starts), dtype=np.int64)
        before[1:] = example_no[starts[1:] - 1]
        rank = example_no - before[group]
        cap = max(self.options.max_related, self.options.template_min_examples)
        kept = (side == 1) & (rank <= cap) & ~template[group] & in_test[group]
        tests = (side == 0) & in_test[group] & ~template[group]
        keep = np.flatnonzero(kept | tests)
        sub = rows.take(keep)
        t, r = _join(sub.key, sub.columns["side"], sub.ids)
        pairs = _candidates(sub.ids[t], sub.ids[r], _KINDS.index("ngram"), test_turn=sub.columns["turn"][t],
                            test_pos=sub.columns["pos"][t], tno=sub.columns["turn"][r], pos=sub.columns["pos"][r],
                            excerpt=sub.columns["excerpt"][r])
        return pairs, group_facts

    def keyed_prepare(self, facts: list[dict], group_facts: list[dict]) -> dict:
        """The template n-grams (hashes) of the test split, and how many of them training examples hold."""
        parts = [g["template"] for g in group_facts if len(g["template"])]
        return {"template": np.unique(np.concatenate(parts)) if parts else np.empty(0, np.uint64),
                "template_count": sum(g["template_count"] for g in group_facts)}

    def keyed_payload(self, positions: np.ndarray, ids: np.ndarray) -> dict:
        self.flush()
        positions = np.asarray(positions, dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64)
        if self._tests:
            sigs, shingles, rows, _, _, first = self._test_arrays()
            grams = [[rows.row(k) for k in range(first[p], first[p + 1])] for p in positions.tolist()]
            return {"side": 0, "ids": ids, "sigs": sigs[positions], "shingles": take_rows(shingles, positions),
                    "tests": [self._tests[p] for p in positions.tolist()], "grams": grams}
        sigs, shingles = self._train_arrays()
        return {"side": 1, "ids": ids, "sigs": sigs[positions], "shingles": take_rows(shingles, positions),
                "places": places_of(self._train_refs, positions.tolist()),
                "turns": np.frombuffer(self._train_turns, dtype=np.int64)[positions]}

    def keyed_verify(self, pairs: KeyRows, payload: list[dict], facts: list[dict], prepared: dict) -> dict:
        """The matches of one partition of candidates, as the merged path records them."""
        where = {int(i): (part, k) for part in payload for k, i in enumerate(part["ids"].tolist())}
        test, train = pairs.ids, pairs.columns["other"]
        col = pairs.columns
        kind = col["kind"]
        out = {name: [] for name in _VERIFIED}

        def add(sel: np.ndarray, kinds, jaccard=None) -> None:
            size = len(sel)
            zero = np.zeros(size, dtype=np.int64)
            out["test"].append(test[sel])
            out["train"].append(train[sel])
            out["kind"].append(np.broadcast_to(np.asarray(kinds, dtype=np.int8), (size,)).copy())
            out["jaccard"].append(np.ones(size) if jaccard is None else np.asarray(jaccard, dtype=np.float64))
            out["shared"].append(col["shared"][sel].astype(np.int64))
            out["train_turns"].append(col["train_turns"][sel].astype(np.int64))
            out["run_words"].append(zero)
            out["test_turn"].append(zero)
            out["excerpt"].append(np.full(size, "", dtype=object))

        # Exact and input matches hold as grouped.
        sel = np.flatnonzero(kind <= _KINDS.index("input"))
        add(sel, kind[sel])
        # Conversations: per training example, the longest opening it shares with any test example.
        sel = np.flatnonzero(kind == _KINDS.index("conversation"))
        if len(sel):
            shared = col["shared"][sel]
            _, inverse = np.unique(train[sel], return_inverse=True)
            longest = np.full(int(inverse.max()) + 1, -1, dtype=np.int64)
            np.maximum.at(longest, inverse, shared)
            whole = (shared == col["train_turns"][sel]) & (shared == col["test_turns"][sel])
            sel = sel[(shared == longest[inverse]) & ~whole]
            add(sel, _KINDS.index("conversation"))
        # Near: the signatures' estimate first, then exact Jaccard of the shingles.
        sel = np.flatnonzero(kind == _KINDS.index("near"))
        kept, scores = [], []
        threshold = self.options.near_threshold
        for k in sel.tolist():
            tp, ti = where[int(test[k])]
            rp, ri = where[int(train[k])]
            estimate = np.count_nonzero(rp["sigs"][ri] == tp["sigs"][ti]) / len(tp["sigs"][ti])
            if estimate < threshold - _ESTIMATE_SLACK:
                continue
            score = similarity.exact_jaccard(rp["shingles"].row(ri), tp["shingles"].row(ti))
            if score >= threshold:
                kept.append(k)
                scores.append(round(score, 3))
        add(np.asarray(kept, dtype=np.int64), _KINDS.index("near"), jaccard=scores)
        # N-gram hits: runs, as in `_collect_ngram_matches`.
        sel = np.flatnonzero(kind == _KINDS.index("ngram"))
        if len(sel):
            test_turn = col["test_turn"][sel].astype(np.int64)
            turns, row = np.unique(np.stack((test[sel], test_turn), axis=1), axis=0, return_inverse=True)
            row = row.reshape(-1)
            template = prepared["template"]
            n = self.options.ngram_size
            excerpt = {(int(g), int(t), int(p)): e for g, t, p, e in
                       zip(train[sel], col["tno"][sel], col["pos"][sel], col["excerpt"][sel])}

            def covered(r: int) -> np.ndarray:
                part, k = where[int(turns[r, 0])]
                grams = part["grams"][k][int(turns[r, 1])]
                return _covered(np.isin(grams, template), n)

            def meta(test_id: int) -> _TestMeta:
                part, k = where[test_id]
                return part["tests"][k]

            best = _best_runs(row, train[sel], col["tno"][sel].astype(np.int64), col["pos"][sel].astype(np.int64),
                              col["test_pos"][sel].astype(np.int64), self.options, covered=covered,
                              owner=lambda r: (int(turns[r, 0]), int(turns[r, 1])), meta=meta)
            if best:
                keys = list(best)
                values = list(best.values())
                out["test"].append(np.asarray([k[0] for k in keys], dtype=np.int64))
                out["train"].append(np.asarray([k[1] for k in keys], dtype=np.int64))
                size = len(keys)
                out["kind"].append(np.full(size, _KINDS.index("ngram"), dtype=np.int8))
                out["jaccard"].append(np.ones(size))
                out["shared"].append(np.zeros(size, dtype=np.int64))
                out["train_turns"].append(np.zeros(size, dtype=np.int64))
                for name, k in (("run_words", 0), ("test_turn", 1)):
                    out[name].append(np.asarray([v[k] for v in values], dtype=np.int64))
                out["excerpt"].append(np.asarray([excerpt.get((gid, v[2], v[3]), "") for (_, gid), v in zip(keys, values)],
                                                 dtype=object))
        return {name: np.concatenate(parts) if parts else np.empty(0) for name, parts in out.items()}

    def keyed_members(self, verified: list[dict], facts: list[dict], prepared: dict) -> np.ndarray:
        parts = [np.concatenate((v["test"], v["train"])).astype(np.int64) for v in verified]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def _finish_keyed(self) -> Iterator[Finding]:
        facts, prepared, verified, payload = self._keyed
        self._keyed = None
        tests: dict[int, _TestMeta] = {}
        locations: dict[int, tuple[Location, int]] = {}
        for part in payload:
            if part["side"] == 0:
                tests.update(zip(part["ids"].tolist(), part["tests"]))
                continue
            for gid, (split, path, index, line, _), turns in zip(part["ids"].tolist(), part["places"], part["turns"].tolist()):
                locations[gid] = (Location(split, path, line, index), turns)
        matches: dict[int, list[_Match]] = defaultdict(list)
        for v in verified:
            columns = [v[name].tolist() for name in _VERIFIED]
            for test_id, gid, kind, jaccard, shared, train_turns, words, test_turn, excerpt in zip(*columns):
                name = _KINDS[int(kind)]
                if name == "near":
                    match = _Match(int(gid), name, jaccard=jaccard)
                elif name == "ngram":
                    match = _Match(int(gid), name, run_words=int(words), test_turn=int(test_turn), excerpt=excerpt)
                elif name == "conversation":
                    match = _Match(int(gid), name, shared_turns=int(shared), train_turns=int(train_turns))
                else:
                    match = _Match(int(gid), name, train_turns=int(train_turns))
                matches[int(test_id)].append(match)
        self._tests, self._train_locations = tests, locations  # type: ignore[assignment]
        leaked = 0
        kinds: dict[str, int] = defaultdict(int)
        for test_id in sorted(matches):
            finding = self._report(test_id, matches[test_id])
            kinds[finding.evidence["kind"]] += 1
            leaked += 1
            yield finding
        n_test = sum(f["tests"] for f in facts)
        self.metrics = {
            "test_examples": n_test,
            "train_examples": sum(f["train"] for f in facts),
            "leaked": leaked,
            "leaked_share": round(leaked / n_test, 4) if n_test else 0.0,
            "by_kind": dict(sorted(kinds.items())),
            "template_ngrams": int(prepared["template_count"]),
        }

    # ------------------------------------------------------------------ report

    def finish(self) -> Iterator[Finding]:
        if self._keyed is not None:
            yield from self._finish_keyed()
            return
        self._ensure_index()
        self.flush()
        if not self.context.has_split("test"):
            path = (self.context.splits.get("train") or ("",))[0]
            yield self.dataset_finding(
                "train", path,
                "no test split: without held-out examples nothing shows the fine-tune generalises "
                "beyond its training data, and leakage and split shift cannot be measured; give --test TEST",
                key="no-test-split", severity=Severity.WARNING,
                # The row fails whatever the severity: the criterion cannot hold without a test
                # split; as a warning it does not fail the default gate of a pre-commit run.
                evidence={"reason": "no test split", "criterion_status": "fail"},
            )
            return
        if not self._frozen:
            self._freeze()
        self._collect_ngram_matches()
        leaked = 0
        kinds: dict[str, int] = defaultdict(int)
        for test_id in sorted(self._matches):
            finding = self._report(test_id, self._matches[test_id])
            kinds[finding.evidence["kind"]] += 1
            leaked += 1
            yield finding
        n_test = len(self._tests)
        self.metrics = {
            "test_examples": n_test,
            "train_examples": self._n_train,
            "leaked": leaked,
            "leaked_share": round(leaked / n_test, 4) if n_test else 0.0,
            "by_kind": dict(sorted(kinds.items())),
            "template_ngrams": int(self._template_count),
        }

    def _template_cutoff(self) -> int:
        total = len(self._tests) + self._n_train
        return max(self.options.template_min_examples, math.ceil(self.options.template_share * total))

    def _collect_ngram_matches(self) -> None:
        template = (self._train_df + self._test_df) >= self._template_cutoff()
        self._template_count = int(np.count_nonzero(template & (self._train_df > 0)))
        if not self._hit_parts:
            return
        gram, train, tno, pos = (np.concatenate(parts) for parts in zip(*self._hit_parts))
        self._hit_parts = []
        keep = ~template[gram]
        gram, train, tno, pos = gram[keep], train[keep], tno[keep], pos[keep]
        # Each hit reaches every place in the test split that holds its n-gram.
        counts = self._gram_start[gram + 1] - self._gram_start[gram]
        occ = self._occurrences[_ranges(self._gram_start[gram], counts)]
        if not len(occ):
            return
        train, tno, pos = np.repeat(train, counts), np.repeat(tno, counts), np.repeat(pos, counts)
        row = np.searchsorted(self._row_offsets, occ, side="right") - 1
        test_pos = occ - self._row_offsets[row]
        best = _best_runs(row, train, tno, pos, test_pos, self.options,
                          covered=lambda r: self._template_words(r, template),
                          owner=lambda r: (int(self._row_owner[r]), int(self._row_turn[r])),
                          meta=self._tests.__getitem__)
        for (test_id, gid), (words, turn, train_turn, train_pos) in best.items():
            self._matches[test_id].append(_Match(
                gid, "ngram", run_words=words, test_turn=turn,
                excerpt=self._excerpts.get((gid, train_turn, train_pos), ""),
            ))

    def _template_words(self, row: int, template: np.ndarray) -> np.ndarray:
        """Per word of a test turn, whether a template n-gram covers it."""
        grams = self._occ_gram[self._row_offsets[row]:self._row_offsets[row + 1]]
        return _covered(template[grams], self.options.ngram_size)

    def _report(self, test_id: int, matches: list[_Match]) -> Finding:
        meta = self._tests[test_id]
        kind = min((m.kind for m in matches), key=_RANK.__getitem__)
        chosen = [m for m in matches if m.kind == kind]
        # Per training example keep its strongest evidence, then list the strongest first.
        by_train: dict[int, _Match] = {}
        for m in chosen:
            old = by_train.get(m.train)
            if old is None or (m.jaccard, m.shared_turns, m.run_words) > (old.jaccard, old.shared_turns, old.run_words):
                by_train[m.train] = m
        ranked = sorted(by_train.values(), key=lambda m: (-m.jaccard, -m.shared_turns, -m.run_words, m.train))
        top = ranked[: self.options.max_related]
        related = [self._train_locations[m.train][0] for m in top]
        where = _where(related[0])
        more = f" and {len(ranked) - 1} more" if len(ranked) > 1 else ""
        best = ranked[0]
        evidence: dict = {"kind": kind, "training_examples": len(ranked)}
        pointer = meta.pointers[0] if meta.pointers else None
        if kind == "exact":
            message = f"test example equals training example {where}{more} after normalisation"
            pointer = None
        elif kind == "input":
            message = (f"test input equals the input of training example {where}{more} after normalisation "
                       "(the answer differs; the question still leaks)")
        elif kind == "conversation":
            message = (f"the first {best.shared_turns} turns of this test conversation equal those of training "
                       f"conversation {where}{more}: a conversation split across train and test")
            evidence.update(shared_turns=best.shared_turns, test_turns=len(meta.pointers), train_turns=best.train_turns)
        elif kind == "near":
            message = (f"test input nearly equals the input of training example {where}{more} "
                       f"(Jaccard {best.jaccard:.2f} over word {self.options.shingle_size}-grams"
                       f"{', numbers masked' if self.options.mask_numbers else ''})")
            evidence.update(jaccard=best.jaccard, shingle_size=self.options.shingle_size,
                            numbers_masked=self.options.mask_numbers)
        else:
            message = f"test example shares a {best.run_words}-word run with training example {where}{more}"
            evidence.update(run_words=best.run_words, ngram_size=self.options.ngram_size, excerpt=best.excerpt)
            pointer = meta.pointers[best.test_turn]
        evidence["matches"] = [
            {"line": loc.line, "index": loc.index, **_match_evidence(m)} for loc, m in zip(related, top)
        ]
        others = sorted({m.kind for m in matches} - {kind}, key=_RANK.__getitem__)
        if others:
            evidence["also"] = others
        example = Example("test", meta.path, meta.index, meta.line, "", (), meta.record_hash)
        return self.finding(example, message, pointer=pointer or None, related=related,
                            evidence=evidence, severity=_SEVERITY[kind])


# What `_freeze` builds and a training chunk reads: the test examples and their indexes.
_INDEX_STATE = (
    "_tests", "_test_input", "_test_full", "_test_prefix", "_test_shingles", "_test_sigs", "_band_index",
    "_test_empty", "_row_owner", "_row_turn", "_row_offsets", "_grams", "_occ_gram", "_occurrences",
    "_gram_start", "_test_df", "_bitmask", "_bitmap",
)
# Per process, the last test index built from the test files (a worker runs many chunks).
_DONORS: dict[tuple, "TestLeakage"] = {}


def _donor(check: "TestLeakage") -> "TestLeakage":
    """A frozen instance holding the whole test split of `check`'s run, read from its files."""
    from tunelint.loader import Loader
    from tunelint.registry import load_formats

    settings = check.context.settings
    labels = tuple(check.context.splits.get("test") or ())
    stats = tuple((os.path.getsize(p), os.path.getmtime(p)) for p in labels)
    fields = getattr(settings, "fields", None)
    key = (labels, stats, check.options.model_dump_json(), getattr(settings, "input_format", None),
           tuple(sorted(fields.items())) if fields else None)
    donor = _DONORS.get(key)
    if donor is None:
        _DONORS.clear()
        donor = TestLeakage(check.options, check.context, check.level)
        formats = load_formats()
        batch: list[Example] = []
        for path in labels:
            loader = Loader(path, "test", formats, getattr(settings, "input_format", None), fields)
            for item in loader:
                if isinstance(item, Example):
                    batch.append(item)
                    if len(batch) >= _BATCH:
                        donor._add_tests(batch)
                        batch = []
        if batch:
            donor._add_tests(batch)
        donor._freeze()
        _DONORS[key] = donor
    return donor


def _match_evidence(m: _Match) -> dict:
    if m.kind == "near":
        return {"jaccard": m.jaccard}
    if m.kind == "ngram":
        return {"run_words": m.run_words}
    if m.kind == "conversation":
        return {"shared_turns": m.shared_turns}
    return {}


def _where(loc: Location) -> str:
    name = loc.path.rsplit("/", 1)[-1]
    return f"{name}:{loc.line}" if loc.line is not None else f"{name}[{loc.index}]"


def _covered(flagged: np.ndarray, n: int) -> np.ndarray:
    """Per word of a turn, whether one of the flagged n-grams (one flag per n-gram position) covers it."""
    starts = np.zeros(len(flagged) + n, dtype=np.int64)
    flagged = flagged.astype(np.int64)
    starts[:len(flagged)] += flagged
    starts[n:n + len(flagged)] -= flagged
    return np.cumsum(starts)[:len(flagged) + n - 1] > 0


def _best_runs(row, train, tno, pos, test_pos, opts, covered, owner, meta) -> dict:
    """The longest shared run per (test example, training example), from n-gram hits: `row` a
    test turn (numbered in test order), `test_pos` the hit's place in it, `train`/`tno`/`pos`
    the training example, turn and place. `covered(row)` flags the turn's template words,
    `owner(row)` is (test id, turn), `meta(test id)` its `_TestMeta`. Returns
    {(test id, train id): (words, test turn, training turn, training position)}."""
    # A run: consecutive n-grams in both texts, same test turn and same training turn. `pos`
    # last only breaks ties the way the hits arrive (a training turn's hits in text order).
    order = np.lexsort((pos, test_pos, tno, train, row))
    row, train, tno, pos, test_pos = row[order], train[order], tno[order], pos[order], test_pos[order]
    continues = np.r_[False, (row[1:] == row[:-1]) & (train[1:] == train[:-1]) & (tno[1:] == tno[:-1])
                      & (test_pos[1:] == test_pos[:-1] + 1) & (pos[1:] == pos[:-1] + 1)]
    run_start = np.flatnonzero(~continues)
    run_end = np.r_[run_start[1:], len(row)] - 1
    n = opts.ngram_size
    share = opts.output_run_share
    cover: dict[int, np.ndarray] = {}
    best: dict[tuple[int, int], tuple[int, int]] = {}
    for start, end in zip(run_start.tolist(), run_end.tolist()):
        r = int(row[start])
        if r not in cover:
            cover[r] = covered(r)
        # Words of the shared span that template n-grams do not cover: a run that is
        # template text plus a word or two of content is not a leak.
        first_word, last_word = int(test_pos[start]), int(test_pos[end]) + n
        words = int(np.count_nonzero(~cover[r][first_word:last_word]))
        if words < n:
            continue
        test_id, turn = owner(r)
        m = meta(test_id)
        # Answers reuse stock phrasing ("to find the total number of ..."); a run in the
        # test's answer leaks it only when it covers much of that answer.
        if turn >= m.input_turns and words < share * m.words[turn]:
            continue
        key = (test_id, int(train[start]))
        if key not in best or words > best[key][1]:
            best[key] = (start, words)
    return {key: (words, owner(int(row[start]))[1], int(tno[start]), int(pos[start]))
            for key, (start, words) in best.items()}


# The keyed shuffle's rows (columns per kind), match kinds by number, verified columns.
_ROW_COLUMNS: dict[str, dict[str, Any]] = {
    "input": {"side": np.int8, "full": np.uint64, "turns": np.int32},
    "prefix": {"side": np.int8, "k": np.int32, "turns": np.int32},
    "band": {"side": np.int8},
    "gram": {"side": np.int8, "turn": np.int32, "pos": np.int32, "excerpt": object},
}
_KINDS = ("exact", "input", "conversation", "near", "ngram")
_VERIFIED = ("test", "train", "kind", "jaccard", "shared", "train_turns", "run_words", "test_turn", "excerpt")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _keyed_band(keys: np.ndarray, band: int) -> np.ndarray:
    """A band key made distinct across bands (the merged path keeps one index per band)."""
    return mix64(keys ^ mix64(np.full(len(keys), band + 1, dtype=np.uint64)))


def _join(key: np.ndarray, side: np.ndarray, ids: np.ndarray, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers (test, train) of every test row and training row with the same key; with
    `limit`, only a key's first `limit` test rows in id order (the merged path's bucket cap)."""
    if not len(key):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.lexsort((ids, side, key))
    k, s = key[order], side[order]
    start = np.r_[True, k[1:] != k[:-1]]
    group = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    tests = np.bincount(group, weights=(s == 0)).astype(np.int64)
    if limit is not None:
        tests = np.minimum(tests, limit)
    trains = np.flatnonzero(s == 1)
    g = group[trains]
    t = _ranges(starts[g], tests[g])
    r = np.repeat(trains, tests[g])
    return order[t], order[r]


def _candidates(test, train, kind, *, by_train: bool = False, **columns) -> KeyRows:
    """Candidate rows (test id, `other` train id) with the verification columns (zero unless given)."""
    test = np.asarray(test, dtype=np.int64)
    train = np.asarray(train, dtype=np.int64)
    size = len(test)
    out = {"other": train, "kind": np.broadcast_to(np.asarray(kind, dtype=np.int8), (size,)).copy()}
    for name in ("shared", "train_turns", "test_turns", "test_turn", "test_pos", "tno", "pos"):
        out[name] = np.asarray(columns[name], dtype=np.int32) if name in columns else np.zeros(size, np.int32)
    # The training words of an n-gram hit, for the report's excerpt.
    out["excerpt"] = np.asarray(columns["excerpt"], dtype=object) if "excerpt" in columns else np.full(size, "", dtype=object)
    key = mix64(train.astype(np.uint64)) if by_train else mix64(test.astype(np.uint64) * _GOLDEN ^ train.astype(np.uint64))
    return KeyRows(key, test, out)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(starts[i], starts[i] + counts[i]) for every i, without a loop."""
    counts = np.asarray(counts, dtype=np.int64)
    shift = np.repeat(np.asarray(starts, dtype=np.int64) - (np.cumsum(counts) - counts), counts)
    return np.arange(int(counts.sum()), dtype=np.int64) + shift


CHECKS = [TestLeakage]
