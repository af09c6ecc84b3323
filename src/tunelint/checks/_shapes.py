"""Shapes of outputs (JSON with keys, a final answer line, a field template, a list, code, text)
and cheap derived classes (refusal, language), shared by output-format-drift and refusal-rate."""

from __future__ import annotations

import codecs
import re
import threading
import unicodedata
from typing import TYPE_CHECKING

import orjson

from tunelint.models import Example, Turn
from tunelint.textscan import fold

if TYPE_CHECKING:  # pragma: no cover
    from tunelint.checks._batch import Batch

_FENCE = re.compile(r"^```[\w-]*\s*\n(.*?)\n?```\s*$", re.S)
_ANSWER_LINE = re.compile(r"^\s*(####|(?:final\s+)?answer\s*[:：]|the (?:final )?answer is\b)", re.I)
_FIELD_LINE = re.compile(r"^\s*([A-Z][A-Za-z ]{0,30}?)\s*:\s*\S")
_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+\S")


def final_turns(batch: "Batch") -> list[Turn | None]:
    """`example.final_assistant` of every example of a batch, found once for the checks sharing it."""
    return batch.cached("final_assistants", _final_turns)


def _final_turns(batch: "Batch") -> list[Turn | None]:
    """`final_turns`, read off the batch's turn table (which the engine builds for every batch):
    each example's last turn with the assistant role."""
    import numpy as np

    from tunelint.checks._turns import ASSISTANT, table_of

    table = table_of(batch)
    at = table.at
    assistants = np.flatnonzero(table.roles == ASSISTANT)
    if not len(assistants):
        return [None] * len(batch.examples)
    # The last assistant turn before each example's end, if it is one of the example's turns.
    last = assistants[np.maximum(np.searchsorted(assistants, at[1:]) - 1, 0)]
    mine = (last >= at[:-1]) & (last < at[1:])
    flat = table.flat
    return [flat[j] if ok else None for j, ok in zip(last.tolist(), mine.tolist())]


def output_shapes(batch: "Batch") -> list[tuple[str, str]]:
    """`output_shape` of every example of a batch, computed once for the checks sharing it."""
    return batch.cached("output_shapes", lambda b: list(map(_turn_shape, final_turns(b))))


def output_shape(example: Example) -> tuple[str, str]:
    """(family, detail) of the final assistant output, e.g. ("json-object", "keys: answer, reason")."""
    return _turn_shape(example.final_assistant)


def _turn_shape(turn: Turn | None) -> tuple[str, str]:
    """`output_shape` of the example whose final assistant turn is `turn`."""
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
    # A field line holds a colon: a text with fewer colons than two, or than half its lines,
    # has too few field lines to be a template.
    colons = text.count(":")
    fields = [m.group(1).strip() for line in lines if ":" in line and (m := _FIELD_LINE.match(line))] if colons >= 2 and 2 * colons >= len(lines) else ()
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



# For `languages`: each ASCII common word as the integer of its bytes and the space after it,
# little-endian (a word of at most 7 letters ends at its space, so no two words share a key);
# sorted, with which languages hold each.
_MAX_STOP = max(map(len, _STOP_LANGS_BYTES))
assert _MAX_STOP <= 7


def _word_key(word: bytes) -> int:
    return int.from_bytes(word + b" ", "little")


_STOP_KEYS = sorted((_word_key(w), w) for w in _STOP_LANGS_BYTES)
_STOP_KEY_ARRAY = None  # built on first use (numpy imported lazily)
_VOTE_BITS = 9
assert len(_STOPWORDS) * _VOTE_BITS <= 64 and 600 // 2 < 1 << _VOTE_BITS


def _stop_tables():
    global _STOP_KEY_ARRAY
    if _STOP_KEY_ARRAY is None:
        import numpy as np

        keys = np.array([k for k, _ in _STOP_KEYS], dtype=np.uint64)
        # Each common word's languages, one bit in each language's 9-bit field.
        packed = np.array(
            [sum(1 << (_VOTE_BITS * i) for i in range(len(_STOPWORDS)) if _STOP_LANGS_BYTES[w] >> (12 * i) & 1) for _, w in _STOP_KEYS],
            dtype=np.uint64,
        )
        # A perfect hash: `(key * factor) >> shift` differs for every common word (the first odd
        # factor of a fixed sequence for which it does); `slot[hash]` is the key's index, -1 for
        # the slots no key takes. A multiply and a shift cost far less than a 64-bit modulo.
        bits = 11
        factor = next(
            f for f in ((0x9E3779B97F4A7C15 * (2 * i + 1)) % (1 << 64) | 1 for i in range(1 << 16))
            if len({((k * f) % (1 << 64)) >> (64 - bits) for k, _ in _STOP_KEYS}) == len(_STOP_KEYS)
        )
        slot = np.full(1 << bits, -1, dtype=np.int64)
        slot[(keys * np.uint64(factor)) >> np.uint64(64 - bits)] = np.arange(len(keys))
        _STOP_KEY_ARRAY = (keys, packed, np.uint64(factor), np.uint64(64 - bits), slot)
    return _STOP_KEY_ARRAY


class _Scratch(threading.local):
    """Arrays `languages` reuses from call to call (grown when a batch needs more): one per
    thread, so concurrent calls do not share them."""

    def __init__(self) -> None:
        self.size = 0
        self.flags = self.marks = None
        self.word_size = 0
        self._words = ()

    def grow(self, size: int) -> None:
        import numpy as np

        if size > self.size:
            self.size = max(size, 1 << 20)
            self.flags = np.empty(self.size, dtype=bool)
            self.marks = np.empty(self.size, dtype=bool)

    def words(self, count: int, which: int):
        import numpy as np

        if count > self.word_size or not self._words:
            self.word_size = max(count, 1 << 16)
            self._words = tuple(np.empty(self.word_size, dtype=np.uint64) for _ in range(4))
        return self._words[which][:count]


_SCRATCH = _Scratch()


def _scratch(size: int) -> _Scratch:
    _SCRATCH.grow(size)
    return _SCRATCH


_LANGS = tuple(_STOPWORDS)
# A character outside ASCII that _WORD_CHAR matches (a letter of any script).
_NON_ASCII_LETTER = re.compile(r"[^\W\d_\x00-\x7f]")
# The characters outside ASCII in common words ("não"): a sample with a character that lower-cases
# to one of them is guessed by `language`.
_STOP_NON_ASCII = frozenset("".join(w for w in _ALL_STOP if not w.isascii())) - frozenset(map(chr, range(128)))
# No common word holds an "x": `_ascii_sample` writes it for the letters that cannot be in one.
assert not any(b"x" in w for w in _STOP_LANGS_BYTES)
_CHAR_INFO: dict[str, tuple[str | None, str | None, bool]] = {}


def _char_info(ch: str) -> tuple[str | None, str | None, bool]:
    """For a character outside ASCII: what stands for it in `_ascii_sample` (a space for a
    character that is no word character, the letter it lower-cases to when that is one ASCII
    letter, else "x"; None when it lower-cases to a character of a common word), its _SCRIPTS
    language, and whether it is a letter (str.isalpha)."""
    info = _CHAR_INFO.get(ch)
    if info is None:
        low = ch.lower()
        if not _STOP_NON_ASCII.isdisjoint(low):
            rep = None
        elif not _WORD_CHAR(ch):
            rep = " "
        else:
            rep = low if len(low) == 1 and low.isascii() and low.isalpha() else "x"
        alpha = ch.isalpha()
        info = (rep, _script(ch) if alpha else None, alpha)
        if len(_CHAR_INFO) < 1 << 16:
            _CHAR_INFO[ch] = info
    return info


class _Unsure(Exception):
    """A character lower-cases to one of a common word's: `language` must look at the sample."""


# Per thread, what `_stand_ins` saw of the sample being encoded: [a word character outside
# ASCII, Latin letters outside ASCII, {script: letters}].
_SAMPLE = threading.local()


def _stand_ins(error: UnicodeEncodeError) -> tuple[str, int]:
    """Encoding error handler: each character outside ASCII of the run written as `_char_info`
    says, its script counted in the thread's sample state (in the order the sample holds them)."""
    state = _SAMPLE.state
    reps = []
    for ch in error.object[error.start:error.end]:
        rep, script, alpha = _CHAR_INFO.get(ch) or _char_info(ch)
        if rep is None:
            raise _Unsure
        if rep != " ":
            state[0] = True
        if alpha:
            if script is None:
                state[1] += 1
            else:
                scripts = state[2]
                scripts[script] = scripts.get(script, 0) + 1
        reps.append(rep)
    return "".join(reps), error.end


codecs.register_error("tunelint.language-stand-ins", _stand_ins)


def _ascii_sample(sample: str) -> bytes | str | None:
    """For a sample holding characters outside ASCII: `language`'s answer when its scripts decide
    it (a str), else ASCII bytes whose runs of ASCII letters, lower-cased, are its words
    (`_WORD` runs, lower-cased) where these are common words, and stand one for one for the
    others (so the vote and the word count are the same); None when `language` must look.
    (One encoding pass: the error handler writes the stand-ins and counts the scripts.)"""
    state = _SAMPLE.state = [False, 0, {}]
    try:
        encoded = sample.encode("ascii", "tunelint.language-stand-ins")
    except _Unsure:
        return None
    if state[0]:
        # What `language` decides from the scripts before it votes.
        scripts = state[2]
        ascii_part = sample.encode("ascii", "ignore")
        latin = state[1] + len(ascii_part) - len(ascii_part.translate(None, _ASCII_LETTERS))
        if not latin and not scripts:
            return "none"
        best_script = max(scripts.items(), key=lambda kv: kv[1]) if scripts else None
        if best_script and best_script[1] > latin:
            return "ja" if best_script[0] == "zh" and scripts.get("ja") else best_script[0]
    return encoded


_EIGHT_SPACES = 0x2020202020202020
_LOW_BITS = 0x0101010101010101
_HIGH_BITS = 0x8080808080808080


def _eight_bytes(joined: bytes, starts, out, high, spare):
    """The 8 bytes of `joined` from each of the `starts`, as little-endian uint64, in `out`:
    the two aligned 8-byte words each start's bytes span, shifted together. (np.take over the
    unaligned windows `np.ndarray(..., strides=(1,))` would first copy every window of the
    buffer, 8 bytes for each of its bytes.) `joined` is a multiple of 8 bytes long and every
    start is at least 8 bytes before its end; `high` and `spare` are scratch of the same size."""
    import numpy as np

    aligned = np.frombuffer(joined, dtype="<u8")
    at = np.right_shift(starts, 3, out=spare.view(np.int64))
    np.take(aligned, at, out=out)
    at += 1
    np.take(aligned, at, out=high)
    shift = np.bitwise_and(starts, 7, out=at).view(np.uint64)
    shift <<= np.uint64(3)
    out >>= shift
    # high << (64 - shift), written as two shifts under 64 (shift 0 leaves nothing of high).
    high <<= np.uint64(1)
    np.subtract(np.uint64(63), shift, out=shift)
    high <<= shift
    out |= high
    return out


def languages(texts: list[str]) -> list[str]:
    """`language(text)` of each text. The samples go into one byte buffer (those with characters
    outside ASCII as `_ascii_sample` writes them, unless their scripts decide), where numpy
    finds the word starts (`_LOWER_LETTERS` has turned everything but letters into spaces),
    keys each word by its bytes up to the space after it (read 8 bytes from the start) and counts each
    language's common words per sample. The few others go through `language`."""
    import numpy as np

    out: list[str] = [""] * len(texts)
    plain: list[int] = []
    parts: list[bytes] = []
    for i, text in enumerate(texts):
        sample = text[:600]
        if sample.isascii():
            parts.append(sample.encode("ascii"))
        else:
            equivalent = _ascii_sample(sample)
            if equivalent is None:
                out[i] = language(text)
                continue
            if isinstance(equivalent, str):
                out[i] = equivalent
                continue
            parts.append(equivalent)
        plain.append(i)
    if not plain:
        return out
    n = len(parts)
    # One space in front and after each sample, so no word runs from one sample into the next;
    # then more spaces, at least 8 and up to a multiple of 8 bytes: the buffer is read as aligned
    # 8-byte words, and the two that hold the 8 bytes from any word's start are in it.
    body = b" " + b" ".join(parts)
    joined = (body + b" " * (16 - len(body) % 8)).translate(_LOWER_LETTERS)
    size = len(joined)
    buf = np.frombuffer(joined, dtype=np.uint8)
    # The large temporaries live in per-thread scratch arrays, reused from batch to batch: fresh
    # ones cost a page fault every 4 KiB (thousands a batch).
    scratch = _scratch(size)
    letter = np.not_equal(buf, 32, out=scratch.flags[:size])
    starts = np.flatnonzero(np.greater(letter[1:], letter[:-1], out=scratch.marks[:size - 1]))
    starts += 1
    # Sample k covers buf[bounds[k-1] .. bounds[k]) (its leading space included).
    bounds = np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=n) + 1) + 1
    counts = np.diff(np.searchsorted(starts, bounds), prepend=0)
    keys, packed_of, factor, shift, slot = _stop_tables()
    # The 8 bytes from each word's start (little-endian), cut after its first space: the lowest
    # zero byte of `x` (the exact one of the usual zero-byte test, whose higher bits may be
    # false) is that space. With no space among the 8 (a word of 8 letters or more) the key is
    # all 8 letters, no common word's.
    words = len(starts)
    key = _eight_bytes(joined, starts, scratch.words(words, 0), scratch.words(words, 1), scratch.words(words, 3))
    x = np.bitwise_xor(key, np.uint64(_EIGHT_SPACES), out=scratch.words(words, 1))
    zero = np.subtract(x, np.uint64(_LOW_BITS), out=scratch.words(words, 2))
    np.invert(x, out=x)
    zero &= x
    zero &= np.uint64(_HIGH_BITS)
    np.invert(zero, out=x)
    x += np.uint64(1)
    x &= zero  # the lowest bit of zero
    x <<= np.uint64(1)
    x -= np.uint64(1)
    key &= x
    np.multiply(key, factor, out=x)
    x >>= shift
    pos = np.take(slot, x.view(np.int64), out=zero.view(np.int64))
    hit = np.flatnonzero(np.take(keys, pos, out=x) == key)
    # Each language's votes per sample: every common word's languages packed in one integer,
    # 9 bits per language (a 600-character sample has at most 300 words), summed per sample
    # (the hits are in sample order).
    owner = np.searchsorted(bounds, starts[hit], side="right")
    votes = np.zeros((n, len(_LANGS)), dtype=np.int64)
    if len(hit):
        first = np.flatnonzero(np.diff(owner, prepend=-1))
        sums = np.add.reduceat(packed_of[pos[hit]], first)
        for lang in range(len(_LANGS)):
            votes[owner[first], lang] = (sums >> np.uint64(_VOTE_BITS * lang)) & np.uint64((1 << _VOTE_BITS) - 1)
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
