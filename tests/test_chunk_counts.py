"""The chunk planner counts lines and records of a mapped file in place; the counts are those of
the chunk's bytes (`_lines_in`, `_records_in`), whatever the chunk holds."""

from __future__ import annotations

import mmap

from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.loader import reader
from tunelint.loader.reader import BOM, _counts_in_map, _lines_in, _records_in, iter_chunks

LINE = st.one_of(
    st.just(b""), st.just(b"   "), st.just(b"\t"), st.just(b"\r"), st.just(b" {\"a\": 1}"),
    st.just(b"\x0b\x0c"), st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")),
    st.just(b'{"messages": []}'),
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(LINE, max_size=30), bom=st.booleans(), tail=st.booleans(),
       cut=st.tuples(st.integers(0, 400), st.integers(0, 400)), block=st.integers(1, 9))
def test_counts_in_place_equal_counts_of_the_copy(tmp_path_factory, lines, bom, tail, cut, block) -> None:
    data = (BOM if bom else b"") + b"\n".join(lines) + (b"\n" if tail else b"")
    if not data:
        return
    path = tmp_path_factory.mktemp("c") / "d.jsonl"
    path.write_bytes(data)
    start, end = sorted(min(c, len(data)) for c in cut)
    old = reader._COUNT_BLOCK
    reader._COUNT_BLOCK = block  # counted across several blocks
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
            got = _counts_in_map(m, start, end)
    finally:
        reader._COUNT_BLOCK = old
    piece = data[start:end]
    assert got == ((_lines_in(piece), _records_in(piece, start == 0)) if piece else (0, 0))


def test_chunk_offsets_count_records_not_blank_lines(tmp_path) -> None:
    data = BOM + b'{"a": 1}\n\n  \n{"b": 2}\n' * 50 + b'{"c": 3}'
    path = tmp_path / "d.jsonl"
    path.write_bytes(data)
    chunks = list(iter_chunks(str(path), len(data), 64))
    assert chunks[0].start == 0 and chunks[-1].end == len(data) and len(chunks) > 10
    for c in chunks[1:]:
        before = data[: c.start]
        assert c.line_offset == before.count(b"\n")
        assert c.index_offset == sum(1 for line in before.removeprefix(BOM).split(b"\n") if line.strip())
