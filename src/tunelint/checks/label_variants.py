"""label-variants (K002): one label written several ways ("Billing", "billing ", "BILLING")."""

from __future__ import annotations

from collections import defaultdict
from typing import ClassVar, Iterator

from tunelint.checks._labelled import LabelledCheck
from tunelint.checks.base import CheckOptions
from tunelint.labels import LabelSpec
from tunelint.models import Criterion, Finding, Severity


class LabelVariants(LabelledCheck):
    """One label written several ways: "Billing", "billing ", "BILLING", "billing.".

    What it does:
        In classification-like data (see label-imbalance for how that is decided, or name the
        labels in `[tool.tunelint.labels]`), groups the labels by a canonical form — case-folded,
        NFKC, surrounding spaces and punctuation and end-of-text markers dropped, runs of spaces,
        underscores and hyphens as one — and reports every example whose spelling differs from
        the most common spelling of its label.

    Why it matters for a fine-tune:
        The model learns every spelling as a separate answer: it splits the probability between
        them, and code that compares its output to "Billing" misses "billing ". Counts per class
        are wrong too, so balance looks different from what it is.

    Example:
        {"prompt": "I was charged twice this month", "completion": "Billing"}
        {"prompt": "Refund my last invoice", "completion": "billing "}

    Use instead:
        {"prompt": "Refund my last invoice", "completion": "Billing"}

    Options:
        labels: where the label is (classes, key, pattern); default: the `labels` settings.
    """

    code = "K002"
    name = "label-variants"
    criterion = Criterion.CONSISTENT
    severity = Severity.WARNING
    summary = "one label written several ways (\"Billing\", \"billing \", \"BILLING\")"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")

    class Options(CheckOptions):
        labels: LabelSpec | None = None

    def finish(self) -> Iterator[Finding]:
        self.flush()
        tally = self._tally
        prof = tally.profile()
        self.metrics = {"classification_like": prof.classification, "reason": prof.reason}
        if not prof.classification:
            self.mark_not_assessed(f"the data is not classification-like: {prof.reason}")
            return
        counts = tally.spelling_counts().tolist()
        spellings_of: dict[int, list[int]] = defaultdict(list)
        for sid, n in enumerate(counts):
            if n:
                spellings_of[tally.canonical_of[sid]].append(sid)
        # Per label with several spellings: the most common spelling (the first seen on a tie).
        preferred = {
            cid: max(sids, key=lambda s: (counts[s], -s))
            for cid, sids in spellings_of.items()
            if len(sids) > 1
        }
        self.metrics["labels_with_variants"] = len(preferred)
        spelled = tally.spelled_array()
        reported = 0
        for pos, sid in enumerate(spelled.tolist()):
            if sid < 0:
                continue
            cid = tally.canonical_of[sid]
            if cid not in preferred or sid == preferred[cid]:
                continue
            reported += 1
            want = tally.spellings[preferred[cid]]
            variants = {tally.spellings[s]: counts[s] for s in sorted(spellings_of[cid], key=lambda s: -counts[s])}
            shown = ", ".join(f"{s!r} ×{n}" for s, n in variants.items())
            yield self.finding(
                self._refs.stub(pos),
                f"label {tally.spellings[sid]!r} is a variant of {want!r}; this label is written "
                f"{len(variants)} ways ({shown})",
                evidence={
                    "label": tally.spellings[sid],
                    "preferred": want,
                    "canonical": tally.canonicals[cid],
                    "variants": variants,
                },
                key=tally.spellings[sid],
            )
        self.metrics["examples_reported"] = reported


CHECKS = [LabelVariants]
