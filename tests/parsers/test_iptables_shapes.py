"""Rules read through their shape (``iptables_shapes``) and chains declared as iptables-save
writes them give exactly the model that reading each line word by word gives: on the corpus, on
a kube-proxy dump, and on lines built to share a shape while their free values differ in every
way that could matter."""
from __future__ import annotations

import pickle
import random
import subprocess
import sys

import pytest

from portlint.parsers import iptables, iptables_shapes
from portlint.parsers.iptables import IptablesParser


def word_by_word(text: str, path: str = "rules.v4"):
    reader_rule = iptables.SaveReader.plain
    iptables.SaveReader.plain = lambda self, line, number: False
    try:
        return IptablesParser().parse(text, path)
    finally:
        iptables.SaveReader.plain = reader_rule


def assert_same(text: str) -> None:
    expected = word_by_word(text)
    shaped = IptablesParser().parse(text, "rules.v4")
    assert shaped.diagnostics == expected.diagnostics
    assert shaped.policies == expected.policies
    assert shaped.declarations == expected.declarations


def dump(*rules: str) -> str:
    return "*filter\n:INPUT DROP [0:0]\n:KUBE-A - [0:0]\n:KUBE-BB - [0:0]\n" + "\n".join(rules) + "\nCOMMIT\n"


#: Pairs of rules of one shape: the second must be read with its own values, or word by word.
SAME_SHAPE = [
    ('-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT',
     '-A KUBE-A -s 192.168.100.100/32 -p tcp -m tcp --dport 22 -j ACCEPT'),  # the port's column moves
    ('-A INPUT ! -s 10.0.0.1 -j DROP', '-A INPUT ! -s 10.0.0.2/31 -j DROP'),
    ('-A INPUT -s 10.0.0.1 -s 10.0.0.2 -j DROP', '-A INPUT -s 1.1.1.1 -s 2.2.2.2 -j DROP'),
    ('-A INPUT -i eth0 -o eth1 -j ACCEPT', '-A INPUT -i eth+ -o lo -j ACCEPT'),
    ('-A INPUT -m comment --comment "a b" -j KUBE-A', '-A INPUT -m comment --comment "" -j KUBE-BB'),
    ('-A INPUT -j KUBE-A', '-A INPUT -j LOG'),  # a chain, then a target with options portlint has no table for
    ('-A INPUT -j KUBE-A', '-A INPUT -j NOSUCHCHAIN'),
    ('-A INPUT -g KUBE-A', '-A INPUT -g KUBE-BB'),
    ('-A INPUT -j MARK --set-xmark 0x4000/0x4000', '-A INPUT -j CONNMARK --set-xmark 0x4000/0x4000'),
    ('-A INPUT -j KUBE-A --unknown 1', '-A INPUT -j KUBE-BB --unknown 1'),
    ('-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1:80', '-A INPUT -p tcp -j DNAT --to-destination 10.0.0.2-10.0.0.9:80'),
    ('-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1:80', '-A INPUT -p tcp -j DNAT --to-destination [::1]:80'),
    ('-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1', '-A INPUT -p tcp -j DNAT --to-destination fe80::1'),
    ('-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1:80', '-A INPUT -p tcp -j DNAT --to-destination :80'),
    ('-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1:80', '-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1:'),
    ('-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1:80', '-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1:99999'),
    ('-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1:80', '-A INPUT -p tcp -j DNAT --to-destination 10.0.0.1:ssh'),
    ('-A INPUT -m comment --comment "x" -s 1.2.3.4 -j ACCEPT', '-A INPUT -m comment --comment -s 1.2.3.4 -j ACCEPT'),
    ('-A INPUT -s 1.2.3.4 -j ACCEPT', '-A INPUT -s -j ACCEPT'),
    ('-A INPUT -s 1.2.3.4 -j ACCEPT', '-A INPUT -s ! -j ACCEPT'),
    ('-A INPUT -j KUBE-A', '-A INPUT -j'),
    ('-A INPUT -j KUBE-A', '-A INPUT -j ACCEPT'),
    ('-A INPUT -j KUBE-A', '-A INPUT -j DNAT'),
    ('-A INPUT -d 1.2.3.4 -j ACCEPT', '-A NOSUCH -d 1.2.3.4 -j ACCEPT'),  # an undeclared chain: an error
    ('-A INPUT -d 1.2.3.4 -j ACCEPT', '-A INPUT  -d 1.2.3.4 -j ACCEPT'),
    ('-A INPUT -m comment --comment "é" -j ACCEPT', "-A INPUT -m comment --comment 'é' -j ACCEPT"),
    ('-A INPUT -m comment --comment "a" -j ACCEPT', '-A INPUT -m comment --comment "a\\" b" -j ACCEPT'),
    ('-A INPUT -m multiport --dports 1,2 -j ACCEPT', '-A INPUT -p tcp -m multiport --dports 1,2 -j ACCEPT'),
]


@pytest.mark.parametrize("first, second", SAME_SHAPE)
def test_rules_of_one_shape(first, second):
    assert_same(dump(first, second, first, second))


@pytest.mark.parametrize("declaration", [
    ":KUBE-C - [0:0]", ":KUBE-C - [12:345]", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [1:2]", ":INPUT - [0:0]",
    ":KUBE-C ACCEPT [0:0]", ":OUTPUT REJECT [0:0]", ":KUBE-C - [0:0] extra", ":KUBE-C -  [0:0]", ":KUBE-C -",
    ':KUBE-C "-" [0:0]', ":KUBE-C - [x:0]", ":KUBE-C - [0:0]\x0b", ":KUBE-\x00C - [0:0]", ": - [0:0]",
    ":KUBE-é - [0:0]", ":KUBE-C\t- [0:0]", ":KUBE-A - [0:0]",
])
def test_chain_declarations(declaration):
    assert_same(dump(declaration, "-A KUBE-C -j KUBE-A"))
    assert_same(declaration + "\n")  # outside a table


def test_past_the_most_shapes_a_document_remembers_rules_are_read_word_by_word(monkeypatch):
    monkeypatch.setattr(iptables_shapes, "MAX_SHAPES", 5)
    learned = []
    monkeypatch.setattr(iptables_shapes.ShapeReader, "_learn",
                        lambda self, *args, learn=iptables_shapes.ShapeReader._learn: learned.append(args) or learn(self, *args))
    text = dump(*(f"-A INPUT -p tcp -m tcp --dport {port} -j ACCEPT" for port in range(1, 21)),
                "-A INPUT -p tcp -m tcp --dport 3 -s 10.0.0.1 -j ACCEPT")
    assert_same(text)
    assert len(learned) == 5


def test_a_rule_before_its_chain_is_declared():
    assert_same("*filter\n-A LATE -j ACCEPT\n:LATE - [0:0]\n-A LATE -j ACCEPT\nCOMMIT\n")


def test_a_jump_to_a_chain_declared_later_in_the_table():
    text = "*filter\n:A - [0:0]\n-A A -j B\n-A A -j A\n:B - [0:0]\n-A A -j B\n-A A -j LOG\nCOMMIT\n"
    assert_same(text)
    assert [rule.action for rule in IptablesParser().parse(text, "rules.v4").declarations] == ["jump"] * 3 + ["other"]


def test_random_rules_built_from_shared_shapes():
    rng = random.Random(11)
    options = [["-s", ["10.0.0.1", "10.0.0.0/8", "!", "-x", "fe80::/10", "a,b"]], ["!", ["-s", "-d", "-i"]],
               ["-d", ["1.2.3.4/32", "host.example"]], ["-i", ["eth0", "eth+", "!"]], ["-o", ["lo"]],
               ["-p", ["tcp", "udp", "icmp", "all", "6"]], ["-m", ["tcp", "udp", "multiport", "comment", "state", "limit"]],
               ["--dport", ["22", "1:2", "ssh", "70000", "3:1"]], ["--dports", ["1,2", "5:9"]],
               ["--comment", ['"c d"', '""', "x"]], ["--state", ["NEW,ESTABLISHED"]], ["--limit", ["5/s"]],
               ["-j", ["ACCEPT", "KUBE-A", "KUBE-BB", "DNAT", "LOG", "MARK"]], ["-g", ["KUBE-A"]],
               ["--to-destination", ["10.0.0.1:80", "1.1.1.1", "[::1]:8", ":9", "1.2.3.4:65536"]],
               ["--log-prefix", ['"p "']], ["--set-mark", ["1"]]]
    rules = []
    for _ in range(2500):
        words = ["-A", rng.choice(["INPUT", "KUBE-A", "KUBE-BB"])]
        for option, values in rng.sample(options, rng.randint(0, 5)):
            words += [option, rng.choice(values)]
        rules.append(" ".join(words))
    assert_same(dump(*rules))


def test_the_corpus(shared):
    files = sorted(p for p in (shared / "corpus" / "iptables").rglob("*") if p.is_file())
    assert files
    for path in files:
        assert_same(path.read_text(encoding="utf-8", errors="replace"))


def kube_proxy(shared, services: int) -> str:
    return subprocess.run([sys.executable, str(shared / "tools" / "gen_kubeproxy.py"), str(services)],
                          capture_output=True, text=True, check=True).stdout


def test_a_kube_proxy_dump(shared):
    assert_same(kube_proxy(shared, 5000))


def test_kube_proxy_rules_with_words_replaced_added_and_removed(shared):
    # Rules that stay plain lines but leave the shapes a dump has: 6,000 of them, read both ways.
    nat = kube_proxy(shared, 300).split("*nat\n", 1)[1].split("COMMIT\n", 1)[0].splitlines()
    rules = [line for line in nat if line.startswith("-A ")]
    declarations = "*nat\n" + "\n".join(line for line in nat if line.startswith(":"))
    words = sorted({word for rule in rules for word in rule.split(" ")} | {"!", "-g", "[::1]:9", ":8", "fe80::1", "LOG"})
    rng = random.Random(5)
    for _ in range(20):
        mutated = []
        for _ in range(300):
            rule = rng.choice(rules).split(" ")
            for _ in range(rng.randint(0, 3)):
                position = rng.randrange(2, len(rule) + 1)
                change = rng.choice(("replace", "insert", "delete")) if position < len(rule) else "insert"
                if change == "insert":
                    rule.insert(position, rng.choice(words))
                elif change == "replace":
                    rule[position] = rng.choice(words)
                else:
                    del rule[position]
            mutated.append(" ".join(rule))
        assert_same(declarations + "\n" + "\n".join(mutated) + "\nCOMMIT\n")


def test_a_document_of_shaped_rules_pickles_as_it_is(shared):
    # --jobs workers send documents back: each rule stays an instance of its shape's class,
    # which is made once per document again, not a FirewallRule four times its size.
    doc = IptablesParser().parse(kube_proxy(shared, 3000), "rules.v4")
    back = pickle.loads(pickle.dumps(doc))
    assert back.declarations == doc.declarations and back.policies == doc.policies
    assert len({type(r) for r in back.declarations}) == len({type(r) for r in doc.declarations}) < len(doc.declarations) / 10
    assert [sys.getsizeof(r) for r in back.declarations] == [sys.getsizeof(r) for r in doc.declarations]
    assert [r.location for r in back.declarations] == [r.location for r in doc.declarations]
