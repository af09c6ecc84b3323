"""What `lint()` accepts besides file paths: lists of dicts, pandas DataFrames, Hugging Face datasets.

Every kind becomes a stream of the same `RawRecord`s the file readers produce, so the loader's
format detection and normalisers, and every check, see in-memory data exactly as they see files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import orjson

from tunelint.loader.reader import RawRecord

_DUMP = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_BATCH = 4096


@dataclass(frozen=True)
class Source:
    """One input of one split. `label` stands in for the path in findings; `records` is None for files."""

    label: str
    records: Callable[[], Iterator[RawRecord]] | None = None
    # A one-shot iterator cannot be read a second time (reports then show no example excerpts).
    rereadable: bool = True


def _row_records(rows: Iterable[Any]) -> Iterator[RawRecord]:
    for index, row in enumerate(rows):
        try:
            raw = orjson.dumps(row, option=_DUMP, default=str)
        except TypeError as exc:  # e.g. a dict keyed by tuples
            yield RawRecord(index=index, line=None, raw=repr(row).encode("utf-8", "replace"), error=f"record cannot be serialised: {exc}")
            continue
        yield RawRecord(index=index, line=None, raw=raw, value=row)


def _table_records(batches: Callable[[], Iterable[Any]]) -> Callable[[], Iterator[RawRecord]]:
    def records() -> Iterator[RawRecord]:
        def rows() -> Iterator[Any]:
            for batch in batches():
                yield from batch.to_pylist()

        return _row_records(rows())

    return records


def _is_dataframe(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "pandas" and type(value).__name__ == "DataFrame"


def _is_hf_dataset(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "datasets" and hasattr(value, "with_format") and hasattr(value, "features")


def _dataframe(df: Any, label: str) -> Source:
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    return Source(label, _table_records(lambda: table.to_batches(max_chunksize=_BATCH)))


def _hf_dataset(ds: Any, label: str) -> Source:
    # Arrow batches respect select / shuffle / filter (the dataset's index mapping) and avoid
    # building a Python dict per row twice.
    arrow = ds.with_format("arrow")
    return Source(label, _table_records(lambda: arrow.iter(batch_size=_BATCH)))


def as_sources(value: Any, split: str) -> tuple[Source, ...]:
    """Turn one split's argument of `lint()` into sources.

    Accepted: None; a path (str or Path); a list of paths; a list (or other iterable) of dicts;
    a pandas DataFrame; a Hugging Face `datasets.Dataset`.
    """
    if value is None:
        return ()
    if isinstance(value, (str, Path)):
        return (Source(str(value)),)
    if _is_dataframe(value):
        return (_dataframe(value, f"<{split}:DataFrame>"),)
    if _is_hf_dataset(value):
        return (_hf_dataset(value, f"<{split}:Dataset>"),)
    if isinstance(value, Mapping):
        raise TypeError(f"{split}: got one dict; pass a list of records (dicts), a path, a DataFrame or a Dataset")
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (str, Path)) for v in value):
            return tuple(Source(str(v)) for v in value)
        if any(isinstance(v, (str, Path)) for v in value):
            raise TypeError(f"{split}: mixes paths and records; pass one kind per split")
        rows = value
        return (Source(f"<{split}:records>", lambda: _row_records(rows)),)
    if isinstance(value, Iterable):
        it = iter(value)
        if it is value:
            return (Source(f"<{split}:records>", lambda: _row_records(it), rereadable=False),)
        return (Source(f"<{split}:records>", lambda: _row_records(value)),)
    raise TypeError(f"{split}: cannot lint a {type(value).__name__}; pass paths, records, a DataFrame or a Dataset")
