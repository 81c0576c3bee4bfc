"""``pytest --portlint`` through pytest's own ``pytester``: real pytest runs over throwaway
projects. Each run is its own process: an in-process run would drop the modules it imported
(ruamel's among them) when it ends, and the rest of the suite would see them imported twice."""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
#: The plugin of this checkout, by module name: the runs load no plugin from entry points.
PLUGIN = ("-p", "portlint.pytest_plugin")
TELNET = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT\nCOMMIT\n"
BROKEN = "*filter\n-A INPUT -p tcp --dport 70000 -j ACCEPT\nCOMMIT\n"
COMPOSE = 'services:\n  web:\n    image: nginx\n    ports:\n      - "127.0.0.1:8080:80"\n'
APP_TEST = "def test_app():\n    pass\n"


@dataclass
class Project:
    """A repository with an application test and infrastructure files."""

    pytester: pytest.Pytester

    @property
    def path(self) -> Path:
        return self.pytester.path

    def write(self, name: str, text: str) -> None:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def pytest(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(*PLUGIN, "-p", "no:cacheprovider", *args)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch) -> Project:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    project = Project(pytester)
    for name, text in {"tests/test_app.py": APP_TEST, "infra/rules.v4": TELNET, "infra/compose.yaml": COMPOSE,
                       "infra/notes.txt": "deploy on Tuesdays\n", "infra/README.md": "firewall rules\n"}.items():
        project.write(name, text)
    return project


VERBOSE_LINE = re.compile(r"^(\S+::\S+ (?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS))\b")


def outcomes(result: pytest.RunResult) -> list[str]:
    """``-v``'s lines: node id and outcome (not the short summary, which CI=true leaves whole)."""
    return sorted(m.group(1) for m in map(VERBOSE_LINE.match, result.outlines) if m)


def test_without_the_option_nothing_is_collected_and_portlint_is_not_imported(project):
    project.write("test_imports.py", textwrap.dedent("""
        import sys

        def test_only_the_plugin_module_is_imported():
            loaded = sorted(m for m in sys.modules if m.split(".")[0] == "portlint")
            assert loaded == ["portlint", "portlint.pytest_plugin"]
    """))
    result = project.pytest("-v")
    result.assert_outcomes(passed=2)
    assert outcomes(result) == ["test_imports.py::test_only_the_plugin_module_is_imported PASSED",
                              "tests/test_app.py::test_app PASSED"]


def test_the_documented_configuration_lints_every_file_portlint_reads(project):
    """docs/examples/ci/pytest-pyproject.toml, as docs/integrations.md shows it: the notes
    and the README are not files portlint reads, and are not collected."""
    project.write("pyproject.toml", (ROOT / "docs" / "examples" / "ci" / "pytest-pyproject.toml").read_text())
    result = project.pytest("-v")
    assert outcomes(result) == ["infra/compose.yaml::portlint PASSED", "infra/rules.v4::portlint FAILED",
                              "tests/test_app.py::test_app PASSED"]
    failure = result.outlines[result.outlines.index(next(l for l in result.outlines if "_ portlint infra/rules.v4 _" in l)):]
    assert failure[1:5] == [
        f"{project.path / 'infra' / 'rules.v4'}:3:32: PL201 [warning] 23/tcp (telnet, cleartext) accepted from any "
        "source on INPUT; use SSH (22/tcp) instead",
        "    -A INPUT -p tcp -m tcp --dport 23 -j ACCEPT",
        "                                   ^^",
        "Found 1 finding in 1 file: 1 warning.",
    ]


def test_errors_fail_the_item_and_items_carry_the_portlint_marker(project):
    project.write("infra/rules.v4", BROKEN)
    result = project.pytest("--portlint", "-v", "-m", "portlint")
    result.assert_outcomes(passed=1, failed=1, deselected=1)
    assert f"{project.path / 'infra' / 'rules.v4'}:2:25: PL002 [error] invalid port '70000': ports are 0-65535" \
        in result.outlines


@pytest.mark.parametrize("config", ['fail-on = "error"\n', '[severity]\ncleartext-service = "info"\n'],
                         ids=["fail-on-error", "info-finding"])
def test_findings_below_fail_on_pass_and_are_shown_with_rP(project, config):
    project.write(".portlint.toml", config)
    result = project.pytest("--portlint", "-rP", "infra")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*Captured portlint call*", "*rules.v4:3:32: PL201 *23/tcp (telnet, cleartext)*"])


def test_excluded_files_and_skipped_folders_are_not_collected(project):
    """The configuration's ``exclude`` and the folders portlint never walks, even where
    pytest's own ``norecursedirs`` lets pytest into them."""
    project.write(".portlint.toml", 'exclude = ["infra/legacy/*"]\n')
    project.write("tox.ini", "[pytest]\nnorecursedirs = build\n")
    for folder in ("infra/legacy", "infra/node_modules/pkg", "infra/.git", "infra/venv"):
        project.write(f"{folder}/rules.v4", TELNET)
    result = project.pytest("--portlint", "--collect-only", "-q", "infra")
    assert sorted(line for line in result.outlines if "::" in line) == [
        "infra/compose.yaml::portlint", "infra/rules.v4::portlint"]


def test_a_bad_configuration_is_a_usage_error(project):
    project.write(".portlint.toml", 'fail-on = "fatal"\n')
    result = project.pytest("--portlint")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: portlint: *.portlint.toml: fail-on: unknown severity 'fatal'*"])
