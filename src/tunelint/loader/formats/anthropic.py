"""Anthropic / Bedrock message records: {system, messages: [{role, content: [blocks]}]}.

Covers the Messages API shape (typed blocks: text, tool_use, tool_result, image) and Bedrock's
conversation schema (`schemaVersion`, `system: [{text}]`, blocks `{text}`).
"""

from __future__ import annotations

from typing import Any

from tunelint.loader.formats.base import Format, Normalised, RecordError, expect_list, tool_call, type_name
from tunelint.models import Problem, Role, Turn

ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT}


def _blocks_text(blocks: Any, ptr: str, out: Normalised, what: str) -> tuple[str, list, list[str], list[tuple[str, str]]]:
    """(text, tool calls, attachment kinds, (tool_result id, result text)) of a content string or block list."""
    if isinstance(blocks, str):
        return blocks, [], [], []
    if not isinstance(blocks, list):
        out.problems.append(Problem(f"{what} is {type_name(blocks)}, expected a string or a list of blocks", ptr))
        return "", [], [], []
    texts: list[str] = []
    calls = []
    attachments: list[str] = []
    results: list[tuple[str, str]] = []
    for i, block in enumerate(blocks):
        bptr = f"{ptr}/{i}"
        if not isinstance(block, dict):
            out.problems.append(Problem(f"{what} block {i} is {type_name(block)}, expected an object", bptr))
            continue
        kind = block.get("type")
        if kind == "text" or (kind is None and "text" in block):
            if isinstance(block.get("text"), str):
                texts.append(block["text"])
            else:
                out.problems.append(Problem(f"{what} block {i} text is {type_name(block.get('text'))}, expected a string", bptr + "/text"))
        elif kind == "tool_use" or (kind is None and "toolUse" in block):
            use = block if kind == "tool_use" else block["toolUse"]
            tc = tool_call(use.get("name"), use.get("input", {}), bptr + "/input", use.get("id", use.get("toolUseId")), out)
            if tc is not None:
                calls.append(tc)
        elif kind == "tool_result" or (kind is None and "toolResult" in block):
            res = block if kind == "tool_result" else block["toolResult"]
            rid = res.get("tool_use_id", res.get("toolUseId"))
            inner, _, _, _ = _blocks_text(res.get("content", ""), bptr + "/content", out, f"{what} block {i} result")
            if isinstance(rid, str):
                results.append((rid, inner))
            else:
                out.problems.append(Problem(f"{what} block {i} tool result has no tool_use_id", bptr))
        elif isinstance(kind, str):
            attachments.append(kind)
        elif block:
            attachments.append(next(iter(block)))
    return "\n".join(texts), calls, attachments, results


class Anthropic(Format):
    name = "anthropic"
    description = "Anthropic / Bedrock messages: {system, messages: [{role, content: [blocks]}]}"

    def detect(self, record: Any) -> int:
        if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
            return 0
        if "system" in record or "schemaVersion" in record:
            return 4
        for msg in record["messages"]:
            content = msg.get("content") if isinstance(msg, dict) else None
            if isinstance(content, list) and any(
                isinstance(b, dict) and (b.get("type") in ("tool_use", "tool_result") or ("text" in b and "type" not in b))
                for b in content
            ):
                return 4
        return 0

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        if "messages" not in record:
            raise RecordError("missing key 'messages'")
        out = Normalised()
        if "system" in record:
            text, _, _, _ = _blocks_text(record["system"], "/system", out, "'system'")
            out.turns.append(Turn(role=Role.SYSTEM, content=text, pointer="/system"))
        for i, msg in enumerate(expect_list(record["messages"], "/messages", "'messages'")):
            mptr = f"/messages/{i}"
            if not isinstance(msg, dict):
                out.problems.append(Problem(f"message {i} is {type_name(msg)}, expected an object", mptr))
                continue
            role = ROLES.get(msg["role"]) if isinstance(msg.get("role"), str) else None
            if role is None:
                what = "has no 'role'" if "role" not in msg else f"has unknown role {msg.get('role')!r}"
                out.problems.append(Problem(f"message {i} {what}", mptr + "/role"))
                continue
            if "content" not in msg:
                out.problems.append(Problem(f"message {i} has no 'content'", mptr))
            text, calls, attachments, results = _blocks_text(msg.get("content"), mptr + "/content", out, f"message {i} content")
            # Tool results travel in user messages here; they are the tool's turns.
            for rid, result_text in results:
                out.turns.append(Turn(role=Role.TOOL, content=result_text, pointer=mptr + "/content", tool_call_id=rid))
            if results and not text.strip() and not calls and not attachments:
                continue
            out.turns.append(Turn(role=role, content=text, pointer=mptr + "/content", tool_calls=tuple(calls), attachments=tuple(attachments)))
        tools = record.get("tools")
        if isinstance(tools, list):
            out.tools = tuple(t for t in tools if isinstance(t, dict))
        return out
