"""The fast path of compose port entries yields exactly what the grammar yields.

``plain_fields()`` splits the common short-syntax and ``expose:`` shapes with a regular
expression and declines every other text; ``grammar_fields()`` is ``grammars/compose_ports.lark``.
Whatever the fast path reads, the grammar must read into the same tokens at the same offsets.
"""
from __future__ import annotations

import json
import random

import pytest

from portlint.parsers import compose_ports
from portlint.parsers.compose import ComposeParser
from portlint.parsers.compose_ports import EntryError, grammar_fields, plain_fields

#: The shapes compose files use: the fast path must read them all.
COMMON = ["80", "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80", "9000-9010:9000-9010", "9000-9010:80",
          "8080:80/udp", "53:53/UDP", "3000-3002", "0.0.0.0:443:443/tcp", ":80", "::80", "80/tcp", "0080:080",
          "[::1]:8080:80", "[::1]::80", "[2001:db8::1]:53:53/udp"]
TRICKY = ["", ":", "80:", ":80:", "80::", "80:80:80", "1:2:3", "1:2:3:4", "::1:8080:80", "::1::80", "[::1]:80",
          "[]:80:80", "[:]:1:2", "[1.2.3.4]:80:80", "[fe80::1%eth0]:80:80", "[::1:80:80", "::1]:80:80",
          "[::1]]:80:80", "[[::1]:80:80", "1.2.3.4:80", "1.2.3.4.5:80:80", "1.2.3:80:80", "a:80", "80:80/",
          "80:80/udp/tcp", "80:80/ud1", " 80", "80 ", "80\n", "\u0663:80", "99999:80", "80-70:80", "80-:80",
          "-80:80", "80--90", "1.2.3.4:80-90:80-90/sctp", "256.1.1.1:80:80", "1.2.3.4::", "80/", "/udp", "80-90-100"]


def assert_same(text: str, start: str) -> bool:
    """Whether the fast path read ``text``; if it did, the grammar reads it the same."""
    fast = plain_fields(text, start)
    if fast is None:
        return False
    try:
        assert grammar_fields(text, start) == fast, text
    except EntryError:
        pytest.fail(f"the fast path reads {text!r}, which the grammar rejects")
    return True


@pytest.mark.parametrize("start", ["start", "expose"])
def test_tricky_entries(start):
    for text in TRICKY + COMMON:
        assert_same(text, start)


def test_the_common_shapes_take_the_fast_path():
    assert all(assert_same(text, "start") for text in COMMON)
    assert all(assert_same(text, "expose") for text in ("80", "3000-3002", "53/udp"))


@pytest.mark.parametrize("start", ["start", "expose"])
def test_random_entries_built_from_the_grammar_alphabet(start):
    rng = random.Random(11)
    alphabet = ["80", "0", "65536", "1.2.3.4", "10.0.0.1", ":", ":", "-", "/", "tcp", "udp", "[", "]", "[::1]",
                "::1", ".", "a", "f", " ", "\n", "\u0663", "fe80::1"]
    taken = 0
    for _ in range(4000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
        taken += assert_same(text, start)
    assert taken > 50  # the comparison covered the fast path, not only its refusals


def test_compose_files_parse_the_same_without_the_fast_path(shared, monkeypatch):
    """Every compose file of the corpus gives the same document when every entry goes to the
    grammar."""
    records = [json.loads(line) for line in (shared / "corpus" / "oracle.jsonl").read_text().splitlines()]
    files = [shared / "corpus" / r["file"] for r in records if r["format"] == "compose"]
    assert files
    parser = ComposeParser()

    def parse_all():
        return [(doc.declarations, doc.services, doc.diagnostics)
                for doc in (parser.parse(path.read_text(encoding="utf-8"), str(path)) for path in files)]

    fast = parse_all()
    monkeypatch.setattr(compose_ports, "plain_fields", lambda text, start: None)
    assert parse_all() == fast
