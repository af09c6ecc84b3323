"""HTML report: one self-contained file (inline CSS and SVG, no script, no network) with the
scorecard, charts and the examples behind each finding.

Every piece of dataset text is HTML-escaped, and a Content-Security-Policy forbids scripts and
remote loads, so a dataset holding `<script>` or event-handler attributes renders as text.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from html import escape
from typing import Any, Mapping

from tunelint import __version__
from tunelint.engine import EXCERPTS_PER_CHECK, RELATED_PER_FINDING, Report
from tunelint.lengths import EDGES
from tunelint.models import Criterion, Excerpt, Finding, Location, Severity
from tunelint.reporters.base import Reporter, by_check, doc_sections, neutralise, plural, where, worst

SEV_COLOR = {Severity.ERROR: "#cf222e", Severity.WARNING: "#bf8700", Severity.INFO: "#0969da"}
STATUS_COLOR = {"pass": "#1a7f37", "warn": "#bf8700", "fail": "#cf222e", "not-assessed": "#6e7781"}
SPLIT_COLOR = {"train": "#0969da", "test": "#8250df", "reference": "#1a7f37"}
MAX_ROWS_PER_CHECK = 300


def esc(text: Any) -> str:
    """Untrusted text as inert HTML: control characters made visible, markup escaped."""
    return escape(neutralise(str(text), keep_newlines=True), quote=True)


def _fmt(n: float) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g}M"
    if n >= 1000:
        return f"{n / 1000:.0f}k" if n >= 10_000 else f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n:g}"


CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0}
h2{font-size:18px;margin:32px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0 0 6px}
.top{display:flex;align-items:center;gap:14px;flex-wrap:wrap}
.pill{display:inline-block;padding:2px 10px;border-radius:999px;color:#fff;font-weight:600;font-size:12px;letter-spacing:.02em}
.verdict{font-size:14px;padding:4px 14px}
.meta{color:var(--muted);margin:6px 0 0}
.reasons{margin:12px 0 0;padding:10px 14px;border:1px solid #ffcecb;background:#ffebe9;border-radius:8px}
.reasons li{margin:2px 0}
table{border-collapse:collapse;width:100%;background:var(--card)}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;background:var(--bg)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.box{background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;border-top:4px solid var(--c)}
.card .head{display:flex;justify-content:space-between;align-items:center;gap:8px}
.score{font-size:28px;font-weight:700;font-variant-numeric:tabular-nums;color:var(--c)}
.score small{font-size:13px;color:var(--muted);font-weight:500}
.bar{height:6px;background:#eaeef2;border-radius:3px;margin:6px 0 8px;overflow:hidden}
.bar span{display:block;height:100%;background:var(--c)}
.summary{color:var(--fg);margin:4px 0}
.card.na{background:#fbfcfd;border-top-width:1px}
.card.na .summary{color:var(--muted);font-size:13px}
.advice{color:var(--muted);font-style:italic;margin:6px 0}
.tops{margin:6px 0 0;padding-left:18px;color:var(--muted);font-size:13px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:14px}
.chart{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.chart p{margin:4px 0 8px;color:var(--muted);font-size:13px}
svg{display:block;max-width:100%;height:auto}
svg text{font:11px -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;fill:#59636e}
svg .lbl{fill:#1f2328}
.legend{display:flex;gap:14px;font-size:12px;color:var(--muted);margin-top:6px;flex-wrap:wrap}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
details.check{background:var(--card);border:1px solid var(--line);border-radius:10px;margin:0 0 10px}
details.check>summary{cursor:pointer;padding:10px 14px;display:flex;gap:10px;align-items:center;list-style:none}
details.check>summary::-webkit-details-marker{display:none}
details.check>summary::before{content:"▸";color:var(--muted)}
details.check[open]>summary::before{content:"▾"}
details.check>summary code{font-weight:700}
.count{margin-left:auto;color:var(--muted)}
.why{padding:0 16px 8px;color:var(--muted);font-size:13px}
.finding td{border-bottom:none}
.finding+tr.examples td{padding-top:0}
tr.sep td{border-bottom:1px solid var(--line);padding:0}
code,pre{font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.loc{white-space:nowrap}
.chart .loc,.tops a{white-space:normal;word-break:break-all}
.ptr{color:var(--muted)}
.ex{border:1px solid var(--line);border-radius:8px;margin:4px 0 10px;overflow:hidden}
.ex .exhead{background:var(--bg);padding:4px 10px;font-size:12px;color:var(--muted);border-bottom:1px solid var(--line)}
.turn{display:grid;grid-template-columns:86px 1fr;border-top:1px solid #eef1f4}
.turn:first-of-type{border-top:none}
.role{padding:6px 10px;font-size:11px;font-weight:700;text-transform:uppercase;color:var(--muted);background:#fbfcfd}
.role.assistant{color:#1a7f37}.role.user{color:#0969da}.role.system{color:#8250df}
.turn pre{margin:0;padding:6px 10px;white-space:pre-wrap;word-break:break-word;max-height:260px;overflow:auto}
.empty{color:#cf222e;font-style:italic}
.note{color:var(--muted);font-size:13px}
footer{margin-top:36px;color:var(--muted);font-size:12px}
"""


class HtmlReporter(Reporter):
    name = "html"
    extension = ".html"
    excerpts = 400

    def __init__(self, max_rows_per_check: int = MAX_ROWS_PER_CHECK) -> None:
        self.max_rows = max_rows_per_check

    def render(self, report: Report) -> str:
        parts = [
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
            # No script may run and nothing may load from anywhere: the file works offline and a
            # dataset that smuggles markup past escaping still cannot act.
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            f"<title>tunelint report — {'passed' if report.passed else 'failed'}</title>",
            f"<style>{CSS}</style></head><body><main>",
            self._header(report),
            self._scorecard(report),
            self._charts(report),
            self._findings(report),
            self._baseline(report),
            f"<footer>tunelint {esc(__version__)} · {plural(len(report.checks), 'check')} ran · "
            "dataset text is shown escaped, with PII masked unless --show-pii</footer>",
            "</main></body></html>\n",
        ]
        return "".join(parts)

    # -- header -------------------------------------------------------------------------------
    def _header(self, report: Report) -> str:
        sev = report.stats.get("findings_by_severity", {})
        color = STATUS_COLOR["pass" if report.passed else "fail"]
        out = [
            "<div class=\"top\"><h1>tunelint report</h1>",
            f"<span class=\"pill verdict\" style=\"background:{color}\">{'PASSED' if report.passed else 'FAILED'}</span></div>",
            f"<p class=\"meta\">{report.stats.get('examples', 0):,} examples · {plural(len(report.findings), 'finding')} "
            f"({sev.get('error', 0):,} errors, {sev.get('warning', 0):,} warnings, {sev.get('info', 0):,} info) · "
            f"gate: fail on {esc(report.scorecard.fail_on)}"
            + (f" · {len(report.suppressed):,} suppressed" if report.suppressed else "") + "</p>",
        ]
        if report.scorecard.gate_reasons:
            out.append("<ul class=\"reasons\">" + "".join(f"<li>{esc(r)}</li>" for r in report.scorecard.gate_reasons) + "</ul>")
        if report.datasets:
            out.append("<h2>Datasets</h2><div class=\"box\"><table><tr><th>split</th><th>file</th><th>format</th>"
                       "<th class=\"num\">examples</th><th class=\"num\">rejected</th></tr>")
            for d in report.datasets:
                out.append(f"<tr><td>{esc(d.split)}</td><td><code>{esc(d.path)}</code></td><td>{esc(d.format)}</td>"
                           f"<td class=\"num\">{d.examples:,}</td><td class=\"num\">{d.rejected:,}</td></tr>")
            out.append("</table></div>")
        return "".join(out)

    # -- scorecard ----------------------------------------------------------------------------
    def _scorecard(self, report: Report) -> str:
        first: dict[str, Finding] = {}
        for f in sorted(report.findings, key=lambda f: (-f.severity.rank, f.sort_key())):
            first.setdefault(f.message, f)
        out = ["<h2>Scorecard</h2><div class=\"grid\">"]
        for row in report.scorecard.criteria:
            c = STATUS_COLOR[row.status]
            score = "–" if row.score is None else str(row.score)
            muted = " na" if row.status == "not-assessed" else ""
            out.append(f"<div class=\"card{muted}\" style=\"--c:{c}\"><div class=\"head\"><h3>{esc(row.criterion.value)}</h3>"
                       f"<span class=\"pill\" style=\"background:{c}\">{esc(row.status)}</span></div>")
            if row.score is not None:
                out.append(f"<div class=\"score\">{score}<small> / 100</small></div>")
                out.append(f"<div class=\"bar\"><span style=\"width:{row.score}%\"></span></div>")
            out.append(f"<p class=\"summary\">{esc(row.summary)}</p>")
            if row.status in ("warn", "fail"):
                out.append(f"<p class=\"advice\">{esc(row.advice)}</p>")
            if row.top_findings:
                items = []
                for message in row.top_findings:
                    f = first.get(message)
                    short = message if len(message) <= 140 else message[:139] + "…"
                    link = f"<a href=\"#f-{esc(f.fingerprint)}\">{esc(short)}</a>" if f else esc(short)
                    items.append(f"<li>{link}</li>")
                out.append("<ul class=\"tops\">" + "".join(items) + "</ul>")
            out.append("</div>")
        out.append("</div>")
        return "".join(out)

    # -- charts -------------------------------------------------------------------------------
    def _charts(self, report: Report) -> str:
        charts = [self._by_criterion(report), self._lengths(report), self._labels(report), self._clusters(report)]
        return "<h2>Charts</h2><div class=\"charts\">" + "".join(c for c in charts if c) + "</div>"

    def _by_criterion(self, report: Report) -> str:
        counts: dict[str, Counter] = defaultdict(Counter)
        for f in report.findings:
            counts[f.criterion.value][f.severity] += 1
        rows = [(row.criterion.value, row.status, counts.get(row.criterion.value, Counter())) for row in report.scorecard.criteria]
        top = max([sum(c.values()) for _, _, c in rows] + [1])
        width, left, bar_h, gap = 520, 150, 18, 8
        height = len(rows) * (bar_h + gap) + 10
        svg = [f"<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" role=\"img\" aria-label=\"findings by criterion\">"]
        for i, (name, status, c) in enumerate(rows):
            y = 5 + i * (bar_h + gap)
            svg.append(f"<text class=\"lbl\" x=\"{left - 8}\" y=\"{y + 13}\" text-anchor=\"end\">{esc(name)}</text>")
            if status == "not-assessed":
                svg.append(f"<text x=\"{left}\" y=\"{y + 13}\" font-style=\"italic\">not assessed</text>")
                continue
            x = float(left)
            scale = (width - left - 60) / top
            for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO):
                w = c[sev] * scale
                if w > 0:
                    svg.append(f"<rect x=\"{x:.1f}\" y=\"{y}\" width=\"{max(w, 2):.1f}\" height=\"{bar_h}\" rx=\"2\" fill=\"{SEV_COLOR[sev]}\"><title>{c[sev]:,} {sev.value}</title></rect>")
                    x += max(w, 2)
            total = sum(c.values())
            svg.append(f"<text x=\"{x + 6:.1f}\" y=\"{y + 13}\">{total:,}</text>")
        svg.append("</svg>")
        legend = "".join(f"<span><i style=\"background:{SEV_COLOR[s]}\"></i>{s.value}</span>" for s in Severity)
        return ("<div class=\"chart\"><h3>Findings by criterion</h3><p>How many findings each criterion has, by severity.</p>"
                + "".join(svg) + f"<div class=\"legend\">{legend}</div></div>")

    def _context_chars(self, report: Report) -> tuple[float, str] | None:
        for row in report.scorecard.criteria:
            m = row.metrics.get("exceeds-context")
            if isinstance(m, Mapping) and m.get("max_tokens"):
                cpt = float(m.get("chars_per_token") or 4.0)
                return m["max_tokens"] * cpt, f"context {m['max_tokens']:,} tokens ≈ {_fmt(m['max_tokens'] * cpt)} chars"
        return None

    def _lengths(self, report: Report) -> str:
        hists: Mapping[str, Any] = report.stats.get("length_histogram", {})
        if not hists:
            return ""
        limit = self._context_chars(report)
        blocks = []
        for split, h in hists.items():
            counts = h["counts"]
            nz = [i for i, n in enumerate(counts) if n]
            if not nz:
                continue
            lo, hi = nz[0], nz[-1]
            if limit is not None:
                li = bisect_right(EDGES, limit[0] - 1)
                lo, hi = min(lo, li), max(hi, min(li, len(EDGES)))
            lo, hi = max(0, lo - 1), min(len(counts) - 1, hi + 1)
            bins = list(range(lo, hi + 1))
            width, height, left, bottom, top_pad = 520, 150, 44, 28, 18
            plot_w = width - left - 10
            bw = plot_w / len(bins)
            peak = max(counts[i] for i in bins) or 1
            svg = [f"<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" role=\"img\" aria-label=\"length distribution {esc(split)}\">"]
            base_y = height - bottom
            svg.append(f"<line x1=\"{left}\" y1=\"{base_y}\" x2=\"{width - 10}\" y2=\"{base_y}\" stroke=\"#d1d9e0\"/>")
            svg.append(f"<text x=\"{left - 6}\" y=\"{top_pad + 4}\" text-anchor=\"end\">{_fmt(peak)}</text>")
            svg.append(f"<text x=\"{left - 6}\" y=\"{base_y}\" text-anchor=\"end\">0</text>")
            color = SPLIT_COLOR.get(split, "#0969da")
            for k, i in enumerate(bins):
                n = counts[i]
                x = left + k * bw
                if n:
                    bh = max(1.5, (base_y - top_pad) * n / peak)
                    lo_edge = 0 if i == 0 else EDGES[i - 1] + 1
                    hi_edge = f"{EDGES[i]:,}" if i < len(EDGES) else "more"
                    svg.append(f"<rect x=\"{x + 1:.1f}\" y=\"{base_y - bh:.1f}\" width=\"{max(bw - 2, 1):.1f}\" height=\"{bh:.1f}\" fill=\"{color}\" rx=\"1.5\">"
                               f"<title>{lo_edge:,}–{hi_edge} chars: {n:,} examples</title></rect>")
                if k % 2 == 0 and i < len(EDGES):
                    svg.append(f"<text x=\"{x + bw:.1f}\" y=\"{base_y + 14}\" text-anchor=\"middle\">{_fmt(EDGES[i])}</text>")
            if limit is not None:
                chars, label = limit
                i = bisect_right(EDGES, chars - 1)
                if i in bins and i < len(EDGES):
                    lo_e = 1 if i == 0 else EDGES[i - 1]
                    frac = (math.log(chars) - math.log(lo_e)) / (math.log(EDGES[i]) - math.log(lo_e)) if EDGES[i] > lo_e else 1.0
                    x = left + (bins.index(i) + min(max(frac, 0.0), 1.0)) * bw
                    anchor = "end" if x > width * 0.6 else "start"
                    dx = -4 if anchor == "end" else 4
                    svg.append(f"<line x1=\"{x:.1f}\" y1=\"{top_pad - 6}\" x2=\"{x:.1f}\" y2=\"{base_y}\" stroke=\"#cf222e\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>")
                    svg.append(f"<text x=\"{x + dx:.1f}\" y=\"{top_pad - 8 + 10}\" text-anchor=\"{anchor}\" fill=\"#cf222e\" style=\"fill:#cf222e\">{esc(label)}</text>")
            svg.append("</svg>")
            blocks.append(f"<p><b>{esc(split)}</b>: {h['examples']:,} examples, mean {h['mean']:,.0f} chars, longest {h['max']:,}</p>" + "".join(svg))
        if not blocks:
            return ""
        note = "Characters per example (all turns), log-scale bins."
        if limit is not None:
            note += " The dashed line marks the context limit (estimated in characters)."
        return f"<div class=\"chart\"><h3>Length distribution</h3><p>{note}</p>{''.join(blocks)}</div>"

    def _labels(self, report: Report) -> str:
        found: list[tuple[str, Mapping[str, Any]]] = []
        for row in report.scorecard.criteria:
            for check, m in row.metrics.items():
                if isinstance(m, Mapping) and isinstance(m.get("label_counts"), Mapping) and m["label_counts"]:
                    found.append((check, m["label_counts"]))
        if not found:
            return ""
        check, counts = found[0]
        if all(isinstance(v, Mapping) for v in counts.values()):
            series = {str(split): {str(k): int(v) for k, v in labels.items()} for split, labels in counts.items()}
        else:
            series = {"all": {str(k): int(v) for k, v in counts.items()}}
        totals: Counter = Counter()
        for labels in series.values():
            totals.update(labels)
        shown = [label for label, _ in totals.most_common(20)]
        peak = max((labels.get(lab, 0) for labels in series.values() for lab in shown), default=1) or 1
        order = {"train": 0, "test": 1, "reference": 2}
        names = sorted(series, key=lambda n: (order.get(n, 3), n))
        bar_h, gap, left, width = 12, 8, 170, 520
        group_h = bar_h * len(names) + gap
        height = len(shown) * group_h + 8
        svg = [f"<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" role=\"img\" aria-label=\"label distribution\">"]
        for i, label in enumerate(shown):
            y0 = 4 + i * group_h
            text = "(empty)" if not label.strip() else label if len(label) <= 26 else label[:25] + "…"
            svg.append(f"<text class=\"lbl\" x=\"{left - 8}\" y=\"{y0 + bar_h * len(names) / 2 + 4:.1f}\" text-anchor=\"end\">{esc(text)}<title>{esc(label)}</title></text>")
            for j, split in enumerate(names):
                n = series[split].get(label, 0)
                w = (width - left - 60) * n / peak
                y = y0 + j * bar_h
                color = SPLIT_COLOR.get(split, "#0969da")
                svg.append(f"<rect x=\"{left}\" y=\"{y}\" width=\"{max(w, 1):.1f}\" height=\"{bar_h - 2}\" rx=\"2\" fill=\"{color}\"><title>{esc(split)}: {n:,}</title></rect>")
                svg.append(f"<text x=\"{left + w + 4:.1f}\" y=\"{y + bar_h - 3}\">{n:,}</text>")
        svg.append("</svg>")
        legend = "".join(f"<span><i style=\"background:{SPLIT_COLOR.get(s, '#0969da')}\"></i>{esc(s)}</span>" for s in names)
        more = f" (top 20 of {len(totals):,})" if len(totals) > 20 else ""
        return (f"<div class=\"chart\"><h3>Label distribution</h3><p>Labels counted by {esc(check)}{more}.</p>"
                + "".join(svg) + f"<div class=\"legend\">{legend}</div></div>")

    def _clusters(self, report: Report) -> str:
        ran = [c for c in report.checks if c.criterion is Criterion.DIVERSE]
        clusters: dict[tuple[str, str], tuple[int, Finding]] = {}
        for f in report.findings:
            if f.criterion is not Criterion.DIVERSE or not (f.related or "cluster" in f.evidence):
                continue
            key = (f.check, str(f.evidence.get("cluster", f.fingerprint)))
            size = f.evidence.get("cluster_size")
            size = size if isinstance(size, int) else 1 + len(f.related)
            if key not in clusters or size > clusters[key][0]:
                clusters[key] = (size, f)
        if not clusters:
            if not ran:
                return ""
            return ("<div class=\"chart\"><h3>Duplicate clusters</h3>"
                    f"<p>No duplicate clusters found by {esc(', '.join(c.name for c in ran))}.</p></div>")
        buckets = [("2", 2, 2), ("3", 3, 3), ("4–5", 4, 5), ("6–10", 6, 10), ("11–50", 11, 50), ("51+", 51, 10**12)]
        tally = [sum(1 for s, _ in clusters.values() if lo <= s <= hi) for _, lo, hi in buckets]
        peak = max(tally) or 1
        width, height, left, base = 520, 140, 40, 112
        bw = (width - left - 10) / len(buckets)
        svg = [f"<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" role=\"img\" aria-label=\"duplicate cluster sizes\">",
               f"<line x1=\"{left}\" y1=\"{base}\" x2=\"{width - 10}\" y2=\"{base}\" stroke=\"#d1d9e0\"/>"]
        for k, ((label, _, _), n) in enumerate(zip(buckets, tally)):
            x = left + k * bw
            bh = (base - 16) * n / peak
            if n:
                svg.append(f"<rect x=\"{x + 8:.1f}\" y=\"{base - bh:.1f}\" width=\"{bw - 16:.1f}\" height=\"{bh:.1f}\" rx=\"2\" fill=\"#8250df\"><title>{n:,} clusters of {label}</title></rect>")
                svg.append(f"<text x=\"{x + bw / 2:.1f}\" y=\"{base - bh - 4:.1f}\" text-anchor=\"middle\">{n:,}</text>")
            svg.append(f"<text x=\"{x + bw / 2:.1f}\" y=\"{base + 16}\" text-anchor=\"middle\">{label}</text>")
        svg.append("</svg>")
        biggest = sorted(clusters.values(), key=lambda t: (-t[0], t[1].sort_key()))[:8]
        rows = "".join(
            f"<tr><td class=\"num\">{size:,}</td><td>{esc(f.check)}</td><td class=\"loc\"><a href=\"#f-{esc(f.fingerprint)}\">{esc(where(f.location))}</a></td></tr>"
            for size, f in biggest
        )
        examples_in = sum(s for s, _ in clusters.values())
        return ("<div class=\"chart\"><h3>Duplicate clusters</h3>"
                f"<p>{plural(len(clusters), 'cluster')} holding {examples_in:,} examples, by cluster size.</p>" + "".join(svg)
                + "<table><tr><th class=\"num\">size</th><th>check</th><th>example</th></tr>" + rows + "</table></div>")

    # -- findings -----------------------------------------------------------------------------
    def _findings(self, report: Report) -> str:
        groups = by_check(report.findings)
        if not groups:
            return "<h2>Findings</h2><p class=\"note\">No findings.</p>"
        docs = {c.name: doc_sections(c.doc) for c in report.checks}
        out = ["<h2>Findings</h2>"]
        for (code, check), items in groups.items():
            sev = worst(items)
            is_open = " open" if sev is Severity.ERROR or len(groups) <= 3 else ""
            out.append(f"<details class=\"check\" id=\"check-{esc(code)}\"{is_open}><summary>"
                       f"<span class=\"pill\" style=\"background:{SEV_COLOR[sev]}\">{esc(sev.value)}</span>"
                       f"<code>{esc(code)}</code> {esc(check)} <span class=\"ptr\">[{esc(items[0].criterion.value)}]</span>"
                       f"<span class=\"count\">{plural(len(items), 'finding')}</span></summary>")
            doc = docs.get(check, {})
            if doc.get("summary") or doc.get("Why it matters for a fine-tune"):
                why = doc.get("Why it matters for a fine-tune", "")
                out.append(f"<div class=\"why\"><b>{esc(doc.get('summary', ''))}</b> {esc(why)}</div>")
            out.append("<table><tr><th>severity</th><th>where</th><th>message</th></tr>")
            for n, f in enumerate(items[: self.max_rows]):
                out.append(self._finding_row(f, report, show_examples=n < EXCERPTS_PER_CHECK))
            out.append("</table>")
            if len(items) > self.max_rows:
                out.append(f"<p class=\"note\" style=\"padding:0 14px\">… and {len(items) - self.max_rows:,} more (see the JSON report).</p>")
            out.append("</details>")
        return "".join(out)

    def _finding_row(self, f: Finding, report: Report, show_examples: bool) -> str:
        loc = f.location
        ptr = f" <span class=\"ptr\">{esc(loc.pointer)}</span>" if loc.pointer else ""
        row = [f"<tr class=\"finding\" id=\"f-{esc(f.fingerprint)}\"><td><span class=\"pill\" style=\"background:{SEV_COLOR[f.severity]}\">{esc(f.severity.value)}</span></td>"
               f"<td class=\"loc\"><code>{esc(where(loc))}</code>{ptr}</td><td>{esc(f.message)}</td></tr>"]
        blocks = []
        if show_examples:
            for i, target in enumerate((loc, *f.related[:RELATED_PER_FINDING])):
                ex = report.excerpt(target)
                if ex is not None:
                    blocks.append(self._excerpt(ex, "example" if i == 0 else "related"))
            if len(f.related) > RELATED_PER_FINDING:
                more = ", ".join(where(r) for r in f.related[RELATED_PER_FINDING:RELATED_PER_FINDING + 10])
                blocks.append(f"<p class=\"note\">also: {esc(more)}{' …' if len(f.related) > RELATED_PER_FINDING + 10 else ''}</p>")
        if blocks:
            row.append(f"<tr class=\"examples\"><td></td><td colspan=\"2\">{''.join(blocks)}</td></tr>")
        row.append("<tr class=\"sep\"><td colspan=\"3\"></td></tr>")
        return "".join(row)

    def _excerpt(self, ex: Excerpt, kind: str) -> str:
        head = f"{kind} · {where(Location(ex.split, ex.path, ex.line, ex.index))} ({ex.split})"
        if ex.truncated:
            head += " · shortened"
        turns = []
        for role, text in ex.turns:
            body = f"<pre>{esc(text)}</pre>" if text.strip() else "<pre class=\"empty\">(empty)</pre>"
            turns.append(f"<div class=\"turn\"><div class=\"role {esc(role)}\">{esc(role)}</div>{body}</div>")
        return f"<div class=\"ex\"><div class=\"exhead\">{esc(head)}</div>{''.join(turns)}</div>"

    def _baseline(self, report: Report) -> str:
        outcome = report.baseline
        if outcome is None:
            return ""
        out = [f"<h2>Baseline</h2><p>{esc(outcome.path or '')}: {len(outcome.matched):,} known findings suppressed; "
               f"{len(outcome.stale):,} entries no longer match anything.</p>"]
        if outcome.stale:
            out.append("<div class=\"box\"><table><tr><th>code</th><th>check</th><th>file</th><th>message</th></tr>")
            for e in outcome.stale[:200]:
                out.append(f"<tr><td><code>{esc(e.code)}</code></td><td>{esc(e.check)}</td><td><code>{esc(e.path)}</code></td><td>{esc(e.message)}</td></tr>")
            out.append("</table></div><p class=\"note\">Run <code>tunelint baseline</code> to drop entries that no longer match.</p>")
        return "".join(out)


