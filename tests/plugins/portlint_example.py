"""An example third-party portlint plugin: one rule and one reporter.

Installed in tests through real entry-point metadata (``[project.entry-points.portlint]
example = "portlint_example"``); docs/plugins.md walks through the same code.
"""
from portlint.findings import Severity
from portlint.hookspecs import hookimpl
from portlint.reporters import Reporter
from portlint.rules import ExposureRule


class AdminUiPort(ExposureRule):
    """Our admin UI listens on 8443/tcp; it must never be opened to the world."""

    code = "EXA001"
    name = "admin-ui-exposed"
    severity = Severity.ERROR
    summary = "the site's admin UI port is opened"

    def concerns(self, port, protocol, ctx):
        return "" if (port, protocol) == (8443, "tcp") else None

    def message(self, ports, reasons, exposure):
        return f"{ports}/{exposure.protocol_text} (admin UI) {exposure.describe()}"


class CountReporter(Reporter):
    """Prints one line per rule code: how many findings it has."""

    name = "count"
    description = "finding counts per code"

    def report(self, report):
        counts = {}
        for finding in report.findings:
            counts[finding.code] = counts.get(finding.code, 0) + 1
        for code in sorted(counts):
            self.stream.write(f"{code} {counts[code]}\n")


@hookimpl
def portlint_register_rules():
    return [AdminUiPort]


@hookimpl
def portlint_register_reporters():
    return [CountReporter]
