"""The loader: any supported file → a stream of normalised `Example`s and `Rejected` records.

Counts reconcile: every record read is either an example or rejected (`DatasetInfo`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from typing import Callable, Iterable, Iterator, Mapping

import orjson
import xxhash

from tunelint.loader.formats.base import Format, RecordError
from tunelint.loader.formats.fields import FieldMapping, InputOnly
from tunelint.loader.reader import (
    Chunk, InputError, RawRecord, ReadStats, _decode_error, chunk_lines, plan_chunks, read_chunk, read_records,
)
from tunelint.models import DatasetInfo, Example, Role, Turn

__all__ = ["Chunk", "InputError", "Rejected", "FileNote", "Loader", "available_formats", "plan_chunks"]

_DETECT_SAMPLE = 200
_new_example = tuple.__new__
INTERNAL_ERROR = "tunelint hit an internal error"


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that produced no example: `check` is invalid-json or schema-violation."""

    split: str
    path: str
    index: int
    line: int | None
    check: str
    message: str
    record_hash: str
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class FileNote:
    """Something about the file as a whole (empty, truncated archive, unknown format)."""

    split: str
    path: str
    check: str
    message: str


def available_formats() -> dict[str, Format]:
    from tunelint.registry import load_formats

    return load_formats()


@dataclass
class Loader:
    """Reads one file of one split. Iterate it, then read `info`."""

    path: str
    split: str
    formats: Mapping[str, Format]
    input_format: str | None = None
    fields: Mapping[str, str] | None = None
    chunk: Chunk | None = None
    format_name: str | None = None
    # In-memory data (lists of dicts, DataFrames): raw records from here instead of reading `path`.
    records: Callable[[], Iterator[RawRecord]] | None = None
    info: DatasetInfo | None = field(default=None, init=False)

    def _raw(self, stats: ReadStats) -> Iterator[RawRecord]:
        if self.records is not None:
            stats.container = "records"
            return iter(self.records())
        return read_records(self.path, stats)

    def detect(self) -> str | None:
        """The format name detection picks for this file (reads only its head)."""
        if self.path.endswith(".txt"):
            return "text-lines"
        head: list[RawRecord] = []
        for rec in self._raw(ReadStats()):
            head.append(rec)
            if len(head) >= _DETECT_SAMPLE:
                break
        fmt = self._choose_format(head)
        return fmt.name if fmt else None

    def _format_by_name(self, name: str | None) -> Format | None:
        if self.fields:
            return FieldMapping(self.fields)
        if name and name.startswith("inputs:"):
            return InputOnly(name.split(":", 1)[1])
        return self.formats.get(name) if name else None

    def __iter__(self) -> Iterator[Example | Rejected | FileNote]:
        stats = ReadStats()
        text_lines = self.path.endswith(".txt")
        head: list[RawRecord] = []
        counts = [0, 0]  # examples, rejected
        unknown_keys: Counter[str] = Counter()
        if self.chunk is not None:
            # A chunk of a file whose format the caller already detected on the whole file.
            fmt = self._format_by_name(self.format_name)
            fmt_name = "text-lines" if text_lines else (fmt.name if fmt else "unknown")
            if fmt is not None and not text_lines:
                yield from self._chunk_records(fmt, stats, counts)
            else:
                yield from self._records(read_chunk(self.path, self.chunk, stats), fmt, fmt_name, text_lines, counts, unknown_keys)
        else:
            records = self._raw(stats)
            for rec in records:
                head.append(rec)
                if len(head) >= _DETECT_SAMPLE:
                    break
            fmt = self._choose_format(head) if not text_lines else None
            fmt_name = "text-lines" if text_lines else (fmt.name if fmt else "unknown")
            yield from self._records(chain(head, records), fmt, fmt_name, text_lines, counts, unknown_keys)
        n_examples, n_rejected = counts
        for note in stats.notes:
            yield FileNote(self.split, self.path, "invalid-json", note)
        whole_file = self.chunk is None
        if whole_file and n_examples + n_rejected == 0:
            yield FileNote(self.split, self.path, "schema-violation", "file holds no records")
        elif whole_file and fmt is None and not text_lines:
            keys = ", ".join(k for k, _ in unknown_keys.most_common(6)) or "none"
            yield FileNote(
                self.split,
                self.path,
                "schema-violation",
                f"{n_rejected} records fit no known format (keys seen: {keys}); "
                "map them with --fields KEY=ROLE,... or name one with --input-format",
            )
        self.info = DatasetInfo(
            split=self.split,
            path=self.path,
            format=fmt_name,
            lines=n_examples + n_rejected,
            examples=n_examples,
            rejected=n_rejected,
            formats={"container": stats.container, "compressed": stats.compressed, "blank_lines": stats.blank_lines},
        )

    def _records(self, records: Iterable[RawRecord], fmt: Format | None, fmt_name: str, text_lines: bool,
                 counts: list[int], unknown_keys: Counter[str]) -> Iterator[Example | Rejected]:
        """The examples and rejected records of raw records; `counts` gets how many of each."""
        # A format may read its plainest records (turns only, nothing noted) without a Normalised.
        plain = getattr(fmt, "plain", None) if not text_lines else None
        for rec in records:
            record_hash = xxhash.xxh3_64_hexdigest(rec.raw)
            if text_lines:
                text = rec.raw.decode("utf-8", "replace")
                counts[0] += 1
                yield Example(self.split, self.path, rec.index, rec.line, fmt_name, (Turn(Role.USER, text, ""),), record_hash)
                continue
            if rec.error is not None:
                counts[1] += 1
                yield self._invalid(rec.index, rec.line, rec.error, record_hash)
                continue
            if fmt is None:
                counts[1] += 1
                if isinstance(rec.value, dict):
                    unknown_keys.update(rec.value.keys())
                continue
            if plain is not None:
                turns = plain(rec.value)
                if turns is not None:
                    counts[0] += 1
                    # Example(...) without its Python-level constructor: tools, rejected and
                    # problems keep their defaults.
                    yield _new_example(Example, (self.split, self.path, rec.index, rec.line, fmt_name, turns, record_hash, (), (), ()))
                    continue
            item = self._normalised(fmt, rec.index, rec.line, rec.value, record_hash)
            counts[type(item) is Rejected] += 1
            yield item

    def _chunk_records(self, fmt: Format, stats: ReadStats, counts: list[int]) -> Iterator[Example | Rejected]:
        """`_records` of a chunk's lines, read straight from them (no RawRecord in between)."""
        assert self.chunk is not None
        split, path, name = self.split, self.path, fmt.name
        plain = getattr(fmt, "plain", None)
        loads, digest, decode_error = orjson.loads, xxhash.xxh3_64_hexdigest, _decode_error
        index = self.chunk.index_offset
        n_examples = n_rejected = 0
        for lineno, raw in enumerate(chunk_lines(path, self.chunk), start=self.chunk.line_offset + 1):
            stripped = raw.strip()
            if not stripped:
                stats.blank_lines += 1
                continue
            record_hash = digest(stripped)
            try:
                value = loads(stripped)
            except (orjson.JSONDecodeError, RecursionError) as exc:
                n_rejected += 1
                yield self._invalid(index, lineno, decode_error(exc, stripped), record_hash)
                index += 1
                continue
            turns = plain(value) if plain is not None else None
            if turns is not None:
                n_examples += 1
                yield _new_example(Example, (split, path, index, lineno, name, turns, record_hash, (), (), ()))
            else:
                item = self._normalised(fmt, index, lineno, value, record_hash)
                if type(item) is Rejected:
                    n_rejected += 1
                else:
                    n_examples += 1
                yield item
            index += 1
        counts[0] += n_examples
        counts[1] += n_rejected

    def _invalid(self, index: int, line: int | None, error: str, record_hash: str) -> Rejected:
        message = f"line does not parse as JSON: {error}" if line else f"record does not parse as JSON: {error}"
        return Rejected(self.split, self.path, index, line, "invalid-json", message, record_hash)

    def _normalised(self, fmt: Format, index: int, line: int | None, value: object, record_hash: str) -> Example | Rejected:
        """The example `fmt.normalise` makes of a parsed record, or why it is rejected."""
        try:
            norm = fmt.normalise(value)
        except RecordError as exc:
            return Rejected(self.split, self.path, index, line, "schema-violation", f"record does not fit {fmt.name}: {exc.message}", record_hash, exc.pointer)
        except Exception as exc:  # a reader bug must cost one record, not the run
            return Rejected(self.split, self.path, index, line, "schema-violation",
                            f"{INTERNAL_ERROR} reading this record as {fmt.name} ({type(exc).__name__}: {exc})", record_hash)
        return Example(self.split, self.path, index, line, fmt.name, tuple(norm.turns), record_hash,
                       tuple(norm.tools), tuple(norm.rejected), tuple(norm.problems))

    def _choose_format(self, head: list[RawRecord]) -> Format | None:
        if self.fields:
            return FieldMapping(self.fields)
        if self.input_format:
            return self.formats[self.input_format]
        votes: Counter[str] = Counter()
        for rec in head:
            if rec.error is not None:
                continue
            best, best_score = None, 0
            for name, fmt in self.formats.items():
                score = fmt.detect(rec.value)
                if score > best_score:
                    best, best_score = name, score
            if best is not None:
                votes[best] += 1
        if not votes:
            # A production sample may hold inputs only ({"text": ...}): one user turn each.
            if self.split == "reference":
                keys = Counter(InputOnly.key_for(rec.value) for rec in head if rec.error is None)
                key, count = max(keys.items(), key=lambda kv: kv[1], default=(None, 0))
                if key is not None and count * 2 > len(head):
                    return InputOnly(key)
            return None
        # Ties break by name so detection is deterministic.
        name = min(votes, key=lambda k: (-votes[k], k))
        return self.formats[name]
