"""Time `tunelint check` on one data file as a whole process and per check, beside the parse floor.

Usage: python bench/run.py bench/data/chat_100k.jsonl [--runs 3] [--select F,L] [--json out.json]

Every measured step runs as its own child process of the same Python, so each has the same
start-up cost and is measured the same way: wall seconds, CPU seconds (user + sys of the child
and the workers it waited for, from wait4) and peak resident memory (the largest of those
processes, not their sum). The floor is reading the file's lines alone, and reading plus
`orjson.loads` of every line; tunelint's wall time is reported as a multiple of the parse floor.
Per-check seconds come from the report's `stats.timing_seconds` (summed over tunelint's worker
processes when it splits the file; a dataset check's include its `finish()`). Medians over `--runs`.
Nothing here asserts a time: it measures and prints.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

READ_LINES = """
import sys
lines = 0
with open(sys.argv[1], "rb") as fh:
    for line in fh:
        lines += 1
print(lines)
"""

READ_AND_PARSE = """
import sys
import orjson
parsed = failed = 0
with open(sys.argv[1], "rb") as fh:
    for line in fh:
        if line.strip():
            try:
                orjson.loads(line)
                parsed += 1
            except orjson.JSONDecodeError:
                failed += 1
print(parsed, failed)
"""


@dataclass(frozen=True)
class Sample:
    """One child process: wall and CPU seconds, peak resident set in MB."""

    wall: float
    cpu: float
    peak_mb: float


class ChildFailed(RuntimeError):
    pass


def run_child(argv: list[str]) -> tuple[Sample, str]:
    """Run `argv` to completion; its measurements and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, not by Popen
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise ChildFailed(f"{' '.join(argv)} exited {proc.returncode}:\n{err.read().decode(errors='replace')[-2000:]}")
        # Linux reports ru_maxrss in kilobytes.
        return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024), out.read().decode()


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.cpu for s in samples),
        statistics.median(s.peak_mb for s in samples),
    )


def warm(path: Path) -> int:
    """Read the file once so every timed run sees the same (warm) page cache; returns its lines."""
    lines = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 24):
            lines += block.count(b"\n")
    return lines


def find_tunelint(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(sys.executable).with_name("tunelint")
    found = str(beside) if beside.exists() else shutil.which("tunelint")
    if not found:
        raise SystemExit("run.py: no `tunelint` executable beside this Python or on PATH; pass --tunelint")
    return found


# Run by the tunelint executable's own Python: where its package is, and byte-compile it there.
BYTE_COMPILE = """
import compileall, os, sys
import tunelint
folder = os.path.dirname(tunelint.__file__)
ok = os.access(folder, os.W_OK) and compileall.compile_dir(folder, quiet=1)
print(folder if ok else "")
"""


def python_of(tunelint: str) -> str:
    """The Python a console script runs with (its #! line), else this one."""
    try:
        with open(tunelint, "rb") as fh:
            first = fh.readline().decode("utf-8", "replace").strip()
    except OSError:
        return sys.executable
    if first.startswith("#!") and os.path.isfile(first[2:].split()[0]):
        return first[2:].split()[0]
    return sys.executable


def byte_compile(tunelint: str) -> str:
    """Byte-compile the measured tunelint's package, as `pip install` does; the folder, or "" when
    it could not be written. An editable checkout under PYTHONDONTWRITEBYTECODE=1 (set on some
    machines) otherwise compiles every module from source on each run: ~0.4 s of start-up that an
    installed tunelint does not pay."""
    try:
        return run_child([python_of(tunelint), "-c", BYTE_COMPILE])[1].strip()
    except ChildFailed:
        return ""


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")), "")
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def bench(path: Path, runs: int, select: list[str], jobs: int | None, tunelint: str) -> dict[str, Any]:
    started, load_at_start = dt.datetime.now(), load_average()
    compiled = byte_compile(tunelint)
    lines = warm(path)
    floor: dict[str, list[Sample]] = {"read lines": [], "read + orjson.loads": []}
    lint: list[Sample] = []
    timings: list[dict[str, float]] = []
    report: dict[str, Any] = {}
    selection = [arg for s in select for arg in ("--select", s)] + (["--jobs", str(jobs)] if jobs else [])
    with tempfile.TemporaryDirectory(prefix="tunelint-bench-") as tmp:
        out = str(Path(tmp) / "report.json")
        command = [tunelint, "check", str(path), "--format", "json", "-o", out, "--exit-zero", "--no-progress", *selection]
        for _ in range(runs):
            # Interleaved, so a busy spell on a shared machine does not land on one step only.
            floor["read lines"].append(run_child([sys.executable, "-c", READ_LINES, str(path)])[0])
            floor["read + orjson.loads"].append(run_child([sys.executable, "-c", READ_AND_PARSE, str(path)])[0])
            lint.append(run_child(command)[0])
            report = json.loads(Path(out).read_bytes())
            timings.append(report["stats"].get("timing_seconds", {}))
    keys = sorted({k for t in timings for k in t})
    per_check = {k: statistics.median(t.get(k, 0.0) for t in timings) for k in keys}
    floor_median = {name: median(samples) for name, samples in floor.items()}
    lint_median = median(lint)
    parse = floor_median["read + orjson.loads"]
    return {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average": {"start": load_at_start, "end": load_average()},
        "data": {"path": str(path), "lines": lines, "mb": round(path.stat().st_size / 1e6, 1)},
        "command": command[:5] + command[7:],  # without the temporary -o path
        "runs": runs,
        "byte_compiled": compiled,
        "tunelint_version": report.get("tool", {}).get("version"),
        "floor": {name: asdict(s) for name, s in floor_median.items()},
        "tunelint": asdict(lint_median)
        | {
            "ratio_wall_to_parse_floor": round(lint_median.wall / parse.wall, 2),
            "ratio_cpu_to_parse_floor": round(lint_median.cpu / parse.cpu, 2),
            "per_run": [asdict(s) for s in lint],
        },
        "timing_seconds": per_check,
        "checks_run": report.get("stats", {}).get("checks_run", []),
        "examples": report.get("stats", {}).get("examples"),
        "findings_by_check": report.get("stats", {}).get("findings_by_check", {}),
        "parallelism": report.get("stats", {}).get("parallelism"),
    }


def render(result: dict[str, Any]) -> str:
    data, m = result["data"], result["machine"]
    rows = list(result["floor"].items()) + [("tunelint check", result["tunelint"])]
    parse = result["floor"]["read + orjson.loads"]
    out = [
        f"{Path(data['path']).name}: {data['lines']:,} lines, {data['mb']:,} MB · {m['cpus']} CPUs · "
        f"load average {result['load_average']['start']} at start, {result['load_average']['end']} at end · "
        f"median of {result['runs']} run(s)",
        f"tunelint byte-compiled in {result['byte_compiled']}" if result.get("byte_compiled")
        else "tunelint's package could not be byte-compiled: its start-up includes compiling it",
        "",
        f"{'step':<22}{'wall s':>9}{'CPU s':>9}{'peak MB':>10}   {'× parse floor (wall, CPU)':>26}",
    ]
    for name, s in rows:
        ratio = f"{s['wall'] / parse['wall']:.1f}×, {s['cpu'] / parse['cpu']:.1f}×"
        out.append(f"{name:<22}{s['wall']:>9.2f}{s['cpu']:>9.2f}{s['peak_mb']:>10.0f}   {ratio:>26}")
    timing = dict(result["timing_seconds"])
    total = timing.pop("total", None)
    loop = timing.pop("load_and_record_checks", None)
    phases = {k.split(":", 1)[1]: timing.pop(k) for k in sorted(timing) if k.startswith("wall:")}
    if total is not None:
        out += ["", "inside tunelint (stats.timing_seconds, median):"]
        out.append(f"  {'lint() total, main process':<40}{total:>8.2f}")
        for name in ("set-up", "read", "finish"):
            if name in phases:
                out.append(f"    {'wall: ' + name:<38}{phases[name]:>8.2f}   {_PHASES[name]}")
        if loop is not None:
            out.append(f"  {'read + per-record loop':<40}{loop:>8.2f}   summed over worker processes")
        for name, seconds in sorted(timing.items(), key=lambda kv: -kv[1]):
            out.append(f"    {name:<38}{seconds:>8.2f}")
        out.append(f"  {'outside lint() (wall - total)':<40}{result['tunelint']['wall'] - total:>8.2f}   start-up, imports, report")
        if result.get("parallelism"):
            out.append(f"  parallelism: {result['parallelism']}")
    if result["findings_by_check"]:
        found = ", ".join(f"{k} {v:,}" for k, v in result["findings_by_check"].items())
        out += ["", f"findings: {found}"]
    return "\n".join(out)


_PHASES = {
    "set-up": "until the checks are built (imports, Presidio's recognizers)",
    "read": "reading and the per-record checks (the worker processes)",
    "finish": "the dataset checks' finish (main process, threads)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a JSONL file, e.g. from bench/generate.py")
    parser.add_argument("--runs", type=int, default=1, help="repeat each measurement N times and take the median")
    parser.add_argument("--select", action="append", default=[], help="passed to `tunelint check --select` (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--jobs", type=int, help="passed to `tunelint check --jobs` (default: tunelint's own)")
    parser.add_argument("--tunelint", help="the tunelint executable (default: beside this Python, else on PATH)")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        parser.error(f"{args.data}: no such file (generate one with bench/generate.py)")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        result = bench(args.data, args.runs, args.select, args.jobs, find_tunelint(args.tunelint))
    except ChildFailed as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 1
    print(render(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
