"""The verdict of a firewall's chains on the new connections to some ports (portlint.verdicts)."""
from __future__ import annotations

import textwrap
import time

import pytest

from portlint.exposure import ChainGraph
from portlint.model import PortRange
from portlint.verdicts import ChainWalker, may_match, probe, sees


@pytest.fixture
def verdict(parse):
    """The verdict of the chain ``chain`` (a base chain: with its policy) of an iptables dump
    on new tcp connections to ``port``."""

    def run(rules: str, port: int, chain: str = "INPUT", protocol: str = "tcp"):
        document = parse(textwrap.dedent(rules), "iptables", "rules.v4")
        walker = ChainWalker(ChainGraph(document))
        packets = probe(protocol, (PortRange.single(port),))
        policy = next((p for p in document.policies if p.chain == chain and p.hook), None)
        return walker.base(policy, packets) if policy else walker.chain(("ip", "filter", chain), packets)

    return run


def line(verdict) -> int:
    return verdict.decided_by.location.line


def test_the_policy_decides_what_no_rule_did(verdict):
    v = verdict("""\
        *filter
        :INPUT DROP [0:0]
        -A INPUT -i lo -j ACCEPT
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -p tcp --dport 22 -j ACCEPT
        COMMIT
    """, 5432)
    assert (v.action, line(v), v.partials) == ("drop", 2, ())
    assert v.closes and v.closes_all


def test_an_accept_of_the_port_decides_before_the_policy(verdict):
    v = verdict("""\
        *filter
        :INPUT DROP [0:0]
        -A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
        COMMIT
    """, 443)
    assert (v.action, line(v)) == ("accept", 3)


def test_a_source_allowlist_is_a_partial_accept_before_the_final_reject(verdict):
    v = verdict("""\
        *filter
        :INPUT ACCEPT [0:0]
        -A INPUT -s 10.0.0.0/8 -p tcp --dport 5432 -j ACCEPT
        -A INPUT -i eth1 -j ACCEPT
        -A INPUT -j REJECT
        COMMIT
    """, 5432)
    assert (v.action, line(v)) == ("reject", 5)
    by_source, interface = v.partials
    assert (by_source.action, by_source.by_source, by_source.names_ports) == ("accept", True, True)
    assert (interface.by_source, interface.names_ports) == (False, False)
    assert v.closes and not v.closes_all


def test_jumps_decide_in_the_chain_they_enter_and_carry_its_matches(verdict):
    rules = """\
        *filter
        :INPUT DROP [0:0]
        :PGSQL - [0:0]
        -A INPUT -p tcp --dport 5432 -j PGSQL
        -A INPUT -p tcp --dport 5432 -j ACCEPT
        -A PGSQL -i eth1 -j ACCEPT
        -A PGSQL -j DROP
        COMMIT
    """
    v = verdict(rules, 5432)
    assert (v.action, line(v)) == ("drop", 7)
    (partial,) = v.partials
    assert partial.rule.location.line == 6 and partial.names_ports and not partial.by_source
    assert verdict(rules, 22).action == "drop" and line(verdict(rules, 22)) == 2  # PGSQL is not entered


def test_a_return_or_the_end_of_a_user_chain_hands_the_probe_back(verdict):
    rules = """\
        *filter
        :INPUT DROP [0:0]
        :DOCKER-USER - [0:0]
        -A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
        -A DOCKER-USER -s 192.0.2.0/24 -j RETURN
        -A DOCKER-USER -p tcp --dport 8080 -j RETURN
        -A DOCKER-USER -j DROP
        COMMIT
    """
    returned = verdict(rules, 8080, "DOCKER-USER")
    assert (returned.action, returned.decided_by) == (None, None)
    dropped = verdict(rules, 9000, "DOCKER-USER")
    assert (dropped.action, line(dropped)) == ("drop", 7)
    assert [p.action for p in dropped.partials] == ["return"]  # the source allowlist; not the states rule
    assert not dropped.closes_all


def test_an_undeclared_policy_leaves_the_verdict_open(verdict):
    v = verdict("""\
        *filter
        -A INPUT -p tcp --dport 22 -j ACCEPT
        COMMIT
    """, 5432)
    assert v.action is None and not v.closes


def test_a_goto_into_a_chain_that_returns_leaves_the_calling_chain(verdict):
    v = verdict("""\
        *filter
        :INPUT DROP [0:0]
        :LOGGED - [0:0]
        -A INPUT -p tcp --dport 5432 -g LOGGED
        -A INPUT -p tcp --dport 5432 -j ACCEPT
        -A LOGGED -j LOG
        COMMIT
    """, 5432)
    assert (v.action, line(v)) == ("drop", 2)


def test_a_loop_of_jumps_does_not_hang(verdict):
    v = verdict("""\
        *filter
        :INPUT DROP [0:0]
        :A - [0:0]
        :B - [0:0]
        -A INPUT -j A
        -A A -j B
        -A B -j A
        COMMIT
    """, 80)
    assert (v.action, line(v)) == ("drop", 2)


def test_rules_that_cannot_match_the_probe_are_skipped(verdict):
    v = verdict("""\
        *filter
        :INPUT ACCEPT [0:0]
        -A INPUT -i lo -j DROP
        -A INPUT -p udp --dport 53 -j DROP
        -A INPUT -p tcp --dport 1:1023 -j DROP
        -A INPUT -p tcp ! --dport 5432 -j DROP
        -A INPUT -m state --state ESTABLISHED -j DROP
        COMMIT
    """, 5432)
    assert (v.action, line(v), v.partials) == ("accept", 2, ())


def test_may_match_and_families():
    packets = probe("tcp", (PortRange(8000, 8010),))
    assert may_match(packets._replace(dport=(PortRange(8010, 9000),)), packets)
    assert not may_match(packets._replace(protocol=(True, "tcp")), packets)
    assert sees("inet", frozenset({"ip6"})) and sees("ip", frozenset({"ip", "ip6"}))
    assert not sees("ip6", frozenset({"ip"})) and not sees("bridge", frozenset({"ip"}))


def test_a_probe_meets_only_the_rules_that_may_match_its_ports(parse):
    rules = "*filter\n:INPUT DROP [0:0]\n" + "".join(
        f"-A INPUT -s 10.0.{i % 250}.1 -p tcp --dport {1024 + i} -j ACCEPT\n" for i in range(4000)) + "COMMIT\n"
    document = parse(rules, "iptables", "rules.v4")
    walker = ChainWalker(ChainGraph(document))
    policy = document.policies[0]
    walker.base(policy, probe("tcp", (PortRange.single(80),)))  # reads the chain once
    start = time.perf_counter()
    for port in range(2000, 3000):
        v = walker.base(policy, probe("tcp", (PortRange.single(port),)))
        assert v.action == "drop" and [p.rule.dport.ranges for p in v.partials] == [(PortRange.single(port),)]
    assert time.perf_counter() - start < 0.5  # about 15 ms: a thousand probes, not four million rule checks
