"""OpenAI chat fine-tuning records: `messages` with roles, tools, tool_calls, weight, content parts."""

from __future__ import annotations

from typing import Any

from tunelint.loader.formats.base import (
    Format,
    Normalised,
    RecordError,
    content_parts,
    expect_list,
    pointer,
    tool_call,
    type_name,
)
from tunelint.models import Problem, Role, Turn

ROLES = {
    "system": Role.SYSTEM,
    "developer": Role.SYSTEM,
    "user": Role.USER,
    "assistant": Role.ASSISTANT,
    "tool": Role.TOOL,
    "function": Role.TOOL,
}


# A plain text turn built without the named tuple's Python-level constructor: the fields
# after (role, content, pointer) keep their defaults.
_new_turn = tuple.__new__
_PLAIN = Turn(Role.USER, "", "")[3:]
assert _PLAIN == ((), None, None, None, (), False), "plain_turns spells out Turn's defaults"


def read_messages(messages: Any, base: str, out: Normalised, roles: dict[str, Role] = ROLES) -> list[Turn]:
    """Turns from an OpenAI-style message list (shared by the chat and preference readers)."""
    turns: list[Turn] = []
    for i, msg in enumerate(expect_list(messages, base, "'messages'")):
        # Fast path: the common {"role": ..., "content": "text"} message and nothing else.
        if type(msg) is dict and len(msg) == 2:
            role_name = msg.get("role")
            content = msg.get("content")
            if type(content) is str and type(role_name) is str and role_name in roles:
                turns.append(_new_turn(Turn, (roles[role_name], content, f"{base}/{i}/content") + _PLAIN))
                continue
        mptr = f"{base}/{i}"
        if not isinstance(msg, dict):
            out.problems.append(Problem(f"message {i} is {type_name(msg)}, expected an object", mptr))
            continue
        role_name = msg.get("role")
        if not isinstance(role_name, str) or role_name not in roles:
            if "role" not in msg:
                out.problems.append(Problem(f"message {i} has no 'role'", mptr))
            else:
                out.problems.append(Problem(f"message {i} has unknown role {role_name!r}", mptr + "/role"))
            continue
        role = roles[role_name]
        cptr = mptr + "/content"
        calls = []
        raw_calls = msg.get("tool_calls")
        if raw_calls is not None:
            if not isinstance(raw_calls, list):
                out.problems.append(Problem(f"message {i} 'tool_calls' is {type_name(raw_calls)}, expected a list", mptr + "/tool_calls"))
            else:
                for j, call in enumerate(raw_calls):
                    tptr = f"{mptr}/tool_calls/{j}"
                    if not isinstance(call, dict):
                        out.problems.append(Problem(f"tool call {j} of message {i} is {type_name(call)}, expected an object", tptr))
                        continue
                    fn = call.get("function")
                    if not isinstance(fn, dict):
                        out.problems.append(Problem(f"tool call {j} of message {i} has no 'function' object", tptr))
                        continue
                    tc = tool_call(fn.get("name"), fn.get("arguments"), tptr + "/function/arguments", call.get("id"), out)
                    if tc is not None:
                        calls.append(tc)
        legacy = msg.get("function_call")
        if isinstance(legacy, dict):
            tc = tool_call(legacy.get("name"), legacy.get("arguments"), mptr + "/function_call/arguments", None, out)
            if tc is not None:
                calls.append(tc)
        if "content" not in msg and not calls:
            out.problems.append(Problem(f"message {i} ({role_name}) has no 'content'", mptr))
        text, attachments, is_null = content_parts(msg.get("content"), cptr, out, f"message {i} content")
        if msg.get("content", "") is None and not calls:
            out.problems.append(Problem(f"message {i} ({role_name}) content is null", cptr))
        weight = msg.get("weight")
        if weight is not None and (weight not in (0, 1) or isinstance(weight, bool)):
            out.problems.append(Problem(f"message {i} weight is {weight!r}, expected 0 or 1", mptr + "/weight"))
            weight = None
        turns.append(
            Turn(
                role=role,
                content=text,
                pointer=cptr,
                tool_calls=tuple(calls),
                tool_call_id=msg.get("tool_call_id") if isinstance(msg.get("tool_call_id"), str) else None,
                name=msg.get("name") if isinstance(msg.get("name"), str) else None,
                weight=float(weight) if weight is not None else None,
                attachments=attachments,
                content_is_null=is_null and not calls,
            )
        )
    return turns


# The pointers of the first messages' content, made once ("/messages/0/content", ...).
_CONTENT_POINTERS = tuple(f"/messages/{i}/content" for i in range(64))


def plain_turns(record: Any, roles: dict[str, Role] = ROLES) -> tuple[Turn, ...] | None:
    """The turns `OpenAIChat.normalise` gives a record that is nothing but {role, content}
    text messages (any other keys but tools / functions set to something), with no tools, no
    rejected side and no problems; None for any other record, which goes through `normalise`."""
    if type(record) is not dict:
        return None
    messages = record.get("messages")
    if type(messages) is not list or len(messages) > 64 or record.get("tools") is not None or record.get("functions") is not None:
        return None
    turns = []
    append = turns.append
    role_of = roles.get
    i = 0
    for msg in messages:
        # read_messages' fast path, the only one that adds no problem.
        if type(msg) is not dict or len(msg) != 2:
            return None
        content = msg.get("content")
        role_name = msg.get("role")
        if type(content) is not str or type(role_name) is not str:
            return None
        role = role_of(role_name)
        if role is None:
            return None
        # The turn's fields in order, the defaults after (role, content, pointer) spelled out:
        # _PLAIN, without a tuple concatenation.
        append(_new_turn(Turn, (role, content, _CONTENT_POINTERS[i], (), None, None, None, (), False)))
        i += 1
    return tuple(turns)


def read_tools(record: dict, out: Normalised) -> tuple[dict, ...]:
    tools = record.get("tools", record.get("functions"))
    if tools is None:
        return ()
    key = "tools" if "tools" in record else "functions"
    if not isinstance(tools, list):
        out.problems.append(Problem(f"'{key}' is {type_name(tools)}, expected a list", pointer(key)))
        return ()
    good = []
    for i, t in enumerate(tools):
        if isinstance(t, dict):
            good.append(t)
        else:
            out.problems.append(Problem(f"tool {i} is {type_name(t)}, expected an object", pointer(key, i)))
    return tuple(good)


class OpenAIChat(Format):
    name = "openai-chat"
    description = "OpenAI chat fine-tuning: {messages: [{role, content}], tools?}"

    def detect(self, record: Any) -> int:
        if not isinstance(record, dict) or "messages" not in record:
            return 0
        msgs = record["messages"]
        score = 2
        if isinstance(msgs, list) and any(isinstance(m, dict) and m.get("role") in ("system", "tool", "developer") for m in msgs):
            score += 1
        return score

    # A plain record's turns without building a Normalised (see plain_turns); the function
    # itself, so that the loader's call is one call.
    plain = staticmethod(plain_turns)

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        if "messages" not in record:
            raise RecordError("missing key 'messages'")
        out = Normalised()
        out.turns = read_messages(record["messages"], "/messages", out)
        out.tools = read_tools(record, out)
        return out
