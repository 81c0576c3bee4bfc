"""``text``: ``path:line:col: CODE [severity] message``, the source line with a caret, a summary."""
from __future__ import annotations

import collections

from ..findings import Finding, Severity
from ..hookspecs import hookimpl
from ..linter import Report
from ..terminal import visible
from . import Reporter

_COLORS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"
#: Longest source line an excerpt shows whole, and how much of a longer one it shows before
#: the finding's column.
EXCERPT_WIDTH, EXCERPT_CONTEXT = 160, 60


class TextReporter(Reporter):
    name = "text"
    description = "for people: location, code, severity, message and the offending line"

    def paint(self, text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if self.color else text

    def report(self, report: Report) -> None:
        write = self.stream.write
        for finding in report.findings:
            write(self.format(finding) + "\n")
            source = report.line_text(finding.location.path, finding.location.line)
            if source:
                write(self.excerpt(finding, source))
        if not self.quiet:
            write(self.summary(report) + "\n")

    def format(self, finding: Finding) -> str:
        loc = finding.location
        where = f"{visible(loc.path)}:{loc.line}:{loc.column}: " if loc.path else "portlint: "
        severity = self.paint(f"[{finding.severity}]", _COLORS[finding.severity])
        return f"{self.paint(where, _BOLD)}{self.paint(finding.code, _BOLD)} {severity} {visible(finding.message)}"

    def excerpt(self, finding: Finding, source: str) -> str:
        """The finding's line with a caret under what it is about. A line longer than
        ``EXCERPT_WIDTH`` is cut to a window around that, marked with ``...`` where it is cut:
        a megabyte on one line (an nftables set written on one line) would otherwise be
        written once per finding, with as many spaces before the caret."""
        loc = finding.location
        start = max(loc.column - 1, 0)
        end = loc.end_column - 1 if loc.end_column and loc.end_line in (None, loc.line) else start + 1
        end = max(end, start + 1)
        before, after = "", ""
        if len(source) > EXCERPT_WIDTH:
            left = max(min(start - EXCERPT_CONTEXT, len(source) - EXCERPT_WIDTH), 0)
            right = left + EXCERPT_WIDTH
            before, after = "..." * (left > 0), "..." * (right < len(source))
            source, start, end = source[left:right], start - left, min(end, right) - left
        caret = " " * (len(before) + start) + self.paint("^" * max(end - start, 1), _COLORS[finding.severity])
        shown = before + visible(source.expandtabs(1)) + after
        return f"    {self.paint(shown, _DIM)}\n    {caret}\n"

    @staticmethod
    def summary(report: Report) -> str:
        files = f"{report.files} file{'s' * (report.files != 1)}"
        if not report.findings:
            return f"No findings in {files}."
        counts = collections.Counter(f.severity for f in report.findings)
        parts = [f"{counts[s]} {s}{'s' * (counts[s] != 1)}" for s in sorted(counts, reverse=True)]
        return f"Found {len(report.findings)} finding{'s' * (len(report.findings) != 1)} in {files}: {', '.join(parts)}."


@hookimpl
def portlint_register_reporters():
    return [TextReporter]
