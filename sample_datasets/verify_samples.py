"""Check that every defect listed in defects.json sits at its documented line, and nowhere else.

Run after `pip install .`: ``python sample_datasets/verify_samples.py``. It re-reads
the generated files (never the generator's state), tests each manifest entry with an independent
predicate, then scans every other line for the same defects; any surprise is an error.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import tomllib
import types
from pathlib import Path
from typing import Any, Callable

import jsonschema

HERE = Path(__file__).resolve().parent
SUPPORT = "support_tickets"
AGENT = "agent_chat"

errors: list[str] = []


def fail(msg: str) -> None:
    errors.append(msg)


def read_lines(rel: str) -> list[str]:
    return (HERE / rel).read_text(encoding="utf-8").split("\n")[:-1]


def parse(rel: str) -> dict[int, Any]:
    out = {}
    for number, line in enumerate(read_lines(rel), start=1):
        try:
            out[number] = json.loads(line)
        except json.JSONDecodeError:
            out[number] = None
    return out


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i:i + n]) for i in range(max(len(w) - n + 1, 1))}


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = shingles(a, n), shingles(b, n)
    return len(sa & sb) / len(sa | sb)


def norm(text: str) -> str:
    return " ".join(text.lower().split())


def turns(record: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [m for m in record["messages"] if m["role"] == role]


def user_text(record: dict[str, Any]) -> str:
    return turns(record, "user")[0]["content"]


def final_output(record: dict[str, Any]) -> str | None:
    last = record["messages"][-1]
    return last.get("content") if last["role"] == "assistant" else None


def resolve(record: Any, pointer: str) -> Any:
    node = record
    for part in pointer.split("/")[1:]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def presidio_analyzer() -> Callable[[str], list[str]]:
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    # Offline: use tldextract's bundled suffix snapshot instead of downloading the list.
    email_recognizer.tldextract = types.SimpleNamespace(
        extract=tldextract.TLDExtract(suffix_list_urls=()))
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]})
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    entities = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN",
                "IP_ADDRESS", "CRYPTO"]

    def analyze(text: str) -> list[str]:
        found = engine.analyze(text, language="en", entities=entities, score_threshold=0.3)
        return sorted(f"{r.entity_type}:{text[r.start:r.end]}" for r in found)

    return analyze


SECRET_RE = re.compile(
    r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}|sk-[A-Za-z0-9]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|://[^/\s:]+:[^@\s]+@")
VOLATILE_RE = re.compile(
    r"[$£€]\s?\d|\b(?:19|20)\d\d\b|\b(?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December)\b|\b[Aa]s of\b|\bv?\d+\.\d+\.\d+\b|\b[Ii]n stock\b")
BOILERPLATE_RE = re.compile(r"as an ai( language model)?|i am an ai|i'm an ai", re.I)
PLACEHOLDERS = {"n/a", "na", "<no output>", "<noinput>", "todo", "none", "null", "-"}


def main() -> int:
    manifest = json.loads((HERE / "defects.json").read_text(encoding="utf-8"))
    dep = tomllib.loads((HERE / SUPPORT / "deployment.toml").read_text())["deployment"]
    agent_dep = tomllib.loads((HERE / AGENT / "deployment.toml").read_text())["deployment"]
    tools = json.loads((HERE / AGENT / agent_dep["tools"]).read_text())
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    labels = set(dep["labels"])
    prompt = dep["system_prompt"]
    template_prefix = dep["user_template"].split("{")[0]

    files = {rel: parse(rel) for rel in [f"{SUPPORT}/train.jsonl", f"{SUPPORT}/test.jsonl",
                                         f"{SUPPORT}/production_sample.jsonl",
                                         f"{AGENT}/train.jsonl"]}
    raw = {rel: read_lines(rel) for rel in files}
    train, test = files[f"{SUPPORT}/train.jsonl"], files[f"{SUPPORT}/test.jsonl"]
    agent = files[f"{AGENT}/train.jsonl"]
    planted: dict[tuple[str, str], set[int]] = {}
    for d in manifest:
        planted.setdefault((d["file"], d["check"]), set()).add(d["line"])

    def at(rel: str, check: str) -> set[int]:
        return planted.get((rel, check), set())

    analyze = presidio_analyzer()

    # ---- 1. each manifest entry holds at its line ------------------------------------------
    def related_record(d: dict[str, Any]) -> Any:
        (rel,) = d["related"]
        return files[rel["file"]][rel["line"]]

    def check_entry(d: dict[str, Any]) -> str | None:
        rel, line, check = d["file"], d["line"], d["check"]
        if line is None:
            return None  # dataset-level; checked in section 3
        rec = files[rel][line]
        if check == "invalid-json":
            return None if rec is None else "line parses"
        if rec is None:
            return "line does not parse"
        if "pointer" in d:
            try:
                resolve(rec, d["pointer"])
            except (KeyError, IndexError, ValueError):
                return f"pointer {d['pointer']} does not resolve"
        other = related_record(d) if "related" in d else None
        out = final_output(rec)
        if check == "exact-duplicate":
            d["_byte_identical"] = raw[rel][line - 1] == raw[d["related"][0]["file"]][
                d["related"][0]["line"] - 1]
            normalised = [(m["role"], norm(m["content"])) for m in rec["messages"]] == \
                         [(m["role"], norm(m["content"])) for m in other["messages"]]
            ok = d["related"][0]["line"] < line and normalised
            return None if ok else "not a normalised copy of an earlier line"
        if check == "near-duplicate":
            j = jaccard(user_text(rec), user_text(other))
            ok = j >= 0.8 and norm(user_text(rec)) != norm(user_text(other)) and out == \
                final_output(other) and d["related"][0]["line"] < line
            d["_jaccard"] = round(j, 3)
            return None if ok else f"jaccard {j:.3f}"
        if check == "conflicting-outputs":
            ok = rec["messages"][:2] == other["messages"][:2] and out != final_output(other)
            return None if ok else "inputs differ or outputs agree"
        if check == "label-variants":
            ok = out not in labels and out.strip().lower() in labels
            return None if ok else f"output {out!r} is not a variant of a label"
        if check in ("system-prompt-variants", "deployment-mismatch"):
            return None if rec["messages"][0]["content"] != prompt else "prompt is the dominant one"
        if check == "placeholder-output":
            placeholder = out is not None and out.strip().lower() in PLACEHOLDERS
            return None if placeholder else "no placeholder"
        if check == "empty-content":
            empty = [m for m in rec["messages"] if m.get("content") is not None
                     and not m["content"].strip()]
            return None if empty else "no empty turn"
        if check == "missing-assistant-turn":
            return None if rec["messages"][-1]["role"] != "assistant" else "ends on assistant"
        if check == "pii":
            hits = analyze(resolve(rec, d["pointer"]))
            d["_found"] = hits
            return None if hits else "presidio finds nothing"
        if check == "secret":
            return None if SECRET_RE.search(resolve(rec, d["pointer"])) else "no key pattern"
        if check == "test-leakage":
            j = jaccard(user_text(rec), user_text(other))
            d["_jaccard"] = round(j, 3)
            return None if j >= 0.8 else f"jaccard {j:.3f}"
        if check == "output-schema-violation":
            bad = tool_call_problems(rec, schemas)
            return None if bad else "all tool calls valid"
        if check == "schema-violation":
            return None if orphan_calls(rec) else "every tool call answered"
        if check == "exceeds-context":
            est = len(raw[rel][line - 1]) / 4
            d["_tokens_est"] = int(est)
            return None if est > agent_dep["max_seq_len"] else f"only ~{est:.0f} tokens"
        if check == "refusal-boilerplate":
            return None if BOILERPLATE_RE.search(resolve(rec, d["pointer"])) else "no boilerplate"
        if check == "volatile-facts":
            return None if VOLATILE_RE.search(resolve(rec, d["pointer"])) else "no price/date"
        return f"no predicate for check {check}"

    for d in manifest:
        problem = check_entry(d)
        if problem:
            fail(f"{d['file']}:{d['line']} {d['check']}: {problem}")

    # ---- 2. nothing of the same kind anywhere else -------------------------------------------
    for rel, recs in files.items():
        for line, rec in recs.items():
            if rec is None and line not in at(rel, "invalid-json"):
                fail(f"{rel}:{line} does not parse")
            if rec is not None and line in at(rel, "invalid-json"):
                fail(f"{rel}:{line} planted invalid but parses")

    sup = {f"{SUPPORT}/train.jsonl": train, f"{SUPPORT}/test.jsonl": test}
    for rel, recs in sup.items():
        for line, rec in recs.items():
            if rec is None:
                continue
            msgs = rec["messages"]
            if not user_text(rec).startswith(template_prefix):
                fail(f"{rel}:{line} user turn does not follow user_template")
            if (msgs[0]["content"] != prompt) != (line in at(rel, "system-prompt-variants")):
                fail(f"{rel}:{line} unexpected system prompt state")
            out = final_output(rec)
            expected_bad = (at(rel, "label-variants") | at(rel, "placeholder-output")
                            | at(rel, "empty-content") | at(rel, "missing-assistant-turn"))
            if (out not in labels) != (line in expected_bad):
                fail(f"{rel}:{line} unexpected output {out!r}")
            if len(raw[rel][line - 1]) / 4 > dep["max_seq_len"]:
                fail(f"{rel}:{line} exceeds max_seq_len estimate")

    # Duplicates, near-duplicates and conflicts among distinct tickets.
    expected_pairs = {(d["related"][0]["line"], d["line"]) for d in manifest
                      if d["file"] == f"{SUPPORT}/train.jsonl" and "related" in d}
    items = [(line, user_text(r)) for line, r in train.items() if r is not None]
    max_other = (0.0, None)
    for (la, ta), (lb, tb) in itertools.combinations(items, 2):
        j = jaccard(ta, tb)
        if (la, lb) in expected_pairs:
            continue
        if j >= 0.5 or norm(ta) == norm(tb):
            fail(f"train lines {la} and {lb} look alike (jaccard {j:.3f})")
        max_other = max(max_other, (j, (la, lb)), key=lambda x: x[0])

    leak_pairs = {(d["related"][0]["line"], d["line"])
                  for d in at_entries(manifest, "test-leakage")}
    train_grams = {}
    for line, t in items:
        for g in shingles(t, 13):
            if len(g) == 13:
                train_grams.setdefault(g, set()).add(line)
    max_cross = (0.0, None)
    for lt, rec in test.items():
        tt = user_text(rec)
        shared = {ltr for g in shingles(tt, 13) if len(g) == 13 for ltr in train_grams.get(g, ())}
        for ltr, ttr in items:
            j = jaccard(tt, ttr)
            if (ltr, lt) in leak_pairs:
                continue
            if j >= 0.3 or ltr in shared:
                fail(f"test line {lt} overlaps train line {ltr} (jaccard {j:.3f})")
            max_cross = max(max_cross, (j, (ltr, lt)), key=lambda x: x[0])
    test_items = [(line, user_text(r)) for line, r in test.items()]
    for (la, ta), (lb, tb) in itertools.combinations(test_items, 2):
        if jaccard(ta, tb) >= 0.5:
            fail(f"test lines {la} and {lb} look alike")
    prod = files[f"{SUPPORT}/production_sample.jsonl"]
    for lp, rec in prod.items():
        for ltr, ttr in items + test_items:
            if jaccard(rec["text"], ttr) >= 0.3:
                fail(f"production line {lp} overlaps a labelled ticket")

    # PII and secrets: only at planted lines, in every file and every string.
    def strings(node: Any) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, dict):
            return [s for k, v in node.items() if k != "tools" for s in strings(v)]
        if isinstance(node, list):
            return [s for v in node for s in strings(v)]
        return []

    for rel, recs in files.items():
        for line, rec in recs.items():
            if rec is None:
                continue
            texts = strings(rec)
            pii = [h for t in texts for h in analyze(t)]
            if bool(pii) != (line in at(rel, "pii")):
                fail(f"{rel}:{line} unexpected PII state {pii}")
            secret = any(SECRET_RE.search(t) for t in texts)
            if secret != (line in at(rel, "secret")):
                fail(f"{rel}:{line} unexpected secret state")

    # Agent conversations: tool calls, endings, lengths, content heuristics.
    rel = f"{AGENT}/train.jsonl"
    for line, rec in agent.items():
        if rec.get("tools") != tools:
            fail(f"{rel}:{line} tools array differs from tools.json")
        if rec["messages"][0]["content"] != agent_dep["system_prompt"]:
            fail(f"{rel}:{line} system prompt differs from deployment")
        if bool(tool_call_problems(rec, schemas)) != (line in at(rel, "output-schema-violation")):
            fail(f"{rel}:{line} unexpected tool-call validity {tool_call_problems(rec, schemas)}")
        if bool(orphan_calls(rec)) != (line in at(rel, "schema-violation")):
            fail(f"{rel}:{line} unexpected orphan tool call state")
        ends_user = rec["messages"][-1]["role"] != "assistant"
        if ends_user != (line in at(rel, "missing-assistant-turn")):
            fail(f"{rel}:{line} unexpected ending")
        if (len(raw[rel][line - 1]) / 4 > agent_dep["max_seq_len"]) != (
                line in at(rel, "exceeds-context")):
            fail(f"{rel}:{line} unexpected length {len(raw[rel][line - 1])} chars")
        said = [m["content"] for m in rec["messages"]
                if m["role"] == "assistant" and m.get("content")]
        if any(BOILERPLATE_RE.search(s) for s in said) != (line in at(rel, "refusal-boilerplate")):
            fail(f"{rel}:{line} unexpected boilerplate state")
        if any(VOLATILE_RE.search(s) for s in said) != (line in at(rel, "volatile-facts")):
            fail(f"{rel}:{line} unexpected volatile-facts state")
        if any(m.get("content") is not None and not m["content"].strip()
               for m in rec["messages"]):
            fail(f"{rel}:{line} has an empty turn")
    agent_texts = [(line, " ".join(m["content"] for m in r["messages"][1:]
                                   if m["role"] in ("user", "assistant") and m.get("content")))
                   for line, r in agent.items()]
    agent_max = (0.0, None)
    for (la, ta), (lb, tb) in itertools.combinations(agent_texts, 2):
        j = jaccard(ta, tb)
        if j >= 0.5:
            fail(f"agent lines {la} and {lb} look alike (jaccard {j:.3f})")
        agent_max = max(agent_max, (j, (la, lb)), key=lambda x: x[0])

    # ---- 3. dataset-level: production drift ---------------------------------------------------
    topic = re.compile(r"gdpr|personal data|data subject|portability|processing agreement|"
                       r"subprocessor|\bdpo\b|\berase|workspace data", re.I)
    es_words = {"de", "la", "que", "el", "en", "los", "las", "por", "un", "una", "mi", "me", "no",
                "se", "con", "del", "es", "para", "lo", "nos", "al", "sale", "somos"}
    en_words = {"the", "a", "an", "to", "of", "and", "is", "it", "in", "on", "for", "my", "i",
                "we", "our", "you", "can", "but", "with", "this", "that", "me", "no"}

    def is_spanish(text: str) -> bool:
        w = words(text)
        return sum(x in es_words for x in w) > sum(x in en_words for x in w)

    prod_topic = sum(bool(topic.search(r["text"])) for r in prod.values())
    prod_es = sum(is_spanish(r["text"]) for r in prod.values())
    train_topic = sum(bool(topic.search(t)) for _, t in items + test_items)
    train_es = sum(is_spanish(t) for _, t in items + test_items)
    if prod_topic != 7 or train_topic or prod_es != 7 or train_es:
        fail(f"drift not as documented: production topic {prod_topic} / es {prod_es}, "
             f"labelled topic {train_topic} / es {train_es}")

    # ---- 4. the README tables list exactly the manifest ---------------------------------------
    documented = readme_rows(manifest)
    listed = sorted(
        (d["file"], d["line"] or 0, d["check"],
         tuple(f"{r['file'].split('/')[-1]}:{r['line']}" for r in d.get("related", [])))
        for d in manifest)
    if documented != listed:
        fail(f"README tables differ from defects.json: {set(documented) ^ set(listed)}")

    # ---- report -------------------------------------------------------------------------------
    counts: dict[str, int] = {}
    for rec in train.values():
        if rec is not None:
            out = final_output(rec)
            key = out if out in labels else f"<{out!r}>"
            counts[key] = counts.get(key, 0) + 1
    test_counts: dict[str, int] = {}
    for rec in test.values():
        test_counts[final_output(rec)] = test_counts.get(final_output(rec), 0) + 1
    print(f"manifest entries: {len(manifest)}")
    for d in manifest:
        extra = {k: v for k, v in d.items() if k.startswith("_")}
        print(f"  ok {d['file']}:{d['line']} {d['check']} {extra if extra else ''}")
    print(f"train label counts: {dict(sorted(counts.items(), key=lambda x: -x[1]))}")
    print(f"test label counts: {dict(sorted(test_counts.items(), key=lambda x: -x[1]))}")
    print(f"max 5-gram jaccard, distinct train tickets: {max_other[0]:.3f} at lines {max_other[1]}")
    print(f"max 5-gram jaccard, test vs train (unplanted): {max_cross[0]:.3f} at {max_cross[1]}")
    print(f"max 5-gram jaccard, agent conversations: {agent_max[0]:.3f} at lines {agent_max[1]}")
    lens = sorted(len(x) for x in raw[rel])
    limit = 4 * agent_dep["max_seq_len"]
    print(f"agent line chars: max {lens[-1]}, second {lens[-2]} (limit {limit})")
    print(f"production: {prod_topic} data-protection tickets, {prod_es} Spanish, of {len(prod)}")
    for e in errors:
        print("ERROR", e)
    print("FAILED" if errors else "all defects verified")
    return 1 if errors else 0


def readme_rows(manifest: list[dict[str, Any]]) -> list[tuple[str, int, str, tuple[str, ...]]]:
    """(file, line or 0, check, related) for every row of the README's defect tables."""
    section = None
    rows = []
    for text in (HERE / "README.md").read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^### Planted defects: `([^`]+)`", text)
        if heading:
            section = heading.group(1)
            continue
        row = re.match(r"^\| [\w.]+ \| (\d+|–) \| `([a-z-]+)` \| .* \| (\S+) \| \S+ \|$", text)
        if row and section:
            line = 0 if row.group(1) == "–" else int(row.group(1))
            related = () if row.group(3) == "–" else tuple(row.group(3).split(","))
            rows.append((section, line, row.group(2), related))
    return sorted(rows)


def at_entries(manifest: list[dict[str, Any]], check: str) -> list[dict[str, Any]]:
    return [d for d in manifest if d["check"] == check and "related" in d]


def tool_call_problems(rec: dict[str, Any], schemas: dict[str, Any]) -> list[str]:
    problems = []
    for m in rec["messages"]:
        for call in m.get("tool_calls") or []:
            fn = call["function"]
            if fn["name"] not in schemas:
                problems.append(f"unknown tool {fn['name']}")
                continue
            try:
                args = json.loads(fn["arguments"])
            except json.JSONDecodeError:
                problems.append("arguments not JSON")
                continue
            errs = list(jsonschema.Draft202012Validator(schemas[fn["name"]]).iter_errors(args))
            problems += [e.message for e in errs]
    return problems


def orphan_calls(rec: dict[str, Any]) -> list[str]:
    answered = {m["tool_call_id"] for m in rec["messages"] if m["role"] == "tool"}
    called = [c["id"] for m in rec["messages"] for c in m.get("tool_calls") or []]
    stray = answered - set(called)
    return [c for c in called if c not in answered] + sorted(stray)


if __name__ == "__main__":
    sys.exit(main())
