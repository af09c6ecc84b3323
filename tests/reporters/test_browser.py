"""The HTML report in a real headless Chromium: it renders, logs no console error or CSP
violation, runs no script, and a screenshot is written for people to look at.

Chromium comes from Debian (`.ci/browser-setup.sh`); without it the test skips and says so.
Screenshots go to $TUNELINT_ARTIFACTS (default: tests' tmp dir).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tunelint.reporters.html import HtmlReporter

from .test_inert import hostile_report  # noqa: F401  (fixture)

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="headless Chromium not installed: run .ci/browser-setup.sh (apt-get install chromium)"
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-extensions", "--disable-background-networking", "--enable-logging=stderr", "--v=0"]
# Lines Chromium logs when a page misbehaves: console messages, uncaught errors, CSP refusals.
BAD = re.compile(r"CONSOLE\(|Uncaught|Refused to|Content Security Policy|ERR_|net::")


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TUNELINT_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _chromium(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(cwd)}  # a private profile, never the user's
    return subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={cwd / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def _page_problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if BAD.search(line) and "dbus" not in line.lower()]


@pytest.mark.parametrize("which", ["golden", "hostile"])
def test_html_in_headless_chromium(which, golden_report, hostile_report, tmp_path):  # noqa: F811
    report = golden_report if which == "golden" else hostile_report
    page = tmp_path / f"{which}.html"
    page.write_text(HtmlReporter().render(report), encoding="utf-8")
    url = page.resolve().as_uri()

    dom = _chromium(["--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<h2>Scorecard</h2>" in dom.stdout and "Length distribution" in dom.stdout
    assert "<script" not in dom.stdout.lower()
    assert "&lt;script&gt;" in dom.stdout or which == "golden"
    assert not _page_problems(dom.stderr), _page_problems(dom.stderr)

    shot = _artifacts(tmp_path) / f"report-{which}.png"
    run = _chromium([f"--screenshot={shot}", "--window-size=1280,2200", url], tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not _page_problems(run.stderr), _page_problems(run.stderr)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank image
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
