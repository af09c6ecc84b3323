"""`clean`: a deduplicated copy of a training file, and a log of every record it dropped.

Runs exact-duplicate and near-duplicate, keeps each cluster's representative (its first
occurrence) and every other record byte for byte, in the input's container (JSONL, JSON array,
gzip of either, parquet). The input is never written; both outputs are written atomically.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tunelint.config import Settings
from tunelint.engine import lint
from tunelint.loader.reader import GZIP_MAGIC, PARQUET_MAGIC, InputError, read_records
from tunelint.reporters.base import write_atomic

DEDUP_CHECKS = ("exact-duplicate", "near-duplicate")


@dataclass(frozen=True)
class CleanResult:
    output: str
    log: str
    records: int
    kept: int
    dropped: int
    by_check: dict[str, int]
    container: str


def log_path(output: str | Path) -> str:
    return str(output) + ".log.jsonl"


def clean(train: str | Path, output: str | Path, settings: Settings | None = None) -> CleanResult:
    """Write `output` (train without duplicates) and `output + ".log.jsonl"`."""
    train, output = str(train), str(output)
    if train == "-":
        raise InputError("clean reads its input twice: give a file, not '-'")
    if Path(output).resolve() == Path(train).resolve() or Path(log_path(output)).resolve() == Path(train).resolve():
        raise InputError(f"{output}: clean never overwrites its input; choose another output path")
    settings = (settings or Settings()).replace(select=DEDUP_CHECKS)
    report = lint(train, settings=settings)
    drops: dict[int, dict[str, Any]] = {}
    for f in report.findings:
        if f.check not in DEDUP_CHECKS or f.location.index is None or f.location.split != "train":
            continue
        entry = {
            "line": f.location.line,
            "index": f.location.index,
            "code": f.code,
            "check": f.check,
            "cluster": f.evidence.get("cluster"),
            "representative": f.evidence.get("representative"),
            "similarity": f.evidence.get("similarity"),
            "message": f.message,
        }
        drops.setdefault(f.location.index, entry)
    container = report.datasets[0].formats.get("container", "jsonl") if report.datasets else "jsonl"
    data, records = _filtered(train, container, set(drops))
    log = b"".join(orjson.dumps(drops[i]) + b"\n" for i in sorted(drops))
    write_atomic(output, data)
    write_atomic(log_path(output), log)
    by_check: dict[str, int] = {}
    for entry in drops.values():
        by_check[entry["check"]] = by_check.get(entry["check"], 0) + 1
    return CleanResult(output, log_path(output), records, records - len(drops), len(drops), by_check, container)


def _filtered(path: str, container: str, drop: set[int]) -> tuple[bytes, int]:
    """The file's bytes without the records at the `drop` indices, and the record count."""
    raw = Path(path).read_bytes()
    compressed = raw[:2] == GZIP_MAGIC
    body = gzip.decompress(raw) if compressed else raw
    if body[:4] == PARQUET_MAGIC or container == "parquet":
        return _filtered_parquet(body, drop)
    if container == "json-array":
        kept, count = [], 0
        for rec in read_records(path):
            count += 1
            if rec.index not in drop:
                kept.append(rec.raw)
        out = b"[\n" + b",\n".join(kept) + b"\n]\n"
    elif container == "jsonl":
        out, count = _filtered_lines(body, drop)
    else:
        # One JSON document is one record: nothing can be a copy of another.
        out, count = body, 1
    return (gzip.compress(out, mtime=0) if compressed else out), count


def _filtered_lines(body: bytes, drop: set[int]) -> tuple[bytes, int]:
    """JSONL without the dropped records: every other line (blank ones too) kept byte for byte,
    counting records the way the reader does (blank lines are not records)."""
    # Split on "\n" only, as the reader does; each piece keeps its own line ending.
    pieces = body.split(b"\n")
    lines = [piece + b"\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    out = io.BytesIO()
    index = 0
    for line in lines:
        if not line.strip(b" \t\r\n\xef\xbb\xbf"):
            out.write(line)
            continue
        if index not in drop:
            out.write(line)
        index += 1
    return out.getvalue(), index


def _filtered_parquet(body: bytes, drop: set[int]) -> tuple[bytes, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(body))
    keep = [i for i in range(table.num_rows) if i not in drop]
    sink = pa.BufferOutputStream()
    pq.write_table(table.take(pa.array(keep, type=pa.int64())), sink)
    return sink.getvalue().to_pybytes(), table.num_rows


__all__ = ["CleanResult", "clean", "log_path"]
