"""Hypothesis without per-example deadlines: the suite has no timed assertions, and a deadline is
one (a first call that imports pyarrow, or a machine running other jobs, took 250-600 ms where
the default allows 200). And a content gate that refuses to answer, for the fallback tests."""

import pytest
from hypothesis import settings

settings.register_profile("tunelint", deadline=None)
settings.load_profile("tunelint")


@pytest.fixture
def refusing_content_gate(monkeypatch):
    """The content checks' Hyperscan gate, said to run but refusing every batch (as after too
    many matches): the callers must fall back."""
    from tunelint.checks import content
    from tunelint.privacy.prefilter import HyperscanGate

    class Refuses:
        def runs(self):
            return True

        def __call__(self, texts):
            raise HyperscanGate.Unanswered("too many matches")

    monkeypatch.setattr(content, "_CONTENT_HS", Refuses())
