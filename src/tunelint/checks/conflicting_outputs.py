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
)
from tunelint.checks.base import CheckOptions
from tunelint.labels import LabelSpec, canonical_label, label_spec, profile
from tunelint.models import Criterion, Finding, Severity
from tunelint.similarity import estimated_jaccard_pairs

# Members shown side by side in one finding's evidence.
_SHOWN = 8


class ConflictingOutputs(BatchedCheck):
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
        self.flush()
        opts = self.options
        n = len(self._refs)
        labels = np.frombuffer(self._label, dtype=np.int32) if n else np.empty(0, dtype=np.int32)
        counts = Counter({self._label_names[i]: int(c) for i, c in zip(*np.unique(labels[labels >= 0], return_counts=True))})
        prof = profile(self._spec, counts, int((labels >= 0).sum()), self._with_output)
        in_sigs, in_words = self._inputs.finish()
        out_sigs, _ = self._outputs.finish()
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
        in_shingles = self._inputs.shingles()
        near, sims = similar_pairs(
            in_sigs, eligible, system, opts.threshold, in_shingles, boilerplate_share=opts.template_share
        )
        best: dict[int, tuple[float, int]] = {}
        for (a, b), sim in zip(near.tolist(), sims.tolist()):
            if b in flagged_exact:
                continue
            classes = self._output_classes([a, b], by_label, labels, outputs, out_sigs)
            if len(classes) < 2:
                continue
            if b not in best or (sim, -a) > (best[b][0], -best[b][1]):
                best[b] = (sim, a)
        for b in sorted(best):
            a = best[b][1]
            classes = self._output_classes([a, b], by_label, labels, outputs, out_sigs)
            conflicts.append((f"conflict-{len(conflicts) + 1}", "near", [a, b], classes, [b]))
        shown = fetch_examples(self.context, *self._wanted(conflicts)) if conflicts else {}
        found = 0
        severity = None if by_label else Severity.INFO
        for cluster, kind, members, classes, flagged in conflicts:
            for pos in flagged:
                found += 1
                yield self._finding(cluster, pos, members, classes, by_label, inputs, in_sigs, in_shingles, shown, severity)
        self.metrics = {
            "examples": n,
            "conflict_groups": len(conflicts),
            "conflicting_examples": found,
            "compared_by": "label" if prof.classification else "output text",
            "classification_like": prof.reason,
        }

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
        for group in exact.values():
            head = group[0]
            for rep in classes:
                sim = estimated_jaccard_pairs(out_sigs, np.array([[rep, head]], dtype=np.int64))[0]
                if sim >= self.options.output_similarity:
                    classes[rep].extend(group)
                    break
            else:
                classes[head] = list(group)
        return classes

    def _wanted(self, conflicts) -> tuple[dict[str, set[int]], dict[str, dict[int, tuple[int | None, int]]]]:
        refs = self._refs
        wanted: dict[str, set[int]] = defaultdict(set)
        where: dict[str, dict[int, tuple[int | None, int]]] = defaultdict(dict)
        for _, _, members, _, _ in conflicts:
            for pos in members[:_SHOWN]:
                path, index = refs.path(pos), refs.index(pos)
                wanted[path].add(index)
                where[path][index] = (refs.line(pos), refs.record_hash(pos))
        return wanted, where

    def _finding(self, cluster, pos, members, classes, by_label, inputs, in_sigs, in_shingles, shown, severity) -> Finding:
        refs = self._refs
        show_pii = bool(getattr(self.context.settings, "show_pii", False))
        mine = next(k for k, v in classes.items() if pos in v)
        majority = max(classes.items(), key=lambda kv: (len(kv[1]), -kv[1][0]))
        other_class = majority[1] if majority[0] != mine else next(v for k, v in classes.items() if k != mine)
        other = other_class[0]
        same_input = inputs[pos] == inputs[other]
        if same_input:
            how = f"the same input as {refs.where(other)}"
            similarity = 1.0
        else:
            similarity = pair_similarity(in_sigs, in_shingles, pos, other)
            how = f"nearly the same input as {refs.where(other)} (Jaccard {similarity:.2f})"
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
            spread = {self._label_names[k] if k >= 0 else "(no label)": len(v) for k, v in classes.items()}
        else:
            spread = {f"variant {i + 1}": len(v) for i, v in enumerate(classes.values())}
        return self.finding(
            refs.stub(pos),
            message,
            severity=severity,
            related=[refs.location(other)] + [refs.location(m) for m in members[:_SHOWN] if m not in (pos, other)],
            evidence={
                "cluster": cluster,
                "kind": "exact" if same_input else "near",
                "input_similarity": round(similarity, 3),
                "compared_by": "label" if by_label else "output text",
                "outputs": spread,
                "members": side_by_side,
                "members_total": len(members),
            },
        )


CHECKS = [ConflictingOutputs]
