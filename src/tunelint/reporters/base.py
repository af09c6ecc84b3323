"""What a reporter is, and the helpers that make untrusted dataset text safe to show."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import ClassVar

from tunelint.engine import Report

# C0/C1 control characters other than tab and newline: ANSI escapes, terminal title sequences,
# backspace tricks. Shown as visible escapes, never passed to the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def neutralise(text: str, keep_newlines: bool = False) -> str:
    """Make untrusted text inert in a terminal: control and bidi characters become escapes."""
    out = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)
    if not keep_newlines:
        out = out.replace("\n", "\\n")
    return out


class Reporter:
    """Renders a finished Report; one module per output format, registered by entry point."""

    name: ClassVar[str]
    extension: ClassVar[str] = ".txt"

    def render(self, report: Report) -> str:
        """The whole output as text."""
        raise TypeError(f"{type(self).__name__} does not implement render()")


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write via a temp file in the same folder and rename, so no half-written report is left."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
