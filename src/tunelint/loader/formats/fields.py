"""Any flat JSON shape, through a user's field mapping: {"question": "user", "answer": "assistant"}."""

from __future__ import annotations

from typing import Any, Mapping

from tunelint.loader.formats.base import Format, Normalised, RecordError, pointer, text_turn, type_name
from tunelint.models import Role

ROLE_NAMES = {"system": Role.SYSTEM, "user": Role.USER, "assistant": Role.ASSISTANT}


class FieldMapping(Format):
    """Not registered: built from `--fields` or the config's `fields` table."""

    name = "fields"

    def __init__(self, mapping: Mapping[str, str]) -> None:
        bad = {k: v for k, v in mapping.items() if v not in ROLE_NAMES}
        if bad:
            key, role = next(iter(bad.items()))
            raise ValueError(f"field '{key}' maps to unknown role '{role}' (roles: system, user, assistant)")
        if not any(v == "assistant" for v in mapping.values()):
            raise ValueError("the field mapping names no assistant field")
        self.mapping = dict(mapping)

    def detect(self, record: Any) -> int:
        if isinstance(record, dict) and all(k in record for k in self.mapping):
            return 10
        return 0

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        missing = [k for k in self.mapping if k not in record]
        if missing:
            raise RecordError("missing key " + ", ".join(f"'{k}'" for k in missing))
        out = Normalised()
        # System first, then users, then assistant: the conversation order, whatever the key order.
        order = {"system": 0, "user": 1, "assistant": 2}
        for key, role_name in sorted(self.mapping.items(), key=lambda kv: order[kv[1]]):
            out.turns.append(text_turn(ROLE_NAMES[role_name], record[key], pointer(key), out, f"'{key}'"))
        return out


def parse_fields(spec: str) -> dict[str, str]:
    """`question=user,answer=assistant` -> {"question": "user", "answer": "assistant"}."""
    mapping: dict[str, str] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise ValueError(f"'{item}' is not KEY=ROLE")
        key, role = (s.strip() for s in item.split("=", 1))
        mapping[key] = role
    return mapping


# Keys a production sample's records commonly keep the user's input under, in order of preference.
INPUT_KEYS = ("text", "input", "prompt", "question", "query", "message", "content")


class InputOnly(Format):
    """Not registered: a production sample (`--reference`) of flat records that hold only the
    user's input under one key, e.g. {"text": "..."}; the value becomes one user turn."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.name = f"inputs:{key}"

    @staticmethod
    def key_for(record: Any) -> str | None:
        if isinstance(record, dict):
            for key in INPUT_KEYS:
                if isinstance(record.get(key), str):
                    return key
        return None

    def detect(self, record: Any) -> int:
        return 1 if isinstance(record, dict) and isinstance(record.get(self.key), str) else 0

    def normalise(self, record: Any) -> Normalised:
        if not isinstance(record, dict):
            raise RecordError(f"record is {type_name(record)}, expected an object")
        if self.key not in record:
            raise RecordError(f"missing key '{self.key}'")
        out = Normalised()
        out.turns.append(text_turn(Role.USER, record[self.key], pointer(self.key), out, f"'{self.key}'"))
        return out
