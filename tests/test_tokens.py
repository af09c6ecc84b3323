"""Token counters: a local tokenizer.json, tiktoken from local encoding data, the labelled
estimate — all with the network blocked, since nothing may download at run time."""

from __future__ import annotations

import json
import socket
import sys

import pytest

from tunelint import Settings, lint
from tunelint import tokens
from tunelint.tokens import CharEstimate, HFTokenizer, Tiktoken, TokenizerError, resolve


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted during a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    tokens._hf_backend.cache_clear()
    tokens._tiktoken_backend.cache_clear()
    yield
    tokens._hf_backend.cache_clear()
    tokens._tiktoken_backend.cache_clear()


@pytest.fixture
def tokenizer_json(tmp_path):
    """A small word-level tokenizer.json built here, so no model file is downloaded."""
    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "the": 3, "cat": 4, "sat": 5, ",": 6, ".": 7}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return path


def test_estimate_is_labelled():
    r = resolve(None)
    assert isinstance(r.counter, CharEstimate) and not r.counter.exact and r.note is None
    assert r.counter.count("abcdefgh") == 2 and "estimate" in r.counter.name


def test_local_tokenizer_json_counts_real_tokens(tokenizer_json):
    r = resolve(str(tokenizer_json))
    assert isinstance(r.counter, HFTokenizer) and r.counter.exact and r.note is None
    # Whitespace pre-tokenizer: "hello", ",", "world", "." — four tokens, not len/4 = 3.
    assert r.counter.count("hello, world.") == 4
    assert r.counter.count("zebra quagga") == 2  # unknown words still count


def test_missing_tokenizers_package_degrades_with_a_note(tokenizer_json, monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    r = resolve(str(tokenizer_json))
    assert isinstance(r.counter, CharEstimate)
    assert "pip install 'tunelint[tokenizers]'" in r.note


def test_missing_or_broken_tokenizer_file_is_an_error(tmp_path):
    with pytest.raises(TokenizerError, match="not found"):
        resolve(str(tmp_path / "nope.json"))
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{}")
    pytest.importorskip("tokenizers")
    with pytest.raises(TokenizerError, match="tokenizers package can read"):
        resolve(str(bad))


def test_tiktoken_from_bpe_openai_data_offline(tmp_path, monkeypatch):
    pytest.importorskip("tiktoken")
    bpe_openai = pytest.importorskip("bpe_openai")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty cache: tiktoken alone would download
    r = resolve("tiktoken:o200k_base")
    assert isinstance(r.counter, Tiktoken) and r.counter.exact and r.note is None
    assert r.counter.data_from == "bpe-openai"
    text = "Hello world, how are you doing today? Ünïcode and 12345 numbers."
    # The same count as bpe-openai's own (independent, Rust) encoder on the same data.
    assert r.counter.count(text) == len(bpe_openai.get_encoding("o200k_base").encode(text))
    assert r.counter.count("Hello world") == 2


def test_tiktoken_encoding_without_local_data_degrades(tmp_path, monkeypatch):
    pytest.importorskip("tiktoken")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    r = resolve("tiktoken:r50k_base")
    assert isinstance(r.counter, CharEstimate)
    assert "not in tiktoken's cache" in r.note and "r50k_base" in r.note


def test_tiktoken_missing_package_degrades(monkeypatch):
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    r = resolve("tiktoken:cl100k_base")
    assert isinstance(r.counter, CharEstimate) and "pip install 'tunelint[tiktoken]'" in r.note


def _chat(path, rows):
    path.write_text("\n".join(json.dumps({"messages": m}) for m in rows) + "\n")
    return path


def test_exceeds_context_uses_the_spec_tokenizer_and_max_seq_len(tmp_path, tokenizer_json):
    train = _chat(tmp_path / "train.jsonl", [
        [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": "the cat sat."}],
        [{"role": "user", "content": " ".join(["hello"] * 30)}, {"role": "assistant", "content": "the cat sat."}],
    ])
    deployment = {"max_seq_len": 20, "tokenizer": "tokenizer.json", "_base_dir": str(tmp_path), "_source": "spec.toml"}
    report = lint(train, settings=Settings(select=("exceeds-context",), deployment=deployment))
    [finding] = report.findings
    assert finding.location.line == 2
    assert finding.evidence["exact"] is True and "tokenizer.json" in finding.evidence["tokenizer"]
    # 30 words + 4 framing = 34 user tokens: over 20 before the answer starts.
    assert finding.evidence["tokens"] == 34 + 4 + 4 and finding.evidence["trainable_tokens_kept"] == 0
    metrics = report.scorecard.to_dict()["criteria"]
    complete = next(c for c in metrics if c["criterion"] == "complete")["metrics"]["exceeds-context"]
    assert complete["max_tokens"] == 20 and complete["limit_from"] == "max_seq_len in spec.toml"
    assert "tokenizer.json" in complete["tokenizer"] and complete["exact"] is True


def test_exceeds_context_says_when_the_estimate_stands_in(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    train = _chat(tmp_path / "train.jsonl", [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]])
    report = lint(train, settings=Settings(select=("exceeds-context",), checks={"exceeds-context": {"tokenizer": "tiktoken:o200k_base"}}))
    complete = next(c for c in report.scorecard.to_dict()["criteria"] if c["criterion"] == "complete")
    metrics = complete["metrics"]["exceeds-context"]
    assert metrics["exact"] is False and "unavailable" in metrics["tokenizer_note"]
