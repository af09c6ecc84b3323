"""What a format reader is, and the helpers every reader shares.

A format turns one parsed record into turns. It raises `RecordError` (with a JSON pointer) when
the record cannot be read as that format, and collects non-fatal `Problem`s otherwise.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from tunelint.models import Problem, Role, ToolCall, Turn


class RecordError(Exception):
    """The record does not fit the format; the example cannot be built."""

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer


@dataclass
class Normalised:
    turns: list[Turn] = field(default_factory=list)
    tools: tuple[Mapping[str, Any], ...] = ()
    rejected: list[Turn] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class Format(abc.ABC):
    """A dataset format. Subclasses set `name` and implement `detect` and `normalise`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abc.abstractmethod
    def detect(self, record: Any) -> int:
        """How specifically `record` looks like this format: 0 = not at all, higher wins."""

    @abc.abstractmethod
    def normalise(self, record: Any) -> Normalised:
        """The record's turns; raises RecordError when it does not fit."""


def pointer(*parts: object) -> str:
    """RFC 6901 JSON pointer from path parts."""
    out = []
    for p in parts:
        s = str(p).replace("~", "~0").replace("/", "~1")
        out.append(s)
    return "/" + "/".join(out) if out else ""


def expect_dict(value: Any, where: str, what: str = "record") -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{what} is {type_name(value)}, expected an object", where)
    return value


def expect_list(value: Any, where: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise RecordError(f"{what} is {type_name(value)}, expected a list", where)
    return value


def require(record: Mapping[str, Any], key: str, base: str = "") -> Any:
    if key not in record:
        raise RecordError(f"missing key '{key}'", base)
    return record[key]


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def text_turn(role: Role, value: Any, ptr: str, out: Normalised, what: str) -> Turn:
    """A turn whose content must be a string; anything else is a problem and reads as empty."""
    if isinstance(value, str):
        return Turn(role=role, content=value, pointer=ptr)
    if value is None:
        out.problems.append(Problem(f"{what} is null, expected a string", ptr))
        return Turn(role=role, content="", pointer=ptr, content_is_null=True)
    out.problems.append(Problem(f"{what} is {type_name(value)}, expected a string", ptr))
    return Turn(role=role, content="", pointer=ptr, content_is_null=True)


def content_parts(value: Any, ptr: str, out: Normalised, what: str) -> tuple[str, tuple[str, ...], bool]:
    """Text of a content field given as a string or a list of typed parts (OpenAI / Anthropic).

    Returns (text, attachment kinds, is_null).
    """
    if isinstance(value, str):
        return value, (), False
    if value is None:
        return "", (), True
    if isinstance(value, list):
        texts: list[str] = []
        attachments: list[str] = []
        for i, part in enumerate(value):
            pptr = f"{ptr}/{i}"
            if isinstance(part, str):
                texts.append(part)
                continue
            if not isinstance(part, dict):
                out.problems.append(Problem(f"{what} part {i} is {type_name(part)}, expected an object", pptr))
                continue
            kind = part.get("type")
            if "text" in part and kind in (None, "text", "input_text", "output_text"):
                if isinstance(part["text"], str):
                    texts.append(part["text"])
                else:
                    out.problems.append(Problem(f"{what} part {i} text is {type_name(part['text'])}, expected a string", pptr + "/text"))
            elif isinstance(kind, str):
                attachments.append(kind)
            else:
                keys = [k for k in part if k not in ("cache_control",)]
                if keys:
                    attachments.append(keys[0])
                else:
                    out.problems.append(Problem(f"{what} part {i} has no type", pptr))
        return "\n".join(texts), tuple(attachments), False
    out.problems.append(Problem(f"{what} is {type_name(value)}, expected a string or a list of parts", ptr))
    return "", (), True


def arguments_text(value: Any) -> str:
    """Tool-call arguments as JSON text, whether given as a string or as an object."""
    if isinstance(value, str):
        return value
    import orjson

    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def tool_call(name: Any, arguments: Any, ptr: str, call_id: Any, out: Normalised) -> ToolCall | None:
    if not isinstance(name, str) or not name:
        out.problems.append(Problem("tool call has no function name", ptr))
        return None
    return ToolCall(
        name=name,
        arguments=arguments_text(arguments) if arguments is not None else "",
        pointer=ptr,
        id=call_id if isinstance(call_id, str) else None,
    )
