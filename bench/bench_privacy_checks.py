"""Benchmark of the pii and secret checks end to end (`lint`), with 1 and 2 jobs.

Runs `lint` on a chat JSONL (e.g. one written by bench/generate.py) three ways: with only
`empty-content` selected (reading and parsing: the floor), with `pii` + `secret` on one process,
and on two. Prints wall and CPU seconds and the checks' own time, and — given the generator's
manifest — recall on the planted PII and every flagged line the manifest does not list.

    python bench/bench_privacy_checks.py bench/data/chat_100000.jsonl [--manifest ...manifest.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import Counter
from pathlib import Path

from tunelint import Settings, lint


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _run(path: str, select: tuple[str, ...], jobs: int):
    wall, cpu = time.perf_counter(), _cpu()
    report = lint(path, settings=Settings(select=select, jobs=jobs, fail_on="never"))
    return report, time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data")
    parser.add_argument("--manifest", help="the generator's manifest (default: DATA with .manifest.json)")
    args = parser.parse_args()
    manifest_path = Path(args.manifest or Path(args.data).with_suffix(".manifest.json"))

    floor, floor_wall, floor_cpu = _run(args.data, ("empty-content",), 1)
    examples = floor.stats["examples"]
    print(f"{examples:,} examples; floor (read + parse + empty-content): {floor_wall:.1f} s wall, {floor_cpu:.1f} CPU s")
    report = None
    for jobs in (1, 2):
        report, wall, cpu = _run(args.data, ("pii", "secret"), jobs)
        own = sum(report.timing.get(name, 0.0) for name in ("pii", "secret"))
        print(f"pii + secret, {jobs} job{'s' if jobs > 1 else ''}: {wall:.1f} s wall, {cpu:.1f} CPU s "
              f"(checks' own time {own:.1f} s summed over processes; {wall - floor_wall:+.1f} s wall over the floor); "
              f"{len(report.findings):,} findings")
    assert report is not None
    metrics = report.scorecard.row("privacy-reviewed").metrics
    print(f"mode: {metrics['pii']['mode']}; pii by entity: {metrics['pii']['by_entity']}; "
          f"by role: {metrics['pii']['by_role']}; secrets: {metrics['secret']['by_entity']}")
    if not manifest_path.is_file():
        return
    planted = json.loads(manifest_path.read_text())["pii"]
    found = {(f.location.line, f.evidence.get("entity_type")) for f in report.findings}
    hits = Counter(p["type"] for p in planted if (p["line"], p["type"]) in found)
    total = Counter(p["type"] for p in planted)
    for kind in sorted(total):
        print(f"  {kind:15} {hits[kind]:5} / {total[kind]:<5} recall {hits[kind] / total[kind]:.3f}")
    planted_lines = {p["line"] for p in planted}
    extra = sorted({(f.location.line, f.evidence.get("entity_type")) for f in report.findings
                    if f.location.line not in planted_lines})
    print(f"flagged on lines with no planted PII: {len(extra)} {extra[:10]}")


if __name__ == "__main__":
    main()
