"""``--output-format json-lines``: one finding per line, the very objects of ``json``."""
from __future__ import annotations

import json


def test_one_json_object_per_line_equal_to_the_json_records(cli, project):
    result = cli("etc/rules.v4", "clean.rules", *project.select, "--output-format", "json-lines")
    assert result.code == 1
    lines = result.out.split("\n")
    assert lines[-1] == ""  # every record ends with a newline
    records = [json.loads(line) for line in lines[:-1]]
    assert records == cli("etc/rules.v4", "clean.rules", *project.select, "--output-format", "json").json()
    assert [(r["code"], r["severity"], r["line"]) for r in records] == [
        ("PL201", "warning", 3), ("PL203", "error", 4), ("PL104", "info", 5)]


def test_a_message_with_a_newline_stays_on_its_line(cli, project, crashing_rule):
    crashing_rule("first line\nsecond line")
    result = cli("etc/rules.v4", "--select", "PL201", "--output-format", "json-lines")
    (line,) = result.out.splitlines()
    assert json.loads(line)["message"].endswith("ZeroDivisionError: first line\nsecond line")
    assert result.code == 2


def test_no_findings_no_output(cli, project):
    result = cli("clean.rules", "--output-format", "json-lines")
    assert (result.code, result.out) == (0, "")


def test_output_file(cli, project):
    result = cli("etc/rules.v4", *project.select, "--output-format", "json-lines", "--output-file", "report.jsonl")
    assert result.out == ""
    records = [json.loads(line) for line in (project.root / "report.jsonl").read_text().splitlines()]
    assert [r["code"] for r in records] == ["PL201", "PL203", "PL104"]
