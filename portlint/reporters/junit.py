"""``junit``: JUnit XML, the test report CI dashboards ingest (GitLab, Jenkins, Azure, CircleCI).

One test suite per file linted, holding a failed test case per finding (an ``error`` for an
internal error) or, for a clean file, one passing test case, so the dashboard lists every file.
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from ..findings import Finding
from ..hookspecs import hookimpl
from ..linter import INTERNAL_ERROR, Report
from . import Reporter
from .common import project_path
from .text import TextReporter

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

# Characters XML 1.0 cannot hold even escaped (control characters a broken input may carry
# into a message); they are written as \xNN. Compiled at the first use: compiling it takes
# milliseconds, which, like importing xml.etree, only a junit report should pay.
NOT_XML = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
RUN_SUITE = "portlint"  # the suite of internal errors that belong to no file


def xml_text(text: str) -> str:
    return re.sub(NOT_XML, lambda m: f"\\x{ord(m.group()):02x}", text)


class JunitReporter(Reporter):
    name = "junit"
    description = "JUnit XML: a test suite per file, a failed test case per finding"

    def report(self, report: Report) -> None:
        import xml.etree.ElementTree as ET

        root = os.getcwd()
        by_path: dict[str, list[Finding]] = {path: [] for path in report.paths}
        for finding in report.findings:
            by_path.setdefault(finding.location.path, []).append(finding)
        suites = ET.Element("testsuites", name="portlint")
        totals = dict.fromkeys(("tests", "failures", "errors"), 0)
        for path, findings in by_path.items():
            suite = self.suite(report, xml_text(project_path(path, root)) if path else RUN_SUITE, findings)
            suites.append(suite)
            for key in totals:
                totals[key] += int(suite.get(key))
        for key, count in totals.items():
            suites.set(key, str(count))
        ET.indent(suites)
        # The stream's own encoding: ElementTree would declare the locale's.
        encoding = getattr(self.stream, "encoding", None) or "utf-8"
        self.stream.write(f'<?xml version="1.0" encoding="{encoding}"?>\n')
        ET.ElementTree(suites).write(self.stream, encoding="unicode")
        self.stream.write("\n")

    def suite(self, report: Report, name: str, findings: list[Finding]) -> ET.Element:
        """The suite of one file (or of the run): a test case per finding, or one that passes."""
        import xml.etree.ElementTree as ET

        suite = ET.Element("testsuite", name=name)
        text = TextReporter(self.stream)
        errors = 0
        for finding in findings:
            loc = finding.location
            case = ET.SubElement(suite, "testcase", classname=name,
                                 name=f"{finding.code} {finding.name} {loc.line}:{loc.column}")
            if loc.path:
                case.set("file", name)
                case.set("line", str(loc.line))
            internal = finding.code == INTERNAL_ERROR[0]
            errors += internal
            problem = ET.SubElement(case, "error" if internal else "failure",
                                    type=finding.code, message=xml_text(finding.message))
            source = report.line_text(loc.path, loc.line)
            problem.text = xml_text(text.format(finding) + "\n" + (text.excerpt(finding, source) if source else "")).rstrip("\n")
        if not findings:
            ET.SubElement(suite, "testcase", classname=name, name="portlint", file=name)
        suite.set("tests", str(max(len(findings), 1)))
        suite.set("failures", str(len(findings) - errors))
        suite.set("errors", str(errors))
        return suite


@hookimpl
def portlint_register_reporters():
    return [JunitReporter]
