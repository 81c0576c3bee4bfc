"""``--output-format gitlab``: GitLab Code Quality issues with unique fingerprints."""
from __future__ import annotations

import json


def test_issues_with_location_severity_and_the_finding_fingerprint(cli, project):
    result = cli("etc/rules.v4", "clean.rules", *project.select, "--output-format", "gitlab")
    assert result.code == 1
    fingerprints = [f["fingerprint"] for f in cli("etc/rules.v4", *project.select, "--output-format", "json").json()]
    assert result.json() == [
        {"description": project.messages[code], "check_name": code, "fingerprint": fingerprint,
         "severity": severity, "location": {"path": "etc/rules.v4", "lines": {"begin": line, "end": line}}}
        for (code, severity, line), fingerprint in zip(
            [("PL201", "minor", 3), ("PL203", "critical", 4), ("PL104", "info", 5)], fingerprints)
    ]


def test_one_issue_per_line(cli, project):
    result = cli("etc/rules.v4", *project.select, "--output-format", "gitlab")
    lines = result.out.splitlines()
    assert lines[0] == "[" and lines[-1] == "]"
    assert [json.loads(line.strip().rstrip(",")) for line in lines[1:-1]] == result.json()
    assert [line[-1] for line in lines[1:-1]] == [",", ",", "}"]


def test_the_same_finding_twice_gets_two_fingerprints(cli, project):
    telnet = "-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT\n"
    (project.root / "twice.rules").write_text(f"*filter\n{telnet}{telnet}{telnet}COMMIT\n")
    issues = cli("twice.rules", "--select", "PL201", "--output-format", "gitlab").json()
    (finding, *_) = cli("twice.rules", "--select", "PL201", "--output-format", "json").json()
    assert [i["location"]["lines"]["begin"] for i in issues] == [2, 3, 4]
    assert len({i["description"] for i in issues}) == 1
    assert issues[0]["fingerprint"] == finding["fingerprint"]  # the first stays the finding's
    assert len({i["fingerprint"] for i in issues}) == 3


def test_an_internal_error_of_no_file_is_on_the_project(cli, project, broken_plugin):
    result = cli("clean.rules", "--output-format", "gitlab")
    assert result.code == 2
    (issue,) = result.json()
    assert issue["check_name"] == "PL000" and issue["severity"] == "critical"
    assert issue["description"] == broken_plugin
    assert issue["location"] == {"path": ".", "lines": {"begin": 1, "end": 1}}


def test_no_findings_is_an_empty_array(cli, project):
    result = cli("clean.rules", "--output-format", "gitlab")
    assert (result.code, result.out) == (0, "[]\n")
