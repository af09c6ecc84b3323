"""`redact`: a copy of a training file with every PII value and secret replaced by a typed
placeholder (`<EMAIL_ADDRESS>`), and a log of what was replaced.

Every string of every record is scanned (keys too, and metadata fields the checks never read),
with the `pii` and `secret` checks' options from the config (entities, allow-list, NER mode).
The copy keeps the input's container (JSONL, JSON array, one JSON document, gzip of those,
parquet); records with nothing to replace are kept byte for byte, and a changed record keeps
its own formatting wherever its strings can be replaced in place. A JSONL line that does not
parse is redacted as text, so a broken line cannot smuggle a value through. The input is never
written; both outputs are written atomically; the log holds masked forms, never values.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import orjson
from pydantic import ValidationError

from tunelint.checks.pii import Pii
from tunelint.checks.pii import detector_for as pii_detector
from tunelint.checks.secret import Secret
from tunelint.checks.secret import detector_for as secret_detector
from tunelint.checks._privacy import AllowList
from tunelint.config import ConfigError, Settings
from tunelint.loader.reader import GZIP_MAGIC, InputError, ReadStats, _array_element_spans, read_records
from tunelint.privacy import Span, mask, redact
from tunelint.reporters.base import write_atomic

_BLANK = b" \t\r\n\xef\xbb\xbf"


@dataclass(frozen=True)
class RedactResult:
    output: str
    log: str
    container: str
    compressed: bool
    records: int
    changed: int
    by_type: dict[str, int]
    # The NER mode the pii detector ran in ("patterns-only" or "ner:<model>").
    mode: str
    unparsed: int = 0

    @property
    def replaced(self) -> int:
        return sum(self.by_type.values())


def log_path(output: str | Path) -> str:
    return str(output) + ".log.jsonl"


@dataclass
class _Redactor:
    """Finds and replaces values in strings; remembers what it replaced in the current record."""

    detect: Callable[[str], list[Span]]
    replaced: list[dict[str, Any]] = field(default_factory=list)

    def text(self, value: str, pointer: str) -> str:
        spans = self.detect(value)
        if not spans:
            return value
        for span in spans:
            self.replaced.append({"pointer": pointer, "entity_type": span.entity_type,
                                  "masked": mask(value[span.start:span.end], span.entity_type)})
        return redact(value, spans)

    def walk(self, value: Any, pointer: str = "") -> Any:
        if isinstance(value, str):
            return self.text(value, pointer)
        if isinstance(value, dict):
            return {self.text(k, pointer + "/" + _escape(k)) if isinstance(k, str) else k:
                    self.walk(v, pointer + "/" + _escape(str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, f"{pointer}/{i}") for i, v in enumerate(value)]
        return value


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _detector(settings: Settings) -> tuple[Callable[[str], list[Span]], str]:
    """One function finding PII and secrets with the checks' configured options."""
    options = {}
    for cls in (Pii, Secret):
        raw = dict(settings.checks.get(cls.name) or settings.checks.get(cls.code) or {})
        raw.pop("severity", None)
        try:
            options[cls.name] = cls.Options(**{k.replace("-", "_"): v for k, v in raw.items()})
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]).replace("_", "-")
            raise ConfigError(f"check '{cls.name}': option '{key}': {err['msg']}") from None
    pii = pii_detector(options["pii"])
    secrets = secret_detector(options["secret"].kinds)
    allow = AllowList(options["pii"].allow + options["secret"].allow)

    def detect(text: str) -> list[Span]:
        spans = pii.detect(text) + secrets.detect(text)
        if allow:
            spans = [s for s in spans if text[s.start:s.end] not in allow]
        return spans

    return detect, pii.mode


def redact_file(train: str | Path, output: str | Path, settings: Settings | None = None) -> RedactResult:
    """Write `output` (train with values replaced) and `output + ".log.jsonl"`."""
    train, output = str(train), str(output)
    if train == "-":
        raise InputError("redact needs a file, not '-'")
    source = Path(train)
    if not source.is_file():
        raise InputError(f"{train}: no such file")
    for target in (output, log_path(output)):
        if Path(target).resolve() == source.resolve():
            raise InputError(f"{target}: redact never overwrites its input; choose another output path")
    detect, mode = _detector(settings or Settings())
    raw = source.read_bytes()
    compressed = raw[:2] == GZIP_MAGIC
    body = gzip.decompress(raw) if compressed else raw
    redactor = _Redactor(detect)
    log: list[bytes] = []
    by_type: Counter[str] = Counter()
    state = {"records": 0, "changed": 0, "unparsed": 0}

    def note(index: int, line: int | None) -> None:
        state["changed"] += 1
        entry = {"index": index, "line": line, "replaced": redactor.replaced}
        by_type.update(r["entity_type"] for r in redactor.replaced)
        log.append(orjson.dumps(entry) + b"\n")

    def record(index: int, line: int | None, piece: bytes) -> bytes:
        """One record's bytes, redacted (the same bytes when nothing needed replacing)."""
        state["records"] += 1
        redactor.replaced = []
        try:
            value = orjson.loads(piece)
        except orjson.JSONDecodeError:
            state["unparsed"] += 1
            text = piece.decode("utf-8", "surrogateescape")
            out = redactor.text(text, "")
            if not redactor.replaced:
                return piece
            note(index, line)
            return out.encode("utf-8", "surrogateescape")
        new = redactor.walk(value)
        if not redactor.replaced:
            return piece
        note(index, line)
        return _in_place(piece, value, new)

    container = _container(train)
    if container == "parquet":
        out = _redact_parquet(body, redactor, note, state)
    else:
        out = _redact_json(body, container, record)
    if compressed:
        out = gzip.compress(out, mtime=0)
    write_atomic(output, out)
    write_atomic(log_path(output), b"".join(log))
    return RedactResult(output, log_path(output), container, compressed, state["records"], state["changed"],
                        dict(sorted(by_type.items())), mode, state["unparsed"])


def _container(path: str) -> str:
    """The container as the reader sees it (content, and the .jsonl extension for ambiguous files)."""
    stats = ReadStats()
    next(read_records(path, stats), None)
    return stats.container


def _redact_json(body: bytes, container: str, record: Callable[[int, int | None, bytes], bytes]) -> bytes:
    if container == "json-array":
        spans = _array_element_spans(body)
        out, position = [], 0
        for index, (line, lo, hi) in enumerate(spans):
            piece = body[lo:hi].rstrip()
            end = lo + len(piece)
            out.append(body[position:lo])
            out.append(record(index, line, piece))
            position = end
        out.append(body[position:])
        return b"".join(out)
    if container == "json":
        stripped = body.strip(_BLANK)
        lo = body.find(stripped[:1])
        return body[:lo] + record(0, 1, stripped) + body[lo + len(stripped):]
    # JSONL: split on "\n" only, as the reader does; blank lines are not records.
    pieces = body.split(b"\n")
    out, index = [], 0
    for number, piece in enumerate(pieces, 1):
        content = piece.rstrip(b"\r")
        if not content.strip():
            out.append(piece)
            continue
        lead = content[: len(content) - len(content.lstrip(_BLANK))]
        out.append(lead + record(index, number, content[len(lead):]) + piece[len(content):])
        index += 1
    return b"\n".join(out)


def _in_place(piece: bytes, old: Any, new: Any) -> bytes:
    """`piece` with each changed string replaced where it is written, when that reproduces
    `new` exactly; else `new` serialised afresh (the record's own formatting is then lost)."""
    changes: dict[str, str] = {}
    _changed_strings(old, new, changes)
    out = piece
    for before, after in changes.items():
        for ascii_only in (False, True):
            written = json.dumps(before, ensure_ascii=ascii_only).encode("utf-8")
            if written in out:
                out = out.replace(written, json.dumps(after, ensure_ascii=ascii_only).encode("utf-8"))
                break
    try:
        if orjson.loads(out) == new:
            return out
    except orjson.JSONDecodeError:
        pass
    return json.dumps(new, ensure_ascii=False).encode("utf-8")


def _changed_strings(old: Any, new: Any, changes: dict[str, str]) -> None:
    if isinstance(old, str):
        if old != new:
            changes[old] = new
    elif isinstance(old, dict):
        for (k_old, v_old), (k_new, v_new) in zip(old.items(), new.items()):
            _changed_strings(k_old, k_new, changes)
            _changed_strings(v_old, v_new, changes)
    elif isinstance(old, list):
        for a, b in zip(old, new):
            _changed_strings(a, b, changes)


def _redact_parquet(body: bytes, redactor: _Redactor, note: Callable[[int, int | None], None],
                    state: dict[str, int]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(body))
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"not a readable parquet file: {exc}") from exc
    rows = table.to_pylist()
    changed = False
    for index, row in enumerate(rows):
        state["records"] += 1
        redactor.replaced = []
        new = redactor.walk(row)
        if redactor.replaced:
            note(index, None)
            rows[index] = new
            changed = True
    if not changed:
        return body
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), sink)
    return sink.getvalue().to_pybytes()


__all__ = ["RedactResult", "log_path", "redact_file"]
