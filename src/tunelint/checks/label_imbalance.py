"""label-imbalance (B001): a skewed label distribution, rare classes, declared classes missing."""

from __future__ import annotations

import math
from typing import ClassVar, Iterator

from pydantic import Field

from tunelint.checks._labelled import LabelledCheck
from tunelint.checks.base import CheckOptions
from tunelint.labels import LabelSpec, canonical_label
from tunelint.models import Criterion, Finding, Severity

_LISTED_CLASSES = 30


class LabelImbalance(LabelledCheck):
    """A skewed label distribution: one class dominates, some are rare, declared ones are missing.

    What it does:
        Applies to classification-like data only and says why it decided the data is: the config
        names the labels (`[tool.tunelint.labels]`: a class list, a JSON key of the output or a
        regex), or nearly every output (`min-label-share`, 95 %) is a short value (at most five
        words) from at most `max-classes` distinct values that repeat. Over the training labels
        it reports: a skewed distribution (normalised entropy below `min-entropy`, or most / least
        frequent class above `max-ratio`, rare classes aside, or a single class), each rare class (under `rare-share`
        of the examples) and each declared class that never occurs. Metrics show the counts.

    Why it matters for a fine-tune:
        A fine-tuned classifier learns the prior: with 90 % of one class it predicts that class
        whenever it is unsure, and a class seen five times is barely learned. A class that never
        occurs cannot be predicted at all.

    Example:
        {"prompt": "Loved every minute of it", "completion": "negative"}
        {"prompt": "A masterpiece", "completion": "negative"}

    Use instead:
        Collect or synthesise examples of the missing and rare classes, or down-sample the
        dominant one, until the distribution is the one you want the model to learn.

    Options:
        min-entropy: normalised entropy under which the distribution is skewed (default 0.7).
        max-ratio: most / least frequent class count above which it is skewed (default 10).
        rare-share: a class under this share of the labelled examples is rare (default 0.01).
        labels: where the label is (classes, key, pattern); default: the `labels` settings.
    """

    code = "B001"
    name = "label-imbalance"
    criterion = Criterion.BALANCED
    severity = Severity.WARNING
    summary = "skewed label distribution (normalised entropy, max/min ratio) and missing / rare classes"
    splits: ClassVar[tuple[str, ...]] = ("train",)
    # Reports the distribution, never a single example: counts of each spelling are enough.
    per_example = False

    class Options(CheckOptions):
        min_entropy: float = Field(0.7, ge=0.0, le=1.0)
        max_ratio: float = Field(10.0, ge=1.0)
        rare_share: float = Field(0.01, ge=0.0, lt=1.0)
        labels: LabelSpec | None = None

    def finish(self) -> Iterator[Finding]:
        self.flush()
        opts = self.options
        prof = self._tally.profile()
        self.metrics = {"classification_like": prof.classification, "reason": prof.reason}
        if not prof.classification:
            self.mark_not_assessed(f"the data is not classification-like: {prof.reason}")
            return
        path = self._first_path
        shown = self._tally.display()
        counts = dict(prof.counts)
        declared = {canonical_label(c): c for c in self._spec.classes}
        for key, name in declared.items():
            counts.setdefault(key, 0)
            shown.setdefault(key, name)
        total = sum(counts.values())
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        present = [(k, n) for k, n in ordered if n > 0]
        k = len(present)
        # Entropy over the classes that occur: a missing declared class is its own finding.
        entropy = -sum((n / total) * math.log(n / total) for _, n in present) if total else 0.0
        norm_entropy = entropy / math.log(k) if k > 1 else 0.0
        # The ratio compares the classes that are not rare: a class of one example is its own
        # finding and would otherwise make every dataset with a stray label look skewed.
        common = [(key, n) for key, n in present if n / total >= opts.rare_share] or present
        ratio = common[0][1] / common[-1][1] if common else 0.0
        self.metrics.update({
            "classes": len(counts),
            "labelled_examples": total,
            "counts": {shown.get(key, key): n for key, n in ordered[:_LISTED_CLASSES]},
            "normalised_entropy": round(norm_entropy, 4),
            "max_min_ratio": round(ratio, 2),
        })
        evidence = {
            "why_classification": prof.reason,
            "counts": {shown.get(key, key): n for key, n in ordered[:_LISTED_CLASSES]},
            "normalised_entropy": round(norm_entropy, 4),
            "max_min_ratio": round(ratio, 2),
        }
        top_key, top_n = present[0]
        top = shown.get(top_key, top_key)
        if len(present) == 1:
            yield self.dataset_finding(
                "train", path,
                f"every labelled example has the label {top!r} ({top_n} of {total}): the model can only learn "
                f"to answer {top!r}; classification-like because {prof.reason}",
                key="skew", evidence=evidence,
            )
        elif norm_entropy < opts.min_entropy or ratio > opts.max_ratio:
            low_key, low_n = common[-1]
            yield self.dataset_finding(
                "train", path,
                f"labels are skewed: {top!r} is {top_n / total:.0%} of {total} labelled examples, "
                f"{ratio:.1f}x the least common ({shown.get(low_key, low_key)!r}, {low_n}); normalised entropy "
                f"{norm_entropy:.2f} (min {opts.min_entropy}), ratio limit {opts.max_ratio:g}; "
                f"classification-like because {prof.reason}",
                key="skew", evidence=evidence,
            )
        if len(present) > 1:
            for key, n in present:
                if n / total < opts.rare_share:
                    yield self.dataset_finding(
                        "train", path,
                        f"class {shown.get(key, key)!r} is rare: {n} of {total} labelled examples "
                        f"({n / total:.1%}, under {opts.rare_share:.0%})",
                        key=f"rare:{key}", evidence={**evidence, "class": shown.get(key, key), "count": n},
                    )
        for key, name in declared.items():
            if counts.get(key, 0) == 0:
                yield self.dataset_finding(
                    "train", path,
                    f"declared class {name!r} never occurs in {total} labelled examples",
                    key=f"missing:{key}", evidence={**evidence, "class": name},
                )


CHECKS = [LabelImbalance]
