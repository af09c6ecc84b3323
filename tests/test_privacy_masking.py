"""No output format ever contains a planted PII value or secret, whatever check quotes the text.

A dataset plants one value of every PII type and every secret kind in user, assistant and system
turns, in shapes that make other checks quote text too (duplicates, conflicting outputs, test
leakage, a system prompt that differs from the deployed one, degenerate repetition). Every
registered reporter renders the run with and without example excerpts; the raw values must not
appear anywhere. With `show_pii` the JSON report carries them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tunelint import Settings, lint
from tunelint.reporters.html import HtmlReporter
from tunelint.registry import load_reporters

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI5ODc2NTQzMjEwIn0."
       "Qm8fK2zX7pLw4NbT9vYc3HsJ6dGa1Ue5RoI8kLm2Qm8")
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAvR4nD0mK3yB64x9Qz2Lm8Kp7Wd3Ys1Bc6Fh5Jg4Nt0Vx2Ru9\n"
       "q3Wz8Lm5Kp2Yd7Xc4Vb1Nn6Mm0Qa9Sd8Fg3Hj2Kl5Zx7Cv4Bn1Mq6Wr9Et0Yu3Io\n-----END RSA PRIVATE KEY-----")

# (entity type, sentence carrying it, the raw value that must never be shown)
PLANTED = [
    ("EMAIL_ADDRESS", "write to maria.gonzalez@outlook.com", "maria.gonzalez@outlook.com"),
    ("PHONE_NUMBER", "call +1 646-555-0178", "646-555-0178"),
    ("CREDIT_CARD", "card 4111 1111 1111 1111", "4111 1111 1111 1111"),
    ("IBAN_CODE", "IBAN GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32"),
    ("US_SSN", "SSN 536-22-8726", "536-22-8726"),
    ("IP_ADDRESS", "host 203.0.113.77", "203.0.113.77"),
    ("IP_ADDRESS", "host 2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334"),
    ("CRYPTO", "wallet 1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
    ("AWS_ACCESS_KEY_ID", "aws key AKIAZT4HW2QX9MPL6BVC", "AKIAZT4HW2QX9MPL6BVC"),
    ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key = Zx9/Qm2+Lk8vTy4bNw6RcPa1Hd3sGf5JeKu7Io0X",
     "Zx9/Qm2+Lk8vTy4bNw6RcPa1Hd3sGf5JeKu7Io0X"),
    ("GITHUB_TOKEN", "token ghp_R8fKq2ZmX7pLw4NbT9vYc3HsJ6dGa1Ue5QoI", "ghp_R8fKq2ZmX7pLw4NbT9vYc3HsJ6dGa1Ue5QoI"),
    ("SLACK_TOKEN", "bot xoxb-2048151627-4096303254-Rk8fQ2zMx7PLw4Nb", "xoxb-2048151627-4096303254-Rk8fQ2zMx7PLw4Nb"),
    ("SLACK_WEBHOOK", "hook https://hooks.slack.com/services/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",
     "hooks.slack.com/services/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"),
    ("OPENAI_API_KEY", "key sk-proj-Qm8fK2zX7pLw4NbT9vYc3HsJ6dGa1Ue5", "sk-proj-Qm8fK2zX7pLw4NbT9vYc3HsJ6dGa1Ue5"),
    ("ANTHROPIC_API_KEY", "key sk-ant-api03-Qm8fK2zX7pLw4NbT9vYc3HsJ6dGa1Ue5RoI8kLm2Qm8fK2zX7pLw-AA",
     "sk-ant-api03-Qm8fK2zX7pLw4NbT9vYc3HsJ6dGa1Ue5RoI8kLm2Qm8fK2zX7pLw-AA"),
    ("STRIPE_SECRET_KEY", "stripe sk_live_51Hq8fK2zX7pLw4NbT9vYc3Hs", "sk_live_51Hq8fK2zX7pLw4NbT9vYc3Hs"),
    ("GOOGLE_API_KEY", "maps AIzaSyQm8fK2zX7pLw4NbT9vYc3HsJ6dGa1Ue5R", "AIzaSyQm8fK2zX7pLw4NbT9vYc3HsJ6dGa1Ue5R"),
    ("JWT", f"Authorization: Bearer {JWT}", JWT),
    ("PRIVATE_KEY", PEM, "MIIEowIBAAKCAQEAvR4nD0mK3yB64x9Qz2Lm8Kp7Wd3Ys1Bc6Fh5Jg4Nt0Vx2Ru9"),
    ("CONNECTION_STRING_PASSWORD", "DATABASE_URL=postgres://admin:s3cr3tP4ssw0rd@db.internal:5432/app", "s3cr3tP4ssw0rd"),
    ("PASSWORD", 'password = "Tr0ub4dor&3x"', "Tr0ub4dor&3x"),
    ("GENERIC_SECRET", 'SECRET_KEY = "django-insecure-8x#k2!p@q9z$w"', "django-insecure-8x#k2!p@q9z$w"),
]
SYSTEM = "You are the Tessera support assistant. Escalations: " + "; ".join(s for _, s, _ in PLANTED[:3])


def _variants(value: str) -> set[str]:
    """The value as written, and as a digits-only run (a card or phone number re-spaced)."""
    out = {value}
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 9 and not re.search(r"[A-Za-z]", value):
        out.add(digits)
    return out


RAW = sorted({v for _, _, value in PLANTED for v in _variants(value)})


def _chat(system: str, user: str, assistant: str) -> dict:
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user},
                         {"role": "assistant", "content": assistant}]}


def _records() -> tuple[list[dict], list[dict]]:
    train = []
    for i, (_, sentence, _) in enumerate(PLANTED):
        train.append(_chat(SYSTEM, f"Ticket {i}: please help, {sentence}.", f"Noted: {sentence}. We will follow up."))
    # An exact copy, and the same input with a different answer (conflicting outputs).
    train.append(train[0])
    train.append(_chat(SYSTEM, "Ticket 0: please help, " + PLANTED[0][1] + ".", "Closed: " + PLANTED[8][1]))
    # Other system prompts carrying values (system-prompt variants, deployment mismatch).
    for _, sentence, _ in PLANTED[3:12]:
        train.append(_chat(f"You are a bank assistant; {sentence}.", "Hi", "Hello, how can I help?"))
    # The assistant repeating a value (degenerate repetition quotes the repeated phrase).
    train.append(_chat(SYSTEM, "Repeat it", " ".join([PLANTED[0][2]] * 30)))
    train.append(_chat(SYSTEM, "Key?", " ".join([PLANTED[8][2]] * 30)))
    test = [train[1], train[5], _chat(SYSTEM, train[7]["messages"][1]["content"] + " again", "Noted.")]
    return train, test


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, Path, Settings]:
    folder = tmp_path_factory.mktemp("planted")
    train, test = _records()
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train), encoding="utf-8")
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test), encoding="utf-8")
    settings = Settings(
        fail_on="never",
        deployment={"system_prompt": "You are the Tessera support assistant. " + PLANTED[9][1],
                    "_base_dir": str(folder)},
        jobs=1,
    )
    return folder / "train.jsonl", folder / "test.jsonl", settings


@pytest.fixture(scope="module")
def reports(planted):
    train, test, settings = planted
    return {
        "plain": lint(train, test=test, settings=settings),
        "excerpts": lint(train, test=test, settings=settings, excerpts=HtmlReporter.excerpts),
    }


def test_every_planted_value_is_found(reports):
    found = {f.evidence.get("entity_type") for f in reports["plain"].findings if f.check in ("pii", "secret")}
    assert {entity for entity, _, _ in PLANTED} <= found


def test_the_dataset_makes_other_checks_quote_text(reports):
    checks = {f.check for f in reports["excerpts"].findings}
    assert {"exact-duplicate", "conflicting-outputs", "test-leakage", "system-prompt-variants",
            "deployment-mismatch", "degenerate-repetition"} <= checks
    assert reports["excerpts"].excerpts


@pytest.mark.parametrize("fmt", sorted(load_reporters()))
@pytest.mark.parametrize("run", ["plain", "excerpts"])
def test_no_format_shows_a_raw_value(reports, fmt, run):
    rendered = load_reporters()[fmt]().render(reports[run])
    leaked = [value for value in RAW if value in rendered]
    assert not leaked, f"{fmt} ({run}) shows {leaked}"


def test_show_pii_reveals_values_in_json(planted):
    train, test, settings = planted
    report = lint(train, test=test, settings=settings.replace(show_pii=True))
    rendered = load_reporters()["json"]().render(report)
    for value in ("maria.gonzalez@outlook.com", "AKIAZT4HW2QX9MPL6BVC", "536-22-8726", "s3cr3tP4ssw0rd"):
        assert value in rendered
    values = [v["value"] for f in report.findings if f.check == "pii" for v in f.evidence["values"]]
    assert "4111 1111 1111 1111" in values
    # Other checks' quotes stay as the data has them: the masking above is what hid them.
    repeated = [f.message for f in report.findings if f.check == "degenerate-repetition"]
    assert any("maria.gonzalez@outlook.com" in m for m in repeated)


def test_cli_show_pii_flag(planted):
    from click.testing import CliRunner

    from tunelint.cli import main

    train, _, _ = planted
    args = ["check", str(train), "--select", "pii,secret", "--format", "json", "--exit-zero"]
    hidden = CliRunner().invoke(main, args)
    shown = CliRunner().invoke(main, [*args, "--show-pii"])
    assert hidden.exit_code == shown.exit_code == 0
    assert "maria.gonzalez@outlook.com" not in hidden.output and "AKIAZT4HW2QX9MPL6BVC" not in hidden.output
    assert "maria.gonzalez@outlook.com" in shown.output and "AKIAZT4HW2QX9MPL6BVC" in shown.output
