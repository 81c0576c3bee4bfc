"""Differential tests against nft itself (`nft -c -f FILE`, nftables 1.0.6 where written).

On hand-written invalid rulesets, nft and portlint must agree that the file is rejected and on
the line of the first error; on valid ones, that it is accepted. Only errors that do not depend
on the machine are used (no interfaces, no kernel modules): syntax errors, the port values nft
refuses, and rules whose protocols nft finds in conflict. Skipped where nft is missing or cannot run (it needs CAP_NET_ADMIN even to check).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_ERROR = re.compile(r"^[^:\n]+:(\d+):\d+-\d+: Error: ", re.M)
_ERROR_AT = re.compile(r"^[^:\n]+:(\d+):(\d+)-\d+: Error: ", re.M)
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

_NAT_HEAD = "table ip t {\n\tchain c {\n\t\ttype nat hook prerouting priority 0;\n"


def _nat(line: str) -> str:
    return _NAT_HEAD + f"\t\t{line}\n" + _TAIL


#: Rules nft rejects for their protocols: a header of one after a match naming another, a
#: translation to a port or tproxy with no protocol matched first. Line and column must agree.
PROTOCOL_ERRORS = {
    "protocol set then a tcp port": _rules("meta l4proto { tcp, udp } tcp dport 53 accept"),
    "protocol numbers then a tcp port": _rules("meta l4proto { 6, 17 } tcp dport 53 accept"),
    "variable protocol set": "define p = { tcp, udp }\n" + _rules("meta l4proto $p tcp dport 53 accept"),
    "ip protocol then another": _rules("ip protocol udp tcp dport 53 accept"),
    "ip6 nexthdr set": _rules("ip6 nexthdr { tcp, udp } udp dport 53 accept"),
    "two port protocols": _rules("tcp dport 22 udp dport 22 accept"),
    "after th": _rules("meta l4proto tcp th dport 22 udp dport 2 accept"),
    "icmp then tcp": _rules("icmp type echo-request tcp dport 22 accept"),
    "tcp then ah": _rules("tcp dport 22 ah spi 1 accept"),
    "verdict map key then another": _rules("tcp dport vmap { 22 : accept } udp dport 2"),
    "concatenation then another": _rules("ip saddr . tcp dport { 1.1.1.1 . 22 } udp dport 3 accept"),
    "flags then a port": _rules("tcp flags & (syn | ack) == syn udp dport 3 accept"),
    "dnat to a port without protocol": _nat("dnat to 1.1.1.1:80"),
    "dnat after th only": _nat("th dport 20 dnat to 1.1.1.1:80"),
    "redirect to a port": _nat("redirect to :80"),
    "masquerade to ports": "table ip t {\n\tchain c {\n\t\ttype nat hook postrouting priority 0;\n"
                           "\t\tmasquerade to :1024-2000\n" + _TAIL,
    "dnat map to address and port": _nat("dnat to ip saddr map { 1.1.1.1 : 2.2.2.2 . 80 }"),
    "dnat addr . port": _nat("dnat ip addr . port to ip saddr map { 1.1.1.1 : 2.2.2.2 . 80 }"),
    "dnat map keyed by th": _nat("dnat to ip saddr . th dport map { 10.0.0.4 . 20 : 192.168.2.3 . 80 }"),
    "negated protocol is no match": _nat("meta l4proto != tcp dnat to 1.1.1.1:80"),
}

#: Rules like those that nft accepts: portlint must not report them.
PROTOCOL_ACCEPTED = {
    "one-element set": _rules("meta l4proto { tcp } tcp dport 20 accept"),
    "negated protocol": _rules("meta l4proto != udp tcp dport 20 accept"),
    "protocol names in capitals": _rules("meta l4proto TCP tcp dport 2 accept"),
    "protocol after the port": _rules("tcp dport 20 meta l4proto udp accept"),
    "th after a set": _rules("meta l4proto { tcp, udp } th dport 53 accept"),
    "tcp option after udp": _rules("udp dport 22 tcp option maxseg size 3 accept"),
    "icmpv6 by its other name": _rules("meta l4proto ipv6-icmp icmpv6 type echo-request accept"),
    "named protocol set": "table inet t {\n\tset s {\n\t\ttype inet_proto\n\t\telements = { tcp, udp }\n\t}\n"
                          "\tchain c {\n\t\tmeta l4proto @s tcp dport 22 accept\n\t}\n}\n",
    "dnat after a protocol set": _nat("meta l4proto { tcp, udp } dnat to 1.1.1.1:80"),
    "dnat after icmp": _nat("icmp type echo-request dnat to 1.1.1.1:80"),
    "dnat map keyed by a tcp port": _nat("dnat to tcp dport map { 22 : 1.1.1.1 . 80 }"),
    "dnat to an address": _nat("dnat to 1.1.1.1"),
    "dnat map to addresses": _nat("dnat to ip saddr map { 1.1.1.1 : 2.2.2.2 }"),
    "masquerade": "table ip t {\n\tchain c {\n\t\ttype nat hook postrouting priority 0;\n\t\tmasquerade\n" + _TAIL,
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


@pytest.mark.parametrize("name", sorted(PROTOCOL_ERRORS))
def test_nft_and_portlint_reject_the_same_protocol_conflict(nft, parse, name):
    text = PROTOCOL_ERRORS[name]
    rejected, line, stderr = nft(text)
    assert rejected and line is not None, f"nft accepts it: {name}"
    column = int(_ERROR_AT.search(stderr).group(2))
    first = _first_error(parse(text, "nftables", "ruleset.nft"), ("PL001",))
    assert first is not None, f"portlint accepts what nft rejects: {stderr}"
    assert (first.location.line, first.location.column) == (line, column), f"nft: {stderr}\nportlint: {first}"


@pytest.mark.parametrize("name", sorted(PROTOCOL_ACCEPTED))
def test_nft_and_portlint_accept_the_same_protocols(nft, parse, name):
    text = PROTOCOL_ACCEPTED[name]
    rejected, _, stderr = nft(text)
    assert not rejected, stderr
    doc = parse(text, "nftables", "ruleset.nft")
    assert [d for d in doc.diagnostics if d.code == "PL001"] == []


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
