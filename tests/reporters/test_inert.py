"""Untrusted dataset text — in records, labels, messages and even the file name — renders inert
in every output format: no markup, script, handler, terminal escape, workflow command or mention
survives as anything but text."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from tunelint import Settings, lint
from tunelint.registry import load_reporters
from tunelint.reporters.html import HtmlReporter

from .conftest import DATA

HOSTILE = (
    "<script>alert('x')</script> <img src=x onerror=alert(1)> <a href=\"javascript:alert(2)\">hi</a> "
    "\" onmouseover=\"alert(3)\" ' onfocus='alert(4)' "
    "\x1b[31mRED\x1b[0m \x1b]0;owned\x07 \x1b[2J "
    "[bold red]rich[/bold red] [link=https://evil.example]click[/link] "
    "**md** [x](https://evil.example) @octocat #1 | a | b | "
    "\n::error file=x::injected\r\n::set-env name=A::1 %0A ]]> & \u202eevil"
)
# A file name that is itself hostile (legal on POSIX): markup, quotes and an escape sequence.
FILE_NAME = "data<script>alert(9)<!--\"onload=x\x1b[31m.jsonl"


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / FILE_NAME
    rows = [
        {"messages": [{"role": "user", "content": HOSTILE}, {"role": "assistant", "content": HOSTILE[:60]}]},
        {"messages": [{"role": "user", "content": HOSTILE}, {"role": "assistant", "content": HOSTILE[:60]}]},
        {"messages": [{"role": "user", "content": HOSTILE}, {"role": "assistant", "content": "  "}]},
        {"messages": [{"role": "user", "content": "fine"}, {"role": "assistant", "content": "\x1b[31mRED\x1b[0m [b]x[/b] <img src=x onerror=alert(1)>"}]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n" + HOSTILE.replace("\n", " ") + "\n", encoding="utf-8")
    settings = Settings(plugins=(str(DATA.parent / "fixture_checks.py"),), base_dir=folder)
    report = lint(str(path), settings=settings, excerpts=HtmlReporter.excerpts)
    # The fixture checks echo dataset text into messages and evidence, as real checks do.
    assert any("<script>" in f.message for f in report.findings)
    assert any("\x1b" in str(v) for f in report.findings for v in f.evidence.values())
    return report


def _render(report, fmt: str) -> str:
    cls = load_reporters()[fmt]
    return cls.create(color=True).render(report) if fmt == "text" else cls.create().render(report)


def _no_raw_escapes(out: str, allow_sgr: bool = False) -> None:
    found = re.findall(r"\x1b\[[0-9;]*m", out)
    rest = re.sub(r"\x1b\[[0-9;]*m", "", out) if allow_sgr else out
    assert "\x1b" not in rest, "raw escape sequence in output"
    assert "\x07" not in out and "\u202e" not in out
    if allow_sgr:
        # The only colour codes are the reporter's own; the dataset's red "RED" stays literal.
        assert "\x1b[31mRED" not in out and found


def test_text_is_inert(hostile_report):
    out = _render(hostile_report, "text")
    _no_raw_escapes(out, allow_sgr=True)
    assert "[bold red]rich[/bold red]" in out  # rich markup shown, not interpreted
    assert "\\x1b[31mRED" in out


def test_json_is_inert(hostile_report):
    out = _render(hostile_report, "json")
    # JSON is data: strings are kept exactly (bidi marks included) and control characters escaped.
    assert not re.search(r"[\x00-\x09\x0b-\x1f]", out)
    data = json.loads(out)
    assert any("\x1b[31mRED" in f["message"] for f in data["findings"])
    # Text survives as data: exact round trip of the hostile message.
    assert any("<script>" in f["message"] for f in data["findings"])


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_inert(hostile_report):
    out = _render(hostile_report, "html")
    _no_raw_escapes(out)
    p = _Collect()
    p.feed(out)
    assert "script" not in p.tags and "img" not in p.tags and "iframe" not in p.tags
    assert not [a for a, _ in p.attrs if a.lower().startswith("on")], "event handler attribute"
    hrefs = [v for a, v in p.attrs if a == "href"]
    assert hrefs and all(v.startswith("#") for v in hrefs), hrefs
    text = "".join(p.text)
    assert "<script>alert('x')</script>" in text  # shown as text
    assert "Content-Security-Policy" in out and "default-src 'none'" in out


def test_markdown_is_inert(hostile_report):
    out = _render(hostile_report, "markdown")
    _no_raw_escapes(out)
    assert "<script" not in out and "<img" not in out and "<a " not in out
    assert "@octocat" not in out and "](https" not in out and "https://evil" not in out
    assert "**md**" not in out and "[x]" not in out
    # `|` in the data cannot add table columns.
    assert "| a | b |" not in out and "&#124; a &#124; b &#124;" in out


def test_github_is_inert(hostile_report):
    out = _render(hostile_report, "github")
    _no_raw_escapes(out)
    lines = out.splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert len(commands) == len(hostile_report.findings) + len(hostile_report.scorecard.gate_reasons)
    assert len(lines) == len(commands) + 1  # plus the summary line: no injected line
    for line in commands:
        head, _, message = line[2:].partition("::")
        assert "\n" not in message and "\r" not in message
        assert not message.startswith(":")
        props = head.split(" ", 1)[1] if " " in head else ""
        for prop in props.split(","):
            key, _, value = prop.partition("=")
            assert key in ("file", "line", "title") and ":" not in value and "," not in value
    assert "%0A::error file%3Dx" not in out  # not decodable into a second command line in a property
    assert "%250A" in out  # the literal "%0A" in the data is escaped, not decoded by the runner


def test_sarif_is_inert(hostile_report):
    out = _render(hostile_report, "sarif")
    _no_raw_escapes(out)
    doc = json.loads(out)

    def strings(v):
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            for k, x in v.items():
                yield k
                yield from strings(x)
        elif isinstance(v, list):
            for x in v:
                yield from strings(x)

    assert all("\x1b" not in s and "\u202e" not in s for s in strings(doc))
    uris = [loc["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"] for loc in r["locations"]]
    assert all(re.fullmatch(r"[A-Za-z0-9%/._~-]+", u) for u in uris), uris


def test_junit_is_inert(hostile_report):
    out = _render(hostile_report, "junit")
    _no_raw_escapes(out)
    root = ET.fromstring(out.encode("utf-8"))
    assert root.tag == "testsuites"
    texts = [e.text or "" for e in root.iter()] + [v for e in root.iter() for v in e.attrib.values()]
    assert any("<script>" in t for t in texts)  # escaped by the XML writer, read back as text
    assert not any("\x1b" in t for t in texts)
