"""``sarif``: SARIF 2.1.0, the format GitHub code scanning and security dashboards ingest.

Every registered rule is described in ``tool.driver.rules``, selected or not, so a dashboard can
explain any code it meets. Each finding is a result located relative to ``%SRCROOT%`` (the
working directory). An internal error that belongs to no file, or a path that could not be read,
is a tool execution notification instead, and makes the invocation unsuccessful.
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from .. import __version__
from ..findings import Finding, Severity
from ..hookspecs import hookimpl
from ..linter import INTERNAL_ERROR, Report
from ..model import Location
from . import Reporter
from .common import project_path, write_json

if TYPE_CHECKING:
    from ..rules import Rule

PROJECT_URL = "https://github.com/portlint/portlint"
RULE_PAGE_URL = PROJECT_URL + "/blob/main/docs/rules/{code}.md"
SCHEMA_URL = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
#: Versioned, so that a change of ``Finding.fingerprint`` can never match old alerts by mistake.
FINGERPRINT = "portlintFingerprint/v1"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


class SarifReporter(Reporter):
    name = "sarif"
    description = "SARIF 2.1.0, for GitHub code scanning and other security dashboards"

    def report(self, report: Report) -> None:
        root = os.getcwd()
        rules = sorted(report.rules.values(), key=lambda rule: rule.code)
        index = {rule.code: i for i, rule in enumerate(rules)}
        artifacts: dict[str, dict] = {}  # one artifactLocation per path, shared by its results
        results, notifications = [], []
        for finding in report.findings:
            path = finding.location.path
            if not path and finding.code == INTERNAL_ERROR[0]:
                notifications.append(notification(finding.message, index.get(finding.code)))
                continue
            for place in (finding.location, *finding.related):
                if place.path and place.path not in artifacts:
                    artifacts[place.path] = artifact_location(place.path, root)
            results.append(result(finding, index, artifacts))
        notifications.extend(notification(problem) for problem in report.problems)
        invocation: dict = {"executionSuccessful": not (report.has_internal_error or report.problems)}
        if notifications:
            invocation["toolExecutionNotifications"] = notifications
        run = {
            "tool": {"driver": {
                "name": "portlint", "version": __version__, "informationUri": PROJECT_URL,
                "rules": [descriptor(rule) for rule in rules],
            }},
            "invocations": [invocation],
            "originalUriBaseIds": {SRCROOT: {"uri": directory_uri(root)}},
            "columnKind": "unicodeCodePoints",
            "results": [],  # last: written in place by write_json
        }
        write_json(self.stream, {"$schema": SCHEMA_URL, "version": "2.1.0", "runs": [run]}, results)


def descriptor(rule: type[Rule]) -> dict:
    """The ``reportingDescriptor`` of a rule; only portlint's own rules have a page to link."""
    described = {
        "id": rule.code, "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": inspect.cleandoc(rule.__doc__) if rule.__doc__ else rule.summary},
    }
    if rule.__module__.startswith("portlint."):
        described["helpUri"] = RULE_PAGE_URL.format(code=rule.code)
    configuration: dict = {"level": LEVELS[rule.severity]}
    if not rule.default_enabled:
        configuration["enabled"] = False
    described["defaultConfiguration"] = configuration
    return described


def result(finding: Finding, index: dict[str, int], artifacts: dict[str, dict]) -> dict:
    """A ``result``; ``artifacts``: the artifactLocation of every path it names."""
    located: dict = {"ruleId": finding.code}
    if finding.code in index:
        located["ruleIndex"] = index[finding.code]
    located["level"] = LEVELS[finding.severity]
    located["message"] = {"text": finding.message}
    if finding.location.path:
        located["locations"] = [{"physicalLocation": physical_location(finding.location, artifacts)}]
    if finding.related:
        located["relatedLocations"] = [{"id": i, "physicalLocation": physical_location(place, artifacts)}
                                       for i, place in enumerate(finding.related)]
    located["partialFingerprints"] = {FINGERPRINT: finding.fingerprint}
    return located


def physical_location(location: Location, artifacts: dict[str, dict]) -> dict:
    physical: dict = {"artifactLocation": artifacts[location.path]}
    if location.line >= 1:
        physical["region"] = region(location)
    return physical


def region(location: Location) -> dict:
    """SARIF regions are 1-based with an exclusive end column, like portlint's locations; with
    no end column the region runs to the end of the line."""
    where = {"startLine": location.line, "startColumn": location.column,
             "endLine": location.end_line or location.line}
    if location.end_column is not None:
        where["endColumn"] = location.end_column
    return where


def artifact_location(path: str, root: str) -> dict:
    relative = project_path(path, root)
    if os.path.isabs(relative):
        return {"uri": Path(relative).as_uri()}
    return {"uri": quote(relative), "uriBaseId": SRCROOT}


def directory_uri(path: str) -> str:
    uri = Path(path).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def notification(message: str, internal_error_index: int | None = None) -> dict:
    """A problem of the run itself, tied to the PL000 rule when it is an internal error."""
    noted: dict = {"level": "error", "message": {"text": message}}
    if internal_error_index is not None:
        noted["associatedRule"] = {"id": INTERNAL_ERROR[0], "index": internal_error_index}
    return noted


@hookimpl
def portlint_register_reporters():
    return [SarifReporter]
