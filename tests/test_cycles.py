"""The linter pauses the cycle collector while it builds a document and its rules' indexes."""
import gc

import pytest

from portlint import cycles
from portlint.catalog import load
from portlint.linter import Linter, Selection
from portlint.rules import Settings

SOURCES = {
    "iptables": "*filter\n:INPUT DROP [0:0]\n:WEB - [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
                "-A INPUT -j WEB\n-A WEB -p tcp -m multiport --dports 80,443 -j ACCEPT\nCOMMIT\n",
    "nftables": "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority 0; policy drop;\n"
                "\t\ttcp dport { 22, 80 } accept\n\t}\n}\n",
    "compose": "services:\n  web:\n    image: nginx\n    ports:\n      - \"8080:80\"\n",
}


@pytest.fixture
def linter(registry):
    return Linter(registry, load(), Settings(), Selection(registry.rules.values(), ["ALL"], None))


@pytest.mark.parametrize("fmt", sorted(SOURCES))
def test_a_parsed_document_is_moved_to_the_oldest_generation_and_the_collector_restored(linter, fmt):
    linter.parse(SOURCES[fmt], "input", fmt)  # the first parse of the process loads grammars
    for was_enabled in (True, False):
        (gc.enable if was_enabled else gc.disable)()
        try:
            document, crashed = linter.parse(SOURCES[fmt], "input", fmt)
            assert gc.isenabled() is was_enabled
            oldest = {id(o) for o in gc.get_objects(generation=2)}
            assert document.declarations and all(id(d) in oldest for d in document.declarations)
            assert crashed == []
        finally:
            gc.enable()


def test_the_collector_is_paused_while_rules_run(linter, monkeypatch):
    seen = []
    for rule in linter.rules:
        if rule.code == "PL101":
            check = rule.check
            monkeypatch.setattr(rule, "check", lambda ctx: seen.append(gc.isenabled()) or check(ctx))
    linter.lint_text(SOURCES["iptables"], "input", "iptables")
    assert seen == [False] and gc.isenabled()


def test_an_exception_inside_restores_the_collector():
    with pytest.raises(ValueError):
        with cycles.paused_cycle_collection():
            assert not gc.isenabled()
            raise ValueError
    assert gc.isenabled()
