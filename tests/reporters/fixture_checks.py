"""Test-only checks, loaded as a user plugin, that give the reporters what real checks will:
label counts in `metrics` and duplicate clusters with related members. They echo dataset text
into messages and evidence, as label and duplicate checks do, so escaping is exercised.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from tunelint import Criterion, DatasetCheck, Severity


class FixtureLabels(DatasetCheck):
    """Counts the final assistant answer as a label (test fixture).

    What it does:
        Counts outputs per split and reports labels seen once.

    Why it matters for a fine-tune:
        Test fixture only.

    Example:
        {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "billing"}]}

    Use instead:
        Nothing; a fixture.

    Options:
        None.
    """

    code = "B901"
    name = "fixture-labels"
    criterion = Criterion.BALANCED
    severity = Severity.INFO
    summary = "test fixture: label counts"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.first: dict[tuple[str, str], object] = {}

    def observe(self, example):
        if example.split == "reference":
            return
        label = example.output_text.strip()[:40]
        self.counts[example.split][label] += 1
        self.first.setdefault((example.split, label), example)

    def finish(self):
        self.metrics["label_counts"] = {s: dict(sorted(c.items())) for s, c in sorted(self.counts.items())}
        for split, c in sorted(self.counts.items()):
            for label, n in sorted(c.items()):
                if n == 1 and label:
                    yield self.finding(self.first[(split, label)], f"label '{label}' appears once",
                                       evidence={"label": label, "count": n}, key=label)


class FixtureDuplicates(DatasetCheck):
    """Exact duplicates by whole text (test fixture).

    What it does:
        Groups examples by their text.

    Why it matters for a fine-tune:
        Test fixture only.

    Example:
        {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}

    Use instead:
        Nothing; a fixture.

    Options:
        None.
    """

    code = "D901"
    name = "fixture-duplicates"
    criterion = Criterion.DIVERSE
    severity = Severity.WARNING
    summary = "test fixture: duplicate clusters"
    splits = ("train",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.groups: dict[str, list] = defaultdict(list)

    def observe(self, example):
        self.groups[example.text].append(example)

    def finish(self):
        cluster = 0
        for text, members in sorted(self.groups.items(), key=lambda kv: kv[1][0].index):
            if len(members) < 2:
                continue
            cluster += 1
            keep = members[0]
            for m in members[1:]:
                yield self.finding(
                    m, f"duplicate of the example at line {keep.line}: '{_user(m)[:400]}'",
                    related=[keep.location] + [o.location for o in members[1:] if o is not m],
                    evidence={"cluster": cluster, "cluster_size": len(members), "kept": keep.index},
                )


def _user(example) -> str:
    return next((t.content for t in example.turns if t.role.value == "user"), "")
