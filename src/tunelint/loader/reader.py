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
from typing import IO, Any, Iterator, NamedTuple

import orjson

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
BOM = b"\xef\xbb\xbf"
_HEAD = 1 << 16


class InputError(Exception):
    """The file as a whole cannot be read (missing, a directory, not a dataset container)."""


class RawRecord(NamedTuple):
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


def is_url(path: str) -> bool:
    """A path with a scheme (s3://, gs://, file://, ...) that fsspec resolves."""
    return "://" in path and not Path(path).exists()


def _open_url(path: str) -> IO[bytes]:
    try:
        import fsspec
    except ImportError:
        raise InputError(f"{path}: reading a URL needs fsspec (pip install 'tunelint[dask]' or fsspec)") from None
    try:
        fs, fs_path = fsspec.core.url_to_fs(path)
    except (ImportError, ValueError) as exc:
        raise InputError(f"{path}: this installation cannot read the URL: {exc}") from None
    try:
        if fs.isdir(fs_path):
            raise InputError(f"{path}: is a directory, expected a dataset file")
        return fs.open(fs_path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc


def _open_stream(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    if is_url(path):
        return _open_url(path)
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a directory, expected a dataset file")
    try:
        return p.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def file_size(path: str) -> int:
    """Bytes in a local file or a URL."""
    if is_url(path):
        with _open_url(path) as fh:
            return int(fh.size) if getattr(fh, "size", None) is not None else fh.seek(0, os.SEEK_END)
    return os.path.getsize(path)


_GLOB_CHARS = frozenset("*?[")


def expand_inputs(paths: "tuple[str, ...] | list[str]") -> tuple[str, ...]:
    """Paths with glob patterns replaced by the files they match, sorted; '-' and plain paths kept.

    A pattern that matches nothing is an error rather than a silently smaller dataset.
    """
    out: list[str] = []
    for path in paths:
        if path == "-" or not (_GLOB_CHARS & set(path)) or Path(path).exists():
            out.append(path)
            continue
        if is_url(path):
            try:
                import fsspec

                fs, fs_path = fsspec.core.url_to_fs(path)
                protocol = path.split("://", 1)[0]
                matches = sorted(f"{protocol}://{m.split('://', 1)[-1]}" for m in fs.glob(fs_path) if not fs.isdir(m))
            except ImportError:
                raise InputError(f"{path}: a URL pattern needs fsspec (pip install 'tunelint[dask]')") from None
        else:
            import glob

            matches = sorted(m for m in glob.glob(path, recursive=True) if not os.path.isdir(m))
        if not matches:
            raise InputError(f"{path}: no file matches this pattern")
        out.extend(matches)
    return tuple(out)


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
        container = _container_of(path, head)
        if container == "json-array":
            stats.container = "json-array"
            yield from _read_json_array(head + b"".join(chunks))
        elif container == "json":
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


def _container_of(path: str, head: bytes) -> str:
    """jsonl, json-array or json (one pretty-printed document), from the name and the head bytes."""
    # The extension settles what content alone cannot: a JSONL file whose records are lists.
    suffixes = [x.lower() for x in Path(path).suffixes if x.lower() != ".gz"]
    if suffixes and suffixes[-1] in (".jsonl", ".ndjson"):
        return "jsonl"
    first = head.lstrip(BOM + b" \t\r\n")[:1]
    if first == b"[":
        return "json-array"
    if first == b"{" and not _first_line_complete(head.lstrip(BOM)):
        return "json"
    return "jsonl"


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
        yield RawRecord(index, lineno, stripped, value, error)
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


# A line that starts with ASCII whitespace (as bytes.strip sees it), or an empty line: the
# only places a blank line can be.
_MAYBE_BLANK = re.compile(rb"\n[ \t\n\r\x0b\x0c]")
_WHITESPACE = b" \t\n\r\x0b\x0c"


def _records_in(piece: bytes, at_file_start: bool, lines: int | None = None) -> int:
    """Records among the lines of `piece`, counted as the readers count them (blank lines are not);
    `lines`: `_lines_in(piece)` when the caller has it."""
    if at_file_start and piece.startswith(BOM):
        piece = piece[len(BOM):]
    if not piece:
        return 0
    # Fast path at memory speed: when no line starts with whitespace, none is blank but the
    # empty tail after a final newline, so every line is a record (a leading BOM holds no "\n").
    if piece[0] not in _WHITESPACE and _MAYBE_BLANK.search(piece) is None:
        return _lines_in(piece) if lines is None else lines
    return sum(1 for line in piece.split(b"\n") if line.strip())


def _lines_in(piece: bytes) -> int:
    return piece.count(b"\n") + (0 if not piece or piece.endswith(b"\n") else 1)


# Bytes of a mapped file counted at a time by `_counts_in_map` (one temporary array of flags).
_COUNT_BLOCK = 8 << 20


def _counts_in_map(m: mmap.mmap, start: int, end: int) -> tuple[int, int]:
    """(`_lines_in`, `_records_in`) of the bytes [start, end) of a mapped file, read in place:
    copying each chunk out of the map to count it cost as much as the counting (the main
    process counts every chunk while the workers check them: ~1 s of a 1 GB file)."""
    import numpy as np

    if end <= start:
        return 0, 0
    newlines = 0
    for lo in range(start, end, _COUNT_BLOCK):
        hi = min(end, lo + _COUNT_BLOCK)
        newlines += int(np.count_nonzero(np.frombuffer(m, dtype=np.uint8, count=hi - lo, offset=lo) == 10))
    lines = newlines + (0 if m[end - 1] == 10 else 1)
    first = start + len(BOM) if start == 0 and end >= len(BOM) and m[: len(BOM)] == BOM else start
    if first >= end:
        return lines, 0
    # `_records_in`'s fast path: no line starts with whitespace, so every line is a record.
    if m[first] not in _WHITESPACE and _MAYBE_BLANK.search(m, first, end) is None:
        return lines, lines
    return lines, _records_in(m[start:end], start == 0, lines)


def chunk_plan(path: str, target_bytes: int) -> tuple[int, Iterator[Chunk]] | None:
    """A plain (uncompressed) JSONL file's size and a lazy plan of its line-aligned chunks.

    None when the file cannot be split. The chunks come as they are counted, so a caller can
    hand the first ones to workers while the rest of the file is still being scanned.
    """
    if path == "-" or is_url(path):
        return None
    try:
        size = os.path.getsize(path)
        if size == 0:
            return None
        with open(path, "rb") as fh:
            head = fh.read(1 << 22)
    except OSError:
        return None
    if head[:2] == GZIP_MAGIC or head[:4] == PARQUET_MAGIC:
        return None
    if _container_of(path, head) != "jsonl":  # a JSON array is not split by lines
        return None
    return size, iter_chunks(path, size, target_bytes)


def iter_chunks(path: str, size: int, target_bytes: int, taper: int = 0, least: int = 1 << 20) -> Iterator[Chunk]:
    """The chunks of a plain JSONL file of `size` bytes, about `target_bytes` each, counted lazily.

    With `taper` (the number of processes taking chunks), chunks near the end shrink to a
    `2 * taper`-th of what remains (`least` bytes at least), so the processes run out of work
    at nearly the same time instead of one finishing a whole chunk alone."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        size = min(size, len(m))
        pos = line_offset = index_offset = 0
        while pos < size:
            step = target_bytes
            if taper:
                step = min(target_bytes, max(least, (size - pos) // (2 * taper)))
            end = min(size, pos + step)
            if end < size:
                nl = m.find(b"\n", end - 1)
                end = size if nl == -1 else nl + 1
            yield Chunk(pos, end, line_offset, index_offset)
            lines, records = _counts_in_map(m, pos, end)
            line_offset += lines
            index_offset += records
            pos = end


def plan_chunks(path: str, target_bytes: int) -> list[Chunk] | None:
    """Split a plain (uncompressed) JSONL file into chunks; None when it cannot be split."""
    plan = chunk_plan(path, target_bytes)
    if plan is None:
        return None
    try:
        return list(plan[1])
    except (OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class RangeScan:
    """The whole lines that start inside a byte range of a file, and how many lines and records they hold."""

    start: int
    end: int
    lines: int
    records: int


def splittable(path: str) -> bool:
    """Whether a file is plain JSONL that can be read in byte ranges (local path or seekable URL)."""
    if path == "-" or path.endswith(".txt"):
        return False
    with _open_stream(path) as fh:
        head = fh.read(1 << 22)
    if not head or head[:2] == GZIP_MAGIC or head[:4] == PARQUET_MAGIC:
        return False
    return _container_of(path, head) == "jsonl"


def scan_range(path: str, lo: int, hi: int, block: int = 1 << 22) -> RangeScan:
    """Align [lo, hi) to line starts and count what it holds, reading only that range (and one line past it).

    A range owns every line whose first byte lies in [lo, hi): so the ranges of a file, scanned
    independently on different machines, cover each line exactly once. Their counts, summed in
    order on the client, give each chunk the line and record offsets of a whole-file read.
    """
    with _open_stream(path) as fh:
        start = _after_newline(fh, lo - 1, block) if lo > 0 else 0
        if start >= hi:
            return RangeScan(start, start, 0, 0)
        end = _after_newline(fh, hi - 1, block)
        fh.seek(start)
        lines = records = 0
        pos = start
        at_file_start = start == 0
        carry = b""
        while pos < end:
            data = fh.read(min(block, end - pos))
            if not data:
                end = pos
                break
            pos += len(data)
            buf = carry + data
            carry = b""
            if pos < end:  # keep a line cut by the read for the next round
                cut = buf.rfind(b"\n") + 1
                buf, carry = buf[:cut], buf[cut:]
            if buf:
                lines += _lines_in(buf)
                records += _records_in(buf, at_file_start)
                at_file_start = False
        return RangeScan(start, end, lines, records)


def _after_newline(fh: IO[bytes], at: int, block: int) -> int:
    """The offset just past the first newline at or after `at` (the end of the file when none)."""
    fh.seek(at)
    pos = at
    while True:
        data = fh.read(block)
        if not data:
            return pos
        nl = data.find(b"\n")
        if nl != -1:
            return pos + nl + 1
        pos += len(data)


def chunks_from_scans(scans: "list[RangeScan]") -> list[Chunk]:
    """Chunks with whole-file line and record offsets, from the in-order scans of one file's ranges."""
    chunks: list[Chunk] = []
    line_offset = index_offset = 0
    for scan in scans:
        if scan.end > scan.start:
            chunks.append(Chunk(scan.start, scan.end, line_offset, index_offset))
        line_offset += scan.lines
        index_offset += scan.records
    return chunks


def chunk_lines(path: str, chunk: Chunk) -> list[bytes]:
    """The lines of one chunk of a plain JSONL file (without their line breaks; the first is
    line `chunk.line_offset + 1` of the file)."""
    with _open_stream(path) as fh:
        fh.seek(chunk.start)
        data = fh.read(chunk.end - chunk.start)
    if chunk.start == 0 and data.startswith(BOM):
        data = data[len(BOM):]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def read_chunk(path: str, chunk: Chunk, stats: ReadStats) -> Iterator[RawRecord]:
    """The records of one chunk of a plain JSONL file, numbered as in the whole file."""
    lines = chunk_lines(path, chunk)
    index = chunk.index_offset
    loads = orjson.loads
    for lineno, raw in enumerate(lines, start=chunk.line_offset + 1):
        stripped = raw.strip()
        if not stripped:
            stats.blank_lines += 1
            continue
        # parse_json, inline.
        try:
            value = loads(stripped)
        except (orjson.JSONDecodeError, RecursionError) as exc:
            yield RawRecord(index, lineno, stripped, None, _decode_error(exc, stripped))
        else:
            yield RawRecord(index, lineno, stripped, value, None)
        index += 1
