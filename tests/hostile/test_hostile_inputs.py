"""Broken and hostile inputs: every one ends with exit 0, 1 or 2, no traceback, bounded time,
a one-line message on exit 2, and counts that reconcile (good records in a broken file are
still checked)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = json.dumps({"messages": [{"role": "user", "content": "Where is my order?"}, {"role": "assistant", "content": "It ships today."}]})


def _cases(tmp: Path) -> list[tuple[str, Path, set[int], dict]]:
    """(name, file, allowed exit codes, expectations on the JSON report)."""
    cases = []

    def add(name, data: bytes, codes, **expect):
        p = tmp / name
        p.write_bytes(data)
        cases.append((name, p, codes, expect))

    add("empty.jsonl", b"", {1}, lines=0)
    add("bom.jsonl", b"\xef\xbb\xbf" + GOOD.encode() + b"\n", {0}, examples=1)
    add("crlf.jsonl", (GOOD + "\r\n" + GOOD + "\r\n").encode(), {0}, examples=2)
    add("bad_utf8.jsonl", GOOD.encode() + b"\n" + b'{"messages": "\xff\xfe"}\n' + GOOD.encode() + b"\n", {1}, examples=2, rejected=1, finding=("invalid-json", 2))
    add("nul.jsonl", GOOD.encode() + b"\n\x00\x00\x00\n" + GOOD.encode() + b"\n", {1}, examples=2, rejected=1, finding=("invalid-json", 2))
    add("blank_lines.jsonl", b"\n\n" + GOOD.encode() + b"\n\n\n" + GOOD.encode() + b"\n\n", {0}, examples=2)
    add("deep.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n", {1}, lines=1, rejected=1)
    add("deep_obj.jsonl", GOOD.encode() + b"\n" + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"\n", {1}, examples=1, rejected=1, finding=("invalid-json", 2))
    big = json.dumps({"messages": [{"role": "user", "content": "x" * 20_000_000}, {"role": "assistant", "content": "ok"}]})
    add("huge_line.jsonl", big.encode() + b"\n", {0, 1}, examples=1)
    wrong = [
        {"messages": [{"role": "user", "content": 12}, {"role": "assistant", "content": None}]},
        {"messages": [{"role": ["user"], "content": "x"}, {"role": "assistant", "content": {"a": 1}}]},
        {"messages": None},
        {"messages": [[1, 2], "str", 3.5, True]},
    ]
    add("wrong_types.jsonl", "\n".join(json.dumps(w) for w in wrong).encode() + b"\n", {1}, lines=4)
    add("nan.jsonl", GOOD.encode() + b'\n{"messages": [{"role": "user", "content": NaN}]}\n{"x": Infinity}\n', {1}, examples=1, rejected=2)
    add("trailing.json", ("[" + GOOD + "," + GOOD + "] garbage here").encode(), {1}, examples=2, rejected=1)
    gz = gzip.compress(("\n".join([GOOD] * 5000) + "\n").encode())
    add("truncated.jsonl.gz", gz[: len(gz) // 2], {0, 1}, some_examples=True)
    add("random.bin", os.urandom(200_000), {1}, examples=0)
    add("no_format.jsonl", b'{"foo": 1, "bar": 2}\n{"foo": 3, "bar": 4}\n', {1}, examples=0, rejected=2)
    add("unclosed_array.json", ("[" + GOOD + ",\n" + GOOD).encode(), {0, 1}, examples=1, rejected=1)
    add("scalar_lines.jsonl", b'1\n"text"\nnull\n[1,2]\n' + GOOD.encode() + b"\n", {1}, examples=1, rejected=4)
    return cases


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tunelint.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _cases(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("index", range(17))
def test_hostile_file(corpus, index, tmp_path):
    name, path, codes, expect = corpus[index]
    out = tmp_path / "r.json"
    # No test split here: test-leakage would report that as an error, which is not what this tests.
    proc = _run(["check", str(path), "--format", "json", "-o", str(out), "--no-progress", "--ignore", "test-leakage"])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-2000:]
    assert proc.returncode in codes, (name, proc.returncode, proc.stderr)
    report = json.loads(out.read_text())
    ds = report["datasets"][0]
    assert ds["examples"] + ds["rejected"] == ds["lines"], name
    for key in ("lines", "examples", "rejected"):
        if key in expect:
            assert ds[key] == expect[key], (name, key, ds)
    if expect.get("some_examples"):
        assert ds["examples"] > 0
    if "finding" in expect:
        check, line = expect["finding"]
        assert any(f["check"] == check and f["location"].get("line") == line for f in report["findings"]), report["findings"]


def test_case_count_matches(corpus):
    assert len(corpus) == 17


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_unreadable_paths_exit_2_with_one_line(tmp_path, make):
    target = tmp_path / "nope.jsonl" if make == "missing" else tmp_path
    proc = _run(["check", str(target)])
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("tunelint: error:") and str(target) in lines[0]


def _reading(pid: int, data: Path) -> bool:
    """Whether the process has the dataset open: start-up is over, the run is reading."""
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            if Path(os.readlink(fd)) == data:
                return True
        except OSError:
            continue
    return False


def test_interrupted_run_leaves_no_half_report(tmp_path):
    import signal
    import time

    data = tmp_path / "big.jsonl"
    data.write_text((GOOD + "\n") * 400_000)
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "tunelint.cli", "check", str(data), "--format", "json", "-o", str(out), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Interrupt once the run is under way (start-up on a loaded machine can take seconds; a
    # signal during Python's own start-up is not ours to handle).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if any(Path(f"/proc/{proc.pid}/fd").glob("*")) and _reading(proc.pid, data):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 130:
        assert "interrupted" in err and "Traceback" not in err
        assert not out.exists()
        assert not list(tmp_path.glob(".r.json.*"))
    else:  # finished before the signal arrived: then the report is whole
        json.loads(out.read_text())


SWALLOWED_INTERRUPT = """
import signal, sys
import tunelint.engine as engine
from tunelint.cli import run

build = engine.build_checks


class Dropped:
    def __del__(self):
        # SIGINT arrives while Python runs a __del__ (as it can while Presidio's patterns are
        # built): the KeyboardInterrupt raised here is printed as ignored and lost.
        signal.raise_signal(signal.SIGINT)


def build_checks(*args, **kwargs):
    Dropped()
    return build(*args, **kwargs)


engine.build_checks = build_checks
sys.argv = ["tunelint", "check", sys.argv[1], "--format", "json", "-o", sys.argv[2], "--no-progress", "--exit-zero"]
run()
"""


def test_interrupt_swallowed_by_a_destructor_still_ends_the_run(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text((GOOD + "\n") * 50)
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-c", SWALLOWED_INTERRUPT, str(data), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert "Exception ignored" in proc.stderr  # the interrupt really was swallowed where it landed
    assert proc.returncode == 130, proc.stderr
    assert "tunelint: interrupted" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".r.json.*"))
