"""``--output-format github``: GitHub Actions workflow commands, one per finding."""
from __future__ import annotations


def test_one_annotation_per_finding_with_the_severity_as_command(cli, project):
    result = cli("etc/rules.v4", "clean.rules", *project.select, "--output-format", "github")
    assert result.code == 1
    messages = project.messages
    assert result.out.splitlines() == [
        "::warning file=etc/rules.v4,line=3,col=32,endLine=3,endColumn=34,title=PL201 cleartext-service::"
        + messages["PL201"],
        "::error file=etc/rules.v4,line=4,col=32,endLine=4,endColumn=36,title=PL203 exposed-admin-service::"
        + messages["PL203"],
        "::notice file=etc/rules.v4,line=5,col=32,endLine=5,endColumn=34,title=PL104 protocol-mismatch::"
        + messages["PL104"],
    ]


def test_message_escapes_percent_and_line_breaks(cli, project, crashing_rule):
    crashing_rule("100% broken\r\nnext: a, b")
    result = cli("etc/rules.v4", "--select", "PL201", "--output-format", "github")
    assert result.code == 2
    (line,) = result.out.splitlines()
    assert line == ("::error file=etc/rules.v4,line=1,col=1,title=PL000 internal-error::rule PL201 "
                    "(cleartext-service, plugin portlint.rules.services) crashed: ZeroDivisionError: "
                    "100%25 broken%0D%0Anext: a, b")


def test_properties_also_escape_colon_and_comma(cli, project):
    (project.root / "a,b:c%.rules").write_text((project.root / "etc" / "rules.v4").read_text())
    result = cli("a,b:c%.rules", "--select", "PL201", "--output-format", "github")
    assert result.out.startswith("::warning file=a%2Cb%3Ac%25.rules,line=3,col=32,")


def test_a_path_outside_the_working_directory_stays_absolute(cli, project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "rules.v4"
    outside.write_text((project.root / "etc" / "rules.v4").read_text())
    result = cli(outside, "--select", "PL201", "--output-format", "github")
    assert result.out.startswith(f"::warning file={outside},line=3,col=32,")


def test_an_internal_error_of_no_file_has_no_file_property(cli, project, broken_plugin):
    result = cli("clean.rules", "--output-format", "github")
    assert result.code == 2
    assert result.out == f"::error title=PL000 internal-error::{broken_plugin}\n"


def test_no_findings_no_output(cli, project):
    result = cli("clean.rules", "--output-format", "github")
    assert (result.code, result.out) == (0, "")
