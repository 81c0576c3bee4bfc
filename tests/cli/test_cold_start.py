"""A run imports what the files at hand need, nothing more: pre-commit starts a process per
commit, and every import is paid again each time (docs/performance.md)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

#: Imports that cost milliseconds and that a plain run never needs.
HEAVY = {"lark", "xml.etree.ElementTree", "hashlib", "traceback", "importlib.metadata"}
PRINT_MODULES = "import sys; sys.stderr.write('\\n'.join(sys.modules))"  # stdout has the findings


def imported(*code: str, cwd=None) -> set[str]:
    """The modules ``code`` imports, beyond what Python itself starts with."""
    def modules(source: str) -> set[str]:
        proc = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, cwd=cwd,
                              env=os.environ, timeout=120, check=True)
        return set(proc.stderr.split())

    return modules("\n".join([*code, PRINT_MODULES])) - modules(PRINT_MODULES)


def run(*args) -> str:
    return f"from portlint.cli import main; main({[str(a) for a in args]!r})"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "rules.v4").write_text("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n")
    (tmp_path / "compose.yaml").write_text(textwrap.dedent("""\
        services:
          web:
            image: nginx
            ports: ["80:80", "127.0.0.1:8443:443/tcp", "[::1]:9443:443", "9000-9001:9000-9001"]
            expose: ["5000"]
        """))
    return tmp_path


def test_an_iptables_file_loads_neither_grammar_nor_yaml_nor_the_docker_checks(project):
    modules = imported(run("--isolated", project / "rules.v4"), cwd=project)
    assert "portlint.parsers.iptables" in modules
    assert not modules & (HEAVY | {"ruamel.yaml", "portlint.docker_paths", "portlint.parsers.compose_project"})


def test_a_compose_file_with_plain_ports_loads_no_grammar_nor_the_docker_checks_without_a_firewall(project):
    modules = imported(run("--isolated", project / "compose.yaml"), cwd=project)
    assert "ruamel.yaml" in modules
    assert not modules & (HEAVY | {"portlint.docker_paths", "portlint.parsers.iptables_options"})  # the file alone


def test_a_compose_file_of_a_project_with_a_firewall_loads_the_docker_checks(project):
    (project / ".git").mkdir()  # the project root: rules.v4 belongs to the project
    modules = imported(run("--isolated", project / "compose.yaml"), cwd=project)
    assert {"ruamel.yaml", "portlint.docker_paths"} <= modules  # the firewall beside it is judged
    assert not modules & HEAVY


def test_a_variable_brings_the_interpolation_grammar(project):
    (project / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n    ports: ['${PORT:-80}:80']\n")
    assert "lark" in imported(run("--isolated", project / "compose.yaml"), cwd=project)


def test_a_junit_report_imports_xml_and_registering_it_does_not(project):
    text = imported(run("--isolated", project / "rules.v4"), cwd=project)
    junit = imported(run("--isolated", "--output-format", "junit", project / "rules.v4"), cwd=project)
    assert "xml.etree.ElementTree" in junit - text

