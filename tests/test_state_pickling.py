"""What crosses from a worker process to the main one comes back equal: findings and their
locations (pickled field by field into their slots), and example references merged across
chunks (ids of files remapped when the other part saw them in another order)."""

from __future__ import annotations

import pickle
from array import array

from tunelint.checks._support import ExampleRefs
from tunelint.models import CheckInfo, Criterion, DatasetInfo, Excerpt, Finding, Location, Severity


def test_findings_and_locations_round_trip_through_pickle() -> None:
    loc = Location("train", "data/train.jsonl", 12, 11, "/messages/1/content")
    finding = Finding("P001", "pii", Criterion.PRIVACY_REVIEWED, Severity.ERROR, "an email address", loc,
                      "abc123", (Location("test", "t.jsonl", None, 3),), {"entity": "EMAIL", "count": 2})
    objects = [
        loc,
        finding,
        DatasetInfo("train", "data/train.jsonl", "openai-chat", 10, 9, 1, {"blank_lines": 2}),
        CheckInfo("P001", "pii", Criterion.PRIVACY_REVIEWED, Severity.ERROR, "personal data", "doc"),
        Excerpt("train", "data/train.jsonl", 11, 12, (("user", "hi"),), True),
    ]
    back = pickle.loads(pickle.dumps(objects, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == objects
    assert [type(o) for o in back] == [type(o) for o in objects]
    assert hash(back[0]) == hash(loc) and back[1].location.pointer == "/messages/1/content"
    assert back[1].to_dict() == finding.to_dict()


def _refs(paths: list[tuple[str, str]], ids: list[int], start: int) -> ExampleRefs:
    refs = ExampleRefs()
    refs._paths = list(paths)
    refs._path_ids = {p: i for i, p in enumerate(paths)}
    refs._path = array("I", ids)
    refs._index = array("q", range(start, start + len(ids)))
    refs._line = array("q", [i + 1 for i in range(start, start + len(ids))])
    refs._hash = array("Q", [0] * len(ids))
    return refs


def test_example_refs_extend_remaps_file_ids() -> None:
    mine = _refs([("train", "a.jsonl"), ("test", "b.jsonl")], [0, 1], 0)
    mine.extend(_refs([("test", "b.jsonl"), ("train", "c.jsonl")], [0, 1, 1, 0], 2))
    assert [(mine.split(i), mine.path(i), mine.index(i)) for i in range(len(mine))] == [
        ("train", "a.jsonl", 0), ("test", "b.jsonl", 1), ("test", "b.jsonl", 2),
        ("train", "c.jsonl", 3), ("train", "c.jsonl", 4), ("test", "b.jsonl", 5),
    ]
    same = _refs([("train", "a.jsonl")], [0, 0], 0)
    same.extend(_refs([("train", "a.jsonl")], [0, 0, 0], 2))
    same.extend(ExampleRefs())
    assert [same.location(i) for i in range(len(same))] == [Location("train", "a.jsonl", i + 1, i) for i in range(5)]
