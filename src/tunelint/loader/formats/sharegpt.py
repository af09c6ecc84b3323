"""ShareGPT records: {conversations: [{from, value}]} with human/gpt style speaker names."""

from __future__ import annotations

from typing import Any

from tunelint.loader.formats.base import Format, Normalised, RecordError, expect_list, text_turn, type_name
from tunelint.models import Problem, Role

SPEAKERS = {
    "system": Role.SYSTEM,
    "human": Role.USER,
    "user": Role.USER,
    "gpt": Role.ASSISTANT,
    "assistant": Role.ASSISTANT,
    "chatgpt": Role.ASSISTANT,
    "bard": Role.ASSISTANT,
    "bing": Role.ASSISTANT,
    "model": Role.ASSISTANT,
    "function_call": Role.ASSISTANT,
    "observation": Role.TOOL,
    "tool": Role.TOOL,
    "function": Role.TOOL,
}


class ShareGPT(Format):
    name = "sharegpt"
    description = "ShareGPT: {conversations: [{from, value}]}"

    def detect(self, record: Any) -> int:
        if isinstance(record, dict) and isinstance(record.get("conversations"), list):
            return 2
        return 0

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        if "conversations" not in record:
            raise RecordError("missing key 'conversations'")
        out = Normalised()
        if isinstance(record.get("system"), str):
            out.turns.append(text_turn(Role.SYSTEM, record["system"], "/system", out, "'system'"))
        for i, msg in enumerate(expect_list(record["conversations"], "/conversations", "'conversations'")):
            mptr = f"/conversations/{i}"
            if not isinstance(msg, dict):
                out.problems.append(Problem(f"turn {i} is {type_name(msg)}, expected an object", mptr))
                continue
            speaker = msg.get("from", msg.get("role"))
            role = SPEAKERS.get(speaker.lower() if isinstance(speaker, str) else "")
            if role is None:
                what = "has no 'from'" if speaker is None else f"has unknown speaker {speaker!r}"
                out.problems.append(Problem(f"turn {i} {what}", mptr + "/from"))
                continue
            key = "value" if "value" in msg else "content"
            if key not in msg:
                out.problems.append(Problem(f"turn {i} ({speaker}) has no 'value'", mptr))
            out.turns.append(text_turn(role, msg.get(key), f"{mptr}/{key}", out, f"turn {i} value"))
        return out
