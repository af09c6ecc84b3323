"""conflicting-outputs (K001): the same or nearly the same input taught with different outputs."""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from typing import ClassVar, Iterator

import numpy as np
from pydantic import Field

from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks._support import (
    ExampleRefs,
    Signatures,
    excerpt,
    fetch_examples,
    iter_runs,
    minority,
    output_text,
    pair_similarity,
    similar_pairs,
    without_values,
)
from tunelint.checks._keyed import Places, places_of, take_rows
from tunelint.checks.base import CheckOptions, Keyed, KeyRows
from tunelint.labels import LabelSpec, canonical_label, label_spec, profile
from tunelint.models import Criterion, Finding, Severity
from tunelint.similarity import Ragged, estimated_jaccard_pairs, exact_jaccard, exact_jaccard_pairs, lsh_params
from tunelint.similarity.hashing import mix64
from tunelint.similarity.lsh import band_keys, keyed_run_pairs

# Members shown side by side in one finding's evidence.
_SHOWN = 8
# Candidate pairs of one LSH run longer than this are linked as a star (as `similar_pairs`).
_MAX_BUCKET = 64


class ConflictingOutputs(BatchedCheck, Keyed):
    """The same or nearly the same input, taught with different outputs.

    What it does:
        Takes each example's input — the system prompt and every turn before the final
        assistant turn, so the same text under a different instruction or system prompt is a
        different input — and compares the outputs of examples whose normalised inputs are equal.
        For classification-like data (see label-imbalance) the labels are compared, otherwise the
        answers, which agree when the Jaccard of their word sets reaches `output-similarity`.
        Members whose output differs from the group's majority are reported (every member when
        there is no majority). Near conflicts: each input is also paired (MinHash LSH, verified
        Jaccard at least `threshold`, same system prompt) with its most similar other input; when
        the two teach different things, the later example is reported. Evidence shows the members
        side by side. Different answers to one prompt in generative data are reported as info.

    Why it matters for a fine-tune:
        The model is asked to learn two answers to one question: it learns neither reliably,
        and for classifiers the disagreement caps accuracy. It usually means a labelling error
        or two annotators with different rules.

    Example:
        {"prompt": "Rate this review: \\"Works fine, a bit slow.\\"", "completion": "4"}
        {"prompt": "Rate this review: \\"Works fine, a bit slow.\\"", "completion": "2"}

    Use instead:
        Decide the right output and fix the other examples, or make the difference explicit in
        the input (a different instruction, context that explains it).

    Options:
        threshold: input Jaccard at or above which inputs count as nearly the same (default 0.8).
        output-similarity: generative outputs agree when the Jaccard of their word sets reaches this (default 0.6).
        min-words: inputs with fewer words are only compared exactly (default 10).
        shingle-size: words per input shingle (default 3).
        num-perm: MinHash permutations of the input signatures (default 64).
        template-share: word shingles found in more inputs than this share are a prompt template and
            do not count towards near-sameness (default 0.5; needs the exact verification).
        exact-verify-budget: input shingles kept for exact verification (default 20,000,000).
        labels: where the label is (classes, key, pattern); default: the `labels` settings.
    """

    code = "K001"
    name = "conflicting-outputs"
    criterion = Criterion.CONSISTENT
    severity = Severity.WARNING
    summary = "same or near-same input (system prompt and instruction included) with different outputs / labels"
    splits: ClassVar[tuple[str, ...]] = ("train",)
    mergeable = True

    class Options(CheckOptions):
        threshold: float = Field(0.8, gt=0.0, lt=1.0)
        output_similarity: float = Field(0.6, gt=0.0, le=1.0)
        min_words: int = Field(10, ge=1)
        shingle_size: int = Field(3, ge=1, le=13)
        num_perm: int = Field(64, ge=16, le=512)
        exact_verify_budget: int = Field(20_000_000, ge=0)
        template_share: float = Field(0.5, gt=0.0, le=1.0)
        labels: LabelSpec | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        opts = self.options
        self._spec = label_spec(self.context.settings, opts.labels)
        self._label_of_raw: dict[str, int] = {}
        self._refs = ExampleRefs()
        self._input = array("Q")
        self._output = array("Q")
        self._system = array("Q")
        self._label = array("i")
        self._label_names: list[str] = []
        self._label_ids: dict[str, int] = {}
        self._with_output = 0
        self._inputs = Signatures(opts.num_perm, opts.shingle_size, keep_shingles=opts.exact_verify_budget)
        # Outputs agree or not by their sets of words: word order and shingles would call two
        # phrasings of one answer different.
        self._outputs = Signatures(64, 1, seed=7)
        # Results of a keyed shuffle (see `Keyed`), when an engine ran one instead of merging.
        self._keyed: tuple | None = None

    def consume(self, batch: Batch) -> None:
        self._refs.add_batch(batch)
        self._input.frombytes(batch.input_keys().tobytes())
        self._output.frombytes(batch.output_keys().tobytes())
        self._system.frombytes(batch.system_keys().tobytes())
        has, raws = batch.labels(self._spec)
        self._with_output += sum(has)
        of_raw = self._label_of_raw
        labels = []
        for raw in raws:
            if raw is None:
                labels.append(-1)
                continue
            lid = of_raw.get(raw)
            if lid is None:
                key = canonical_label(raw)
                lid = self._label_ids.get(key)
                if lid is None:
                    lid = self._label_ids[key] = len(self._label_names)
                    self._label_names.append(key)
                of_raw[raw] = lid
            labels.append(lid)
        self._label.extend(array("i", labels))
        self._inputs.add_tokens(batch.words("in"))
        self._outputs.add_tokens(batch.words("out"))

    def merge(self, other: "ConflictingOutputs") -> None:
        self.flush()
        other.flush()
        super().merge(other)
        self._refs.extend(other._refs)
        self._input.extend(other._input)
        self._output.extend(other._output)
        self._system.extend(other._system)
        remap = []
        for name in other._label_names:
            lid = self._label_ids.get(name)
            if lid is None:
                lid = self._label_ids[name] = len(self._label_names)
                self._label_names.append(name)
            remap.append(lid)
        self._label.extend(remap[i] if i >= 0 else -1 for i in other._label)
        self._with_output += other._with_output
        self._inputs.extend(other._inputs)
        self._outputs.extend(other._outputs)

    def finish(self) -> Iterator[Finding]:
        if self._keyed is not None:
            yield from self._finish_keyed()
            return
        self.flush()
        opts = self.options
        n = len(self._refs)
        labels = np.frombuffer(self._label, dtype=np.int32) if n else np.empty(0, dtype=np.int32)
        counts = Counter({self._label_names[i]: int(c) for i, c in zip(*np.unique(labels[labels >= 0], return_counts=True))})
        prof = profile(self._spec, counts, int((labels >= 0).sum()), self._with_output)
        in_sigs, in_words = self._inputs.finish_parts()
        out_sigs, _ = self._outputs.finish_parts()
        inputs = np.frombuffer(self._input, dtype=np.uint64) if n else np.empty(0, dtype=np.uint64)
        outputs = np.frombuffer(self._output, dtype=np.uint64) if n else np.empty(0, dtype=np.uint64)
        system = np.frombuffer(self._system, dtype=np.uint64) if n else np.empty(0, dtype=np.uint64)
        by_label = prof.classification
        # (cluster, kind, members, output classes, flagged members)
        conflicts: list[tuple[str, str, list[int], dict[int, list[int]], list[int]]] = []
        flagged_exact: set[int] = set()
        for group in iter_runs(inputs):
            members = [int(p) for p in group]
            classes = self._output_classes(members, by_label, labels, outputs, out_sigs)
            if len(classes) < 2:
                continue
            _, flagged = minority(classes)
            flagged_exact |= flagged
            conflicts.append((f"conflict-{len(conflicts) + 1}", "exact", members, classes, sorted(flagged)))
        # Near conflicts pair one example of each distinct input with its most similar input
        # that teaches something else. Pairs, not clusters: a chain of similar inputs under a
        # shared template would otherwise join unrelated examples.
        _, first = np.unique(inputs, return_index=True)
        eligible = np.sort(first)
        eligible = eligible[in_words[eligible] >= opts.min_words]
        in_shingles = self._inputs.shingle_parts()
        near, sims = similar_pairs(
            in_sigs, eligible, system, opts.threshold, in_shingles, boilerplate_share=opts.template_share
        )

        def classes_of(members: list[int]) -> dict[int, list[int]]:
            return self._output_classes(members, by_label, labels, outputs, out_sigs)

        self._near_conflicts(near, sims, flagged_exact, classes_of, conflicts)
        yield from self._report(
            conflicts, by_label, prof.reason, n, self._refs,
            lambda a, b: bool(inputs[a] == inputs[b]),
            lambda a, b: pair_similarity(in_sigs, in_shingles, a, b),
            self._label_names,
        )

    @staticmethod
    def _near_conflicts(near, sims, flagged_exact, classes_of, conflicts) -> None:
        """Append one near conflict per later example: its most similar input that teaches
        something else (pairs sorted, (a, b) with a < b)."""
        best: dict[int, tuple[float, int]] = {}
        for (a, b), sim in zip(near.tolist(), sims.tolist()):
            if b in flagged_exact:
                continue
            if len(classes_of([a, b])) < 2:
                continue
            if b not in best or (sim, -a) > (best[b][0], -best[b][1]):
                best[b] = (sim, a)
        for b in sorted(best):
            a = best[b][1]
            conflicts.append((f"conflict-{len(conflicts) + 1}", "near", [a, b], classes_of([a, b]), [b]))

    def _report(self, conflicts, by_label, reason, n, refs, same_input, similarity, label_names) -> Iterator[Finding]:
        shown = fetch_examples(self.context, *self._wanted(conflicts, refs)) if conflicts else {}
        found = 0
        severity = None if by_label else Severity.INFO
        for cluster, kind, members, classes, flagged in conflicts:
            for pos in flagged:
                found += 1
                yield self._finding(cluster, pos, members, classes, by_label, same_input, similarity, shown, severity,
                                    refs, label_names)
        self.metrics = {
            "examples": n,
            "conflict_groups": len(conflicts),
            "conflicting_examples": found,
            "compared_by": "label" if by_label else "output text",
            "classification_like": reason,
        }

    # -- the keyed shuffle (see `Keyed`): the same findings without one state holding everything

    def keyed_facts(self) -> dict:
        self.flush()
        n = len(self._refs)
        labels = np.frombuffer(self._label, dtype=np.int32) if n else np.empty(0, dtype=np.int32)
        ids, counts = np.unique(labels[labels >= 0], return_counts=True)
        self._inputs.finish()
        kept = self._inputs.shingles()
        return {
            "examples": n,
            "labelled": int((labels >= 0).sum()),
            "with_output": self._with_output,
            "labels": {self._label_names[i]: int(c) for i, c in zip(ids.tolist(), counts.tolist())},
            "shingles": self._inputs._kept_count if kept is not None else self.options.exact_verify_budget + 1,
            "paths": list(self._refs._paths),
        }

    def _global(self, facts: list[dict]) -> tuple:
        """The label profile, the label names (a global numbering) and whether input shingles
        are kept for exact verification, from every piece's facts."""
        counts: Counter[str] = Counter()
        for f in facts:
            counts.update(f["labels"])
        prof = profile(self._spec, counts, sum(f["labelled"] for f in facts), sum(f["with_output"] for f in facts))
        exact = sum(f["shingles"] for f in facts) <= self.options.exact_verify_budget
        return prof, sorted(counts), exact

    def keyed_rows(self, facts: list[dict]) -> dict[str, KeyRows]:
        """Rows by input key (exact conflicts, with what each example teaches), by LSH band of
        the input signature (near conflicts) and, when shingles are kept, by input shingle
        (template shingles: in how many distinct inputs each occurs)."""
        self.flush()
        opts = self.options
        _, names, exact = self._global(facts)
        if not exact:
            # Past the budget over all pieces, verification uses the estimate: free the shingles.
            self._inputs._kept = None
        number = {name: i for i, name in enumerate(names)}
        n = len(self._refs)
        remap = np.array([number[name] for name in self._label_names] + [-1], dtype=np.int32)
        labels = remap[np.frombuffer(self._label, dtype=np.int32)] if n else np.empty(0, dtype=np.int32)
        inputs = np.frombuffer(self._input, dtype=np.uint64) if n else np.empty(0, dtype=np.uint64)
        outputs = np.frombuffer(self._output, dtype=np.uint64) if n else np.empty(0, dtype=np.uint64)
        system = np.frombuffer(self._system, dtype=np.uint64) if n else np.empty(0, dtype=np.uint64)
        in_sigs, in_words = self._inputs.finish()
        out_sigs, _ = self._outputs.finish()
        compared = in_words >= opts.min_words
        rows = {"input": KeyRows(inputs.copy(), np.arange(n, dtype=np.int64),
                                 {"label": labels, "output": outputs, "out_sig": out_sigs, "compared": compared})}
        eligible = np.flatnonzero(compared)
        bands, width = lsh_params(opts.threshold, opts.num_perm)
        m = len(eligible)
        rows["lsh"] = KeyRows(
            band_keys(in_sigs[eligible], bands, width).reshape(-1), np.repeat(eligible, bands).astype(np.int64),
            {"band": np.tile(np.arange(bands, dtype=np.int16), m), "input": np.repeat(inputs[eligible], bands),
             "system": np.repeat(system[eligible], bands)})
        shingles = self._inputs.shingles()
        if exact and shingles is not None:
            taken = take_rows(shingles, eligible)
            owner = np.repeat(np.arange(m), taken.lengths())
            order = np.lexsort((taken.values, owner))
            values, owner = taken.values[order], owner[order]
            first = np.ones(len(values), dtype=np.bool_)
            first[1:] = (values[1:] != values[:-1]) | (owner[1:] != owner[:-1])
            values, owner = values[first], owner[first]
            rows["shingle"] = KeyRows(values, eligible[owner].astype(np.int64), {"input": inputs[eligible][owner]})
        return rows

    def keyed_candidates(self, kinds: dict[str, KeyRows], facts: list[dict]) -> tuple[KeyRows, dict]:
        """Exact conflicts of the input groups of one partition, its share of the distinct
        inputs compared, counts of its input shingles, and near-conflict candidate pairs."""
        prof, _, _ = self._global(facts)
        by_label = prof.classification
        rows = kinds["input"]
        conflicts = []
        eligible = 0
        if len(rows):
            order = np.lexsort((rows.ids, rows.key))
            keys = rows.key[order]
            bounds = np.flatnonzero(keys[1:] != keys[:-1]) + 1
            starts = np.concatenate(([0], bounds))
            ends = np.concatenate((bounds, [len(keys)]))
            eligible = int(rows.columns["compared"][order[starts]].sum())
            ids = rows.ids
            cols = rows.columns
            for start, end in zip(starts.tolist(), ends.tolist()):
                if end - start < 2:
                    continue
                members = order[start:end].tolist()
                classes = self._output_classes(members, by_label, cols["label"], cols["output"], cols["out_sig"])
                if len(classes) < 2:
                    continue
                _, flagged = minority(classes)
                conflicts.append((
                    [int(ids[m]) for m in members],
                    {(k if by_label else int(ids[k])): [int(ids[m]) for m in v] for k, v in classes.items()},
                    sorted(int(ids[m]) for m in flagged),
                ))
        counted = (np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64))
        if "shingle" in kinds and len(kinds["shingle"]):
            sh = kinds["shingle"]
            pairs = np.unique(np.stack((sh.key, sh.columns["input"]), axis=1), axis=0)
            values, counts = np.unique(pairs[:, 0], return_counts=True)
            counted = (values[counts >= 3], counts[counts >= 3])
        return self._near_candidates(kinds["lsh"]), {"conflicts": conflicts, "eligible": eligible, "shingles": counted}

    @staticmethod
    def _near_candidates(rows: KeyRows) -> KeyRows:
        """`similar_pairs`'s LSH candidates over the first example of each distinct input."""
        band, inputs = rows.columns["band"], rows.columns["input"]
        # Examples with the same input share their signature, so every band run: keep the first.
        order = np.lexsort((rows.ids, inputs, rows.key, band))
        first = np.ones(len(order), dtype=np.bool_)
        if len(order) > 1:
            b, k, i = band[order], rows.key[order], inputs[order]
            first[1:] = (b[1:] != b[:-1]) | (k[1:] != k[:-1]) | (i[1:] != i[:-1])
        rows = rows.take(order[first])
        left, right = keyed_run_pairs((rows.columns["band"], rows.key), rows.ids, _MAX_BUCKET)
        same = rows.columns["system"][left] == rows.columns["system"][right]
        a, b = rows.ids[left[same]], rows.ids[right[same]]
        if len(a):
            a, b = np.unique(np.stack((a, b), axis=1), axis=0).T
        a, b = a.astype(np.int64), b.astype(np.int64)
        return KeyRows(mix64(a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ b.astype(np.uint64)), a, {"other": b})

    def keyed_prepare(self, facts: list[dict], group_facts: list[dict]) -> dict:
        """Exact conflicts in input order, and the template shingles (in more than
        `template-share` of the distinct inputs compared, and in at least 3)."""
        compared = sum(g["eligible"] for g in group_facts)
        values = np.concatenate([g["shingles"][0] for g in group_facts]) if group_facts else np.empty(0, np.uint64)
        counts = np.concatenate([g["shingles"][1] for g in group_facts]) if group_facts else np.empty(0, np.int64)
        frequent = np.sort(values[(counts > self.options.template_share * compared) & (counts >= 3)])
        exact = sorted((c for g in group_facts for c in g["conflicts"]), key=lambda c: c[0][0])
        return {"exact": exact, "frequent": frequent}

    def keyed_payload(self, positions: np.ndarray, ids: np.ndarray) -> dict:
        self.flush()
        positions = np.asarray(positions, dtype=np.int64)
        in_sigs, _ = self._inputs.finish()
        out_sigs, _ = self._outputs.finish()
        shingles = self._inputs.shingles()
        n = len(self._refs)
        labels = np.frombuffer(self._label, dtype=np.int32) if n else np.empty(0, dtype=np.int32)
        rows = positions.tolist()
        return {
            "ids": np.asarray(ids, dtype=np.int64),
            "places": places_of(self._refs, rows),
            "input": np.frombuffer(self._input, dtype=np.uint64)[positions] if n else np.empty(0, np.uint64),
            "output": np.frombuffer(self._output, dtype=np.uint64)[positions] if n else np.empty(0, np.uint64),
            "label": [self._label_names[labels[p]] if labels[p] >= 0 else None for p in rows],
            "out_sig": out_sigs[positions],
            "in_sig": in_sigs[positions],
            "in_shingles": take_rows(shingles, positions) if shingles is not None else None,
        }

    def _table(self, payload: list[dict]) -> dict:
        """Payloads of several pieces as one table sorted by global id."""
        parts = [p for p in payload if len(p["ids"])]
        if not parts:
            return {"ids": np.empty(0, np.int64), "places": [], "input": np.empty(0, np.uint64),
                    "output": np.empty(0, np.uint64), "label": [],
                    "out_sig": np.empty((0, 64), np.uint32), "in_sig": np.empty((0, self.options.num_perm), np.uint32),
                    "in_shingles": None}
        ids = np.concatenate([p["ids"] for p in parts])
        order = np.argsort(ids, kind="stable")
        shingles = None
        if all(p["in_shingles"] is not None for p in parts):
            shingles = take_rows(Ragged.concatenate([p["in_shingles"] for p in parts]), order)
        places = [x for p in parts for x in p["places"]]
        labels = [x for p in parts for x in p["label"]]
        rows = order.tolist()
        return {"ids": ids[order], "places": [places[i] for i in rows], "label": [labels[i] for i in rows],
                "input": np.concatenate([p["input"] for p in parts])[order],
                "output": np.concatenate([p["output"] for p in parts])[order],
                "out_sig": np.concatenate([p["out_sig"] for p in parts])[order],
                "in_sig": np.concatenate([p["in_sig"] for p in parts])[order], "in_shingles": shingles}

    def keyed_verify(self, pairs: KeyRows, payload: list[dict], facts: list[dict], prepared: dict) -> tuple:
        _, _, exact = self._global(facts)
        table = self._table(payload)
        local = np.stack((np.searchsorted(table["ids"], pairs.ids),
                          np.searchsorted(table["ids"], pairs.columns["other"])), axis=1)
        shingles = table["in_shingles"]
        if exact and shingles is not None:
            sims = exact_jaccard_pairs(without_values(shingles, prepared["frequent"]), local)
        else:
            sims = estimated_jaccard_pairs(table["in_sig"], local)
        keep = sims >= self.options.threshold
        return pairs.ids[keep], pairs.columns["other"][keep], sims[keep]

    def keyed_members(self, verified: list[tuple], facts: list[dict], prepared: dict) -> np.ndarray:
        wanted: set[int] = set()
        for a, b, _ in verified:
            wanted.update(a.tolist())
            wanted.update(b.tolist())
        for members, classes, flagged in prepared["exact"]:
            wanted.update(members[:_SHOWN])
            wanted.update(flagged)
            wanted.update(v[0] for v in classes.values())
        return np.array(sorted(wanted), dtype=np.int64)

    def _finish_keyed(self) -> Iterator[Finding]:
        facts, prepared, verified, payload = self._keyed
        self._keyed = None
        prof, names, exact = self._global(facts)
        by_label = prof.classification
        table = self._table(payload)
        ids = table["ids"]
        row = {int(i): r for r, i in enumerate(ids.tolist())}
        paths = list(dict.fromkeys(p for f in facts for p in f["paths"]))
        refs = Places({int(i): place for i, place in zip(ids.tolist(), table["places"])}, many=len(paths) > 1)
        number = {name: i for i, name in enumerate(names)}
        labels = np.array([number[x] if x is not None else -1 for x in table["label"]], dtype=np.int32)
        conflicts: list = []
        flagged_exact: set[int] = set()
        for members, classes, flagged in prepared["exact"]:
            flagged_exact.update(flagged)
            conflicts.append((f"conflict-{len(conflicts) + 1}", "exact", members, classes, flagged))

        def classes_of(members: list[int]) -> dict[int, list[int]]:
            found = self._output_classes([row[m] for m in members], by_label, labels, table["output"], table["out_sig"])
            return {(k if by_label else int(ids[k])): [int(ids[m]) for m in v] for k, v in found.items()}

        if verified:
            a, b, sims = (np.concatenate(parts) for parts in zip(*verified))
            order = np.lexsort((b, a))
            near, sims = np.stack((a[order], b[order]), axis=1), sims[order]
        else:
            near, sims = np.empty((0, 2), dtype=np.int64), np.empty(0)
        self._near_conflicts(near, sims, flagged_exact, classes_of, conflicts)
        shingles = table["in_shingles"] if exact else None

        def similarity(x: int, y: int) -> float:
            if shingles is not None:
                return float(exact_jaccard(shingles.row(row[x]), shingles.row(row[y])))
            return float(estimated_jaccard_pairs(table["in_sig"], np.array([[row[x], row[y]]], dtype=np.int64))[0])

        yield from self._report(
            conflicts, by_label, prof.reason, sum(f["examples"] for f in facts), refs,
            lambda x, y: bool(table["input"][row[x]] == table["input"][row[y]]), similarity, names,
        )

    def _output_classes(self, members, by_label, labels, outputs, out_sigs) -> dict[int, list[int]]:
        """Members grouped by what they teach: the label, or outputs that agree."""
        classes: dict[int, list[int]] = {}
        if by_label:
            for pos in members:
                # An output that carries no label is compared by its text.
                key = int(labels[pos]) if labels[pos] >= 0 else -1 - (int(outputs[pos]) & 0x7FFFFFFF)
                classes.setdefault(key, []).append(pos)
            return classes
        exact: dict[int, list[int]] = {}
        for pos in members:
            exact.setdefault(int(outputs[pos]), []).append(pos)
        # The heads' signatures read once (from the batches' parts, a read costs more than the
        # comparison), then compared pair by pair as they were.
        heads = [group[0] for group in exact.values()]
        head_sigs = out_sigs[np.asarray(heads, dtype=np.int64)]
        at = {pos: i for i, pos in enumerate(heads)}
        for group in exact.values():
            head = group[0]
            for rep in classes:
                sim = estimated_jaccard_pairs(head_sigs, np.array([[at[rep], at[head]]], dtype=np.int64))[0]
                if sim >= self.options.output_similarity:
                    classes[rep].extend(group)
                    break
            else:
                classes[head] = list(group)
        return classes

    def _wanted(self, conflicts, refs) -> tuple[dict[str, set[int]], dict[str, dict[int, tuple[int | None, int]]]]:
        wanted: dict[str, set[int]] = defaultdict(set)
        where: dict[str, dict[int, tuple[int | None, int]]] = defaultdict(dict)
        for _, _, members, _, _ in conflicts:
            for pos in members[:_SHOWN]:
                path, index = refs.path(pos), refs.index(pos)
                wanted[path].add(index)
                where[path][index] = (refs.line(pos), refs.record_hash(pos))
        return wanted, where

    def _finding(self, cluster, pos, members, classes, by_label, same_input, similarity, shown, severity, refs,
                 label_names) -> Finding:
        show_pii = bool(getattr(self.context.settings, "show_pii", False))
        mine = next(k for k, v in classes.items() if pos in v)
        majority = max(classes.items(), key=lambda kv: (len(kv[1]), -kv[1][0]))
        other_class = majority[1] if majority[0] != mine else next(v for k, v in classes.items() if k != mine)
        other = other_class[0]
        same = same_input(pos, other)
        if same:
            how = f"the same input as {refs.where(other)}"
            sim = 1.0
        else:
            sim = similarity(pos, other)
            how = f"nearly the same input as {refs.where(other)} (Jaccard {sim:.2f})"
        what = "label" if by_label else "output"
        message = f"{how} but a different {what}; group {cluster} has {len(members)} examples with {len(classes)} different {what}s"
        side_by_side = []
        for member in sorted(set(members[:_SHOWN]) | {pos, other}):
            entry: dict[str, object] = refs.ref(member)
            example = shown.get((refs.path(member), refs.index(member)))
            if example is not None:
                entry["input"] = excerpt(example.input_text, show_pii)
                entry["output"] = excerpt(output_text(example), show_pii, limit=200)
            entry["same_as_this"] = member in classes[mine]
            side_by_side.append(entry)
        if by_label:
            spread = {label_names[k] if k >= 0 else "(no label)": len(v) for k, v in classes.items()}
        else:
            spread = {f"variant {i + 1}": len(v) for i, v in enumerate(classes.values())}
        return self.finding(
            refs.stub(pos),
            message,
            severity=severity,
            related=[refs.location(other)] + [refs.location(m) for m in members[:_SHOWN] if m not in (pos, other)],
            evidence={
                "cluster": cluster,
                "kind": "exact" if same else "near",
                "input_similarity": round(sim, 3),
                "compared_by": "label" if by_label else "output text",
                "outputs": spread,
                "members": side_by_side,
                "members_total": len(members),
            },
        )


CHECKS = [ConflictingOutputs]
