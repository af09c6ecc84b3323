"""`--engine dask` gives exactly the report of `--engine local`, on a real LocalCluster.

One cluster (2 worker processes, loopback only) serves the whole module; the runs connect to
it with `scheduler=`, so the module pays the cluster start once. `test_engine_dask_starts_and_stops_its_own_cluster`
covers the path without a scheduler.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="the Dask engine needs the extra: pip install 'tunelint[dask]'")

from tunelint import Settings, lint  # noqa: E402
from tunelint.executors import DaskExecutor  # noqa: E402
from tunelint.loader.reader import plan_chunks  # noqa: E402
from tunelint.reporters.json import JsonReporter  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
GSM8K = SHARED / "leakage" / "gsm8k"
FIELDS = {"question": "user", "answer": "assistant"}


@pytest.fixture(scope="module")
def scheduler():
    cluster, client = DaskExecutor._local_cluster(distributed, 2)
    try:
        yield cluster.scheduler_address, client
    finally:
        client.close()
        cluster.close()


def _json(report) -> dict:
    return json.loads(JsonReporter(timing=False).render(report))


def _both(train, scheduler_address: str, *, local_jobs: int = 1, **kw):
    settings = kw.pop("settings")
    local = lint(train, settings=settings.replace(jobs=local_jobs), **kw)
    calls: list[tuple[str, str, int]] = []
    dask = lint(train, settings=settings, engine="dask", scheduler=scheduler_address,
                progress=lambda s, p, n: calls.append((s, p, n)), **kw)
    local_json, dask_json = _json(local), _json(dask)
    # How the work was spread may differ between engines (a fold-only check reads in one Dask
    # task); the report itself must not. The note stays on the Dask side for the tests to read.
    local_json["stats"].pop("parallelism", None)
    note = dask_json["stats"].pop("parallelism", None)
    dask_json["stats"]["parallelism_note"] = note
    local_json["stats"]["parallelism_note"] = note
    return local_json, dask_json, calls


def _chat(i: int) -> dict:
    return {"messages": [{"role": "system", "content": "You are a careful tutor."},
                         {"role": "user", "content": f"Explain step {i} of long division with an example."},
                         {"role": "assistant", "content": f"Step {i}: divide, multiply, subtract, bring down. " * 3}]}


def _planted(folder: Path) -> list[Path]:
    """Two training files with defects at known lines, blank lines and a BOM."""
    paths = []
    for part in (1, 2):
        rows: list[str] = []
        for i in range(700):
            rec = _chat(i + 1000 * part)
            if i % 53 == 5:
                rec["messages"][2]["content"] = ""  # empty-content
            if i % 71 == 9:
                rec["messages"] = rec["messages"][:2]  # missing-assistant-turn
            if i % 89 == 13:
                rec["messages"][1]["content"] = "word " * 6_000  # exceeds-context
            rows.append(json.dumps(rec))
            if i % 97 == 0:
                rows.append("")
            if i % 113 == 7:
                rows.append('{"messages": [{"role": "user", "content": "cut')  # invalid-json
            if i % 127 == 11:
                rows.append('{"messages": "not a list"}')  # schema-violation
        p = folder / f"train_{part}.jsonl"
        p.write_text(("\ufeff" if part == 1 else "") + "\n".join(rows) + "\n", encoding="utf-8")
        paths.append(p)
    return paths


def test_worker_env_of_the_local_cluster(scheduler):
    _, client = scheduler
    env = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")))
    assert len(env) == 2
    assert all(trim in (None, os.environ.get("MALLOC_TRIM_THRESHOLD_")) and omp == "1" for trim, omp in env.values())
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in env)


def test_planted_defects_same_findings_in_the_same_order(scheduler, tmp_path):
    train = _planted(tmp_path)
    settings = Settings(fail_on="never", chunk_bytes=16 << 10, ignore=("test-leakage",))
    local, dask, calls = _both([str(tmp_path / "train_*.jsonl")], scheduler[0], settings=settings)
    assert local == dask
    by_check = {c: n for c, n in local["stats"]["findings_by_check"].items()}
    assert {"empty-content", "missing-assistant-turn", "exceeds-context", "invalid-json", "schema-violation"} <= set(by_check)
    # Each finding keeps its file, and lines point at the planted records.
    files = {Path(f["location"]["path"]).name for f in dask["findings"]}
    assert files == {"train_1.jsonl", "train_2.jsonl"}
    text = train[1].read_text(encoding="utf-8").split("\n")
    for f in dask["findings"]:
        if f["check"] == "invalid-json" and f["location"]["path"].endswith("train_2.jsonl"):
            assert text[f["location"]["line"] - 1].endswith('"cut')
    # Really split: one progress call per chunk task, many per file.
    assert len(calls) >= len(plan_chunks(str(train[0]), 16 << 10)) > 10


def test_planted_defects_with_test_and_reference_splits(scheduler, tmp_path):
    train = _planted(tmp_path)
    test = tmp_path / "test.jsonl"
    test.write_text("\n".join(json.dumps(_chat(i)) for i in range(5000, 5200)) + "\n", encoding="utf-8")
    settings = Settings(fail_on="never", chunk_bytes=16 << 10)
    # With a test split, test-leakage is shuffled (grouped on input, opening, band and n-gram
    # keys across the chunks of both splits); the other checks merge in a tree.
    local, dask, _ = _both([str(p) for p in train], scheduler[0], local_jobs=2, settings=settings,
                           test=str(test), reference=str(test))
    assert local == dask
    assert dask["stats"]["parallelism_note"] is None
    # Without it the splits are read as chunk tasks and merged across splits.
    local, dask, _ = _both([str(p) for p in train], scheduler[0], settings=settings.replace(ignore=("test-leakage",)),
                           test=str(test), reference=str(test))
    assert local == dask and dask["stats"]["parallelism_note"] is None
    assert [d["split"] for d in dask["datasets"]] == ["train", "train", "test", "reference"]


def test_gsm8k_many_chunks(scheduler):
    settings = Settings(fail_on="never", fields=FIELDS, chunk_bytes=48 << 10, ignore=("test-leakage",))
    train = str(GSM8K / "train.jsonl")
    local, dask, calls = _both(train, scheduler[0], settings=settings)
    assert local == dask
    assert dask["datasets"][0]["examples"] == 7473 and len(calls) > 50


def test_gsm8k_leakage_against_its_test_split(scheduler):
    # Both splits cut in chunks: test-leakage's rows from the test chunks and the training chunks
    # meet in the shuffle's partitions; n-gram and near leaks must all survive that.
    settings = Settings(fail_on="never", fields=FIELDS, chunk_bytes=96 << 10)
    local, dask, calls = _both(str(GSM8K / "train.jsonl"), scheduler[0], local_jobs=2, settings=settings,
                               test=str(GSM8K / "test.jsonl"))
    assert local == dask and dask["stats"]["parallelism_note"] is None
    assert len({p for s, p, _ in calls if s == "test"}) == 1 and len(calls) > 30
    leaks = [(f["check"], f["location"]["line"]) for f in dask["findings"] if f["check"] == "test-leakage"]
    assert leaks == [("test-leakage", 582), ("test-leakage", 603), ("test-leakage", 633)]
    # The keyed path was taken: the client's instance got the shuffle's results, no test index.
    splits = {"train": (str(GSM8K / "train.jsonl"),), "test": (str(GSM8K / "test.jsonl"),), "reference": ()}
    check = _read_on_dask(scheduler[0], settings.replace(select=("test-leakage",)), splits).by_name["test-leakage"]
    assert check._keyed is not None and not check._tests and not hasattr(check, "_grams")
    assert sum(f["tests"] for f in check._keyed[0]) == 1319 and sum(f["train"] for f in check._keyed[0]) == 7473


def test_engine_dask_starts_and_stops_its_own_cluster(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(json.dumps(_chat(i)) for i in range(300)) + "\n", encoding="utf-8")
    settings = Settings(fail_on="never", chunk_bytes=4 << 10, jobs=2)
    before = dict(os.environ)
    report = lint(p, settings=settings, engine="dask")
    # The nanny writes its pre-spawn environment into this process; the executor puts it back.
    assert dict(os.environ) == before
    assert _json(report) == _json(lint(p, settings=settings))


def test_worker_memory_limits_the_cluster_tunelint_starts(tmp_path):
    config = tmp_path / "tunelint.toml"
    config.write_text('engine = "dask"\njobs = 1\nworker-memory = "768MiB"\n', encoding="utf-8")
    from tunelint.config import load_settings

    settings = load_settings(config)
    with DaskExecutor(settings) as executor:
        workers = executor.client.scheduler_info()["workers"].values()
        assert [w["memory_limit"] for w in workers] == [768 << 20]
    # A running cluster keeps its operator's limits: asking for one there is a config error.
    from tunelint.config import ConfigError

    with pytest.raises(ConfigError, match="worker-memory"):
        DaskExecutor(settings.replace(scheduler="tcp://127.0.0.1:1"))


def _cli_json(args, stdin=None) -> dict:
    from click.testing import CliRunner

    from tunelint.cli import main

    result = CliRunner().invoke(main, ["check", *args, "--format", "json", "--fail-on", "never", "--no-progress"], input=stdin)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    data["stats"].pop("timing_seconds", None)
    return data


def test_cli_scheduler_and_stdin(scheduler, tmp_path):
    train = _planted(tmp_path)
    config = tmp_path / "tunelint.toml"
    config.write_text("chunk-bytes = 16384\njobs = 2\n", encoding="utf-8")
    args = ["--select", "invalid-json,empty-content,exceeds-context", "--config", str(config)]
    assert _cli_json([str(train[0]), *args, "--scheduler", scheduler[0]]) == _cli_json([str(train[0]), *args])
    # stdin is read by the client and handed to the cluster with the chunk results of the other file.
    stdin = train[1].read_bytes()
    via_dask = _cli_json(["-", str(train[0]), *args, "--engine", "dask", "--scheduler", scheduler[0]], stdin=stdin)
    assert via_dask == _cli_json(["-", str(train[0]), *args], stdin=stdin)
    assert {d["path"] for d in via_dask["datasets"]} == {"-", str(train[0])}


# -- keyed shuffle: near-duplicates found by grouping LSH band keys, not by merging signatures --

T0 = SHARED / "classification" / "t0_train_50k"


def _near_records(seed: int) -> list[dict]:
    """Chats with planted near-copies (a few words edited), exact copies, a templated crowd of
    near-identical prompts (a band run longer than the 64 LSH pairs are listed for), a copy
    under another system prompt and short texts."""
    import random

    rng = random.Random(seed)
    vocab = [f"w{n}" for n in range(3000)]

    def chat(user: list[str], answer: str, system: str = "You are terse.") -> dict:
        return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": " ".join(user)},
                             {"role": "assistant", "content": answer}]}

    rows: list[dict] = []
    for i in range(500):
        words = rng.sample(vocab, rng.randint(30, 60))
        rows.append(chat(words, f"answer {i}"))
        if i % 9 == 3:  # near copy: two words replaced
            edited = list(words)
            for k in rng.sample(range(len(edited)), 2):
                edited[k] = rng.choice(vocab)
            rows.append(chat(edited, f"answer {i}"))
        if i % 17 == 5:
            rows.append(dict(rows[-1]))  # exact copy
        if i % 41 == 7:
            rows.append(chat(words, f"answer {i}", system="You are verbose."))  # other system prompt
        if i % 5 == 0:
            rows.append(chat(["short", "text", str(i % 3)], "ok"))  # under min-words
    template = rng.sample(vocab, 50)
    for j in range(90):  # one crowd: every member in one cluster
        words = list(template)
        words[j % 50] = f"slot{j}"
        rows.append(chat(words, "same"))
    rng.shuffle(rows)
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _read_on_dask(scheduler_address: str, settings: Settings, splits: dict):
    """The client's run after a Dask read (before `finish`)."""
    from tunelint.checks.base import CheckContext
    from tunelint.engine import _Run, build_checks
    from tunelint.registry import load_checks

    settings = settings.replace(engine="dask", scheduler=scheduler_address)
    run = _Run(build_checks(load_checks(), settings, CheckContext(splits=splits, settings=settings)))
    with DaskExecutor(settings) as executor:
        executor.read(run, splits)
    return run


def _keyed_state_left_on_workers(scheduler_address: str, settings: Settings, splits: dict) -> int:
    """Signatures the client's near-duplicate state holds after a Dask read (0: they stayed on the workers)."""
    check = _read_on_dask(scheduler_address, settings, splits).by_name["near-duplicate"]
    assert check._keyed is not None
    return len(check._signatures.finish()[0])


@pytest.mark.parametrize("budget", [20_000_000, 0])  # exact verification, and the estimate
def test_near_duplicates_through_the_shuffle_planted(scheduler, tmp_path, budget):
    a = _write_jsonl(tmp_path / "a.jsonl", _near_records(1))
    b = _write_jsonl(tmp_path / "b.jsonl", _near_records(2)[:300])
    test = _write_jsonl(tmp_path / "test.jsonl", _near_records(3)[:250])
    settings = Settings(fail_on="never", chunk_bytes=40 << 10, select=("near-duplicate", "exact-duplicate"),
                        checks={"near-duplicate": {"exact-verify-budget": budget}})
    local, dask, calls = _both([str(a), str(b)], scheduler[0], local_jobs=2, settings=settings, test=str(test))
    assert local == dask
    near = [f for f in dask["findings"] if f["check"] == "near-duplicate"]
    assert len(near) > 60 and {f["location"]["split"] for f in near} == {"train", "test"}
    crowd = max((f["evidence"]["members_total"] for f in near), default=0)
    assert crowd >= 65  # the templated crowd is one cluster past the 64-pair run limit
    assert len(calls) > 8  # really split into many pieces
    splits = {"train": (str(a), str(b)), "test": (str(test),), "reference": ()}
    assert _keyed_state_left_on_workers(scheduler[0], settings, splits) == 0


def test_near_duplicates_through_the_shuffle_real_data(scheduler):
    # Real files with real near-duplicates: two cut in many chunks, one JSON array read whole.
    files = [str(T0 / "app_reviews_convert_to_star_rating.jsonl"), str(T0 / "ag_news_classify.jsonl"),
             str(SHARED / "instruct" / "fastchat" / "dummy_conversation.json")]
    settings = Settings(fail_on="never", chunk_bytes=16 << 10, select=("near-duplicate", "exact-duplicate"))
    local, dask, calls = _both(files, scheduler[0], settings=settings)
    assert local == dask
    near = [f for f in dask["findings"] if f["check"] == "near-duplicate"]
    assert len(near) >= 195 and len(calls) > 8
    assert {Path(f["location"]["path"]).name for f in near} >= {"app_reviews_convert_to_star_rating.jsonl", "dummy_conversation.json"}


def _exact_records(seed: int, n: int) -> list[dict]:
    """Chats, some copied later on (case, spacing and unicode changed, as normalisation allows)."""
    import random

    rng = random.Random(seed)
    rows = [_chat(seed * 10_000 + i) for i in range(n)]
    for i in range(0, n, 7):
        copy = json.loads(json.dumps(rows[i]))
        copy["messages"][1]["content"] = "  " + copy["messages"][1]["content"].upper().replace(" ", "\u00a0 ")
        rows.insert(rng.randrange(i, len(rows) + 1), copy)
        if i % 21 == 0:
            rows.append(json.loads(json.dumps(rows[i])))  # a third copy, at the end
    return rows


def test_exact_duplicates_through_the_shuffle_planted(scheduler, tmp_path):
    # Copies within a file across its chunks, across the two training files, and in the test split.
    a_rows, b_rows = _exact_records(1, 400), _exact_records(2, 150)
    b_rows += a_rows[:40:3]  # copies of a.jsonl's examples in b.jsonl
    a = _write_jsonl(tmp_path / "a.jsonl", a_rows)
    b = _write_jsonl(tmp_path / "b.jsonl", b_rows)
    test_rows = _exact_records(3, 120) + a_rows[5:60:5]
    test = _write_jsonl(tmp_path / "test.jsonl", test_rows)
    settings = Settings(fail_on="never", chunk_bytes=16 << 10, select=("exact-duplicate",))
    local, dask, calls = _both([str(a), str(b)], scheduler[0], local_jobs=2, settings=settings, test=str(test))
    assert local == dask and len(calls) > 8
    found = dask["findings"]
    assert {f["location"]["split"] for f in found} == {"train", "test"}
    across = [f for f in found if f["location"]["path"] != f["related"][0]["path"]]
    assert len(across) >= 10  # copies in b.jsonl of examples of a.jsonl
    assert max(f["evidence"]["members_total"] for f in found) >= 3
    splits = {"train": (str(a), str(b)), "test": (str(test),), "reference": ()}
    check = _read_on_dask(scheduler[0], settings, splits).by_name["exact-duplicate"]
    assert check._keyed is not None and len(check._keys) == 0 and len(check._refs) == 0


def test_exact_duplicates_through_the_shuffle_real_data(scheduler):
    # math401: 8 repeated rows; cut in many chunks.
    path = str(SHARED / "known_defects" / "math401" / "math401.jsonl")
    settings = Settings(fail_on="never", chunk_bytes=2 << 10, select=("exact-duplicate",),
                        fields={"query": "user", "response": "assistant"})
    local, dask, calls = _both(path, scheduler[0], settings=settings)
    assert local == dask and len(calls) > 8
    lines = [f["location"]["line"] for f in dask["findings"]]
    assert lines == [261, 264, 269, 271, 273, 276, 325, 326]


def _conflict_records(seed: int, labelled: bool) -> list[dict]:
    """Prompts under a shared instruction template (its shingles are template text), some asked
    twice with different answers (exact conflicts), some reworded by a word or two with another
    answer (near conflicts), and agreeing copies."""
    import random

    rng = random.Random(seed)
    vocab = [f"v{n}" for n in range(2000)]
    template = "Read the customer message below and answer with the team that should handle it ."
    answers = ["billing", "shipping", "returns", "account"] if labelled else None
    rows: list[dict] = []
    for i in range(400):
        body = rng.sample(vocab, rng.randint(14, 30))
        answer = rng.choice(answers) if labelled else " ".join(rng.sample(vocab, 12))
        rows.append({"prompt": f"{template} {' '.join(body)}", "completion": answer})
        if i % 11 == 2:  # the same input, another answer
            other = rng.choice([a for a in answers if a != answer]) if labelled else " ".join(rng.sample(vocab, 12))
            rows.append({"prompt": f"{template} {' '.join(body)}", "completion": other})
        if i % 13 == 4:  # nearly the same input, another answer
            edited = list(body)
            edited[rng.randrange(len(edited))] = rng.choice(vocab)
            other = rng.choice([a for a in answers if a != answer]) if labelled else " ".join(rng.sample(vocab, 12))
            rows.append({"prompt": f"{template} {' '.join(edited)}", "completion": other})
        if i % 17 == 6:  # an agreeing copy
            rows.append(dict(rows[-1]))
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("labelled,budget", [(True, 20_000_000), (False, 20_000_000), (True, 0)])
def test_conflicts_through_the_shuffle_planted(scheduler, tmp_path, labelled, budget):
    a = _write_jsonl(tmp_path / "a.jsonl", _conflict_records(1, labelled))
    b = _write_jsonl(tmp_path / "b.jsonl", _conflict_records(2, labelled)[:200])
    settings = Settings(fail_on="never", chunk_bytes=24 << 10, select=("conflicting-outputs",),
                        checks={"conflicting-outputs": {"exact-verify-budget": budget}})
    local, dask, calls = _both([str(a), str(b)], scheduler[0], settings=settings)
    assert local == dask and len(calls) > 4
    kinds = {f["evidence"]["kind"] for f in dask["findings"]}
    assert len(dask["findings"]) > 40 and kinds == {"exact", "near"}
    assert dask["scorecard"] == local["scorecard"]


def test_conflicts_through_the_shuffle_real_data(scheduler):
    # hh-rlhf: the same opening turns answered differently; cut in many chunks.
    path = str(SHARED / "instruct" / "hh_rlhf" / "harmless-base_test.jsonl")
    settings = Settings(fail_on="never", chunk_bytes=400 << 10, select=("conflicting-outputs",))
    local, dask, calls = _both(path, scheduler[0], settings=settings)
    assert local == dask and len(calls) >= 8
    assert len([f for f in dask["findings"] if f["check"] == "conflicting-outputs"]) == 11


def test_keyed_shuffle_with_stdin(scheduler, tmp_path):
    # stdin is read on the client; its keyed states are handed to the cluster with the others.
    a = _write_jsonl(tmp_path / "a.jsonl", _near_records(4)[:300])
    b = _write_jsonl(tmp_path / "b.jsonl", _near_records(4)[150:450])
    config = tmp_path / "tunelint.toml"
    config.write_text("chunk-bytes = 40960\n", encoding="utf-8")
    args = ["--select", "near-duplicate,conflicting-outputs", "--config", str(config)]
    stdin = b.read_bytes()
    via_dask = _cli_json(["-", str(a), *args, "--engine", "dask", "--scheduler", scheduler[0]], stdin=stdin)
    assert via_dask == _cli_json(["-", str(a), *args], stdin=stdin)
    near = [f for f in via_dask["findings"] if f["check"] == "near-duplicate"]
    assert {f["location"]["path"] for f in near} == {"-", str(a)}


def test_keyed_shuffle_over_many_partitions(scheduler, tmp_path, monkeypatch):
    # Large data gets more shuffle partitions than workers (one per EXAMPLES_PER_PARTITION
    # examples); the findings do not depend on how many.
    import tunelint.executors as executors

    monkeypatch.setattr(executors, "EXAMPLES_PER_PARTITION", 150)
    used: list[int] = []
    real = DaskExecutor._buckets
    monkeypatch.setattr(DaskExecutor, "_buckets", lambda self, *a: used.append(real(self, *a)) or used[-1])
    a = _write_jsonl(tmp_path / "a.jsonl", _near_records(5))
    b = _write_jsonl(tmp_path / "b.jsonl", _conflict_records(6, labelled=True)[:300])
    settings = Settings(fail_on="never", chunk_bytes=40 << 10,
                        select=("near-duplicate", "exact-duplicate", "conflicting-outputs"))
    local, dask, calls = _both([str(a), str(b)], scheduler[0], settings=settings)
    assert local == dask
    assert used and used[0] > 2  # more partitions than the two workers
    checks = {f["check"] for f in dask["findings"]}
    assert {"near-duplicate", "exact-duplicate", "conflicting-outputs"} <= checks


# -- keyed shuffle: test-leakage grouped on input, opening, band and n-gram keys --------------


def _leak_records(seed: int) -> tuple[list[dict], list[dict]]:
    """Training and test chats with planted leaks of every kind: exact copies, the same input
    with another answer, a conversation cut in two, near copies, long shared runs (in an input,
    and in an answer), a phrase shared by more training examples than the n-gram cap keeps, and
    an instruction template in many examples on both sides (template text, not a leak)."""
    import random

    rng = random.Random(seed)
    # Words without digits (near equality masks numbers).
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    vocab = [a + b + c for a in syllables[:20] for b in syllables for c in syllables[:3]]
    template = "Answer the question below in one short paragraph and show your reasoning step by step please"

    def words(k: int) -> list[str]:
        return rng.sample(vocab, k)

    def chat(*turns: str, system: str = "You are terse.") -> dict:
        roles = ["user", "assistant"] * len(turns)
        return {"messages": [{"role": "system", "content": system}]
                + [{"role": roles[i], "content": t} for i, t in enumerate(turns)]}

    def plain() -> dict:
        prefix = template + " " if rng.random() < 0.4 else ""
        return chat(prefix + " ".join(words(rng.randint(20, 40))), " ".join(words(rng.randint(10, 30))))

    train = [plain() for _ in range(700)]
    test = [plain() for _ in range(160)]
    phrase = " ".join(words(16))
    for i in range(9):  # one phrase in 9 training examples and a test example: past the cap of 5
        train[40 + 60 * i]["messages"][2]["content"] += " " + phrase
    test[3]["messages"][1]["content"] = " ".join(words(20)) + " " + phrase
    for k, j in enumerate(range(10, 150, 9)):
        source = train[(j * 37) % len(train)]
        user, answer = source["messages"][1]["content"], source["messages"][2]["content"]
        plant = k % 6
        if plant == 0:  # exact, after normalisation
            test[j] = chat("  " + user.upper(), answer)
        elif plant == 1:  # same input, another answer
            test[j] = chat(user, " ".join(words(12)))
        elif plant == 2:  # a conversation cut in two: the opening in train, all of it in test
            follow = " ".join(words(15))
            train.append(chat(user, answer, follow, " ".join(words(10))))
            test[j] = chat(user, answer, follow, " ".join(words(10)), " ".join(words(8)), " ".join(words(9)))
        elif plant == 3:  # near copy: a word of a long input changed
            long = words(80)
            train.append(chat(" ".join(long), " ".join(words(12))))
            long[rng.randrange(80)] = rng.choice(vocab)
            test[j] = chat(" ".join(long), " ".join(words(12)))
        elif plant == 4:  # a 20-word run of a training answer inside a test input
            test[j] = chat(" ".join(words(15)) + " " + " ".join((answer + " " + user).split()[:20]), "ok then")
        else:  # most of a test answer is a training input's run
            test[j] = chat(" ".join(words(25)), " ".join(user.split()[:18]) + " zu zo")
    rng.shuffle(train)
    return train, test


def test_test_leakage_through_the_shuffle_planted(scheduler, tmp_path):
    train, test = _leak_records(5)
    a = _write_jsonl(tmp_path / "a.jsonl", train[:400])
    b = _write_jsonl(tmp_path / "b.jsonl", train[400:])
    t = _write_jsonl(tmp_path / "test.jsonl", test)
    # template-share makes the template cutoff 12 examples: the shared phrase (10 examples) is
    # not template text, and only its first 5 training examples are kept (the n-gram cap).
    settings = Settings(fail_on="never", chunk_bytes=24 << 10, select=("test-leakage",),
                        checks={"test-leakage": {"template-share": 0.013}})
    local, dask, calls = _both([str(a), str(b)], scheduler[0], local_jobs=2, settings=settings, test=str(t))
    assert local == dask and dask["stats"]["parallelism_note"] is None
    assert len({p for s, p, _ in calls if s == "test"}) == 1 and len(calls) > 8
    found = [f for f in dask["findings"] if f["check"] == "test-leakage"]
    kinds = {f["evidence"]["kind"] for f in found}
    assert kinds == {"exact", "input", "conversation", "near", "ngram"}, kinds
    phrase = next(f for f in found if f["location"]["line"] == 4)
    assert phrase["evidence"]["kind"] == "ngram" and phrase["evidence"]["training_examples"] == 5
    splits = {"train": (str(a), str(b)), "test": (str(t),), "reference": ()}
    check = _read_on_dask(scheduler[0], settings, splits).by_name["test-leakage"]
    # The client's instance holds the shuffle's results, and no test index or test examples.
    assert check._keyed is not None and not check._tests and not check._frozen and not hasattr(check, "_grams")


def test_test_leakage_with_the_test_split_on_stdin(scheduler, tmp_path):
    # Workers cannot read stdin again: the whole run is read in one process, as before.
    train, test = _leak_records(6)
    a = _write_jsonl(tmp_path / "a.jsonl", train)
    t = _write_jsonl(tmp_path / "test.jsonl", test[:80])
    args = ["--select", "test-leakage", "--test", "-"]
    stdin = t.read_bytes()
    via_dask = _cli_json([str(a), *args, "--engine", "dask", "--scheduler", scheduler[0]], stdin=stdin)
    assert via_dask == _cli_json([str(a), *args], stdin=stdin)
    assert len(via_dask["findings"]) >= 5


def test_test_leakage_through_the_shuffle_real_conversations(scheduler, tmp_path):
    # hh-rlhf cut in two: many conversations share their opening turns across the cut.
    lines = (SHARED / "instruct" / "hh_rlhf" / "harmless-base_test.jsonl").read_text(encoding="utf-8").splitlines(True)
    test = tmp_path / "test.jsonl"
    test.write_text("".join(lines[:500]), encoding="utf-8")
    train = tmp_path / "train.jsonl"
    train.write_text("".join(lines[500:]), encoding="utf-8")
    settings = Settings(fail_on="never", chunk_bytes=200 << 10, select=("test-leakage",))
    local, dask, calls = _both(str(train), scheduler[0], settings=settings, test=str(test))
    assert local == dask and len(calls) >= 8
    kinds = [f["evidence"]["kind"] for f in dask["findings"]]
    assert len(kinds) == 37 and kinds.count("conversation") == 26 and kinds.count("ngram") == 9
