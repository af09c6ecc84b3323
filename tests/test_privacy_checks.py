"""The pii and secret checks: severity by role, masked evidence, metrics, parallel runs, Presidio's
labelled set through the check, and the sample datasets (planted values found, nothing else)."""

from __future__ import annotations

import json
import pickle
from collections import Counter
from pathlib import Path

import pytest

from tunelint import Settings, lint
from tunelint.checks.base import CheckContext
from tunelint.checks.pii import Pii
from tunelint.config import ConfigError
from tunelint.models import Severity

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_datasets"
SYNTH = ROOT.parent / "shared" / "datasets" / "pii" / "presidio" / "synth_dataset_v2.json"
PRIVACY = ("pii", "secret")


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _findings(tmp_path: Path, records: list[dict], **settings):
    train = _write(tmp_path / "train.jsonl", records)
    return lint(train, settings=Settings(select=PRIVACY, **settings)).findings


ROLES = {"messages": [
    {"role": "system", "content": "Escalate to ops@tessera-bank.co.uk."},
    {"role": "user", "content": "My number is +1 646-555-0178."},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "And my email?"},
    {"role": "assistant", "content": "It is maria.gonzalez@outlook.com; key AKIAZT4HW2QX9MPL6BVC."},
]}


def test_severity_follows_who_says_it(tmp_path):
    found = {(f.check, f.evidence["role"], f.evidence["turn"]): f for f in _findings(tmp_path, [ROLES])}
    assert {k: f.severity for k, f in found.items()} == {
        ("pii", "system", 1): Severity.WARNING,
        ("pii", "user", 1): Severity.WARNING,
        ("pii", "assistant", 2): Severity.ERROR,
        ("secret", "assistant", 2): Severity.ERROR,
    }
    assert found[("pii", "assistant", 2)].message == (
        "assistant turn 2 contains an email address: m***@o***.com (the model learns to say it)")
    assert found[("pii", "user", 1)].message == "user turn 1 contains a phone number: ***-***-0178"
    assert found[("secret", "assistant", 2)].location.pointer == "/messages/4/content"


def test_secrets_are_errors_in_input_turns_too(tmp_path):
    [f] = _findings(tmp_path, [{"messages": [{"role": "user", "content": "key AKIAZT4HW2QX9MPL6BVC"},
                                             {"role": "assistant", "content": "Rotate it."}]}])
    assert (f.check, f.severity, f.evidence["role"]) == ("secret", Severity.ERROR, "user")


def test_severity_options(tmp_path):
    checks = {"pii": {"severity": "warning", "input-severity": "info"}}
    found = {f.evidence["role"]: f.severity for f in _findings(tmp_path, [ROLES], checks=checks) if f.check == "pii"}
    assert found == {"system": Severity.INFO, "user": Severity.INFO, "assistant": Severity.WARNING}


def test_evidence_is_masked_with_offsets_and_show_pii_adds_values(tmp_path):
    [f] = [f for f in _findings(tmp_path, [ROLES]) if f.evidence["role"] == "user"]
    assert f.evidence == {
        "entity_type": "PHONE_NUMBER", "role": "user", "turn": 1, "learned": False, "count": 1,
        "values": [{"masked": "***-***-0178", "start": 13, "end": 28, "score": f.evidence["values"][0]["score"]}],
    }
    [shown] = [f for f in _findings(tmp_path, [ROLES], show_pii=True) if f.evidence["role"] == "user"]
    assert shown.evidence["values"][0]["value"] == "+1 646-555-0178"
    assert shown.message == "user turn 1 contains a phone number: +1 646-555-0178"
    assert shown.fingerprint == f.fingerprint


def test_many_values_in_one_turn_make_one_finding(tmp_path):
    emails = [f"user{i}@mailbox.org" for i in range(25)]
    [f] = _findings(tmp_path, [{"messages": [{"role": "user", "content": "cc " + ", ".join(emails)},
                                             {"role": "assistant", "content": "OK"}]}])
    assert f.evidence["count"] == 25 and len(f.evidence["values"]) == 20
    assert f.message.startswith("user turn 1 contains 25 email addresses: u***@m***.org, ")
    assert f.message.endswith("… (5 more)")


def test_metrics_say_mode_and_counts_by_entity_and_role(tmp_path):
    train = _write(tmp_path / "train.jsonl", [ROLES, ROLES])
    report = lint(train, settings=Settings(select=PRIVACY))
    metrics = report.scorecard.row("privacy-reviewed").metrics
    pii = metrics["pii"]
    assert pii["mode"] in ("patterns-only",) or pii["mode"].startswith("ner:")
    assert pii["texts_scanned"] == 10
    assert pii["by_entity"] == {"EMAIL_ADDRESS": 4, "PHONE_NUMBER": 2}
    assert pii["by_role"] == {"assistant": 2, "system": 2, "user": 2}
    assert pii["by_entity_and_role"]["EMAIL_ADDRESS"] == {"assistant": 2, "system": 2}
    assert metrics["secret"]["by_entity"] == {"AWS_ACCESS_KEY_ID": 2}


def test_two_jobs_find_and_count_the_same(tmp_path):
    records = [ROLES if i % 7 == 0 else {"messages": [{"role": "user", "content": f"Order {i} is late"},
                                                      {"role": "assistant", "content": "Sorry!"}]}
               for i in range(700)]
    train = _write(tmp_path / "train.jsonl", records)
    one = lint(train, settings=Settings(select=PRIVACY, jobs=1))
    two = lint(train, settings=Settings(select=PRIVACY, jobs=2, chunk_bytes=8 << 10))
    assert [f.fingerprint for f in one.findings] == [f.fingerprint for f in two.findings]
    assert one.scorecard.row("privacy-reviewed").metrics == two.scorecard.row("privacy-reviewed").metrics
    assert "parallelism" not in two.stats


def test_check_instances_travel_without_the_detector():
    check = Pii(Pii.Options(ner="off"), CheckContext())
    assert len(pickle.dumps(check)) < 4000


@pytest.mark.parametrize(("options", "message"), [
    ({"entities": ["EMAIL", "PHONE_NUMBER"]}, "option 'entities'"),
    ({"allow": ["re:(unclosed"]}, "option 'allow'"),
    ({"ner": "en_core_web_missing"}, "not installed"),
])
def test_bad_options_name_the_check(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        _findings(tmp_path, [ROLES], checks={"pii": options})


# --- Presidio's labelled synthetic set, through the check ----------------------------------

PATTERN_TYPES = ("CREDIT_CARD", "EMAIL_ADDRESS", "IBAN_CODE", "IP_ADDRESS", "PHONE_NUMBER", "US_SSN")


def test_synth_dataset_through_the_check(tmp_path):
    """Every sentence becomes a user turn; recall per pattern type from the findings' offsets,
    false alarms on sentences with no pattern entity."""
    synth = json.loads(SYNTH.read_text(encoding="utf-8"))
    records = [{"messages": [{"role": "user", "content": r["full_text"]}, {"role": "assistant", "content": "OK."}]}
               for r in synth]
    train = _write(tmp_path / "synth.jsonl", records)
    report = lint(train, settings=Settings(select=("pii",), checks={"pii": {"ner": "off"}}))
    found: dict[int, list[tuple[str, int, int]]] = {}
    for f in report.findings:
        found.setdefault(f.location.index, []).extend(
            (f.evidence["entity_type"], v["start"], v["end"]) for v in f.evidence["values"])
    labelled, hits = Counter(), Counter()
    negatives = false_alarms = predicted = correct = 0
    for i, r in enumerate(synth):
        labels = [s for s in r["spans"] if s["entity_type"] in PATTERN_TYPES]
        spans = found.get(i, [])
        predicted += len(spans)
        correct += sum(any(lab["entity_type"] == t and lab["start_position"] < e and s < lab["end_position"]
                           for lab in labels) for t, s, e in spans)
        for label in labels:
            labelled[label["entity_type"]] += 1
            hits[label["entity_type"]] += any(
                t == label["entity_type"] and s < label["end_position"] and label["start_position"] < e
                for t, s, e in spans)
        if not labels:
            negatives += 1
            false_alarms += bool(spans)
    recall = {t: hits[t] / labelled[t] for t in PATTERN_TYPES}
    print("\nentity          found / labelled   recall (through the pii check)")
    for t in PATTERN_TYPES:
        print(f"{t:15} {hits[t]:5} / {labelled[t]:<8}   {recall[t]:.3f}")
    total = sum(hits.values()) / sum(labelled.values())
    print(f"all pattern types: {sum(hits.values())} / {sum(labelled.values())} = {total:.3f}")
    print(f"precision: {correct} of {predicted} values found match a label of their type = {correct / predicted:.3f}")
    print(f"false alarms: {false_alarms} of {negatives} sentences without a pattern entity")
    assert min(recall[t] for t in ("EMAIL_ADDRESS", "IP_ADDRESS", "IBAN_CODE", "US_SSN")) >= 0.95
    assert recall["CREDIT_CARD"] >= 0.9
    assert recall["PHONE_NUMBER"] >= 0.65
    assert negatives == 1219 and false_alarms == 0
    assert correct / predicted >= 0.95


# --- the sample datasets -------------------------------------------------------------------

def test_sample_datasets_flag_only_the_planted_values():
    planted = {(d["file"], d["line"], d["check"]) for d in json.loads((SAMPLES / "defects.json").read_text())
               if d["check"] in PRIVACY}
    assert len(planted) == 3
    flagged = set()
    for dataset in ("support_tickets", "agent_chat"):
        folder = SAMPLES / dataset
        files = sorted(folder.glob("*.jsonl"))
        report = lint(files[0], test=files[1:] or None, settings=Settings(select=PRIVACY, fail_on="never"))
        assert {d.path for d in report.datasets} == {str(f) for f in files}
        flagged |= {(f"{dataset}/{Path(f.location.path).name}", f.location.line, f.check) for f in report.findings}
    assert flagged == planted


def test_allow_list_from_a_config_file(tmp_path):
    from tunelint.config import STARTER, load_settings

    line = next(l for l in STARTER.splitlines() if l.startswith("# allow = "))
    (tmp_path / "tunelint.toml").write_text("[tool.tunelint.checks.pii]\n" + line[2:] + "\n")
    settings = load_settings(tmp_path / "tunelint.toml").replace(select=("pii",))
    train = _write(tmp_path / "train.jsonl", [{"messages": [
        {"role": "user", "content": "support@quillstack.com, ops@example.com or dana@quillstack.com?"},
        {"role": "assistant", "content": "Any."}]}])
    [f] = lint(train, settings=settings).findings
    assert f.evidence["count"] == 1 and f.evidence["values"][0]["masked"] == "d***@q***.com"
    assert lint(train, settings=settings).scorecard.row("privacy-reviewed").metrics["pii"]["values_allowed"] == 2


def test_ner_mode_through_the_check(tmp_path):
    """With a spaCy pipeline, names and places are found, masked to initials, and the row says so."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": "Ada Lovelace"},
                                               {"label": "GPE", "pattern": "London"}])
    nlp.to_disk(tmp_path / "tiny_ner")
    train = _write(tmp_path / "train.jsonl", [{"messages": [
        {"role": "user", "content": "Who wrote the first program?"},
        {"role": "assistant", "content": "Ada Lovelace, in London."}]}])
    report = lint(train, settings=Settings(select=("pii",), checks={"pii": {"ner": str(tmp_path / "tiny_ner")}}))
    assert sorted((f.evidence["entity_type"], f.severity, f.evidence["values"][0]["masked"]) for f in report.findings) == [
        ("LOCATION", Severity.ERROR, "***"), ("PERSON", Severity.ERROR, "A*** L***")]
    row = report.scorecard.row("privacy-reviewed")
    assert row.metrics["pii"]["mode"] == "ner:tiny_ner" and "not_checked" not in row.metrics["pii"]
    assert row.summary.endswith("; pii detection ner:tiny_ner")
    plain = lint(train, settings=Settings(select=("pii",), checks={"pii": {"ner": "off"}}))
    assert plain.findings == () and "need an NER model" in plain.scorecard.row("privacy-reviewed").metrics["pii"]["not_checked"]


def test_default_phone_regions_are_presidios_and_the_registry_loads_without_presidio():
    import subprocess
    import sys

    from tunelint.checks.pii import DEFAULT_PHONE_REGIONS
    from tunelint.privacy.phone import ChatPhoneRecognizer

    assert DEFAULT_PHONE_REGIONS == tuple(ChatPhoneRecognizer.DEFAULT_SUPPORTED_REGIONS)
    code = ("import sys; from tunelint.registry import load_checks; load_checks(); "
            "print('presidio_analyzer' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_batch_texts_are_placed_like_scanned_texts(tmp_path: Path) -> None:
    """The batch's text list and the lazy placement of a text agree with `scanned_texts`, example by example."""
    from tunelint.checks._privacy import _batch_texts, _placed, scanned_texts
    from tunelint.loader import Loader
    from tunelint.models import Example
    from tunelint.registry import load_formats

    records = [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
        {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\": \"x\"}"}},
            {"id": "c2", "type": "function", "function": {"name": "other", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "found"}, {"role": "assistant", "content": "Done"}]},
        {"prompt": "Who?", "chosen": "Me.", "rejected": "You."},
        {"messages": [{"role": "user", "content": "Last"}, {"role": "assistant", "content": "one", "weight": 0}]},
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    for record in records:  # one format per file: check each on its own, then all that load together
        one = tmp_path / "one.jsonl"
        one.write_text(json.dumps(record) + "\n", encoding="utf-8")
        examples = [e for e in Loader(str(one), "train", load_formats()) if isinstance(e, Example)]
        starts, texts = _batch_texts(examples)
        expected = [s.text for e in examples for s in scanned_texts(e)]
        assert list(texts) == expected and expected
        for i in range(len(texts)):
            owner, item = _placed(examples, starts, i)
            assert item.text == texts[i] and item in scanned_texts(examples[owner])
    examples = [e for e in Loader(str(path), "train", load_formats()) if isinstance(e, Example)]
    starts, texts = _batch_texts(examples)
    placed = [_placed(examples, starts, i) for i in range(len(texts))]
    assert [(o, s) for o, s in placed] == [(o, s) for o, e in enumerate(examples) for s in scanned_texts(e)]
