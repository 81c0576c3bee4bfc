"""Project rules in the linter: the project root, the files read besides the checked ones, and
the same suppressions, per-file ignores and crash isolation as every other rule."""
from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from portlint.project import ProjectScope, common_folder, git_work_tree

COMPOSE = textwrap.dedent("""\
    services:
      db:
        image: postgres:16
        ports:
          - "5432:5432"
""")
FIREWALL = textwrap.dedent("""\
    *filter
    :INPUT DROP [0:0]
    -A INPUT -p tcp --dport 22 -j ACCEPT
    -A INPUT -p tcp --dport 23 -j ACCEPT
    COMMIT
""")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git work tree with a compose file and a firewall in different folders; the working
    folder is its top, as for pre-commit."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write(root / "deploy" / "compose.yaml", COMPOSE)
    write(root / "hosts" / "app1" / "rules.v4", FIREWALL)
    monkeypatch.chdir(root)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def codes(result) -> list[tuple[str, str, int]]:
    return [(f["code"], f["path"], f["line"]) for f in result.json()]


# -- the project root -------------------------------------------------------------------------

def test_the_root_is_the_configured_one_then_the_configuration_folder_then_git(tmp_path):
    top = tmp_path / "top"
    write(top / "a" / "b" / "compose.yaml", COMPOSE)
    write(top / "a" / "c" / "rules.v4", FIREWALL)
    files = [str(top / "a" / "b" / "compose.yaml"), str(top / "a" / "c" / "rules.v4")]
    assert common_folder(files) == top / "a"
    assert ProjectScope().root_of(files) is None  # nothing marks a project: the files alone
    (top / ".git").write_text("gitdir: /elsewhere\n")  # a linked work tree
    assert git_work_tree(top / "a" / "b") == top
    assert ProjectScope().root_of(files) == top
    write(top / "a" / "pyproject.toml", "[tool.black]\n")  # no [tool.portlint]: not portlint's
    assert ProjectScope().root_of(files) == top
    write(top / "a" / ".portlint.toml", "")
    assert ProjectScope().root_of(files) == top / "a"
    assert ProjectScope(find_config=False).root_of(files) == top
    assert ProjectScope(root=top / "a" / "c").root_of(files) == top / "a" / "c"


def test_pre_commit_names_the_compose_file_alone_and_the_firewall_is_found_under_the_root(cli, repo):
    result = cli("check", "deploy/compose.yaml", "--output-format", "json")
    assert codes(result) == [("PL203", "deploy/compose.yaml", 5), ("PL401", "deploy/compose.yaml", 5),
                             ("PL501", "deploy/compose.yaml", 5)]
    assert "host firewall drops it (hosts/app1/rules.v4:2, policy drop of INPUT)" in result.json()[2]["message"]


def test_outside_any_project_one_named_file_is_its_project_and_nothing_beside_it_is_read(cli, tmp_path, monkeypatch):
    # No configuration, no git: a file in a big folder (~/Downloads, /tmp) must not make the
    # run read the folder. A broken firewall beside it would crash nothing anyway, but a
    # firewall that drops the port would be PL501 if it were read.
    folder = tmp_path / "downloads"
    write(folder / "compose.yaml", COMPOSE)
    write(folder / "rules.v4", FIREWALL)
    monkeypatch.chdir(folder)
    alone = cli("check", "compose.yaml", "--output-format", "json")
    assert "PL501" not in [code for code, _, _ in codes(alone)]
    both = cli("check", "compose.yaml", "rules.v4", "--output-format", "json")
    assert ("PL501", "compose.yaml", 5) in codes(both)
    rooted = cli("check", "compose.yaml", "--project-root", ".", "--output-format", "json")
    assert ("PL501", "compose.yaml", 5) in codes(rooted)


def test_files_read_for_the_project_report_nothing_themselves(cli, repo):
    # rules.v4 opens telnet (PL201): checked, it is reported; read for the project, it is not.
    checked = cli("check", ".", "--output-format", "json")
    assert ("PL201", "./hosts/app1/rules.v4", 4) in codes(checked)
    result = cli("check", "deploy/compose.yaml", "--output-format", "json", "--select", "PL201,PL501")
    assert codes(result) == [("PL501", "deploy/compose.yaml", 5)]
    assert "in 1 file" in cli("check", "deploy/compose.yaml", "--select", "PL501").out


def test_the_project_root_option_and_configuration_bound_what_is_read(cli, repo):
    assert codes(cli("check", "deploy/compose.yaml", "--output-format", "json", "--select", "PL501",
                     "--project-root", "deploy")) == []
    write(repo / ".portlint.toml", 'exclude = ["hosts/*"]\n')
    assert codes(cli("check", "deploy/compose.yaml", "--output-format", "json", "--select", "PL501")) == []
    write(repo / ".portlint.toml", 'project-root = "deploy"\n')
    assert codes(cli("check", "deploy/compose.yaml", "--output-format", "json", "--select", "PL501")) == []
    bad = cli("check", "deploy/compose.yaml", "--project-root", "nowhere")
    assert bad.code == 2 and "is not a folder" in bad.err


def test_the_project_is_read_only_when_a_checked_file_concerns_a_project_rule(cli, repo, monkeypatch):
    read: list[Path] = []
    candidates = ProjectScope.candidates
    monkeypatch.setattr(ProjectScope, "candidates", lambda self, root: read.append(root) or candidates(self, root))
    cli("check", "hosts/app1/rules.v4")
    cli("check", "deploy/compose.yaml", "--ignore", "PL5")
    assert read == []
    cli("check", "deploy/compose.yaml")
    assert read == [repo]


# -- suppressions, per-file ignores, internal errors -----------------------------------------

def test_an_inline_suppression_in_the_file_a_project_finding_points_at_silences_it(cli, repo):
    write(repo / "deploy" / "compose.yaml", COMPOSE.replace('"5432:5432"', '"5432:5432"  # portlint: ignore[PL501]'))
    result = cli("check", "deploy/compose.yaml", "--output-format", "json", "--select", "PL501,PL004")
    assert codes(result) == []  # suppressed, and the suppression is used (no PL004)


def test_a_suppression_in_an_override_file_silences_the_finding_located_there(cli, repo):
    write(repo / "deploy" / "compose.override.yaml", textwrap.dedent("""\
        services:
          db:
            ports:
              # portlint: ignore[docker-bypasses-firewall] -- the DBA's laptop, a lab host
              - "6432:5432"
    """))
    result = cli("check", "deploy/compose.yaml", "--output-format", "json", "--select", "PL501,PL004")
    assert codes(result) == [("PL501", "deploy/compose.yaml", 5)]


def test_per_file_ignores_apply_to_project_findings(cli, repo):
    write(repo / ".portlint.toml", '[per-file-ignores]\n"deploy/*" = ["PL501"]\n')
    assert codes(cli("check", "deploy/compose.yaml", "--output-format", "json", "--select", "PL501")) == []


def test_a_project_rule_that_raises_is_an_internal_error_and_the_run_goes_on(registry, repo):
    from portlint.catalog import load
    from portlint.linter import Linter, Selection
    from portlint.rules import ProjectRule, Settings

    class Crashing(ProjectRule):
        """Fails."""

        code, name, summary = "XPL999", "crashing-project-rule", "fails"
        severity = registry.rules["PL501"].severity

        def check_project(self, ctx):
            raise RuntimeError("boom")

    rules = {**registry.rules, Crashing.code: Crashing}
    broken = dataclasses.replace(registry, rules=rules, origin={**registry.origin, Crashing: "example-plugin"})
    linter = Linter(broken, load(), Settings(), Selection(rules.values(), ["PL501", "XPL999"], None))
    report = linter.run([("deploy/compose.yaml", "compose")])
    assert [(f.code, f.location.path) for f in report.findings] == [("PL000", ""), ("PL501", "deploy/compose.yaml")]
    assert report.findings[0].message == ("rule XPL999 (crashing-project-rule, plugin example-plugin) crashed: "
                                          "RuntimeError: boom")


def test_one_text_linted_on_its_own_reads_nothing_else(lint, repo):
    assert [f.code for f in lint(COMPOSE, "compose", select=["PL501"], path="deploy/compose.yaml")] == []
