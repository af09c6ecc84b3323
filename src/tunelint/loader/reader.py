"""Containers: turn a file (JSONL, JSON array, gzip of either, parquet, stdin) into raw records.

Every physical record comes out exactly once, as a parsed value or as a parse failure with its
line, so the loader's counts reconcile and nothing is skipped silently. JSONL is streamed line by
line; a JSON array is read whole and split into its elements so each keeps its line.
"""

from __future__ import annotations

import mmap
import os
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator

import orjson

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
BOM = b"\xef\xbb\xbf"
_HEAD = 1 << 16


class InputError(Exception):
    """The file as a whole cannot be read (missing, a directory, not a dataset container)."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as found in the container: parsed `value`, or `error` saying why not."""

    index: int
    line: int | None
    raw: bytes
    value: Any = None
    error: str | None = None


@dataclass
class ReadStats:
    container: str = "jsonl"
    compressed: bool = False
    blank_lines: int = 0
    notes: list[str] = field(default_factory=list)


def _open_stream(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a directory, expected a dataset file")
    try:
        return p.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def read_records(path: str, stats: ReadStats | None = None) -> Iterator[RawRecord]:
    """Yield every record of the file at `path`, auto-detecting the container."""
    stats = stats if stats is not None else ReadStats()
    stream = _open_stream(path)
    try:
        head = stream.read(_HEAD)
        if head[:2] == GZIP_MAGIC:
            stats.compressed = True
            chunks = _gunzip_chunks(head, stream, stats)
        else:
            chunks = _plain_chunks(head, stream)
        head = next(chunks, b"")
        # Look far enough to see the first meaningful byte even after a BOM or blank lines.
        while head and not head.lstrip(BOM + b" \t\r\n") and len(head) < (1 << 22):
            more = next(chunks, b"")
            if not more:
                break
            head += more
        if head[:4] == PARQUET_MAGIC:
            stats.container = "parquet"
            yield from _read_parquet(path, head + b"".join(chunks))
            return
        if head.startswith(BOM):
            head = head[len(BOM):]
        first = head.lstrip()[:1]
        # The extension settles what content alone cannot: a JSONL file whose records are lists.
        suffixes = [x.lower() for x in Path(path).suffixes if x.lower() != ".gz"]
        jsonl_named = bool(suffixes) and suffixes[-1] in (".jsonl", ".ndjson")
        if jsonl_named:
            first = b""
        if first == b"[":
            stats.container = "json-array"
            yield from _read_json_array(head + b"".join(chunks))
        elif first == b"{" and not _first_line_complete(head):
            # One JSON document spread over many lines (a pretty-printed object).
            stats.container = "json"
            data = head + b"".join(chunks)
            value, error = parse_json(data)
            yield RawRecord(index=0, line=1, raw=data.strip(), value=value, error=error)
        else:
            stats.container = "jsonl"
            yield from _read_jsonl(_lines(head, chunks), stats)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _plain_chunks(head: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    yield head
    while chunk := stream.read(1 << 20):
        yield chunk


def _gunzip_chunks(head: bytes, stream: IO[bytes], stats: ReadStats) -> Iterator[bytes]:
    """Decompress as a stream; a truncated or corrupt archive yields its intact prefix and a note."""
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    data = head
    try:
        while data:
            out = d.decompress(data)
            if out:
                yield out
            while d.eof and d.unused_data:
                # Concatenated gzip members: start the next one.
                rest = d.unused_data
                d = zlib.decompressobj(zlib.MAX_WBITS | 16)
                out = d.decompress(rest)
                if out:
                    yield out
            data = stream.read(1 << 20)
        tail = d.flush()
        if tail:
            yield tail
        if not d.eof:
            stats.notes.append("gzip stream ends early (truncated archive); read what could be decompressed")
    except zlib.error as exc:
        stats.notes.append(f"gzip stream is corrupt ({exc}); read what could be decompressed")


def _lines(head: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    pending = head
    for chunk in chunks:
        pending += chunk
        parts = pending.split(b"\n")
        pending = parts.pop()
        yield from parts
    parts = pending.split(b"\n")
    last = parts.pop()
    yield from parts
    if last:
        yield last


def _first_line_complete(head: bytes) -> bool:
    for raw in head.split(b"\n", 64)[:64]:
        if raw.strip():
            try:
                orjson.loads(raw)
                return True
            except orjson.JSONDecodeError:
                return False
    return True


def _decode_error(exc: Exception, raw: bytes) -> str:
    msg = str(exc)
    if isinstance(exc, RecursionError) or "recursion" in msg.lower():
        return "nested deeper than the JSON parser allows"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return f"not valid UTF-8 (byte {uexc.start} of the record)"
    if b"\x00" in raw:
        return "contains a NUL byte"
    return msg.split(": line")[0]


def parse_json(raw: bytes) -> tuple[Any, str | None]:
    try:
        return orjson.loads(raw), None
    except (orjson.JSONDecodeError, RecursionError) as exc:
        return None, _decode_error(exc, raw)


def _read_jsonl(lines: Iterator[bytes], stats: ReadStats) -> Iterator[RawRecord]:
    index = 0
    for lineno, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped:
            stats.blank_lines += 1
            continue
        value, error = parse_json(stripped)
        yield RawRecord(index=index, line=lineno, raw=stripped, value=value, error=error)
        index += 1


# A JSON array is split into its elements by a scan that knows strings and nesting, so each
# element keeps its starting line and one bad element does not hide the others.
_TOKEN = re.compile(rb'"(?:[^"\\\n]|\\.)*"|[\[\]{},\n]')


def _read_json_array(data: bytes) -> Iterator[RawRecord]:
    value, error = parse_json(data)
    spans = _array_element_spans(data)
    if error is None and isinstance(value, list) and len(spans) == len(value):
        for i, (elem, (line, lo, hi)) in enumerate(zip(value, spans)):
            yield RawRecord(index=i, line=line, raw=data[lo:hi].strip(), value=elem)
        return
    if not spans:
        yield RawRecord(index=0, line=1, raw=data.strip(), error=error or "empty or unreadable JSON array")
        return
    # Broken somewhere: parse element by element so the good ones are still checked.
    for i, (line, lo, hi) in enumerate(spans):
        raw = data[lo:hi].strip()
        elem, err = parse_json(raw)
        if err is None and hi == len(data) and i == len(spans) - 1 and not _closed(data):
            err = "JSON array is not closed (file ends inside it)"
        yield RawRecord(index=i, line=line, raw=raw, value=elem, error=err)


def _closed(data: bytes) -> bool:
    return data.rstrip().endswith(b"]")


def _array_element_spans(data: bytes) -> list[tuple[int, int, int]]:
    """(line, start byte, end byte) of each top-level element, and of trailing garbage."""
    spans: list[tuple[int, int, int]] = []
    start = len(data) - len(data.lstrip())
    line = 1 + data[:start].count(b"\n")
    depth = 0
    seg_lo = seg_line = 0

    def close(hi: int) -> None:
        seg = data[seg_lo:hi]
        body = seg.lstrip()
        if body.strip():
            lo = seg_lo + len(seg) - len(body)
            spans.append((seg_line + data[seg_lo:lo].count(b"\n"), lo, hi))

    for m in _TOKEN.finditer(data, start):
        tok = m.group()
        if tok == b"\n":
            line += 1
        elif tok in (b"[", b"{"):
            depth += 1
            if depth == 1:
                seg_lo, seg_line = m.end(), line
        elif tok in (b"]", b"}"):
            depth -= 1
            if depth == 0:
                close(m.start())
                tail = data[m.end():]
                if tail.strip():
                    lo = m.end() + len(tail) - len(tail.lstrip())
                    spans.append((line + data[m.end():lo].count(b"\n"), lo, len(data)))
                return spans
        elif tok == b"," and depth == 1:
            close(m.start())
            seg_lo, seg_line = m.end(), line
    if depth >= 1:
        close(len(data))
    return spans


def _read_parquet(path: str, data: bytes) -> Iterator[RawRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable parquet file: {exc}") from exc
    index = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            raw = orjson.dumps(row, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
            yield RawRecord(index=index, line=None, raw=raw, value=row)
            index += 1


@dataclass(frozen=True, slots=True)
class Chunk:
    """A byte range of a plain JSONL file that starts and ends on line boundaries.

    `line_offset` / `index_offset` are the lines and records before it, so records read from the
    chunk alone get the same line and index as in a whole-file read.
    """

    start: int
    end: int
    line_offset: int
    index_offset: int


def plan_chunks(path: str, target_bytes: int) -> list[Chunk] | None:
    """Split a plain (uncompressed) JSONL file into chunks; None when it cannot be split."""
    if path == "-":
        return None
    try:
        size = os.path.getsize(path)
        if size == 0:
            return None
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
            if m[:2] == GZIP_MAGIC or m[:4] == PARQUET_MAGIC:
                return None
            chunks: list[Chunk] = []
            pos = line_offset = index_offset = 0
            while pos < size:
                end = min(size, pos + target_bytes)
                if end < size:
                    nl = m.find(b"\n", end - 1)
                    end = size if nl == -1 else nl + 1
                pieces = m[pos:end].split(b"\n")
                if pieces and pieces[-1] == b"":
                    pieces.pop()
                records = sum(1 for p in pieces if p.strip() and p.strip() != BOM)
                chunks.append(Chunk(pos, end, line_offset, index_offset))
                line_offset += len(pieces)
                index_offset += records
                pos = end
            return chunks
    except (OSError, ValueError):
        return None


def read_chunk(path: str, chunk: Chunk, stats: ReadStats) -> Iterator[RawRecord]:
    """The records of one chunk of a plain JSONL file, numbered as in the whole file."""
    with open(path, "rb") as fh:
        fh.seek(chunk.start)
        data = fh.read(chunk.end - chunk.start)
    if chunk.start == 0 and data.startswith(BOM):
        data = data[len(BOM):]
    index = chunk.index_offset
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for lineno, raw in enumerate(lines, start=chunk.line_offset + 1):
        stripped = raw.strip()
        if not stripped:
            stats.blank_lines += 1
            continue
        value, error = parse_json(stripped)
        yield RawRecord(index=index, line=lineno, raw=stripped, value=value, error=error)
        index += 1
