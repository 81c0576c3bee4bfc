"""Property-based tests: generated valid inputs of every format parse into exactly the ports
that were generated (hypothesis; a small budget here, more with --hypothesis-seed / profiles)."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portlint.model import PortRange

BUDGET = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ports = st.integers(min_value=0, max_value=65535)


@st.composite
def port_ranges(draw, rising: bool = False):
    lo = draw(ports)
    hi = draw(st.integers(min_value=lo + (1 if rising else 0), max_value=65535)) if lo < 65535 or not rising else lo
    return PortRange(lo, hi)


@st.composite
def multiport_lists(draw):
    """At most 15 slots, a range (whose first port is below its last) counting two."""
    items, slots = [], 0
    for _ in range(draw(st.integers(min_value=1, max_value=10))):
        r = draw(port_ranges(rising=True)) if draw(st.booleans()) else PortRange.single(draw(ports))
        cost = 2 if r.start != r.end else 1
        if slots + cost > 15 or r.start == 65535 and r.end == 65535 and cost == 2:
            break
        items.append(r)
        slots += cost
    return items or [PortRange.single(draw(ports))]


def iptables_range(r: PortRange) -> str:
    return str(r.start) if r.start == r.end else f"{r.start}:{r.end}"


@BUDGET
@given(proto=st.sampled_from(["tcp", "udp", "sctp", "dccp"]), dport=port_ranges(), negated=st.booleans(),
       sport=st.none() | port_ranges())
def test_iptables_single_port_matches(parse, proto, dport, negated, sport):
    if proto in ("tcp", "sctp") and dport.start > dport.end:
        dport = PortRange(dport.end, dport.start)
    text = f"-A INPUT -p {proto} -m {proto} {'! ' if negated else ''}--dport {iptables_range(dport)}"
    if sport is not None:
        sport = PortRange(min(sport.start, sport.end), max(sport.start, sport.end))
        text += f" --sport {iptables_range(sport)}"
    doc = parse(f"*filter\n{text} -j ACCEPT\nCOMMIT\n", "iptables")
    assert doc.diagnostics == []
    (rule,) = doc.declarations
    assert rule.protocol == proto
    if dport == PortRange(0, 65535) and not negated:
        assert rule.dport is None  # iptables drops a match on every port
    else:
        assert (rule.dport.ranges, rule.dport.negated) == ((dport,), negated)
    if sport is not None and sport != PortRange(0, 65535):
        assert rule.sport.ranges == (sport,)


@BUDGET
@given(proto=st.sampled_from(["tcp", "udp", "udplite", "sctp", "dccp"]), items=multiport_lists(),
       option=st.sampled_from(["--dports", "--sports", "--ports", "--dport"]), negated=st.booleans())
def test_iptables_multiport(parse, proto, items, option, negated):
    text = f"-A INPUT -p {proto} -m multiport {'! ' if negated else ''}{option} {','.join(map(iptables_range, items))}"
    doc = parse(f"*filter\n{text} -j ACCEPT\nCOMMIT\n", "iptables")
    assert doc.diagnostics == []
    (rule,) = doc.declarations
    match = {"--dports": rule.dport, "--dport": rule.dport, "--sports": rule.sport, "--ports": rule.either}[option]
    assert (match.ranges, match.negated) == (tuple(items), negated)


@BUDGET
@given(proto=st.sampled_from(["tcp", "udp", "sctp", "dccp"]),
       items=st.lists(port_ranges(rising=True) | ports.map(PortRange.single), min_size=1, max_size=8),
       negated=st.booleans(), as_set=st.booleans())
def test_nftables_port_matches(parse, proto, items, negated, as_set):
    def nft(r: PortRange) -> str:
        return str(r.start) if r.start == r.end else f"{r.start}-{r.end}"
    value = "{ " + ", ".join(map(nft, items)) + " }" if as_set or len(items) > 1 else nft(items[0])
    text = (f"table inet t {{\n  chain c {{\n    type filter hook input priority 0;\n"
            f"    {proto} dport {'!= ' if negated else ''}{value} accept\n  }}\n}}\n")
    doc = parse(text, "nftables")
    assert [d for d in doc.diagnostics if d.code in ("PL001", "PL002")] == []
    covered = {p for rule in doc.declarations for r in rule.dport.ranges for p in range(r.start, r.end + 1)} \
        if len(items) < 50 and all(r.end - r.start < 2000 for r in items) else None
    assert all(rule.protocol == proto and rule.dport.negated == negated for rule in doc.declarations)
    if covered is not None:
        assert covered == {p for r in items for p in range(r.start, r.end + 1)}


@BUDGET
@given(target=st.integers(min_value=1, max_value=65535), published=st.none() | st.integers(min_value=1, max_value=65535),
       host_ip=st.sampled_from([None, "127.0.0.1", "0.0.0.0", "::1", "192.0.2.7"]),
       proto=st.sampled_from([None, "tcp", "udp", "sctp"]), width=st.integers(min_value=0, max_value=5))
def test_compose_short_syntax(parse, target, published, host_ip, proto, width):
    width = min(width, 65535 - target, 65535 - (published or 0))
    container = str(target) if not width else f"{target}-{target + width}"
    host = "" if published is None else (str(published) if not width else f"{published}-{published + width}")
    entry = container
    if host or host_ip:
        entry = f"{host}:{container}"
        if host_ip:
            entry = (f"[{host_ip}]" if ":" in host_ip else host_ip) + f":{entry}"
    if proto:
        entry += f"/{proto}"
    doc = parse(f"services:\n  app:\n    image: x\n    ports:\n      - \"{entry}\"\n", "compose", "compose.yaml")
    assert doc.diagnostics == []
    (binding,) = doc.declarations
    assert binding.target == PortRange(target, target + width)
    assert binding.published == (None if published is None else PortRange(published, published + width))
    assert (binding.host_ip, binding.protocol) == (host_ip, proto or "tcp")
