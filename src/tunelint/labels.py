"""Labels of classification-like data: where the label of an example is, how it is spelled, and
whether a dataset is classification-like at all (with the reason, for the report).

A dataset is classification-like when the config names its labels (a class list, a JSON key of
the output or a regex), or when nearly every output is a short value from a small set.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Mapping

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

# End-of-text markers that prompt/completion exports glue onto the label ("negative<|endoftext|>").
STOP_MARKERS = ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end|>", "</s>", "<eos>", "<|eos|>")
# Punctuation a label carries without meaning something else ("Billing." is "Billing").
_EDGE_PUNCTUATION = " \t\r\n.,;:!?\"'`()[]{}"
_SEPARATORS = re.compile(r"[\s_\-]+")

# Beyond these, a short output is an answer, not a label.
MAX_LABEL_CHARS = 64
MAX_LABEL_WORDS = 5


def _to_kebab(name: str) -> str:
    return name.replace("_", "-")


class LabelSpec(BaseModel):
    """Where the label of an example is, when the data says so itself (`[tool.tunelint.labels]`).

    classes: the label set the data should cover (missing ones are reported).
    key: the label is this key of the output parsed as JSON ({"category": "billing", ...}).
    pattern: the label is this regex's first group (or whole match) in the output.
    max-classes: detection limit when nothing is named: more distinct short outputs than this
    and the data is generative, not classification.
    min-label-share: share of outputs that must be short labels for the data to count as
    classification-like when nothing is named.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, alias_generator=_to_kebab)

    classes: tuple[str, ...] = ()
    key: str | None = None
    pattern: str | None = None
    max_classes: int = Field(50, ge=1)
    min_label_share: float = Field(0.95, gt=0, le=1)
    min_examples: int = Field(10, ge=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from None
        return value

    @property
    def named(self) -> bool:
        """The config says where the labels are, so no detection is needed."""
        return bool(self.classes or self.key or self.pattern)


def strip_stop_markers(text: str) -> str:
    out = text.strip()
    changed = True
    while changed:
        changed = False
        for marker in STOP_MARKERS:
            if out.endswith(marker):
                out = out[: -len(marker)].rstrip()
                changed = True
    return out


def canonical_label(label: str) -> str:
    """One key for every spelling of a label: NFKC, case-folded, edge punctuation and stop
    markers dropped, runs of spaces / underscores / hyphens as one space."""
    text = unicodedata.normalize("NFKC", strip_stop_markers(label)).casefold()
    text = text.strip(_EDGE_PUNCTUATION)
    return _SEPARATORS.sub(" ", text).strip()


class LabelReader:
    """Reads the label of one output according to a LabelSpec (or the short-output rule)."""

    def __init__(self, spec: LabelSpec) -> None:
        self.spec = spec
        self._pattern = re.compile(spec.pattern) if spec.pattern else None

    def raw_label(self, output: str) -> str | None:
        """The label as written (see `spelled_label`), or None when the output holds none."""
        if self.spec.key is not None:
            try:
                value = orjson.loads(_strip_fence(output))
            except orjson.JSONDecodeError:
                return None
            if not isinstance(value, dict) or self.spec.key not in value:
                return None
            found = value[self.spec.key]
            if isinstance(found, (dict, list)) or found is None:
                return None
            text = found if isinstance(found, str) else orjson.dumps(found).decode()
        elif self._pattern is not None:
            match = self._pattern.search(output)
            if match is None:
                return None
            text = match.group(1) if match.groups() and match.group(1) is not None else match.group(0)
        else:
            text = output
        spelled = spelled_label(text)
        bare = spelled.strip()
        if not bare or len(bare) > MAX_LABEL_CHARS or len(bare.split()) > MAX_LABEL_WORDS:
            return None
        if not canonical_label(bare):
            return None
        return spelled


def spelled_label(text: str) -> str:
    """The label as written: stop markers and line breaks at the ends removed, spaces kept
    ("billing " and "billing" are two spellings)."""
    out = text.strip("\r\n")
    changed = True
    while changed:
        changed = False
        for marker in STOP_MARKERS:
            if out.rstrip().endswith(marker):
                out = out.rstrip()[: -len(marker)].rstrip("\r\n")
                changed = True
    return out


def _strip_fence(text: str) -> str:
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        if body.rstrip().endswith("```"):
            body = body.rstrip()[:-3]
    return body


@dataclass(frozen=True)
class LabelProfile:
    """The decision whether a dataset is classification-like, and why."""

    classification: bool
    reason: str
    # canonical label -> count, over the examples that carry a label
    counts: Mapping[str, int]
    labelled: int
    outputs: int


def profile(spec: LabelSpec, canonical_counts: Counter[str], labelled: int, outputs: int) -> LabelProfile:
    """Decide from label counts: `labelled` outputs carried a label, of `outputs` with an output."""
    distinct = len(canonical_counts)
    counts = dict(canonical_counts)
    if spec.named:
        where = (
            f"the config names the label key '{spec.key}'" if spec.key
            else f"the config names the label pattern '{spec.pattern}'" if spec.pattern
            else f"the config names {len(spec.classes)} classes"
        )
        return LabelProfile(labelled > 0, f"{where}; {labelled} of {outputs} outputs carry a label", counts, labelled, outputs)
    if outputs < spec.min_examples:
        return LabelProfile(False, f"only {outputs} outputs (fewer than {spec.min_examples}) to judge from", counts, labelled, outputs)
    share = labelled / outputs if outputs else 0.0
    if share < spec.min_label_share:
        return LabelProfile(
            False,
            f"{labelled} of {outputs} outputs ({share:.0%}) are short values (at most {MAX_LABEL_WORDS} words); "
            f"classification-like needs {spec.min_label_share:.0%}",
            counts, labelled, outputs,
        )
    if distinct > spec.max_classes:
        return LabelProfile(
            False,
            f"the short outputs take {distinct} distinct values, more than max-classes {spec.max_classes}",
            counts, labelled, outputs,
        )
    if distinct > 1 and labelled / distinct < 2:
        return LabelProfile(False, f"{distinct} distinct values over {labelled} outputs: values hardly repeat", counts, labelled, outputs)
    return LabelProfile(
        True,
        f"{labelled} of {outputs} outputs ({share:.0%}) are short values (at most {MAX_LABEL_WORDS} words) "
        f"from {distinct} distinct label{'s' if distinct != 1 else ''} (at most max-classes {spec.max_classes})",
        counts, labelled, outputs,
    )


def label_spec(settings: object, override: LabelSpec | None = None) -> LabelSpec:
    """The label spec in force: a check's own option, else the settings' `labels` table."""
    if override is not None:
        return override
    found = getattr(settings, "labels", None)
    return found if isinstance(found, LabelSpec) else LabelSpec()


__all__ = [
    "LabelProfile",
    "LabelReader",
    "LabelSpec",
    "canonical_label",
    "label_spec",
    "profile",
    "spelled_label",
    "strip_stop_markers",
]
