"""Every rule's failing and passing cases, from ``tests/rules/cases/CODE.yaml``.

A case file::

    rule: PL101
    cases:
      - name: what the case shows
        format: iptables
        input: |
          ...
        expect: ["2:25 PL101"]          # line:column CODE of each finding, in order; [] passes
        messages: ["reserved"]           # optional: substrings of the messages, in order
        settings: {ephemeral_range: 32768-60999}   # optional
        select: [PL004, PL201]           # optional: the rules to run (default: the rule alone)

A case of a project rule gives ``files`` (name: text) instead of ``format`` and ``input``; the
files are written to a folder, the project's root, and ``check`` names the ones the run is
given (default: every file). Its ``expect`` entries are ``file:line:column CODE``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from portlint.model import PortRange
from portlint.rules import Settings

CASES_DIR = Path(__file__).parent / "cases"


def load_cases():
    yaml = YAML(typ="safe")
    for path in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            yield pytest.param(data["rule"], case, id=f"{data['rule']}: {case['name']}")


def _settings(raw: dict | None) -> Settings:
    raw = dict(raw or {})
    if "ephemeral_range" in raw:
        lo, hi = str(raw["ephemeral_range"]).split("-")
        raw["ephemeral_range"] = PortRange(int(lo), int(hi))
    return Settings(**raw)


def _lint_project(registry, case, select, settings, root: Path):
    """Lint the case's files from its project root, so paths in messages are relative to it."""
    from portlint.catalog import load
    from portlint.discovery import Candidate
    from portlint.linter import Linter, Selection
    from portlint.project import ProjectScope

    for name, text in case["files"].items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    linter = Linter(registry, load(), settings, Selection(registry.rules.values(), select, None),
                    project=ProjectScope(root))
    report = linter.new_report()
    checked = [Candidate(name, True) for name in case.get("check", case["files"])]
    linter.run(linter.select_files(checked, None, report), report)
    assert not report.problems, report.problems
    return report.findings


def _position(finding, root: Path | None) -> str:
    loc = finding.location
    where = f"{loc.path}:" if root else ""
    return f"{where}{loc.line}:{loc.column} {finding.code}"


@pytest.mark.parametrize("code,case", list(load_cases()))
def test_rule_case(lint, registry, tmp_path, monkeypatch, code, case):
    select = case.get("select", [code])
    settings = _settings(case.get("settings"))
    project = tmp_path if "files" in case else None
    if project:
        monkeypatch.chdir(project)
        findings = _lint_project(registry, case, select, settings, project)
    else:
        findings = lint(case["input"], case["format"], select=select, settings=settings)
    got = [_position(f, project) for f in findings if f.code == code]
    assert got == case["expect"], [f.message for f in findings]
    for finding, wanted in zip([f for f in findings if f.code == code], case.get("messages", ())):
        assert wanted in finding.message
