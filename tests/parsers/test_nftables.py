"""The nftables parser: the model it builds, and where it reports what it cannot read."""
from __future__ import annotations

import gc
import textwrap
import time
from pathlib import Path

import pytest

from portlint.model import Action, PortRange
from portlint.parsers import ParseOptions, nftables_fast


def nft(parse, text: str, path: str = "ruleset.nft"):
    return parse(textwrap.dedent(text), "nftables", path)


def chain(body: str, hook: str = "type filter hook input priority 0; policy drop;") -> str:
    """``body`` as the rules of base chain inet/filter/input (line 4 is its first line)."""
    return f"table inet filter {{\n\tchain input {{\n\t\t{hook}\n{textwrap.dedent(body)}\t}}\n}}\n"


def ports(rule, direction: str = "dport"):
    match = getattr(rule, direction)
    return None if match is None else [(r.start, r.end) for r in match.ranges]


def codes(doc) -> list[tuple[str, int, int]]:
    return [(d.code, d.location.line, d.location.column) for d in doc.diagnostics]


# -- what a rule becomes ---------------------------------------------------------------------------


def test_a_rule_becomes_a_located_firewall_rule(parse):
    doc = nft(parse, chain('ip saddr 10.0.0.0/8 iifname "eth0" tcp dport 22 ct state new accept comment "ssh"\n'))
    (rule,) = doc.declarations
    assert (rule.format, rule.family, rule.table, rule.chain, rule.protocol) == ("nftables", "inet", "filter", "input", "tcp")
    assert ports(rule) == [(22, 22)] and not rule.dport.negated
    loc = rule.dport.location
    assert (loc.path, loc.line, loc.column, loc.end_column) == ("ruleset.nft", 4, 46, 48)
    assert (rule.location.line, rule.location.column, rule.rule_line) == (4, 46, 4)
    assert (rule.saddr, rule.iif, rule.states, rule.comment) == ("10.0.0.0/8", "eth0", ("new",), "ssh")
    assert (rule.action, rule.target) == (Action.ACCEPT, "accept")
    assert doc.diagnostics == []


@pytest.mark.parametrize("value,ranges", [
    ("22", [(22, 22)]), ("0x16", [(22, 22)]), ("80-90", [(80, 90)]), ("ssh", [(22, 22)]),
    ('"http"', [(80, 80)]), ("1024/6", [(1024, 2047)]), ("< 1024", [(0, 1023)]), ("> 1023", [(1024, 65535)]),
    ("<= 22", [(0, 22)]), (">= 60000", [(60000, 65535)]), ("22-22", [(22, 22)]),
])
def test_port_values(parse, value, ranges):
    (rule,) = nft(parse, chain(f"tcp dport {value} accept\n")).declarations
    assert ports(rule) == ranges and not rule.dport.negated


def test_every_transport_protocol_and_direction(parse):
    doc = nft(parse, chain("""\
        udp sport 53 accept
        sctp dport 2905 accept
        dccp dport 5004 accept
        udplite sport 7 accept
    """))
    assert [(r.protocol, ports(r), ports(r, "sport")) for r in doc.declarations] == [
        ("udp", None, [(53, 53)]), ("sctp", [(2905, 2905)], None), ("dccp", [(5004, 5004)], None),
        ("udplite", None, [(7, 7)])]


def test_a_set_gives_one_declaration_per_element_at_its_own_line(parse):
    doc = nft(parse, chain("""\
        tcp dport {
            22,
            80-81,
        } accept
    """))
    assert [(ports(r), r.location.line, r.location.column, r.rule_line) for r in doc.declarations] == [
        ([(22, 22)], 5, 5, 4), ([(80, 81)], 6, 5, 4)]


def test_a_negated_set_is_one_match_of_every_port(parse):
    (rule,) = nft(parse, chain("tcp dport != { 22, 80 } drop\n")).declarations
    assert ports(rule) == [(22, 22), (80, 80)] and rule.dport.negated
    assert (rule.location.line, rule.location.column) == (4, 14)
    (rule,) = nft(parse, chain("tcp dport != 1024-65535 drop\n")).declarations
    assert ports(rule) == [(1024, 65535)] and rule.dport.negated


def test_source_and_destination_of_one_rule_are_one_declaration(parse):
    (rule,) = nft(parse, chain("tcp sport 1024-65535 tcp dport 443 accept\n")).declarations
    assert (ports(rule), ports(rule, "sport")) == ([(443, 443)], [(1024, 65535)])


def test_th_takes_the_one_protocol_the_rule_names(parse):
    doc = nft(parse, chain("""\
        meta l4proto tcp th dport 3000 accept
        ip protocol 17 th dport 53 accept
        meta l4proto { tcp, udp } th dport 5353 accept
        th dport 7 accept
    """))
    assert [r.protocol for r in doc.declarations] == ["tcp", "udp", None, None]


def test_conntrack_tuple_ports_are_checked_but_open_nothing(parse):
    doc = nft(parse, chain("ct original proto-dst 22 accept\nct original proto-dst 70000 accept\n"))
    assert all(r.dport is None for r in doc.declarations)
    assert doc.declarations[0].unmodeled == ("ct original proto-dst 22",)
    assert codes(doc) == [("PL002", 5, 23)]


def test_match_conditions_without_a_field_are_kept_as_text(parse):
    (rule,) = nft(parse, chain("tcp dport 22 ip dscp cs1 limit rate 10/second counter log accept\n")).declarations
    assert rule.unmodeled == ("ip dscp cs1", "limit rate 10/second")


# -- verdicts and translations ---------------------------------------------------------------------


def test_a_verdict_map_gives_each_element_its_verdict(parse):
    doc = nft(parse, chain("""\
        tcp dport vmap {
            22 : accept,
            23 : drop, 2222 : jump ssh
        }
    """))
    assert [(ports(r), r.action, r.target, r.location.line, r.rule_line) for r in doc.declarations] == [
        ([(22, 22)], Action.ACCEPT, "accept", 5, 4), ([(23, 23)], Action.DROP, "drop", 6, 4),
        ([(2222, 2222)], Action.JUMP, "ssh", 6, 4)]


def test_a_verdict_map_on_another_key_gives_each_of_its_verdicts(parse):
    doc = nft(parse, chain("tcp dport 22 ip saddr vmap { 10.0.0.1 : accept, 10.0.0.2 : drop, 10.0.0.3 : accept }\n"))
    assert [(ports(r), r.action) for r in doc.declarations] == [([(22, 22)], Action.ACCEPT), ([(22, 22)], Action.DROP)]


def test_translations(parse):
    doc = nft(parse, chain("""\
        tcp dport 8080 dnat to 10.0.0.1:80
        tcp dport 8081 dnat ip to 10.0.0.2
        tcp dport 25 redirect to :2525
        tcp dport 3128 tproxy ip to 127.0.0.1:50080
        tcp dport 80 snat to 192.0.2.1
        masquerade to :1024-65535
        tcp dport 443 dnat to [2001:db8::1]:8443
    """, hook="type nat hook prerouting priority dstnat;"))
    assert [(r.action, r.to_address, r.to_ports) for r in doc.declarations] == [
        (Action.DNAT, "10.0.0.1", (PortRange(80, 80),)), (Action.DNAT, "10.0.0.2", None),
        (Action.REDIRECT, None, (PortRange(2525, 2525),)), (Action.TPROXY, "127.0.0.1", (PortRange(50080, 50080),)),
        (Action.SNAT, "192.0.2.1", None), (Action.MASQUERADE, None, (PortRange(1024, 65535),)),
        (Action.DNAT, "2001:db8::1", (PortRange(8443, 8443),))]


@pytest.mark.parametrize("address,expected", [
    ("[::ffff:10.0.0.1]:8443", ("::ffff:10.0.0.1", (PortRange(8443, 8443),))),
    ("[fe80::1]:8443", ("fe80::1", (PortRange(8443, 8443),))), ("fe80::1", ("fe80::1", None)),
    ("[fe80::1:8443", None),  # no closing bracket: no address
])
def test_ipv6_translation_addresses_in_brackets_or_not(parse, address, expected):
    doc = nft(parse, chain(f"tcp dport 443 dnat ip6 to {address}\n", hook="type nat hook prerouting priority dstnat;"))
    if expected is None:
        assert codes(doc) == [("PL001", 4, 27)] and doc.declarations == []
    else:
        assert [(r.to_address, r.to_ports) for r in doc.declarations] == [expected]


def test_a_map_a_translation_looks_up_gives_each_element_its_target(parse):
    doc = nft(parse, chain("""\
        dnat to tcp dport map { 80 : 10.0.0.1, 8080 : 10.0.0.2 }
        dnat ip addr . port to tcp dport map { 443 : 10.0.0.3 . 8443 }
    """, hook="type nat hook prerouting priority dstnat;"))
    assert [(ports(r), r.action, r.to_address, r.to_ports) for r in doc.declarations] == [
        ([(80, 80)], Action.DNAT, "10.0.0.1", None), ([(8080, 8080)], Action.DNAT, "10.0.0.2", None),
        ([(443, 443)], Action.DNAT, "10.0.0.3", (PortRange(8443, 8443),))]


def test_the_last_verdict_decides_and_rules_without_ports_are_kept(parse):
    doc = nft(parse, chain("""\
        tcp dport 22 counter log prefix "ssh " accept
        udp dport 53 reject with icmpx type admin-prohibited
        tcp dport 1 meta mark set 1
        ip saddr 10.0.0.0/8 jump trusted
        jump { tcp dport 4 accept; }
    """))
    assert [(ports(r), r.action, r.chain, r.target) for r in doc.declarations] == [
        ([(22, 22)], Action.ACCEPT, "input", "accept"), ([(53, 53)], Action.REJECT, "input", "reject"),
        ([(1, 1)], None, "input", None), (None, Action.JUMP, "input", "trusted"),
        (None, Action.JUMP, "input", "input@8"), ([(4, 4)], Action.ACCEPT, "input@8", "accept")]


# -- variables -------------------------------------------------------------------------------------


def test_variables_are_bound_where_they_are_used(parse):
    doc = nft(parse, """\
        define ssh = 22
        define web = { http, $ssh, 8000-8080 }
        table inet filter {
            define ssh = 2222
            chain input {
                tcp dport $web accept
                tcp dport $ssh accept
            }
        }
        redefine ssh = 22222
        add rule inet filter input tcp dport $ssh accept
    """)
    assert [ports(r) for r in doc.declarations] == [[(80, 80)], [(22, 22)], [(8000, 8080)], [(2222, 2222)],
                                                    [(22222, 22222)]]
    elements = doc.declarations[:3]
    assert [(r.location.line, r.rule_line) for r in elements] == [(2, 6), (1, 6), (2, 6)]
    assert doc.diagnostics == []


def test_an_unknown_variable_is_reported_and_its_port_skipped(parse):
    doc = nft(parse, chain("tcp dport $nope accept\nudp dport 53 accept\n"))
    assert codes(doc) == [("PL005", 4, 12)]
    assert [ports(r) for r in doc.declarations] == [None, [(53, 53)]]


def test_define_twice_is_an_error_redefine_is_not(parse):
    doc = nft(parse, "define p = 22\nredefine p = 23\ndefine p = 24\n")
    assert codes(doc) == [("PL001", 3, 8)]
    assert "redefinition of symbol 'p'" in doc.diagnostics[0].message


# -- named sets and maps ---------------------------------------------------------------------------


def test_a_named_set_is_resolved_through_all_its_elements(parse):
    doc = nft(parse, """\
        table inet filter {
            set web {
                type inet_service; flags interval
                elements = { 80, 8000-8100 }
            }
            chain input {
                type filter hook input priority 0;
                tcp dport @web accept
                tcp dport != @web drop
            }
        }
        add element inet filter web { 443 }
    """)
    accepted = [(ports(r), r.location.line, r.location.column, r.rule_line) for r in doc.declarations[:3]]
    assert accepted == [([(80, 80)], 4, 22, 8), ([(8000, 8100)], 4, 26, 8), ([(443, 443)], 12, 31, 8)]
    negated = doc.declarations[3]
    assert ports(negated) == [(80, 80), (8000, 8100), (443, 443)] and negated.dport.negated
    assert (negated.location.line, negated.location.column) == (9, 22)


def test_a_big_set_is_read_only_when_a_rule_asks_for_its_ports(parse, monkeypatch):
    """A big set of plain elements (a blocklist) keeps only where it is written: the address set
    no rule reads ports from is never read, not even to delete an element from it, and the model
    equals the one built from every element read at once."""
    addresses = ",\n\t\t\t".join(f"10.{i // 250}.{i % 250}.1" for i in range(2000))
    web = ",\n\t\t\t".join(str(port) for port in range(10000, 11500))
    text = textwrap.dedent(f"""\
        define more = {{ {", ".join(str(port) for port in range(20000, 21000))} }}
        table inet filter {{
            set blocked {{
                type ipv4_addr; flags interval
                elements = {{ {addresses} }}
            }}
            set web {{
                type inet_service; flags interval
                elements = {{ {web} }}
            }}
            chain input {{
                type filter hook input priority 0; policy drop;
                ip saddr @blocked drop
                tcp dport @web accept
                udp dport $more accept
            }}
        }}
        delete element inet filter web {{ 10001 }}
        delete element inet filter blocked {{ 10.0.0.1 }}
    """)
    reads = []
    elements = nftables_fast.PlainSets.elements
    monkeypatch.setattr(nftables_fast.PlainSets, "elements", lambda self, text, span: reads.append(span[2])
                        or elements(self, text, span))
    lazy = parse(text, "nftables", "ruleset.nft")
    line = {name: text[:text.index(needle)].count("\n") + 1 for name, needle in
            (("blocked", "{ 10.0.0.1,"), ("web", "{ 10000,"), ("10002", "10002"), ("rule", "tcp dport @web"))}
    assert line["web"] in reads and 1 in reads and line["blocked"] not in reads
    monkeypatch.setattr(nftables_fast.PlainSets, "LAZY_ABOVE", 10 ** 9)
    whole = parse(text, "nftables", "ruleset.nft")
    assert lazy.declarations == whole.declarations and lazy.diagnostics == whole.diagnostics == []
    blocked, *accepted = lazy.declarations
    assert (blocked.saddr, blocked.action, blocked.dport) == ("@blocked", Action.DROP, None)
    assert len(accepted) == 1499 + 1000
    assert ports(accepted[0]) == [(10000, 10000)] and ports(accepted[1]) == [(10002, 10002)]
    assert (accepted[1].location.line, accepted[1].location.column, accepted[1].rule_line) == \
        (line["10002"], 4, line["rule"])


def test_map_elements_held_packed_read_back_as_they_were_written(parse, monkeypatch):
    """Elements wait for the end of the file pickled a batch at a time: a map of more than a batch,
    with a variable, elements added and deleted later and a big plain set among them, gives the
    document it gives when every element is held as parsed."""
    from portlint.parsers.nftables_elements import PackedElements

    elements = ",\n\t\t\t".join(f"{port} : {'accept' if port % 2 else 'jump web'}" for port in range(1000, 1700))
    blocked = ", ".join(f"10.1.{i // 250}.{i % 250}" for i in range(600))  # a PlainSet, over 4 KiB
    more = ", ".join(f"10.9.0.{i}" for i in range(300))  # read at once: elements of their own
    text = textwrap.dedent(f"""\
        define ssh = 22
        table inet filter {{
            map dispatch {{
                type inet_service : verdict
                elements = {{ $ssh : accept,
                    {elements} }}
            }}
            set blocked {{ type ipv4_addr; elements = {{ 10.0.0.1, {blocked} }} }}
            chain web {{ }}
            chain input {{
                type filter hook input priority 0; policy drop;
                tcp dport vmap @dispatch
                ip saddr @blocked tcp dport 23 drop
            }}
        }}
        add element inet filter dispatch {{ 2000 : drop }}
        delete element inet filter dispatch {{ 1001 : accept }}
        add element inet filter blocked {{ {more} }}
        delete element inet filter blocked {{ 10.1.0.3, 10.9.0.3 }}
    """)
    packed = parse(text, "nftables", "ruleset.nft")
    monkeypatch.setattr(PackedElements, "BATCH", 10 ** 9)
    whole = parse(text, "nftables", "ruleset.nft")
    assert packed.declarations == whole.declarations and packed.diagnostics == whole.diagnostics == []
    dispatched = [r for r in packed.declarations if r.dport and r.saddr is None]
    assert [ports(r)[0][0] for r in dispatched] == [22, 1000, *range(1002, 1700), 2000]
    assert [r.target for r in dispatched[:4]] == ["accept", "web", "web", "accept"]
    last = dispatched[-2]
    assert (last.location.line, last.location.column, last.location.end_column, last.rule_line) == \
        (6 + 699, 4, 8, 711)


def test_a_concatenation_gives_the_port_component_of_each_element(parse):
    doc = nft(parse, """\
        table inet t {
            set s {
                type ipv4_addr . inet_service
                elements = { 10.0.0.1 . 22, 10.0.0.2 . 80 }
            }
            chain c {
                ip daddr . tcp dport @s accept
                ip saddr . tcp dport { 10.0.0.3 . 443 } accept
                tcp dport . ip saddr vmap { 25 . 10.0.0.4 : drop }
            }
        }
    """)
    assert [(ports(r), r.action) for r in doc.declarations] == [
        ([(22, 22)], Action.ACCEPT), ([(80, 80)], Action.ACCEPT), ([(443, 443)], Action.ACCEPT), ([(25, 25)], Action.DROP)]


def test_a_named_verdict_map(parse):
    doc = nft(parse, """\
        table ip t {
            map ports {
                type inet_service : verdict
                elements = { 22 : accept, 23 : drop }
            }
            chain c {
                tcp dport vmap @ports
            }
        }
    """)
    assert [(ports(r), r.action, r.location.line, r.rule_line) for r in doc.declarations] == [
        ([(22, 22)], Action.ACCEPT, 4, 7), ([(23, 23)], Action.DROP, 4, 7)]


def test_an_empty_map_matches_no_port_and_a_missing_set_is_reported(parse):
    doc = nft(parse, """\
        table ip t {
            map m { type inet_service : ipv4_addr; }
            chain c {
                type nat hook prerouting priority dstnat;
                dnat to tcp dport map @m
                tcp dport @absent accept
            }
        }
    """)
    assert [ports(r) for r in doc.declarations] == [[], None]
    assert codes(doc) == [("PL005", 6, 19)]


# -- the ruleset as nft builds it ------------------------------------------------------------------


def test_chains_become_policies(parse):
    doc = nft(parse, """\
        table netdev ingress_filter {
            chain ingress { type filter hook ingress device "lo" priority -500; }
        }
        table t {
            chain input { type filter hook input priority filter + 10; policy drop; }
            chain services { }
        }
        add chain ip6 nat pre { type nat hook prerouting priority dstnat; }
    """)
    assert [(p.family, p.table, p.chain, p.hook, p.type, p.policy, p.location.line) for p in doc.policies] == [
        ("netdev", "ingress_filter", "ingress", "ingress", "filter", "accept", 2),
        ("ip", "t", "input", "input", "filter", "drop", 5),
        ("ip", "t", "services", None, None, None, 6),
        ("ip6", "nat", "pre", "prerouting", "nat", "accept", 8)]


def test_one_line_commands_and_every_family(parse):
    doc = nft(parse, """\
        flush ruleset
        add table bridge br
        add chain bridge br forward { type filter hook forward priority 0; }
        add rule bridge br forward tcp dport 22 accept
        insert rule arp a c udp dport 67 accept
        ip6 t c tcp dport 23 accept
    """)
    assert [(r.family, r.table, r.chain, ports(r)) for r in doc.declarations] == [
        ("bridge", "br", "forward", [(22, 22)]), ("arp", "a", "c", [(67, 67)]), ("ip6", "t", "c", [(23, 23)])]


def test_flush_and_delete_remove_what_came_before(parse):
    doc = nft(parse, """\
        add rule ip t a tcp dport 1 accept
        add rule ip t b tcp dport 2 accept
        add rule ip u c tcp dport 3 accept
        add rule ip6 v d tcp dport 4 accept
        flush chain ip t a
        delete table ip u
        flush ruleset ip6
        add rule ip t a tcp dport 5 accept
    """)
    assert [ports(r) for r in doc.declarations] == [[(2, 2)], [(5, 5)]]


def test_a_chain_made_again_after_a_delete_has_only_its_own_rules(parse):
    """Rules are removed by where they stand in the ruleset: a chain or table deleted and made
    again under the same name starts empty, a waiting rule (naming a set) included."""
    ruleset = """\
        add table ip t
        add set ip t s { type inet_service; elements = { 6 } }
        add rule ip t a tcp dport @s accept
        add rule ip t b tcp dport 7 accept
        delete chain ip t a
        add chain ip t a
        add rule ip t a tcp dport 8 accept
        add rule ip u c tcp dport 9 accept
        delete table ip u
        add chain ip u c
        add rule ip u c tcp dport 10 accept
        add rule ip t b tcp dport @s accept
    """
    doc = nft(parse, ruleset)
    assert [(r.table, r.chain, ports(r)) for r in doc.declarations] == [
        ("t", "b", [(7, 7)]), ("t", "a", [(8, 8)]), ("u", "c", [(10, 10)]), ("t", "b", [(6, 6)])]
    assert [(p.table, p.chain) for p in doc.policies] == [("t", "a"), ("u", "c")]
    doc = nft(parse, ruleset + "        flush table ip t\n        add rule ip t b tcp dport 11 accept\n")
    assert [ports(r) for r in doc.declarations] == [[(10, 10)], [(11, 11)]]


def test_line_continuations_comments_and_semicolons(parse):
    doc = nft(parse, chain("""\
        # a comment
        tcp dport \\
            22 accept # another
        udp dport 53 accept; udp dport 123 accept
    """))
    assert [(ports(r), r.location.line) for r in doc.declarations] == [([(22, 22)], 6), ([(53, 53)], 7), ([(123, 123)], 7)]
    assert doc.diagnostics == []


# -- what nft rejects ------------------------------------------------------------------------------


@pytest.mark.parametrize("text,line,column,message", [
    ("table ip t { chain c { } }\n", 1, 26, "unexpected '}'; expected ';' or end of line"),
    (chain("tcp dport accept\n"), 4, 11, "unexpected 'accept'; expected a value, '{', '@', '$'"),
    ("table ip t {\n\tchain log {\n\t}\n}\n", 2, 8, "unexpected 'log'; expected a name"),
    (chain("tcp dport { 22, 80 accept\n"), 4, 20, "unexpected 'accept'; expected '}', ','"),
    ("table ip t {\n\tchain c {\n\t}\n", 4, 1, "unexpected end of file; expected '}'"),
    ('include foo.nft\n', 1, 9, "unexpected 'foo.nft'; expected a quoted string"),
    (chain("tcp dport 22 accept comment \"ssh\n"), 4, 29, "an unterminated quoted string"),
    (chain("tcp dport 22 ~\n"), 4, 14, "unexpected character '~'"),
    (chain("iifnam \"eth0\" accept\n"), 4, 1, "nft cannot match on 'iifnam'"),
    (chain("meta foo 1\n"), 4, 1, "unknown meta key 'foo'"),
    ("table ip t {\n\tchain c {\n\t\ttype filter hook inpt priority 0;\n\t}\n}\n", 3, 20, "unknown chain hook 'inpt'"),
    ("table ip t {\r\n}\r\n", 1, 13, "carriage return (Windows line ending)"),
])
def test_syntax_errors_say_where_and_what_was_expected(parse, text, line, column, message):
    doc = parse(text, "nftables", "bad.nft")
    first = doc.diagnostics[0]
    assert (first.code, first.location.line, first.location.column) == ("PL001", line, column)
    assert first.message.startswith(message), first.message


def test_a_bad_statement_hides_nothing_else(parse):
    doc = nft(parse, """\
        table inet filter {
            chain input {
                tcp dport 22 acept
                tcp dport { 80,
                    443 accept
                udp dport 53 accept
            }
            chain bad thing {
                tcp dport 1 accept
            }
            chain output { tcp dport 25 accept; tcp dport foo bar }
        }
        table ip t { chain c { tcp dport 23 accept; }; }
    """)
    assert codes(doc) == [("PL001", 3, 27), ("PL001", 5, 17), ("PL001", 8, 15), ("PL001", 11, 59)]
    assert [(r.chain, ports(r)) for r in doc.declarations] == [
        ("input", [(53, 53)]), ("output", [(25, 25)]), ("c", [(23, 23)])]


@pytest.mark.parametrize("bad", ["this is no rule", "tcp dport rule", "ip saddr table", "iif table chain"])
def test_a_statement_failing_at_a_keyword_hides_nothing_else(parse, bad):
    """Regression: the parser state where RECOVERY was listed only reduced on it, and the state
    it reduced to refused it: the whole table was lost, with every later error."""
    doc = nft(parse, chain(f"tcp dport 22 accept\n{bad}\nudp dport 53 accept\n{bad}\n"))
    assert [(d.code, d.location.line) for d in doc.diagnostics] == [("PL001", 5), ("PL001", 7)]
    assert [(r.chain, ports(r)) for r in doc.declarations] == [("input", [(22, 22)]), ("input", [(53, 53)])]


@pytest.mark.parametrize("rule,code,column,message", [
    ("tcp dport 65536 accept", "PL002", 11, "ports are 0-65535"),
    ("tcp dport 90-80 accept", "PL002", 11, "the first port is greater than the last"),
    ("tcp dport 22,80 accept", "PL002", 11, "a comma-separated list is not a set of ports"),
    ("tcp dport ! 22 accept", "PL002", 11, "'!' negates flags"),
    ("tcp dport sshh accept", "PL003", 11, "unknown service name 'sshh'"),
    ("tcp dport { 22 : 23 } accept", "PL001", 11, "mapping outside of map context"),
])
def test_ports_nft_rejects(parse, rule, code, column, message):
    doc = nft(parse, chain(rule + "\n"))
    (diagnostic,) = doc.diagnostics
    assert (diagnostic.code, diagnostic.location.line, diagnostic.location.column) == (code, 4, column)
    assert message in diagnostic.message


@pytest.mark.parametrize("rule,column,message", [
    ("meta l4proto { tcp, udp } tcp dport 53 accept", 27,
     "`tcp dport` reads the tcp header, but `meta l4proto { tcp, udp }` before it names udp too; nft rejects the "
     "rule (`th dport` matches the port of either)"),
    ("tcp dport 22 udp dport 22 accept", 14, "`udp dport` reads the udp header, but `tcp dport` before it names tcp"),
    ("th dport 80 redirect to :8080", 26, "a redirect to a port needs a transport protocol match before it"),
    ("tproxy ip to :3128", 1, "tproxy needs a transport protocol match before it"),
])
def test_protocols_nft_rejects_together(parse, rule, column, message):
    doc = nft(parse, chain(rule + "\n"))
    (diagnostic,) = doc.diagnostics
    assert (diagnostic.code, diagnostic.location.line, diagnostic.location.column) == ("PL001", 4, column)
    assert message in diagnostic.message


@pytest.mark.parametrize("rule", [
    "meta l4proto { tcp, udp } th dport 53 accept",
    "meta l4proto tcp tcp dport 22 accept",
    "meta l4proto != udp tcp dport 22 accept",
    "meta l4proto gre tcp dport 22 accept",  # nft rejects it; portlint does not know gre's header
    "ah spi 1 tcp dport 22 accept",  # nft 1.0.6 fails an assertion here
    "meta l4proto { tcp, udp } redirect to :8080",
    "dnat ip to 10.0.0.1",
])
def test_protocols_left_alone(parse, rule):
    assert nft(parse, chain(rule + "\n")).diagnostics == []


def test_a_service_name_resolves_for_any_protocol_as_in_nft(parse):
    (rule,) = nft(parse, chain("tcp dport syslog accept\n")).declarations  # syslog is 514/udp only
    assert ports(rule) == [(514, 514)]


# -- includes --------------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "rules").mkdir()
    (root / "rules" / "ssh.nft").write_text("tcp dport $ssh accept\n")
    (root / "rules" / "web.nft").write_text("tcp dport { 80, 443 } accept\n")
    (root / "vars.nft").write_text("define ssh = 22\n")
    (root / "loop.nft").write_text('include "loop.nft"\n')
    (tmp_path / "secret.nft").write_text("define secret = 1\n")
    return root


def test_includes_are_read_where_they_are_included(parse, project):
    main = project / "main.nft"
    main.write_text(textwrap.dedent("""\
        include "vars.nft"
        table inet filter {
            chain input {
                type filter hook input priority 0;
                include "rules/*.nft"
                include "none/*.nft"
            }
        }
    """))
    doc = parse(main.read_text(), "nftables", str(main))
    assert doc.diagnostics == []
    assert [(r.chain, ports(r), r.location.path, r.location.line, r.location.column) for r in doc.declarations] == [
        ("input", [(22, 22)], str(project / "rules" / "ssh.nft"), 1, 1),  # the value is in vars.nft
        ("input", [(80, 80)], str(project / "rules" / "web.nft"), 1, 13),
        ("input", [(443, 443)], str(project / "rules" / "web.nft"), 1, 17)]


def test_includes_that_are_not_followed(parse, project, tmp_path):
    main = project / "main.nft"
    main.write_text('include "missing.nft"\ninclude "../secret.nft"\ninclude "loop.nft"\n'
                    'add rule ip t c tcp dport $secret accept\n')
    doc = parse(main.read_text(), "nftables", str(main))
    assert [(d.code, d.location.path, d.location.line) for d in doc.diagnostics] == [
        ("PL006", str(main), 1), ("PL006", str(main), 2), ("PL006", str(project / "loop.nft"), 1),
        ("PL005", str(main), 4)]
    missing, outside, loop = (d.message for d in doc.diagnostics[:3])
    assert "not found" in missing and "leaves the project root" in outside and "include cycle" in loop
    assert "secret = 1" not in " ".join(d.message for d in doc.diagnostics)


def test_the_include_path_is_searched_after_the_including_folder(registry, project, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "vars.nft").write_text("define ssh = 2222\n")
    (extra / "more.nft").write_text("define more = 8080\n")
    parser = registry.parsers["nftables"].with_options(ParseOptions(include_path=(str(extra),)))
    main = project / "main.nft"
    main.write_text('include "vars.nft"\ninclude "more.nft"\nadd rule ip t c tcp dport { $ssh, $more } accept\n')
    doc = parser.parse(main.read_text(), str(main))
    assert doc.diagnostics == []
    assert [ports(r) for r in doc.declarations] == [[(22, 22)], [(8080, 8080)]]


# -- recognising nftables files ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ruleset.nft", "nftables.conf", "nftables.rules", "fw.nftables"])
def test_file_names(registry, name):
    assert registry.parsers["nftables"].matches_name(name)


@pytest.mark.parametrize("head,claimed", [
    ("#!/usr/sbin/nft -f\n", True),
    ("# firewall\n\ntable inet filter {\n", True),
    ("flush ruleset\n", True),
    ("add table ip nat\n", True),
    ("define WAN = eth0\n", True),
    ('include "/etc/nftables.d/*.nft"\n', True),
    ("*filter\n:INPUT ACCEPT [0:0]\n", False),
    ("services:\n  web:\n", False),
    ("table of contents\n", False),
])
def test_content_sniffing(registry, head, claimed):
    assert registry.parsers["nftables"].sniff(head) is claimed


# -- through the command line ----------------------------------------------------------------------


def test_ports_json_gives_the_rule_line_of_each_element(cli, tmp_path):
    ruleset = tmp_path / "nftables.conf"
    ruleset.write_text(chain("tcp dport vmap {\n\t22 : accept,\n\t23 : drop }\n"))
    result = cli("ports", ruleset, "--output-format", "json")
    assert result.code == 0, result.err
    records = result.json()
    assert [(r["format"], r["dport"], r["action"], r["line"], r["rule_line"]) for r in records] == [
        ("nftables", [[22, 22]], "accept", 5, 4), ("nftables", [[23, 23]], "drop", 6, 4)]


def test_check_follows_include_path(cli, tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "ports.nft").write_text("define legacy = 23\n")
    main = tmp_path / "fw" / "main.nft"
    main.parent.mkdir()
    main.write_text('include "ports.nft"\n' + chain("tcp dport $legacy accept\n"))
    missing = cli("check", main, "--select", "PL006,PL201")
    assert missing.code == 1 and "PL006" in missing.out and "PL201" not in missing.out
    found = cli("check", main, "--select", "PL006,PL201", "--include-path", tmp_path / "shared")
    assert found.code == 1 and "PL006" not in found.out and "PL201" in found.out


def test_the_configured_project_root_bounds_includes(registry, project, tmp_path):
    main = project / "main.nft"
    main.write_text('include "../secret.nft"\n')
    parser = registry.parsers["nftables"].with_options(ParseOptions(project_root=str(tmp_path)))
    assert parser.parse(main.read_text(), str(main)).diagnostics == []


def test_hostile_nesting_is_reported_not_a_crash(parse):
    deep = "{ " * 3000 + "22" + " }" * 3000
    doc = parse(f"define ports = {deep}\nadd rule ip t c tcp dport {deep} accept\nadd rule ip t c udp dport 53 accept\n",
                "nftables", "deep.nft")
    assert codes(doc) == [("PL001", 1, 8), ("PL001", 2, 10)]
    assert "nested too deeply" in doc.diagnostics[0].message
    assert [ports(r) for r in doc.declarations] == [[(53, 53)]]


# -- memory ----------------------------------------------------------------------------------------


class Recorder:
    """A parse's sink that records what it is given."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def open(self, head) -> None:
        self.events.append(("open", getattr(head.spec, "name", head.spec)))

    def close(self, head) -> None:
        self.events.append(("close", getattr(head.spec, "name", head.spec)))

    def statement(self, item) -> None:
        self.events.append((type(item).__name__, item.span[2]))


def test_the_statements_of_a_file_and_its_blocks_go_to_the_sink_as_they_are_read():
    from portlint.parsers.nftables_syntax import parse

    text = ("define p = 22\ntable inet f {\n\tset s { type inet_service; elements = { 80 } }\n"
            "\tchain a {\n\t\ttype filter hook input priority 0; policy drop;\n\t\ttcp dport $p accept\n\t}\n"
            "\tchain b { udp dport 53 accept; }\n}\nadd chain inet f c { tcp dport 1 drop; }\n"
            "add rule inet f a tcp dport 2 drop\n")
    sink = Recorder()
    result = parse(text, "f.nft", sink=sink)
    assert result.items == [] and result.diagnostics == []
    assert sink.events == [
        ("Define", 1), ("open", "f"), ("SetDef", 3), ("open", "a"), ("Hook", 5), ("Policy", 5), ("Rule", 6),
        ("close", "a"), ("open", "b"), ("Rule", 8), ("close", "b"), ("close", "f"),
        ("open", "c"), ("Rule", 10), ("close", "c"), ("Command", 11)]
    without = parse(text, "f.nft")  # the same statements, built into the tree
    assert [type(item).__name__ for item in without.items] == ["Define", "Command", "Command", "Command"]


@pytest.mark.parametrize("text,events", [
    # a block whose `}` the recovery pops is closed, and its statements were run
    ("table ip t {\n\tchain c { tcp dport 1 accept; }x\n\tchain d { }\n}\n",
     [("open", "t"), ("open", "c"), ("Rule", 2), ("close", "c"), ("open", "d"), ("close", "d"), ("close", "t")]),
    # the end of the file closes the blocks left open
    ("table ip t {\n\tchain c {\n\t\ttcp dport 1 accept\n",
     [("open", "t"), ("open", "c"), ("Rule", 3), ("close", "c"), ("close", "t")]),
    # as does an error nothing recovers from (the file ends inside a set)
    ("table ip t {\n\tchain c {\n\t\ttcp dport 1 accept\n\t\ttcp dport { 1, 2",
     [("open", "t"), ("open", "c"), ("Rule", 3)]),
])
def test_blocks_broken_by_syntax_errors_are_closed(text, events):
    from portlint.parsers.nftables_syntax import parse

    sink = Recorder()
    assert parse(text, "f.nft", sink=sink).diagnostics
    assert sink.events == events


def test_a_file_ending_inside_a_set_keeps_the_rules_read_before(parse):
    """Regression: nothing recovers from that error, and the whole file used to be lost."""
    doc = parse("table inet f {\n\tchain c {\n\t\ttcp dport 22 accept\n\t\ttcp dport { 1, 2", "nftables")
    assert [ports(r) for r in doc.declarations] == [[(22, 22)]]
    assert [d.message for d in doc.diagnostics] == [
        "unexpected end of file; expected a value, '{', '}', '$', ',', '*' or a keyword"]


def test_the_parse_of_a_ruleset_is_not_held_while_it_is_read():
    """A 120 KB ruleset of rules (kube-proxy's, tests/benchmarks/gen_kubeproxy_nft.py): built into
    a tree, its statements take 3.5 MiB; handed to a sink as each is read, the parse holds no
    more than a statement at a time (the biggest: a set of the table, 120 elements)."""
    import subprocess
    import sys
    import tracemalloc

    from portlint.parsers.nftables_syntax import parse

    generator = Path(__file__).parents[1] / "benchmarks" / "gen_kubeproxy_nft.py"
    text = subprocess.run([sys.executable, str(generator), "120"], capture_output=True, text=True, check=True).stdout
    parse("table ip t { chain c { tcp dport 1 accept; }; }\n", "warm.nft")
    peaks = []
    for sink in (None, Recorder()):
        tracemalloc.start()
        try:
            parse(text, "kube-proxy.nft", sink=sink)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[0] > 2 * 2**20
    assert peaks[1] < 2**19


def test_a_rule_that_names_no_set_is_declared_as_it_is_read(parse, monkeypatch):
    """Its facts (about 2 KB a rule) are dropped at once; a rule that names a set or map waits for
    the end of the file, which may add elements. The model is the one made at the end."""
    from portlint.parsers import nftables_ruleset

    ruleset = chain("tcp dport { 22, 80 } accept\ntcp dport @web accept\nip saddr vmap @dispatch\n"
                    "jump other\n") + "table inet filter {\n\tchain other {\n\t\tudp dport 53 accept\n\t}\n}\n" \
        "add chain inet filter scratch\nadd rule inet filter scratch tcp dport 23 accept\nflush chain inet filter scratch\n" \
        "add element inet filter web { 443 }\n"
    kept = []
    finish = nftables_ruleset._Ruleset.finish
    monkeypatch.setattr(nftables_ruleset._Ruleset, "finish",
                        lambda self: kept.extend(type(r).__name__ for r in self.rules) or finish(self))
    early = parse(ruleset, "nftables")
    # declared: one FirewallRule or a tuple of them; waiting: a _Rule (a flushed rule is left out at the end)
    assert kept == ["tuple", "_Rule", "_Rule", "FirewallRule", "FirewallRule", "FirewallRule"]
    monkeypatch.setattr(nftables_ruleset._Ruleset, "declare_now", lambda self, index, record: None)
    late = parse(ruleset, "nftables")
    assert early.declarations == late.declarations and early.diagnostics == late.diagnostics
    assert [ports(r) for r in early.declarations if r.dport] == [[(22, 22)], [(80, 80)], [(443, 443)], [(53, 53)]]


def test_reading_a_ruleset_leaves_no_garbage_cycles(parse):
    """The model the reader builds is freed when the document is read: nothing waits for the
    cycle collector, which the linter pauses while it parses (tests/test_cycles.py)."""
    ruleset = chain("tcp dport { 22, 80 } accept\nudp dport 53 jump other\n") + \
        "table inet filter {\n\tset web { type inet_service; elements = { 443 } }\n\tchain other {\n" \
        "\t\ttcp dport @web accept\n\t}\n}\n"
    parse(ruleset, "nftables")  # the first parse of the process imports and loads the grammar
    gc.collect()
    try:
        doc = parse(ruleset, "nftables")
        gc.set_debug(gc.DEBUG_SAVEALL)
        assert gc.collect() == 0, gc.garbage[:20]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert len(doc.declarations) == 4


def test_the_distinct_verdicts_of_a_map_are_found_in_linear_time():
    """A map of 20,000 elements, each jumping to a chain of its own, took 49 s when each verdict
    was compared with every one found before. Each distinct verdict is kept where it is first
    given. Linear is 10 times; quadratic would be 100."""
    from lark import Token

    from portlint.parsers.nftables_rules import RuleReader
    from portlint.parsers.nftables_syntax import Verdict
    from portlint.parsers.nftables_values import PortReader, Scope

    reader = RuleReader(Scope(), PortReader(lambda name, protocol: None, print), print, lambda span, path: "")

    def values(count: int, line: int = 1) -> list:
        return [(Verdict("goto", Token("STRING", f"c{i}", 0, line + i, 6, line + i, 8, 2),
                         (0, 2, line + i, 1, line + i, 8)), "r.nft") for i in range(count)]

    choices = reader.verdict_choices(values(3) + values(3, line=10))
    assert [(c.action, c.target, c.location.line) for c in choices] == [
        ("goto", "c0", 1), ("goto", "c1", 2), ("goto", "c2", 3)]

    def seconds(count: int) -> float:
        given = values(count)
        start = time.perf_counter()
        assert len(reader.verdict_choices(given)) == count
        return time.perf_counter() - start

    small = min(seconds(2_000) for _ in range(3))
    assert seconds(20_000) < 30 * small


def test_rules_expand_set_lookups_no_further_than_the_file_could_write_out(parse):
    """A set of 5,000 ports looked up by 200 rules (38 KB) made a million declarations, one per
    rule and element, and 210,000 findings (816 MiB). Declarations are made one per element and
    verdict while they number fewer than one per byte of the file, and 10,000 more; from the
    rule that would pass that on, each port match is one match of all its ports, at its `@set`,
    and a PL005 says so."""
    elements = ", ".join(str(port) for port in range(1000, 6000))
    verdicts = ", ".join(f"10.1.{i // 250}.{i % 250} : goto c{i % 3}" for i in range(2000))
    rules = "".join(f"\t\tip saddr 10.0.0.{i} tcp dport @web accept\n" for i in range(200))
    text = (f"table inet f {{\n\tset web {{ type inet_service; elements = {{ {elements} }} }}\n"
            f"\tmap pick {{ type ipv4_addr : verdict; elements = {{ {verdicts} }} }}\n"
            "\tchain c0 { }\n\tchain c1 { }\n\tchain c2 { }\n"
            "\tchain input {\n\t\ttype filter hook input priority 0; policy drop;\n"
            f"{rules}\t\tudp dport {{ 53, 123 }} ip saddr vmap @pick\n\t}}\n}}\n")
    doc = parse(text, "nftables", "big.nft")
    budget = len(text) + 10_000
    (stop,) = doc.diagnostics
    assert stop.code == "PL005" and stop.message.startswith("portlint stops expanding set lookups at this rule")
    expanded = (stop.location.line - 9) * 5000  # the rules before it, an element each
    assert budget - 5000 < expanded <= budget
    assert len(doc.declarations) == expanded + (200 - expanded // 5000) + 1
    collapsed = [r for r in doc.declarations if r.location.line >= stop.location.line]
    web = collapsed[0]
    assert ports(web) == [(port, port) for port in range(1000, 6000)]
    assert (web.action, web.saddr) == (Action.ACCEPT, f"10.0.0.{stop.location.line - 9}")
    line = text.splitlines()[stop.location.line - 1]
    assert (web.location.line, web.location.column) == (stop.location.line, line.index("@web") + 1)
    picked = collapsed[-1]  # two ports, three verdicts: one declaration, a verdict portlint does not follow
    assert (ports(picked), picked.action, picked.target) == ([(53, 53), (123, 123)], Action.OTHER, "vmap")


def test_a_file_that_writes_its_elements_out_is_expanded_whole(parse):
    """The bound is more than a file writes out: a set looked up by a few rules is expanded
    element by element for each of them (5 rules, a set of 30,000 ports in 180 KB)."""
    elements = ", ".join(str(port) for port in range(1000, 31000))
    rules = "".join(f"\t\tip saddr 10.0.0.{i} tcp dport @web accept\n" for i in range(5))
    doc = parse(f"table inet f {{\n\tset web {{ type inet_service; elements = {{ {elements} }} }}\n"
                f"\tchain input {{\n{rules}\t}}\n}}\n", "nftables", "big.nft")
    assert doc.diagnostics == [] and len(doc.declarations) == 5 * 30_000


def test_the_ports_of_a_rule_are_not_kept_once_it_is_declared(parse, monkeypatch):
    """Only the ranges of a set looked up are kept, once for every rule that looks it up: a
    rule's own source ports are dropped with its facts."""
    from portlint.parsers import nftables_ruleset

    kept = []
    finish = nftables_ruleset._Ruleset.finish
    monkeypatch.setattr(nftables_ruleset._Ruleset, "finish",
                        lambda self: finish(self) or kept.extend(self._ranges.values()))
    rules = "".join(f"tcp sport {{ 1024-65535, {port} }} tcp dport {port} accept\n" for port in range(100, 300))
    doc = parse(chain(rules + "tcp sport @high tcp dport 22 accept\nudp sport @high udp dport 53 accept\n")
                + "table inet filter {\n\tset high {\n\t\ttype inet_service; flags interval\n"
                "\t\telements = { 1024-65535 }\n\t}\n}\n",
                "nftables")
    assert len(doc.declarations) == 202 and doc.diagnostics == []
    assert [[(r.start, r.end) for r in ranges] for ranges in kept] == [[(1024, 65535)]]
    assert doc.declarations[-1].sport.ranges is doc.declarations[-2].sport.ranges


def test_a_map_looked_up_by_several_rules_reports_its_bad_elements_once(parse):
    """A map's elements are read again for each rule that looks it up (a batch at a time, never
    all held): what is wrong in them is reported once."""
    doc = nft(parse, """\
        table ip nat {
            map targets {
                type inet_service : ipv4_addr . inet_service
                elements = { 80 : 10.0.0.1 . 99999, 443 : 10.0.0.2 . 8443 }
            }
            map verdicts {
                type inet_service : verdict
                elements = { 22 : accept, 70000 : drop }
            }
            chain prerouting {
                type nat hook prerouting priority -100; policy accept;
                iifname "eth0" dnat to tcp dport map @targets
                iifname "eth1" dnat to tcp dport map @targets
                iifname "eth0" tcp dport vmap @verdicts
                iifname "eth1" tcp dport vmap @verdicts
            }
        }
    """)
    assert codes(doc) == [("PL002", 4, 38), ("PL002", 8, 35)]
    assert [(r.iif, ports(r), r.action, r.to_address, r.to_ports) for r in doc.declarations] == [
        ("eth0", [(80, 80)], Action.DNAT, "10.0.0.1", None), ("eth0", [(443, 443)], Action.DNAT, "10.0.0.2",
                                                              (PortRange(8443, 8443),)),
        ("eth1", [(80, 80)], Action.DNAT, "10.0.0.1", None), ("eth1", [(443, 443)], Action.DNAT, "10.0.0.2",
                                                              (PortRange(8443, 8443),)),
        ("eth0", [(22, 22)], Action.ACCEPT, None, None), ("eth1", [(22, 22)], Action.ACCEPT, None, None)]


def test_an_element_nested_deeper_than_pickle_follows_waits_as_parsed(parse, monkeypatch):
    """Regression: an element in 200 parentheses, which the grammar reads, made the pickling of
    its batch of elements fail: the statement was reported nested too deeply and skipped, and
    the set lost the elements after it. Such a batch now waits as it was parsed."""
    from portlint.parsers.nftables_elements import PackedElements

    deep = "(" * 200 + "22" + ")" * 200
    text = chain("tcp dport @web accept\n") + "table inet filter {\n\tset web {\n\t\ttype inet_service\n" \
        f"\t\telements = {{ {', '.join([deep, *map(str, range(1000, 1300))])} }}\n\t}}\n}}\n"
    packed = parse(text, "nftables")
    monkeypatch.setattr(PackedElements, "BATCH", 10 ** 9)
    whole = parse(text, "nftables")
    assert packed.diagnostics == whole.diagnostics == []
    assert packed.declarations == whole.declarations and len(packed.declarations) == 301
    assert ports(packed.declarations[0]) == [(22, 22)]
