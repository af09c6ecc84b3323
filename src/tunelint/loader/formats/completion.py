"""Legacy OpenAI completion records: {prompt, completion}."""

from __future__ import annotations

from typing import Any

from tunelint.loader.formats.base import Format, Normalised, RecordError, text_turn, type_name
from tunelint.models import Role


class OpenAICompletion(Format):
    name = "openai-completion"
    description = "prompt / completion pairs: {prompt, completion}"

    def detect(self, record: Any) -> int:
        if isinstance(record, dict) and "prompt" in record and "completion" in record:
            return 2
        return 0

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        for key in ("prompt", "completion"):
            if key not in record:
                raise RecordError(f"missing key '{key}'")
        out = Normalised()
        out.turns = [
            text_turn(Role.USER, record["prompt"], "/prompt", out, "'prompt'"),
            text_turn(Role.ASSISTANT, record["completion"], "/completion", out, "'completion'"),
        ]
        return out
