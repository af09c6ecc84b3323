"""exact-duplicate (D001): the same example more than once, after normalisation."""

from __future__ import annotations

from array import array
from typing import Any, ClassVar, Iterable, Iterator

import numpy as np

from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks._keyed import Places, places_of
from tunelint.checks._support import MAX_LISTED, ExampleRefs, iter_runs
from tunelint.checks.base import Keyed, KeyRows
from tunelint.models import Criterion, Finding, Severity
from tunelint.similarity.hashing import mix64


class ExactDuplicate(BatchedCheck, Keyed):
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
        # Results of a keyed shuffle (see `Keyed`), when an engine ran one instead of merging.
        self._keyed: tuple | None = None

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
        if self._keyed is not None:
            yield from self._finish_keyed()
            return
        self.flush()
        refs = self._refs
        keys = np.frombuffer(self._keys, dtype=np.uint64) if len(self._keys) else np.empty(0, dtype=np.uint64)
        groups = (
            (split, [int(p) for p in positions[group]])
            for split, positions in refs.positions_by_split().items()
            for group in iter_runs(keys[positions])
        )
        yield from self._report(groups, refs, len(refs))

    def _report(self, groups: Iterable[tuple[str, list[int]]], refs, examples: int) -> Iterator[Finding]:
        """Findings and metrics from the clusters, (split, members in reading order) each, split
        by split and in the order of their first members; `refs` answers where members are."""
        total_clusters = total_copies = 0
        number: dict[str, int] = {}
        for split, members in groups:
            number[split] = number.get(split, 0) + 1
            total_clusters += 1
            total_copies += len(members) - 1
            yield from self._cluster_findings(f"exact-{split}-{number[split]}", members, refs)
        self.metrics = {
            "examples": examples,
            "clusters": total_clusters,
            "extra_copies": total_copies,
            "duplicate_share": round(total_copies / examples, 4) if examples else 0.0,
        }

    def _cluster_findings(self, cluster: str, members: list[int], refs) -> Iterator[Finding]:
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

    # -- the keyed shuffle (see `Keyed`): one row per example keyed by its normalised key; the
    # groups of equal keys are whole in one partition, so no verification is needed.

    def keyed_facts(self) -> dict:
        self.flush()
        return {"examples": len(self._refs), "paths": list(self._refs._paths)}

    @staticmethod
    def _split_names(facts: list[dict]) -> list[str]:
        return sorted({split for f in facts for split, _ in f["paths"]})

    def keyed_rows(self, facts: list[dict]) -> dict[str, KeyRows]:
        """One row per example: its exact-duplicate key, its split (a global numbering)."""
        self.flush()
        n = len(self._refs)
        keys = np.frombuffer(self._keys, dtype=np.uint64) if n else np.empty(0, dtype=np.uint64)
        names = self._split_names(facts)
        split = np.zeros(n, dtype=np.int8)
        for name, positions in self._refs.positions_by_split().items():
            split[positions] = names.index(name)
        return {"exact": KeyRows(key=keys.copy(), ids=np.arange(n, dtype=np.int64), columns={"split": split})}

    def keyed_candidates(self, kinds: dict[str, KeyRows], facts: list[dict]) -> tuple[KeyRows, None]:
        """(first, copy) for every copy after the first of each run of equal (split, key)."""
        rows = kinds["exact"]
        split = rows.columns["split"]
        order = np.lexsort((rows.ids, rows.key, split))
        key, split, ids = rows.key[order], split[order], rows.ids[order]
        start = np.ones(len(order), dtype=np.bool_)
        if len(order) > 1:
            start[1:] = (key[1:] != key[:-1]) | (split[1:] != split[:-1])
        first = ids[np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))] if len(order) else ids
        copy = ~start
        a, b, pair_split = first[copy], ids[copy], split[copy]
        return KeyRows(key=mix64(a.astype(np.uint64)), ids=a, columns={"other": b, "split": pair_split}), None

    def keyed_prepare(self, facts: list[dict], group_facts: list[Any]) -> None:
        return None

    def keyed_payload(self, positions: np.ndarray, ids: np.ndarray) -> dict:
        self.flush()
        return {"ids": np.asarray(ids, dtype=np.int64), "places": places_of(self._refs, np.asarray(positions).tolist())}

    def keyed_verify(self, pairs: KeyRows, payload: list[dict], facts: list[dict], prepared: None) -> tuple:
        # Equal keys are the check's definition of a copy: every candidate pair holds.
        return pairs.ids, pairs.columns["other"], pairs.columns["split"]

    def keyed_members(self, verified: list[tuple], facts: list[dict], prepared: None) -> np.ndarray:
        parts = [np.concatenate((a, b)) for a, b, _ in verified]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def _finish_keyed(self) -> Iterator[Finding]:
        facts, _, verified, payload = self._keyed
        self._keyed = None
        paths = list(dict.fromkeys(p for f in facts for p in f["paths"]))
        refs = Places({int(i): place for part in payload for i, place in zip(part["ids"].tolist(), part["places"])},
                      many=len(paths) > 1)
        if verified:
            a, b, split = (np.concatenate(parts) for parts in zip(*verified))
        else:
            a = b = np.empty(0, dtype=np.int64)
            split = np.empty(0, dtype=np.int8)
        names = self._split_names(facts)
        order = np.lexsort((b, a, split))
        a, b, split = a[order].tolist(), b[order].tolist(), split[order].tolist()
        groups: list[tuple[str, list[int]]] = []
        for first, copy, s in zip(a, b, split):
            if not groups or groups[-1][1][0] != first:
                groups.append((names[s], [first]))
            groups[-1][1].append(copy)
        yield from self._report(groups, refs, sum(f["examples"] for f in facts))


CHECKS = [ExactDuplicate]
