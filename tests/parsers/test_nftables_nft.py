"""Differential tests against nft itself (`nft -c -f FILE`, nftables 1.0.6 where written).

On hand-written invalid rulesets, nft and portlint must agree that the file is rejected and on
the line of the first error; on valid ones, that it is accepted. Only errors that do not depend
on the machine are used (no interfaces, no kernel modules): syntax errors, and the port values
nft refuses. Skipped where nft is missing or cannot run (it needs CAP_NET_ADMIN even to check).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_ERROR = re.compile(r"^[^:\n]+:(\d+):\d+-\d+: Error: ", re.M)
_HEAD = "table inet t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy drop;\n"
_TAIL = "\t}\n}\n"


def _rules(*lines: str) -> str:
    return _HEAD + "".join(f"\t\t{line}\n" for line in lines) + _TAIL


SYNTAX_ERRORS = {
    "missing separator after a block": "table ip t { chain c { } }\n",
    "port without a value": _rules("tcp dport accept"),
    "reserved word as a chain name": "table ip t {\n\tchain log {\n\t}\n}\n",
    "misspelt verdict": _rules("tcp dport 22 acept"),
    "unclosed set": _rules("tcp dport { 22, 80 accept", "udp dport 53 accept"),
    "missing closing brace": "table ip t {\n\tchain c {\n\t\ttcp dport 22 accept\n\t}\n",
    "extra closing brace": "table ip t {\n\tchain c {\n\t}\n}\n}\n",
    "misspelt table": "tabel ip t {\n\tchain c {\n\t}\n}\n",
    "missing ; before policy": "table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0 policy drop;\n\t}\n}\n",
    "counter packets without a number": _rules("ip saddr 1.2.3.4 tcp dport 22 counter packets accept"),
    "junk character": _rules("tcp dport 22 accept ~"),
    "three newlines in a set": _rules("tcp dport { 22,\n\n\n 80 } accept"),
    "unquoted include": "include foo.nft\n",
    "carriage returns": "table ip t {\r\n\tchain c {\r\n\t}\r\n}\r\n",
    "unterminated string": _rules('tcp dport 22 accept comment "ssh'),
    "priority without a value": "table ip t {\n\tchain c {\n\t\ttype filter hook input priority;\n\t}\n}\n",
    "define without a name": "define = 1\n",
    "define without a value": "define x =\n",
    "misspelt policy": "table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy dorp;\n\t}\n}\n",
    "comma after the last state": _rules("ct state established,related, accept"),
    "two values": _rules("tcp dport 22 22 accept"),
    "unknown time unit": _rules("limit rate 10/sec accept"),
    "counter name without a name": _rules("counter name"),
    "unknown reject option": _rules("reject with tcp rst"),
    "dnat without a target": "table ip nat {\n\tchain pre {\n\t\ttype nat hook prerouting priority -100;\n\t\tdnat to\n\t}\n}\n",
    "meta set without a value": _rules("meta mark set"),
    "set without a comma": _rules("tcp dport { 22 80 } accept"),
    "jump without a target": _rules("jump"),
    "rule without a statement": "add table ip t\nadd chain ip t c\nadd rule ip t c\n",
    "set type without a type": "table ip t {\n\tset s {\n\t\ttype\n\t}\n}\n",
    "elements without =": "table ip t {\n\tset s {\n\t\ttype inet_service\n\t\telements { 22 }\n\t}\n}\n",
    "verdict map without a colon": _rules("tcp dport vmap { 22 accept }"),
    "verdict map with no verdict": _rules("tcp dport vmap { 22 : allow }"),
    "chain outside a table": "chain c {\n\ttcp dport 22 accept\n}\n",
    "stray word": "hello\n",
    "trailing comma in nat flags": "table ip nat {\n\tchain post {\n\t\ttype nat hook postrouting priority 100;\n"
                                   "\t\tmasquerade random,\n\t}\n}\n",
    "error after good rules": _rules("tcp dport 22 accept", "udp dport { 53 ; 54 } accept", "tcp dport 443 accept"),
    "error in a second table": "table ip a {\n\tchain c {\n\t\ttcp dport 22 accept\n\t}\n}\n"
                               "table ip b {\n\tchain c {\n\t\ttcp dport 22 accpet\n\t}\n}\n",
    "unknown chain type": "table ip t {\n\tchain c {\n\t\ttype filtr hook input priority 0;\n\t}\n}\n",
    "unknown chain hook": "table ip t {\n\tchain c {\n\t\ttype filter hook inpt priority 0;\n\t}\n}\n",
    "unknown meta key": _rules("meta foo 1"),
    "misspelt match keyword": _rules('iifnam "eth0" accept'),
    "redefined symbol": "define p = 22\ndefine p = 23\n",
    "xt statement": _rules("xt match foo"),
    "quoted xt name": _rules('xt match "foo"'),
    "policy twice": "table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy drop; policy accept;\n\t}\n}\n",
    "named set is a keyword": _rules("tcp dport @missing accept"),
}

#: Port values nft parses but refuses: portlint reports them as PL002 or PL003.
PORT_ERRORS = {
    "port above 65535": _rules("tcp dport 65536 accept"),
    "reversed range": _rules("udp dport 90-80 accept"),
    "comma list": _rules("tcp dport 22,80 accept"),
    "unknown service": _rules("tcp dport sshh accept"),
    "range of service names": _rules("tcp dport ssh-http accept"),
    "mapping in a set": _rules("tcp dport { 22 : 23 } accept"),
    "bad element among good": _rules("tcp dport { 22, 70000, 443 } accept"),
}

VALID = {
    "rich ruleset": Path(__file__).with_name("data") / "nftables_valid.nft",
}


@pytest.fixture(scope="module")
def nft(tmp_path_factory):
    """``check(text)``: nft's verdict on a file, as (rejected, line of the first error)."""
    exe = shutil.which("nft")
    if exe is None:
        pytest.skip("nft is not installed")
    folder = tmp_path_factory.mktemp("nft")

    def check(text: str) -> tuple[bool, int | None, str]:
        path = folder / "ruleset.nft"
        path.write_bytes(text.encode())
        run = subprocess.run([exe, "-c", "-f", str(path)], capture_output=True, text=True, timeout=60)
        first = _ERROR.search(run.stderr)
        return run.returncode != 0, int(first.group(1)) if first else None, run.stderr

    rejected, _, stderr = check("table inet probe {\n\tchain c {\n\t\ttcp dport 22 accept\n\t}\n}\n")
    if rejected:
        pytest.skip(f"nft -c cannot run here: {stderr.strip().splitlines()[0] if stderr.strip() else 'failed'}")
    return check


def _first_error(doc, codes: tuple[str, ...]):
    errors = sorted((d for d in doc.diagnostics if d.code in codes), key=lambda d: (d.location.line, d.location.column))
    return errors[0] if errors else None


@pytest.mark.parametrize("name", sorted(SYNTAX_ERRORS))
def test_nft_and_portlint_reject_the_same_syntax_error(nft, parse, name):
    text = SYNTAX_ERRORS[name]
    rejected, line, stderr = nft(text)
    assert rejected and line is not None, f"nft accepts it: {name}"
    first = _first_error(parse(text, "nftables", "ruleset.nft"), ("PL001",))
    assert first is not None, f"portlint accepts what nft rejects: {stderr}"
    assert first.location.line == line, f"nft: {stderr}\nportlint: {first.location.line}: {first.message}"


@pytest.mark.parametrize("name", sorted(PORT_ERRORS))
def test_nft_and_portlint_reject_the_same_port(nft, parse, name):
    text = PORT_ERRORS[name]
    rejected, line, stderr = nft(text)
    assert rejected and line is not None, f"nft accepts it: {name}"
    first = _first_error(parse(text, "nftables", "ruleset.nft"), ("PL001", "PL002", "PL003"))
    assert first is not None and first.location.line == line, f"nft: {stderr}\nportlint: {first}"


@pytest.mark.parametrize("name", sorted(VALID))
def test_nft_and_portlint_accept_the_same_ruleset(nft, parse, name):
    text = VALID[name].read_text()
    rejected, _, stderr = nft(text)
    assert not rejected, stderr
    doc = parse(text, "nftables", str(VALID[name]))
    assert [d for d in doc.diagnostics if d.code in ("PL001", "PL002", "PL003", "PL005")] == []
    assert len(doc.declarations) > 40


def test_nft_and_portlint_accept_a_generated_ruleset(nft, parse, shared):
    run = subprocess.run([sys.executable, str(shared / "tools" / "gen_nft.py"), "300"], capture_output=True, text=True,
                         check=True)
    rejected, _, stderr = nft(run.stdout)
    assert not rejected, stderr
    doc = parse(run.stdout, "nftables", "generated.nft")
    assert doc.diagnostics == []
    assert len(doc.declarations) >= 300
