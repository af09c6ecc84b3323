"""Planted defects: duplicates, near-duplicates (a few words edited), conflicts, label variants,
skewed and balanced labels — with recall and precision measured on the near-duplicates against
the true Jaccard of word 3-shingles, computed here independently of the MinHash code."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from tunelint import Settings, lint
from tunelint.clean import clean, log_path

_WORD = re.compile(r"\w+")


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def _shingles(text: str, k: int = 3) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < k:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def _jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def _edit(rng: random.Random, words: list[str], vocab: list[str], edits: int) -> list[str]:
    out = list(words)
    for pos in rng.sample(range(len(out)), edits):
        out[pos] = rng.choice(vocab)
    return out


def planted_near_duplicates(seed: int = 7, base: int = 800, pairs: int = 150):
    """`base` unrelated examples, then `pairs` copies of earlier ones with 1-6 words replaced.
    Returns the records and the true Jaccard of every planted pair (by record index)."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    records: list[dict] = []
    for _ in range(base):
        prompt = rng.sample(vocab, rng.randint(40, 90))
        answer = rng.sample(vocab, rng.randint(15, 40))
        records.append({"prompt": " ".join(prompt), "completion": " ".join(answer)})
    truth: dict[tuple[int, int], float] = {}
    for source in rng.sample(range(base), pairs):
        prompt = records[source]["prompt"].split()
        edited = {"prompt": " ".join(_edit(rng, prompt, vocab, rng.randint(1, 6))), "completion": records[source]["completion"]}
        records.append(edited)
        a = records[source]["prompt"] + "\n" + records[source]["completion"]
        b = edited["prompt"] + "\n" + edited["completion"]
        truth[(source, len(records) - 1)] = _jaccard(a, b)
    return records, truth


def _write(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def near_duplicate_scores(tmp_path: Path, options: dict, margin: float = 0.0) -> tuple[float, float, int, int]:
    """(recall, precision, positives, found) on the planted pairs. Recall counts planted pairs at
    true Jaccard >= 0.8 + margin; precision counts found pairs at true Jaccard >= 0.8 - margin
    as right (margin 0: the plain figures)."""
    records, truth = planted_near_duplicates()
    path = _write(tmp_path / "planted.jsonl", records)
    report = lint(path, settings=Settings(select=("near-duplicate",), checks={"near-duplicate": options}))
    found = {(f.evidence["representative"]["index"], f.location.index) for f in report.findings}
    positives = {pair for pair, j in truth.items() if j >= 0.8 + margin}

    def true_jaccard(pair):
        # Any found pair is judged by its true Jaccard, planted or not.
        if pair in truth:
            return truth[pair]
        a, b = (records[i]["prompt"] + "\n" + records[i]["completion"] for i in pair)
        return _jaccard(a, b)

    correct = {pair for pair in found if true_jaccard(pair) >= 0.8 - margin}
    recall = len(positives & found) / len(positives)
    precision = len(correct) / len(found) if found else 1.0
    return recall, precision, len(positives), len(found)


def test_near_duplicate_recall_and_precision_exact_verification(tmp_path):
    recall, precision, positives, found = near_duplicate_scores(tmp_path, {})
    assert positives > 50
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)


def test_near_duplicate_estimated_verification_away_from_the_threshold(tmp_path):
    # Past the exact-verification budget only the MinHash estimate (sd ~0.035 at 128 slots)
    # decides, so pairs within a few hundredths of 0.8 go either way; outside that band the
    # estimate must be as good as exact verification.
    recall, precision, positives, found = near_duplicate_scores(tmp_path, {"exact-verify-budget": 0}, margin=0.05)
    assert positives > 30
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)


def test_exact_duplicates_all_found_and_cleaned(tmp_path):
    records, _ = planted_near_duplicates(pairs=0, base=300)
    rng = random.Random(3)
    copies = rng.sample(range(300), 40)
    planted = []
    for source in copies:
        copy = dict(records[source])
        copy["prompt"] = "  " + copy["prompt"].upper() + " "
        records.append(copy)
        planted.append((source, len(records) - 1))
    path = _write(tmp_path / "train.jsonl", records)
    report = lint(path, settings=Settings(select=("exact-duplicate",)))
    found = {(f.evidence["representative"]["index"], f.location.index) for f in report.findings}
    assert found == set(planted)

    out = tmp_path / "clean.jsonl"
    result = clean(path, out)
    assert result.dropped == 40 and result.kept == 300
    original = path.read_bytes().split(b"\n")
    kept = out.read_bytes().split(b"\n")
    dropped_lines = {copy + 1 for _, copy in planted}
    assert kept == [line for i, line in enumerate(original, start=1) if i not in dropped_lines]
    log = [json.loads(line) for line in Path(log_path(out)).read_text().splitlines()]
    assert {(e["representative"]["index"], e["index"]) for e in log} == set(planted)
    assert all(e["code"] == "D001" and e["cluster"].startswith("exact-") for e in log)


def test_clean_keeps_json_array_container_and_never_touches_input(tmp_path):
    records, truth = planted_near_duplicates(base=60, pairs=10)
    records.append(dict(records[0]))
    path = tmp_path / "train.json"
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    before = path.read_bytes()
    out = tmp_path / "out.json"
    result = clean(path, out)
    assert path.read_bytes() == before
    kept = json.loads(out.read_text())
    near_found = sum(1 for j in truth.values() if j >= 0.8)
    assert result.by_check.get("exact-duplicate") == 1
    assert result.by_check.get("near-duplicate", 0) >= near_found * 0.9
    assert len(kept) == len(records) - result.dropped
    assert kept[0] == records[0]
    log = [json.loads(line) for line in Path(log_path(out)).read_text().splitlines()]
    assert all(e["representative"]["index"] < e["index"] for e in log)


def test_clean_gzip_jsonl_round_trip(tmp_path):
    import gzip

    records = [{"prompt": f"question number {i}", "completion": f"answer {i}"} for i in range(20)]
    records += [records[3], records[5]]
    path = tmp_path / "train.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    out = tmp_path / "out.jsonl.gz"
    result = clean(path, out)
    assert result.dropped == 2
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    assert [json.loads(line) for line in lines] == records[:20]


def test_planted_conflicts_and_label_defects(tmp_path):
    rng = random.Random(11)
    vocab = _vocabulary(rng, 800)
    labels = ["billing", "shipping", "returns", "account"]
    records = []
    for i in range(200):
        records.append({"prompt": " ".join(rng.sample(vocab, 12)), "completion": labels[i % 4]})
    # exact conflicts: same prompt, different label
    conflicts = []
    for source in (10, 50, 90):
        records.append({"prompt": records[source]["prompt"], "completion": labels[(source + 1) % 4]})
        conflicts.append((source + 1, len(records)))
    # label variants
    variants = {}
    for source, spelled in ((20, "Billing"), (21, "shipping "), (22, "RETURNS."), (23, "Account")):
        records[source]["completion"] = spelled
        variants[source + 1] = spelled
    path = _write(tmp_path / "train.jsonl", records)
    report = lint(path, settings=Settings(select=("conflicting-outputs", "label-variants", "label-imbalance")))
    found_conflicts = sorted(f.location.line for f in report.findings if f.check == "conflicting-outputs")
    assert found_conflicts == sorted(line for pair in conflicts for line in pair)
    found_variants = sorted(f.location.line for f in report.findings if f.check == "label-variants")
    assert found_variants == sorted(variants)
    assert not [f for f in report.findings if f.check == "label-imbalance"]

    skewed = [{"prompt": r["prompt"], "completion": "billing" if i % 25 else "returns"} for i, r in enumerate(records[:200])]
    report = lint(_write(tmp_path / "skewed.jsonl", skewed), settings=Settings(select=("label-imbalance",)))
    [finding] = report.findings
    assert "skewed" in finding.message and finding.evidence["max_min_ratio"] == 24.0


def test_clean_command_line(tmp_path):
    from click.testing import CliRunner

    from tunelint.cli import main

    records = [{"q": f"question {i}", "a": f"answer {i}"} for i in range(10)] + [{"q": "Question 4", "a": "answer 4"}]
    path = _write(tmp_path / "train.jsonl", records)
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["clean", str(path), "-o", str(out), "--fields", "q=user,a=assistant"])
    assert result.exit_code == 0, result.output
    assert "kept 10 of 11 records (1 exact-duplicate)" in result.output
    assert len(out.read_text().splitlines()) == 10
    same = CliRunner().invoke(main, ["clean", str(path), "-o", str(path)])
    assert same.exit_code == 2 and "never overwrites its input" in same.output


def test_parallel_chunks_give_the_same_findings(tmp_path):
    records, _ = planted_near_duplicates(base=400, pairs=60)
    records += [records[5], records[7]]
    records += [{"prompt": records[9]["prompt"], "completion": "a different answer entirely here"}]
    path = _write(tmp_path / "train.jsonl", records)
    selected = ("exact-duplicate", "near-duplicate", "conflicting-outputs", "label-variants",
                "label-imbalance", "system-prompt-variants", "output-format-drift", "refusal-rate")

    def run(**extra):
        report = lint(path, settings=Settings(select=selected, fail_on="never", **extra))
        return [f.to_dict() for f in report.findings], report.scorecard.to_dict()

    assert run(jobs=1) == run(jobs=2, chunk_bytes=40_000)
