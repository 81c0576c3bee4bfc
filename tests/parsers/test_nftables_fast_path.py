"""The fast path of the nftables parser yields exactly what the grammar yields.

``parse()`` reads rules of the common shapes and sets of plain elements in one go
(portlint/parsers/nftables_fast.py) and leaves everything else to the grammar; ``parse(...,
fast_path=False)`` reads everything with the grammar. Here both read the same texts and must agree
on every node, token (its terminal and position), span and diagnostic; a big set read by the fast
path (a PlainSet, which reads its elements again when asked) must give the grammar's elements.
"""
from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
from pathlib import Path

import pytest
from lark import Token

from portlint.parsers import nftables_fast
from portlint.parsers.nftables_syntax import PlainSet, parse

DATA = Path(__file__).parent / "data"


def tree(value):
    """A comparable form of a syntax tree: tokens with their terminal and position. A rule's
    name is a plain string (Lark before 1.2 names the rule of a tree with a RULE token)."""
    if isinstance(value, Token) and value.type == "RULE":
        return str(value)
    if isinstance(value, Token):
        return ("token", value.type, str(value), value.start_pos, value.end_pos, value.line, value.column,
                value.end_line, value.end_column)
    if isinstance(value, (list, tuple)):
        return [tree(item) for item in value]
    if dataclasses.is_dataclass(value):
        name = "SetLiteral" if isinstance(value, PlainSet) else type(value).__name__
        return (name, *(tree(getattr(value, f.name)) for f in dataclasses.fields(value)))
    return value


def assert_same(text: str, start: str = "start"):
    """The fast path reads ``text`` as the grammar does, with big sets kept as PlainSets and
    with every plain set one (so that each is read again)."""
    grammar = parse(text, "f.nft", start, fast_path=False)
    for lazy_above in (nftables_fast.PlainSets.LAZY_ABOVE, -1):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(nftables_fast.PlainSets, "LAZY_ABOVE", lazy_above)
            fast = parse(text, "f.nft", start)
        assert tree(fast.items) == tree(grammar.items)
        assert fast.diagnostics == grammar.diagnostics


def in_chain(*lines: str) -> str:
    return "table inet t {\n\tchain c {\n" + "".join(f"\t\t{line}\n" for line in lines) + "\t}\n}\n"


def fast_reads(text: str, reader=nftables_fast.LineRules) -> int:
    """How many rules (or, with ``reader`` PlainSets, sets) of ``text`` the fast path reads."""
    read = []
    original = reader.read

    def counting(self, lexer_state):
        token = original(self, lexer_state)
        read.append(token is not None)
        return token

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "read", counting)
        parse(text, "f.nft")
    return sum(read)


def fast_rules(text: str) -> int:
    return fast_reads(text)


def fast_sets(text: str) -> int:
    return fast_reads(text, nftables_fast.PlainSets)


SHAPES = [
    "tcp dport 22 accept", "udp sport 53 drop", "th dport 22 counter accept", "sctp dport 2905 accept",
    "tcp dport { 22, 80-90, 1024/6 } accept", "tcp dport != { 22, 80 } drop", "tcp dport >= 1024 accept",
    "tcp dport 60000-61000 accept", "tcp dport ssh accept", 'tcp dport "http" accept', "tcp dport 0x16 accept",
    "tcp dport @web accept", "tcp dport $ports accept", "ip saddr 10.0.0.0/8 tcp dport 22 accept",
    "ip6 saddr ::1 accept", "ip6 daddr fe80::1 drop", "ip saddr { 10.0.0.1, 10.0.0.2 } accept",
    'iifname "eth0" accept', "iif lo accept", 'meta iifname "eth0" accept', "meta l4proto { tcp, udp } th dport 53 accept",
    "meta l4proto tcp accept", "ip protocol tcp tcp dport 22 accept", "ip6 nexthdr udp accept",
    "icmp type echo-request accept", "ct state established,related accept", "ct state new counter accept",
    "ct state != established drop", "ct status dnat accept", 'tcp dport 22 accept comment "ssh"',
    "tcp dport vmap { 22 : accept, 23 : drop, 3389 : jump log_drop, 80 : continue }", "tcp dport vmap @ports",
    "ip saddr vmap @tenants", "jump tenant_1", "goto other", "return", "counter", "drop",
    "reject", "reject with icmpx type admin-prohibited", "reject with icmp host-unreachable",
    "reject with tcp reset", "reject with icmpv6 type 1", "tcp dport 22 accept; udp dport 53 accept",
    "tcp dport 22 accept # a comment", "tcp dport 22 accept   ", "tcp dport 22 counter packets 12 bytes 720 accept",
    'log prefix "drop: " level info drop', "log group 2 accept", 'log prefix dropped', "log",
    "limit rate 10/second accept", "limit rate over 5/minute burst 10 packets drop",
    "tcp dport { 22, } accept", "tcp dport { 22, 80, } accept",
    "ip protocol icmp icmp type echo-request limit rate 5/second accept",
]

#: Lines the fast path must leave to the grammar (they are errors, or shapes it does not read).
NOT_FAST = [
    "tcp dport accept", "tcp dport 22 22 accept", "tcp dport { 22 80 } accept", "tcp dport { 22, 80 accept",
    "tcp dport 22 acept", "tcp dport @set accept", "tcp dport 22 accept ~", 'tcp dport 22 accept comment "ssh',
    "tcp dport { 22,\n 80 } accept", "tcp dport 22 \\\n accept", "ct state established,related, accept",
    "tcp dport vmap { 22 accept }", "tcp dport vmap { 22 : allow }", "limit rate 10/sec accept",
    "limit rate 10 mbytes/second accept", "limit name foo accept", "log flags all accept", "log prefix accept",
    "counter packets accept", "counter name foo accept", "tcp dport . 22 accept", "meta mark set 1",
    "iifname eth* accept", "tcp flags syn / syn,ack accept", "ip saddr . tcp dport { a . 22 } accept",
    "meta length 100 accept", "ct state original accept", "tcp dport time accept", "comment \"x\"",
    "tcp dport 22 accept comment \"x\" drop", "tcp dport { 22 : accept } drop", "jump { tcp dport 22 accept }",
]

ALPHABET = [
    "tcp", "udp", "th", "dport", "sport", "ip", "ip6", "saddr", "daddr", "meta", "l4proto", "iifname", "ct", "state",
    "new", "established", "22", "80", "0x10", "1h", "10.0.0.1", "::1", "fe80::1", "ssh", "eth*", '"eth0"', '"',
    "{", "}", ",", "-", "/", ":", ".", "@", "$", "!=", "==", "<=", "!", "*", "(", ")", ";", "#c", "\\\n", "\n",
    "accept", "drop", "jump", "goto", "continue", "return", "counter", "packets", "reject", "with", "icmpx", "type",
    "tcp reset", "vmap", "comment", "label", "reset", "set", "map", "log", "limit", "rate", "time", "x", "a-b",
    "bytes", "prefix", "level", "group", "over", "burst", "second", "10/second", "5/minute", "hour", "info",
]


@pytest.mark.parametrize("line", SHAPES)
def test_common_shapes_are_read_by_the_fast_path(line):
    text = in_chain(line)
    assert_same(text)
    assert fast_rules(text) == line.count(";") + 1


@pytest.mark.parametrize("line", NOT_FAST)
def test_other_lines_are_left_to_the_grammar(line):
    text = in_chain(line)
    assert_same(text)
    assert fast_rules(text) == 0


@pytest.mark.parametrize("text", [
    "add rule inet t c tcp dport 22 accept\n", "insert rule inet t c position 3 tcp dport 22 accept\n",
    "table inet t {\n\tchain c {\n\t\ttcp dport 22 jump {\n\t\t\tudp dport 53 accept\n\t\t}\n\t}\n}\n",
    "table inet t {\n\ttcp dport 22 accept\n}\n", "tcp dport 22 accept\n", "table inet t { chain c { tcp dport 22 accept } }\n",
    "table inet t {\n\tchain c {\n\t\ttcp dport 22 accept }\n}\n", "table inet t {\n\tchain c {\n\t\ttcp dport 22 accept",
    "table inet t {\n\tset s {\n\t\ttype inet_service\n\t\ttcp dport 22 accept\n\t}\n}\n",
])
def test_places_where_a_rule_may_or_may_not_start(text):
    assert_same(text)


def test_the_body_of_an_included_chain():
    assert_same("tcp dport 22 accept\nudp dport 53 drop\n", "chain_body")


def test_random_lines_built_from_the_grammar_alphabet():
    rng = random.Random(11)
    for _ in range(3000):
        line = " ".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 9)))
        assert_same(in_chain(line))


def test_random_changes_to_common_rules():
    rng = random.Random(5)
    for _ in range(1500):
        words = rng.choice(SHAPES).split(" ")
        position = rng.randrange(len(words))
        change = rng.choice(("drop", "insert", "replace", "glue"))
        if change == "drop":
            del words[position]
        elif change == "insert":
            words.insert(position, rng.choice(ALPHABET))
        elif change == "replace":
            words[position] = rng.choice(ALPHABET)
        elif position + 1 < len(words):
            words[position:position + 2] = [words[position] + words[position + 1]]
        assert_same(in_chain(" ".join(words)))


def test_the_corpus(shared):
    files = sorted(p for p in (shared / "corpus" / "nftables").rglob("*") if p.is_file())
    assert files
    for path in [*files, *DATA.glob("*.nft")]:
        assert_same(path.read_text(encoding="utf-8", errors="replace"))


def test_the_rule_cases():
    """The nftables texts of the rule test cases (tests/rules/cases)."""
    from ruamel.yaml import YAML

    texts = []
    for path in sorted((Path(__file__).parents[1] / "rules" / "cases").glob("*.yaml")):
        cases = YAML(typ="safe").load(path.read_text(encoding="utf-8"))["cases"]
        texts += [case["input"] for case in cases if case.get("format") == "nftables"]
    assert len(texts) > 20
    for text in texts:
        assert_same(text)


def test_a_generated_ruleset(shared):
    text = subprocess.run([sys.executable, str(shared / "tools" / "gen_nft.py"), "3000"],
                          capture_output=True, text=True, check=True).stdout
    assert_same(text)
    assert fast_rules(text) > 2900


#: Sets the fast path reads (as the value of `elements =` in a set definition).
PLAIN_SETS = [
    "{ 10.0.0.1 }", "{ 10.0.0.1, 10.0.0.2 }", "{ 10.0.0.0/8, 192.168.0.1-192.168.0.9 }",
    "{ 2001:db8::1, fe80::/10, ::1-::5, ::ffff:10.0.0.1 }", "{ 00:11:22:33:44:55, 1:2 }", "{ 22, 80-90, 1024/6 }",
    "{\n\t10.0.0.1,\n\t10.0.0.2\n}", "{ 10.0.0.1 # first\n, 10.0.0.2 }", "{ # the list\n 10.0.0.1 }",
    "{ 10.0.0.1,# a comment\n\t10.0.0.2 }", "{ 10.0.0.1\n,\n10.0.0.2 }", "{10.0.0.1,10.0.0.2}", "{ 017 }",
    "{ 1.2.3.4, 999.999.999.999 }", "{ 10.0.0.1 }#",
    "{ 10.0.0.1, }", "{ 10.0.0.1,\n}", "{ 10.0.0.1\n,\n}",
]
#: Sets left to the grammar: errors, or more than plain elements.
NOT_PLAIN_SETS = [
    "{ 10.0.0.1,, }", "{ 10.0.0.1,\n\n10.0.0.2 }", "{ 10.0.0.1 10.0.0.2 }", "{ 10.0.0.1 - 10.0.0.9 }", "{ ssh, 22 }",
    "{ 10.0.0.1 . 22 }", "{ 10.0.0.1 : accept }", "{ $a, 10.0.0.1 }", "{ 10.0.0.1 timeout 1h }",
    "{ 10.0.0.1 counter }", "{ 1.2.3.4.5 }", "{ 1:2:3:4:5:6:7:8:9 }", "{ [::1] }", "{ 0x10 }", "{ 1h }",
    "{ 10.0.0.1 \\\n }", "{ 10.0.0.1; }", "{ 10.0.0.1/ 8 }", "{ eth* }", "{ }", "{ 10.0.0.1, # c\n# d\n10.0.0.2 }",
]


def in_set(elements: str) -> str:
    return f"table inet t {{\n\tset s {{\n\t\ttype ipv4_addr\n\t\telements = {elements}\n\t}}\n}}\n"


@pytest.mark.parametrize("elements", PLAIN_SETS)
def test_plain_sets_are_read_by_the_fast_path(elements):
    text = in_set(elements)
    assert_same(text)
    assert fast_sets(text) == 1


@pytest.mark.parametrize("elements", NOT_PLAIN_SETS)
def test_other_sets_are_left_to_the_grammar(elements):
    text = in_set(elements)
    assert_same(text)
    assert fast_sets(text) == 0


@pytest.mark.parametrize("text", [
    "define blocked = { 10.0.0.1,\n\t10.0.0.2 }\n", "add element inet t s { 10.0.0.1,\n10.0.0.2 }\n",
    in_chain("ip saddr {\n\t10.0.0.1,\n\t10.0.0.2 } tcp dport {\n\t22, 80 } accept"),
    in_chain("ip saddr != {\n10.0.0.1 } drop"), in_set("{ { 10.0.0.1 }, 10.0.0.2 }"),
    "table inet t {\n\tset s {\n\t\telements = { 10.0.0.1 }\n\t}\n}\n",
])
def test_places_where_a_plain_set_is_read(text):
    assert_same(text)
    assert fast_sets(text) >= 1


SET_ALPHABET = ["10.0.0.1", "10.0.0.0", "/8", "/", "-", "10.0.0.9", "::1", "fe80::", "22", "80", "0x10", "1:2", "ssh",
                ",", ",", ",", " ", "\n", "\n\t", "# c\n", "# c", "{", "}", ".", ":", "accept", "$a", "@s", "*", ";",
                "\\\n"]


def test_random_sets_built_from_their_alphabet():
    rng = random.Random(17)
    for _ in range(1500):
        body = "".join(rng.choice(SET_ALPHABET) for _ in range(rng.randint(1, 12)))
        assert_same(in_set("{ " + body + " }"))
        assert_same(in_chain(f"ip saddr {{{body}}} accept"))


def test_a_comment_in_a_set_runs_to_the_end_of_its_line():
    # Found by fuzzing: the pattern let a comment end before `, 255 }`, so the fast path took a
    # set the grammar reads as unclosed, and could not read it again (RuntimeError).
    assert_same("add rule ip6 t c tcp dport { 0, 4-127# c, 255 }\nadd rule ip6 t c tcp dport 22 accept\n")


def test_a_big_blocklist_keeps_only_where_it_is_written():
    rng = random.Random(3)
    addresses = [f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
                 for _ in range(5000)]
    text = in_set("{ " + ",\n\t\t\t".join(addresses) + " }")
    assert_same(text)
    elements = parse(text, "f.nft").items[0].body[0].body[-1].value
    assert isinstance(elements, PlainSet)
    assert [item.key.value for item in elements.items] == addresses
