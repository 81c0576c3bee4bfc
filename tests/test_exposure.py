"""Exposure semantics: what counts as opened, on which path, exposed versus service ports."""
from __future__ import annotations

import textwrap

from portlint.exposure import ChainGraph, document_exposures
from portlint.model import Document, Location, PortBinding, PortRange


def exposed(parse, text: str):
    doc = parse(textwrap.dedent(text), "iptables")
    assert doc.diagnostics == []
    return [(e.declaration.location.line, e.protocol, [(r.start, r.end) for r in e.exposed],
             [(r.start, r.end) for r in e.service]) for e in document_exposures(doc)]


def test_accepts_on_input_and_forward_paths_only(parse):
    assert exposed(parse, """\
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -p tcp --dport 22 -j ACCEPT
        -A FORWARD -p tcp --dport 80 -j ACCEPT
        -A OUTPUT -p tcp --dport 25 -j ACCEPT
        -A INPUT -p tcp --dport 23 -j DROP
        -A INPUT -p tcp --dport 24 -j LOG
        -A INPUT -p tcp --sport 53 -j ACCEPT
        COMMIT
    """) == [(5, "tcp", [(22, 22)], [(22, 22)]), (6, "tcp", [(80, 80)], [(80, 80)])]


def test_user_chains_inherit_the_paths_that_reach_them_transitively(parse):
    assert [line for line, *_ in exposed(parse, """\
        *filter
        :INPUT DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        :A - [0:0]
        :B - [0:0]
        :C - [0:0]
        :OUT - [0:0]
        -A INPUT -j A
        -A A -g B
        -A B -p tcp --dport 1 -j ACCEPT
        -A C -p tcp --dport 2 -j ACCEPT
        -A OUTPUT -j OUT
        -A OUT -p tcp --dport 3 -j ACCEPT
        COMMIT
    """)] == [10]


def test_translations_on_prerouting_expose_the_original_port(parse):
    assert exposed(parse, """\
        *nat
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :SVC - [0:0]
        -A PREROUTING -j SVC
        -A SVC -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.1:80
        -A PREROUTING -p tcp --dport 3128 -j REDIRECT --to-ports 8000
        -A OUTPUT -p tcp --dport 9999 -j DNAT --to-destination 10.0.0.1:80
        -A PREROUTING -p tcp --dport 7 -j ACCEPT
        COMMIT
    """) == [(6, "tcp", [(8080, 8080)], [(80, 80)]), (7, "tcp", [(3128, 3128)], [(8000, 8000)])]


def test_an_accept_in_mangle_or_raw_opens_nothing(parse):
    assert exposed(parse, """\
        *mangle
        -A INPUT -p tcp --dport 22 -j ACCEPT
        COMMIT
        *raw
        -A PREROUTING -p tcp --dport 23 -j ACCEPT
        COMMIT
    """) == []


def test_a_fragment_without_base_chains_is_on_the_input_path(parse):
    assert exposed(parse, """\
        *filter
        :SSH - [0:0]
        -A SSH -p tcp --dport 22 -j ACCEPT
        COMMIT
    """) == [(3, "tcp", [(22, 22)], [(22, 22)])]


def test_negation_opens_every_other_port_and_states_must_admit_new(parse):
    assert exposed(parse, """\
        *filter
        -A INPUT -p tcp ! --dport 1:65535 -j ACCEPT
        -A INPUT -p tcp --dport 5 -m state --state ESTABLISHED -j ACCEPT
        -A INPUT -p tcp --dport 6 -m state --state NEW,ESTABLISHED -j ACCEPT
        -A INPUT -p udp -m multiport --ports 7,8 -j ACCEPT
        COMMIT
    """) == [(2, "tcp", [(0, 0)], [(0, 0)]), (4, "tcp", [(6, 6)], [(6, 6)]), (5, "udp", [(7, 8)], [(7, 8)])]


def test_compose_bindings_expose_the_published_port_and_serve_the_target():
    loc = Location("compose.yaml", 5, 9)
    doc = Document("compose.yaml", "compose", "", declarations=[
        PortBinding(loc, "web", target=PortRange(80, 80), published=PortRange(8080, 8080)),
        PortBinding(loc, "db", target=PortRange(5432, 5432), kind="expose"),
        PortBinding(loc, "api", target=PortRange(9000, 9000), host_ip="127.0.0.1"),
    ])
    exposures = document_exposures(doc)
    assert [(e.declaration.service, e.exposed, e.service) for e in exposures] == [
        ("web", (PortRange(8080, 8080),), (PortRange(80, 80),)),
        ("api", (), (PortRange(9000, 9000),)),
    ]
    assert exposures[0].describe() == "published on all interfaces by service web"


def test_the_chain_graph_keeps_each_jump_once_in_the_order_first_written(parse):
    doc = parse(textwrap.dedent("""\
        *filter
        :INPUT DROP [0:0]
        :A - [0:0]
        :B - [0:0]
        -A INPUT -p tcp -m tcp --dport 22 -j B
        -A INPUT -j A
        -A INPUT -p tcp -m tcp --dport 80 -j B
        -A INPUT -g A
        -A A -j B
        COMMIT
        """), "iptables")
    graph = ChainGraph(doc)
    assert graph.targets(("ip", "filter", "INPUT")) == [("ip", "filter", "B"), ("ip", "filter", "A")]
    assert graph.targets(("ip", "filter", "A")) == [("ip", "filter", "B")]
    assert graph.targets(("ip", "filter", "B")) == [] and graph.targets(("ip", "filter", "X")) == []


def test_a_chain_that_jumps_to_many_keeps_each_jump_once_in_order(parse):
    # KUBE-SERVICES jumps to thousands: each once, in the order first written.
    order = [f"C{n * 7 % 40}" for n in range(40)]
    text = "*filter\n" + "".join(f":{name} - [0:0]\n" for name in order) + \
        "".join(f"-A INPUT -j {name}\n" for name in order + order[::-1] + order[::3]) + "COMMIT\n"
    graph = ChainGraph(parse(text, "iptables"))
    assert graph.targets(("ip", "filter", "INPUT")) == [("ip", "filter", name) for name in order]


def test_a_chain_written_in_several_places_keeps_its_rules_in_order_and_its_first_place(parse):
    doc = parse(textwrap.dedent("""\
        *filter
        :INPUT DROP [0:0]
        :A - [0:0]
        -A A -p tcp -m tcp --dport 1 -j ACCEPT
        -A INPUT -p tcp -m tcp --dport 2 -j ACCEPT
        -A A -p tcp -m tcp --dport 3 -j ACCEPT
        -A INPUT -j A
        -A A -p tcp -m tcp --dport 4 -j ACCEPT
        COMMIT
        """), "iptables")
    rules = ChainGraph(doc).rules
    assert list(rules) == [("ip", "filter", "A"), ("ip", "filter", "INPUT")]
    assert [r.location.line for r in rules["ip", "filter", "A"]] == [4, 6, 8]
    assert [r.location.line for r in rules["ip", "filter", "INPUT"]] == [5, 7]
