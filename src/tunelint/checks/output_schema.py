"""output-schema-violation (M002): outputs and tool calls the deployment could not accept."""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from tunelint import deployment as deployment_spec
from tunelint.checks._turns import turn_table
from tunelint.checks.base import CheckOptions, RecordCheck
from tunelint.deployment import DeploymentError, Tool, parse_tools
from tunelint.models import Criterion, Example, Finding, Role, Severity, Turn

_FENCED = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)
_MAX_LISTED = 3


class OutputSchemaViolation(RecordCheck):
    """An output or tool call that the deployed system could not accept.

    What it does:
        With a deployment spec: the final assistant output must parse as JSON and pass the
        spec's `output_schema` (JSON Schema, checked with jsonschema) — each failure names the
        key and the rule it breaks; the output must be one of `labels` when they are given (or
        the JSON key named by `label_key` must be). Every tool call must name a tool the
        deployment defines (`tools`, OpenAI-style), with arguments that are JSON and pass that
        tool's parameter schema. Without a spec, tool calls are checked against the tools the
        record itself declares; schema and labels are then not assessed.

    Why it matters for a fine-tune:
        The model learns the outputs exactly as written. Outputs that break the schema train
        the model to produce what the parser downstream rejects; a call to a tool that does not
        exist, or with wrong arguments, teaches failed actions.

    Example:
        {"messages": [{"role": "user", "content": "Ticket: refund please"}, {"role": "assistant", "content": "{\\"category\\": \\"refunds\\", \\"priority\\": 5}"}]}

    Use instead:
        {"messages": [{"role": "user", "content": "Ticket: refund please"}, {"role": "assistant", "content": "{\\"category\\": \\"billing\\", \\"priority\\": \\"low\\"}"}]}

    Options:
        all-outputs: check every assistant text turn against the schema, not only the final
            one (default false).
    """

    code = "M002"
    name = "output-schema-violation"
    criterion = Criterion.CORRECT
    severity = Severity.ERROR
    summary = "output fails the deployment's JSON Schema, or a tool call fails its tool's parameter schema"

    class Options(CheckOptions):
        all_outputs: bool = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.spec = deployment_spec.from_settings(self.context.settings)
        self.output_schema = self.spec.output_schema if self.spec is not None else None

    def not_assessed_reason(self) -> str | None:
        spec = self.spec
        if spec is not None and (spec.output_schema is not None or spec.labels is not None or spec.tools is not None):
            return None
        if self.counts["tool_calls"]:
            return None
        if spec is None:
            return "no deployment spec (output_schema, labels, tools) and no tool calls in the data"
        return f"no output_schema, labels or tools in {spec.source}"

    def check_batch(self, examples: Sequence[Example]) -> Iterable[Finding]:
        spec = self.spec
        if spec is not None and (self.output_schema is not None or spec.labels is not None):
            return super().check_batch(examples)
        # No final output to check: only the examples with tool calls give findings.
        check = self.check
        return [f for i in np.flatnonzero(turn_table(examples).with_calls()).tolist() for f in check(examples[i])]

    def check(self, example: Example) -> Iterator[Finding]:
        spec = self.spec
        outputs = (
            [t for t in example.turns if t.role is Role.ASSISTANT and not t.tool_calls and not t.content_is_null]
            if spec is not None and (self.output_schema is not None or spec.labels is not None)
            else ()
        )
        if outputs:
            for turn in outputs if self.options.all_outputs else outputs[-1:]:
                self.counts["outputs_checked"] += 1
                found = list(self._output(example, turn))
                self.counts["output_violations"] += bool(found)
                yield from found
        calls = [c for t in example.turns if t.tool_calls for c in t.tool_calls]
        if calls:
            self.counts["tool_calls"] += len(calls)
            yield from self._tool_calls(example, calls)

    # -- final output -------------------------------------------------------------------------
    def _output(self, example: Example, turn: Turn) -> Iterator[Finding]:
        spec = self.spec
        assert spec is not None
        text = turn.content
        value: Any = None
        parsed = False
        if self.output_schema is not None or spec.label_key is not None:
            fenced = _FENCED.match(text)
            try:
                value = json.loads(text)
                parsed = True
            except ValueError as exc:
                if fenced is not None and _parses(fenced.group(1)):
                    message = "final output is JSON wrapped in a markdown code fence; the deployment expects bare JSON"
                else:
                    message = f"final output is not JSON ({_json_error(exc)}); the output schema expects JSON"
                yield self.finding(example, message, pointer=turn.pointer, key="not-json", evidence={"rule": "json"})
                return
        if parsed and self.output_schema is not None:
            errors = [] if _plainly_valid(self.output_schema, value) else sorted(
                _validator(self.output_schema).iter_errors(value), key=lambda e: list(e.absolute_path))
            if errors:
                described = [_describe(e) for e in errors]
                listed = "; ".join(d["text"] for d in described[:_MAX_LISTED])
                more = f" (and {len(described) - _MAX_LISTED} more)" if len(described) > _MAX_LISTED else ""
                yield self.finding(
                    example,
                    f"final output fails the output schema: {listed}{more}",
                    pointer=turn.pointer,
                    key="schema",
                    evidence={"errors": [{k: v for k, v in d.items() if k != "text"} for d in described[:20]]},
                )
        if spec.labels is not None and turn.content.strip():  # empty outputs are empty-content's
            yield from self._label(example, turn, value if parsed else None)

    def _label(self, example: Example, turn: Turn, value: Any) -> Iterator[Finding]:
        spec = self.spec
        assert spec is not None and spec.labels is not None
        if spec.label_key is not None:
            if not isinstance(value, dict) or spec.label_key not in value:
                yield self.finding(
                    example,
                    f"final output has no '{spec.label_key}' key to hold the label",
                    pointer=turn.pointer,
                    key="label-missing",
                    evidence={"rule": "label", "label_key": spec.label_key},
                )
                return
            label = value[spec.label_key]
            what = f"'{spec.label_key}' value"
        else:
            label = turn.content.strip()
            what = "output"
        if isinstance(label, str) and label in spec.labels:
            return
        shown = _short(label if isinstance(label, str) else json.dumps(label))
        near = [lab for lab in spec.labels if isinstance(label, str) and lab.strip().casefold() == label.strip().casefold()]
        hint = f"; did you mean {near[0]!r}?" if near else f" (allowed: {', '.join(spec.labels[:8])}{'…' if len(spec.labels) > 8 else ''})"
        yield self.finding(
            example,
            f"{what} {shown!r} is not an allowed label{hint}",
            pointer=turn.pointer,
            key="label",
            evidence={"rule": "label", "label": shown, "suggestion": near[0] if near else None},
        )

    # -- tool calls ---------------------------------------------------------------------------
    def _tool_calls(self, example: Example, calls: list) -> Iterator[Finding]:
        spec = self.spec
        if spec is not None and spec.tools is not None:
            tools: Mapping[str, Tool] = spec.tools
            origin = "the deployment"
        else:
            tools = _record_tools(example.tools) if example.tools else {}
            origin = "the record's tools"
            if not tools:
                return
        for n, call in enumerate(calls, 1):
            self.counts["tool_calls_checked"] += 1
            tool = tools.get(call.name)
            if tool is None:
                known = ", ".join(sorted(tools)[:8]) or "none"
                self.counts["tool_call_violations"] += 1
                yield self.finding(
                    example,
                    f"tool call {n} names '{call.name}', which {origin} does not define (known: {known})",
                    pointer=_name_pointer(call.pointer),
                    key=f"unknown-tool:{n}",
                    evidence={"rule": "unknown-tool", "tool": call.name},
                )
                continue
            try:
                arguments = json.loads(call.arguments) if call.arguments.strip() else {}
            except ValueError as exc:
                self.counts["tool_call_violations"] += 1
                yield self.finding(
                    example,
                    f"arguments of tool call {n} ('{call.name}') are not JSON ({_json_error(exc)})",
                    pointer=call.pointer,
                    key=f"arguments-json:{n}",
                    evidence={"rule": "json", "tool": call.name},
                )
                continue
            if tool.parameters is None:
                continue
            if _plainly_valid(tool.parameters, arguments):
                continue
            errors = sorted(_validator(tool.parameters).iter_errors(arguments), key=lambda e: list(e.absolute_path))
            if errors:
                described = [_describe(e) for e in errors]
                listed = "; ".join(d["text"] for d in described[:_MAX_LISTED])
                more = f" (and {len(described) - _MAX_LISTED} more)" if len(described) > _MAX_LISTED else ""
                self.counts["tool_call_violations"] += 1
                yield self.finding(
                    example,
                    f"arguments of tool call {n} ('{call.name}') fail its parameter schema: {listed}{more}",
                    pointer=call.pointer,
                    key=f"arguments:{n}",
                    evidence={"tool": call.name, "errors": [{k: v for k, v in d.items() if k != "text"} for d in described[:20]]},
                )


# Records usually repeat a few tool lists: parsing (and checking the schemas of) each distinct
# one once, and keeping the parsed objects, lets the validator cache below key on identity.
_TOOLS_CACHE: dict[str, Mapping[str, Tool]] = {}
_VALIDATORS: dict[int, tuple[Mapping[str, Any], Any]] = {}
_CACHE_LIMIT = 256


def _record_tools(tools: tuple[Mapping[str, Any], ...]) -> Mapping[str, Tool]:
    """parse_tools of a record's tools ({} when malformed: that is schema-violation's finding),
    cached per process by the tools' repr (which tells 1 from 1.0 and True, and keeps order)."""
    key = repr(tools)
    hit = _TOOLS_CACHE.get(key)
    if hit is None:
        try:
            hit = parse_tools(list(tools), "record tools")
        except DeploymentError:
            hit = {}
        if len(_TOOLS_CACHE) >= _CACHE_LIMIT:
            _TOOLS_CACHE.clear()
        _TOOLS_CACHE[key] = hit
    return hit


# The keywords `_plainly_valid` reads, and the annotations it may ignore (they never fail).
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly"})
_KEYWORDS = frozenset({"type", "properties", "required", "enum", "additionalProperties"}) | _ANNOTATIONS
_TYPES = frozenset({"object", "string", "integer", "number", "boolean", "array", "null"})


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return type(value) is str
    if name == "object":
        return type(value) is dict
    if name == "integer":
        return type(value) is int or (type(value) is float and value.is_integer())
    if name == "number":
        return type(value) is int or type(value) is float
    if name == "boolean":
        return type(value) is bool
    if name == "array":
        return type(value) is list
    return value is None  # "null"


def _plainly_valid(schema: Any, value: Any) -> bool:
    """True only when `value` (parsed JSON) passes `schema` for jsonschema too: a quick "yes" for
    the common tool parameters, schemas made of type / properties / required / enum (a string
    value among string members) / additionalProperties (true or false) and annotations, which
    spares jsonschema's validator (~30 µs a call) for the calls that pass; False for anything
    else, and for a value that fails (the caller then asks jsonschema, which says why).
    tests/test_output_schema_fast.py holds it to jsonschema on generated schemas and values."""
    if type(schema) is not dict:
        return schema is True
    for key in schema:
        if key not in _KEYWORDS:
            return False
    kind = schema.get("type")
    if kind is not None:
        if type(kind) is str:
            if kind not in _TYPES or not _is_type(value, kind):
                return False
        elif type(kind) is list and kind and all(type(k) is str and k in _TYPES for k in kind):
            if not any(_is_type(value, k) for k in kind):
                return False
        else:
            return False
    if "enum" in schema:
        enum = schema["enum"]
        if type(enum) is not list or type(value) is not str or value not in [e for e in enum if type(e) is str]:
            return False
    if type(value) is dict:
        required = schema.get("required")
        if required is not None:
            if type(required) is not list or not all(type(k) is str and k in value for k in required):
                return False
        properties = schema.get("properties")
        if properties is not None and type(properties) is not dict:
            return False
        extra = schema.get("additionalProperties", True)
        if extra is not True and extra is not False:
            return False
        for key, item in value.items():
            sub = properties.get(key) if properties is not None else None
            if sub is None:
                if extra is False:
                    return False
                continue
            if not _plainly_valid(sub, item):
                return False
    else:
        # The object keywords hold for anything that is not an object, when well formed.
        if "required" in schema and type(schema["required"]) is not list:
            return False
        if "properties" in schema and type(schema["properties"]) is not dict:
            return False
        if "additionalProperties" in schema and schema["additionalProperties"] is not True and schema["additionalProperties"] is not False:
            return False
    return True


def _validator(schema: Mapping[str, Any]) -> Any:
    """A compiled validator per schema, cached per process (checks travel between processes,
    so they hold schemas, not validators): first by the schema object's identity, then by its
    canonical JSON."""
    hit = _VALIDATORS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    validator = _compiled(json.dumps(schema, sort_keys=True))
    if len(_VALIDATORS) >= _CACHE_LIMIT:
        _VALIDATORS.clear()
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def clear_caches() -> None:
    _TOOLS_CACHE.clear()
    _VALIDATORS.clear()
    _compiled.cache_clear()


@functools.lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Any:
    from jsonschema import validators

    schema = json.loads(schema_json)
    cls = validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _name_pointer(arguments_pointer: str) -> str:
    """The pointer to a call's function name, next to its arguments."""
    head, _, last = arguments_pointer.rpartition("/")
    return f"{head}/name" if last == "arguments" else arguments_pointer


def _parses(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def _json_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def _short(value: str, width: int = 40) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _describe(error: Any) -> dict[str, Any]:
    """One schema failure as where / rule / text, without echoing free-text values (they may
    hold personal data): enumerated values are shown, other values only by type."""
    where = "/" + "/".join(str(p) for p in error.absolute_path)
    rule = error.validator
    expected = error.validator_value
    instance = error.instance
    if rule == "required":
        missing = [k for k in expected if isinstance(instance, dict) and k not in instance]
        text = f"{where}: missing required key{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing)}"
    elif rule == "additionalProperties":
        extra = sorted(k for k in instance if isinstance(instance, dict)) if expected is False else []
        allowed = set(error.schema.get("properties", {}))
        extra = [k for k in extra if k not in allowed]
        text = f"{where}: unexpected key{'s' if len(extra) > 1 else ''} {', '.join(repr(k) for k in extra)}"
    elif rule == "type":
        text = f"{where}: expected {expected}, got {_json_type(instance)}"
    elif rule in ("enum", "const"):
        shown = _short(json.dumps(instance, ensure_ascii=False))
        text = f"{where}: {shown} is not {'one of ' + json.dumps(expected) if rule == 'enum' else json.dumps(expected)}"
    else:
        text = f"{where}: fails '{rule}' {json.dumps(expected) if not isinstance(expected, (dict, list)) else ''}".rstrip()
    return {"path": where, "rule": rule, "text": text}


CHECKS = [OutputSchemaViolation]
