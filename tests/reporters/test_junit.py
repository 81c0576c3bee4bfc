"""``--output-format junit``: a test suite per file, a failed test case per finding, a passing
test case per clean file; well-formed XML whatever the messages hold."""
from __future__ import annotations

import xml.etree.ElementTree as ET


def junit(cli, *args):
    result = cli(*args, "--output-format", "junit")
    assert result.out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    return result.code, ET.fromstring(result.out)


def test_suites_per_file_with_a_failure_per_finding(cli, project):
    code, suites = junit(cli, "etc/rules.v4", "clean.rules", *project.select)
    assert code == 1
    assert suites.tag == "testsuites"
    assert suites.attrib == {"name": "portlint", "tests": "4", "failures": "3", "errors": "0"}
    mixed, clean = suites
    assert mixed.attrib == {"name": "etc/rules.v4", "tests": "3", "failures": "3", "errors": "0"}
    cases = [(case.attrib, [(child.tag, child.attrib) for child in case]) for case in mixed]
    assert cases == [
        ({"classname": "etc/rules.v4", "name": f"{code} {name} {line}:32", "file": "etc/rules.v4", "line": str(line)},
         [("failure", {"type": code, "message": project.messages[code]})])
        for code, name, line in [("PL201", "cleartext-service", 3), ("PL203", "exposed-admin-service", 4),
                                 ("PL104", "protocol-mismatch", 5)]
    ]
    assert mixed[0][0].text == (
        f"etc/rules.v4:3:32: PL201 [warning] {project.messages['PL201']}\n"
        "    -A INPUT -p tcp -m tcp --dport 23 -j ACCEPT\n"
        "    " + " " * 31 + "^^")
    assert clean.attrib == {"name": "clean.rules", "tests": "1", "failures": "0", "errors": "0"}
    (passing,) = clean
    assert passing.attrib == {"classname": "clean.rules", "name": "portlint", "file": "clean.rules"}
    assert list(passing) == []


def test_markup_and_control_characters_are_escaped(cli, project, crashing_rule):
    crashing_rule('<b>"a" & \'b\'</b>\x01\x1b\n\ttab')
    code, suites = junit(cli, "etc/rules.v4", "--select", "PL201")  # parses: the XML is well-formed
    (error,) = suites.iter("error")
    assert error.get("message").endswith('ZeroDivisionError: <b>"a" & \'b\'</b>\\x01\\x1b\n\ttab')
    # The failure's text is the text report's, control characters shown as pictures.
    assert error.text.endswith('<b>"a" & \'b\'</b>\u2401\u241b\n\ttab\n    *filter\n    ^')


def test_source_lines_with_control_characters(cli, project):
    (project.root / "odd.rules").write_text("*filter\n-A INPUT -p tcp --dport 2\x013 -j ACCEPT\nCOMMIT\n")
    _, suites = junit(cli, "odd.rules")
    (failure,) = suites.iter("failure")
    assert failure.get("type") == "PL002"
    assert "--dport 2\u24013 -j ACCEPT" in failure.text


def test_internal_errors_are_errors_and_one_of_no_file_has_its_own_suite(cli, project, crashing_rule, broken_plugin):
    crashing_rule("boom")
    code, suites = junit(cli, "etc/rules.v4", "clean.rules", "--select", "PL201")
    assert code == 2
    assert suites.attrib == {"name": "portlint", "tests": "3", "failures": "0", "errors": "3"}
    assert [(s.get("name"), s.get("errors")) for s in suites] == [
        ("etc/rules.v4", "1"), ("clean.rules", "1"), ("portlint", "1")]
    run_case = suites[2][0]
    assert run_case.attrib == {"classname": "portlint", "name": "PL000 internal-error 1:1"}
    assert run_case[0].tag == "error" and run_case[0].get("message") == broken_plugin
    assert run_case[0].text == f"portlint: PL000 [error] {broken_plugin}"


def test_clean_files_are_passing_test_cases(cli, project):
    code, suites = junit(cli, "clean.rules")
    assert code == 0
    assert suites.attrib == {"name": "portlint", "tests": "1", "failures": "0", "errors": "0"}
    assert [case.get("name") for case in suites.iter("testcase")] == ["portlint"]


def test_no_file_is_an_empty_report(cli, project):
    (project.root / "empty").mkdir()
    code, suites = junit(cli, "empty")
    assert code == 0
    assert suites.attrib == {"name": "portlint", "tests": "0", "failures": "0", "errors": "0"}
    assert list(suites) == []


def test_output_file_declares_the_encoding_it_is_written_in(cli, project):
    (project.root / "règles.rules").write_text((project.root / "etc" / "rules.v4").read_text())
    cli("règles.rules", "--select", "PL201", "--output-format", "junit", "--output-file", "report.xml")
    data = (project.root / "report.xml").read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n')
    suites = ET.fromstring(data)  # bytes: the parser decodes them as declared
    assert [suite.get("name") for suite in suites] == ["règles.rules"]
