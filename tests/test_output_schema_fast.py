"""output-schema-violation's quick "valid" (`_plainly_valid`) says yes only where jsonschema
finds no error, on generated schemas (the keywords it reads, malformed ones, and keywords it
leaves to jsonschema) and values (bools beside ints, integral floats, NaN, nesting)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.checks.output_schema import _compiled, _plainly_valid

_KEYS = ["a", "b", "city", "unit", "1", ""]
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.0, 2.5, -0.0, 0.0, 1e300]), st.sampled_from(["", "a", "celsius", "x", "1"]),
)
_VALUES = st.recursive(
    _SCALARS, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.sampled_from(_KEYS), c, max_size=4)), max_leaves=8
)
_TYPES = st.sampled_from(["object", "string", "integer", "number", "boolean", "array", "null", "int", 3, "Object"])
_TYPE = st.one_of(_TYPES, st.lists(_TYPES, max_size=3))
_LEAF = st.fixed_dictionaries({}, optional={
    "type": _TYPE, "enum": st.lists(_SCALARS, max_size=3), "description": st.text(max_size=3),
    "format": st.sampled_from(["email", "date"]), "minimum": st.integers(0, 2), "title": st.just("t"),
})
_SCHEMAS = st.recursive(
    st.one_of(st.booleans(), _LEAF),
    lambda c: st.fixed_dictionaries({}, optional={
        "type": _TYPE,
        "properties": st.one_of(st.dictionaries(st.sampled_from(_KEYS), c, max_size=3), st.sampled_from([[], "x", {"a": 1}])),
        "required": st.one_of(st.lists(st.sampled_from(_KEYS), max_size=3), st.sampled_from(["a", 1, [1], ["a", "a"]])),
        "additionalProperties": st.one_of(st.booleans(), st.sampled_from([0, 1, {}, {"type": "string"}])),
        "enum": st.lists(st.one_of(_SCALARS, _VALUES), max_size=3),
        "default": _SCALARS,
        "$schema": st.just("http://json-schema.org/draft-04/schema#"),
    }),
    max_leaves=6,
)
# Tool parameters as they come: an object of a few typed, enumerated, required properties.
_PROPERTY = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", "number", "boolean"])},
    optional={"enum": st.lists(st.sampled_from(["celsius", "fahrenheit", "x", 1, True]), min_size=1, max_size=3),
              "description": st.just("d")},
)
_PARAMETERS = st.fixed_dictionaries(
    {"type": st.just("object"), "properties": st.dictionaries(st.sampled_from(_KEYS), _PROPERTY, max_size=4)},
    optional={"required": st.lists(st.sampled_from(_KEYS), max_size=3), "additionalProperties": st.booleans()},
)
_ARGUMENTS = st.dictionaries(st.sampled_from(_KEYS), _SCALARS, max_size=4)


def _errors(schema, value) -> list:
    return list(_compiled(json.dumps(schema, sort_keys=True)).iter_errors(value))


@settings(max_examples=1500, deadline=None)
@given(_SCHEMAS, _VALUES)
def test_plainly_valid_only_where_jsonschema_finds_no_error(schema, value):
    if _plainly_valid(schema, value):
        assert not _errors(schema, value), (schema, value)


@settings(max_examples=1500, deadline=None)
@given(_PARAMETERS, _ARGUMENTS)
def test_plainly_valid_on_tool_parameters_is_jsonschema(schema, value):
    # On the common shape it answers whenever jsonschema says valid, not only a subset of it.
    fast = _plainly_valid(schema, value)
    assert fast == (not _errors(schema, value)) or (not fast and any(type(e) is not str for p in schema["properties"].values()
                                                                         for e in p.get("enum", [])))


def test_plainly_valid_takes_the_bench_tools():
    weather = {"properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"], "type": "string"}},
               "required": ["city"], "type": "object"}
    search = {"properties": {"limit": {"type": "integer"}, "query": {"type": "string"}}, "required": ["query"], "type": "object"}
    assert _plainly_valid(weather, {"city": "Berlin", "unit": "celsius"})
    assert _plainly_valid(search, {"query": "x", "limit": 3.0})
    assert not _plainly_valid(weather, {"city": "Berlin", "unit": "kelvin"})
    assert not _plainly_valid(search, {"limit": True, "query": "x"})
    assert not _plainly_valid(search, {"limit": 3})
