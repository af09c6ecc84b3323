"""Alpaca records: {instruction, input?, output}; the input is appended to the instruction."""

from __future__ import annotations

from typing import Any

from tunelint.loader.formats.base import Format, Normalised, RecordError, text_turn, type_name
from tunelint.models import Problem, Role, Turn


class Alpaca(Format):
    name = "alpaca"
    description = "Alpaca: {instruction, input, output}"

    def detect(self, record: Any) -> int:
        if isinstance(record, dict) and "instruction" in record and "output" in record:
            return 3 if "input" in record else 2
        return 0

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        for key in ("instruction", "output"):
            if key not in record:
                raise RecordError(f"missing key '{key}'")
        out = Normalised()
        if isinstance(record.get("system"), str):
            out.turns.append(Turn(role=Role.SYSTEM, content=record["system"], pointer="/system"))
        instruction = text_turn(Role.USER, record["instruction"], "/instruction", out, "'instruction'")
        extra = record.get("input")
        if extra is not None and not isinstance(extra, str):
            out.problems.append(Problem(f"'input' is {type_name(extra)}, expected a string", "/input"))
            extra = None
        if extra and extra.strip():
            instruction = Turn(
                role=Role.USER,
                content=f"{instruction.content}\n\n{extra}",
                pointer="/instruction",
                content_is_null=instruction.content_is_null,
            )
        out.turns.append(instruction)
        out.turns.append(text_turn(Role.ASSISTANT, record["output"], "/output", out, "'output'"))
        return out
