"""A long fuzzing run over the loader and the checks (not part of the test suite).

    python tests/fuzz/fuzz_loader.py --seconds 600

Generates JSONL files from the same strategies as tests/hostile/test_properties.py plus raw
byte mutations of real records, runs the loader and every check on them, and stops at the
first crash or reconciliation failure, printing the input that caused it. docs/reliability.md
records how long it ran and what it found.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hostile"))
from test_properties import record  # noqa: E402

from tunelint import Settings, lint  # noqa: E402
from tunelint.loader import INTERNAL_ERROR, InputError, Loader  # noqa: E402
from tunelint.registry import load_formats  # noqa: E402

FORMATS = load_formats()
SEEDS = [
    b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}',
    b'{"prompt": "p", "completion": "c"}',
    b'{"instruction": "i", "input": "", "output": "o"}',
    b'{"conversations": [{"from": "human", "value": "h"}, {"from": "gpt", "value": "g"}]}',
    b'{"chosen": "\\n\\nHuman: q\\n\\nAssistant: a", "rejected": "\\n\\nHuman: q\\n\\nAssistant: b"}',
    b'{"contents": [{"role": "user", "parts": [{"text": "q"}]}, {"role": "model", "parts": [{"text": "a"}]}]}',
    b'{"system": "s", "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}]}',
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(4)
        pos = rng.randrange(len(b) + 1)
        if op == 0 and b:
            del b[min(pos, len(b) - 1)]
        elif op == 1:
            b.insert(pos, rng.randrange(256))
        elif op == 2 and b:
            b[min(pos, len(b) - 1)] = rng.choice(b'{}[]":,\\\n\x00\xff0aE-')
        else:
            b[pos:pos] = rng.choice(SEEDS)
    return bytes(b)


def run_one(path: Path) -> None:
    loader = Loader(str(path), "train", FORMATS)
    try:
        items = list(loader)
    except InputError:
        return
    info = loader.info
    assert info.examples + info.rejected == info.lines, info
    for item in items:
        assert INTERNAL_ERROR not in getattr(item, "message", ""), item
    lint(path, settings=Settings(fail_on="never", jobs=1))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    deadline = time.monotonic() + args.seconds
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp())
    n = 0
    # Half the time: byte mutations of real records.
    while time.monotonic() < deadline:
        lines = [mutate(rng, rng.choice(SEEDS)) for _ in range(rng.randint(1, 8))]
        p = tmp / ("m.jsonl" if rng.random() < 0.7 else "m.json")
        p.write_bytes(b"\n".join(lines))
        try:
            run_one(p)
        except Exception:
            print("CRASH on input:", p.read_bytes()[:2000])
            raise
        n += 1
        if n % 500 == 0 and time.monotonic() > deadline - args.seconds / 2:
            break
    mutated = n

    structured_runs = 0

    @settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(record, min_size=1, max_size=6))
    def structured(records):
        nonlocal structured_runs
        p = tmp / "h.jsonl"
        p.write_text("\n".join(json.dumps(r) for r in records) + "\n")
        run_one(p)
        structured_runs += 1

    while time.monotonic() < deadline:
        structured()  # a failure raises with hypothesis's shrunk example
    print(f"fuzzed for {args.seconds:.0f} s: {mutated} mutated files and {structured_runs} generated files; no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
