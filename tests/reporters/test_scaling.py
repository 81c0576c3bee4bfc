"""Every reporter's time grows linearly with the findings: a report of 200k findings (a large
ruleset linted with ALL) must not take a hundred times longer than one of 20k."""
from __future__ import annotations

import io
import time

import pytest

from portlint.findings import Finding, Severity
from portlint.linter import Report
from portlint.model import Document, Location

SMALL, LARGE = 2_000, 20_000
FILES = 50


def synthetic_report(registry, count: int) -> Report:
    """``count`` findings over FILES files, every severity, the same message many times per
    file (as GitLab's occurrence counters must handle), each with its source line."""
    report = Report(rules=registry.rules, files=FILES)
    severities = [("PL201", "cleartext-service", Severity.WARNING), ("PL203", "exposed-admin-service", Severity.ERROR),
                  ("PL104", "protocol-mismatch", Severity.INFO)]
    lines = count // FILES + 1
    for i in range(FILES):
        path = f"etc/firewall/host{i}.rules"
        report.paths.append(path)
        report.documents[path] = Document(path, "iptables", "-A INPUT -p tcp --dport 23 -j ACCEPT\n" * lines)
    for i in range(count):
        code, name, severity = severities[i % 3]
        location = Location(f"etc/firewall/host{i % FILES}.rules", i // FILES + 1, 27, i // FILES + 1, 29)
        report.findings.append(Finding(code, name, severity, f"23/tcp opened, variant {i % 7}", location))
    report.findings.sort(key=Finding.sort_key)
    return report


def seconds(reporter_class, report: Report, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        reporter_class(io.StringIO()).report(report)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.fixture(scope="module")
def reports(registry):
    return synthetic_report(registry, SMALL), synthetic_report(registry, LARGE)


@pytest.mark.parametrize("name", ["text", "json", "json-lines", "sarif", "github", "gitlab", "junit"])
def test_time_grows_linearly(registry, reports, name):
    small, large = reports
    reporter_class = registry.reporters[name]
    small_time = seconds(reporter_class, small, runs=3)
    large_time = seconds(reporter_class, large, runs=1)
    # Linear is 10 times; quadratic would be 100.
    assert large_time < 30 * small_time, f"{name}: {small_time:.3f}s for {SMALL}, {large_time:.3f}s for {LARGE}"
