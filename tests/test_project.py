"""Meta checks: every rule is documented and tested; README and CI agree."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ["## What it does", "## Why it matters", "## Example", "## How to fix", "## Options", "## References"]
#: Rules whose findings come from outside any input a case file can give.
NO_CASES = {"PL000"}


def builtin_rules(registry):
    return [r for r in registry.rules.values() if registry.origin[r].startswith("portlint.")]


def test_codes_and_names_are_unique(registry):
    rules = list(registry.rules.values())
    assert len({r.code for r in rules}) == len({r.name for r in rules}) == len(rules)


def test_every_rule_has_a_documentation_page(registry):
    for rule in builtin_rules(registry):
        page = ROOT / "docs" / "rules" / f"{rule.code}.md"
        assert page.is_file(), f"{rule.code} has no docs/rules/{rule.code}.md"
        text = page.read_text(encoding="utf-8")
        assert text.startswith(f"# {rule.code} {rule.name}\n"), page
        positions = [text.find(section) for section in SECTIONS]
        assert -1 not in positions and positions == sorted(positions), f"{page}: sections {SECTIONS}"


def test_every_rule_has_failing_and_passing_cases(registry):
    yaml = YAML(typ="safe")
    cases: dict[str, list] = {}
    for path in (ROOT / "tests" / "rules" / "cases").glob("*.yaml"):
        data = yaml.load(path.read_text(encoding="utf-8"))
        cases.setdefault(data["rule"], []).extend(data["cases"])
    for rule in builtin_rules(registry):
        if rule.code in NO_CASES:
            continue
        found = cases.get(rule.code, [])
        assert any(c["expect"] for c in found), f"{rule.code} has no failing case"
        assert any(not c["expect"] for c in found), f"{rule.code} has no passing case"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^\$ (.+)$", readme, re.M)
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_quickstart_lints_the_shipped_examples():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^\$ (.+)$", readme, re.M)
    assert any("portlint docs/examples" in c for c in commands)
    assert (ROOT / "docs" / "examples" / "rules.v4").is_file()


@pytest.mark.parametrize("page", ["index", "usage", "catalog", "architecture", "plugins"])
def test_docs_pages_exist(page):
    assert (ROOT / "docs" / f"{page}.md").is_file()
