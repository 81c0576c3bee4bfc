"""``json``: an array of findings, for scripts and other tools."""
from __future__ import annotations

import json

from ..hookspecs import hookimpl
from ..linter import Report
from . import Reporter


class JsonReporter(Reporter):
    name = "json"
    description = "an array of findings with code, name, severity, message and location"

    def report(self, report: Report) -> None:
        records = []
        for f in report.findings:
            loc = f.location
            records.append({
                "code": f.code, "name": f.name, "severity": str(f.severity), "message": f.message,
                "path": loc.path, "line": loc.line, "column": loc.column,
                "end_line": loc.end_line if loc.end_line is not None else loc.line,
                "end_column": loc.end_column if loc.end_column is not None else loc.column,
                "fingerprint": f.fingerprint,
            })
        json.dump(records, self.stream, indent=2)
        self.stream.write("\n")


@hookimpl
def portlint_register_reporters():
    return [JsonReporter]
