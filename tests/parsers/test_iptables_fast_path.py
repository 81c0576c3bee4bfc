"""The fast path of the iptables-save reader yields exactly what the grammar yields.

``statements()`` splits plain lines itself and leaves every other line to the grammar
(``grammar_statements()``); here both read the same texts and must agree on every statement,
word, position and diagnostic.
"""
from __future__ import annotations

import random
import subprocess
import sys

import pytest

from portlint.parsers.iptables import grammar_statements, statements

TRICKY = [
    '*filter', ':INPUT DROP [0:0]', ':USER - [12:34]', ':X ACCEPT', 'COMMIT', 'COMMIT now', '  COMMIT  ',
    '# a comment', '   # indented comment with "quotes', '',
    '[1:2] -A INPUT -p tcp --dport 22 -j ACCEPT', '[1:2]', '[x:2] -A INPUT',
    '-A INPUT -m comment --comment "a \\"quoted\\" word" -j ACCEPT', "-A INPUT -m comment --comment 'single' -j LOG",
    '-A INPUT -m comment --comment "unterminated', '-A INPUT ! -s 10.0.0.0/8 -j DROP', '-A INPUT -p tcp ! --dport 22',
    '-A INPUT -p tcp --dport 22 !', '-A INPUT !"x"', '-A INPUT !x', '-A INPUT --comment"glued"x', '-A INPUT -1 --x=y',
    '-A INPUT #notacomment', 'ACCEPT', '-', '*filter extra', ':INPUT DROP [0:0] extra', ':INPUT "DROP"',
    '-A\tINPUT\f-j\rACCEPT', '-A INPUT\x0b-j ACCEPT', '-A INPUT -j ACCEPT\u00a0', '*', ':', '"quoted first"',
    '-A INPUT "" -j ACCEPT', '\t[0:0] -I INPUT 1 -j ACCEPT',
    # the split for what iptables-save writes: single spaces, at most one "quoted" comment
    '-A INPUT  -j  ACCEPT ', ' -A INPUT -j ACCEPT', '-A INPUT -m comment --comment "two  spaces" -j ACCEPT',
    '-A INPUT -m comment --comment "x"y -j ACCEPT', '-A INPUT -m comment --comment x"y" -j ACCEPT',
    '-A INPUT -m comment --comment "é ü" -j ACCEPT', '-A INPUT -m comment --comment "" -j ACCEPT',
    '-A INPUT -m comment --comment "a" -m comment --comment "b" -j ACCEPT', '"', '""', '" "', '-A INPUT -j "ACCEPT"',
    '-A INPUT -m comment --comment "a\\" -j ACCEPT', '-A INPUT --dport -1 -j ACCEPT', '-A INPUT --1 -j ACCEPT',
    '-A INPUT -é 1 -j ACCEPT', '-A INPUT --ü -j ACCEPT',
]


def assert_same(text: str):
    assert statements(text, "f") == grammar_statements(text, "f")


@pytest.mark.parametrize("line", TRICKY)
def test_tricky_lines(line):
    assert_same(line)


def test_random_lines_built_from_the_grammar_alphabet():
    rng = random.Random(7)
    alphabet = ["-A", "INPUT", "!", "--dport", "22", '"x y"', "'z'", "#", "*nat", ":C", "[0:0]", "COMMIT",
                "-", " ", "\t", '"', "'", "a\"b", "--", "-1", "\\", "\x0b"]
    for _ in range(3000):
        line = "".join(rng.choice(alphabet) + rng.choice(["", " "]) for _ in range(rng.randint(0, 8)))
        assert_same(line)


def test_the_corpus(shared):
    files = sorted((shared / "corpus" / "iptables").rglob("*"))
    assert files
    for path in files:
        if path.is_file():
            assert_same(path.read_text(encoding="utf-8", errors="replace").replace("\r", ""))


def test_a_kube_proxy_dump(shared, tmp_path):
    dump = subprocess.run([sys.executable, str(shared / "tools" / "gen_kubeproxy.py"), "3000"],
                          capture_output=True, text=True, check=True).stdout
    assert_same(dump)
