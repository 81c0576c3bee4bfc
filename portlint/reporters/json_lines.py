"""``json-lines``: one finding per line, the same object as ``json``; for streaming consumers
and ``grep``."""
from __future__ import annotations

import json

from ..hookspecs import hookimpl
from ..linter import Report
from . import Reporter
from .json import finding_record


class JsonLinesReporter(Reporter):
    name = "json-lines"
    description = "one JSON object per finding per line (the objects of json)"

    def report(self, report: Report) -> None:
        write = self.stream.write
        for finding in report.findings:
            write(json.dumps(finding_record(finding)) + "\n")


@hookimpl
def portlint_register_reporters():
    return [JsonLinesReporter]
