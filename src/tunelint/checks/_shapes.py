"""Shapes of outputs (JSON with keys, a final answer line, a field template, a list, code, text)
and cheap derived classes (refusal, language), shared by output-format-drift and refusal-rate."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

import orjson

from tunelint.models import Example
from tunelint.textscan import fold

if TYPE_CHECKING:  # pragma: no cover
    from tunelint.checks._batch import Batch

_FENCE = re.compile(r"^```[\w-]*\s*\n(.*?)\n?```\s*$", re.S)
_ANSWER_LINE = re.compile(r"^\s*(####|(?:final\s+)?answer\s*[:：]|the (?:final )?answer is\b)", re.I)
_FIELD_LINE = re.compile(r"^\s*([A-Z][A-Za-z ]{0,30}?)\s*:\s*\S")
_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+\S")


def output_shapes(batch: "Batch") -> list[tuple[str, str]]:
    """`output_shape` of every example of a batch, computed once for the checks sharing it."""
    return batch.cached("output_shapes", lambda b: [output_shape(e) for e in b.examples])


def output_shape(example: Example) -> tuple[str, str]:
    """(family, detail) of the final assistant output, e.g. ("json-object", "keys: answer, reason")."""
    turn = example.final_assistant
    if turn is None:
        return ("none", "")
    text = turn.content.strip()
    if not text and turn.tool_calls:
        return ("tool-call", ", ".join(sorted({c.name for c in turn.tool_calls})))
    if not text:
        return ("empty", "")
    fenced = _FENCE.match(text)
    body = fenced.group(1).strip() if fenced else text
    if body[:1] in "{[":
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return ("broken-json", "")
        if isinstance(value, dict):
            return ("json-object", "keys: " + ", ".join(sorted(map(str, value))))
        if isinstance(value, list):
            return ("json-array", "")
    lines = list(filter(str.strip, text.splitlines()))
    if lines and _ANSWER_LINE.match(lines[-1]):
        return ("final-answer-line", _ANSWER_LINE.match(lines[-1]).group(1).lower())
    # A field line holds a colon: with fewer than two in the text, there are not two fields.
    fields = [m.group(1).strip() for line in lines if ":" in line and (m := _FIELD_LINE.match(line))] if text.count(":") >= 2 else ()
    if len(fields) >= 2 and len(fields) >= len(lines) / 2:
        return ("field-template", "fields: " + ", ".join(fields))
    if "```" in text:
        return ("code", "")
    if len(list(filter(_LIST_LINE.match, lines))) >= 2:
        return ("list", "")
    return ("text", "")


_REFUSAL_PARTS = (
    r"^\W*(?:i'?m sorry|i am sorry|sorry|i apologi[sz]e|unfortunately)\b[^.!?\n]{0,40}?"
    r"\b(?:can ?not|can't|cannot|won't|will not|unable|not able|not allowed|not comfortable)\b",
    r"^\W*(?:i|we)\s+(?:can ?not|can't|cannot|won't|will not|am unable to|'m unable to|am not able to|'m not able to|"
    r"must decline|have to decline|refuse to)\b",
    r"\bas an ai(?: language model| assistant| model)?\b[^.!?\n]{0,60}?\b(?:can ?not|can't|cannot|don't|do not|unable|not able)\b",
    r"^\W*as an ai(?: language model)?\b",
)
_REFUSALS = re.compile("|".join(_REFUSAL_PARTS), re.I)
# The same split for speed: three alternatives are anchored at the start (no MULTILINE, so a
# search only tries position 0 and `match` answers the same), the other needs "as an ai".
_REFUSAL_START = re.compile("|".join(p for p in _REFUSAL_PARTS if p.startswith("^")), re.I)
_REFUSAL_AI = re.compile("|".join(p for p in _REFUSAL_PARTS if not p.startswith("^")), re.I)


def is_refusal(text: str) -> bool:
    """The output declines the request ("I can't help with that", "As an AI, I cannot …")."""
    head = text.strip()[:300].replace("\u2019", "'")
    if _REFUSAL_START.match(head) is not None:
        return True
    return "as an ai" in fold(head) and _REFUSAL_AI.search(head) is not None


_STOPWORDS = {
    "en": {"the", "and", "is", "to", "of", "you", "it", "that", "for", "in", "your", "this", "with", "are",
           "a", "i", "was", "be", "have", "not", "on", "my", "he", "she", "they", "what", "can", "do"},
    "es": {"el", "la", "de", "que", "y", "en", "los", "las", "por", "para", "con", "una", "es", "su"},
    "fr": {"le", "la", "les", "de", "et", "est", "vous", "une", "des", "pour", "que", "dans", "pas", "du"},
    "de": {"der", "die", "und", "ist", "nicht", "sie", "das", "ein", "eine", "zu", "mit", "den", "ich", "sich"},
    "pt": {"o", "a", "de", "que", "e", "do", "da", "em", "um", "uma", "para", "não", "com", "os"},
    "it": {"il", "di", "che", "e", "la", "per", "un", "una", "non", "sono", "con", "del", "gli", "le"},
    "nl": {"de", "het", "een", "en", "van", "ik", "je", "niet", "dat", "is", "op", "te", "zijn", "met"},
}
_SCRIPTS = (
    ("CJK", "zh"), ("HIRAGANA", "ja"), ("KATAKANA", "ja"), ("HANGUL", "ko"), ("CYRILLIC", "cyrillic"),
    ("ARABIC", "ar"), ("HEBREW", "he"), ("GREEK", "el"), ("DEVANAGARI", "hi"), ("THAI", "th"),
)
_WORD = re.compile(r"[^\W\d_]+")
_WORD_CHAR = re.compile(r"[^\W\d_]").match


_ALL_STOP = frozenset().union(*_STOPWORDS.values())
# Each common word's languages as one int: bit 12 * i for the i-th language of _STOPWORDS.
_STOP_LANGS = {
    w: sum(1 << (12 * i) for i, stop in enumerate(_STOPWORDS.values()) if w in stop) for w in _ALL_STOP
}
# The same for words as ASCII bytes (ASCII text is split as bytes: several times faster).
_STOP_LANGS_BYTES = {w.encode("ascii"): bits for w, bits in _STOP_LANGS.items() if w.isascii()}
# bytes.translate table: A-Z lower-cased, a-z kept, every other byte a space.
_LOWER_LETTERS = bytes(c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 else 32 for c in range(256))
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII_LETTERS = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1))
_SCRIPT_OF: dict[str, str | None] = {}


def _script(ch: str) -> str | None:
    """The _SCRIPTS language of a non-ASCII letter, None for Latin and other scripts."""
    try:
        return _SCRIPT_OF[ch]
    except KeyError:
        pass
    name = unicodedata.name(ch, "")
    found = None
    for prefix, lang in _SCRIPTS:
        if name.startswith(prefix) or (prefix == "CJK" and "CJK" in name):
            found = lang
            break
    if len(_SCRIPT_OF) < 1 << 16:
        _SCRIPT_OF[ch] = found
    return found


def language(text: str) -> str:
    """A cheap guess of the language: the dominant script, and for Latin script the language
    whose common words occur most ("latin" when none stands out, "none" without letters)."""
    sample = text[:600]
    if sample.isascii():
        # Every letter is Latin, and the words are the runs of ASCII letters.
        words = sample.encode("ascii").translate(_LOWER_LETTERS).split()
        return _vote(words, _STOP_LANGS_BYTES) if words else "none"
    others = _NON_ASCII.findall(sample)
    if not any(map(_WORD_CHAR, others)):
        # No letter outside ASCII (curly quotes, dashes): as above, with those as separators.
        words = sample.encode("ascii", "replace").translate(_LOWER_LETTERS).split()
        return _vote(words, _STOP_LANGS_BYTES) if words else "none"
    scripts: dict[str, int] = {}
    ascii_part = sample.encode("ascii", "ignore")
    latin = len(ascii_part) - len(ascii_part.translate(None, _ASCII_LETTERS))
    for ch in others:
        if not ch.isalpha():
            continue
        lang = _script(ch)
        if lang is None:
            latin += 1
        else:
            scripts[lang] = scripts.get(lang, 0) + 1
    if not latin and not scripts:
        return "none"
    best_script = max(scripts.items(), key=lambda kv: kv[1]) if scripts else None
    if best_script and best_script[1] > latin:
        return "ja" if best_script[0] == "zh" and scripts.get("ja") else best_script[0]
    return _vote(list(map(str.lower, _WORD.findall(sample))), _STOP_LANGS)


def _vote(words: list, stop_langs: dict) -> str:
    """The Latin-script language whose common words occur most among `words` (lower-cased, str
    or ASCII bytes keyed as in `stop_langs`)."""
    # Each common word adds one to a 12-bit field per language it belongs to; a 600-character
    # sample has under 4096 words, so one sum in C counts every language's votes.
    packed = sum(map(stop_langs.__getitem__, filter(stop_langs.__contains__, words)))
    votes = {lang: (packed >> (12 * i)) & 0xFFF for i, lang in enumerate(_STOPWORDS)}
    # The language with most votes; on a tie English, else the first in _STOPWORDS order.
    score = max(votes.values())
    lang = "en" if votes["en"] == score else next(k for k, v in votes.items() if v == score)
    if lang != "en" and score < votes["en"] + 2:
        # Short function words ("a", "e", "o") are shared: another language must clearly win.
        lang, score = "en", votes["en"]
    return lang if score >= 2 or (score and len(words) < 8) else "latin"



# For `languages`: the ASCII common words as integers (byte j of the word at bits 8j, the length
# from bit 40; none is longer than 5 letters), sorted, and which languages hold each.
_MAX_STOP = max(map(len, _STOP_LANGS_BYTES))
assert _MAX_STOP <= 5


def _word_key(word: bytes) -> int:
    return sum(b << (8 * j) for j, b in enumerate(word)) | (len(word) << 40)


_STOP_KEYS = sorted((_word_key(w), w) for w in _STOP_LANGS_BYTES)
_STOP_KEY_ARRAY = None  # built on first use (numpy imported lazily)


def _stop_tables():
    global _STOP_KEY_ARRAY
    if _STOP_KEY_ARRAY is None:
        import numpy as np

        keys = np.array([k for k, _ in _STOP_KEYS], dtype=np.int64)
        member = np.array(
            [[bool(_STOP_LANGS_BYTES[w] >> (12 * i) & 1) for i in range(len(_STOPWORDS))] for _, w in _STOP_KEYS], dtype=bool
        )
        # A perfect hash: the smallest modulus under which the keys differ; `slot[key % modulus]`
        # is the key's index, -1 for the slots no key takes.
        modulus = next(m for m in range(len(keys), 1 << 20) if len({int(k) % m for k in keys}) == len(keys))
        slot = np.full(modulus, -1, dtype=np.int64)
        slot[keys % modulus] = np.arange(len(keys))
        masks = np.array([(1 << (8 * n)) - 1 for n in range(_MAX_STOP + 1)], dtype=np.uint64)
        _STOP_KEY_ARRAY = (keys, member, modulus, slot, masks)
    return _STOP_KEY_ARRAY


_LANGS = tuple(_STOPWORDS)
# A character outside ASCII that _WORD_CHAR matches (a letter of any script).
_NON_ASCII_LETTER = re.compile(r"[^\W\d_\x00-\x7f]")


def languages(texts: list[str]) -> list[str]:
    """`language(text)` of each text. The texts whose letters are all ASCII (most) are voted on
    together: their samples go into one byte buffer, and numpy finds the words (runs of letters
    once `_LOWER_LETTERS` has turned everything else into spaces), keys the short ones and counts
    each language's common words per sample. The others go through `language`."""
    import numpy as np

    out: list[str] = [""] * len(texts)
    plain: list[int] = []
    parts: list[bytes] = []
    for i, text in enumerate(texts):
        sample = text[:600]
        if sample.isascii():
            parts.append(sample.encode("ascii"))
        elif _NON_ASCII_LETTER.search(sample) is None:
            # No letter outside ASCII: `language` splits it as ASCII too.
            parts.append(sample.encode("ascii", "replace"))
        else:
            out[i] = language(text)
            continue
        plain.append(i)
    if not plain:
        return out
    n = len(parts)
    # Each sample followed by one space, so no word runs from one sample into the next; then
    # 7 more spaces, so that 8 bytes can be read from any word's start.
    joined = (b" ".join(parts) + b" " * 8).translate(_LOWER_LETTERS)
    buf = np.frombuffer(joined, dtype=np.uint8)
    letter = buf != 32
    edge = np.diff(letter.view(np.int8), prepend=np.int8(0))
    starts = np.flatnonzero(edge == 1)
    ends = np.flatnonzero(edge == -1)  # the space after each word
    length = ends - starts
    bounds = np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=n) + 1)
    first_word = np.searchsorted(starts, bounds)
    counts = np.diff(first_word, prepend=0)
    sample_of = np.repeat(np.arange(n), counts)
    short = np.flatnonzero(length <= _MAX_STOP)
    keys, member, modulus, slot, masks = _stop_tables()
    size = length[short]
    # The 8 bytes from each short word's start (little-endian), cut to the word: its key.
    windows = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=joined, strides=(1,))
    key = ((windows[starts[short]] & masks[size]) | (size.astype(np.uint64) << np.uint64(40))).astype(np.int64)
    pos = slot[key % modulus]
    hit = (pos >= 0) & (keys[pos] == key)
    owner = sample_of[short][hit]
    langs_of = member[pos[hit]]
    votes = np.stack([np.bincount(owner[langs_of[:, k]], minlength=n) for k in range(len(_LANGS))], axis=1)
    score = votes.max(axis=1)
    english = votes[:, 0]
    best = np.where(english == score, 0, votes.argmax(axis=1))
    # Another language must clearly win (see `_vote`).
    weak = (best != 0) & (score < english + 2)
    best[weak] = 0
    score = np.where(weak, english, score)
    for i, c, lang, sc in zip(plain, counts.tolist(), best.tolist(), score.tolist()):
        if not c:
            out[i] = "none"
        else:
            out[i] = _LANGS[lang] if sc >= 2 or (sc and c < 8) else "latin"
    return out
