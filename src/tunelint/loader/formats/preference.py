"""Preference pairs: TRL {prompt, chosen, rejected}, OpenAI DPO {input, preferred_output,
non_preferred_output}, and Anthropic HH {chosen, rejected} whole transcripts.

The example's turns are the prompt followed by the preferred completion; `rejected` holds the
other completion, so every check sees what the model is pushed towards.
"""

from __future__ import annotations

import re
from typing import Any

from tunelint.loader.formats.base import Format, Normalised, RecordError, text_turn, type_name
from tunelint.loader.formats.openai_chat import read_messages, read_tools
from tunelint.models import Problem, Role, Turn


def _side(value: Any, ptr: str, out: Normalised, default_role: Role, what: str) -> list[Turn]:
    """A prompt or completion given as a string or as a message list."""
    if isinstance(value, list):
        return read_messages(value, ptr, out)
    if isinstance(value, dict) and "messages" in value:
        return read_messages(value["messages"], ptr + "/messages", out)
    return [text_turn(default_role, value, ptr, out, what)]


class TRLPreference(Format):
    name = "preference-trl"
    description = "TRL preference pairs: {prompt, chosen, rejected}"

    def detect(self, record: Any) -> int:
        if isinstance(record, dict) and {"prompt", "chosen", "rejected"} <= record.keys():
            return 4
        return 0

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        for key in ("prompt", "chosen", "rejected"):
            if key not in record:
                raise RecordError(f"missing key '{key}'")
        out = Normalised()
        prompt = _side(record["prompt"], "/prompt", out, Role.USER, "'prompt'")
        out.turns = prompt + _side(record["chosen"], "/chosen", out, Role.ASSISTANT, "'chosen'")
        out.rejected = _side(record["rejected"], "/rejected", out, Role.ASSISTANT, "'rejected'")
        return out


class OpenAIPreference(Format):
    name = "preference-openai"
    description = "OpenAI DPO pairs: {input: {messages}, preferred_output, non_preferred_output}"

    def detect(self, record: Any) -> int:
        if isinstance(record, dict) and {"input", "preferred_output", "non_preferred_output"} <= record.keys():
            return 4
        return 0

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        for key in ("input", "preferred_output", "non_preferred_output"):
            if key not in record:
                raise RecordError(f"missing key '{key}'")
        out = Normalised()
        inp = record["input"]
        if isinstance(inp, dict):
            prompt = read_messages(inp.get("messages", []), "/input/messages", out)
            if "messages" not in inp:
                out.problems.append(Problem("'input' has no 'messages'", "/input"))
            out.tools = read_tools(inp, out)
        else:
            prompt = _side(inp, "/input", out, Role.USER, "'input'")
        out.turns = prompt + _side(record["preferred_output"], "/preferred_output", out, Role.ASSISTANT, "'preferred_output'")
        out.rejected = _side(record["non_preferred_output"], "/non_preferred_output", out, Role.ASSISTANT, "'non_preferred_output'")
        return out


_SPEAKER = re.compile(r"\n\n(Human|Assistant):[ \t]?")


def split_transcript(text: str, ptr: str) -> list[Turn]:
    """Turns of a "\\n\\nHuman: … \\n\\nAssistant: …" transcript (Anthropic HH)."""
    turns: list[Turn] = []
    matches = list(_SPEAKER.finditer(text))
    for k, m in enumerate(matches):
        end = matches[k + 1].start() if k + 1 < len(matches) else len(text)
        role = Role.USER if m.group(1) == "Human" else Role.ASSISTANT
        turns.append(Turn(role=role, content=text[m.end():end], pointer=ptr))
    return turns


class HHPreference(Format):
    name = "preference-hh"
    description = "Anthropic HH pairs: {chosen, rejected} as Human/Assistant transcripts"

    def detect(self, record: Any) -> int:
        if (
            isinstance(record, dict)
            and {"chosen", "rejected"} <= record.keys()
            and "prompt" not in record
            and isinstance(record["chosen"], str)
        ):
            return 3 if "Human:" in record["chosen"] else 1
        return 0

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        out = Normalised()
        sides: dict[str, list[Turn]] = {}
        for key in ("chosen", "rejected"):
            if key not in record:
                raise RecordError(f"missing key '{key}'")
            value = record[key]
            if not isinstance(value, str):
                raise RecordError(f"'{key}' is {type_name(value)}, expected a transcript string", f"/{key}")
            turns = split_transcript(value, f"/{key}")
            if not turns:
                out.problems.append(Problem(f"'{key}' has no 'Human:' / 'Assistant:' turns", f"/{key}"))
            sides[key] = turns
        chosen, rejected = sides["chosen"], sides["rejected"]
        # The shared prefix is the prompt; what follows differs between the two sides.
        shared = 0
        while shared < min(len(chosen), len(rejected)) - 1 and (chosen[shared].role, chosen[shared].content) == (rejected[shared].role, rejected[shared].content):
            shared += 1
        out.turns = chosen
        out.rejected = rejected[shared:]
        return out
