"""``github``: GitHub Actions workflow commands, which annotate the pull request's diff.

    ::warning file=rules.v4,line=3,col=32,endLine=3,endColumn=34,title=PL201 cleartext-service::23/tcp ...

Columns are 1-based and the end column exclusive, as everywhere in portlint. Paths are relative
to the working directory (the workspace, in a workflow).
"""
from __future__ import annotations

import os

from ..findings import Finding, Severity
from ..hookspecs import hookimpl
from ..linter import Report
from . import Reporter
from .common import project_path

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
# What the runner would otherwise read as the end of a line, a property or the message
# (actions/toolkit, packages/core/src/command.ts).
DATA_ESCAPES = str.maketrans({"%": "%25", "\r": "%0D", "\n": "%0A"})
PROPERTY_ESCAPES = str.maketrans({"%": "%25", "\r": "%0D", "\n": "%0A", ":": "%3A", ",": "%2C"})


class GithubReporter(Reporter):
    name = "github"
    description = "GitHub Actions annotations (::error file=...,line=...::message)"

    def report(self, report: Report) -> None:
        root = os.getcwd()
        write = self.stream.write
        for finding in report.findings:
            write(self.command(finding, root) + "\n")

    @staticmethod
    def command(finding: Finding, root: str) -> str:
        loc = finding.location
        properties = {}
        if loc.path:
            properties = {"file": project_path(loc.path, root), "line": loc.line, "col": loc.column}
            if loc.end_column is not None:
                properties["endLine"] = loc.end_line or loc.line
                properties["endColumn"] = loc.end_column
        properties["title"] = f"{finding.code} {finding.name}"
        listed = ",".join(f"{key}={str(value).translate(PROPERTY_ESCAPES)}" for key, value in properties.items())
        return f"::{COMMANDS[finding.severity]} {listed}::{finding.message.translate(DATA_ESCAPES)}"


@hookimpl
def portlint_register_reporters():
    return [GithubReporter]
