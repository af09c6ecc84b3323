"""The engine seam without a cluster: inputs (globs, URLs), chunk planning, engine selection."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings as hsettings, strategies as st

from tunelint import ConfigError, Settings, lint
from tunelint.cli import main
from tunelint.loader.reader import (
    BOM,
    InputError,
    ReadStats,
    chunks_from_scans,
    expand_inputs,
    plan_chunks,
    read_chunk,
    read_records,
    scan_range,
)
from tunelint.reporters.json import JsonReporter


def _chat(i: int, answer: str | None = None) -> str:
    return json.dumps({"messages": [{"role": "user", "content": f"question number {i}?"},
                                    {"role": "assistant", "content": answer if answer is not None else f"answer {i}."}]})


def _report(report) -> dict:
    return json.loads(JsonReporter(timing=False).render(report))


_LINE = st.sampled_from([b"", b"  \r", BOM, b'{"a": 1}', b'{"b": "xx\\u00e9"}', b"{broken", b'{"c": "' + b"y" * 300 + b'"}'])


@hsettings(max_examples=60, deadline=None)
@given(lines=st.lists(_LINE, max_size=40), bom=st.booleans(), newline_at_end=st.booleans(),
       width=st.integers(1, 400), block=st.sampled_from([2, 16, 1 << 22]))
def test_range_scans_number_records_as_a_whole_file_read(tmp_path_factory, lines, bom, newline_at_end, width, block):
    data = (BOM if bom else b"") + b"\n".join(lines) + (b"\n" if newline_at_end else b"")
    p = tmp_path_factory.mktemp("scan") / "t.jsonl"
    p.write_bytes(data)
    whole = [(r.index, r.line, r.raw) for r in read_records(str(p))]
    scans = [scan_range(str(p), lo, min(len(data), lo + width), block) for lo in range(0, len(data), width)]
    chunks = chunks_from_scans(scans)
    assert [(r.index, r.line, r.raw) for c in chunks for r in read_chunk(str(p), c, ReadStats())] == whole
    planned = plan_chunks(str(p), width) or []
    assert [(r.index, r.line, r.raw) for c in planned for r in read_chunk(str(p), c, ReadStats())] == (whole if planned else [])


def test_chunks_are_cut_small_enough_to_keep_every_process_busy():
    from tunelint.executors import CHUNKS_PER_JOB, MIN_CHUNK_BYTES, chunk_target

    # 115 MB on two processes: 8 chunks each rather than four of the 32 MB default.
    assert chunk_target(115 << 20, 32 << 20, 2) == -(-(115 << 20) // (2 * CHUNKS_PER_JOB))
    assert chunk_target(2 << 30, 32 << 20, 2) == 32 << 20  # never above the setting
    assert chunk_target(10 << 20, 32 << 20, 2) == MIN_CHUNK_BYTES  # nor below the floor
    assert chunk_target(10 << 20, 50_000, 2) == 50_000  # an explicit small setting wins


def test_a_bom_only_line_inside_the_file_keeps_record_indices(tmp_path):
    # A lone BOM mid-file is a record the readers reject; the planner used to skip it, so every
    # later chunk started one index too low.
    p = tmp_path / "t.jsonl"
    p.write_bytes(b"\n".join([_chat(0).encode(), BOM, *[_chat(i).encode() for i in range(1, 40)]]) + b"\n")
    one = _report(lint(p, settings=Settings(jobs=1, fail_on="never")))
    many = _report(lint(p, settings=Settings(jobs=2, chunk_bytes=1024, fail_on="never")))
    assert one == many and one["datasets"][0]["rejected"] == 1


def test_a_json_array_is_not_split_by_lines(tmp_path):
    p = tmp_path / "data.json"
    p.write_text("[\n" + ",\n".join(_chat(i) for i in range(400)) + "\n]\n", encoding="utf-8")
    assert plan_chunks(str(p), 1024) is None
    report = lint(p, settings=Settings(jobs=2, chunk_bytes=1024, fail_on="never"))
    assert report.datasets[0].examples == 400 and report.datasets[0].rejected == 0


def test_a_glob_reads_every_matching_file_in_name_order(tmp_path):
    for name, n in (("b.jsonl", 3), ("a.jsonl", 2)):
        (tmp_path / name).write_text("\n".join(_chat(i, "" if i == 1 else None) for i in range(n)) + "\n", encoding="utf-8")
    report = lint(str(tmp_path / "*.jsonl"), settings=Settings(fail_on="never"))
    assert [(d.path, d.examples) for d in report.datasets] == [(str(tmp_path / "a.jsonl"), 2), (str(tmp_path / "b.jsonl"), 3)]
    # The empty answer of line 2 is found in each file, and each finding keeps its file.
    empty = sorted((Path(f.location.path).name, f.location.line) for f in report.findings if f.check == "empty-content")
    assert empty == [("a.jsonl", 2), ("b.jsonl", 2)]


def test_a_pattern_that_matches_nothing_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.jsonl")])
    result = CliRunner().invoke(main, ["check", str(tmp_path / "nothing-*.jsonl")])
    assert result.exit_code == 2 and "no file matches this pattern" in result.output


def test_a_file_url_reads_like_the_path(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(_chat(i, "" if i % 7 == 3 else None) for i in range(50)) + "\n", encoding="utf-8")
    by_path = lint(p, settings=Settings(fail_on="never"))
    by_url = lint(p.as_uri(), settings=Settings(fail_on="never"))
    assert [(f.check, f.location.line) for f in by_url.findings] == [(f.check, f.location.line) for f in by_path.findings]
    assert by_url.findings[0].location.path == p.as_uri() and sum(f.check == "empty-content" for f in by_url.findings) == 7


def test_scheduler_without_the_dask_engine_is_a_config_error(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(_chat(0) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="engine is local"):
        lint(p, settings=Settings(scheduler="tcp://127.0.0.1:1"))


def test_the_dask_engine_without_dask_says_how_to_install_it(tmp_path, monkeypatch):
    p = tmp_path / "t.jsonl"
    p.write_text(_chat(0) + "\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'tunelint\[dask\]'"):
        lint(p, engine="dask")
    runner = CliRunner()
    result = runner.invoke(main, ["check", str(p), "--engine", "dask"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["tunelint: error: --engine dask needs Dask: pip install 'tunelint[dask]'"]


def test_engine_is_a_config_key(tmp_path):
    (tmp_path / "tunelint.toml").write_text('engine = "dask"\nscheduler = "tcp://10.0.0.5:8786"\n', encoding="utf-8")
    from tunelint.config import load_settings

    s = load_settings(tmp_path / "tunelint.toml")
    assert (s.engine, s.scheduler) == ("dask", "tcp://10.0.0.5:8786")
    (tmp_path / "bad.toml").write_text('engine = "spark"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="engine"):
        load_settings(tmp_path / "bad.toml")
