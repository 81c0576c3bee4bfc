"""Containment between rules' matches: sound on real packets, and the index finds what a scan finds."""
from __future__ import annotations

import ipaddress
import random
import time
from functools import lru_cache
from itertools import product

import pytest

from portlint.coverage import CoverIndex, Matches, covers, matches_everything
from portlint.model import FirewallRule, Location, PortMatch, PortRange

PROTOCOLS = [(None, False), ("tcp", False), ("udp", False), ("tcp", True)]
PORT_MATCHES = [None, None, ((22, 22),), ((20, 30),), ((22, 22), (80, 80)), ((0, 1023),), ((25, 25),)]
ADDRESSES = [None, None, "10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "10.1.2.3/32", "!10.0.0.0/8",
             "!10.1.0.0/16", "192.168.0.0/24", "@trusted", "fe80::/10"]
INTERFACES = [None, None, "eth0", "eth1", "eth+", "+", "!eth0", "!eth+", "e+"]
STATES = [(), (), ("NEW",), ("NEW", "ESTABLISHED"), ("ESTABLISHED",)]
CONDITIONS = [(), (), ("-m mark --mark 1",), ("-m mark --mark 1", "-m addrtype --dst-type LOCAL"),
              ("-m limit --limit 1/s",), None]

#: A small universe of packets, each with the unmodeled conditions it satisfies.
PACKETS = list(product(
    ["tcp", "udp", "icmp"], [22, 25, 80, 1000], [22, 1000], ["10.1.2.3", "10.2.0.1", "192.168.0.5", "8.8.8.8"],
    ["eth0", "eth1", "lo"], ["NEW", "ESTABLISHED"],
    [frozenset(), frozenset({"-m mark --mark 1"}), frozenset({"-m mark --mark 1", "-m addrtype --dst-type LOCAL"})],
))


def random_rule(rng: random.Random, line: int) -> FirewallRule:
    protocol, negated = rng.choice(PROTOCOLS)
    ports = {}
    for field in ("dport", "sport", "either"):
        ranges = rng.choice(PORT_MATCHES) if protocol and not negated and rng.random() < 0.6 else None
        if ranges:
            ports[field] = PortMatch(tuple(PortRange(*r) for r in ranges), negated=rng.random() < 0.2)
    return FirewallRule(
        Location("rules", line), "iptables", "ip", "filter", "INPUT", protocol=protocol, protocol_negated=negated,
        saddr=rng.choice(ADDRESSES), daddr=None, iif=rng.choice(INTERFACES), oif=None,
        states=rng.choice(STATES), unmodeled=rng.choice(CONDITIONS), action="accept", **ports)


@lru_cache(maxsize=None)
def _address_matches(text: str | None, address: str) -> bool:
    if text is None:
        return True
    negated, body = text.startswith("!"), text.lstrip("!")
    try:
        inside = ipaddress.ip_address(address) in ipaddress.ip_network(body, strict=False)
    except ValueError:
        inside = hash((body, address)) % 2 == 0  # a named set: any membership will do
    return inside != negated


def _interface_matches(text: str | None, name: str) -> bool:
    if text is None:
        return True
    negated, body = text.startswith("!"), text.lstrip("!")
    inside = name.startswith(body[:-1]) if body.endswith("+") else name == body
    return inside != negated


def _port_matches(match: PortMatch | None, port: int | None) -> bool:
    if match is None:
        return True
    return port is not None and any(port in r for r in match.ranges) != match.negated


def packet_matches(rule: FirewallRule, packet) -> bool:
    """What netfilter would do, written from the rule's fields directly."""
    protocol, dport, sport, saddr, iif, state, conditions = packet
    if protocol == "icmp":
        dport = sport = None
    if rule.protocol is not None and (protocol == rule.protocol) == rule.protocol_negated:
        return False
    either = rule.either is None or _port_matches(rule.either, dport) or _port_matches(rule.either, sport)
    return (either and _port_matches(rule.dport, dport) and _port_matches(rule.sport, sport)
            and _address_matches(rule.saddr, saddr) and _interface_matches(rule.iif, iif)
            and (not rule.states or state in rule.states)
            and rule.unmodeled is not None and set(rule.unmodeled) <= conditions)


@pytest.mark.parametrize("seed", range(4))
def test_containment_is_sound_on_every_packet(seed):
    rng = random.Random(seed)
    rules = [random_rule(rng, n) for n in range(120)]
    matched = {id(r): frozenset(i for i, p in enumerate(PACKETS) if packet_matches(r, p)) for r in rules}
    proved = 0
    for outer, inner in product(rules, rules):
        if covers(Matches.of(outer), Matches.of(inner)):
            proved += 1
            assert matched[id(inner)] <= matched[id(outer)], (outer, inner)
    assert proved > len(rules)  # more than each rule covering itself


@pytest.mark.parametrize("seed", range(4))
def test_the_index_finds_the_earliest_cover_a_scan_finds(seed):
    rng = random.Random(seed)
    index, seen = CoverIndex(), []
    found = 0
    for n in range(400):
        rule = random_rule(rng, n)
        matches = Matches.of(rule)
        expected = next((r for r, m in seen if covers(m, matches)), None)
        assert index.first_cover(matches) is expected, rule
        found += expected is not None
        index.add(matches, rule)
        seen.append((rule, matches))
    assert found > 50


def rule(**fields) -> Matches:
    fields.setdefault("unmodeled", ())
    return Matches.of(FirewallRule(Location("r", 1), "iptables", "ip", "filter", "INPUT", **fields))


def tcp(*ports: int, negated: bool = False) -> PortMatch:
    return PortMatch(tuple(PortRange.single(p) for p in ports), negated)


@pytest.mark.parametrize("outer,inner,expected", [
    (rule(protocol="tcp", dport=tcp(22)), rule(protocol="tcp", dport=tcp(22), saddr="10.0.0.0/8"), True),
    (rule(protocol="tcp", dport=tcp(22), saddr="10.0.0.0/8"), rule(protocol="tcp", dport=tcp(22)), False),
    (rule(saddr="10.0.0.0/8"), rule(saddr="10.1.2.3"), True),
    (rule(saddr="10.0.0.0/8"), rule(saddr="!10.1.0.0/16"), False),
    (rule(saddr="!10.1.0.0/16"), rule(saddr="!10.0.0.0/8"), True),
    (rule(saddr="!10.0.0.0/8"), rule(saddr="192.168.0.0/16"), True),
    (rule(saddr="0.0.0.0/0"), rule(), False),  # inet tables: an IPv4 match is no catch-all
    (rule(saddr="10.0.0.1-10.0.0.9"), rule(saddr="10.0.0.1-10.0.0.9"), True),
    (rule(saddr="10.0.0.0/8"), rule(saddr="10.0.0.1-10.0.0.9"), False),
    (rule(iif="eth+"), rule(iif="eth0"), True),
    (rule(iif="eth0"), rule(iif="eth+"), False),
    (rule(iif="!eth0"), rule(iif="eth1"), True),
    (rule(iif="!eth+"), rule(iif="wlan0"), True),
    (rule(iif="!eth0"), rule(iif="eth+"), False),
    (rule(protocol="tcp", protocol_negated=True), rule(protocol="udp"), True),
    (rule(protocol="tcp", protocol_negated=True), rule(), False),
    (rule(protocol="tcp", dport=tcp(22, negated=True)), rule(protocol="tcp", dport=tcp(80, 443)), True),
    (rule(protocol="tcp", dport=PortMatch((PortRange(1, 1023),))), rule(protocol="tcp", dport=tcp(22, 80)), True),
    (rule(protocol="tcp", dport=tcp(22)), rule(protocol="tcp"), False),
    (rule(protocol="tcp", either=tcp(53)), rule(protocol="tcp", dport=tcp(53)), True),
    (rule(protocol="tcp", dport=tcp(53)), rule(protocol="tcp", either=tcp(53)), False),
    (rule(states=("NEW", "ESTABLISHED")), rule(states=("new",)), True),
    (rule(states=("NEW",)), rule(), False),
    (rule(unmodeled=("-m mark --mark 1",)), rule(unmodeled=("-m mark --mark 1", "-m physdev")), True),
    (rule(unmodeled=("-m mark --mark 1",)), rule(), False),
    (rule(unmodeled=None), rule(unmodeled=None), False),
    (rule(), rule(unmodeled=None), True),
    (rule(unmodeled=("-m statistic --mode random --probability 0.5",)),
     rule(unmodeled=("-m statistic --mode random --probability 0.5",)), False),
])
def test_containment(outer, inner, expected):
    assert covers(outer, inner) is expected


def test_a_rule_with_no_conditions_matches_everything():
    base = FirewallRule(Location("r", 1), "iptables", "ip", "filter", "INPUT", unmodeled=())
    assert matches_everything(base)
    assert not matches_everything(FirewallRule(Location("r", 1), "iptables", "ip", "filter", "INPUT"))
    assert not matches_everything(FirewallRule(Location("r", 1), "iptables", "ip", "filter", "INPUT",
                                               unmodeled=(), iif="lo"))


def test_finding_the_earliest_cover_does_not_grow_with_the_covers_filed():
    """Rules that all cover one another (the declarations of a verdict map's elements) are filed
    in one bucket: the earliest is found first, where sorting every candidate for each rule made
    a chain of 20,000 of them take 10 s. Linear is 10 times; quadratic would be 100."""
    same = rule(protocol="tcp")

    def seconds(count: int) -> float:
        index = CoverIndex()
        start = time.perf_counter()
        for n in range(count):
            assert index.first_cover(same) == (0 if n else None)
            index.add(same, n)
        return time.perf_counter() - start

    small = min(seconds(2_000) for _ in range(3))
    assert seconds(20_000) < 30 * small
