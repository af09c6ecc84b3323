"""exact-duplicate (D001): the same example more than once, after normalisation."""

from __future__ import annotations

from array import array
from typing import ClassVar, Iterator

import numpy as np

from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks._support import MAX_LISTED, ExampleRefs, iter_runs
from tunelint.models import Criterion, Finding, Severity


class ExactDuplicate(BatchedCheck):
    """The same example more than once, after normalising case, whitespace and unicode.

    What it does:
        Hashes every example — each turn with its role, tool calls, and the rejected side of a
        preference pair — after NFKC normalisation, case folding and collapsing whitespace, and
        groups equal hashes into clusters. The first occurrence is the cluster's representative;
        every further copy gets one finding naming the cluster, the representative and the other
        copies. Train and test are checked separately (copies across them are test-leakage).

    Why it matters for a fine-tune:
        A copied example is trained on several times per epoch: the model over-weights it,
        memorises it, and the other examples count for less. Copies usually come from a join or
        an export run twice.

    Example:
        {"messages": [{"role": "user", "content": "Reset my password"}, {"role": "assistant", "content": "Open Settings > Security."}]}
        {"messages": [{"role": "user", "content": "reset my  password"}, {"role": "assistant", "content": "Open Settings > Security."}]}

    Use instead:
        Keep one copy: `tunelint clean TRAIN -o OUT` writes the file without the extra copies,
        and a log of what it dropped.

    Options:
        None.
    """

    code = "D001"
    name = "exact-duplicate"
    criterion = Criterion.DIVERSE
    severity = Severity.WARNING
    summary = "same example after normalisation (case, whitespace, unicode)"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    mergeable = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._refs = ExampleRefs()
        self._keys = array("Q")

    def consume(self, batch: Batch) -> None:
        self._refs.add_batch(batch)
        self._keys.frombytes(batch.example_keys().tobytes())

    def merge(self, other: "ExactDuplicate") -> None:
        self.flush()
        other.flush()
        super().merge(other)
        self._refs.extend(other._refs)
        self._keys.extend(other._keys)

    def finish(self) -> Iterator[Finding]:
        self.flush()
        refs = self._refs
        keys = np.frombuffer(self._keys, dtype=np.uint64) if len(self._keys) else np.empty(0, dtype=np.uint64)
        total_clusters = total_copies = 0
        for split, positions in refs.positions_by_split().items():
            number = 0
            for group in iter_runs(keys[positions]):
                members = [int(p) for p in positions[group]]
                number += 1
                total_clusters += 1
                total_copies += len(members) - 1
                cluster = f"exact-{split}-{number}"
                yield from self._cluster_findings(cluster, members)
        examples = len(refs)
        self.metrics = {
            "examples": examples,
            "clusters": total_clusters,
            "extra_copies": total_copies,
            "duplicate_share": round(total_copies / examples, 4) if examples else 0.0,
        }

    def _cluster_findings(self, cluster: str, members: list[int]) -> Iterator[Finding]:
        refs = self._refs
        rep = members[0]
        listed = members[: MAX_LISTED + 1]
        for copy, pos in enumerate(members[1:], start=2):
            others = [m for m in listed if m not in (rep, pos)][:MAX_LISTED]
            yield self.finding(
                refs.stub(pos),
                f"exact duplicate of {refs.where(rep)} (after normalising case, whitespace and unicode); "
                f"cluster {cluster} has {len(members)} copies, the first is kept",
                related=[refs.location(rep)] + [refs.location(m) for m in others],
                evidence={
                    "cluster": cluster,
                    "representative": refs.ref(rep),
                    "members": [refs.ref(m) for m in listed],
                    "members_total": len(members),
                    "similarity": 1.0,
                },
                # Identical records share a record hash; the copy number keeps their fingerprints apart.
                key=f"copy{copy}",
            )


CHECKS = [ExactDuplicate]
