"""Cheap tests that let the content checks skip their regular expressions on text that cannot match.

A regex scan with no literal prefix costs tens of nanoseconds per character; a substring test
(`"as an ai" in text`) costs about one. The content checks run on every example, so each one
first asks a question that is *necessary* for its pattern to match — a character, a word, a
lower-cased phrase — and runs the pattern only when the answer is yes. The findings stay exactly
what the patterns alone would give; tests/test_textscan.py holds the equivalences these rely on.
"""

from __future__ import annotations

import codecs
import re
import sys
from typing import Sequence

import numpy as np

from tunelint.models import Example


def fold(text: str) -> str:
    """The text lower-cased for substring gates in front of case-insensitive patterns: if a
    pattern with re.IGNORECASE matches an ASCII phrase in `text`, the lower-cased phrase occurs
    in `fold(text)` (Kelvin sign and friends included)."""
    if not text.isascii():
        # Characters that do not lower-case to the ASCII letter re.IGNORECASE matches them to:
        # "İ" lower-cases to "i" + U+0307, "ı" and "ſ" stay themselves, yet match i, i and s.
        # (str.translate with a table is slow on non-ASCII text; three replaces are not.)
        if "\u0130" in text:
            text = text.replace("\u0130", "i")
        if "\u0131" in text:
            text = text.replace("\u0131", "i")
        if "\u017f" in text:
            text = text.replace("\u017f", "s")
    return text.lower()


# The words the checks' gates ask about, by check. A word that a pattern matches with a word
# boundary (or a space, hyphen, digit, bracket...) on each side is a token of the text: a run
# of ASCII letters once every other character counts as a separator (see `scan`).
WORDS = frozenset(
    # placeholder-output: lorem ipsum, "[insert your answer here]"
    "lorem ipsum insert add put enter answer output response text content".split()
    # refusal-boilerplate: the AI self-disclaimers
    + "ai artificial model program openai cutoff cut access browse".split()
    # merged-instructions
    + "instruction input output response human user".split()
    # volatile-facts: currency words, stock levels, versions, products, "currently"-phrases
    + "usd eur gbp jpy inr dollars euros pounds stock only left remaining available".split()
    + "item items unit units piece pieces seat seats room rooms version release".split()
    + "python node java ios android windows macos ubuntu chrome firefox kubernetes react django php ruby go rust gpt".split()
    + "currently moment present now today latest recent year month quarter".split()
    # calculations: "the sum of", "the square root of"
    + "of square factorial sum product average mean median".split()
)


class Scan:
    """What the gates need of one text: `folded` (fold(text)) and `words`, the WORDS among its
    tokens. `plain`: folding changed nothing but the case, so `folded == text.lower()`."""

    __slots__ = ("folded", "words", "plain")

    def __init__(self, folded: str, words: frozenset[str] | set[str], plain: bool) -> None:
        self.folded = folded
        self.words = words
        self.plain = plain


_BYTE_WORDS = frozenset(w.encode("ascii") for w in WORDS)
_WORD_OF_BYTES = {w.encode("ascii"): w for w in WORDS}
# bytes.translate is several times faster than str.translate: ASCII letters stay, every other
# byte becomes a space.
_LETTER_BYTES = bytes(c if chr(c).isascii() and chr(c).isalpha() else 32 for c in range(256))


def vocabulary(lowered: str) -> set[str]:
    """The WORDS among the tokens of a lower-cased text: runs of ASCII letters, with every other
    character (digits, punctuation, any non-ASCII character) a separator."""
    found = _BYTE_WORDS.intersection(lowered.encode("ascii", "replace").translate(_LETTER_BYTES).split())
    return {_WORD_OF_BYTES[w] for w in found}


_SCANS: dict[int, tuple[str, Scan]] = {}


def scan(text: str) -> Scan:
    """The Scan of a text, kept for the last few texts: the checks that read the same turn one
    after another fold it and split it once."""
    hit = _SCANS.get(id(text))
    if hit is not None and hit[0] is text:
        return hit[1]
    folded = fold(text)
    plain = text.isascii() or not ("\u0130" in text or "\u0131" in text or "\u017f" in text)
    result = Scan(folded, vocabulary(folded), plain)
    if len(_SCANS) >= 64:
        _SCANS.clear()
    _SCANS[id(text)] = (text, result)
    return result


_DECIMAL = re.compile(r"\d")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def has_digit(text: str) -> bool:
    """Exactly `any(ch.isdigit() for ch in text)`, without a Python-level loop over the text."""
    if (
        "0" in text or "1" in text or "2" in text or "3" in text or "4" in text
        or "5" in text or "6" in text or "7" in text or "8" in text or "9" in text
    ):
        return True
    if text.isascii():
        return False
    # Other decimal digits (\d), then the digits that are not decimal (superscripts, circled
    # numbers), all outside ASCII.
    return _DECIMAL.search(text) is not None or any(map(str.isdigit, _NON_ASCII.findall(text)))


def any_in(text: str, needles: tuple[str, ...]) -> bool:
    """Whether any needle occurs in text (a loop in C would be no faster for a handful)."""
    for n in needles:
        if n in text:
            return True
    return False


# Line breaks str.splitlines() splits on besides "\n".
_OTHER_BREAKS_ASCII = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e")
_OTHER_BREAKS = _OTHER_BREAKS_ASCII + ("\x85", "\u2028", "\u2029")


def line_breaks_at_least(text: str, n: int) -> bool:
    """A cheap necessary condition for `len(text.splitlines()) > n`: True when the text may hold
    at least `n` line breaks (it counts "\\n" and only looks for the rarer separators)."""
    if n <= 0 or text.count("\n") >= n:
        return True
    return any_in(text, _OTHER_BREAKS_ASCII if text.isascii() else _OTHER_BREAKS)


def tandem_candidates(texts: Sequence[str], copies: int, shortest: int = 2, longest: int = 80) -> np.ndarray:
    """For each text, whether it may hold `copies` back-to-back copies of one unit separated by
    whitespace only (`(u)(?:\\s*u){copies-1}`) whose non-whitespace part is `shortest` to
    `longest` characters long: a necessary condition, False for nearly all prose.

    With every whitespace character removed, such copies become `copies` exact copies of the
    unit's non-whitespace part u', back to back: a stretch where each character equals the one
    `d = len(u')` further on, (copies - 1) * d characters long. Every stretch that long covers
    `m` consecutive positions starting at a multiple of a step `s` (s + m - 1 <= its length), so
    one vectorised comparison per period over every s-th position of the whole batch, then a
    few more at the survivors, finds every text that can hold one."""
    return _candidates(texts, copies, shortest, longest, one_byte=False)


def repeat_candidates(texts: Sequence[str], copies: int, shortest: int = 2, longest: int = 80) -> np.ndarray:
    """The test of `tandem_candidates` (a necessary condition for `copies` back-to-back copies
    of one unit, whitespace apart, whose non-whitespace part is `shortest` to `longest`
    characters long), with the texts that are mostly ASCII taken one byte per character, as
    the ASCII ones: characters up to U+00FF stay themselves (U+00FF becomes 0xfe), any other
    one becomes a byte from 0xa1 to 0xfd (its code point modulo 93: never whitespace nor
    0xff), and whitespace goes. Equal characters give equal bytes, so a stretch that repeats
    at period d still does (the merged characters only let a few more texts through). That
    skips the four-byte pass of `tandem_candidates` (encoding, masking out whitespace, a second
    loop over the periods) for most non-ASCII texts; the texts with many non-ASCII characters
    (each goes through the encoding error handler in Python) still take it."""
    return _candidates(texts, copies, shortest, longest, one_byte=True)


def _candidates(texts: Sequence[str], copies: int, shortest: int, longest: int, one_byte: bool) -> np.ndarray:
    found = np.zeros(len(texts), dtype=bool)
    repeats = copies - 1
    if repeats < 1 or not len(texts):
        found[:] = True
        return found
    plain: list[bytes] = []
    plain_at: list[int] = []
    wide: list[bytes] = []
    wide_at: list[int] = []
    for i, text in enumerate(texts):
        if text.isascii():
            plain.append(text.encode("ascii"))
        elif one_byte and len(text.encode("utf-8", "surrogatepass")) - len(text) <= len(text) // 4:
            # Its non-ASCII characters are few: they add at most a quarter to its UTF-8 length.
            plain.append(text.encode("latin-1", _ONE_BYTE).translate(_NO_FF))
        else:
            wide.append(text.encode("utf-32-le", "surrogatepass"))
            wide_at.append(i)
            continue
        plain_at.append(i)
    if plain:
        # 0xff is in no text now: it marks where one text ends and the next begins (in ASCII
        # texts the latin-1 whitespace is the ASCII whitespace).
        arr = np.frombuffer(b"\xff".join(plain).translate(None, _LATIN1_SPACE), dtype=np.uint8)
        _byte_tandems(arr, np.flatnonzero(arr == 0xFF), np.array(plain_at), repeats, shortest, longest, found)
    if wide:
        arr = np.frombuffer(b"\xff\xff\xff\xff".join(wide), dtype=np.uint32)  # 0xffffffff: no code point
        arr = arr[(arr >= len(_KEEP_CHAR)) | _KEEP_CHAR[np.minimum(arr, len(_KEEP_CHAR) - 1)]]
        _tandems(arr, np.flatnonzero(arr == 0xFFFFFFFF), np.array(wide_at), repeats, shortest, longest, found)
    return found


def _one_byte_error(error: UnicodeError) -> tuple[str, int]:
    """Encoding error handler for repeat_candidates: each character latin-1 cannot encode
    becomes one character from U+00A1 to U+00FD (no whitespace, no U+00FF), or nothing if it
    is whitespace."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    part = error.object[error.start:error.end]
    return "".join([chr(0xA1 + ord(c) % 93) for c in part if not c.isspace()]), error.end


_ONE_BYTE = "tunelint.one-byte"
codecs.register_error(_ONE_BYTE, _one_byte_error)
# U+00FF (the only character encoded 0xff) becomes 0xfe.
_NO_FF = bytes(range(255)) + b"\xfe"
# The latin-1 characters that `\\s` (and str.split()) treat as whitespace.
_LATIN1_SPACE = bytes(c for c in range(256) if chr(c).isspace())


# Which characters are kept when whitespace (str.isspace, which is what `\\s` matches) is
# removed; no character from U+3001 on is whitespace.
_KEEP_CHAR = np.array([not chr(c).isspace() for c in range(0x3001)], dtype=bool)


def _grid(repeats: int, d: int) -> tuple[int, int]:
    """(step, width) for period d: a stretch of repeats * d positions holds `width` consecutive
    positions from a multiple of `step`."""
    stretch = repeats * d
    # As far apart as the stretch allows while still testing up to eight positions.
    step = max(1, stretch // 2, stretch - 7)
    return step, min(8, stretch - step + 1)


def _byte_tandems(arr: np.ndarray, ends: np.ndarray, owner: np.ndarray, repeats: int, shortest: int, longest: int,
                  found: np.ndarray) -> None:
    """_tandems for a one-byte array, comparing `w` consecutive positions at once: w bytes read
    as one unsigned integer of w bytes (8, 4 or 2), from views of the array at each byte offset.

    A stretch of L = repeats * d positions where each byte equals the one d further on holds
    the w consecutive positions from some multiple of a step s when s + w - 1 <= L; s is taken
    as the largest multiple of w within that, so that each position tested is the start of an
    element of the offset-0 view and the position d further on is element `d // w` on of the
    view at offset `d % w`: one comparison of whole elements per period, and no survivors to
    filter (w is the widest of 8, 4, 2 with s >= w; 1 falls back to _tandems). A window tested
    lies inside the stretch, so inside the text that holds it."""
    n = len(arr)
    buffer = arr.data
    views: dict[int, list[np.ndarray]] = {}
    narrow: list[int] = []
    for d in range(max(1, shortest), longest + 1):
        if n <= d:
            break
        stretch = repeats * d
        w = 8 if stretch >= 15 else 4 if stretch >= 7 else 2 if stretch >= 3 else 1
        if w == 1 or n < d + w:
            narrow.append(d)
            continue
        of_w = views.get(w)
        if of_w is None:
            dtype = _UINT[w]
            of_w = views[w] = [np.frombuffer(buffer, dtype=dtype, count=(n - r) // w, offset=r) for r in range(w)]
        step = (stretch - w + 1) // w  # in elements of w bytes
        q, r = divmod(d, w)
        k = (n - d - w) // w + 1  # windows from 0, w, 2w... whose copy d on ends by n
        at = np.flatnonzero(of_w[0][0:k:step] == of_w[r][q:q + k:step])
        if len(at):
            found[owner[np.minimum(np.searchsorted(ends, at * (step * w)), len(owner) - 1)]] = True
    for d in narrow:
        _tandems(arr, ends, owner, repeats, d, d, found)


_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _tandems(arr: np.ndarray, ends: np.ndarray, owner: np.ndarray, repeats: int, shortest: int, longest: int,
             found: np.ndarray) -> None:
    n = len(arr)
    for d in range(max(1, shortest), longest + 1):
        if n <= d:
            break
        step, width = _grid(repeats, d)
        at = np.flatnonzero(arr[0:n - d:step] == arr[d:n:step]) * step
        for o in range(1, width):
            if not len(at):
                break
            at = at[at + (o + d) < n]
            at = at[arr[at + o] == arr[at + (o + d)]]
        if len(at):
            found[owner[np.minimum(np.searchsorted(ends, at), len(owner) - 1)]] = True


# Character classes for RE2 gates (see `regex_gate`) holding every character Python's `\\d` and
# `\\s` match in a str pattern: the ASCII ones, and, not to depend on the two engines agreeing
# on Unicode's digits and spaces, every non-ASCII character.
RE2_DIGIT = r"[0-9\x{80}-\x{10FFFF}]"
RE2_SPACE = r"[\t-\r\x{1c}-\x{20}\x{80}-\x{10FFFF}]"


def regex_gate(texts: Sequence[str], pattern: str) -> list[bool] | None:
    """For each text, whether the RE2 `pattern` matches somewhere in it, answered for all of
    them at once by Arrow's RE2 kernel (one automaton over the batch, several times faster
    than Python's `re` on patterns without a literal prefix). A gate written as a superset of
    a Python pattern (its word boundaries and look-arounds dropped, `\\d` and `\\s` widened to
    RE2_DIGIT and RE2_SPACE) answers False only where the Python pattern cannot match. None
    when Arrow cannot take the texts (lone surrogates): every text may match."""
    if not texts:
        return []
    array = arrow_texts(texts)
    return None if array is None else regex_matches(array, pattern)


def arrow_texts(texts: Sequence[str]):
    """`texts` as an Arrow large_string array for `regex_matches`; None when Arrow cannot take
    them (lone surrogates)."""
    import pyarrow as pa

    try:
        return pa.array(texts, type=pa.large_string())
    except (pa.ArrowException, UnicodeError):
        return None


class _NoPandas:
    """A finder that makes `import pandas` fail (see `arrow_without_pandas`)."""

    def find_spec(self, name: str, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not imported in this worker process")
        return None


def arrow_without_pandas() -> bool:
    """Let Arrow build arrays from Python lists without importing pandas, for the rest of the
    process; True when that is now so.

    `pa.array(list)` asks pyarrow's pandas shim whether the list is a pandas object, and the
    shim's first answer imports pandas (0.3-0.45 CPU s, once per process): a cost the pool's
    worker processes pay for nothing, since they never hand pandas objects to Arrow. Here the
    shim's first, and only, try to import pandas fails (a finder refuses it), and the shim
    remembers that: `pa.array` no longer recognises pandas objects in this process (a
    Series is then read as a plain sequence). So this is only for processes that never give
    Arrow pandas objects: not for the main process of a library caller. A process that has
    already imported pandas, or whose shim has already looked, is left as it is."""
    if "pandas" in sys.modules:
        return False
    try:
        import pyarrow as pa
    except ImportError:
        return False
    blocker = _NoPandas()
    sys.meta_path.insert(0, blocker)
    try:
        pa.array([""], type=pa.large_string())
    except Exception:  # a pyarrow whose shim differs: it may import pandas later, as before
        return False
    finally:
        sys.meta_path.remove(blocker)
    shim = getattr(getattr(pa, "lib", None), "_pandas_api", None)
    return "pandas" not in sys.modules and shim is not None and getattr(shim, "have_pandas", True) is False


def regex_matches(array, pattern: str) -> list[bool]:
    """For each text of an `arrow_texts` array, whether the RE2 `pattern` matches in it."""
    import pyarrow.compute as pc

    return pc.match_substring_regex(array, pattern).to_pylist()


_last_input: list = [None, ""]


def input_text(example: Example) -> str:
    """`example.input_text`, kept for the last example asked about: checks that run one after
    another on the same example (volatile-facts, calculations) build it once."""
    if _last_input[0] is not example:
        _last_input[0] = example
        _last_input[1] = example.input_text
    return _last_input[1]


def clear() -> None:
    """Drop per-process caches (benchmarks time each check from cold)."""
    from tunelint.checks import output_schema

    _last_input[0] = None
    _last_input[1] = ""
    _SCANS.clear()
    output_schema.clear_caches()
