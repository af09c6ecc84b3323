"""PII detection over many short texts: Presidio, offline, behind a prefilter that skips clean text.

Pattern entities (email, phone, card, IBAN, SSN, IP, crypto wallet) always run; PERSON,
LOCATION, NRP and ORGANIZATION run too when a spaCy NER model is installed (`ner="auto"`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import spacy.util
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine, NlpEngineProvider
from presidio_analyzer.predefined_recognizers import SpacyRecognizer

from tunelint.privacy.phone import ChatPhoneRecognizer
from tunelint.privacy.prefilter import Prefilter, batch_gate
from tunelint.privacy.recognizers import pattern_recognizers
from tunelint.privacy.spans import Span, resolve_overlaps

PATTERN_ENTITIES: tuple[str, ...] = (
    "CREDIT_CARD",
    "CRYPTO",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
)
NER_ENTITIES: tuple[str, ...] = ("LOCATION", "NRP", "ORGANIZATION", "PERSON")
# ORGANIZATION is available on request only: spaCy tags product and company names, which
# are rarely personal data in chat transcripts.
DEFAULT_NER_ENTITIES: tuple[str, ...] = ("LOCATION", "NRP", "PERSON")

# Installed spaCy pipelines that `ner="auto"` looks for, fastest first (a linter reads
# millions of turns; the transformer pipeline is left for an explicit `ner=` choice).
AUTO_NER_MODELS: tuple[str, ...] = ("en_core_web_sm", "en_core_web_md", "en_core_web_lg")

PATTERNS_ONLY = "patterns-only"

# spaCy labels -> Presidio entities, as in Presidio's own spaCy configuration.
_SPACY_TO_PRESIDIO = {
    "PER": "PERSON",
    "PERSON": "PERSON",
    "NORP": "NRP",
    "LOC": "LOCATION",
    "GPE": "LOCATION",
    "LOCATION": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "ORGANIZATION",
    "ORGANIZATION": "ORGANIZATION",
}

AllowEntry = str | re.Pattern[str]


def find_ner_model(ner: str) -> str | None:
    """Resolve `ner` ("auto", "off", an installed spaCy package or a pipeline directory).

    Never downloads: an explicit name that is neither installed nor a directory is an error,
    because Presidio's spaCy engine would otherwise try `spacy download`.
    """
    if ner == "off":
        return None
    if ner == "auto":
        return next((m for m in AUTO_NER_MODELS if spacy.util.is_package(m)), None)
    if spacy.util.is_package(ner) or Path(ner).is_dir():
        return ner
    raise ValueError(
        f"spaCy model {ner!r} is not installed and is not a pipeline directory; "
        f"install it with pip, or use ner='auto' or ner='off'"
    )


def _nlp_engine(model: str | None) -> NlpEngine:
    configuration: dict[str, object]
    if model is None:
        configuration = {
            "nlp_engine_name": "no_op",
            "models": [{"lang_code": "en", "model_name": "no_op"}],
        }
    else:
        configuration = {
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": _SPACY_TO_PRESIDIO,
                "low_score_entity_names": [],
            },
        }
    return NlpEngineProvider(nlp_configuration=configuration).create_engine()


def _tokens_at(text: str, positions: Iterable[int]) -> list[tuple[int, int]]:
    """(start, end) of the whitespace-delimited tokens of `text` holding these positions, in
    order, once each."""
    out: list[tuple[int, int]] = []
    n = len(text)
    for p in sorted(positions):
        if out and p < out[-1][1]:
            continue
        start = p
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        end = p
        while end < n and not text[end].isspace():
            end += 1
        out.append((start, end))
    return out


def _email_windows(text: str) -> list[tuple[int, int]]:
    # An email match holds an "@" and no whitespace (the pattern's classes have none).
    positions = []
    at = text.find("@")
    while at >= 0:
        positions.append(at)
        at = text.find("@", at + 1)
    return _tokens_at(text, positions)


_DIGIT_DOT_DIGIT = re.compile(r"\d\.\d")


def _ip_windows(text: str) -> list[tuple[int, int]]:
    # Every IP pattern needs a ":" (IPv6, IPv4-mapped) or a digit, dot, digit (IPv4), and none
    # matches whitespace.
    positions = [m.start() for m in _DIGIT_DOT_DIGIT.finditer(text)]
    colon = text.find(":")
    while colon >= 0:
        positions.append(colon)
        colon = text.find(":", colon + 1)
    return _tokens_at(text, positions)


# Pattern entities whose recognizer runs over the tokens of a text that can hold a match rather
# than all of it. Their patterns match no whitespace, and what they read around a match (word
# boundaries, look-behinds for a word character or ":") sees the same at a token's edge as at the
# whitespace next to it, so the matches are the same (a test pins them to whole-text runs).
_WINDOWS = {
    "EMAIL_ADDRESS": _email_windows,
    "IP_ADDRESS": _ip_windows,
}


# How many analysed texts a detector remembers (each is one that passed the gate: a few percent).
_RECENT_TEXTS = 4096


class PiiDetector:
    """Finds PII spans in texts; build once, then call `detect` / `detect_many` many times.

    `entities`: which entity types to report (default: every pattern entity, plus PERSON,
    LOCATION and NRP when an NER model runs). NER entities asked for while no model is
    installed are listed in `unavailable_entities` instead of failing.
    `score_threshold`: minimum Presidio score; phone numbers score 0.4, IP addresses 0.6, SSNs
    0.5 and checksum-validated values (card, IBAN, crypto, email domain) 1.0.
    `allow_list`: values never reported; a string matches the detected text exactly (case
    ignored), a compiled regex must match all of it.
    `ner`: "auto" (an installed en_core_web_* model if any), "off", or a model name / path.
    `phone_regions`: regions (ISO 3166 codes) whose national phone formats are validated;
    numbers written with a + country code are found for every country.
    `prefilter`: skip Presidio on texts no pattern trigger matches (on by default; off only to
    measure it).
    """

    def __init__(
        self,
        entities: Iterable[str] | None = None,
        score_threshold: float = 0.4,
        allow_list: Iterable[AllowEntry] = (),
        ner: Literal["auto", "off"] | str = "auto",
        prefilter: bool = True,
        phone_regions: Sequence[str] = ChatPhoneRecognizer.DEFAULT_SUPPORTED_REGIONS,
    ) -> None:
        model = find_ner_model(ner)
        self.mode = PATTERNS_ONLY if model is None else f"ner:{Path(model).name}"
        available = set(PATTERN_ENTITIES) | (set(NER_ENTITIES) if model else set())
        requested = (
            set(PATTERN_ENTITIES) | set(DEFAULT_NER_ENTITIES) if entities is None else set(entities)
        )
        unknown = requested - set(PATTERN_ENTITIES) - set(NER_ENTITIES)
        if unknown:
            raise ValueError(
                f"unknown PII entity types {sorted(unknown)}; "
                f"supported: {sorted(PATTERN_ENTITIES + NER_ENTITIES)}"
            )
        self.entities: tuple[str, ...] = tuple(sorted(requested & available))
        self.unavailable_entities: tuple[str, ...] = tuple(sorted(requested - available))
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be within 0..1, got {score_threshold}")
        self.score_threshold = score_threshold
        allowed = tuple(allow_list)
        self._allow_exact = {a.casefold() for a in allowed if isinstance(a, str)}
        self._allow_patterns = [a for a in allowed if isinstance(a, re.Pattern)]

        pattern_entities = [e for e in self.entities if e in PATTERN_ENTITIES]
        self._ner_entities = [e for e in self.entities if e in NER_ENTITIES]
        self._prefilter = Prefilter(pattern_entities) if prefilter else None
        self._pattern_entities = pattern_entities
        # Spans of the texts analysed lately (`_detect_patterns`), at most _RECENT_TEXTS of them.
        self._recent: dict[str, tuple[Span, ...]] = {}

        nlp_engine = _nlp_engine(model)
        self._by_entity = {
            e: r for e, r in pattern_recognizers(phone_regions).items() if e in pattern_entities
        }
        recognizers: list[EntityRecognizer] = list(self._by_entity.values())
        if self._ner_entities:
            recognizers.append(SpacyRecognizer(supported_entities=list(NER_ENTITIES)))
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
        self._engine = AnalyzerEngine(
            registry=registry, nlp_engine=nlp_engine, supported_languages=["en"]
        )

    def detect(self, text: str) -> list[Span]:
        """PII spans in `text`, overlaps resolved, in text order."""
        return self.detect_many([text])[0]

    def detect_many(self, texts: Sequence[str]) -> list[list[Span]]:
        """`detect` for each text, in order; batches the NER pipeline when a model runs."""
        if not self._ner_entities and self._prefilter is not None:
            return self._detect_patterns(texts)
        if self._prefilter is None:
            entity_lists = [self.entities_to_check(text) for text in texts]
        else:
            ner = self._ner_entities
            entity_lists = [found + ner for found in self._prefilter.candidates_many(texts)]
        if not self._ner_entities:
            return [
                self._analyze(text, wanted) if wanted else []
                for text, wanted in zip(texts, entity_lists, strict=True)
            ]
        nlp = self._engine.nlp_engine
        out: list[list[Span]] = []
        batches = nlp.process_batch(list(texts), language="en", batch_size=64)
        for (text, artifacts), wanted in zip(batches, entity_lists, strict=True):
            out.append(self._analyze(text, wanted, artifacts))
        return out

    def _detect_patterns(self, texts: Sequence[str]) -> list[list[Span]]:
        """`detect_many` with the pattern recognizers only: a text seen lately (a system prompt or
        signature repeated across examples) is analysed once."""
        # The detector is shared by threads (the dataset checks' finish threads mask excerpts
        # with it): this call's answers live in a local dict, and a full cache is replaced,
        # not cleared under another thread's feet.
        recent = self._recent
        if len(recent) > _RECENT_TEXTS:
            recent = self._recent = {}
        found: dict[str, tuple[Span, ...]] = {}
        new = []
        for text in dict.fromkeys(texts):
            known = recent.get(text)
            if known is None:
                new.append(text)
            else:
                found[text] = known
        if new:
            assert self._prefilter is not None
            for text, wanted in zip(new, self._prefilter.candidates_many(new), strict=True):
                found[text] = recent[text] = tuple(self._analyze(text, wanted)) if wanted else ()
        return [list(found[text]) for text in texts]

    def gate(self, texts: Sequence[str]) -> list[int] | None:
        """Indices of the `texts` `detect` may find PII in, tested for all at once (None: any of
        them, as when NER runs); the others hold none."""
        if self._ner_entities or self._prefilter is None:
            return None
        return batch_gate(texts, self._prefilter.batch_pattern)

    def entities_to_check(self, text: str) -> list[str]:
        """The entities Presidio will look for in `text`: empty when the prefilter rules all out."""
        if self._prefilter is None:
            pattern = self._pattern_entities
        else:
            pattern = self._prefilter.candidates(text)
        return pattern + self._ner_entities

    def _analyze(
        self, text: str, entities: list[str], artifacts: NlpArtifacts | None = None
    ) -> list[Span]:
        if not entities:
            return []
        if not self._ner_entities:
            results = self._patterns_only(text, entities)
        else:
            results = self._analyze_with_engine(text, entities, artifacts)
        spans = [
            Span(r.entity_type, r.start, r.end, round(float(r.score), 4))
            for r in results
            if not self._allowed(text[r.start : r.end])
        ]
        return resolve_overlaps(spans)

    def _patterns_only(self, text: str, entities: list[str]) -> list[RecognizerResult]:
        """What `AnalyzerEngine.analyze` returns with no NLP model, without its overhead.

        With the no-op NLP engine the analyzer's context enhancement has no tokens to read and
        changes no score (it only deep-copies every result), so the engine comes down to: each
        requested entity's recognizer, results under the threshold dropped, then Presidio's own
        duplicate removal. A test pins the two paths together.
        """
        threshold = self.score_threshold
        results: list[RecognizerResult] = []
        for entity in entities:
            recognizer = self._by_entity[entity]
            windows = _WINDOWS.get(entity)
            if windows is None:
                found = recognizer.analyze(text=text, entities=entities, nlp_artifacts=None)
            else:
                found = []
                for start, end in windows(text):
                    for r in recognizer.analyze(text=text[start:end], entities=entities, nlp_artifacts=None):
                        r.start += start
                        r.end += start
                        found.append(r)
            results.extend(r for r in found if r.score >= threshold)
        return EntityRecognizer.remove_duplicates(results) if results else results

    def _analyze_with_engine(
        self, text: str, entities: list[str], artifacts: NlpArtifacts | None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = self._engine.analyze(
            text=text,
            language="en",
            entities=entities,
            score_threshold=self.score_threshold,
            nlp_artifacts=artifacts,
        )
        return results

    def _allowed(self, value: str) -> bool:
        if value.casefold() in self._allow_exact:
            return True
        return any(p.fullmatch(value) for p in self._allow_patterns)
