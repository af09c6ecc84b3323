"""Write a seeded, realistic OpenAI-chat JSONL for the benchmark, and a manifest of what was planted.

Usage: python bench/generate.py --n 100000 [--seed 0] [-o bench/data/chat_100k.jsonl]

Texts come from two word-bigram chains (one for user turns, one for assistant turns) trained at
start-up on the real instruction datasets in ../shared/datasets, read in place; many chains walk
in parallel with numpy, and every text is cut at a sentence end. Distinct examples therefore share
vocabulary and phrasing but almost no word 5-grams. Into that background the generator plants, at
positions fixed up front from the seed: ~1 % exact copies of an earlier line, ~1 % near-copies
(a few words substituted or inserted), ~3 % PII (an email, a phone number or a Luhn-valid card
number in a user or assistant turn) and a few broken lines. `<output>.manifest.json` lists every
planted line (1-based) with its source line, edit count and word 5-gram Jaccard, PII type and
value, so a run's recall can be scored against it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import orjson

BENCH = Path(__file__).resolve().parent
DEFAULT_CORPUS = BENCH.parents[1] / "shared" / "datasets"
CHUNK = 20_000
PARALLEL_CHAINS = 16_384
EARLIEST_PLANT = 50  # a copy needs earlier lines to copy from
RESERVOIR = 20_000  # earlier lines kept as copy sources, so copies land far from their source

SHARE_EXACT = 0.01
SHARE_NEAR = 0.01
SHARE_PII = 0.03
SHAPES = ("single", "multi", "tool")
SHAPE_WEIGHTS = (0.80, 0.15, 0.05)
SYSTEM_SHARE = 0.92

# Turn lengths in chain tokens (words with their punctuation), before cutting at a sentence
# end. Calibrated so that user + assistant text averages ~900 characters per example.
USER_TOKENS = (29.0, 0.7)  # lognormal median, sigma
ASSISTANT_TOKENS = (90.0, 0.6)
MULTI_TURN_SCALE = 0.55  # each exchange of a multi-turn example is shorter
MIN_TOKENS = 6
MAX_TOKENS = 1_500

# Scrubbed from the training text so the only PII in the output is what the manifest lists.
_SCRUB = re.compile(
    r"\S+@\S+|https?://\S+|www\.\S+|\d[\d ().-]{5,}\d|<<[^>]*>>",
)
_TOKEN = re.compile(r"\S+\n*")
_WORD = re.compile(r"\w+")
_INLINE_FENCE = re.compile(r"(?<!\n)[ \t]*```")


# --------------------------------------------------------------------------- training text


def _read_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def _read_jsonl(path: Path) -> list[Any]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def load_corpus(root: Path) -> tuple[list[str], list[str]]:
    """User-side and assistant-side texts of the instruction datasets under `root`."""
    users: list[str] = []
    answers: list[str] = []

    def joined(*parts: str) -> str:
        return "\n\n".join(p for p in parts if p)

    for r in _read_json(root / "instruct/fastchat/alpaca_data_cleaned_1000.json"):
        users.append(joined(r["instruction"], r["input"]))
        answers.append(r["output"])
    for r in _read_json(root / "leakage/alpaca_eval/alpaca_eval_805_example_outputs.json"):
        users.append(r["instruction"])
        answers.append(r["output"])
    for path in ("leakage/self_instruct/user_oriented_instructions.jsonl", "instruct/stanford_alpaca/seed_tasks.jsonl"):
        for r in _read_jsonl(root / path):
            for inst in r["instances"]:
                users.append(joined(r["instruction"], inst["input"]))
                answers.append(inst["output"])
    # GSM8K alone is larger than all the rest; a share of it keeps the text from being mostly arithmetic.
    for r in _read_jsonl(root / "leakage/gsm8k/train.jsonl")[:1_500]:
        users.append(r["question"])
        body, _, final = r["answer"].rpartition("####")
        answers.append(f"{body.strip()}\nThe answer is {final.strip()}.")
    for r in _read_jsonl(root / "leakage/fastchat/vicuna_bench_question.jsonl"):
        users.extend(r["turns"])

    def walk(node: dict) -> None:
        (users if node["role"] == "prompter" else answers).append(node["text"])
        for child in node.get("replies", ()):
            walk(child)

    for tree in _read_jsonl(root / "instruct/open_assistant/en_100_tree.jsonl"):
        walk(tree["prompt"])
    return users, answers


def _clean(text: str) -> str:
    text = _SCRUB.sub("", text.replace("\r\n", "\n"))
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --------------------------------------------------------------------------- bigram chain


class Chain:
    """A word-bigram chain walked by many independent walkers at once."""

    def __init__(self, texts: Iterable[str]) -> None:
        tokens: list[str] = []
        for text in texts:
            cleaned = _clean(text)
            if cleaned:
                # Each text ends a sentence, so the walk passes from one text into the next at a break.
                found = _TOKEN.findall(cleaned)
                if not found[-1].endswith((".", "?", "!")):
                    found[-1] += "."
                tokens.extend(found)
        vocab, ids = np.unique(np.array(tokens, dtype=object), return_inverse=True)
        self.words: list[str] = [str(w) for w in vocab]
        size = len(self.words)
        following = np.roll(ids, -1).astype(np.int32)  # the last token wraps to the first: every state has a successor
        # Every observed successor of state s, with repeats, sits in next_table[first[s] : first[s] + count[s]]:
        # a uniform pick from that run is an exact draw from the bigram distribution, in O(1) per walker.
        self.next_table = following[np.argsort(ids, kind="stable")]
        self.count = np.bincount(ids, minlength=size)
        self.first = np.cumsum(self.count) - self.count
        self.unigram_cdf = np.cumsum(self.count) / len(ids)
        self.unigram_cdf[-1] = 1.0
        # Rendered pieces: a word carries its own separator, a token ending in newlines does not need one.
        self.pieces = np.array([w if w.endswith("\n") else w + " " for w in self.words], dtype=object)
        self.piece_len = np.array([len(p) for p in self.pieces], dtype=np.int64)
        # Texts end only after sentence punctuation: a text ending on a bare line break reads as cut off.
        self.is_break = np.array([w.rstrip("\n").endswith((".", "?", "!")) for w in self.words])
        # Walkers start on a sentence end, so the first text of a walk starts a sentence too.
        self.break_ids = ids[self.is_break[ids]].astype(np.int32)

    def walk(self, rng: np.random.Generator, tokens: int) -> np.ndarray:
        """At least `tokens` token ids: PARALLEL_CHAINS walks laid end to end."""
        steps = -(-tokens // PARALLEL_CHAINS)
        out = np.empty((steps, PARALLEL_CHAINS), dtype=np.int32)
        state = self.break_ids[rng.integers(len(self.break_ids), size=PARALLEL_CHAINS)]
        for step in range(steps):
            pick = (rng.random(PARALLEL_CHAINS) * self.count[state]).astype(np.int64)
            state = self.next_table[self.first[state] + pick]
            out[step] = state
        return out.T.ravel()

    def texts(self, rng: np.random.Generator, lengths: np.ndarray) -> list[str]:
        """One text per entry of `lengths` (tokens); every text ends at a sentence end."""
        ids = self.walk(rng, int(lengths.sum() * 1.1) + 10_000)
        while (stops := self._stops(ids, lengths)) is None:
            ids = np.concatenate((ids, self.walk(rng, len(ids) // 4 + 10_000)))
        joined = "".join(self.pieces[ids[: stops[-1]]].tolist())
        offsets = np.concatenate(([0], np.cumsum(self.piece_len[ids[: stops[-1]]])))[stops].tolist()
        texts = [joined[a:b].strip() for a, b in zip([0] + offsets[:-1], offsets)]
        return [_fix_fences(t) if "```" in t else t for t in texts]

    def _stops(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
        """Token positions ending each text: the first sentence end at or past each running total."""
        ends = np.flatnonzero(self.is_break[ids]) + 1
        at = np.searchsorted(ends, np.cumsum(lengths))
        while True:
            if at[-1] >= len(ends):
                return None
            # Two totals inside one sentence would give an empty text: push the later one a sentence on.
            clash = np.flatnonzero(at[1:] <= at[:-1]) + 1
            if not clash.size:
                return ends[at]
            at[clash] = at[clash - 1] + 1


def _fix_fences(text: str) -> str:
    """Fences on lines of their own, and closed: the chain opens fences it never closes."""
    text = _INLINE_FENCE.sub("\n```", text).lstrip()
    return text + "\n```" if text.count("```") % 2 else text


# --------------------------------------------------------------------------- fixed pools

FIRST = "james mary robert patricia john jennifer michael linda david elizabeth william barbara richard susan joseph jessica thomas sarah carlos maria wei fatima amir priya kenji olga lucas emma noah ingrid".split()
LAST = "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez wilson anderson taylor thomas moore jackson martin lee nguyen patel kim schmidt rossi novak tanaka okafor".split()
MAIL_DOMAINS = "gmail.com outlook.com yahoo.com icloud.com proton.me hotmail.co.uk gmx.de fastmail.fm".split()
COMPANIES = "Northwind Contoso Brightline Aperture Lumen Cobalt Harbor Meridian Quill Tessera Orbit Juniper".split()
INDUSTRIES = "retail bank,airline,telecom,insurance,online bookstore,software,hotel chain,energy".split(",")
LANGUAGES = "Python,TypeScript,Go,Rust,Java,SQL".split(",")
AREA_CODES = (212, 213, 303, 305, 312, 404, 415, 503, 512, 602, 617, 646, 702, 713, 718, 206, 214, 305, 410, 720)
CITIES = "Paris,Berlin,Tokyo,Chicago,Lagos,Lima,Toronto,Madrid,Seoul,Austin,Oslo,Nairobi".split(",")
CURRENCIES = "USD EUR GBP JPY CAD CHF INR BRL".split()

SYSTEM_TEMPLATES = (
    "You are a helpful assistant.",
    "You are a helpful, honest and harmless assistant. Answer the user's question as well as you can.",
    "You are the customer support assistant for {company}, a {industry} company. Be polite and concise, and never promise a refund you cannot authorise.",
    "You are a senior {language} developer. Explain your reasoning step by step and include code when it helps.",
    "You are a patient maths tutor. Show your working before you give the final answer.",
    "You are a travel assistant for {company}. Suggest options that fit the customer's budget and dates.",
    "You are an editor. Rewrite the user's text so it is clear and concise, and keep its meaning.",
    "You are a knowledgeable assistant. If you are not sure of an answer, say so rather than guessing.",
    "You answer questions for employees of {company}. Keep answers short and point to the relevant policy when you can.",
)
CARD_PREFIXES = (("4", 16), ("51", 16), ("53", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16))

TOOLS: dict[str, dict[str, Any]] = {
    "get_weather": {
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]},
    },
    "get_order_status": {
        "description": "Shipping status of an order.",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
    },
    "convert_currency": {
        "description": "Convert an amount between two currencies at today's rate.",
        "parameters": {"type": "object", "properties": {"amount": {"type": "number"}, "from": {"type": "string"}, "to": {"type": "string"}}, "required": ["amount", "from", "to"]},
    },
    "search_docs": {
        "description": "Search the product documentation.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}}, "required": ["query"]},
    },
}


def _system_prompts(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Forty system prompts with Zipf-like weights: a few dominate, as in real fine-tuning sets."""
    prompts = ["You are a helpful assistant."]
    while len(prompts) < 40:
        template = SYSTEM_TEMPLATES[rng.integers(1, len(SYSTEM_TEMPLATES))]
        prompt = template.format(
            company=COMPANIES[rng.integers(len(COMPANIES))],
            industry=INDUSTRIES[rng.integers(len(INDUSTRIES))],
            language=LANGUAGES[rng.integers(len(LANGUAGES))],
        )
        if prompt not in prompts:
            prompts.append(prompt)
    weights = 1.0 / np.arange(1, len(prompts) + 1)
    return prompts, weights / weights.sum()


# --------------------------------------------------------------------------- PII


def luhn_complete(prefix_and_body: str) -> str:
    """Append the Luhn check digit to a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(prefix_and_body)):
        d = int(ch)
        if i % 2 == 0:  # doubled: these sit at odd positions once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return prefix_and_body + str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = sum(digits[-1::-2]) + sum(d * 2 - 9 if d > 4 else d * 2 for d in digits[-2::-2])
    return total % 10 == 0


def _digits(r: random.Random, n: int) -> str:
    return "".join(r.choices(string.digits, k=n))


def make_card(r: random.Random) -> str:
    prefix, length = r.choice(CARD_PREFIXES)
    number = luhn_complete(prefix + _digits(r, length - len(prefix) - 1))
    style = r.randrange(3)
    if style == 0:
        return number
    sep = " " if style == 1 else "-"
    groups = (4, 6, 5) if length == 15 else (4, 4, 4, 4)
    out, i = [], 0
    for g in groups:
        out.append(number[i : i + g])
        i += g
    return sep.join(out)


def make_phone(r: random.Random) -> str:
    exchange = r.randrange(200, 1000)
    if exchange % 100 == 11:  # N11 codes are service numbers, not subscriber exchanges
        exchange += 1
    area = r.choice(AREA_CODES)
    line = _digits(r, 4)
    style = r.randrange(6)
    if style == 0:
        return f"({area}) {exchange}-{line}"
    if style == 1:
        return f"+1 {area}-{exchange}-{line}"
    if style == 2:
        return f"{area}.{exchange}.{line}"
    if style == 3:
        return f"{area}-{exchange}-{line}"
    if style == 4:
        return f"+44 20 7946 {_digits(r, 4)}"
    return f"+49 30 {_digits(r, 8)}"


def make_email(r: random.Random) -> str:
    first, last = r.choice(FIRST), r.choice(LAST)
    local = (f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{r.randrange(1, 99)}", f"{last}.{first}")[r.randrange(4)]
    domain = r.choice(MAIL_DOMAINS) if r.random() < 0.7 else f"{r.choice(COMPANIES).lower()}.com"
    return f"{local}@{domain}"


PII_SENTENCES = {
    "EMAIL_ADDRESS": ("You can reach me at {v} if anything is unclear.", "Please send the confirmation to {v}.", "My email is {v}."),
    "PHONE_NUMBER": ("Call me on {v} after six.", "The office number is {v}.", "If it is urgent, text {v}."),
    "CREDIT_CARD": ("The card I used was {v}, expiry 09/27.", "Please charge {v} for the upgrade.", "My card number is {v}."),
}
TOOL_NAMES = tuple(TOOLS)
PII_MAKERS = {"EMAIL_ADDRESS": make_email, "PHONE_NUMBER": make_phone, "CREDIT_CARD": make_card}


# --------------------------------------------------------------------------- plan and records


@dataclass
class Manifest:
    """What was planted where (lines are 1-based, as editors and tunelint number them)."""

    seed: int
    lines: int
    exact_duplicates: list[dict[str, int]] = field(default_factory=list)
    near_duplicates: list[dict[str, Any]] = field(default_factory=list)
    pii: list[dict[str, Any]] = field(default_factory=list)
    broken: list[dict[str, Any]] = field(default_factory=list)
    shapes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SHAPES, 0))
    text_chars: int = 0
    text_examples: int = 0


ORIGINAL, EXACT, NEAR, PII, BROKEN = range(5)
BROKEN_KINDS = ("truncated-json", "not-json", "missing-assistant", "empty-assistant")


def plan_lines(n: int, rng: np.random.Generator) -> np.ndarray:
    """The role of every line, fixed before any text is written."""
    plan = np.zeros(n, dtype=np.int8)
    order = rng.permutation(np.arange(EARLIEST_PLANT, n))
    counts = (round(n * SHARE_EXACT), round(n * SHARE_NEAR), round(n * SHARE_PII), max(4, n // 20_000))
    start = 0
    for role, count in zip((EXACT, NEAR, PII, BROKEN), counts):
        plan[order[start : start + count]] = role
        start += count
    return plan


def words_of(record: dict) -> list[str]:
    """Lower-cased words of the user and assistant turns: what the manifest's Jaccard is over."""
    text = " ".join(
        m["content"] for m in record["messages"] if m["role"] in ("user", "assistant") and isinstance(m.get("content"), str)
    )
    return _WORD.findall(text.lower())


def shingles(words: list[str], n: int = 5) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class Generator:
    """Writes the file chunk by chunk; holds only the current chunk and a reservoir of sources."""

    def __init__(self, n: int, seed: int, corpus: Path) -> None:
        self.rng = np.random.default_rng(seed)
        # Scalar draws (one per planted line or tool call) from Python's generator: numpy's
        # costs microseconds per scalar call, which adds up over a million lines.
        self.r = random.Random(int(self.rng.integers(1 << 62)))
        users, answers = load_corpus(corpus)
        self.user_chain = Chain(users)
        self.assistant_chain = Chain(answers)
        self.systems, self.system_weights = _system_prompts(self.rng)
        self.plan = plan_lines(n, self.rng)
        self.manifest = Manifest(seed=seed, lines=n)
        self.reservoir: list[tuple[int, bytes]] = []  # (0-based line, serialised record)
        self.seen_sources = 0

    # -- texts

    def _lengths(self, count: int, spec: tuple[float, float], scale: np.ndarray | float = 1.0) -> np.ndarray:
        median, sigma = spec
        raw = np.exp(self.rng.normal(np.log(median), sigma, size=count)) * scale
        return np.clip(raw, MIN_TOKENS, MAX_TOKENS).astype(np.int64)

    def _shapes(self, count: int) -> list[str]:
        return [SHAPES[i] for i in self.rng.choice(len(SHAPES), size=count, p=SHAPE_WEIGHTS)]

    def build_records(self, count: int) -> list[dict]:
        """`count` fresh records of mixed shapes, their texts drawn in bulk from the chains."""
        shapes = self._shapes(count)
        exchanges = [1 if s != "multi" else self.r.randrange(2, 5) for s in shapes]
        turns = int(sum(exchanges))
        scale = np.repeat([MULTI_TURN_SCALE if e > 1 else 1.0 for e in exchanges], exchanges)
        user_texts = iter(self.user_chain.texts(self.rng, self._lengths(turns, USER_TOKENS, scale)))
        answer_texts = iter(self.assistant_chain.texts(self.rng, self._lengths(turns, ASSISTANT_TOKENS, scale)))
        has_system = self.rng.random(count) < SYSTEM_SHARE
        system_ids = self.rng.choice(len(self.systems), size=count, p=self.system_weights)
        records = []
        for i, shape in enumerate(shapes):
            messages: list[dict[str, Any]] = []
            if has_system[i]:
                messages.append({"role": "system", "content": self.systems[system_ids[i]]})
            record: dict[str, Any] = {"messages": messages}
            if shape == "tool":
                self._tool_exchange(record, next(user_texts), next(answer_texts))
            else:
                for _ in range(exchanges[i]):
                    messages.append({"role": "user", "content": next(user_texts)})
                    messages.append({"role": "assistant", "content": next(answer_texts)})
            records.append(record)
            self.manifest.shapes[shape] += 1
        return records

    def _tool_exchange(self, record: dict, question: str, answer: str) -> None:
        r = self.r
        name = r.choice(TOOL_NAMES)
        city, amount = r.choice(CITIES), r.randrange(5, 5000)
        src, dst = r.sample(CURRENCIES, 2)
        order = f"{''.join(r.choices(string.ascii_uppercase, k=2))}-{r.randrange(10_000, 99_999)}"
        ask, args, result, told = {
            "get_weather": (f"Also, what's the weather like in {city} right now?", {"city": city, "unit": "celsius"},
                            {"city": city, "temperature": r.randrange(-10, 35), "conditions": "light rain"},
                            f"It is currently light rain in {city}."),
            "get_order_status": (f"Where is my order {order}?", {"order_id": order},
                                 {"order_id": order, "status": "in transit", "eta_days": r.randrange(1, 6)},
                                 f"Your order {order} is in transit."),
            "convert_currency": (f"How much is {amount} {src} in {dst}?", {"amount": amount, "from": src, "to": dst},
                                 {"amount": amount, "from": src, "to": dst, "result": round(amount * r.uniform(0.5, 1.6), 2)},
                                 f"Here is the conversion of {amount} {src} to {dst}."),
            "search_docs": ("Can you look this up in the documentation?", {"query": question[:60], "limit": 3},
                            {"results": [{"title": "Getting started", "score": 0.82}]},
                            "I found a relevant page in the documentation."),
        }[name]
        call_id = "call_" + "".join(r.choices(string.ascii_letters + string.digits, k=24))
        record["tools"] = [{"type": "function", "function": {"name": name, **TOOLS[name]}}]
        record["messages"] += [
            {"role": "user", "content": f"{question} {ask}"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]},
            {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)},
            {"role": "assistant", "content": f"{told} {answer}"},
        ]

    # -- planted defects

    def _plant_pii(self, record: dict, line: int) -> None:
        r = self.r
        kind = r.choice(("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"))
        value = PII_MAKERS[kind](r)
        sentence = r.choice(PII_SENTENCES[kind]).format(v=value)
        targets = [i for i, m in enumerate(record["messages"]) if m["role"] in ("user", "assistant") and isinstance(m.get("content"), str)]
        # Users volunteer their details more often than assistants repeat them.
        users = [i for i in targets if record["messages"][i]["role"] == "user"]
        index = r.choice(users) if r.random() < 0.7 else r.choice(targets)
        message = record["messages"][index]
        cuts = [m.end() for m in re.finditer(r"[.?!]\s", message["content"])]
        at = r.choice(cuts) if cuts else len(message["content"])
        before, after = message["content"][:at].rstrip(), message["content"][at:].lstrip()
        message["content"] = " ".join(p for p in (before, sentence, after) if p)
        self.manifest.pii.append({"line": line + 1, "type": kind, "value": value, "message": index, "role": message["role"]})

    def _break(self, record: dict, line: int) -> bytes:
        kind = BROKEN_KINDS[len(self.manifest.broken) % len(BROKEN_KINDS)]
        messages = record["messages"]
        if kind == "missing-assistant":
            record["messages"] = [m for m in messages if m["role"] in ("system", "user")][:2]
        elif kind == "empty-assistant":
            next(m for m in reversed(messages) if m["role"] == "assistant")["content"] = "   "
        data = orjson.dumps(record)
        if kind == "truncated-json":
            data = data[: int(len(data) * self.r.uniform(0.3, 0.9))]
        elif kind == "not-json":
            data = repr(record).encode()  # single quotes, None: Python's repr, not JSON
        self.manifest.broken.append({"line": line + 1, "kind": kind})
        return data

    def _source(self, line: int, chunk_lines: list[tuple[int, bytes]]) -> tuple[int, bytes]:
        """An earlier clean line to copy: half from this chunk, half from the reservoir."""
        earlier = bisect_left(chunk_lines, (line,))
        if self.reservoir and (not earlier or self.r.random() < 0.5):
            return self.r.choice(self.reservoir)
        return chunk_lines[self.r.randrange(earlier)]

    def _near_copy(self, source: bytes, line: int, source_line: int) -> bytes:
        r = self.r
        record = orjson.loads(source)
        original = shingles(words_of(record))
        slots = [(i, m) for i, m in enumerate(record["messages"]) if m["role"] in ("user", "assistant") and isinstance(m.get("content"), str)]
        parts = {i: re.split(r"(\s+)", m["content"]) for i, m in slots}
        positions = [(i, p) for i, ps in parts.items() for p in range(0, len(ps), 2) if ps[p]]
        edits = max(1, round(len(positions) * r.uniform(0.005, 0.02)))
        chain = self.assistant_chain
        for i, p in r.sample(positions, min(edits, len(positions))):
            before = _WORD.findall(parts[i][p].lower())
            word = parts[i][p]
            # An edit must change the words themselves, not only case or punctuation.
            while _WORD.findall(word.lower()) in (before, []):
                word = chain.words[np.searchsorted(chain.unigram_cdf, r.random(), side="right")].strip()
            parts[i][p] = word if r.random() < 0.75 else f"{parts[i][p]} {word}"
        for i, m in slots:
            m["content"] = "".join(parts[i])
        score = jaccard(original, shingles(words_of(record)))
        self.manifest.near_duplicates.append({"line": line + 1, "source": source_line + 1, "edits": int(edits), "jaccard": round(score, 4)})
        return orjson.dumps(record)

    # -- the file

    def chunk(self, start: int, stop: int) -> list[bytes]:
        plan = self.plan[start:stop]
        fresh = np.flatnonzero(np.isin(plan, (ORIGINAL, PII, BROKEN)))
        records = self.build_records(len(fresh))
        out: list[bytes | None] = [None] * (stop - start)
        clean: list[tuple[int, bytes]] = []
        for offset, record in zip(fresh.tolist(), records):
            line = start + offset
            self.manifest.text_examples += 1
            if plan[offset] == PII:
                self._plant_pii(record, line)
            if plan[offset] == BROKEN:
                out[offset] = self._break(record, line)
                continue
            self.manifest.text_chars += sum(len(w) for w in _texts(record))
            data = orjson.dumps(record)
            out[offset] = data
            if plan[offset] == ORIGINAL:
                clean.append((line, data))
        for offset in np.flatnonzero(np.isin(plan, (EXACT, NEAR))).tolist():
            line = start + offset
            source_line, source = self._source(line, clean)
            if plan[offset] == EXACT:
                out[offset] = source
                self.manifest.exact_duplicates.append({"line": line + 1, "source": source_line + 1})
            else:
                out[offset] = self._near_copy(source, line, source_line)
        self._refill_reservoir(clean)
        return out  # type: ignore[return-value]

    def _refill_reservoir(self, clean: list[tuple[int, bytes]]) -> None:
        # Reservoir sampling (Vitter's algorithm R) over every clean original seen so far.
        for item in clean:
            self.seen_sources += 1
            if len(self.reservoir) < RESERVOIR:
                self.reservoir.append(item)
            else:
                j = self.r.randrange(self.seen_sources)
                if j < RESERVOIR:
                    self.reservoir[j] = item

    def write(self, path: Path) -> None:
        n = len(self.plan)
        with path.open("wb") as fh:
            for start in range(0, n, CHUNK):
                lines = self.chunk(start, min(n, start + CHUNK))
                fh.write(b"\n".join(lines) + b"\n")
        self.manifest.exact_duplicates.sort(key=lambda d: d["line"])
        self.manifest.near_duplicates.sort(key=lambda d: d["line"])


def _texts(record: dict) -> Iterator[str]:
    for m in record["messages"]:
        if m["role"] in ("user", "assistant") and isinstance(m.get("content"), str):
            yield m["content"]


def background_overlap(path: Path, plan: np.ndarray, sample: int, rng: np.random.Generator) -> dict[str, Any]:
    """Word 5-gram Jaccard among a sample of original lines: every pair sharing a 5-gram is scored."""
    originals = np.flatnonzero(plan == ORIGINAL)
    picked = set(rng.choice(originals, size=min(sample, len(originals)), replace=False).tolist())
    sets: list[set] = []
    lines: list[int] = []
    with path.open("rb") as fh:
        for i, line in enumerate(fh):
            if i in picked:
                sets.append(shingles(words_of(orjson.loads(line))))
                lines.append(i + 1)
    index: dict[tuple[str, ...], list[int]] = {}
    for k, s in enumerate(sets):
        for g in s:
            index.setdefault(g, []).append(k)
    pairs: set[tuple[int, int]] = set()
    for members in index.values():
        if 1 < len(members) <= 200:  # a 5-gram in hundreds of texts is boilerplate, not a pair
            pairs.update((a, b) for x, a in enumerate(members) for b in members[x + 1 :])
    scored = sorted(((jaccard(sets[a], sets[b]), lines[a], lines[b]) for a, b in pairs), reverse=True)
    scores = [s for s, _, _ in scored]
    return {
        "sample": len(sets),
        "pairs": len(sets) * (len(sets) - 1) // 2,
        "pairs_sharing_a_5gram": len(scores),
        "max_jaccard": round(scores[0], 4) if scores else 0.0,
        "pairs_over_0.1": sum(s > 0.1 for s in scores),
        "top_pairs": [{"lines": [a, b], "jaccard": round(s, 4)} for s, a, b in scored[:5]],
    }


def manifest_path(data: Path) -> Path:
    return data.with_name(data.name.removesuffix(".jsonl") + ".manifest.json")


def _size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of lines (10000, 100000, 1000000, ...)")
    parser.add_argument("-o", "--output", type=Path, help="default: bench/data/chat_<n>.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the shared datasets directory the chains learn from")
    parser.add_argument("--overlap-sample", type=int, default=2000, help="originals scored pairwise for background overlap (0: skip)")
    args = parser.parse_args(argv)
    if args.n < 1000:
        parser.error("--n must be at least 1000")
    if not (args.corpus / "instruct").is_dir():
        parser.error(f"--corpus {args.corpus}: not the shared datasets directory (it needs instruct/, leakage/)")
    output = args.output or BENCH / "data" / f"chat_{_size_label(args.n)}.jsonl"
    output.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    gen = Generator(args.n, args.seed, args.corpus)
    t1 = time.perf_counter()
    gen.write(output)
    t2 = time.perf_counter()
    m = gen.manifest
    summary: dict[str, Any] = {
        "data": output.name,
        "seed": m.seed,
        "lines": m.lines,
        "bytes": output.stat().st_size,
        "line_numbers": "1-based",
        "jaccard": "word 5-grams of the lower-cased \\w+ words of the user and assistant turns",
        "shapes": m.shapes,
        "text_chars_per_example": round(m.text_chars / max(1, m.text_examples - len(m.broken)), 1),
        "counts": {
            "exact_duplicates": len(m.exact_duplicates),
            "near_duplicates": len(m.near_duplicates),
            "pii": len(m.pii),
            "broken": len(m.broken),
        },
        "seconds": {"train_chains": round(t1 - t0, 2), "write": round(t2 - t1, 2)},
    }
    if args.overlap_sample:
        summary["background_overlap"] = background_overlap(output, gen.plan, args.overlap_sample, np.random.default_rng(args.seed + 1))
    print(json.dumps(summary, indent=2))
    summary |= {"exact_duplicates": m.exact_duplicates, "near_duplicates": m.near_duplicates, "pii": m.pii, "broken": m.broken}
    manifest_path(output).write_bytes(orjson.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
