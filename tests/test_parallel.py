"""Splitting a file over worker processes gives exactly the report one process gives."""

from __future__ import annotations

import json
from pathlib import Path

from tunelint import Settings, lint
from tunelint.loader.reader import plan_chunks
from tunelint.reporters.json import JsonReporter

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _dataset(tmp_path: Path) -> Path:
    rows = []
    src = (SHARED / "instruct/hh_rlhf/harmless-base_test.jsonl").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(src[:600]):
        rows.append(line)
        if i % 97 == 0:
            rows.append("")  # blank lines shift line numbers but not record indices
        if i % 131 == 0:
            rows.append('{"chosen": "\\n\\nHuman: hi", "rejected": ')  # a broken record
    p = tmp_path / "train.jsonl"
    p.write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    return p


def test_chunks_cover_the_file_on_line_boundaries(tmp_path):
    p = _dataset(tmp_path)
    chunks = plan_chunks(str(p), 50_000)
    data = p.read_bytes()
    assert chunks[0].start == 0 and chunks[-1].end == len(data) and len(chunks) > 5
    for a, b in zip(chunks, chunks[1:]):
        assert a.end == b.start and data[a.end - 1:a.end] == b"\n"
        assert b.line_offset == data[: b.start].count(b"\n")


def test_parallel_report_equals_sequential(tmp_path):
    p = _dataset(tmp_path)
    one = lint(p, settings=Settings(jobs=1, fail_on="never"))
    many = lint(p, settings=Settings(jobs=2, chunk_bytes=60_000, fail_on="never"))
    a = json.loads(JsonReporter(timing=False).render(one))
    b = json.loads(JsonReporter(timing=False).render(many))
    assert a == b
    assert a["datasets"][0]["rejected"] == 5 and a["datasets"][0]["examples"] == 600
    assert {f["check"] for f in a["findings"]} >= {"invalid-json", "exceeds-context"} or a["findings"]
    lines = [f["location"]["line"] for f in a["findings"] if f["check"] == "invalid-json"]
    text = p.read_text(encoding="utf-8").split("\n")
    assert all(text[n - 1].endswith('"rejected": ') for n in lines)


def test_a_parallel_run_leaves_the_collector_as_it_found_it(tmp_path):
    # Start-up objects are frozen out of the collector's passes while the worker pool runs;
    # a library caller gets its collector back afterwards.
    import gc

    p = _dataset(tmp_path)
    thresholds = gc.get_threshold()
    report = lint(p, settings=Settings(jobs=2, chunk_bytes=60_000, fail_on="never"))
    assert report.stats["examples"] == 600
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds
    # A caller's own frozen objects stay frozen (a pre-fork server, a training pipeline).
    keep = [[i] for i in range(1000)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen >= len(keep)
        lint(p, settings=Settings(jobs=2, chunk_bytes=60_000, fail_on="never"))
        # (A frozen object freed meanwhile leaves the count: compare loosely.)
        assert gc.get_freeze_count() > frozen - 100
    finally:
        gc.unfreeze()


def test_worker_results_pass_through_a_spool_folder_that_is_removed(tmp_path, monkeypatch):
    # Chunk states go from the workers to the main process as files in a private folder
    # (the pipe is the fallback); either way the report is the same, and no file is left.
    import tempfile

    import tunelint.executors as executors

    spools = tmp_path / "spools"
    spools.mkdir()
    made: list[str] = []

    def folder() -> str:
        made.append(tempfile.mkdtemp(prefix="tunelint-", dir=spools))
        return made[-1]

    files: list[bool] = []
    unspool = executors._unspool

    def counted(result):
        files.append(isinstance(result, str))
        return unspool(result)

    p = _dataset(tmp_path)
    monkeypatch.setattr(executors, "_unspool", counted)
    monkeypatch.setattr(executors, "_spool_folder", folder)
    spooled = lint(p, settings=Settings(jobs=2, chunk_bytes=60_000, fail_on="never"))
    assert len(made) == 1 and list(spools.iterdir()) == []
    assert len(files) > 5 and all(files)
    files.clear()
    monkeypatch.setattr(executors, "_spool_folder", lambda: None)
    piped = lint(p, settings=Settings(jobs=2, chunk_bytes=60_000, fail_on="never"))
    a = json.loads(JsonReporter(timing=False).render(spooled))
    b = json.loads(JsonReporter(timing=False).render(piped))
    assert a == b and a["datasets"][0]["examples"] == 600
    assert files and not any(files)


def test_tapered_chunks_cover_the_file_and_shrink_towards_its_end(tmp_path):
    from tunelint.loader.reader import iter_chunks

    p = _dataset(tmp_path)
    data = p.read_bytes()
    even = list(iter_chunks(str(p), len(data), 40_000))
    tapered = list(iter_chunks(str(p), len(data), 40_000, taper=2, least=2_000))
    assert len(tapered) > len(even)
    assert tapered[0].start == 0 and tapered[-1].end == len(data)
    for a, b in zip(tapered, tapered[1:]):
        assert a.end == b.start and data[a.end - 1:a.end] == b"\n"
        assert b.line_offset == data[: b.start].count(b"\n")
    sizes = [c.end - c.start for c in tapered]
    # Full-size chunks first, then each a quarter of what remains (two processes), whole lines.
    assert max(sizes[-3:]) < 20_000 and sizes[0] >= 40_000
    # (Record numbering across tapered chunks: test_parallel_report_equals_sequential, whose
    # chunks taper too.)
