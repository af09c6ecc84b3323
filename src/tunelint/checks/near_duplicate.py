"""near-duplicate (D002): examples that are nearly the same text (MinHash LSH over word shingles)."""

from __future__ import annotations

from array import array
from collections import defaultdict
from typing import ClassVar, Iterator

import numpy as np
from pydantic import Field

from tunelint.checks._support import (
    MAX_LISTED,
    ExampleRefs,
    Signatures,
    pair_similarity,
    similar_pairs,
)
from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks.base import CheckOptions
from tunelint.models import Criterion, Finding, Severity
from tunelint.similarity import clusters


class NearDuplicate(BatchedCheck):
    """Examples that are nearly the same text: a few words edited, reworded punctuation, a
    re-templated copy.

    What it does:
        Turns each example (every turn and tool call, system prompt aside) into word shingles,
        computes MinHash signatures and finds candidate pairs with LSH banding, then verifies
        each candidate by its Jaccard similarity — exact while the shingles fit in memory, else
        the signatures' estimate. Pairs at or above `threshold` with the same system prompt are
        linked into clusters; the first example of a cluster is its representative and every
        other member gets one finding naming the cluster, the representative, the other members
        and its similarity to the representative. Exact copies are left to exact-duplicate, and
        examples under `min-words` words are only compared exactly: the word shingles of a short
        text ignore the symbols that carry its meaning ("2+2=4" and "2*2=4").

    Why it matters for a fine-tune:
        Near-copies weigh like exact copies: the model sees the same example several times per
        epoch and memorises it, while the data looks more varied than it is. They come from
        templated generation, paraphrase passes and scrapes of the same page.

    Example:
        {"messages": [{"role": "user", "content": "My order #1234 arrived damaged, the box was crushed and the mug inside is broken. What can I do?"}, {"role": "assistant", "content": "Sorry about that! Reply with a photo and we will ship a replacement today."}]}
        {"messages": [{"role": "user", "content": "My order #1234 arrived damaged, the box was crushed and the cup inside is broken. What can I do?"}, {"role": "assistant", "content": "Sorry about that! Reply with a photo and we will ship a replacement today."}]}

    Use instead:
        Keep one example per cluster (`tunelint clean TRAIN -o OUT` keeps the representative),
        or rewrite the others into genuinely different cases.

    Options:
        threshold: Jaccard similarity at or above which two examples are near-duplicates (default 0.8).
        shingle-size: words per shingle (default 3).
        num-perm: MinHash permutations (default 128).
        min-words: examples with fewer words are only compared exactly (default 10).
        exact-verify-budget: shingles kept for exact verification; past it the estimate is used (default 20,000,000).
    """

    code = "D002"
    name = "near-duplicate"
    criterion = Criterion.DIVERSE
    severity = Severity.WARNING
    summary = "MinHash LSH Jaccard over a threshold (datasketch-compatible)"
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    mergeable = True

    class Options(CheckOptions):
        threshold: float = Field(0.8, gt=0.0, lt=1.0)
        shingle_size: int = Field(3, ge=1, le=13)
        num_perm: int = Field(128, ge=16, le=1024)
        min_words: int = Field(10, ge=1)
        exact_verify_budget: int = Field(20_000_000, ge=0)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        opts = self.options
        self._refs = ExampleRefs()
        self._keys = array("Q")
        self._system = array("Q")
        self._signatures = Signatures(opts.num_perm, opts.shingle_size, keep_shingles=opts.exact_verify_budget)

    def consume(self, batch: Batch) -> None:
        self._refs.add_batch(batch)
        self._keys.frombytes(batch.example_keys().tobytes())
        self._system.frombytes(batch.system_keys().tobytes())
        self._signatures.add_tokens(batch.words("all"))

    def merge(self, other: "NearDuplicate") -> None:
        self.flush()
        other.flush()
        super().merge(other)
        self._refs.extend(other._refs)
        self._keys.extend(other._keys)
        self._system.extend(other._system)
        self._signatures.extend(other._signatures)

    def finish(self) -> Iterator[Finding]:
        self.flush()
        opts = self.options
        signatures, words = self._signatures.finish()
        shingles = self._signatures.shingles()
        keys = np.frombuffer(self._keys, dtype=np.uint64) if len(self._keys) else np.empty(0, dtype=np.uint64)
        system = np.frombuffer(self._system, dtype=np.uint64) if len(self._system) else np.empty(0, dtype=np.uint64)
        found_clusters = found_members = compared = 0
        for split, positions in self._refs.positions_by_split().items():
            # One member per exact-duplicate group: the copies are exact-duplicate's findings.
            _, first = np.unique(keys[positions], return_index=True)
            eligible = np.sort(positions[first])
            eligible = eligible[words[eligible] >= opts.min_words]
            compared += len(eligible)
            pairs, sims = similar_pairs(signatures, eligible, system, opts.threshold, shingles)
            if not len(pairs):
                continue
            roots = clusters(len(signatures), pairs)
            neighbours: dict[int, list[tuple[float, int]]] = defaultdict(list)
            for (a, b), sim in zip(pairs.tolist(), sims.tolist()):
                neighbours[a].append((sim, b))
                neighbours[b].append((sim, a))
            members_of: dict[int, list[int]] = defaultdict(list)
            for pos in sorted(neighbours):
                members_of[int(roots[pos])].append(pos)
            for number, rep in enumerate(sorted(members_of), start=1):
                members = members_of[rep]
                found_clusters += 1
                found_members += len(members) - 1
                cluster = f"near-{split}-{number}"
                yield from self._cluster_findings(cluster, rep, members, neighbours, signatures, shingles)
        self.metrics = {
            "examples": len(self._refs),
            "compared": compared,
            "clusters": found_clusters,
            "near_copies": found_members,
            "threshold": opts.threshold,
            "verification": "exact" if shingles is not None else "estimated",
        }

    def _cluster_findings(self, cluster, rep, members, neighbours, signatures, shingles) -> Iterator[Finding]:
        refs = self._refs
        listed = members[: MAX_LISTED + 1]
        for pos in members:
            if pos == rep:
                continue
            similarity = pair_similarity(signatures, shingles, rep, pos)
            best_sim, best = max(neighbours[pos], key=lambda sn: (sn[0], -sn[1]))
            others = [m for m in listed if m not in (rep, pos)][:MAX_LISTED]
            evidence = {
                "cluster": cluster,
                "representative": refs.ref(rep),
                "similarity": round(similarity, 3),
                "members": [refs.ref(m) for m in listed],
                "members_total": len(members),
                "threshold": self.options.threshold,
            }
            if best != rep:
                # Joined through another member (a chain): say which, and how close.
                evidence["linked_through"] = {**refs.ref(best), "similarity": round(best_sim, 3)}
            yield self.finding(
                refs.stub(pos),
                f"near-duplicate of {refs.where(rep)} (Jaccard {similarity:.2f} over word "
                f"{self.options.shingle_size}-shingles); cluster {cluster} has {len(members)} members, the first is kept",
                related=[refs.location(rep)] + [refs.location(m) for m in others],
                evidence=evidence,
            )


CHECKS = [NearDuplicate]
