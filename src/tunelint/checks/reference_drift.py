"""reference-drift (R001): training inputs differ from a sample of real production inputs."""

from __future__ import annotations

from collections import Counter
from typing import Iterator

import numpy as np
from pydantic import Field

from tunelint import similarity
from tunelint.checks.base import CheckOptions, DatasetCheck
from tunelint.checks.split_shift import LengthCounts
from tunelint.models import Criterion, Example, Finding, Location, Role, Severity
from tunelint.textstats import content_words, guess_language, largest_differences, shares, total_variation
from tunelint.tokens import CharEstimate

# Training inputs are hashed in batches of this many texts.
_BATCH = 4096


def _user_text(example: Example) -> str:
    """What a user sent: the user turns of the example (a production line is one user turn)."""
    return "\n".join(t.content for t in example.turns if t.role is Role.USER)


class ReferenceDrift(DatasetCheck):
    """Training inputs do not look like the production sample: length, language or topics.

    What it does:
        Compares the user turns of the training examples with a sample of real production
        inputs (`--reference`, any supported format, or a `.txt` file with one input per line)
        and reports each difference beyond its threshold, with the figures: the length
        distribution (two-sample Kolmogorov-Smirnov statistic of token estimates), the language
        mix (a script and stopword guess per input; languages production uses that training
        lacks), and vocabulary coverage — words frequent in production that training inputs
        rarely or never use, and production inputs most of whose content words training never
        uses (topics with no training example), listed in `related`. Training words are kept as
        hashes. Without a production sample the criterion is not assessed by this check.

    Why it matters for a fine-tune:
        A fine-tune learns the inputs it is shown. If production users write longer messages,
        in another language, or about things the data never covers, the model meets them
        untrained, and an evaluation on data like the training set will not show it.

    Example:
        train (all English billing questions): {"messages": [{"role": "user", "content": "Why was I charged twice?"}, {"role": "assistant", "content": "..."}]}
        production.txt: "¿Dónde está mi pedido?" / "The app crashes when I upload a photo"

    Use instead:
        Sample training inputs from production logs (after review), add examples for the
        uncovered languages and topics, and match the real length range.

    Options:
        length-threshold: Kolmogorov-Smirnov statistic of the input lengths that is reported (default 0.25).
        language-threshold: total variation distance of the language mix that is reported (default 0.15).
        min-language-share: a production language at least this common is reported when training has under a tenth of its share (default 0.05).
        min-term-share: a word used by at least this share of production inputs is a production term (default 0.02).
        min-term-examples: ... and by at least this many of them (default 3).
        term-ratio: a production term is uncovered when its share in training is below its production share times this (default 0.1).
        uncovered-threshold: share of production inputs with mostly unseen words that is reported (default 0.1).
        min-examples: fewest production inputs for a comparison (default 20).
        max-related: production inputs listed as examples of uncovered topics (default 5).
    """

    code = "R001"
    name = "reference-drift"
    criterion = Criterion.REPRESENTATIVE
    severity = Severity.WARNING
    summary = "training inputs differ from the production sample (length, language, vocabulary)"
    splits = ("train", "reference")

    class Options(CheckOptions):
        length_threshold: float = Field(0.25, gt=0, le=1)
        language_threshold: float = Field(0.15, gt=0, le=1)
        min_language_share: float = Field(0.05, gt=0, le=1)
        min_term_share: float = Field(0.02, gt=0, le=1)
        min_term_examples: int = Field(3, ge=1)
        term_ratio: float = Field(0.1, ge=0, le=1)
        uncovered_threshold: float = Field(0.1, gt=0, le=1)
        min_examples: int = Field(20, ge=1)
        max_related: int = Field(5, ge=1)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._counter = CharEstimate()
        self._hasher = similarity.TokenHasher(seed=11)
        # Token counts as histograms: bounded state, the same statistics as the lists.
        self._lengths = {"train": LengthCounts(), "reference": LengthCounts()}
        self._languages: dict[str, Counter[str]] = {"train": Counter(), "reference": Counter()}
        self._pending: list[str] = []
        self._n_train = 0
        # Training vocabulary: distinct word hashes and in how many inputs each occurs.
        self._vocab = np.empty(0, dtype=np.uint64)
        self._vocab_df = np.empty(0, dtype=np.int64)
        self._reference: list[tuple[Location, list[str]]] = []
        self._reference_path = ""

    mergeable = True

    def merge(self, other: "ReferenceDrift") -> None:  # type: ignore[override]
        super().merge(other)
        other._flush()
        self._flush()
        for split in self._lengths:
            self._lengths[split].update(other._lengths[split])
            self._languages[split].update(other._languages[split])
        self._n_train += other._n_train
        merged = np.concatenate((self._vocab, other._vocab))
        merged_df = np.concatenate((self._vocab_df, other._vocab_df))
        self._vocab, index = np.unique(merged, return_inverse=True)
        self._vocab_df = np.bincount(index, weights=merged_df, minlength=len(self._vocab)).astype(np.int64)
        self._reference.extend(other._reference)
        self._reference_path = self._reference_path or other._reference_path

    def observe(self, example: Example) -> None:
        if not self.context.has_split("reference"):
            return  # nothing to compare with: not assessed, and no work on a large training file
        text = _user_text(example)
        split = "train" if example.split == "train" else "reference"

        self._lengths[split].counts[self._counter.count(text)] += 1
        self._languages[split][guess_language(text)] += 1
        if split == "train":
            self._n_train += 1
            self._pending.append(text)
            if len(self._pending) >= _BATCH:
                self._flush()
        else:
            self._reference_path = self._reference_path or example.path
            self._reference.append((example.location, content_words(text)))

    def _flush(self) -> None:
        if not self._pending:
            return
        rows = self._hasher.hash_texts(self._pending)
        self._pending = []
        owner = np.repeat(np.arange(len(rows)), rows.lengths())
        # Each input counts once per word.
        order = np.lexsort((rows.values, owner))
        values, owner = rows.values[order], owner[order]
        first = np.ones(len(values), dtype=bool)
        first[1:] = (values[1:] != values[:-1]) | (owner[1:] != owner[:-1])
        words, counts = np.unique(values[first], return_counts=True)
        merged = np.concatenate((self._vocab, words))
        merged_counts = np.concatenate((self._vocab_df, counts))
        self._vocab, index = np.unique(merged, return_inverse=True)
        self._vocab_df = np.bincount(index, weights=merged_counts, minlength=len(self._vocab)).astype(np.int64)

    def finish(self) -> Iterator[Finding]:
        self._flush()
        n_ref = len(self._reference)
        if not self.context.has_split("reference"):
            self.mark_not_assessed("no production sample (give --reference PROD_SAMPLE)")
            return
        if n_ref < self.options.min_examples or self._n_train == 0:
            self.mark_not_assessed(
                f"too few examples to compare ({self._n_train} train, {n_ref} reference; "
                f"min-examples is {self.options.min_examples})")
            return
        self.metrics = {"reference_examples": n_ref}
        yield from self._length()
        yield from self._language()
        yield from self._vocabulary()

    def _length(self) -> Iterator[Finding]:
        train, ref = self._lengths["train"], self._lengths["reference"]
        statistic = train.ks(ref)
        self.metrics["length_ks"] = round(statistic, 4)
        if statistic < self.options.length_threshold:
            return
        yield self.dataset_finding(
            "reference", self._reference_path,
            f"production inputs differ in length from training inputs (Kolmogorov-Smirnov {statistic:.2f}): "
            f"median {ref.median():g} tokens in production vs {train.median():g} in training "
            f"({self._counter.name})",
            key="length",
            evidence={"dimension": "length", "ks_statistic": round(statistic, 4),
                      "threshold": self.options.length_threshold,
                      "median_tokens_train": train.median(), "median_tokens_reference": ref.median(),
                      "p90_tokens_train": train.percentile(90),
                      "p90_tokens_reference": ref.percentile(90), "tokenizer": self._counter.name},
        )

    def _language(self) -> Iterator[Finding]:
        train, ref = self._languages["train"], self._languages["reference"]
        distance = total_variation(train, ref)
        train_share, ref_share = shares(train), shares(ref)
        self.metrics["language_tvd"] = round(distance, 4)
        self.metrics["languages_reference"] = {k: round(v, 4) for k, v in sorted(ref_share.items())}
        missing = sorted(
            (lang for lang, share in ref_share.items()
             if lang != "und" and share >= self.options.min_language_share
             and train_share.get(lang, 0.0) < share / 10),
            key=lambda lang: -ref_share[lang])
        if distance < self.options.language_threshold and not missing:
            return
        moved = largest_differences(train, ref)
        parts = ", ".join(f"{k} {b:.0%} of production vs {a:.0%} of training" for k, a, b in moved)
        lead = (f"production uses languages training barely covers ({', '.join(missing)})" if missing
                else "the language mix of production differs from training")
        yield self.dataset_finding(
            "reference", self._reference_path,
            f"{lead} (total variation {distance:.2f}): {parts}",
            key="language",
            evidence={"dimension": "language", "total_variation": round(distance, 4),
                      "threshold": self.options.language_threshold, "uncovered_languages": missing,
                      "train": {k: round(v, 4) for k, v in sorted(train_share.items())},
                      "reference": {k: round(v, 4) for k, v in sorted(ref_share.items())},
                      "method": "script and stopword guess"},
        )

    def _train_df(self, words: list[str]) -> np.ndarray:
        hashes = self._hasher.hash_tokens(words)
        found = np.minimum(np.searchsorted(self._vocab, hashes), max(0, len(self._vocab) - 1))
        hit = self._vocab[found] == hashes if len(self._vocab) else np.zeros(len(words), bool)
        return np.where(hit, self._vocab_df[found] if len(self._vocab) else 0, 0)

    def _vocabulary(self) -> Iterator[Finding]:
        n_ref = len(self._reference)
        ref_df: Counter[str] = Counter()
        for _, words in self._reference:
            ref_df.update(words)
        vocabulary = sorted(ref_df)
        train_df = dict(zip(vocabulary, self._train_df(vocabulary).tolist())) if vocabulary else {}
        need = max(self.options.min_term_examples, self.options.min_term_share * n_ref)
        gaps = []
        for word, count in ref_df.items():
            ref_share = count / n_ref
            train_share = train_df[word] / self._n_train
            if count >= need and train_share < ref_share * self.options.term_ratio:
                gaps.append((word, ref_share, train_share))
        gaps.sort(key=lambda g: (-g[1], g[0]))
        self.metrics["uncovered_terms"] = len(gaps)
        if gaps:
            shown = gaps[:10]
            listed = ", ".join(f"'{w}' ({r:.0%} of production, {t:.1%} of training)" for w, r, t in shown)
            yield self.dataset_finding(
                "reference", self._reference_path,
                f"{len(gaps)} term{'s' if len(gaps) != 1 else ''} common in production "
                f"{'are' if len(gaps) != 1 else 'is'} rare or absent in training inputs: {listed}",
                key="terms",
                evidence={"dimension": "vocabulary", "uncovered_terms": len(gaps),
                          "terms": [{"term": w, "reference_share": round(r, 4), "train_share": round(t, 6)}
                                    for w, r, t in shown]},
            )
        # Production inputs most of whose content words training never uses.
        uncovered = [loc for loc, words in self._reference
                     if len(words) >= 2 and sum(train_df[w] == 0 for w in words) > len(words) / 2]
        share = len(uncovered) / n_ref
        self.metrics["uncovered_inputs_share"] = round(share, 4)
        if share >= self.options.uncovered_threshold:
            yield self.dataset_finding(
                "reference", self._reference_path,
                f"{share:.0%} of production inputs ({len(uncovered)} of {n_ref}) are mostly words no "
                "training input uses: topics with no training example",
                key="coverage",
                related=uncovered[: self.options.max_related],
                evidence={"dimension": "topic_coverage", "uncovered_inputs": len(uncovered),
                          "share": round(share, 4), "threshold": self.options.uncovered_threshold},
            )


CHECKS = [ReferenceDrift]
