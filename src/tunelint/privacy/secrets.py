"""Credential detection: API keys and tokens by their published shapes, plus key=value secrets.

Vendor tokens are recognised by prefix and length; private key blocks and JWTs by structure;
passwords only where they are assigned or embedded in a connection URL, and only when the
value is not a placeholder and carries enough entropy to be a real one.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from tunelint.privacy.prefilter import HyperscanGate, batch_gate
from tunelint.privacy.spans import Span, resolve_overlaps

# Values that stand for a secret rather than being one: <your-key>, ${DB_PASSWORD},
# %(password)s, {{token}}, ****, xxxx, "changeme", "your_password_here".
_PLACEHOLDER = re.compile(
    r"""(?ix)
    ^(?: <[^>]*> | \[[^\]]*\] | \{+[^}]*\}+ | \$\{?[\w.-]+\}? | %\(?\w*\)?s? | [x*._-]+ | …+
       | [\w-]*(?:your|example|sample|placeholder|redacted|dummy|changeme)[\w-]* | [\w-]*_here
       | pass(?:word|wd)?\d{0,3} | pwd | secret | token | none | null | true | false )$
    """
)


def shannon_entropy(value: str) -> float:
    """Bits per character of `value`'s character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _varied(value: str, min_distinct: int = 6) -> bool:
    # Rejects fillers such as "xxxxxxxx" or "000000000000" in a token-shaped slot.
    return len(set(value)) >= min_distinct


def _password_like(value: str, quoted: bool) -> bool:
    """A candidate assigned secret that is not a placeholder and has 24+ bits of entropy."""
    if _PLACEHOLDER.match(value) or value.startswith(("/", "~", "./", "http")):
        return False  # a stand-in, a file path or a URL
    entropy = shannon_entropy(value)
    if entropy < 2.5 or entropy * len(value) < 24:
        return False
    # Unquoted right-hand sides are often code (os.environ, get_secret); real values mix in digits.
    return quoted or any(c.isdigit() for c in value)


def _jwt_header_ok(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


_BASE64_CHARS = re.compile(r"[A-Za-z0-9+/]")


def _whole(match: re.Match[str]) -> tuple[int, int]:
    return match.span()


def _group(name: str) -> Callable[[re.Match[str]], tuple[int, int]]:
    return lambda match: match.span(name)


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of secret: its pattern, how sure a match is, a check, and which part is secret."""

    kind: str
    pattern: re.Pattern[str]
    score: float
    check: Callable[[re.Match[str]], bool] | None = None
    secret_span: Callable[[re.Match[str]], tuple[int, int]] = _whole
    # A cheap pattern every match contains, searched before `pattern` (whose lazy name prefix
    # makes it slow on prose that merely mentions a "key" or a "password").
    gate: re.Pattern[str] | None = None
    # With `gate`: every match holds a match of `gate` starting at most this many characters
    # after its own start, so `pattern` is tried only there (`_gated_matches`).
    reach: int | None = None


def _body_varied(match: re.Match[str]) -> bool:
    return _varied(match.group("body"))


# Every assignment match holds its keyword's last word right before `_KEYWORD_VALUE`'s operator.
_ASSIGNED = re.compile(r"""(?i)(?:key|secret|token|credentials?|passw(?:or)?d|passphrase|pwd)["']?\s*[:=]""")
# How far into an assignment match that word starts, at most: the name prefix (`[\w.-]{0,40}?`),
# then for PASSWORD nothing more (its keywords are `_ASSIGNED`'s), for GENERIC_SECRET the
# keyword's own head before its last word ("subscription-" before "key", 13 characters).
# Every pattern character matches one text character, case folding included.
_NAME_PREFIX = 40
_PASSWORD_REACH = _NAME_PREFIX
_GENERIC_REACH = _NAME_PREFIX + len("subscription-")

_KEYWORD_VALUE = (
    r"""["']?\s*(?::=|=>|[:=])\s*"""
    r"""(?:(?P<q>["'`])(?P<qval>[^"'`\s]{6,200})(?P=q)|(?P<val>[^\s"'`,;(){}\[\]<>]{8,200}))"""
)


def _assigned_password(match: re.Match[str]) -> bool:
    quoted = match.group("qval") is not None
    return _password_like(match.group("qval") or match.group("val"), quoted)


def _assigned_token(match: re.Match[str]) -> bool:
    # Keys and tokens are long random strings; a short value after "API key:" is prose
    # ("Not an API key: shortkey123") or a name, not a credential.
    value = match.group("qval") or match.group("val")
    return len(value) >= 16 and _assigned_password(match)


def _assigned_span(match: re.Match[str]) -> tuple[int, int]:
    return match.span("qval") if match.group("qval") is not None else match.span("val")


def _connection_password(match: re.Match[str]) -> bool:
    # Same bar as assigned passwords, so tutorial URLs such as admin:admin@localhost are not
    # reported.
    return _password_like(match.group("pw"), quoted=True)


def _private_key_body(match: re.Match[str]) -> bool:
    # A header with "..." or a short stub under it is documentation, not a key.
    body = match.group("body") or match.group("tail") or ""
    return len(_BASE64_CHARS.findall(body)) >= 32


def _token_with_digits(match: re.Match[str]) -> bool:
    value = match.group("val")
    return (
        not _PLACEHOLDER.match(value)
        and any(c.isdigit() for c in value)
        and shannon_entropy(value) >= 3.0
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "PRIVATE_KEY",
        re.compile(
            # The whole block when its END line is there; else the base64 lines under the
            # header (a key cut off by truncation is still a leaked key).
            r"-----BEGIN (?P<label>(?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----"
            r"(?:(?P<body>.{0,20000}?)-----END (?P=label)PRIVATE KEY(?: BLOCK)?-----"
            r"|(?P<tail>(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/=]{16,})*))",
            re.DOTALL,
        ),
        1.0,
        check=_private_key_body,
    ),
    Rule("AWS_ACCESS_KEY_ID", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), 0.95),
    Rule(
        "AWS_SECRET_ACCESS_KEY",
        re.compile(
            r"(?i:aws[ _-]?secret(?:[ _-]?access)?[ _-]?key|secret[ _-]?access[ _-]?key)"
            r"""["']?\s*(?::=|=>|[:=])?\s*["']?(?P<body>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"""
        ),
        0.95,
        secret_span=_group("body"),
        check=_body_varied,
    ),
    Rule(
        "GITHUB_TOKEN",
        re.compile(
            r"\b(?:gh[pousr]_(?P<body>[A-Za-z0-9]{36,255})|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b"
        ),
        0.95,
        check=lambda m: m.group("body") is None or _varied(m.group("body")),
    ),
    Rule(
        "SLACK_TOKEN",
        re.compile(
            r"\b(?:xox[baprse]-(?P<body>[A-Za-z0-9-]{10,250})|xapp-\d-[A-Z0-9]+-\d+-[A-Za-z0-9]+)"
        ),
        0.95,
        check=lambda m: m.group("body") is None or _varied(m.group("body")),
    ),
    Rule(
        "SLACK_WEBHOOK",
        re.compile(
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20,}"
        ),
        0.95,
    ),
    Rule(
        "ANTHROPIC_API_KEY",
        re.compile(r"\bsk-ant-(?:[a-z]+\d{2}-)?(?P<body>[A-Za-z0-9_-]{32,})"),
        0.95,
        check=_body_varied,
    ),
    Rule(
        "OPENAI_API_KEY",
        re.compile(
            r"\bsk-(?:(?:proj|svcacct|admin)-(?P<body>[A-Za-z0-9_-]{20,})"
            r"|(?!ant-)(?P<legacy>[A-Za-z0-9]{32,}))(?![A-Za-z0-9_-])"
        ),
        0.9,
        check=lambda m: (
            _varied(m.group("body") or m.group("legacy"))
            and any(c.isdigit() for c in (m.group("body") or m.group("legacy")))
        ),
    ),
    Rule(
        "STRIPE_SECRET_KEY",
        re.compile(r"\b(?:sk|rk)_live_(?P<body>[A-Za-z0-9]{16,247})\b"),
        0.95,
        check=_body_varied,
    ),
    # Test-mode keys move no money, but a dataset full of them still leaks an account.
    Rule(
        "STRIPE_TEST_KEY",
        re.compile(r"\b(?:sk|rk)_test_(?P<body>[A-Za-z0-9]{16,247})\b"),
        0.5,
        check=_body_varied,
    ),
    Rule("GOOGLE_API_KEY", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), 0.9),
    Rule(
        "GOOGLE_OAUTH_TOKEN",
        re.compile(r"\bya29\.(?P<body>[0-9A-Za-z_-]{20,})"),
        0.9,
        check=_body_varied,
    ),
    Rule(
        "SENDGRID_API_KEY",
        re.compile(r"\bSG\.[A-Za-z0-9_-]{16,32}\.(?P<body>[A-Za-z0-9_-]{16,64})\b"),
        0.9,
        check=_body_varied,
    ),
    Rule(
        "JWT",
        re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"),
        0.9,
        check=lambda m: _jwt_header_ok(m.group(0)),
    ),
    Rule(
        "CONNECTION_STRING_PASSWORD",
        re.compile(
            r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,30}://[^\s:/@'\"]{0,64}:(?P<pw>[^\s@/'\"]{1,128})@[\w.-]+"
        ),
        0.8,
        secret_span=_group("pw"),
        check=_connection_password,
    ),
    Rule(
        "BEARER_TOKEN",
        re.compile(r"(?i:\bbearer)\s+(?P<val>[A-Za-z0-9._~+/-]{20,}=*)"),
        0.7,
        secret_span=_group("val"),
        check=_token_with_digits,
    ),
    Rule(
        "PASSWORD",
        re.compile(
            r"(?i:(?<![\w-])[\w.-]{0,40}?(?:passwd|password|passphrase|pwd))(?![\w-])"
            + _KEYWORD_VALUE
        ),
        0.6,
        check=_assigned_password,
        secret_span=_assigned_span,
        gate=_ASSIGNED,
        reach=_PASSWORD_REACH,
    ),
    Rule(
        "GENERIC_SECRET",
        re.compile(
            r"(?i:(?<![\w-])[\w.-]{0,40}?(?:(?:secret|api|access|private|subscription|signing|"
            r"encryption|master|auth)[ _-]?key|apikey|secret|token|client[ _-]?secret|"
            r"credentials?))"
            r"(?![\w-])" + _KEYWORD_VALUE
        ),
        0.6,
        check=_assigned_token,
        secret_span=_assigned_span,
        gate=_ASSIGNED,
        reach=_GENERIC_REACH,
    ),
)

# Per rule, literal fragments one of which each of its matches contains (case-sensitive ones,
# then ones looked up in the lower-cased text): a rule runs only where its fragment occurs,
# which spares nearly every text nearly every regex.
_NEEDLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "PRIVATE_KEY": (("-----BEGIN",), ()),
    "AWS_ACCESS_KEY_ID": (("AKIA", "ASIA", "ABIA", "ACCA"), ()),
    "AWS_SECRET_ACCESS_KEY": ((), ("secret",)),
    "GITHUB_TOKEN": (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), ()),
    "SLACK_TOKEN": (("xox", "xapp-"), ()),
    "SLACK_WEBHOOK": (("hooks.slack.com",), ()),
    "ANTHROPIC_API_KEY": (("sk-ant-",), ()),
    "OPENAI_API_KEY": (("sk-",), ()),
    "STRIPE_SECRET_KEY": (("_live_",), ()),
    "STRIPE_TEST_KEY": (("_test_",), ()),
    "GOOGLE_API_KEY": (("AIza",), ()),
    "GOOGLE_OAUTH_TOKEN": (("ya29.",), ()),
    "SENDGRID_API_KEY": (("SG.",), ()),
    "JWT": (("eyJ",), ()),
    "CONNECTION_STRING_PASSWORD": (("://",), ()),
    "BEARER_TOKEN": ((), ("bearer",)),
    "PASSWORD": ((), ("pass", "pwd")),
    "GENERIC_SECRET": ((), ("secret", "token", "key", "credential")),
}


# Python's `\s` in a str pattern, as an RE2 class (RE2's own `\s` is ASCII; a test pins this).
PY_SPACE = r"[\t-\r\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"

# `_ASSIGNED` for RE2. Python's `(?i)` also takes "İ" and "ı" for "i"; RE2's does not.
_RE2_ASSIGNED = (
    rf"""(?i:key|secret|token|credent[iİı]als?|passw(?:or)?d|passphrase|pwd)["']?{PY_SPACE}*[:=]"""
)

# Per rule, an RE2 pattern (no lookaround, no backreference) that matches wherever the rule's
# pattern can: its literal head and what follows, with word boundaries and lookarounds left
# out and bounded repeats cut to their minimum. `prefilter.batch_gate` runs them over a whole
# batch of texts at once; a text none matches cannot hold a secret. (RE2's `(?i)` folds every
# character Python's does but "İ" and "ı", and `[^\s]` in RE2 takes more characters than in
# Python; the tests check both.)
RE2_GATES: dict[str, str] = {
    "PRIVATE_KEY": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY",
    "AWS_ACCESS_KEY_ID": r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
    "AWS_SECRET_ACCESS_KEY": r"(?i:aws[ _-]?secret(?:[ _-]?access)?[ _-]?key|secret[ _-]?access[ _-]?key)",
    "GITHUB_TOKEN": r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
    "SLACK_TOKEN": r"xox[baprse]-[A-Za-z0-9-]{10}|xapp-",
    "SLACK_WEBHOOK": r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20}",
    "ANTHROPIC_API_KEY": r"sk-ant-",
    "OPENAI_API_KEY": r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20}|sk-[A-Za-z0-9]{32}",
    "STRIPE_SECRET_KEY": r"(?:sk|rk)_live_[A-Za-z0-9]{16}",
    "STRIPE_TEST_KEY": r"(?:sk|rk)_test_[A-Za-z0-9]{16}",
    "GOOGLE_API_KEY": r"AIza[0-9A-Za-z_-]{35}",
    "GOOGLE_OAUTH_TOKEN": r"ya29\.[0-9A-Za-z_-]{20}",
    "SENDGRID_API_KEY": r"SG\.[A-Za-z0-9_-]{16}",
    "JWT": r"eyJ[A-Za-z0-9_-]{10}",
    "CONNECTION_STRING_PASSWORD": r"://[^\s:/@'\"]{0,64}:",
    "BEARER_TOKEN": rf"(?i:bearer){PY_SPACE}+[A-Za-z0-9._~+/-]{{20}}",
    # Both assignment rules run only where `_ASSIGNED` matches.
    "PASSWORD": _RE2_ASSIGNED,
    "GENERIC_SECRET": _RE2_ASSIGNED,
}


# The same gates for Hyperscan (`prefilter.HyperscanGate`), over a text's UTF-8 bytes: each a
# superset of the RE2 gate above (a test checks it), cut to what keeps Hyperscan's compilation
# short (long counted repeats cost most of it). Python's `(?i)` takes "İ" and "ı" for "i", "K"
# (Kelvin) for "k" and "ſ" for "s": spelled out as their bytes.
_FOLDS = {"i": rb"\xc4\xb0|\xc4\xb1", "k": rb"\xe2\x84\xaa", "s": rb"\xc5\xbf"}


def _caseless(word: str) -> bytes:
    """`word` matched as Python's `(?i)` matches it, as a byte pattern."""
    out = b""
    for ch in word:
        if not ch.isalpha():
            out += re.escape(ch).encode()
            continue
        pair = f"[{ch.lower()}{ch.upper()}]".encode()
        out += b"(?:" + pair + b"|" + _FOLDS[ch.lower()] + b")" if ch.lower() in _FOLDS else pair
    return out


# Python's `\s`, widened to every byte of a non-ASCII character.
_HS_SPACE = rb"[\t-\r\x1c-\x20\x80-\xff]"
_HS_ASSIGNED = (
    b"(?:" + b"|".join(_caseless(w) for w in ("key", "secret", "token", "passwd", "password", "passphrase", "pwd"))
    + b"|" + _caseless("credential") + b"(?:" + _caseless("s") + b")?)" + rb"""["']?""" + _HS_SPACE + b"*[:=]"
)
HS_GATES: dict[str, bytes] = {
    "PRIVATE_KEY": rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY",
    "AWS_ACCESS_KEY_ID": rb"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{8}",
    "AWS_SECRET_ACCESS_KEY": (b"(?:" + _caseless("aws") + b"[ _-]?" + _caseless("secret") + b"|"
                              + _caseless("secret") + b"[ _-]?" + _caseless("access") + b")"),
    "GITHUB_TOKEN": rb"gh[pousr]_[A-Za-z0-9]{36}|github_pat_",
    "SLACK_TOKEN": rb"xox[baprse]-|xapp-",
    "SLACK_WEBHOOK": rb"https://hooks\.slack\.com/",
    "ANTHROPIC_API_KEY": rb"sk-ant-",
    "OPENAI_API_KEY": rb"sk-(?:proj-|svcacct-|admin-|[A-Za-z0-9]{32})",
    "STRIPE_SECRET_KEY": rb"[sr]k_live_",
    "STRIPE_TEST_KEY": rb"[sr]k_test_",
    "GOOGLE_API_KEY": rb"AIza[0-9A-Za-z_-]{8}",
    "GOOGLE_OAUTH_TOKEN": rb"ya29\.",
    "SENDGRID_API_KEY": rb"SG\.",
    "JWT": rb"eyJ",
    "CONNECTION_STRING_PASSWORD": rb"""://[^\t-\r\x1c-\x20:/@'"]*:""",
    "BEARER_TOKEN": _caseless("bearer") + _HS_SPACE + rb"+[A-Za-z0-9._~+/-]{20}",
    "PASSWORD": _HS_ASSIGNED,
    "GENERIC_SECRET": _HS_ASSIGNED,
}


def _starts(gate: re.Pattern[str], text: str) -> list[int]:
    """Every place in `text` where a match of `gate` starts (overlapping ones too)."""
    out = []
    found = gate.search(text)
    while found is not None:
        out.append(found.start())
        found = gate.search(text, found.start() + 1)
    return out


# `_ASSIGNED` without its operator, ending where the text is cut (see `_assignment_starts`).
_ASSIGNED_WORD = re.compile(r"""(?i)(?:key|secret|token|credentials?|passw(?:or)?d|passphrase|pwd)["']?\Z""")
_ASSIGNED_WORD_LONGEST = len("credentials'")
_OPERATOR = re.compile("[:=]")


def _assignment_starts(text: str) -> list[int]:
    """`_starts(_ASSIGNED, text)`, found from the operators rather than tried at every place.

    A match is a keyword, an optional quote, whitespace, then ":" or "=". From an operator, the
    whitespace before it is the run of spaces ending there (whatever precedes it is the quote or
    the keyword's last letter, neither a space; `str.isspace` is `re`'s `\\s`, a test checks),
    and the keyword and quote end where the run starts: at most one match has that operator
    (no keyword ends another keyword), found by `_ASSIGNED_WORD` with the text cut there.
    """
    out = set()
    for operator in _OPERATOR.finditer(text):
        end = operator.start()
        while end > 0 and text[end - 1].isspace():
            end -= 1
        word = _ASSIGNED_WORD.search(text, max(0, end - _ASSIGNED_WORD_LONGEST), end)
        if word is not None:
            out.add(word.start())
    return sorted(out)


def _gated_matches(rule: Rule, text: str, anchors: list[int]) -> Iterator[re.Match[str]]:
    """`rule.pattern.finditer(text)` for a rule with a `reach`, tried only at the places within
    `reach` characters before a start of its gate (`anchors`, `_starts(rule.gate, text)`).

    finditer yields the leftmost match from where the last one ended. A match starting at `s`
    holds a gate match starting in [s, s + reach], so the leftmost one from `pos` starts within
    `reach` before the first anchor from `pos` that has one: the places are tried in order
    there, then before the next anchor. On prose that mentions a "key" once that is a few
    `match` calls instead of the lazy name prefix tried at every word of the text. (`match` at
    a place sees the text before it, as finditer's search does, for lookbehinds.)
    """
    assert rule.reach is not None
    pattern, reach = rule.pattern, rule.reach
    pos = 0  # where the next match may start
    tried = 0  # every place from `pos` up to here was tried
    for a in anchors:
        if a < pos:
            continue
        for start in range(max(pos, tried, a - reach), a + 1):
            found = pattern.match(text, start)
            if found is not None:
                break
        else:
            tried = max(tried, a + 1)
            continue
        yield found
        # Never empty (an assignment holds an operator and a value); were it, move on a place.
        pos = tried = max(found.end(), start + 1)


def _contains_any(text: str, needles: tuple[str, ...]) -> bool:
    # A plain loop: `any()` over a generator costs more than the substring tests themselves.
    for needle in needles:
        if needle in text:
            return True
    return False


class SecretDetector:
    """Finds credentials in texts; `kinds` limits which rules run (default: all of `RULES`)."""

    def __init__(self, kinds: Iterable[str] | None = None) -> None:
        known = {rule.kind for rule in RULES}
        wanted = known if kinds is None else set(kinds)
        unknown = wanted - known
        if unknown:
            raise ValueError(f"unknown secret kinds {sorted(unknown)}; known: {sorted(known)}")
        self.kinds: tuple[str, ...] = tuple(sorted(wanted))
        self._rules = [(rule, *_NEEDLES[rule.kind]) for rule in RULES if rule.kind in wanted]
        # All fragments at once first: most texts hold none, and one pass over a flat tuple
        # costs far less than a test per rule.
        self._any_needle = tuple(sorted({n for _, needles, _ in self._rules for n in needles}))
        self._any_lower_needle = tuple(sorted({n for _, _, low in self._rules for n in low}))
        # One RE2 pattern for `prefilter.batch_gate`: what the rules' own patterns need.
        self.batch_pattern = "|".join(RE2_GATES[rule.kind] for rule, _, _ in self._rules)
        self._hyperscan = HyperscanGate([HS_GATES[rule.kind] for rule, _, _ in self._rules])

    def detect(self, text: str) -> list[Span]:
        """Secret spans in `text` (kind in `entity_type`), overlaps resolved, in text order."""
        lowered = text.lower() if self._any_lower_needle else ""
        if not _contains_any(text, self._any_needle) and not _contains_any(
            lowered, self._any_lower_needle
        ):
            return []
        spans: list[Span] = []
        anchors: dict[re.Pattern[str], list[int]] = {}  # `_starts` of each gate, found once
        for rule, needles, lower_needles in self._rules:
            if not any(n in text for n in needles) and not any(n in lowered for n in lower_needles):
                continue
            if rule.reach is not None and rule.gate is not None:
                starts = anchors.get(rule.gate)
                if starts is None:
                    starts = anchors[rule.gate] = (
                        _assignment_starts(text) if rule.gate is _ASSIGNED else _starts(rule.gate, text)
                    )
                if not starts:
                    continue
                matches: Iterable[re.Match[str]] = _gated_matches(rule, text, starts)
            elif rule.gate is not None and rule.gate.search(text) is None:
                continue
            else:
                matches = rule.pattern.finditer(text)
            for match in matches:
                if rule.check is not None and not rule.check(match):
                    continue
                start, end = rule.secret_span(match)
                spans.append(Span(rule.kind, start, end, rule.score))
        return resolve_overlaps(spans)

    def gate(self, texts: Sequence[str]) -> list[int] | None:
        """Indices of the `texts` `detect` may find a secret in, tested for all at once (None:
        any of them); the others hold none. With Hyperscan when it runs here, else RE2."""
        if self._hyperscan.runs():
            try:
                return self._hyperscan(texts)
            except HyperscanGate.Unanswered:
                pass
        return batch_gate(texts, self.batch_pattern)

    def detect_many(self, texts: Sequence[str]) -> list[list[Span]]:
        """`detect` for each text, in order."""
        return [self.detect(text) for text in texts]
