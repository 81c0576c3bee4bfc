"""The linter pauses the cycle collector while it builds a document and its rules' indexes, and
leaves no garbage behind for the run (portlint/cycles.py)."""
import gc
import weakref

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


class Node:
    """A garbage cycle when it points at itself."""

    def __init__(self) -> None:
        self.me = self


def garbage_cycle() -> weakref.ref:
    return weakref.ref(Node())


@pytest.fixture
def linter(registry):
    return Linter(registry, load(), Settings(), Selection(registry.rules.values(), ["ALL"], None))


@pytest.fixture
def collecting():
    gc.collect()
    gc.enable()
    yield
    gc.enable()


@pytest.mark.parametrize("fmt", sorted(SOURCES))
def test_a_big_document_is_moved_to_the_oldest_generation(linter, fmt, monkeypatch, collecting):
    linter.parse(SOURCES[fmt], "input", fmt)  # the first parse of the process loads grammars
    monkeypatch.setattr(cycles, "FREEZE_FROM", 1)  # every document counts as big
    document, crashed = linter.parse(SOURCES[fmt], "input", fmt)
    assert gc.isenabled() and crashed == []
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert document.declarations and all(id(d) in oldest for d in document.declarations)


def test_a_small_stretch_leaves_its_garbage_to_the_young_collections(collecting):
    with cycles.paused_cycle_collection():
        assert not gc.isenabled()
        cycle = garbage_cycle()
    assert gc.isenabled() and cycle() is not None
    gc.collect(1)  # a young collection, as the run's next allocations would make
    assert cycle() is None


def test_garbage_moved_with_big_stretches_is_freed_every_few_million_objects(monkeypatch, collecting):
    """Objects moved to the oldest generation unscanned escape Python's own accounting: without
    the full collections, a long run (a fuzzing campaign reached 24 GB) keeps every cycle."""
    monkeypatch.setattr(cycles, "FREEZE_FROM", 1)
    monkeypatch.setattr(cycles, "COLLECT_AFTER", 10_000)
    monkeypatch.setattr(cycles, "_moved", 0)
    with cycles.paused_cycle_collection():
        cycle = garbage_cycle()
    gc.collect(1)
    assert cycle() is not None  # moved to the oldest generation: young collections miss it
    with cycles.paused_cycle_collection():
        kept = [[i] for i in range(10_000)]  # enough objects moved: a full collection follows
    assert cycle() is None and kept and cycles._moved == 0


def test_the_collector_is_paused_while_rules_run(linter, monkeypatch, collecting):
    seen = []
    for rule in linter.rules:
        if rule.code == "PL101":
            check = rule.check
            monkeypatch.setattr(rule, "check", lambda ctx: seen.append(gc.isenabled()) or check(ctx))
    linter.lint_text(SOURCES["iptables"], "input", "iptables")
    assert seen == [False] and gc.isenabled()


def test_a_disabled_collector_stays_disabled_and_an_exception_restores_it(collecting):
    gc.disable()
    with cycles.paused_cycle_collection():
        pass
    assert not gc.isenabled()
    gc.enable()
    with pytest.raises(ValueError):
        with cycles.paused_cycle_collection():
            raise ValueError
    assert gc.isenabled()
