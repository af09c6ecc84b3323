"""Snapshot / compare the findings of the content-family checks (C, T, B002, M, F006) on the
bench files and real datasets, and time each check (CPU seconds, one process).

    python bench/content_snapshot.py save DIR      # write one JSON report per input (no timing)
    python bench/content_snapshot.py compare DIR   # re-run and assert byte-identical reports
    python bench/content_snapshot.py time FILE     # per-check CPU seconds on FILE (jobs=1)

Reports are rendered with JsonReporter(timing=False) so they are comparable across runs.
TUNELINT_SNAPSHOT_SELECT="D,K001,P" (codes or names, comma-separated) snapshots other checks.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tunelint import Settings, lint
from tunelint.deployment import read_spec_file
from tunelint.reporters.json import JsonReporter

SELECT = tuple(os.environ.get("TUNELINT_SNAPSHOT_SELECT", "C,T,B002,M,F006").split(","))
BENCH = Path("/work/main/bench/data")
SHARED = Path("/work/shared/datasets")
ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_datasets"


def cases() -> list[tuple[str, dict]]:
    out = [
        ("chat_10k", dict(train=BENCH / "chat_10k.jsonl")),
        ("chat_100k", dict(train=BENCH / "chat_100k.jsonl")),
        ("alpaca_cleaned_1000", dict(train=SHARED / "instruct/fastchat/alpaca_data_cleaned_1000.json")),
        ("hh_harmless_test", dict(train=SHARED / "instruct/hh_rlhf/harmless-base_test.jsonl")),
        ("gsm8k_train", dict(train=SHARED / "leakage/gsm8k/train.jsonl", fields={"question": "user", "answer": "assistant"})),
        ("math401", dict(train=SHARED / "known_defects/math401/math401.jsonl", fields={"query": "user", "response": "assistant"})),
        ("cookbook_toy", dict(train=SHARED / "instruct/openai_cookbook/toy_chat_fine_tuning.jsonl")),
        ("support_tickets", dict(train=SAMPLES / "support_tickets/train.jsonl", test=SAMPLES / "support_tickets/test.jsonl",
                                 deployment=str(SAMPLES / "support_tickets/deployment.toml"))),
        ("support_tickets_nospec", dict(train=SAMPLES / "support_tickets/train.jsonl")),
        ("agent_chat", dict(train=SAMPLES / "agent_chat/train.jsonl", deployment=str(SAMPLES / "agent_chat/deployment.toml"))),
        ("agent_chat_nospec", dict(train=SAMPLES / "agent_chat/train.jsonl")),
        ("chat_10k_openai", dict(train=BENCH / "chat_10k.jsonl", checks={"provider-format": {"target": "openai"}})),
    ]
    return out


def run(spec: dict):
    spec = dict(spec)
    train = spec.pop("train")
    test = spec.pop("test", None)
    if "deployment" in spec:
        spec["deployment"] = read_spec_file(spec["deployment"])
    settings = Settings(select=SELECT, jobs=1, **spec)
    return lint(str(train), test=str(test) if test else None, settings=settings)


def cpu_per_check(path: str, rounds: int, names: list[str]) -> None:
    """Load the examples once, then run each check alone over all of them: CPU seconds per check
    (a check that fills a shared per-example cache pays for it here, so the sum is honest)."""
    from tunelint.checks.base import CheckContext, DatasetCheck
    from tunelint.engine import build_checks
    from tunelint.loader import Loader
    from tunelint.models import Example
    from tunelint.registry import load_checks, load_formats

    settings = Settings(select=SELECT, jobs=1)
    t = time.process_time()
    examples = [e for e in Loader(path, "train", load_formats(), None, None) if isinstance(e, Example)]
    print(f"{len(examples):,} examples loaded in {time.process_time() - t:.2f} CPU s")
    registry = load_checks(settings.plugins, settings.base_dir)
    context = CheckContext(splits={"train": (path,), "test": (), "reference": ()}, settings=settings)
    totals: dict[str, list[float]] = {}
    for _ in range(rounds):
        for check in build_checks(registry, settings, context):
            if names and check.name not in names:
                continue
            fresh = build_checks(registry, settings.replace(select=(check.name,)), context)[0]
            _clear_caches()
            t = time.process_time()
            if isinstance(fresh, DatasetCheck):
                for e in examples:
                    fresh.observe(e)
                list(fresh.finish())
            else:
                for e in examples:
                    for _f in fresh.check(e):
                        pass
            totals.setdefault(check.name, []).append(time.process_time() - t)
    for name, values in sorted(totals.items(), key=lambda kv: -min(kv[1])):
        print(f"  {name:28s} " + " ".join(f"{v:7.3f}" for v in values))
    print(f"  {'sum (min per check)':28s} {sum(min(v) for v in totals.values()):7.3f}")
    together = []
    for _ in range(rounds):
        checks = [c for c in build_checks(registry, settings, context) if not names or c.name in names]
        _clear_caches()
        t = time.process_time()
        for e in examples:
            for c in checks:
                if isinstance(c, DatasetCheck):
                    c.observe(e)
                else:
                    for _f in c.check(e):
                        pass
        for c in checks:
            if isinstance(c, DatasetCheck):
                list(c.finish())
        together.append(time.process_time() - t)
    print(f"  {'all together':28s} " + " ".join(f"{v:7.3f}" for v in together) + ("  (the named checks)" if names else ""))


def _clear_caches() -> None:
    """Empty per-process per-example caches so each check is timed from cold."""
    try:
        from tunelint import textscan
    except ImportError:
        return
    textscan.clear()


def _canonical(text: str) -> str:
    import json

    return json.dumps(json.loads(text), sort_keys=True)


def main() -> None:
    mode, target = sys.argv[1], sys.argv[2]
    if mode == "time":
        # A default run loads Arrow's compute module and builds Arrow arrays anyway (pii's
        # prefilter): do both here so that the first check to use Arrow is not charged for the
        # import and the first array's set-up (~0.3 + ~0.3 CPU s, once per process).
        import pyarrow
        import pyarrow.compute  # noqa: F401

        pyarrow.array(["x"], type=pyarrow.large_string())

        rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        for _ in range(rounds):
            t = time.process_time()
            report = run(dict(train=target))
            cpu = time.process_time() - t
            rows = sorted(((v, k) for k, v in report.timing.items() if k != "total"), reverse=True)
            print(f"process CPU {cpu:.2f}s  wall total {report.timing['total']:.2f}s")
            for v, k in rows:
                print(f"  {k:28s} {v:7.3f}")
        return
    if mode == "cpu":
        cpu_per_check(target, int(sys.argv[3]) if len(sys.argv) > 3 else 1, sys.argv[4:])
        return
    only = set(sys.argv[3:])
    folder = Path(target)
    folder.mkdir(parents=True, exist_ok=True)
    bad = []
    for name, spec in cases():
        if only and name not in only:
            continue
        t = time.perf_counter()
        text = JsonReporter(timing=False).render(run(spec))
        path = folder / f"{name}.json"
        if mode == "save":
            path.write_text(text)
            status = "saved"
        else:
            saved = path.read_text()
            status = "same" if saved == text else "DIFFERENT"
            if status != "same" and _canonical(saved) == _canonical(text):
                status = "same up to the order of keys"
            if status == "DIFFERENT":
                bad.append(name)
                (folder / f"{name}.new.json").write_text(text)
        print(f"{name:24s} {status}  {time.perf_counter() - t:.1f}s", flush=True)
    if bad:
        sys.exit(f"different: {', '.join(bad)}")


if __name__ == "__main__":
    main()
