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


@pytest.mark.parametrize("code,case", load_cases())
def test_rule_case(lint, code, case):
    select = case.get("select", [code])
    findings = lint(case["input"], case["format"], select=select, settings=_settings(case.get("settings")))
    got = [f"{f.location.line}:{f.location.column} {f.code}" for f in findings if f.code == code]
    assert got == case["expect"], [f.message for f in findings]
    for finding, wanted in zip([f for f in findings if f.code == code], case.get("messages", ())):
        assert wanted in finding.message
