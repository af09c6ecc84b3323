"""Writes docs/checks/<name>.md for every registered check, from the check's own docstring.

Run `python docs/generate.py` after adding or changing a check; a test fails while the pages
are out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).parent / "checks"


def render_page(cls) -> str:
    doc = cls.doc()
    title, _, body = doc.partition("\n")
    lines = [f"# {cls.code} {cls.name}", "", f"**Criterion:** {cls.criterion.value} · **Default severity:** {cls.severity.value}"]
    if cls.preview:
        lines.append("· **Preview**")
    lines += ["", title.strip(), ""]
    for block in _sections(body):
        heading, text = block
        lines.append(f"## {heading}")
        lines.append("")
        if heading in ("Example", "Use instead") and text.lstrip().startswith("{"):
            lines += ["```json", text, "```"]
        else:
            lines.append(text)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _sections(body: str) -> list[tuple[str, str]]:
    out: list[tuple[str, list[str]]] = []
    for raw in body.splitlines():
        line = raw.strip()
        if line.endswith(":") and line[:-1] in ("What it does", "Why it matters for a fine-tune", "Example", "Use instead", "Options"):
            out.append((line[:-1], []))
        elif out:
            out[-1][1].append(raw[8:] if raw.startswith(" " * 8) else raw.strip())
    return [(h, "\n".join(t).strip()) for h, t in out]


def render_index(registry) -> str:
    lines = ["# Checks", "", "| code | name | criterion | detects |", "|---|---|---|---|"]
    for cls in registry.checks.values():
        lines.append(f"| {cls.code} | [{cls.name}]({cls.name}.md) | {cls.criterion.value} | {cls.summary} |")
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    from tunelint.registry import load_checks

    registry = load_checks()
    out = {f"{cls.name}.md": render_page(cls) for cls in registry.checks.values()}
    out["index.md"] = render_index(registry)
    return out


def main() -> int:
    DOCS.mkdir(exist_ok=True)
    wanted = pages()
    for old in DOCS.glob("*.md"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        (DOCS / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(wanted)} pages to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
