"""split-shift (X002): the test split's labels, lengths or output formats differ from training."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator, Sequence

import numpy as np
from pydantic import Field

import math

from tunelint import similarity
from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks.base import CheckOptions
from tunelint.models import Criterion, Example, Finding, Role, Severity
from tunelint.textstats import largest_differences, output_shape, total_variation
from tunelint.tokens import CharEstimate

# Distinct short outputs tracked per split; past this the outputs are not a label set.
_MAX_TRACKED = 1000


class LengthCounts:
    """A distribution of token counts kept as a histogram: how many examples have each length.

    Its size is the number of distinct lengths (a few thousand at most), not the number of
    examples, so partial states stay small however much data they cover, and merging adds
    counts. The statistics read off it are exactly those of the list of lengths it stands for:
    the two-sample Kolmogorov-Smirnov statistic, the median and numpy's default ("linear")
    percentile, computed from the cumulative counts with numpy's own arithmetic.
    """

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()

    def add(self, lengths: Iterable[int]) -> None:
        values, counts = np.unique(np.fromiter(lengths, dtype=np.int64), return_counts=True)
        self.counts.update(dict(zip(values.tolist(), counts.tolist())))

    def update(self, other: "LengthCounts") -> None:
        self.counts.update(other.counts)

    def __len__(self) -> int:
        return sum(self.counts.values())

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct lengths in increasing order, and the cumulative count up to each."""
        values = np.array(sorted(self.counts), dtype=np.int64)
        cumulative = np.cumsum([self.counts[v] for v in values.tolist()], dtype=np.int64)
        return values, cumulative

    def _at(self, values: np.ndarray, cumulative: np.ndarray, position: int) -> np.int64:
        """The value at `position` of the sorted list of lengths."""
        return values[int(np.searchsorted(cumulative, position, side="right"))]

    def ks(self, other: "LengthCounts") -> float:
        """`textstats.ks_statistic` of the two lists of lengths."""
        x, cx = self._arrays()
        y, cy = other._arrays()
        if not len(x) or not len(y):
            return 0.0
        points = np.concatenate((x, y))
        # The empirical CDF at a point: the count of lengths <= it (side="right"), over n.
        ix = np.searchsorted(x, points, side="right")
        iy = np.searchsorted(y, points, side="right")
        cdf_x = np.where(ix > 0, cx[np.maximum(ix - 1, 0)], 0) / float(cx[-1])
        cdf_y = np.where(iy > 0, cy[np.maximum(iy - 1, 0)], 0) / float(cy[-1])
        return float(np.max(np.abs(cdf_x - cdf_y)))

    def median(self) -> float:
        """`np.median` of the lengths."""
        values, cumulative = self._arrays()
        n = int(cumulative[-1])
        upper = self._at(values, cumulative, n // 2)
        if n % 2:
            return float(np.float64(upper))
        lower = self._at(values, cumulative, n // 2 - 1)
        return float(np.mean(np.array([lower, upper], dtype=np.int64)))

    def percentile(self, q: float) -> float:
        """`np.percentile(lengths, q)` (method "linear")."""
        values, cumulative = self._arrays()
        n = int(cumulative[-1])
        virtual = np.asanyarray((n - 1) * np.true_divide(q, 100))
        previous = np.floor(virtual).astype(np.intp)
        following = previous + 1
        previous = min(max(int(previous), 0), n - 1)
        following = min(max(int(following), 0), n - 1)
        gamma = np.asanyarray(virtual - np.float64(previous), dtype=virtual.dtype)
        a = self._at(values, cumulative, previous)
        b = self._at(values, cumulative, following)
        diff = b - a
        out = a + diff * gamma
        if gamma >= 0.5:
            out = b - diff * (1 - gamma)
        return float(out)


class _Side:
    """What is kept of one split: a histogram of lengths, counts of labels and shapes."""

    def __init__(self) -> None:
        self.n = 0
        self.input_tokens = LengthCounts()
        self.output_tokens = LengthCounts()
        self.labels: Counter[str] = Counter()
        self.short = 0
        self.shapes: Counter[str] = Counter()
        self.paths: list[str] = []


def _label(text: str) -> str:
    return similarity.normalise(text).strip(" .!")


class SplitShift(BatchedCheck):
    """The test split does not look like the training split: labels, lengths or output formats.

    What it does:
        Compares test with train on three things and reports each that differs beyond its
        threshold, with the figures. Labels, when the outputs are classification-like (almost
        all outputs are a few words from a small set of values): total variation distance
        between the label distributions, naming the labels that moved most and labels found in
        only one split. Lengths: the two-sample Kolmogorov-Smirnov statistic of the input and of
        the output token estimates (characters / 4), with the medians. Output format mix (JSON,
        code, list, short, prose): total variation distance, naming the shapes that moved.

    Why it matters for a fine-tune:
        A test split drawn from another distribution measures something else: a score on it
        neither confirms nor rules out that the fine-tune works on the data it was trained for.
        Label shift alone can move accuracy by the size of the shift.

    Example:
        train: {"prompt": "Review: great phone ->", "completion": " positive"} (90% positive)
        test:  {"prompt": "Review: broke in a day ->", "completion": " negative"} (70% negative)

    Use instead:
        Draw train and test from the same pool with a random (or stratified) split, or say
        deliberately which shift the test is meant to measure.

    Options:
        label-threshold: total variation distance of the label distributions that is reported (default 0.15).
        length-threshold: Kolmogorov-Smirnov statistic of a length distribution that is reported (default 0.2).
        format-threshold: total variation distance of the output format mix that is reported (default 0.15).
        max-labels: most distinct outputs for the data to count as classification-like (default 30).
        min-examples: fewest test examples for a comparison to mean anything (default 30).
    """

    code = "X002"
    name = "split-shift"
    criterion = Criterion.HELD_OUT
    severity = Severity.WARNING
    summary = "label / length / format distribution of test differs from train"
    splits = ("train", "test")

    class Options(CheckOptions):
        label_threshold: float = Field(0.15, gt=0, le=1)
        length_threshold: float = Field(0.2, gt=0, le=1)
        format_threshold: float = Field(0.15, gt=0, le=1)
        max_labels: int = Field(30, ge=2)
        min_examples: int = Field(30, ge=1)

    mergeable = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._sides = {"train": _Side(), "test": _Side()}
        self._counter = CharEstimate()

    def merge(self, other: "SplitShift") -> None:  # type: ignore[override]
        self.flush()
        other.flush()
        super().merge(other)
        for split, side in self._sides.items():
            theirs = other._sides[split]
            side.n += theirs.n
            side.input_tokens.update(theirs.input_tokens)
            side.output_tokens.update(theirs.output_tokens)
            side.short += theirs.short
            side.shapes.update(theirs.shapes)
            for label, count in theirs.labels.items():
                if label in side.labels or len(side.labels) < _MAX_TRACKED:
                    side.labels[label] += count
            side.paths.extend(p for p in theirs.paths if p not in side.paths)

    def observe_batch(self, examples: Sequence[Example]) -> None:
        if not self.context.has_split("test"):
            return  # nothing to compare with: not assessed, and no work on a large training file
        super().observe_batch(examples)

    def observe(self, example: Example) -> None:
        if self.context.has_split("test"):
            super().observe(example)

    def consume(self, batch: Batch) -> None:
        examples = batch.examples
        side = self._sides[examples[0].split]
        side.n += len(examples)
        paths = side.paths
        for path in dict.fromkeys(e.path for e in examples):
            if path not in paths:
                paths.append(path)
        counter = self._counter
        # The character estimate needs only the length of the joined input.
        per_char = counter.chars_per_token if isinstance(counter, CharEstimate) else None
        system = Role.SYSTEM
        input_tokens, output_tokens = [], []
        shapes = side.shapes
        labels = side.labels
        for example in examples:
            answer = example.final_assistant
            output = answer.content if answer is not None else ""
            inputs = [t.content for t in example.turns if t.role is not system and t is not answer]
            if per_char is not None:
                length = sum(map(len, inputs)) + max(0, len(inputs) - 1)
                input_tokens.append(math.ceil(length / per_char) if length else 0)
                output_tokens.append(math.ceil(len(output) / per_char) if output else 0)
            else:
                input_tokens.append(counter.count("\n".join(inputs)))
                output_tokens.append(counter.count(output))
            shapes[output_shape(output)] += 1
            # At most five words: split no further than a sixth.
            if len(output.split(None, 5)) <= 5 and output.strip():
                side.short += 1
                label = _label(output)
                if label in labels or len(labels) < _MAX_TRACKED:
                    labels[label] += 1
        side.input_tokens.add(input_tokens)
        side.output_tokens.add(output_tokens)

    def finish(self) -> Iterator[Finding]:
        self.flush()
        train, test = self._sides["train"], self._sides["test"]
        if not self.context.has_split("test"):
            self.mark_not_assessed("no test split (give --test TEST)")
            return
        if test.n < self.options.min_examples or train.n < self.options.min_examples:
            self.mark_not_assessed(
                f"too few examples to compare ({train.n} train, {test.n} test; "
                f"min-examples is {self.options.min_examples})")
            return
        path = test.paths[0]
        # Labels are compared when both splits hold labels; when test outputs stopped being
        # short values, the format and length comparisons say so.
        labelled = self._classification_like(train) and test.short >= 0.8 * test.n
        self.metrics = {"classification_like": labelled}
        if labelled:
            yield from self._labels(train, test, path)
        yield from self._lengths(train, test, path)
        yield from self._formats(train, test, path)

    def _classification_like(self, side: _Side) -> bool:
        """Outputs are labels when nearly all are short and they repeat from a small set."""
        distinct = len(side.labels)
        return (side.short >= 0.95 * side.n and 2 <= distinct <= self.options.max_labels
                and distinct <= side.n / 3)

    def _labels(self, train: _Side, test: _Side, path: str) -> Iterator[Finding]:
        distance = total_variation(train.labels, test.labels)
        self.metrics["label_tvd"] = round(distance, 4)
        if distance < self.options.label_threshold:
            return
        moved = largest_differences(train.labels, test.labels)
        only_test = sorted(set(test.labels) - set(train.labels))[:5]
        only_train = sorted(set(train.labels) - set(test.labels))[:5]
        parts = ", ".join(f"'{k}' {a:.0%} in train vs {b:.0%} in test" for k, a, b in moved)
        extra = ""
        if only_test:
            extra += f"; only in test: {', '.join(repr(k) for k in only_test)}"
        if only_train:
            extra += f"; never in test: {', '.join(repr(k) for k in only_train)}"
        yield self.dataset_finding(
            "test", path,
            f"label distribution of test differs from train (total variation {distance:.2f}): {parts}{extra}",
            key="labels",
            evidence={"dimension": "labels", "total_variation": round(distance, 4),
                      "threshold": self.options.label_threshold,
                      "largest_differences": [{"label": k, "train_share": a, "test_share": b} for k, a, b in moved],
                      "only_in_test": only_test, "only_in_train": only_train},
        )

    def _lengths(self, train: _Side, test: _Side, path: str) -> Iterator[Finding]:
        for part, a, b in (("input", train.input_tokens, test.input_tokens),
                           ("output", train.output_tokens, test.output_tokens)):
            statistic = a.ks(b)
            self.metrics[f"{part}_length_ks"] = round(statistic, 4)
            if statistic < self.options.length_threshold:
                continue
            median_train, median_test = a.median(), b.median()
            yield self.dataset_finding(
                "test", path,
                f"{part} length distribution of test differs from train (Kolmogorov-Smirnov {statistic:.2f}): "
                f"median {median_test:g} tokens in test vs {median_train:g} in train ({self._counter.name})",
                key=f"{part}-length",
                evidence={"dimension": f"{part}_length", "ks_statistic": round(statistic, 4),
                          "threshold": self.options.length_threshold,
                          "median_tokens_train": median_train, "median_tokens_test": median_test,
                          "p90_tokens_train": a.percentile(90),
                          "p90_tokens_test": b.percentile(90),
                          "tokenizer": self._counter.name},
            )

    def _formats(self, train: _Side, test: _Side, path: str) -> Iterator[Finding]:
        distance = total_variation(train.shapes, test.shapes)
        self.metrics["format_tvd"] = round(distance, 4)
        if distance < self.options.format_threshold:
            return
        moved = largest_differences(train.shapes, test.shapes)
        parts = ", ".join(f"{k} {a:.0%} in train vs {b:.0%} in test" for k, a, b in moved)
        yield self.dataset_finding(
            "test", path,
            f"output format mix of test differs from train (total variation {distance:.2f}): {parts}",
            key="formats",
            evidence={"dimension": "output_format", "total_variation": round(distance, 4),
                      "threshold": self.options.format_threshold,
                      "train": dict(sorted(train.shapes.items())), "test": dict(sorted(test.shapes.items()))},
        )


CHECKS = [SplitShift]
