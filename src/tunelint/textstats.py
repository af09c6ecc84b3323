"""Cheap statistics that compare two samples of text: distribution distances, output shapes and
a script-and-stopword language guess (no model, nothing downloaded)."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Mapping, Sequence

import numpy as np

from tunelint import similarity


def ks_statistic(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs
    (0 = same distribution, 1 = no overlap). The statistic, not a p-value: with thousands of
    examples every tiny gap is "significant", while the gap itself says how different they are."""
    x = np.sort(np.asarray(a, dtype=np.float64))
    y = np.sort(np.asarray(b, dtype=np.float64))
    if not len(x) or not len(y):
        return 0.0
    points = np.concatenate((x, y))
    cdf_x = np.searchsorted(x, points, side="right") / len(x)
    cdf_y = np.searchsorted(y, points, side="right") / len(y)
    return float(np.max(np.abs(cdf_x - cdf_y)))


def shares(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def total_variation(a: Mapping[str, int], b: Mapping[str, int]) -> float:
    """Half the L1 distance between two categorical distributions given as counts: the share of
    probability mass that would have to move to turn one into the other."""
    pa, pb = shares(a), shares(b)
    return 0.5 * sum(abs(pa.get(k, 0.0) - pb.get(k, 0.0)) for k in set(pa) | set(pb))


def largest_differences(a: Mapping[str, int], b: Mapping[str, int], limit: int = 3) -> list[tuple[str, float, float]]:
    """The categories whose shares differ most: (category, share in a, share in b)."""
    pa, pb = shares(a), shares(b)
    keys = sorted(set(pa) | set(pb), key=lambda k: (-abs(pa.get(k, 0.0) - pb.get(k, 0.0)), k))
    return [(k, round(pa.get(k, 0.0), 4), round(pb.get(k, 0.0), 4)) for k in keys[:limit]]


_LIST_LINE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")


def output_shape(text: str) -> str:
    """A coarse shape of an output: json, code, list, short (five words or fewer) or prose."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    if stripped[0] in "{[":
        try:
            json.loads(stripped)
            return "json"
        except ValueError:
            pass
    if "```" in stripped:
        return "code"
    lines = [line for line in stripped.splitlines() if line.strip()]
    if sum(1 for line in lines if _LIST_LINE.match(line)) >= 2:
        return "list"
    if len(stripped.split(None, 5)) <= 5:  # at most five words: split no further than a sixth
        return "short"
    return "prose"


# A few dozen of the most frequent words per language: enough to tell Latin-script languages
# apart on a sentence, and to leave them out of vocabulary comparisons.
STOPWORDS: Mapping[str, frozenset[str]] = {
    "en": frozenset(
        "the and of to a in is it that for you with on as are this be was have i not what how an at by from or"
        " but if so do does did can could would should will my your our their his her its we they he she me"
        " us them there here when where which who whom why all any some no more most other such only own same"
        " than too very just also about into over after before again then once been being had has were am"
        " these those each few both up down out off under between through during please want get make take"
        " give tell know like use using need try keep one two new way many much well".split()),
    "es": frozenset("el la de que y en los del se las por un una para con no es al lo como más pero sus le ya o este"
                    " mi mis tu cómo qué dónde cuándo está están puedo".split()),
    "fr": frozenset("le la les de des et est un une du en que qui dans pour pas sur au avec ce il elle sont vous nous".split()),
    "de": frozenset("der die das und ist nicht ein eine zu den von mit sich des auf für im dem auch es wie ich sie".split()),
    "it": frozenset("il di che e la per un una non sono del della in gli le con mi si è ma come ho questo alla".split()),
    "pt": frozenset("o a de que e do da em um uma para com não os as no na por mais se é ao você dos das".split()),
    "nl": frozenset("de het een en van is dat op te in niet zijn met voor er die ik je aan ook maar wat".split()),
    "ru": frozenset("и в не на что я с он как это по но из к у за от то же вы мы так".split()),
}
_ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())

# Scripts that name a language by themselves (checked in this order); Latin and Cyrillic go on
# to the stopword vote.
_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_NON_LATIN = re.compile(r"[\u0370-\u06ff\u0900-\u097f\u0e00-\u0e7f\u1100-\u11ff\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")
_ASCII_WORD = re.compile(r"[a-z]+")
# Which languages list each stopword: one dict lookup per word instead of one per language.
_STOPWORD_LANGUAGES: Mapping[str, tuple[str, ...]] = {
    word: tuple(code for code, words in STOPWORDS.items() if word in words and code != "ru")
    for word in _ALL_STOPWORDS
}
# A sentence or two decides the language; reading further only costs time.
_GUESS_CHARS = 400


def guess_language(text: str) -> str:
    """An ISO 639-1 guess, or "und" when the text is too short or unclear. Non-Latin scripts
    decide by their letters; Latin-script text by which language's stopwords it uses most."""
    head = text[:_GUESS_CHARS]
    if head.isascii():
        words = _ASCII_WORD.findall(head.lower())
    else:
        letters = len(_LETTER.findall(head))
        if letters < 3:
            return "und"
        if _NON_LATIN.search(head):
            for code, pattern in _SCRIPTS:
                if len(pattern.findall(head)) >= 0.3 * letters:
                    return code
            if len(_CYRILLIC.findall(head)) >= 0.3 * letters:
                words = similarity.tokenize(head)
                return "ru" if any(w in STOPWORDS["ru"] for w in words) else "und"
        words = similarity.tokenize(head)
    votes: Counter[str] = Counter()
    for word in words:
        codes = _STOPWORD_LANGUAGES.get(word)
        if codes:
            votes.update(codes)
    ranked = votes.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[1][1] == ranked[0][1]):
        return "und"
    return ranked[0][0]


def content_words(text: str) -> list[str]:
    """Distinct words that carry topic: alphabetic, three letters or more, not a stopword."""
    seen: dict[str, None] = {}
    for word in similarity.tokenize(text):
        if len(word) >= 3 and word.isalpha() and word not in _ALL_STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)
