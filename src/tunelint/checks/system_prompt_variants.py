"""system-prompt-variants (K003): several system prompts where one dominates."""

from __future__ import annotations

import difflib
from array import array
from collections import Counter
from typing import ClassVar, Iterator

from pydantic import Field

from tunelint.checks._batch import Batch, BatchedCheck
from tunelint.checks._support import ExampleRefs, excerpt
from tunelint.checks.base import CheckOptions
from tunelint.models import Criterion, Finding, Role, Severity

# Texts kept for the evidence of the first this-many distinct prompts; the rest are counted only.
_KEPT_TEXTS = 1000
_KEPT_CHARS = 4000


class SystemPromptVariants(BatchedCheck):
    """Several system prompts where one dominates: the minority are usually drift.

    What it does:
        Counts the distinct system prompts after normalisation (case, whitespace, unicode),
        counting "no system prompt" as one of them. When one prompt is used by at least
        `min-dominant-share` of the examples and others exist, every example with another prompt
        (or none) is reported, with how similar its prompt is to the dominant one and where the
        two first differ. Metrics list the prompts and their shares.

    Why it matters for a fine-tune:
        The model learns to behave one way under the dominant prompt and another way under each
        variant; at inference you send one prompt, so the variants' examples teach behaviour
        conditioned on text the model will never see. Variants usually come from collection
        batches written at different times.

    Example:
        {"messages": [{"role": "system", "content": "You are Acme's support agent. Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]}
        {"messages": [{"role": "system", "content": "You are Acme's support agent. Be brief and friendly."}, {"role": "user", "content": "Hey"}, {"role": "assistant", "content": "Hi there!"}]}

    Use instead:
        Use the deployment's system prompt in every example (or deliberately vary it, with enough
        examples per variant, if the deployment varies it too).

    Options:
        min-dominant-share: share of examples the most common prompt needs to count as dominant (default 0.6).
    """

    code = "K003"
    name = "system-prompt-variants"
    criterion = Criterion.CONSISTENT
    severity = Severity.WARNING
    summary = "several system prompts where one dominates"
    splits: ClassVar[tuple[str, ...]] = ("train",)
    mergeable = True

    class Options(CheckOptions):
        min_dominant_share: float = Field(0.6, gt=0.0, lt=1.0)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._refs = ExampleRefs()
        self._keys = array("Q")
        self._texts: dict[int, str] = {0: ""}

    def consume(self, batch: Batch) -> None:
        self._refs.add_batch(batch)
        keys = batch.system_keys()
        self._keys.frombytes(keys.tobytes())
        texts = self._texts
        if len(texts) > _KEPT_TEXTS:
            return
        for i, key in enumerate(keys.tolist()):
            if key not in texts and len(texts) <= _KEPT_TEXTS:
                text = "\n".join(t.content for t in batch.examples[i].turns if t.role is Role.SYSTEM)
                texts[key] = text[:_KEPT_CHARS]

    def merge(self, other: "SystemPromptVariants") -> None:
        self.flush()
        other.flush()
        super().merge(other)
        self._refs.extend(other._refs)
        self._keys.extend(other._keys)
        for key, text in other._texts.items():
            if key not in self._texts and len(self._texts) <= _KEPT_TEXTS:
                self._texts[key] = text

    def finish(self) -> Iterator[Finding]:
        self.flush()
        total = len(self._keys)
        counts = Counter(self._keys)
        ranked = counts.most_common()
        self.metrics = {
            "examples": total,
            "distinct_prompts": len(counts) - (1 if 0 in counts else 0),
            "without_system_prompt": counts.get(0, 0),
        }
        if total == 0 or len(counts) < 2:
            return
        top, top_n = ranked[0]
        share = top_n / total
        self.metrics["dominant_share"] = round(share, 4)
        if share < self.options.min_dominant_share:
            return
        show_pii = bool(getattr(self.context.settings, "show_pii", False))
        dominant = self._texts.get(top, "")
        similarity: dict[int, float] = {}
        for pos, key in enumerate(self._keys):
            if key == top:
                continue
            n = counts[key]
            text = self._texts.get(key)
            evidence: dict[str, object] = {
                "dominant_prompt": excerpt(dominant, show_pii) if top else None,
                "dominant_share": round(share, 4),
                "this_prompt_examples": n,
            }
            if key == 0:
                message = f"example has no system prompt, while {share:.0%} of examples use the same one"
            elif top == 0:
                message = f"example has a system prompt, while {share:.0%} of examples have none"
                evidence["this_prompt"] = excerpt(text or "", show_pii)
            else:
                if key not in similarity and text is not None:
                    similarity[key] = difflib.SequenceMatcher(None, dominant, text, autojunk=False).ratio()
                sim = similarity.get(key)
                where = _first_difference(dominant, text) if text is not None else None
                message = (
                    f"system prompt differs from the one {share:.0%} of examples use"
                    + (f" (similarity {sim:.2f}" if sim is not None else "")
                    + (f"; first difference: {where!r})" if where else (")" if sim is not None else ""))
                    + f"; {n} example{'s' if n != 1 else ''} use this variant"
                )
                evidence["this_prompt"] = excerpt(text, show_pii) if text is not None else None
                evidence["similarity"] = round(sim, 3) if sim is not None else None
            yield self.finding(self._refs.stub(pos), message, evidence=evidence, key=f"{key:x}")


def _first_difference(a: str, b: str) -> str | None:
    """A few words around where `b` first departs from `a`."""
    wa, wb = a.split(), b.split()
    i = 0
    while i < min(len(wa), len(wb)) and wa[i] == wb[i]:
        i += 1
    if i == len(wa) == len(wb):
        return None
    return " ".join(wb[max(0, i - 3): i + 5])[:120] or "(ends early)"


CHECKS = [SystemPromptVariants]
