"""Batched observation for the dataset checks: buffer examples, then work on many at once.

A dataset check that derives from `BatchedCheck` only appends each observed example to a short
buffer; every `BATCH` examples (and when the split changes, at a merge, before its state is
pickled to the main process, and in `finish`) it hands the whole buffer to `consume(batch)`.
`Batch` computes what the checks need — normalised keys, word hashes, labels, output texts — in
one pass per batch, and the checks of one process share it: they see the same examples in the
same order and so flush the same buffers, and `shared_batch` returns the `Batch` already built
for an identical list instead of computing it again. Sharing is only a saving: a check that
gets a fresh `Batch` computes the same values.
"""

from __future__ import annotations

import abc

import operator
import time
from array import array
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import xxhash

from tunelint.checks.base import DatasetCheck, RecordCheck
from tunelint.models import Example, Finding, Role
from tunelint.similarity import Ragged, TokenHasher, normalise
from tunelint.similarity.hashing import mix64, ranges, seed_constants
from tunelint.similarity.text import _nfkc, normalised_bytes, normalised_many

if TYPE_CHECKING:
    from tunelint.labels import LabelSpec

BATCH = 4096
_DIGEST = xxhash.xxh3_64_intdigest
_EMPTY_DIGEST = _DIGEST(b"")
# Per-role salts for the structural keys (example, input): a turn is its role and its
# normalised content, a tool call its name and its normalised arguments.
_SALTS = seed_constants(0xB47C, 8)
_ROLE_SALT = {role: _SALTS[i] for i, role in enumerate(Role)}
_NAME_SALT, _ARGS_SALT, _REJECTED_MARK = _SALTS[5], _SALTS[6], _SALTS[7]
_BASE = seed_constants(0xC0DE, 1)[0] | 1
# Digests of the system prompts seen lately (cleared when it grows past this many).
_SYSTEM_CACHE = 256
_SYSTEM_DIGESTS: dict[str, int] = {}
# Longest label any spec accepts (labels.MAX_LABEL_CHARS); see `Batch.labels`.
_MAX_LABEL_CHARS = 64


def _digest(text: str) -> int:
    return _DIGEST(normalised_bytes(text))


def _system_digest(content: str) -> int:
    """`_digest` of a system prompt: a dataset has few, so it is looked up, not computed."""
    d = _SYSTEM_DIGESTS.get(content)
    if d is None:
        if len(_SYSTEM_DIGESTS) >= _SYSTEM_CACHE:
            _SYSTEM_DIGESTS.clear()
        d = _SYSTEM_DIGESTS[content] = _digest(content)
    return d


_ROLE_CODE = {role: i for i, role in enumerate(Role)}
_ROLE_OF = operator.attrgetter("role")
_CALLS_OF = operator.attrgetter("tool_calls")
_ROLE_SALTS = np.array([_ROLE_SALT[role] for role in Role], dtype=np.uint64)


def _combine(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """One uint64 per row of (values, offsets): a polynomial over the row's mixed values and its
    length, mixed again. Equal rows give equal keys; different rows collide with negligible
    probability (the values are xxh3 digests, not chosen by the data)."""
    count = len(offsets) - 1
    if not len(values):
        return mix64(np.full(count, _BASE, dtype=np.uint64))
    mixed = mix64(values.copy())
    position = np.arange(len(values), dtype=np.int64) - np.repeat(offsets[:-1], np.diff(offsets))
    # Per-position multipliers: odd constants from a fixed table, extended when rows are long.
    weights = _weights(int(position.max()) + 1)[position]
    terms = mixed * weights
    sums = np.zeros(count, dtype=np.uint64)
    lengths = np.diff(offsets)
    filled = np.flatnonzero(lengths)
    if len(filled):
        sums[filled] = np.add.reduceat(terms, offsets[:-1][filled])
    sums += lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return mix64(sums)


_WEIGHTS = np.empty(0, dtype=np.uint64)


def _weights(n: int) -> np.ndarray:
    global _WEIGHTS
    if len(_WEIGHTS) < n:
        size = max(n, 64, 2 * len(_WEIGHTS))
        out = np.full(size, _BASE, dtype=np.uint64)
        out[0] = 1
        _WEIGHTS = np.cumprod(out) | np.uint64(1)
    return _WEIGHTS


def _tokens_hasher() -> TokenHasher:
    global _HASHER
    if _HASHER is None:
        _HASHER = TokenHasher()
    return _HASHER


_HASHER: TokenHasher | None = None


class Batch:
    """Features of a list of examples, each computed on first use and kept for the batch."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.examples = examples
        self._cache: dict[Any, Any] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def _get(self, key: Any, build: Callable[[], Any]) -> Any:
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = build()
        return found

    # -- where the examples are --------------------------------------------------------------
    def columns(self) -> tuple[list[str], array, array, array]:
        """(paths, index, line (-1 when none), record hash) of every example."""
        return self._get("columns", self._columns)

    def _columns(self) -> tuple[list[str], array, array, array]:
        ex = self.examples
        paths = [e.path for e in ex]
        index = array("q", [e.index for e in ex])
        line = array("q", [-1 if e.line is None else e.line for e in ex])
        hashes = array("Q", [int(e.record_hash, 16) if e.record_hash else 0 for e in ex])
        return paths, index, line, hashes

    # -- normalised keys and the word segments -------------------------------------------------
    def keys(self) -> dict[str, np.ndarray]:
        """example / input / output / system keys (uint64 each), and the segment ranges of the
        word views (see `words`)."""
        return self._get("keys", self._keys)

    def _keys(self) -> dict[str, Any]:
        if self.examples and not any(e.rejected for e in self.examples):
            return self._keys_flat()
        return self._keys_loop()

    def _keys_flat(self) -> dict[str, Any]:
        """`_keys_loop` for examples without a rejected side, over all turns of the batch at
        once: the same keys, ranges and texts with the per-turn bookkeeping done in numpy."""
        ex = self.examples
        n = len(ex)
        system = Role.SYSTEM
        digest = _digest
        turns_of = [e.turns for e in ex]
        turn_at = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, turns_of), dtype=np.int64, count=n), out=turn_at[1:])
        starts, ends = turn_at[:-1], turn_at[1:]
        flat = [t for turns in turns_of for t in turns]
        count = len(flat)
        roles = np.fromiter(map(_ROLE_CODE.__getitem__, map(_ROLE_OF, flat)), dtype=np.int64, count=count)
        is_system = roles == _ROLE_CODE[system]
        # Texts whose words are hashed: every non-system turn, its tool calls' names and arguments.
        contents = [t.content for t in flat if t.role is not system]
        # Their keys' normalised bytes, and their NFKC forms for the word hasher.
        normal, contents_nfkc = normalised_many(contents)
        digests = np.empty(count, dtype=np.uint64)
        digests[~is_system] = np.fromiter(map(_DIGEST, normal), dtype=np.uint64, count=len(normal))
        if len(contents) < count:
            digests[is_system] = np.fromiter(
                (_system_digest(t.content) for t in flat if t.role is system), dtype=np.uint64, count=count - len(contents)
            )
        calls = list(map(_CALLS_OF, flat))
        call_counts = np.fromiter(map(len, calls), dtype=np.int64, count=count)
        with_calls = np.flatnonzero(call_counts).tolist()
        # Structural values of the example key: per turn its digest, then two per tool call.
        units = 1 + 2 * call_counts
        unit_at = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(units, out=unit_at[1:])
        values = np.empty(int(unit_at[-1]), dtype=np.uint64)
        values[unit_at[:-1]] = digests ^ _ROLE_SALTS[roles]
        for j in with_calls:
            p = int(unit_at[j]) + 1
            for c in calls[j]:
                values[p] = _DIGEST(c.name.encode("utf-8", "surrogatepass")) ^ _NAME_SALT
                values[p + 1] = digest(c.arguments) ^ _ARGS_SALT
                p += 2
        # The final assistant turn of each example (-1: none).
        last = np.full(n, -1, dtype=np.int64)
        if count:
            latest = np.maximum.accumulate(np.where(roles == _ROLE_CODE[Role.ASSISTANT], np.arange(count), -1))
            filled = np.flatnonzero(ends > starts)
            found = latest[ends[filled] - 1]
            mine = found >= starts[filled]
            last[filled[mine]] = found[mine]
        has_last = last >= 0
        # The input: every turn before the final answer (all of them when there is none).
        input_stop = np.where(has_last, last, ends)
        input_counts = unit_at[input_stop] - unit_at[starts]
        input_values = values[ranges(unit_at[starts], input_counts)]
        input_end = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(input_counts, out=input_end[1:])
        seg_at = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(np.where(is_system, 0, units), out=seg_at[1:])
        called = [j for j in with_calls if not is_system[j]]
        if called:
            # Each turn's calls follow its content: splice them in after it.
            rank = np.cumsum(~is_system) - 1  # place of each non-system turn in `contents`
            seg_texts: list[str] = []
            seg_nfkc: list[str] = []
            done = 0
            for j in called:
                stop = int(rank[j]) + 1
                seg_texts += contents[done:stop]
                seg_nfkc += contents_nfkc[done:stop]
                for c in calls[j]:
                    seg_texts += (c.name, c.arguments)
                    seg_nfkc += (_nfkc(c.name), _nfkc(c.arguments))
                done = stop
            seg_texts += contents[done:]
            seg_nfkc += contents_nfkc[done:]
        else:
            seg_texts, seg_nfkc = contents, contents_nfkc
        all_range = np.stack((seg_at[starts], seg_at[ends]), axis=1)
        input_range = np.stack((seg_at[starts], seg_at[input_stop]), axis=1)
        output_range = np.stack((seg_at[starts], seg_at[starts]), axis=1)
        output_range[has_last, 0] = seg_at[last[has_last]]
        output_range[has_last, 1] = seg_at[last[has_last] + 1]
        # The output: the final assistant turn's text (and its tool calls).
        output_key = np.full(n, _EMPTY_DIGEST, dtype=np.uint64)
        output_key[has_last] = digests[last[has_last]]
        last_list = last.tolist()
        outputs = [flat[j].content if j >= 0 else "" for j in last_list]
        if with_calls:
            called = set(with_calls)
            for i, j in enumerate(last_list):
                if j in called:
                    t = flat[j]
                    text = t.content + "\n" + "\n".join(f"{c.name}({c.arguments})" for c in t.tool_calls)
                    output_key[i] = digest(text)
                    outputs[i] = text
        # The system prompt: the first one's digest, odd; several are joined.
        system_at = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(is_system, out=system_at[1:])
        system_counts = system_at[ends] - system_at[starts]
        system_key = np.zeros(n, dtype=np.uint64)
        some = system_counts > 0
        system_key[some] = digests[np.flatnonzero(is_system)[system_at[starts[some]]]] | np.uint64(1)
        for i in np.flatnonzero(system_counts > 1).tolist():
            joined = "\x1e".join(normalise(t.content) for t in turns_of[i] if t.role is system)
            system_key[i] = _DIGEST(joined.encode("utf-8", "surrogatepass")) | 1
        return {
            "example": _combine(values, unit_at[turn_at]),
            "input": _combine(input_values, input_end),
            "output": output_key,
            "system": system_key,
            "seg_texts": seg_texts,
            "seg_nfkc": seg_nfkc,
            "all": all_range,
            "in": input_range,
            "out": output_range,
            "outputs": outputs,
        }

    def _keys_loop(self) -> dict[str, Any]:
        ex = self.examples
        n = len(ex)
        digest = _digest
        system_digests = _SYSTEM_DIGESTS
        role_salt = _ROLE_SALT
        system = Role.SYSTEM
        assistant = Role.ASSISTANT
        # Structural values of the example key (every turn, then the rejected side).
        values: list[int] = []
        value_end = array("q", bytes(8 * (n + 1)))
        # The input key covers the turns before the final assistant turn.
        input_values: list[int] = []
        input_end = array("q", bytes(8 * (n + 1)))
        output_key = array("Q", bytes(8 * n))
        system_key = array("Q", bytes(8 * n))
        # Texts whose words are hashed: the content of every non-system turn and each tool
        # call's name and arguments, in order; then, per example, segment ranges of all its
        # words (turns and rejected), its input and its output.
        seg_texts: list[str] = []
        all_range = array("q", bytes(16 * n))
        input_range = array("q", bytes(16 * n))
        output_range = array("q", bytes(16 * n))
        outputs: list[str] = []
        for i, e in enumerate(ex):
            turns = e.turns
            last = -1
            for j in range(len(turns) - 1, -1, -1):
                if turns[j].role is assistant:
                    last = j
                    break
            seg_start = len(seg_texts)
            systems: list[str] = []
            out_seg = (seg_start, seg_start)
            in_seg_end = seg_start
            for j, t in enumerate(turns):
                if j == last:
                    input_values.extend(values[value_end[i]:])
                    input_end[i + 1] = len(input_values)
                    in_seg_end = len(seg_texts)
                role = t.role
                if role is system:
                    # A dataset has few system prompts: look the digest up instead.
                    d = system_digests.get(t.content)
                    if d is None:
                        if len(system_digests) >= _SYSTEM_CACHE:
                            system_digests.clear()
                        d = system_digests[t.content] = digest(t.content)
                else:
                    d = digest(t.content)
                values.append(d ^ role_salt[role])
                calls = t.tool_calls
                if calls:
                    for c in calls:
                        values.append(_DIGEST(c.name.encode("utf-8", "surrogatepass")) ^ _NAME_SALT)
                        values.append(digest(c.arguments) ^ _ARGS_SALT)
                if role is system:
                    systems.append(t.content)
                    if len(systems) == 1:
                        system_key[i] = d | 1
                    continue
                if j == last:
                    first_seg = len(seg_texts)
                seg_texts.append(t.content)
                for c in calls:
                    seg_texts.append(c.name)
                    seg_texts.append(c.arguments)
                if j == last:
                    out_seg = (first_seg, len(seg_texts))
                    if calls:
                        text = t.content + "\n" + "\n".join(f"{c.name}({c.arguments})" for c in calls)
                        output_key[i] = digest(text)
                        outputs.append(text)
                    else:
                        output_key[i] = d
                        outputs.append(t.content)
            if last < 0:
                input_values.extend(values[value_end[i]:])
                input_end[i + 1] = len(input_values)
                in_seg_end = len(seg_texts)
                output_key[i] = _EMPTY_DIGEST
                outputs.append("")
            if len(systems) > 1:
                joined = "\x1e".join(normalise(s) for s in systems)
                system_key[i] = _DIGEST(joined.encode("utf-8", "surrogatepass")) | 1
            if e.rejected:
                values.append(_REJECTED_MARK)
                for t in e.rejected:
                    values.append(digest(t.content) ^ role_salt[t.role])
                    for c in t.tool_calls:
                        values.append(_DIGEST(c.name.encode("utf-8", "surrogatepass")) ^ _NAME_SALT)
                        values.append(digest(c.arguments) ^ _ARGS_SALT)
                    if t.role is system:
                        continue
                    seg_texts.append(t.content)
                    for c in t.tool_calls:
                        seg_texts.append(c.name)
                        seg_texts.append(c.arguments)
            value_end[i + 1] = len(values)
            all_range[2 * i] = seg_start
            all_range[2 * i + 1] = len(seg_texts)
            input_range[2 * i] = seg_start
            input_range[2 * i + 1] = in_seg_end
            output_range[2 * i], output_range[2 * i + 1] = out_seg
        return {
            "example": _combine(np.array(values, dtype=np.uint64), np.frombuffer(value_end, dtype=np.int64)),
            "input": _combine(np.array(input_values, dtype=np.uint64), np.frombuffer(input_end, dtype=np.int64)),
            "output": np.frombuffer(output_key, dtype=np.uint64),
            "system": np.frombuffer(system_key, dtype=np.uint64),
            "seg_texts": seg_texts,
            "all": np.frombuffer(all_range, dtype=np.int64).reshape(n, 2),
            "in": np.frombuffer(input_range, dtype=np.int64).reshape(n, 2),
            "out": np.frombuffer(output_range, dtype=np.int64).reshape(n, 2),
            "outputs": outputs,
        }

    def example_keys(self) -> np.ndarray:
        """Hash of the whole example after normalisation (NFKC, case, whitespace): every turn with
        its role, tool calls, and the rejected side of a preference pair."""
        return self.keys()["example"]

    def input_keys(self) -> np.ndarray:
        """Hash of the normalised input: system prompt and every turn before the final answer."""
        return self.keys()["input"]

    def output_keys(self) -> np.ndarray:
        """xxh3 of the normalised `output_texts` (NFKC, case, whitespace), 64-bit."""
        return self.keys()["output"]

    def system_keys(self) -> np.ndarray:
        """xxh3 of the normalised system prompt (several joined by a record separator), odd; 0 for
        an example without one."""
        return self.keys()["system"]

    def output_texts(self) -> list[str]:
        """`_support.output_text` of every example: the final assistant turn's text and its tool calls."""
        return self.keys()["outputs"]

    def words(self, view: str) -> Ragged:
        """Word hashes (`TokenHasher()`) of every example's `view`: "all" of every turn but the
        system prompt (contents, tool-call names and arguments) and of the rejected side, "in" of
        the turns before the final answer, "out" of `output_texts`. Texts joined by a line break hash to the concatenation of their words, so
        the views are read off one hashing of each turn."""
        return self._get(("words", view), lambda: self._words(view))

    def _words(self, view: str) -> Ragged:
        keys = self.keys()
        if "seg_nfkc" in keys:
            build = lambda: _tokens_hasher().hash_texts(keys["seg_nfkc"], nfkc_done=True)  # noqa: E731
        else:
            build = lambda: _tokens_hasher().hash_texts(keys["seg_texts"])  # noqa: E731
        segments: Ragged = self._get("segments", build)
        bounds = keys[view]
        if (
            len(bounds)
            and bounds[0, 0] == 0
            and bounds[-1, 1] == len(segments)
            and np.array_equal(bounds[1:, 0], bounds[:-1, 1])
        ):
            # The view's ranges tile the segments in order ("all" of a batch without a rejected
            # side): its words are the segments' words, no gather needed.
            return Ragged(segments.values, segments.offsets[np.append(bounds[:, 0], bounds[-1, 1])])
        starts = segments.offsets[bounds[:, 0]]
        counts = segments.offsets[bounds[:, 1]] - starts
        offsets = np.zeros(len(bounds) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return Ragged(segments.values[ranges(starts, counts)], offsets)

    # -- labels ----------------------------------------------------------------------------
    def labels(self, spec: "LabelSpec") -> tuple[list[bool], list[str | None]]:
        """Per example: whether it has a non-blank output, and its raw label under `spec`."""
        return self._get(("labels", spec), lambda: self._labels(spec))

    def _labels(self, spec: "LabelSpec") -> tuple[list[bool], list[str | None]]:
        from tunelint.labels import LabelReader

        raw_label = LabelReader(spec).raw_label
        plain = spec.key is None and spec.pattern is None
        has: list[bool] = []
        raws: list[str | None] = []
        for out in self.output_texts():
            bare = out.strip()
            if not bare:
                has.append(False)
                raws.append(None)
                continue
            has.append(True)
            # The whole output is the label: too long to be one unless an end-of-text marker
            # (all end in ">") comes off its end.
            if plain and len(bare) > _MAX_LABEL_CHARS and bare[-1] != ">":
                raws.append(None)
            else:
                raws.append(raw_label(out))
        return has, raws

    def cached(self, key: Any, build: Callable[["Batch"], Any]) -> Any:
        """Any other per-batch feature, computed once: `build(batch)`."""
        return self._get(key, lambda: build(self))


_SHARED: list[Any] = [None, None]


def shared_batch(examples: Sequence[Example]) -> Batch:
    """The `Batch` of these examples, shared with the other checks that flush the same list."""
    last, batch = _SHARED
    if last is examples or (last is not None and len(last) == len(examples) and all(map(operator.is_, last, examples))):
        return batch
    batch = Batch(examples)
    _SHARED[0], _SHARED[1] = examples, batch
    return batch


class BatchedCheck(DatasetCheck, abc.ABC):
    """A dataset check that observes examples in batches (see the module docstring).

    Subclasses implement `consume(batch)`, call `self.flush()` at the start of `finish()` and of
    `merge()` (before combining state), and keep per-example state in arrays.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._buffered: list[Example] = []

    def observe(self, example: Example) -> None:
        buffered = self._buffered
        if buffered and buffered[-1].split != example.split:
            self.flush()
            buffered = self._buffered
        buffered.append(example)
        if len(buffered) >= BATCH:
            self.flush()

    def observe_batch(self, examples: Sequence[Example]) -> None:
        self.flush()
        started = time.thread_time()
        self.consume(shared_batch(examples))
        self.spent += time.thread_time() - started

    def flush(self) -> None:
        if self._buffered:
            started = time.thread_time()
            batch = shared_batch(self._buffered)
            self._buffered = []
            self.consume(batch)
            self.spent += time.thread_time() - started

    @abc.abstractmethod
    def consume(self, batch: Batch) -> None:
        """Take note of a batch of examples of one split, in order."""

    def __getstate__(self) -> dict[str, Any]:
        # A worker's state travels to the main process: no buffered examples with it.
        self.flush()
        return self.__dict__.copy()


class BatchedRecordCheck(RecordCheck):
    """A per-example check that works on many examples at once: `check_many(batch)` gives the
    findings of a `Batch`'s examples, each example's what `check(example)` gives. The engine
    hands it the same example lists as the batched dataset checks, so they share one `Batch`
    (its turn lists, folded texts, keys)."""

    def check_batch(self, examples: Sequence[Example]) -> Iterable[Finding]:
        return list(self.check_many(shared_batch(examples)))

    def check(self, example: Example) -> Iterator[Finding]:
        return iter(list(self.check_many(Batch([example]))))

    @abc.abstractmethod
    def check_many(self, batch: Batch) -> Iterable[Finding]:
        """Findings for the examples of one batch."""
