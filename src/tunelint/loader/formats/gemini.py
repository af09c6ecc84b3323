"""Gemini / Vertex AI tuning records: {systemInstruction?, contents: [{role, parts}]}."""

from __future__ import annotations

from typing import Any

from tunelint.loader.formats.base import Format, Normalised, RecordError, expect_list, tool_call, type_name
from tunelint.models import Problem, Role, Turn

ROLES = {"user": Role.USER, "model": Role.ASSISTANT, "assistant": Role.ASSISTANT, "system": Role.SYSTEM, "function": Role.TOOL, "tool": Role.TOOL}


def _parts(parts: Any, ptr: str, out: Normalised, what: str) -> tuple[str, tuple, tuple[str, ...], bool]:
    if not isinstance(parts, list):
        out.problems.append(Problem(f"{what} 'parts' is {type_name(parts)}, expected a list", ptr))
        return "", (), (), True
    texts: list[str] = []
    calls = []
    attachments: list[str] = []
    has_response = False
    for i, part in enumerate(parts):
        pptr = f"{ptr}/{i}"
        if not isinstance(part, dict):
            out.problems.append(Problem(f"{what} part {i} is {type_name(part)}, expected an object", pptr))
            continue
        if "text" in part:
            if isinstance(part["text"], str):
                texts.append(part["text"])
            else:
                out.problems.append(Problem(f"{what} part {i} text is {type_name(part['text'])}, expected a string", pptr + "/text"))
        elif "functionCall" in part and isinstance(part["functionCall"], dict):
            fc = part["functionCall"]
            tc = tool_call(fc.get("name"), fc.get("args", {}), pptr + "/functionCall/args", fc.get("id"), out)
            if tc is not None:
                calls.append(tc)
        elif "functionResponse" in part:
            has_response = True
            resp = part["functionResponse"]
            texts.append(str(resp.get("response", "")) if isinstance(resp, dict) else str(resp))
        elif part:
            attachments.append(next(iter(part)))
    return "\n".join(texts), tuple(calls), tuple(attachments), has_response


class Gemini(Format):
    name = "gemini"
    description = "Gemini / Vertex AI: {systemInstruction, contents: [{role, parts: [{text}]}]}"

    def detect(self, record: Any) -> int:
        if isinstance(record, dict) and isinstance(record.get("contents"), list):
            return 3
        return 0

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        if "contents" not in record:
            raise RecordError("missing key 'contents'")
        out = Normalised()
        system = record.get("systemInstruction", record.get("system_instruction"))
        if system is not None:
            key = "systemInstruction" if "systemInstruction" in record else "system_instruction"
            if isinstance(system, dict):
                text, _, _, _ = _parts(system.get("parts"), f"/{key}/parts", out, "system instruction")
                out.turns.append(Turn(role=Role.SYSTEM, content=text, pointer=f"/{key}/parts"))
            elif isinstance(system, str):
                out.turns.append(Turn(role=Role.SYSTEM, content=system, pointer=f"/{key}"))
            else:
                out.problems.append(Problem(f"'{key}' is {type_name(system)}, expected an object", f"/{key}"))
        for i, msg in enumerate(expect_list(record["contents"], "/contents", "'contents'")):
            mptr = f"/contents/{i}"
            if not isinstance(msg, dict):
                out.problems.append(Problem(f"content {i} is {type_name(msg)}, expected an object", mptr))
                continue
            role = ROLES.get(msg["role"]) if isinstance(msg.get("role"), str) else None
            if role is None:
                what = "has no 'role'" if "role" not in msg else f"has unknown role {msg.get('role')!r}"
                out.problems.append(Problem(f"content {i} {what}", mptr + "/role"))
                continue
            text, calls, attachments, is_response = _parts(msg.get("parts"), mptr + "/parts", out, f"content {i}")
            if is_response:
                role = Role.TOOL
            out.turns.append(Turn(role=role, content=text, pointer=mptr + "/parts", tool_calls=calls, attachments=attachments))
        tools = record.get("tools")
        if isinstance(tools, list):
            out.tools = tuple(
                decl for t in tools if isinstance(t, dict) for decl in t.get("functionDeclarations", t.get("function_declarations", [])) if isinstance(decl, dict)
            )
        return out
