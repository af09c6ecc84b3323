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
from tunelint.checks._keyed import Places
from tunelint.checks.base import CheckOptions, Keyed, KeyRows
from tunelint.models import Criterion, Finding, Severity
from tunelint.similarity import (
    Ragged,
    clusters,
    estimated_jaccard_pairs,
    exact_jaccard,
    exact_jaccard_pairs,
    lsh_params,
)
from tunelint.similarity.hashing import mix64, ranges
from tunelint.similarity.lsh import band_keys, keyed_run_pairs

# Split codes in keyed rows.
_SPLITS = ("train", "test")
# Candidate pairs of one LSH run longer than this are linked as a star (as `similar_pairs`).
_MAX_BUCKET = 64


class NearDuplicate(BatchedCheck, Keyed):
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
        # Results of a keyed shuffle (see `Keyed`), when an engine ran one instead of merging.
        self._keyed: tuple | None = None

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
        if self._keyed is not None:
            yield from self._finish_keyed()
            return
        self.flush()
        opts = self.options
        signatures, words = self._signatures.finish_parts()
        shingles = self._signatures.shingle_parts()
        keys = np.frombuffer(self._keys, dtype=np.uint64) if len(self._keys) else np.empty(0, dtype=np.uint64)
        system = np.frombuffer(self._system, dtype=np.uint64) if len(self._system) else np.empty(0, dtype=np.uint64)
        found = [0, 0]  # clusters, members beyond the first
        compared = 0

        def similarity(a: int, b: int) -> float:
            return pair_similarity(signatures, shingles, a, b)

        for split, positions in self._refs.positions_by_split().items():
            # One member per exact-duplicate group: the copies are exact-duplicate's findings.
            _, first = np.unique(keys[positions], return_index=True)
            eligible = np.sort(positions[first])
            eligible = eligible[words[eligible] >= opts.min_words]
            compared += len(eligible)
            pairs, sims = similar_pairs(signatures, eligible, system, opts.threshold, shingles)
            yield from self._split_findings(split, len(signatures), pairs, sims, self._refs, similarity, found)
        self._set_metrics(len(self._refs), compared, found, shingles is not None)

    def _set_metrics(self, examples: int, compared: int, found: list[int], exact: bool) -> None:
        self.metrics = {
            "examples": examples,
            "compared": compared,
            "clusters": found[0],
            "near_copies": found[1],
            "threshold": self.options.threshold,
            "verification": "exact" if exact else "estimated",
        }

    def _split_findings(self, split, count, pairs, sims, refs, similarity, found) -> Iterator[Finding]:
        """Findings of one split from its verified pairs (positions in 0..count, i < j)."""
        if not len(pairs):
            return
        roots = clusters(count, pairs)
        neighbours: dict[int, list[tuple[float, int]]] = defaultdict(list)
        for (a, b), sim in zip(pairs.tolist(), sims.tolist()):
            neighbours[a].append((sim, b))
            neighbours[b].append((sim, a))
        members_of: dict[int, list[int]] = defaultdict(list)
        for pos in sorted(neighbours):
            members_of[int(roots[pos])].append(pos)
        for number, rep in enumerate(sorted(members_of), start=1):
            members = members_of[rep]
            found[0] += 1
            found[1] += len(members) - 1
            cluster = f"near-{split}-{number}"
            yield from self._cluster_findings(cluster, rep, members, neighbours, refs, similarity)

    # -- the keyed shuffle (see `Keyed`): the same findings without one state holding everything

    def keyed_facts(self) -> dict:
        self.flush()
        signatures = self._signatures
        signatures.finish()
        kept = signatures.shingles()
        return {
            "examples": len(self._refs),
            "shingles": signatures._kept_count if kept is not None else self.options.exact_verify_budget + 1,
            "paths": list(self._refs._paths),
        }

    def keyed_rows(self, facts: list[dict]) -> dict[str, KeyRows]:
        """Per example that near-duplicate compares (at least `min-words` words): one row per
        LSH band (key: the band key) and one row keyed by its exact-duplicate key, to count the
        distinct examples compared."""
        self.flush()
        opts = self.options
        if not self._exact(facts):
            # Past the budget over all pieces, verification uses the estimate: free the shingles.
            self._signatures._kept = None
        bands, rows = lsh_params(opts.threshold, opts.num_perm)
        signatures, words = self._signatures.finish()
        n = len(self._refs)
        keys = np.frombuffer(self._keys, dtype=np.uint64) if n else np.empty(0, dtype=np.uint64)
        system = np.frombuffer(self._system, dtype=np.uint64) if n else np.empty(0, dtype=np.uint64)
        split = np.zeros(n, dtype=np.int8)
        for name, positions in self._refs.positions_by_split().items():
            split[positions] = _SPLITS.index(name)
        eligible = np.flatnonzero(words >= opts.min_words)
        m = len(eligible)
        banded = band_keys(signatures[eligible], bands, rows).reshape(-1)
        band = np.concatenate((np.tile(np.arange(bands, dtype=np.int16), m), np.full(m, -1, dtype=np.int16)))
        every = np.concatenate((np.repeat(eligible, bands), eligible))
        return {"lsh": KeyRows(
            key=np.concatenate((banded, keys[eligible])),
            ids=every.astype(np.int64),
            columns={"band": band, "split": split[every], "example": keys[every], "system": system[every]},
        )}

    def keyed_candidates(self, kinds: dict[str, KeyRows], facts: list[dict]) -> tuple[KeyRows, dict]:
        """Candidate pairs of one partition, as `similar_pairs` finds them over the eligible
        examples of each split (first copy of each exact duplicate, at least `min-words`)."""
        rows = kinds["lsh"]
        band, split = rows.columns["band"], rows.columns["split"]
        counting = band < 0
        # Distinct examples compared, per split: groups of (split, exact-duplicate key).
        code = np.unique(np.stack((split[counting].astype(np.uint64), rows.key[counting]), axis=1), axis=0)
        compared = {_SPLITS[int(c)]: int(k) for c, k in zip(*np.unique(code[:, 0], return_counts=True))} if len(code) else {}
        rows = rows.take(np.flatnonzero(~counting))
        band, split = rows.columns["band"], rows.columns["split"]
        example = rows.columns["example"]
        # Exact copies share their signature and so every band run: keep the first of each.
        order = np.lexsort((rows.ids, example, rows.key, band, split))
        first = np.ones(len(order), dtype=np.bool_)
        if len(order) > 1:
            s, b, k, e = split[order], band[order], rows.key[order], example[order]
            first[1:] = (s[1:] != s[:-1]) | (b[1:] != b[:-1]) | (k[1:] != k[:-1]) | (e[1:] != e[:-1])
        rows = rows.take(order[first])
        left, right = keyed_run_pairs((rows.columns["split"], rows.columns["band"], rows.key), rows.ids, _MAX_BUCKET)
        same = rows.columns["system"][left] == rows.columns["system"][right]
        left, right = left[same], right[same]
        a, b, pair_split = rows.ids[left], rows.ids[right], rows.columns["split"][left]
        if len(a):
            unique, first = np.unique(np.stack((a, b), axis=1), axis=0, return_index=True)
            a, b, pair_split = unique[:, 0], unique[:, 1], pair_split[first]
        pairs = KeyRows(key=mix64(a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ b.astype(np.uint64)),
                        ids=a.astype(np.int64), columns={"other": b.astype(np.int64), "split": pair_split.astype(np.int8)})
        return pairs, {"compared": compared}

    def keyed_payload(self, positions: np.ndarray, ids: np.ndarray) -> "_Payload":
        self.flush()
        signatures, _ = self._signatures.finish()
        shingles = self._signatures.shingles()
        positions = np.asarray(positions, dtype=np.int64)
        taken = None
        if shingles is not None:
            lengths = shingles.lengths()[positions]
            offsets = np.zeros(len(positions) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            taken = Ragged(shingles.values[ranges(shingles.offsets[positions], lengths)], offsets)
        refs = self._refs
        places = [(refs.split(p), refs.path(p), refs.index(p), refs.line(p), refs.record_hash(p)) for p in positions.tolist()]
        return _Payload(np.asarray(ids, dtype=np.int64), signatures[positions], taken, places)

    def _exact(self, facts: list[dict]) -> bool:
        return sum(f["shingles"] for f in facts) <= self.options.exact_verify_budget

    def keyed_prepare(self, facts: list[dict], group_facts: list[dict]) -> int:
        """How many examples were compared (distinct, at least `min-words`)."""
        return sum(n for g in group_facts for n in g["compared"].values())

    def keyed_verify(self, pairs: KeyRows, payload: list["_Payload"], facts: list[dict], prepared: int) -> tuple:
        table = _Payload.concatenate(payload, self.options.num_perm)
        exact = self._exact(facts) and table.shingles is not None
        local = np.stack((np.searchsorted(table.ids, pairs.ids), np.searchsorted(table.ids, pairs.columns["other"])), axis=1)
        if exact:
            sims = exact_jaccard_pairs(table.shingles, local)
        else:
            sims = estimated_jaccard_pairs(table.signatures, local)
        keep = sims >= self.options.threshold
        return pairs.ids[keep], pairs.columns["other"][keep], pairs.columns["split"][keep], sims[keep]

    def keyed_members(self, verified: list[tuple], facts: list[dict], prepared: int) -> np.ndarray:
        parts = [np.concatenate((a, b)) for a, b, _, _ in verified]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def _finish_keyed(self) -> Iterator[Finding]:
        facts, compared, verified, payload = self._keyed
        self._keyed = None
        table = _Payload.concatenate(payload, self.options.num_perm)
        exact = self._exact(facts)
        paths = list(dict.fromkeys(p for f in facts for p in f["paths"]))
        refs = Places(table.places, many=len(paths) > 1)
        if verified:
            a, b, split, sims = (np.concatenate(parts) for parts in zip(*verified))
        else:
            a = b = np.empty(0, dtype=np.int64)
            split, sims = np.empty(0, dtype=np.int8), np.empty(0)
        order = np.lexsort((b, a))
        a, b, split, sims = a[order], b[order], split[order], sims[order]
        count = len(table.ids)

        def similarity(x: int, y: int) -> float:
            if exact and table.shingles is not None:
                return float(exact_jaccard(table.shingles.row(x), table.shingles.row(y)))
            return float(estimated_jaccard_pairs(table.signatures, np.array([[x, y]], dtype=np.int64))[0])

        found = [0, 0]
        for name in sorted({s for s, _ in paths}):
            mine = split == _SPLITS.index(name)
            pairs = np.stack((np.searchsorted(table.ids, a[mine]), np.searchsorted(table.ids, b[mine])), axis=1)
            yield from self._split_findings(name, count, pairs, sims[mine], refs, similarity, found)
        self._set_metrics(sum(f["examples"] for f in facts), compared, found, exact)

    def _cluster_findings(self, cluster, rep, members, neighbours, refs, similarity) -> Iterator[Finding]:
        listed = members[: MAX_LISTED + 1]
        for pos in members:
            if pos == rep:
                continue
            # A member paired with the representative was verified with this very measure.
            sim_rep = next((sim for sim, other in neighbours[pos] if other == rep), None)
            if sim_rep is None:
                sim_rep = similarity(rep, pos)
            best_sim, best = max(neighbours[pos], key=lambda sn: (sn[0], -sn[1]))
            others = [m for m in listed if m not in (rep, pos)][:MAX_LISTED]
            evidence = {
                "cluster": cluster,
                "representative": refs.ref(rep),
                "similarity": round(sim_rep, 3),
                "members": [refs.ref(m) for m in listed],
                "members_total": len(members),
                "threshold": self.options.threshold,
            }
            if best != rep:
                # Joined through another member (a chain): say which, and how close.
                evidence["linked_through"] = {**refs.ref(best), "similarity": round(best_sim, 3)}
            yield self.finding(
                refs.stub(pos),
                f"near-duplicate of {refs.where(rep)} (Jaccard {sim_rep:.2f} over word "
                f"{self.options.shingle_size}-shingles); cluster {cluster} has {len(members)} members, the first is kept",
                related=[refs.location(rep)] + [refs.location(m) for m in others],
                evidence=evidence,
            )


class _Payload:
    """Signatures, shingles (when kept) and places of some examples, by global id."""

    def __init__(self, ids: np.ndarray, signatures: np.ndarray, shingles: Ragged | None, places: list[tuple]) -> None:
        self.ids = ids
        self.signatures = signatures
        self.shingles = shingles
        self.places = places

    @staticmethod
    def concatenate(parts: list["_Payload"], num_perm: int) -> "_Payload":
        parts = [p for p in parts if len(p.ids)]
        if not parts:
            return _Payload(np.empty(0, dtype=np.int64), np.empty((0, num_perm), dtype=np.uint32), None, [])
        ids = np.concatenate([p.ids for p in parts])
        order = np.argsort(ids, kind="stable")
        shingles = None
        if all(p.shingles is not None for p in parts):
            joined = Ragged.concatenate([p.shingles for p in parts])
            lengths = joined.lengths()[order]
            offsets = np.zeros(len(order) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            shingles = Ragged(joined.values[ranges(joined.offsets[:-1][order], lengths)], offsets)
        places = [x for p in parts for x in p.places]
        return _Payload(ids[order], np.concatenate([p.signatures for p in parts])[order], shingles,
                        [places[i] for i in order.tolist()])


CHECKS = [NearDuplicate]
