"""``json``: an array of findings, for scripts and other tools."""
from __future__ import annotations

from ..findings import Finding
from ..hookspecs import hookimpl
from ..linter import Report
from . import Reporter
from .common import write_json


def finding_record(finding: Finding) -> dict:
    """One finding as the ``json`` and ``json-lines`` formats write it."""
    loc = finding.location
    return {
        "code": finding.code, "name": finding.name, "severity": str(finding.severity),
        "message": finding.message, "path": loc.path, "line": loc.line, "column": loc.column,
        "end_line": loc.end_line if loc.end_line is not None else loc.line,
        "end_column": loc.end_column if loc.end_column is not None else loc.column,
        "fingerprint": finding.fingerprint,
        "related": [{"path": place.path, "line": place.line} for place in finding.related],
    }


class JsonReporter(Reporter):
    name = "json"
    description = "an array of findings with code, name, severity, message and location"

    def report(self, report: Report) -> None:
        write_json(self.stream, [], [finding_record(f) for f in report.findings])


@hookimpl
def portlint_register_reporters():
    return [JsonReporter]
