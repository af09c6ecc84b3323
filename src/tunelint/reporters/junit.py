"""JUnit XML: one test case per check that ran (failed when it has findings the gate fails on),
and one per scorecard criterion, for CI systems that show test results.

Dataset text is neutralised (control characters are not allowed in XML 1.0) and escaped by the
XML writer.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tunelint.engine import Report
from tunelint.models import Severity
from tunelint.reporters.base import Reporter, by_check, neutralise, where

# Characters XML 1.0 cannot carry even escaped (after neutralise has removed the C0 controls).
_NOT_XML = re.compile("[\ufffe\uffff\ud800-\udfff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", neutralise(text, keep_newlines=True))


class JunitReporter(Reporter):
    name = "junit"
    extension = ".xml"

    def __init__(self, max_per_check: int = 200) -> None:
        self.max_per_check = max_per_check

    def render(self, report: Report) -> str:
        fail_rank = None if report.scorecard.fail_on == "never" else Severity(report.scorecard.fail_on).rank
        groups = {check: items for (_, check), items in by_check(report.findings).items()}
        root = ET.Element("testsuites", name="tunelint")
        checks = ET.SubElement(root, "testsuite", name="tunelint.checks")
        failures = 0
        for info in report.checks:
            items = groups.get(info.name, [])
            case = ET.SubElement(
                checks, "testcase", classname=f"tunelint.{info.criterion.value}", name=f"{info.code} {info.name}",
                time=f"{report.timing.get(info.name, 0.0):.4f}",
            )
            gating = [f for f in items if fail_rank is not None and f.severity.rank >= fail_rank]
            lines = [f"{where(f.location)}: {f.severity.value}: {f.message}" for f in items[: self.max_per_check]]
            if len(items) > self.max_per_check:
                lines.append(f"... and {len(items) - self.max_per_check} more")
            if gating:
                failures += 1
                failure = ET.SubElement(case, "failure", type=info.code,
                                        message=xml_text(f"{len(gating)} of {len(items)} findings at or above {report.scorecard.fail_on}"))
                failure.text = xml_text("\n".join(lines))
            elif items:
                out = ET.SubElement(case, "system-out")
                out.text = xml_text("\n".join(lines))
        checks.set("tests", str(len(report.checks)))
        checks.set("failures", str(failures))
        checks.set("errors", "0")
        checks.set("skipped", "0")

        criteria = ET.SubElement(root, "testsuite", name="tunelint.scorecard")
        failed = skipped = 0
        for row in report.scorecard.criteria:
            case = ET.SubElement(criteria, "testcase", classname="tunelint.scorecard", name=row.criterion.value)
            text = xml_text(f"{row.summary}\n{row.advice}")
            if row.status == "not-assessed":
                skipped += 1
                ET.SubElement(case, "skipped", message=xml_text(row.summary))
            elif row.status == "fail":
                failed += 1
                ET.SubElement(case, "failure", type="criterion", message=f"score {row.score}").text = text
            else:
                ET.SubElement(case, "system-out").text = xml_text(f"status {row.status}, score {row.score}: {row.summary}")
        criteria.set("tests", str(len(report.scorecard.criteria)))
        criteria.set("failures", str(failed))
        criteria.set("errors", "0")
        criteria.set("skipped", str(skipped))
        root.set("tests", str(len(report.checks) + len(report.scorecard.criteria)))
        root.set("failures", str(failures + failed))
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
