"""The configurations docs/integrations.md shows are the files under docs/examples/ci/, word
for word; the CI ones are valid YAML whose portlint command lines portlint's own argument
parser accepts, writing the report where the next step reads it. (The pre-commit and pytest
ones are run for real by test_pre_commit.py and test_pytest_plugin.py.)"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from portlint.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples" / "ci"
PAGE = ROOT / "docs" / "integrations.md"


def load(name: str):
    return YAML(typ="safe").load((EXAMPLES / name).read_text())


def strings(node):
    """Every string in a YAML document."""
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def portlint_commands(document) -> list:
    """The parsed arguments of every ``portlint ...`` command line in a CI file."""
    commands = []
    for text in strings(document):
        for line in text.splitlines():
            words = shlex.split(line)
            if words[:1] == ["portlint"] and len(words) > 1:  # not a bare name (job, category)
                try:
                    commands.append(build_parser().parse_args(words[1:]))
                except SystemExit:
                    pytest.fail(f"portlint rejects the command line {line!r}")
    return commands


def test_github_actions_uploads_the_sarif_report_portlint_writes():
    workflow = load("github-actions.yml")
    (command,) = portlint_commands(workflow)
    assert (command.command, command.output_format, command.paths) == ("check", "sarif", ["."])
    (upload,) = [s for s in workflow["jobs"]["portlint"]["steps"]
                 if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert upload["with"]["sarif_file"] == command.output_file


def test_gitlab_ci_publishes_the_code_quality_report_portlint_writes():
    job = load("gitlab-ci.yml")["portlint"]
    (command,) = portlint_commands(job)
    assert (command.command, command.output_format, command.paths) == ("check", "gitlab", ["."])
    assert job["artifacts"]["reports"]["codequality"] == command.output_file
    assert job["artifacts"]["when"] == "always"


def test_a_bad_command_line_would_be_caught():
    with pytest.raises(pytest.fail.Exception, match="portlint rejects"):
        portlint_commands({"script": ["portlint check --output-fromat sarif ."]})


def test_the_pre_commit_example_names_the_hook():
    (repo,) = load("pre-commit-config.yaml")["repos"]
    assert [hook["id"] for hook in repo["hooks"]] == ["portlint"]


def code_blocks(markdown: str) -> list[str]:
    return [m.group(2) for m in re.finditer(r"^```(yaml|toml)\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL)]


def test_the_page_shows_each_example_word_for_word_and_nothing_else():
    blocks = code_blocks(PAGE.read_text())
    examples = {path.name: path.read_text() for path in sorted(EXAMPLES.iterdir())}
    assert sorted(blocks) == sorted(examples.values()), "docs/integrations.md and docs/examples/ci/ differ"
    assert len(blocks) == 4


def test_the_page_is_linked_from_the_index_and_the_readme():
    assert "(integrations.md)" in (ROOT / "docs" / "index.md").read_text()
    assert "(docs/integrations.md)" in (ROOT / "README.md").read_text()
