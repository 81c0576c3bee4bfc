"""``gitlab``: GitLab Code Quality JSON, shown in merge requests (``artifacts:reports:codequality``).

Severities map error -> critical, warning -> minor, info -> info. GitLab tells new findings
from fixed ones by fingerprint, so every issue has its own: the finding's fingerprint (code,
path and message: stable when lines move) for the first occurrence, and that fingerprint with
its occurrence number for the same finding repeated in a file. An internal error that belongs
to no file is placed on the project itself (path ``.``).
"""
from __future__ import annotations

import os

from ..findings import Severity
from ..hookspecs import hookimpl
from ..linter import Report
from . import Reporter
from .common import project_path, write_json

SEVERITIES = {Severity.ERROR: "critical", Severity.WARNING: "minor", Severity.INFO: "info"}


class GitlabReporter(Reporter):
    name = "gitlab"
    description = "GitLab Code Quality JSON for merge request widgets"

    def report(self, report: Report) -> None:
        from hashlib import sha256  # here, not on every run that registers this reporter

        root = os.getcwd()
        seen: dict[str, int] = {}
        issues = []
        for finding in report.findings:
            loc = finding.location
            fingerprint = finding.fingerprint
            occurrence = seen[fingerprint] = seen.get(fingerprint, 0) + 1
            if occurrence > 1:
                fingerprint = sha256(f"{fingerprint}\0{occurrence}".encode()).hexdigest()[:32]
            issues.append({
                "description": finding.message,
                "check_name": finding.code,
                "fingerprint": fingerprint,
                "severity": SEVERITIES[finding.severity],
                "location": {
                    "path": project_path(loc.path, root) if loc.path else ".",
                    "lines": {"begin": loc.line, "end": loc.end_line or loc.line},
                },
            })
        write_json(self.stream, [], issues)


@hookimpl
def portlint_register_reporters():
    return [GitlabReporter]
