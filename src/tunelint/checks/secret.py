"""secret (P002): credentials in training examples — API keys, tokens, private keys, passwords."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import field_validator

from tunelint.checks._privacy import PrivacyCheck, validate_allow
from tunelint.checks.base import CheckOptions
from tunelint.models import Criterion, Severity
from tunelint.privacy import SECRET_RULES, SecretDetector, Span

# Built detectors by their kinds, shared by every check instance of a process (see pii.py).
_DETECTORS: dict[tuple[str, ...] | None, SecretDetector] = {}

KINDS = tuple(rule.kind for rule in SECRET_RULES)


def detector_for(kinds: tuple[str, ...] | None) -> SecretDetector:
    found = _DETECTORS.get(kinds)
    if found is None:
        found = _DETECTORS[kinds] = SecretDetector(kinds)
    return found


class Secret(PrivacyCheck):
    """Credentials — cloud and API keys, tokens, private keys, passwords — in any turn.

    What it does:
        Matches published credential shapes in every turn, tool-call argument and rejected
        completion: AWS access key IDs and secret keys, GitHub, Slack (tokens and webhooks),
        OpenAI, Anthropic, Stripe, Google (API keys and OAuth tokens) and SendGrid keys, JWTs,
        PEM private key blocks, bearer tokens, passwords in connection strings
        (`postgres://user:pass@host`) and `password = ...` / `api_key: ...` assignments whose
        value is not a placeholder (`<your-key>`, `${DB_PASSWORD}`, `changeme`) and carries
        enough entropy to be real. One finding per turn and kind of secret, an error wherever
        it is; the evidence shows the kind and at most the issuer prefix and last characters
        (`AKIA…3ZTM`, `sk-proj-…x9Qa`), never the secret unless `--show-pii`.

    Why it matters for a fine-tune:
        A key in training data is a leaked key: the training provider, everyone with the
        dataset and, once memorised, everyone who can prompt the model can read it. In an
        assistant turn it also teaches the model to write credentials into answers.

    Example:
        {"messages": [{"role": "user", "content": "Why does boto fail? I set aws_access_key_id = AKIAQ3EGRTMP7XK2ZD5N"}, {"role": "assistant", "content": "Check the region."}]}

    Use instead:
        {"messages": [{"role": "user", "content": "Why does boto fail? I set aws_access_key_id = <AWS_ACCESS_KEY_ID>"}, {"role": "assistant", "content": "Check the region."}]}
        Rotate the key first (it has leaked already), then `tunelint redact TRAIN -o OUT`.
        Documentation keys that are fine to keep go in `allow`.

    Options:
        kinds: secret kinds to report (default: all of AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
            GITHUB_TOKEN, SLACK_TOKEN, SLACK_WEBHOOK, ANTHROPIC_API_KEY, OPENAI_API_KEY,
            STRIPE_SECRET_KEY, STRIPE_TEST_KEY, GOOGLE_API_KEY, GOOGLE_OAUTH_TOKEN,
            SENDGRID_API_KEY, JWT, PRIVATE_KEY, CONNECTION_STRING_PASSWORD, BEARER_TOKEN,
            PASSWORD, GENERIC_SECRET).
        allow: values never reported: exact strings (case ignored) or "re:<regex>" matching the
            whole value, e.g. ["re:AKIA[A-Z0-9]{4}EXAMPLE"].
    """

    code = "P002"
    name = "secret"
    criterion = Criterion.PRIVACY_REVIEWED
    severity = Severity.ERROR
    summary = "API keys, tokens, private keys, passwords in connection strings"

    NOUNS = {
        "AWS_ACCESS_KEY_ID": ("an AWS access key ID", "AWS access key IDs"),
        "AWS_SECRET_ACCESS_KEY": ("an AWS secret access key", "AWS secret access keys"),
        "GITHUB_TOKEN": ("a GitHub token", "GitHub tokens"),
        "SLACK_TOKEN": ("a Slack token", "Slack tokens"),
        "SLACK_WEBHOOK": ("a Slack webhook URL", "Slack webhook URLs"),
        "ANTHROPIC_API_KEY": ("an Anthropic API key", "Anthropic API keys"),
        "OPENAI_API_KEY": ("an OpenAI API key", "OpenAI API keys"),
        "STRIPE_SECRET_KEY": ("a Stripe secret key", "Stripe secret keys"),
        "STRIPE_TEST_KEY": ("a Stripe test key", "Stripe test keys"),
        "GOOGLE_API_KEY": ("a Google API key", "Google API keys"),
        "GOOGLE_OAUTH_TOKEN": ("a Google OAuth token", "Google OAuth tokens"),
        "SENDGRID_API_KEY": ("a SendGrid API key", "SendGrid API keys"),
        "JWT": ("a JSON Web Token", "JSON Web Tokens"),
        "PRIVATE_KEY": ("a private key block", "private key blocks"),
        "CONNECTION_STRING_PASSWORD": ("a password in a connection string", "passwords in connection strings"),
        "BEARER_TOKEN": ("a bearer token", "bearer tokens"),
        "PASSWORD": ("a password", "passwords"),
        "GENERIC_SECRET": ("an assigned secret or token", "assigned secrets or tokens"),
    }

    class Options(CheckOptions):
        kinds: tuple[str, ...] | None = None
        allow: tuple[str, ...] = ()

        @field_validator("kinds")
        @classmethod
        def _known(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
            if v is not None:
                unknown = sorted(set(v) - set(KINDS))
                if unknown:
                    raise ValueError(f"unknown secret kinds {unknown}; known: {', '.join(sorted(KINDS))}")
                v = tuple(sorted(set(v)))
            return v

        @field_validator("allow")
        @classmethod
        def _allow(cls, v: tuple[str, ...]) -> tuple[str, ...]:
            return validate_allow(v)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = {"kinds": list(detector_for(self.options.kinds).kinds)}

    def gate(self, texts: Sequence[str]) -> list[int] | None:
        return detector_for(self.options.kinds).gate(texts)

    def detect(self, texts: Sequence[str]) -> list[list[Span]]:
        return detector_for(self.options.kinds).detect_many(texts)


CHECKS = [Secret]
