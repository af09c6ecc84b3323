"""The secret check's Hyperscan gate: a superset of its RE2 gate, text by text and over batches."""

from __future__ import annotations

import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.privacy import SecretDetector
from tunelint.privacy.prefilter import HyperscanGate, batch_gate
from tunelint.privacy.secrets import HS_GATES, RE2_GATES

pytest.importorskip("hyperscan")


def _re2(pattern: str, texts: list[str]) -> list[int]:
    found = batch_gate(tuple(texts), pattern)
    assert found is not None
    return found


# Pieces of every rule's gate, and what Python's `(?i)` and `\s` take beyond ASCII.
_FRAGMENTS = [
    "-----BEGIN ", "RSA ", "OPENSSH ", "PRIVATE KEY", "AKIA", "ASIA", "ABIA", "ACCA", "QX3MZ7PL", "2VNB4KD8",
    "aws", "AWS", "_", "-", " ", "secret", "SECRET", "ſecret", "access", "ACCESS", "key", "KEY", "\u212aey",
    "ghp_", "gho_", "github_pat_", "xoxb-", "xapp-", "https://hooks.slack.com/", "services/", "sk-", "sk-ant-",
    "proj-", "admin-", "sk_live_", "rk_test_", "AIza", "ya29.", "SG.", "eyJ", "://", "user", ":", "@", "=",
    "Bearer", "bearer", "BEARER", "\u3000", "\u00a0", "\n", "\t", "token", "TOKEN", "toKen", "to\u212aen",
    "credentials", "credentİals", "CREDENTıALS", "credential", "credentialſ", "password", "passwd", "PWD",
    "passphrase", '"', "'", "abcdefghij", "ABCDEFGHIJ0123456789", "0123456789abcdef", "é", "ü",
]
_TEXT = st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=12).map("".join)


_ONE_GATE = {kind: HyperscanGate([pattern]) for kind, pattern in HS_GATES.items()}


@settings(max_examples=300, deadline=None)
@given(text=_TEXT)
def test_each_hyperscan_gate_covers_its_re2_gate(text: str) -> None:
    for kind, pattern in RE2_GATES.items():
        if _re2(pattern, [text, "x"]) == [0]:
            assert _ONE_GATE[kind]([text, "x"]) == [0], (kind, text)


_DETECTOR = SecretDetector()


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(_TEXT, min_size=1, max_size=8))
def test_batch_gate_keeps_every_text_re2_keeps(texts: list[str]) -> None:
    detector = _DETECTOR
    assert detector._hyperscan.runs()
    kept = detector.gate(tuple(texts))
    assert kept is not None and kept == sorted(set(kept))
    assert set(_re2(detector.batch_pattern, texts)) <= set(kept)


def test_matches_are_placed_in_their_own_text() -> None:
    """Text boundaries: a match at the very start or end of a text, texts of non-ASCII bytes."""
    gate = HyperscanGate([HS_GATES["JWT"], HS_GATES["ANTHROPIC_API_KEY"]])
    texts = ["eyJ", "no", "é café ü", "…sk-ant-", "x", "plain", "ab eyJ cd", "ey", "J"]
    assert gate(tuple(texts)) == [0, 3, 6, 8]  # "ey" + "J" run across two texts: the second is added
    assert gate(()) == [] and gate(("",)) == [] and gate(("a", "")) == []


def test_gate_on_chat_like_batches_agrees_with_re2() -> None:
    rng = random.Random(5)
    words = ["the", "key", "is", "token:", "secret", "=", "api_key", "AKIA", "Bearer", "https://", "a:b@c", "eyJ", "\n"]
    texts = tuple(" ".join(rng.choice(words) for _ in range(rng.randint(1, 40))) for _ in range(3000))
    detector = SecretDetector()
    kept = set(detector.gate(texts) or [])
    assert set(_re2(detector.batch_pattern, list(texts))) <= kept
    found = {i for i, t in enumerate(texts) if detector.detect(t)}
    assert found <= kept


def test_without_hyperscan_the_re2_gate_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "hyperscan", None)  # import fails
    detector = SecretDetector()
    assert not detector._hyperscan.runs()
    texts = ("api_key = 'Xk29vLq7Rt9Xk29vLq7Rt9'", "nothing", "AKIAQX3MZ7PL2VNB4KD8")
    assert detector.gate(texts) == _re2(detector.batch_pattern, list(texts)) == [0, 2]


def test_detector_pickles_without_its_database() -> None:
    detector = SecretDetector()
    assert detector._hyperscan.runs()
    copy = pickle.loads(pickle.dumps(detector._hyperscan))
    assert copy.patterns == detector._hyperscan.patterns and copy._database is None
    assert copy(("sk-ant-abc", "x")) == [0]


def test_a_worker_forked_while_another_thread_held_the_gate_still_gates() -> None:
    # The gate's lock guards its scratch space; a fork while another thread scans copies it
    # held. The child starts afresh (its own lock and database) instead of waiting forever.
    import multiprocessing
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("fork")
    gate = HyperscanGate([HS_GATES["JWT"]])
    texts = ("nothing here", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "")
    assert gate(texts) == [1]
    ctx = multiprocessing.get_context("fork")
    answer = ctx.Queue()
    with gate._lock:  # as if another thread were scanning at the fork
        child = ctx.Process(target=lambda: answer.put(gate(texts)))
        child.start()
    child.join(30)
    stuck = child.is_alive()
    if stuck:
        child.kill()
    assert not stuck
    assert answer.get(timeout=5) == [1]


def test_a_batch_dense_with_matches_is_left_to_re2() -> None:
    # Every match is a call into Python: past a few per text the scan stops and the detector
    # gates the batch with RE2, which answers the same texts.
    gate = HyperscanGate([HS_GATES["JWT"]])
    dense = tuple("eyJ " * 40 + f"filler {i}" for i in range(50)) + ("plain words",)
    with pytest.raises(HyperscanGate.Unanswered):
        gate(dense)
    detector = SecretDetector()
    assert detector.gate(dense) == batch_gate(dense, detector.batch_pattern)
    sparse = ("plain words", "eyJhbGciOiJIUzI1NiJ9 once")
    assert detector.gate(sparse) == [1] == batch_gate(sparse, detector.batch_pattern)  # Hyperscan's own answer
